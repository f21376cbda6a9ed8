import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PacketCapture, TargetStatus } from '../api/packetcapture.js';
import type { Pod as PlannerPod } from '../controller/types.js';
import { nodeTargets, ownTargets, planCapture, podGoneReason, takesPodsOf, type LocalTarget, type PodLike } from './plan.js';

const t = (name: string, node: string, extra: Partial<TargetStatus> = {}): TargetStatus => ({ name, kind: 'pod', namespace: 'ns', pod: name.split('/')[2] ?? name, podUID: `uid-${name}`, node, ...extra });
const pc = (targets: TargetStatus[], meta: Partial<PacketCapture['metadata']> = {}): PacketCapture => ({
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCapture',
  metadata: { name: 'c', namespace: 'ns', uid: 'u1', ...meta },
  spec: {},
  status: { targets },
});
const pods = (...names: string[]) => (ns: string, name: string): PodLike | undefined => (names.includes(name) ? { metadata: { uid: `uid-pod/${ns}/${name}` } } : undefined);

describe('agent plan', () => {
  it('acts only on its own node', () => {
    const c = pc([t('pod/ns/a', 'n1'), t('pod/ns/b', 'n2')]);
    assert.deepEqual(nodeTargets(c, 'n1').map((x) => x.name), ['pod/ns/a']);
    const actions = planCapture({ capture: c, node: 'n1', local: new Map(), pod: pods('a', 'b') });
    assert.deepEqual(actions.map((a) => [a.kind, 'entry' in a ? a.entry.name : '']), [['start', 'pod/ns/a']]);
  });

  it('starts unset/Pending/Scheduled, reports Running-without-tcpdump as interrupted, adopts final phases', () => {
    const c = pc([
      t('pod/ns/a', 'n1'),
      t('pod/ns/b', 'n1', { phase: 'Pending' }),
      t('pod/ns/c', 'n1', { phase: 'Running' }),
      t('pod/ns/d', 'n1', { phase: 'Finished' }),
      t('pod/ns/e', 'n1', { phase: 'Failed' }),
    ]);
    const actions = planCapture({ capture: c, node: 'n1', local: new Map(), pod: pods('a', 'b', 'c', 'd', 'e') });
    assert.deepEqual(
      actions.map((a) => [a.kind, 'entry' in a ? a.entry.name : '']),
      [
        ['start', 'pod/ns/a'],
        ['start', 'pod/ns/b'],
        ['interrupted', 'pod/ns/c'],
        ['adopt', 'pod/ns/d'],
        ['adopt', 'pod/ns/e'],
      ],
    );
  });

  it('does nothing for targets this process already handles', () => {
    const c = pc([t('pod/ns/a', 'n1', { phase: 'Running' }), t('pod/ns/b', 'n1')]);
    const local = new Map<string, LocalTarget>([
      ['pod/ns/a', { phase: 'Running', active: true }],
      ['pod/ns/b', { phase: 'Failed', active: false }],
    ]);
    assert.deepEqual(planCapture({ capture: c, node: 'n1', local, pod: pods('a', 'b') }), []);
  });

  it('stops a running target whose pod was deleted or replaced', () => {
    const c = pc([t('pod/ns/a', 'n1', { phase: 'Running' })]);
    const local = new Map<string, LocalTarget>([['pod/ns/a', { phase: 'Running', active: true }]]);
    const a = planCapture({ capture: c, node: 'n1', local, pod: pods() });
    assert.equal(a.length, 1);
    assert.ok(a[0]?.kind === 'stop' && a[0].reason === 'PodDeleted' && /pod ns\/a was deleted/.test(a[0].message));
    const replaced = planCapture({ capture: c, node: 'n1', local, pod: () => ({ metadata: { uid: 'other' } }) });
    assert.ok(replaced[0]?.kind === 'stop' && /replaced/.test(replaced[0].message));
  });

  it('leaves a target that still waits for its pod to the start loop', () => {
    const c = pc([t('pod/ns/a', 'n1', { phase: 'Scheduled' })]);
    const local = new Map<string, LocalTarget>([['pod/ns/a', { phase: 'Scheduled', active: true }]]);
    assert.deepEqual(planCapture({ capture: c, node: 'n1', local, pod: pods() }), []);
  });

  it('stops a running target the controller no longer plans', () => {
    const local = new Map<string, LocalTarget>([['pod/ns/gone', { phase: 'Running', active: true }]]);
    const a = planCapture({ capture: pc([]), node: 'n1', local, pod: pods() });
    assert.deepEqual(a, [{ kind: 'stop', target: 'pod/ns/gone', reason: 'TargetRemoved', message: 'the controller no longer plans this target on this node' }]);
  });

  it('cleans up on deletion and when the object is gone', () => {
    assert.deepEqual(planCapture({ capture: pc([t('pod/ns/a', 'n1')], { deletionTimestamp: '2026-01-01T00:00:00Z' }), node: 'n1', local: new Map(), pod: pods('a') }), [{ kind: 'cleanup', gone: false }]);
    assert.deepEqual(planCapture({ capture: undefined, node: 'n1', local: new Map(), pod: pods() }), [{ kind: 'cleanup', gone: true }]);
  });

  it('explains why a pod is gone', () => {
    const e = t('pod/ns/a', 'n1');
    assert.equal(podGoneReason(e, { metadata: { uid: 'uid-pod/ns/a' } }), undefined);
    assert.match(podGoneReason(e, { metadata: { uid: 'uid-pod/ns/a', deletionTimestamp: 'x' } }) ?? '', /being deleted/);
    assert.match(podGoneReason(e, { metadata: { uid: 'uid-pod/ns/a' }, status: { phase: 'Failed' } }) ?? '', /terminated/);
    assert.equal(podGoneReason({ name: 'node/n1/eth0', kind: 'node', node: 'n1', interface: 'eth0' }, undefined), undefined);
  });
});

