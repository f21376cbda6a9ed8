import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange, route } from './http.js';

describe('agent http helpers', () => {
  it('routes', () => {
    assert.deepEqual(route('/healthz'), { kind: 'healthz' });
    assert.deepEqual(route('/metrics'), { kind: 'metrics' });
    assert.deepEqual(route('/v1/captures/ns/cap/files'), { kind: 'list', namespace: 'ns', name: 'cap' });
    assert.deepEqual(route('/v1/captures/ns/cap/files/pod.ns.web/n1.cap.17.pcap0'), { kind: 'file', namespace: 'ns', name: 'cap', target: 'pod.ns.web', file: 'n1.cap.17.pcap0' });
    assert.deepEqual(route('/v1/captures/ns/cap/stream'), { kind: 'stream', namespace: 'ns', name: 'cap' });
    for (const bad of ['/v1/captures/ns/cap/files/../../etc/passwd', '/v1/captures/ns/cap/files/%2e%2e/x', '/v1/captures/ns/cap/files/a%2Fb/x', '/v1/captures/../x/files', '/v1/captures/ns/.hidden/files', '/v2/x', '/v1/captures/ns/cap/files/t/-x', '/v1/captures/ns/cap/files/t/%ZZ'])
      assert.deepEqual(route(bad), { kind: 'notFound' }, bad);
  });

  it('answers names Kubernetes would refuse with badName (400), not an error', () => {
    assert.equal(route('/v1/captures/Shop/cap/files').kind, 'badName');
    assert.equal(route('/v1/captures/ns/my_cap/files').kind, 'badName');
    assert.equal(route('/v1/captures/ns/my_cap/stream').kind, 'badName');
    assert.equal(route(`/v1/captures/${'a'.repeat(64)}/cap/files`).kind, 'badName');
    assert.equal(route('/v1/captures/ns/cap/files/t/' + 'x'.repeat(256)).kind, 'notFound');
    assert.equal(route('/v1/captures/Shop/cap/nothing').kind, 'notFound');
  });

  it('parses byte ranges', () => {
    assert.deepEqual(parseRange(undefined, 100), { kind: 'full' });
    assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'partial', start: 0, end: 9 });
    assert.deepEqual(parseRange('bytes=90-', 100), { kind: 'partial', start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'partial', start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=50-500', 100), { kind: 'partial', start: 50, end: 99 });
    assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=9-3', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=0-1,5-6', 100), { kind: 'full' });
    assert.deepEqual(parseRange('items=0-1', 100), { kind: 'full' });
  });
});
