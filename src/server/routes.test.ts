import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiResourceList, route, status } from './routes.js';

const B = '/apis/data.pcapper.dev/v1alpha1/namespaces';
const r = (path: string, q = ''): ReturnType<typeof route> => route(path, new URLSearchParams(q));

describe('route', () => {
  it('health and discovery', () => {
    assert.deepEqual(r('/healthz'), { kind: 'health', check: 'healthz' });
    assert.deepEqual(r('/readyz'), { kind: 'health', check: 'readyz' });
    assert.deepEqual(r('/livez'), { kind: 'health', check: 'livez' });
    assert.equal(r('/apis').kind, 'apis');
    assert.equal(r('/apis/').kind, 'apis');
    assert.equal(r('/apis/data.pcapper.dev').kind, 'group');
    assert.equal(r('/apis/data.pcapper.dev/v1alpha1').kind, 'resources');
    assert.equal(r('/apis/other.dev/v1').kind, 'notFound');
    assert.equal(r('/').kind, 'notFound');
  });

  it('the three data routes', () => {
    assert.deepEqual(r(`${B}/shop/packetcaptures/web-x7k2p/files`), { kind: 'list', namespace: 'shop', name: 'web-x7k2p' });
    assert.deepEqual(r(`${B}/shop/packetcaptures/web-x7k2p/files/node-a/pod.shop.web-0/web-x7k2p.pcap0`), {
      kind: 'file', namespace: 'shop', name: 'web-x7k2p', node: 'node-a', target: 'pod.shop.web-0', file: 'web-x7k2p.pcap0',
    });
    assert.deepEqual(r(`${B}/shop/packetcaptures/web/log`, 'node=node-a&target=pod.shop.web-0'), { kind: 'log', namespace: 'shop', name: 'web', node: 'node-a', target: 'pod.shop.web-0' });
    assert.deepEqual(r(`${B}/shop/packetcaptures/web/log`, 'node=node-a'), { kind: 'log', namespace: 'shop', name: 'web', node: 'node-a', target: undefined });
    assert.equal(r(`${B}/shop/packetcaptures/web/log`, 'node=node-a&timeout=32s').kind, 'log');
    // percent-encoded plain names are decoded once
    assert.equal((r(`${B}/shop/packetcaptures/web/files/n1/node.n1.eth0/a%3Ab.pcap0`) as { file: string }).file, 'a:b.pcap0');
  });

  it('400 for every bad segment and query value, with what was wrong', () => {
    const bad: [string, string, RegExp][] = [
      [`${B}/Shop/packetcaptures/web/files`, '', /namespace "Shop" is not a DNS-1123 label/],
      [`${B}/${'a'.repeat(64)}/packetcaptures/web/files`, '', /namespace/],
      [`${B}/shop/packetcaptures/we_b/files`, '', /capture name "we_b"/],
      [`${B}/shop/packetcaptures/${'a'.repeat(254)}/files`, '', /capture name/],
      [`${B}/shop/packetcaptures/web/files/Node_A/t/f`, '', /node name "Node_A"/],
      [`${B}/shop/packetcaptures/web/files/n/..%2Fetc/f`, '', /target/],
      [`${B}/shop/packetcaptures/web/files/n/t/..`, '', /file name "\.\."/],
      [`${B}/shop/packetcaptures/web/files/n/t/a..b`, '', /no "\.\."/],
      [`${B}/shop/packetcaptures/web/files/n/t/-x`, '', /file name/],
      [`${B}/shop/packetcaptures/web/files/n/t/a%2Fb`, '', /file name "a\/b"/],
      [`${B}/shop/packetcaptures/web/files/n/t/%zz`, '', /percent-encoding/],
      [`${B}/shop/packetcaptures/web/files/n/t/a%00b`, '', /file name "a\\u0000b"/],
      [`${B}/shop/packetcaptures/web/log`, '', /exactly one node/],
      [`${B}/shop/packetcaptures/web/log`, 'node=a&node=b', /exactly one node/],
      [`${B}/shop/packetcaptures/web/log`, 'node=a&target=x&target=y', /at most one target/],
      [`${B}/shop/packetcaptures/web/log`, 'node=a/b', /node name/],
      [`${B}/shop/packetcaptures/web/log`, 'node=a&target=../x', /target/],
      [`${B}/shop/packetcaptures/web/log`, 'node=a&follow=true', /unknown query parameter "follow"/],
    ];
    for (const [path, q, re] of bad) {
      const got = r(path, q);
      assert.equal(got.kind, 'badRequest', `${path}?${q}: ${JSON.stringify(got)}`);
      assert.match((got as { message: string }).message, re);
      assert.ok(!(got as { message: string }).message.includes('\n'));
    }
  });

  it('404 for paths that are not resources', () => {
    assert.equal(r(`${B}/shop/packetcaptures/web`).kind, 'notFound');
    assert.equal(r(`${B}/shop/packetcaptures/web/status`).kind, 'notFound');
    assert.equal(r(`${B}/shop/packetcaptures/web/files/n/t`).kind, 'notFound');
    assert.equal(r(`${B}/shop/packetcaptures/web/files/n/t/f/g`).kind, 'notFound');
    assert.equal(r(`${B}/shop/pods/web/files`).kind, 'notFound');
  });
});

describe('documents', () => {
  it('Status has the Kubernetes shape', () => {
    assert.deepEqual(status(403, 'no'), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'no', reason: 'Forbidden', code: 403 });
    assert.equal(status(503, 'x').reason, 'ServiceUnavailable');
  });
  it('APIResourceList lists the two namespaced get-only subresources and the create-only trigger', () => {
    const l = apiResourceList() as { groupVersion: string; resources: { name: string; namespaced: boolean; verbs: string[] }[] };
    assert.equal(l.groupVersion, 'data.pcapper.dev/v1alpha1');
    assert.deepEqual(l.resources.map((x) => [x.name, x.namespaced, x.verbs]), [['packetcaptures/files', true, ['get']], ['packetcaptures/log', true, ['get']], ['packetcaptures/trigger', true, ['create']]]);
  });
  it('routes the trigger subresource (docs/triggers.md)', () => {
    assert.deepEqual(r(`${B}/shop/packetcaptures/web/trigger`), { kind: 'trigger', namespace: 'shop', name: 'web' });
    assert.equal(r(`${B}/shop/packetcaptures/web/trigger/x`).kind, 'notFound');
  });
});
