import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentLocator, pickAgent, type PodLike } from './agents.js';

const DS = { name: 'pcapper-agent', uid: 'ds-uid' };
function pod(name: string, node: string, over: { owner?: Partial<{ kind: string; name: string; uid: string; controller: boolean }>; phase?: string; ready?: string; ip?: string; port?: number } = {}): PodLike {
  return {
    metadata: { name, ownerReferences: [{ kind: 'DaemonSet', name: 'pcapper-agent', uid: 'ds-uid', controller: true, ...over.owner }] },
    spec: { nodeName: node, containers: [{ ports: [{ name: 'metrics', containerPort: 9090 }, ...(over.port ? [{ name: 'https', containerPort: over.port }] : [])] }] },
    status: { phase: over.phase ?? 'Running', podIP: over.ip ?? '10.0.0.1', conditions: [{ type: 'Ready', status: over.ready ?? 'True' }] },
  };
}

describe('pickAgent', () => {
  it('the Running, Ready pod of the DaemonSet on the node; port named https or 9443', () => {
    assert.deepEqual(pickAgent([pod('a', 'n2', { ip: '10.0.0.2' }), pod('b', 'n1', { ip: '10.0.0.9', port: 10443 })], 'n1', DS), { ok: true, pod: 'b', ip: '10.0.0.9', port: 10443 });
    assert.deepEqual(pickAgent([pod('a', 'n1')], 'n1', DS), { ok: true, pod: 'a', ip: '10.0.0.1', port: 9443 });
  });
  it('ignores impostors: other owner, not controller, other DaemonSet uid', () => {
    for (const owner of [{ kind: 'ReplicaSet' }, { controller: false }, { uid: 'old-uid' }, { name: 'evil' }]) {
      const p = pickAgent([pod('x', 'n1', { owner })], 'n1', DS);
      assert.deepEqual(p, { ok: false, reason: 'no agent pod of DaemonSet pcapper-agent on node n1' });
    }
  });
  it('not ready, not running, or no IP: a reason naming the node', () => {
    for (const o of [{ ready: 'False' }, { phase: 'Pending' }, { ip: '' }]) {
      const p = pickAgent([pod('x', 'n1', o)], 'n1', DS);
      assert.deepEqual(p, { ok: false, reason: 'the agent on node n1 is not ready (pod x)' });
    }
  });
});

describe('AgentLocator', () => {
  it('caches the DaemonSet uid briefly and reports a missing DaemonSet', async () => {
    let t = 0;
    let dsCalls = 0;
    let uid: string | undefined = 'ds-uid';
    const loc = new AgentLocator({
      api: { daemonSetUid: () => (dsCalls++, Promise.resolve(uid)), agentPods: () => Promise.resolve([pod('a', 'n1')]) },
      namespace: 'pcapper',
      daemonSet: 'pcapper-agent',
      uidTtlMs: 1000,
      now: () => t,
    });
    assert.equal((await loc.locate('n1')).ok, true);
    assert.equal((await loc.locateAll(['n1', 'n2'])).get('n2')?.ok, false);
    assert.equal(dsCalls, 1);
    t = 2000;
    uid = undefined;
    await assert.rejects(loc.locate('n1'), /DaemonSet pcapper\/pcapper-agent not found/);
  });
});
