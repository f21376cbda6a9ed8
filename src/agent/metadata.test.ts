// The endpoint map of the capture metadata (and so the records' endpoints) names each pod's workload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metadataFor, workloadOf } from './metadata.js';
import type { Pod, Session } from './state.js';

const owned = (kind: string, name: string, labels: Record<string, string> = {}, controller = true): Pod =>
  ({ metadata: { name: 'p', namespace: 'shop', labels, ownerReferences: [{ apiVersion: 'apps/v1', kind, name, uid: 'u', controller }] } }) as Pod;

test('workloadOf: Deployment via its ReplicaSet, StatefulSet, DaemonSet, Job; none without an owner', () => {
  assert.equal(workloadOf(owned('ReplicaSet', 'web-7d9c5f8b6', { 'pod-template-hash': '7d9c5f8b6' })), 'Deployment/web');
  assert.equal(workloadOf(owned('ReplicaSet', 'web-rs', {})), 'ReplicaSet/web-rs', 'a bare ReplicaSet (no template hash)');
  assert.equal(workloadOf(owned('ReplicaSet', 'web-abc', { 'pod-template-hash': 'xyz' })), 'ReplicaSet/web-abc', 'hash does not match the name');
  assert.equal(workloadOf(owned('StatefulSet', 'db')), 'StatefulSet/db');
  assert.equal(workloadOf(owned('DaemonSet', 'logs')), 'DaemonSet/logs');
  assert.equal(workloadOf(owned('Job', 'backup-29123')), 'Job/backup-29123');
  assert.equal(workloadOf({ metadata: { name: 'bare' } }), undefined);
  const two = { metadata: { ownerReferences: [{ kind: 'ConfigMap', name: 'x' }, { kind: 'StatefulSet', name: 'db', controller: true }] } } as Pod;
  assert.equal(workloadOf(two), 'StatefulSet/db', 'the controller owner wins');
});

test('metadataFor: endpoints carry the workload when the pod has an owner', () => {
  const web = { ...owned('ReplicaSet', 'web-5f6d7', { 'pod-template-hash': '5f6d7' }), status: { podIP: '10.244.1.2' } } as Pod;
  web.metadata = { ...web.metadata, name: 'web-5f6d7-abcde' };
  const bare = { metadata: { name: 'client', namespace: 'shop' }, status: { podIP: '10.244.1.3' } } as Pod;
  const m = metadataFor({
    capture: { namespace: 'shop', name: 'cap' },
    node: 'node-a',
    systemNamespace: 'pcapper',
    session: { entry: { kind: 'node', name: 'node/node-a/eth0' }, opts: { interface: 'eth0', filter: '', snapLength: 262144 } } as unknown as Pick<Session, 'entry' | 'opts'>,
    pod: undefined,
    pods: [web, bare],
    linkType: 1,
    startedAt: new Date(0),
  });
  assert.deepEqual(m.endpoints['10.244.1.2'], { pod: 'web-5f6d7-abcde', namespace: 'shop', node: 'node-a', workload: 'Deployment/web' });
  assert.deepEqual(m.endpoints['10.244.1.3'], { pod: 'client', namespace: 'shop', node: 'node-a' });
});
