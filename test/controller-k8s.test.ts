/**
 * src/k8s plumbing against the real apiserver: the informer recovers from errors other than 410
 * (client-node's stops), SSA status ownership between the controller and agents behaves as
 * documented in src/api/packetcapture.ts, Lease election excludes a second holder, Events aggregate.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { agentFieldManager, CONTROLLER_FIELD_MANAGER } from '../src/api/packetcapture.js';
import { clientFor, getPacketCapture, isConflict, KubeClient } from '../src/k8s/client.js';
import { Informer } from '../src/k8s/informer.js';
import { applyStatus, ownedTargetFields } from '../src/k8s/status.js';
import { LeaderElector } from '../src/k8s/leader.js';
import { EventRecorder, listEvents } from '../src/k8s/events.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { createCapture, ensureNamespace, installCRD } from './controller-helpers.js';
import { eventually } from './harness/eventually.js';

let cluster: Cluster;
let admin: KubeClient;

before(async () => {
  cluster = await startCluster();
  admin = clientFor(cluster.kubeConfig);
  await installCRD(admin);
  await ensureNamespace(admin, 'k8s-test');
});
after(async () => {
  await cluster?.stop();
});

const pod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'k8s-test', labels: { app: 'inf' } },
  spec: { containers: [{ name: 'c', image: 'x' }] },
});

describe('informer', () => {
  it('keeps retrying after 403 and syncs once RBAC allows it; sees later changes', async () => {
    const mallory = new KubeClient(cluster.userKubeConfig('mallory'));
    const inf = new Informer<{ metadata?: { name?: string; namespace?: string; resourceVersion?: string } }>({
      kc: mallory,
      path: '/api/v1/namespaces/k8s-test/pods',
      labelSelector: 'app=inf',
      backoff: { initialMs: 50, maxMs: 200 },
    });
    const errors: unknown[] = [];
    inf.onError((e) => errors.push(e));
    inf.start();
    try {
      await eventually(() => errors.length >= 3, { what: 'a few 403s' });
      assert.equal(inf.hasSynced(), false);
      await admin.request({ method: 'POST', path: '/api/v1/namespaces/k8s-test/pods', body: pod('p1') });
      await admin.request({
        method: 'POST',
        path: '/apis/rbac.authorization.k8s.io/v1/namespaces/k8s-test/roles',
        body: { metadata: { name: 'pods-read' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }] },
      });
      await admin.request({
        method: 'POST',
        path: '/apis/rbac.authorization.k8s.io/v1/namespaces/k8s-test/rolebindings',
        body: { metadata: { name: 'mallory-pods' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pods-read' }, subjects: [{ kind: 'User', name: 'mallory', apiGroup: 'rbac.authorization.k8s.io' }] },
      });
      await inf.waitForSync();
      assert.ok(inf.get('k8s-test/p1'), 'listed after recovery');
      await admin.request({ method: 'POST', path: '/api/v1/namespaces/k8s-test/pods', body: pod('p2') });
      await eventually(() => inf.get('k8s-test/p2'), { what: 'watch delivers p2' });
      await admin.request({ method: 'DELETE', path: '/api/v1/namespaces/k8s-test/pods/p1', query: { gracePeriodSeconds: 0 } });
      await eventually(() => !inf.get('k8s-test/p1'), { what: 'watch delivers the deletion' });
      assert.ok(inf.stats.errors >= 3);
    } finally {
      await inf.stop();
      mallory.close();
    }
  });

  it('re-opens the watch when the server ends it (timeoutSeconds) without losing events', async () => {
    const inf = new Informer<{ metadata?: { name?: string; resourceVersion?: string } }>({ kc: admin, path: '/api/v1/namespaces/k8s-test/configmaps', watchTimeoutSeconds: 1 });
    inf.start();
    try {
      await inf.waitForSync();
      // the server has ended the watch (timeoutSeconds: 1) at least twice and the informer re-opened it
      await eventually(() => inf.stats.watches >= 3, { what: 'two watch re-opens', timeoutMs: 15_000, describe: () => `watches: ${inf.stats.watches}` });
      await admin.request({ method: 'POST', path: '/api/v1/namespaces/k8s-test/configmaps', body: { metadata: { name: 'late' }, data: { a: 'b' } } });
      await eventually(() => inf.get('k8s-test/late'), { what: 'event after watch re-open' });
      assert.ok(inf.stats.watches >= 3, `watches: ${inf.stats.watches}`);
      assert.equal(inf.stats.lists, 1, 'a normal watch end does not re-list');
    } finally {
      await inf.stop();
    }
  });
});

describe('status ownership (SSA)', () => {
  it('controller and agents write the same target entry without losing each other\'s fields; a stale controller verdict conflicts instead of clobbering', async () => {
    await createCapture(admin, 'k8s-test', 'own', { targetPod: 'p2' });
    const name = 'pod/k8s-test/p2';
    await applyStatus(admin, 'k8s-test', 'own', { progress: 'scheduled', targets: [{ name, kind: 'pod', namespace: 'k8s-test', pod: 'p2', node: 'n1' }] }, CONTROLLER_FIELD_MANAGER);
    await applyStatus(admin, 'k8s-test', 'own', { targets: [{ name, node: 'n1', phase: 'Running', packets: 5 }], nodes: [{ node: 'n1', files: 1 }] }, agentFieldManager('n1'), { force: true });
    // the controller re-applies its fields (identity + aggregates): the agent's stay
    await applyStatus(admin, 'k8s-test', 'own', { progress: 'running', packets: 5, targets: [{ name, kind: 'pod', namespace: 'k8s-test', pod: 'p2', node: 'n1' }] }, CONTROLLER_FIELD_MANAGER);
    let pc = await getPacketCapture(admin, 'k8s-test', 'own');
    assert.equal(pc.status?.targets?.[0]?.phase, 'Running');
    assert.equal(pc.status?.targets?.[0]?.packets, 5);
    assert.equal(pc.status?.nodes?.[0]?.files, 1);
    assert.equal(pc.status?.progress, 'running');
    // a verdict without force on an agent-owned phase is a conflict, not an overwrite
    const err = await applyStatus(admin, 'k8s-test', 'own', { targets: [{ name, kind: 'pod', namespace: 'k8s-test', pod: 'p2', node: 'n1', phase: 'Failed', reason: 'AgentNotReporting' }] }, CONTROLLER_FIELD_MANAGER).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isConflict(err), `expected 409, got ${String(err)}`);
    // a second agent's node entry does not disturb the first
    await applyStatus(admin, 'k8s-test', 'own', { nodes: [{ node: 'n2', files: 3 }] }, agentFieldManager('n2'), { force: true });
    pc = await getPacketCapture(admin, 'k8s-test', 'own');
    assert.deepEqual(pc.status?.nodes?.map((n) => [n.node, n.files]), [['n1', 1], ['n2', 3]]);
    assert.deepEqual([...(ownedTargetFields(pc, agentFieldManager('n1')).get(name) ?? [])].sort(), ['name', 'node', 'packets', 'phase']);
  });
});

describe('leader election', () => {
  it('only one candidate holds the lease; release hands it over', async () => {
    const mk = (id: string) => new LeaderElector({ kc: admin, namespace: 'k8s-test', name: 'le-test', identity: id, leaseDurationSeconds: 30, retryPeriodMs: 100 });
    const a = mk('a');
    const b = mk('b');
    assert.equal(await a.tryAcquireOrRenew(), true);
    assert.equal(await b.tryAcquireOrRenew(), false, 'lease held and fresh');
    assert.equal(await a.tryAcquireOrRenew(), true, 'holder renews');
    // run/stop releases the lease
    const ac = new AbortController();
    let led = false;
    const running = a.run(ac.signal, { onStartedLeading: () => (led = true) });
    await eventually(() => led, { what: 'a leads' });
    ac.abort();
    await running;
    assert.equal(await b.tryAcquireOrRenew(), true, 'released lease is taken at once');
  });
});

describe('events', () => {
  it('identical events aggregate into one with a count', async () => {
    const pc = await createCapture(admin, 'k8s-test', 'ev', { targetPod: 'p2' });
    const rec = new EventRecorder({ kc: admin, component: 'test' });
    rec.record(pc, 'Warning', 'Testing', 'same message');
    await rec.flush();
    rec.record(pc, 'Warning', 'Testing', 'same message');
    rec.record(pc, 'Normal', 'Other', 'different');
    await rec.flush();
    const evs = await listEvents(admin, 'k8s-test', pc.metadata.uid ?? '');
    assert.deepEqual(evs.map((e) => [e.reason, e.count]).sort(), [['Other', 1], ['Testing', 2]]);
  });
});