// ---- the agent's own plan (issue 15 item 3): new pods of a running selector capture start at once ----

const START = Date.parse('2026-11-27T10:00:00Z');
/** A selector capture (app=web) the controller accepted and started at START, 600 s window. */
const selectorPc = (o: { ns?: string; spec?: Record<string, unknown>; status?: Partial<NonNullable<PacketCapture['status']>>; deleting?: boolean } = {}): PacketCapture => ({
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCapture',
  metadata: { name: 'sel', namespace: o.ns ?? 'ns', uid: 'u-sel', ...(o.deleting ? { deletionTimestamp: '2026-11-27T10:00:01Z' } : {}) },
  spec: { podSelector: { matchLabels: { app: 'web' } }, captureSeconds: '600', ...o.spec },
  status: {
    progress: 'scheduled',
    startTime: '2026-11-27T10:00:00Z',
    conditions: [{ type: 'Invalid', status: 'False', reason: 'Valid', message: 'spec is valid and allowed', lastTransitionTime: '2026-11-27T10:00:00Z' }],
    targets: [],
    ...o.status,
  },
});
const npod = (name: string, o: { ns?: string; node?: string; labels?: Record<string, string>; hostNetwork?: boolean; phase?: string; deleting?: boolean } = {}): PlannerPod => ({
  metadata: { name, namespace: o.ns ?? 'ns', uid: `uid-${name}`, labels: o.labels ?? { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2026-11-27T10:00:02Z' } : {}) },
  spec: { nodeName: o.node ?? 'n1', ...(o.hostNetwork ? { hostNetwork: true } : {}) },
  status: { phase: o.phase ?? 'Pending' },
});
const own = (c: PacketCapture, pods: PlannerPod[], now = START + 1000, systemNamespace = 'pcapper'): string[] => ownTargets({ capture: c, node: 'n1', systemNamespace, pods, now }).map((x) => x.name);

describe("agent's own plan (ownTargets: the controller's planTargets, tenancy and hostNetwork rules over the node's pods)", () => {
  const pods = [
    npod('a'),
    npod('running', { phase: 'Running' }),
    npod('elsewhere', { node: 'n2' }),
    npod('nomatch', { labels: { app: 'db' } }),
    npod('host', { hostNetwork: true }),
    npod('x', { ns: 'other' }),
    npod('deleting', { deleting: true }),
    npod('done', { phase: 'Succeeded' }),
    npod('known'),
  ];

  it("takes the node's matching pods of the capture's own namespace that the controller has not planned, with their identity", () => {
    const c = selectorPc({ status: { targets: [{ name: 'pod/ns/known', kind: 'pod', namespace: 'ns', pod: 'known', podUID: 'uid-known', node: 'n1' }] } });
    assert.deepEqual(own(c, pods), ['pod/ns/a', 'pod/ns/running']);
    assert.deepEqual(ownTargets({ capture: c, node: 'n1', systemNamespace: 'pcapper', pods, now: START + 1000 })[0], { name: 'pod/ns/a', kind: 'pod', namespace: 'ns', pod: 'a', podUID: 'uid-a', node: 'n1' });
  });

  it("a tenant's capture never gets a pod of another namespace or a hostNetwork pod; the system namespace gets both", () => {
    assert.deepEqual(own(selectorPc({ spec: { targetNamespace: 'other' } }), pods), [], 'tenant -> other namespace: checkTenancy refuses, nothing planned');
    assert.ok(!own(selectorPc(), pods).includes('pod/ns/host'), 'tenant: no hostNetwork pod');
    assert.deepEqual(own(selectorPc({ ns: 'pcapper', spec: { targetNamespace: 'other' } }), pods), ['pod/other/x']);
    assert.ok(own(selectorPc({ ns: 'pcapper', spec: { targetNamespace: 'ns' } }), pods).includes('pod/ns/host'), 'system namespace: hostNetwork allowed');
  });

  it('plans nothing unless the controller accepted and started the capture, inside its window, for a selector capture', () => {
    const p = [npod('a')];
    assert.deepEqual(own(selectorPc(), p), ['pod/ns/a']);
    assert.deepEqual(own(selectorPc({ status: { conditions: [] } }), p), [], 'not validated by the controller yet');
    assert.deepEqual(own(selectorPc({ status: { conditions: [{ type: 'Invalid', status: 'True', reason: 'StoreNotFound', message: '', lastTransitionTime: '2026-11-27T10:00:00Z' }] } }), p), [], 'refused');
    assert.deepEqual(own(selectorPc({ status: { startTime: undefined } }), p), [], 'not started');
    assert.deepEqual(own(selectorPc({ status: { progress: 'finished' } }), p), [], 'ended');
    assert.deepEqual(own(selectorPc({ status: { progress: 'failure' } }), p), [], 'failed');
    assert.deepEqual(own(selectorPc(), p, START + 600_000), [], 'the capture window closed');
    assert.deepEqual(own(selectorPc(), p, START + 599_999), ['pod/ns/a']);
    assert.deepEqual(own(selectorPc({ deleting: true }), p), [], 'being deleted');
    assert.deepEqual(own(undefined as unknown as PacketCapture, p), [], 'gone');
    assert.deepEqual(own(selectorPc({ spec: { podSelector: undefined, targetPod: 'a' } }), p), [], 'a named pod: the controller plans it');
    assert.deepEqual(own(selectorPc({ spec: { captureSeconds: 'bogus' } }), p), [], 'invalid spec');
  });

  it('a workload capture takes the pods evidently its own from the pod alone (controller owner; a Deployment through <name>-<pod-template-hash>)', () => {
    const owned = (name: string, kind: string, owner: string, hash?: string, o: { ns?: string; hostNetwork?: boolean } = {}): PlannerPod => {
      const p = npod(name, { labels: { app: 'web', ...(hash ? { 'pod-template-hash': hash } : {}) }, ...o });
      return { ...p, metadata: { ...p.metadata, ownerReferences: [{ apiVersion: 'apps/v1', kind, name: owner, uid: `uid-${owner}`, controller: true }] } };
    };
    const p = [
      owned('web-7f9c-a', 'ReplicaSet', 'web-7f9c', '7f9c'),
      owned('web-x-1a2b-b', 'ReplicaSet', 'web-x-1a2b', '1a2b'), // Deployment web-x's pod: its ReplicaSet is not web-<hash>
      owned('web-5d5d-c', 'ReplicaSet', 'web-5d5d', '6e6e'), // hash label and ReplicaSet disagree
      owned('web-host', 'ReplicaSet', 'web-9a9a', '9a9a', { hostNetwork: true }),
      owned('db-0', 'StatefulSet', 'db'),
      npod('loose'), // matches a selector, no owner: the controller decides
    ];
    assert.deepEqual(own(selectorPc({ spec: { podSelector: undefined, targetDeployment: 'web' } }), p), ['pod/ns/web-7f9c-a']);
    assert.deepEqual(own(selectorPc({ spec: { podSelector: undefined, workloadRef: { kind: 'StatefulSet', name: 'db' } } }), p), ['pod/ns/db-0']);
    assert.deepEqual(own(selectorPc({ spec: { podSelector: undefined, workloadRef: { kind: 'ReplicaSet', name: 'web-x-1a2b' } } }), p), ['pod/ns/web-x-1a2b-b']);
    assert.deepEqual(own(selectorPc({ spec: { podSelector: undefined, workloadRef: { kind: 'DaemonSet', name: 'db' } } }), p), [], 'owner kind must match');
    assert.deepEqual(own(selectorPc({ ns: 'pcapper', spec: { podSelector: undefined, targetDeployment: 'web', targetNamespace: 'ns' } }), p), ['pod/ns/web-7f9c-a', 'pod/ns/web-host'], 'system namespace: hostNetwork allowed');
    assert.deepEqual(own(selectorPc({ spec: { podSelector: undefined, targetDeployment: 'web', targetNamespace: 'other' } }), [owned('web-7f9c-z', 'ReplicaSet', 'web-7f9c', '7f9c', { ns: 'other' })]), [], 'tenant: never another namespace');
    assert.equal(takesPodsOf(selectorPc({ spec: { podSelector: undefined, targetDeployment: 'web' } }), 'ns'), true);
  });

  it('queues a capture on pod events only when it takes pods of that namespace', () => {
    assert.equal(takesPodsOf(selectorPc(), 'ns'), true);
    assert.equal(takesPodsOf(selectorPc(), 'other'), false);
    assert.equal(takesPodsOf(selectorPc({ ns: 'pcapper', spec: { targetNamespace: 'other' } }), 'other'), true);
    assert.equal(takesPodsOf(selectorPc({ status: { progress: 'finished' } }), 'ns'), false);
    assert.equal(takesPodsOf(selectorPc({ status: { startTime: undefined } }), 'ns'), false);
    assert.equal(takesPodsOf(selectorPc({ spec: { podSelector: undefined, targetPod: 'a' } }), 'ns'), false);
  });
});

describe('agent plan with its own targets: started at once, adopted by the controller, stopped when excluded', () => {
  const early = t('pod/ns/a', 'n1');
  const running = new Map<string, LocalTarget>([['pod/ns/a', { phase: 'Running', active: true }]]);
  const unplanned = new Map([['pod/ns/a', early]]);

  it('starts an own target not in status; never twice', () => {
    assert.deepEqual(planCapture({ capture: pc([]), node: 'n1', local: new Map(), pod: pods('a'), own: [early] }), [{ kind: 'start', entry: early, own: true }]);
    assert.deepEqual(planCapture({ capture: pc([]), node: 'n1', local: running, pod: pods('a'), own: [early], unplanned }), [], 'running, still in its own plan, controller entry on its way: nothing to do');
  });

  it("adopts it when the controller's entry arrives (no restart), and stops it if the controller ended it first", () => {
    assert.deepEqual(planCapture({ capture: pc([t('pod/ns/a', 'n1')]), node: 'n1', local: running, pod: pods('a'), own: [], unplanned }), [{ kind: 'planned', target: 'pod/ns/a' }]);
    const a = planCapture({ capture: pc([t('pod/ns/a', 'n1', { phase: 'Failed', reason: 'PodGone', message: 'pod ns/a was deleted before the capture started' })]), node: 'n1', local: running, pod: pods('a'), unplanned });
    assert.equal(a[0]?.kind, 'planned');
    assert.ok(a[1]?.kind === 'stop' && a[1].reason === 'TargetRemoved' && /PodGone/.test(a[1].message), JSON.stringify(a));
  });

  it('stops it when its own plan no longer takes it and the controller never planned it: PodDeleted for a gone pod, else TargetRemoved', () => {
    const gone = planCapture({ capture: pc([]), node: 'n1', local: running, pod: pods(), own: [], unplanned });
    assert.ok(gone[0]?.kind === 'stop' && gone[0].reason === 'PodDeleted' && /was deleted/.test(gone[0].message), JSON.stringify(gone));
    const excluded = planCapture({ capture: pc([]), node: 'n1', local: running, pod: pods('a'), own: [], unplanned });
    assert.ok(excluded[0]?.kind === 'stop' && excluded[0].reason === 'TargetRemoved' && /never planned it/.test(excluded[0].message), JSON.stringify(excluded));
  });
});
