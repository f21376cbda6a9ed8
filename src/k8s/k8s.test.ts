import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, applyList, objectKey } from './informer.js';
import { matchesSelector, selectorToString } from './selector.js';
import { backoffDelay, FakeClock, sleep } from './clock.js';
import { ownedTargetFields } from './status.js';
import { microTime } from './leader.js';
import { packetCapturePath } from './client.js';

const obj = (ns: string, name: string, rv: string) => ({ metadata: { namespace: ns, name, resourceVersion: rv } });

test('informer cache: list diff yields ADDED/MODIFIED/DELETED; events are idempotent per resourceVersion', () => {
  const cache = new Map<string, ReturnType<typeof obj>>();
  assert.deepEqual(applyList(cache, [obj('a', 'x', '1'), obj('a', 'y', '1')]).map((c) => `${c.type} ${c.key}`), ['ADDED a/x', 'ADDED a/y']);
  assert.deepEqual(applyList(cache, [obj('a', 'x', '2')]).map((c) => `${c.type} ${c.key}`), ['MODIFIED a/x', 'DELETED a/y']);
  assert.equal(applyEvent(cache, 'MODIFIED', obj('a', 'x', '2')), undefined, 'same rv: no change');
  assert.equal(applyEvent(cache, 'MODIFIED', obj('a', 'x', '3'))?.type, 'MODIFIED');
  assert.equal(applyEvent(cache, 'ADDED', obj('a', 'z', '4'))?.type, 'ADDED');
  assert.equal(applyEvent(cache, 'DELETED', obj('a', 'z', '5'))?.type, 'DELETED');
  assert.equal(applyEvent(cache, 'DELETED', obj('a', 'z', '5')), undefined);
  assert.equal(objectKey({ metadata: { name: 'node-1' } }), 'node-1');
});

test('selectors: matchLabels and every operator', () => {
  const l = { app: 'web', tier: 'front' };
  assert.equal(matchesSelector({ matchLabels: { app: 'web' } }, l), true);
  assert.equal(matchesSelector({ matchLabels: { app: 'db' } }, l), false);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, l), true);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, l), false);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, l), true);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, l), true);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, l), false);
  assert.equal(matchesSelector({ matchExpressions: [{ key: 'app', operator: 'Bogus' }] }, l), false);
  assert.equal(selectorToString({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 't', operator: 'In', values: ['a', 'b'] }, { key: 'x', operator: 'DoesNotExist' }] }), 'app=web,t in (a,b),!x');
});

test('backoff is exponential, capped and jittered within ±20%', () => {
  assert.equal(backoffDelay(0, 100, 10_000, () => 0.5), 100);
  assert.equal(backoffDelay(3, 100, 10_000, () => 0.5), 800);
  assert.equal(backoffDelay(30, 100, 10_000, () => 0.5), 10_000);
  assert.equal(backoffDelay(0, 100, 10_000, () => 0), 80);
  assert.equal(backoffDelay(0, 100, 10_000, () => 1), 120);
});

test('FakeClock fires timers in order and sleep honours abort', async () => {
  const c = new FakeClock();
  const seen: number[] = [];
  c.setTimer(() => seen.push(2), 200);
  c.setTimer(() => seen.push(1), 100);
  const t = c.setTimer(() => seen.push(3), 300);
  t.cancel();
  await c.advance(1000);
  assert.deepEqual(seen, [1, 2]);
  const ac = new AbortController();
  const p = sleep(c, 500, ac.signal);
  ac.abort(new Error('stop'));
  await assert.rejects(p, /stop/);
});

test('ownedTargetFields reads SSA managedFields per list-map entry', () => {
  const pc = {
    metadata: {
      managedFields: [
        {
          manager: 'pcapper-controller',
          operation: 'Apply',
          subresource: 'status',
          fieldsV1: { 'f:status': { 'f:targets': { 'k:{"name":"pod/a/x"}': { '.': {}, 'f:name': {}, 'f:node': {}, 'f:phase': {} }, 'k:{"name":"pod/a/y"}': { 'f:name': {} } } } },
        },
        { manager: 'pcapper-agent-n1', operation: 'Apply', subresource: 'status', fieldsV1: { 'f:status': { 'f:targets': { 'k:{"name":"pod/a/y"}': { 'f:phase': {} } } } } },
      ],
    },
  };
  const owned = ownedTargetFields(pc, 'pcapper-controller');
  assert.deepEqual([...(owned.get('pod/a/x') ?? [])].sort(), ['name', 'node', 'phase']);
  assert.deepEqual([...(owned.get('pod/a/y') ?? [])], ['name']);
  assert.deepEqual([...(ownedTargetFields(pc, 'pcapper-agent-n1').get('pod/a/y') ?? [])], ['phase']);
});

test('microTime has microseconds; paths are encoded', () => {
  assert.equal(microTime(Date.parse('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05.678000Z');
  assert.equal(packetCapturePath('ns', 'c', 'status'), '/apis/pcapper.dev/v1alpha1/namespaces/ns/packetcaptures/c/status');
  assert.equal(packetCapturePath(), '/apis/pcapper.dev/v1alpha1/packetcaptures');
});
