import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FINALIZER, type PacketCapture, type PacketCaptureSpec, type PacketCaptureStatus } from '../api/packetcapture.js';
import { decide, DEFAULT_RECONCILE_CONFIG as CFG } from './reconcile.js';
import { planTargets, podOfWorkload } from './plan.js';
import { aggregate, progressOf } from './aggregate.js';
import { checkTenancy } from './tenancy.js';
import { arrayWorld, type Pod } from './types.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const created = new Date(T0).toISOString();

function pc(spec: PacketCaptureSpec | Record<string, unknown>, status?: PacketCaptureStatus, meta: Partial<PacketCapture['metadata']> = {}): PacketCapture {
  return {
    apiVersion: 'pcapper.dev/v1alpha1',
    kind: 'PacketCapture',
    metadata: { name: 'c1', namespace: 'team', uid: 'u1', generation: 1, creationTimestamp: created, finalizers: [FINALIZER], ...meta },
    spec: spec,
    status,
  };
}
function pod(name: string, node: string, labels: Record<string, string> = {}, extra: Partial<Pod> = {}): Pod {
  return { metadata: { name, namespace: 'team', uid: `uid-${name}`, labels }, spec: { nodeName: node }, status: { phase: 'Running' }, ...extra };
}
const none = new Set<string>();

test('plan: selector picks running scheduled pods only, sorted; targets never dropped', () => {
  const w = arrayWorld({
    pods: [
      pod('b', 'n2', { app: 'web' }),
      pod('a', 'n1', { app: 'web' }),
      pod('c', 'n1', { app: 'db' }),
      pod('d', 'n1', { app: 'web' }, { status: { phase: 'Succeeded' } }),
      { metadata: { name: 'e', namespace: 'team', labels: { app: 'web' } }, spec: {}, status: { phase: 'Pending' } },
    ],
    nodes: ['n1', 'n2'],
  });
  const r = planTargets({ kind: 'selector', namespace: 'team', selector: { matchLabels: { app: 'web' } } }, [{ name: 'pod/team/gone', kind: 'pod', namespace: 'team', pod: 'gone', node: 'n3' }], w, true);
  assert.deepEqual(r.targets.map((t) => t.name), ['pod/team/a', 'pod/team/b', 'pod/team/gone']);
  assert.equal(r.targets[0]?.node, 'n1');
  assert.deepEqual(r.problems, []);
  const closed = planTargets({ kind: 'selector', namespace: 'team', selector: { matchLabels: { app: 'web' } } }, [], w, false);
  assert.equal(closed.targets.length, 0, 'no new targets once the window closed');
});

test('plan: Deployment -> ReplicaSet -> Pods by ownership, not label luck', () => {
  const dep = { kind: 'Deployment', metadata: { name: 'web', namespace: 'team', uid: 'dep' }, spec: { selector: { matchLabels: { app: 'web' } } } };
  const rs = { kind: 'ReplicaSet', metadata: { name: 'web-123', namespace: 'team', uid: 'rs', ownerReferences: [{ kind: 'Deployment', name: 'web', uid: 'dep', controller: true }] }, spec: { selector: { matchLabels: { app: 'web' } } } };
  const mine = pod('web-123-x', 'n1', { app: 'web' }, { metadata: { name: 'web-123-x', namespace: 'team', uid: 'p1', labels: { app: 'web' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'web-123', uid: 'rs', controller: true }] } });
  const other = pod('other', 'n1', { app: 'web' }, { metadata: { name: 'other', namespace: 'team', uid: 'p2', labels: { app: 'web' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'foreign', uid: 'rs2', controller: true }] } });
  const w = arrayWorld({ pods: [mine, other], workloads: [dep, rs], nodes: ['n1'] });
  assert.equal(podOfWorkload(mine, dep, 'Deployment', w), true);
  assert.equal(podOfWorkload(other, dep, 'Deployment', w), false);
  const r = planTargets({ kind: 'workload', namespace: 'team', workloadKind: 'Deployment', name: 'web' }, [], w, true);
  assert.deepEqual(r.targets.map((t) => t.pod), ['web-123-x']);
  const missing = planTargets({ kind: 'workload', namespace: 'team', workloadKind: 'StatefulSet', name: 'web' }, [], w, true);
  assert.equal(missing.problems[0]?.reason, 'WorkloadNotFound');
});

test('tenancy: own namespace only outside the system namespace', () => {
  assert.equal(checkTenancy('team', { kind: 'pod', namespace: 'team', pod: 'p' }, 'pcapper'), undefined);
  assert.equal(checkTenancy('team', { kind: 'pod', namespace: 'other', pod: 'p' }, 'pcapper')?.reason, 'CrossNamespaceTarget');
  assert.equal(checkTenancy('team', { kind: 'node', node: 'n', interface: 'eth0' }, 'pcapper')?.reason, 'NodeTargetNotAllowed');
  assert.equal(checkTenancy('pcapper', { kind: 'node', node: 'n', interface: 'eth0' }, 'pcapper'), undefined);
  assert.equal(checkTenancy('pcapper', { kind: 'pod', namespace: 'other', pod: 'p' }, 'pcapper'), undefined);
});

test('aggregate/progress: scheduled -> running -> finished with partial failure visible', () => {
  assert.equal(progressOf(aggregate([{ name: 'a' }, { name: 'b' }]), { refused: false, unresolvable: false }), 'scheduled');
  assert.equal(progressOf(aggregate([{ name: 'a', phase: 'Running' }, { name: 'b' }]), { refused: false, unresolvable: false }), 'running');
  assert.equal(progressOf(aggregate([{ name: 'a', phase: 'Finished' }, { name: 'b', phase: 'Failed' }]), { refused: false, unresolvable: false }), 'finished');
  assert.equal(progressOf(aggregate([{ name: 'a', phase: 'Failed' }]), { refused: false, unresolvable: false }), 'failure');
  assert.equal(progressOf(aggregate([]), { refused: false, unresolvable: false }), undefined);
  assert.equal(progressOf(aggregate([]), { refused: false, unresolvable: true }), 'failure');
  assert.equal(progressOf(aggregate([{ name: 'a' }]), { refused: false, unresolvable: false, prev: 'finished' }), 'finished', 'terminal is sticky');
});

test('decide: adds the finalizer, plans the seed 002 pod target, schedules with an Event', () => {
  const w = arrayWorld({ pods: [{ ...pod('test-pod', 'worker-01'), metadata: { name: 'test-pod', namespace: 'test-namespace', uid: 'tp' } }], nodes: ['worker-01'] });
  const capture = pc({ targetNamespace: 'test-namespace', targetPod: 'test-pod', captureSeconds: '600', maxFileSize: '100M', fileCount: '10' }, undefined, { namespace: 'pcapper', finalizers: [] });
  const d = decide(capture, w, CFG, T0, none);
  assert.equal(d.finalizer, 'add');
  assert.equal(d.status?.progress, 'scheduled');
  assert.equal(d.status?.node, 'worker-01');
  assert.deepEqual(d.status?.targets, [{ name: 'pod/test-namespace/test-pod', kind: 'pod', namespace: 'test-namespace', pod: 'test-pod', podUID: 'tp', node: 'worker-01' }]);
  assert.ok(d.events.some((e) => e.reason === 'Scheduled'));
  assert.equal(d.requeueAfterMs, 600_000 + CFG.deadlineGraceMs, 'wakes at the not-started deadline');
});

test('decide: tenancy refusal is a failure with Invalid condition and a Forbidden Event', () => {
  const d = decide(pc({ targetNamespace: 'kube-system', targetPod: 'x' }), arrayWorld({}), CFG, T0, none);
  assert.equal(d.status?.progress, 'failure');
  const inv = d.status?.conditions?.find((c) => c.type === 'Invalid');
  assert.equal(inv?.status, 'True');
  assert.equal(inv?.reason, 'CrossNamespaceTarget');
  assert.ok(d.events.some((e) => e.reason === 'Forbidden' && e.type === 'Warning'));
});

test('decide: a store refusal stays on the next pass (a terminal capture does not flip to Valid); no second Event', () => {
  const w = { ...arrayWorld({ pods: [pod('p', 'n1')], nodes: ['n1'] }), storeWorld: { store: () => undefined, stores: () => [], namespaceLabels: () => ({}) } };
  const first = decide(pc({ targetPod: 'p', store: 'nope' }), w, CFG, T0, none);
  assert.equal(first.status?.progress, 'failure');
  assert.equal(first.status?.conditions?.find((c) => c.type === 'Invalid')?.reason, 'StoreNotFound');
  assert.ok(first.events.some((e) => e.reason === 'StoreNotFound'));
  const second = decide(pc({ targetPod: 'p', store: 'nope' }, first.status), w, CFG, T0 + 1000, none);
  const inv = second.status?.conditions?.find((c) => c.type === 'Invalid');
  assert.equal(inv?.status, 'True');
  assert.equal(inv?.reason, 'StoreNotFound');
  assert.equal(second.status?.targetsTotal, 0);
  assert.ok(!second.events.some((e) => e.reason === 'StoreNotFound'), 'the Event is sent once');
});

test('decide: a controller-side invalid spec (1 TB per target) fails with a readable reason', () => {
  const d = decide(pc({ targetPod: 'p', maxFileSize: '100G', fileCount: 1000 }), arrayWorld({}), CFG, T0, none);
  assert.equal(d.status?.progress, 'failure');
  assert.match(d.events.find((e) => e.reason === 'InvalidSpec')?.message ?? '', /exceeds/);
});

test('decide: missing pod waits for the grace period, then fails', () => {
  const w = arrayWorld({ nodes: ['n1'] });
  const early = decide(pc({ targetPod: 'nope' }), w, CFG, T0 + 1000, none);
  assert.equal(early.status?.progress, undefined);
  assert.equal(early.requeueAfterMs, CFG.resolveGraceMs - 1000);
  const late = decide(pc({ targetPod: 'nope' }), w, CFG, T0 + CFG.resolveGraceMs, none);
  assert.equal(late.status?.progress, 'failure');
  assert.match(late.events.find((e) => e.reason === 'Failed')?.message ?? '', /does not exist/);
});

test('decide: never-started target fails at captureSeconds + grace; Running one needs force when its agent went silent', () => {
  const w = arrayWorld({ pods: [pod('a', 'n1', { app: 'x' }), pod('b', 'n1', { app: 'x' })], nodes: ['n1'] });
  const start = new Date(T0).toISOString();
  const status: PacketCaptureStatus = {
    progress: 'running',
    startTime: start,
    targets: [
      { name: 'pod/team/a', kind: 'pod', namespace: 'team', pod: 'a', podUID: 'uid-a', node: 'n1' },
      { name: 'pod/team/b', kind: 'pod', namespace: 'team', pod: 'b', podUID: 'uid-b', node: 'n1', phase: 'Running', startTime: start, lastUpdateTime: start },
    ],
  };
  const spec = { podSelector: { matchLabels: { app: 'x' } }, captureSeconds: 10 };
  const before = decide(pc(spec, status), w, CFG, T0 + 5000, none);
  assert.equal(before.needsForce, false);
  assert.ok(before.status?.targets?.every((t) => t.phase === undefined), 'no verdict before the deadline');
  const after = decide(pc(spec, status), w, CFG, T0 + 10_000 + CFG.deadlineGraceMs, none);
  const a = after.status?.targets?.find((t) => t.name === 'pod/team/a');
  const b = after.status?.targets?.find((t) => t.name === 'pod/team/b');
  assert.equal(a?.reason, 'NotStarted');
  assert.equal(b?.reason, 'AgentNotReporting');
  assert.equal(after.needsForce, true);
  assert.equal(after.status?.progress, 'failure');
});

test('decide: the controller never writes observation fields it does not own', () => {
  const w = arrayWorld({ pods: [pod('a', 'n1')], nodes: ['n1'] });
  const status: PacketCaptureStatus = {
    progress: 'running',
    startTime: created,
    targets: [{ name: 'pod/team/a', kind: 'pod', namespace: 'team', pod: 'a', podUID: 'uid-a', node: 'n1', phase: 'Running', packets: 5, bytes: 500, files: [{ name: 'x.pcap', size: 500 }] }],
  };
  const d = decide(pc({ targetPod: 'a' }, status), w, CFG, T0 + 1000, none);
  assert.deepEqual(d.status?.targets, [{ name: 'pod/team/a', kind: 'pod', namespace: 'team', pod: 'a', podUID: 'uid-a', node: 'n1' }]);
  assert.equal(d.status?.packets, 5);
  assert.equal(d.status?.targetsRunning, 1);
});

test('decide: keeps its own earlier verdicts (SSA would drop omitted fields)', () => {
  const w = arrayWorld({ pods: [], nodes: ['n1'] });
  const status: PacketCaptureStatus = {
    progress: 'failure',
    startTime: created,
    completionTime: created,
    targets: [{ name: 'pod/team/a', kind: 'pod', namespace: 'team', pod: 'a', node: 'n1', phase: 'Failed', reason: 'PodGone', message: 'gone' }],
  };
  const d = decide(pc({ targetPod: 'a' }, status), w, CFG, T0 + 1000, new Set(['pod/team/a']));
  assert.equal(d.status?.targets?.[0]?.reason, 'PodGone');
  assert.equal(d.needsForce, false);
});

test('decide: deletion waits for cleanedUp from every node with files, or the node being gone', () => {
  const status: PacketCaptureStatus = {
    targets: [{ name: 'pod/team/a', node: 'n1', phase: 'Finished', startTime: created }],
    nodes: [{ node: 'n1', files: 2 }, { node: 'n2', files: 1, cleanedUp: true }],
  };
  const del = { deletionTimestamp: new Date(T0).toISOString() };
  assert.equal(decide(pc({ targetPod: 'a' }, status, del), arrayWorld({ nodes: ['n1', 'n2'] }), CFG, T0, none).finalizer, undefined);
  assert.equal(decide(pc({ targetPod: 'a' }, status, del), arrayWorld({ nodes: ['n2'] }), CFG, T0, none).finalizer, 'remove', 'node gone');
  const cleaned = { ...status, nodes: [{ node: 'n1', cleanedUp: true }, { node: 'n2', cleanedUp: true }] };
  assert.equal(decide(pc({ targetPod: 'a' }, cleaned, del), arrayWorld({ nodes: ['n1', 'n2'] }), CFG, T0, none).finalizer, 'remove');
  assert.equal(decide(pc({ targetPod: 'a' }, status, del), arrayWorld({ nodes: ['n1', 'n2'] }), CFG, T0 + CFG.cleanupTimeoutMs, none).finalizer, 'remove', 'timeout');
});

test('decide: ttlSecondsAfterFinished deletes after completion', () => {
  const status: PacketCaptureStatus = { progress: 'finished', startTime: created, completionTime: created, targets: [{ name: 'pod/team/a', kind: 'pod', namespace: 'team', pod: 'a', node: 'n1', phase: 'Finished' }] };
  const w = arrayWorld({ pods: [pod('a', 'n1')], nodes: ['n1'] });
  const early = decide(pc({ targetPod: 'a', ttlSecondsAfterFinished: 30 }, status), w, CFG, T0 + 10_000, none);
  assert.equal(early.deleteCapture, false);
  assert.equal(early.requeueAfterMs, 20_000);
  assert.equal(decide(pc({ targetPod: 'a', ttlSecondsAfterFinished: 30 }, status), w, CFG, T0 + 30_000, none).deleteCapture, true);
});

test('decide: 1,000 selector targets are planned in one status', () => {
  const pods = Array.from({ length: 1000 }, (_, i) => pod(`p${i}`, `n${i % 100}`, { app: 'big' }));
  const w = arrayWorld({ pods, nodes: Array.from({ length: 100 }, (_, i) => `n${i}`) });
  const d = decide(pc({ podSelector: { matchLabels: { app: 'big' } } }), w, CFG, T0, none);
  assert.equal(d.status?.targets?.length, 1000);
  assert.equal(d.status?.targetsTotal, 1000);
  assert.equal(d.status?.node?.split(',').length, 100);
});

test('decide: a Running target whose node is gone fails with NodeNotFound (needs force: the agent owns phase)', () => {
  const w = arrayWorld({ pods: [pod('a', 'n1')], nodes: [] });
  const status: PacketCaptureStatus = {
    progress: 'running',
    startTime: created,
    targets: [{ name: 'pod/team/a', kind: 'pod', namespace: 'team', pod: 'a', podUID: 'uid-a', node: 'n1', phase: 'Running', startTime: created }],
  };
  const d = decide(pc({ targetPod: 'a', captureSeconds: 600 }, status), w, CFG, T0 + 1000, none);
  assert.equal(d.status?.targets?.[0]?.reason, 'NodeNotFound');
  assert.equal(d.needsForce, true);
  assert.equal(d.status?.progress, 'failure');
  assert.ok(d.events.some((e) => e.reason === 'TargetFailed' && /node n1 is gone/.test(e.message)));
});

test('decide: a pod deleted before its target started fails with PodGone; a re-created matching pod takes its place (new UID)', () => {
  const status: PacketCaptureStatus = {
    progress: 'scheduled',
    startTime: created,
    targets: [{ name: 'pod/team/a', kind: 'pod', namespace: 'team', pod: 'a', podUID: 'old-uid', node: 'n1' }],
  };
  const gone = decide(pc({ podSelector: { matchLabels: { x: 'y' } } }, status), arrayWorld({ nodes: ['n1'] }), CFG, T0 + 1000, none);
  assert.equal(gone.status?.targets?.[0]?.reason, 'PodGone');
  assert.equal(gone.needsForce, false, 'phase was unset: no agent owns it');
  const recreated = decide(pc({ podSelector: { matchLabels: { x: 'y' } } }, status), arrayWorld({ pods: [pod('a', 'n2', { x: 'y' })], nodes: ['n1', 'n2'] }), CFG, T0 + 1000, none);
  assert.deepEqual(recreated.status?.targets?.[0], { name: 'pod/team/a', kind: 'pod', namespace: 'team', pod: 'a', podUID: 'uid-a', node: 'n2' });
});

test('decide: a hostNetwork pod is refused outside the system namespace (HostNetworkPod + Event), allowed inside it', () => {
  const host = pod('node-exporter', 'n1', { app: 'mon' }, { spec: { nodeName: 'n1', hostNetwork: true } });
  const w = arrayWorld({ pods: [host, pod('web', 'n1', { app: 'mon' })], nodes: ['n1'] });
  const d = decide(pc({ podSelector: { matchLabels: { app: 'mon' } }, captureSeconds: '60' }), w, CFG, T0, none);
  const t = d.status?.targets?.find((x) => x.pod === 'node-exporter');
  assert.equal(t?.phase, 'Failed');
  assert.equal(t?.reason, 'HostNetworkPod');
  assert.match(t?.message ?? '', /pod team\/node-exporter uses hostNetwork: .*only a PacketCapture in the system namespace "pcapper"/);
  assert.equal(d.status?.targets?.find((x) => x.pod === 'web')?.phase, undefined, 'the other pod is planned normally');
  assert.ok(d.events.some((e) => e.type === 'Warning' && e.reason === 'TargetFailed' && /HostNetworkPod/.test(e.message)), JSON.stringify(d.events));

  const sysPod = { ...host, metadata: { ...host.metadata, namespace: 'pcapper' } };
  const ws = arrayWorld({ pods: [sysPod], nodes: ['n1'] });
  const ds = decide(pc({ targetPod: 'node-exporter', captureSeconds: '60' }, undefined, { namespace: 'pcapper' }), ws, CFG, T0, none);
  assert.equal(ds.status?.targets?.[0]?.phase, undefined, 'allowed in the system namespace');
});

test('decide: a selector capture with no matching pod waits (scheduled, WaitingForPods once), picks up a pod that starts matching, fails only at its window end', () => {
  const spec = { podSelector: { matchLabels: { app: 'web' } }, captureSeconds: 60 };
  const empty = arrayWorld({ nodes: ['n1'] });
  const first = decide(pc(spec), empty, CFG, T0, none);
  assert.equal(first.status?.progress, 'scheduled', 'waiting is visible as scheduled');
  const rc = first.status?.conditions?.find((c) => c.type === 'TargetsResolved');
  assert.equal(rc?.status, 'False');
  assert.equal(rc?.reason, 'WaitingForPods');
  assert.match(rc?.message ?? '', /waiting for pods: no running pod in namespace "team" matches the podSelector.*until 2026-01-01T00:01:00Z/);
  assert.deepEqual(first.events.map((e) => [e.type, e.reason]), [['Normal', 'WaitingForPods']], 'one Normal Event, no Scheduled event for zero targets');
  assert.equal(first.requeueAfterMs, 60_000, 'wakes at the window end');

  // past the resolve grace: still waiting, no second Event
  const later = decide(pc(spec, first.status), empty, CFG, T0 + CFG.resolveGraceMs + 5_000, none);
  assert.equal(later.status?.progress, 'scheduled');
  assert.equal(later.status?.conditions?.find((c) => c.type === 'TargetsResolved')?.reason, 'WaitingForPods');
  assert.deepEqual(later.events, []);

  // a matching pod starts: it is planned, the capture is resolved and announces the new target
  const withPod = arrayWorld({ pods: [pod('web-1', 'n1', { app: 'web' })], nodes: ['n1'] });
  const joined = decide(pc(spec, later.status), withPod, CFG, T0 + 20_000, none);
  assert.deepEqual(joined.status?.targets?.map((t) => t.name), ['pod/team/web-1']);
  assert.equal(joined.status?.progress, 'scheduled');
  assert.equal(joined.status?.conditions?.find((c) => c.type === 'TargetsResolved')?.status, 'True');
  assert.ok(joined.events.some((e) => e.reason === 'TargetsAdded' && /pod\/team\/web-1/.test(e.message)));

  // no pod ever matched: at the window end the capture fails with NoPodsMatched
  const end = decide(pc(spec, later.status), empty, CFG, T0 + 60_000, none);
  assert.equal(end.status?.progress, 'failure');
  const endRc = end.status?.conditions?.find((c) => c.type === 'TargetsResolved');
  assert.equal(endRc?.reason, 'NoPodsMatched');
  assert.match(endRc?.message ?? '', /waited 60 s, the whole capture window/);
  assert.match(end.events.find((e) => e.reason === 'Failed' && e.type === 'Warning')?.message ?? '', /matches the podSelector/);
});

test('decide: a workload without pods waits too; a missing workload, a missing named pod, and failIfNoTargets fail after the resolve grace', () => {
  const dep = { kind: 'Deployment', metadata: { name: 'web', namespace: 'team', uid: 'dep' }, spec: { selector: { matchLabels: { app: 'web' } } } };
  const w = arrayWorld({ workloads: [dep], nodes: ['n1'] });
  const afterGrace = T0 + CFG.resolveGraceMs;
  const wl = decide(pc({ targetDeployment: 'web', captureSeconds: 60 }), w, CFG, afterGrace, none);
  assert.equal(wl.status?.progress, 'scheduled');
  assert.equal(wl.status?.conditions?.find((c) => c.type === 'TargetsResolved')?.reason, 'WaitingForPods');

  const typo = decide(pc({ targetDeployment: 'wbe', captureSeconds: 60 }), w, CFG, afterGrace, none);
  assert.equal(typo.status?.progress, 'failure');
  assert.equal(typo.status?.conditions?.find((c) => c.type === 'TargetsResolved')?.reason, 'WorkloadNotFound');

  const named = decide(pc({ targetPod: 'web-1', captureSeconds: 60 }), w, CFG, afterGrace, none);
  assert.equal(named.status?.conditions?.find((c) => c.type === 'TargetsResolved')?.reason, 'PodNotFound');
  assert.equal(named.status?.progress, 'failure');

  const fast = { podSelector: { matchLabels: { app: 'web' } }, captureSeconds: 60, failIfNoTargets: true };
  const early = decide(pc(fast), w, CFG, T0, none);
  assert.equal(early.status?.progress, undefined, 'fail-fast: not waiting, just within the grace');
  assert.equal(early.requeueAfterMs, CFG.resolveGraceMs);
  assert.ok(!early.events.some((e) => e.reason === 'WaitingForPods'));
  const failed = decide(pc(fast, early.status), w, CFG, afterGrace, none);
  assert.equal(failed.status?.progress, 'failure');
  assert.equal(failed.status?.conditions?.find((c) => c.type === 'TargetsResolved')?.reason, 'NoPodsMatched');
  assert.match(failed.status?.conditions?.find((c) => c.type === 'TargetsResolved')?.message ?? '', /waited 10 s\)/);
});

test('decide: failIfNoTargets must be a boolean', () => {
  const d = decide(pc({ podSelector: { matchLabels: { app: 'web' } }, failIfNoTargets: 'yes' }), arrayWorld({}), CFG, T0, none);
  assert.equal(d.status?.progress, 'failure');
  assert.match(d.events.find((e) => e.reason === 'InvalidSpec')?.message ?? '', /spec\.failIfNoTargets: "yes" is not true or false/);
});

test('decide: spec.sink must exist and allow the namespace (SinkNotFound / SinkNotAllowed, sticky, one Event); an allowed sink plans as usual', () => {
  const sink = (name: string, names: string[]) => ({ apiVersion: 'pcapper.dev/v1alpha1' as const, kind: 'PacketCaptureSink' as const, metadata: { name }, spec: { kafka: { brokers: ['kafka:9092'], topic: 't' }, allowedNamespaces: { names } } }) as never;
  const base = arrayWorld({ pods: [pod('p', 'n1')], nodes: ['n1'] });
  const sinks = [sink('team-sink', ['team']), sink('other-sink', ['other'])];
  const w = { ...base, sinkWorld: { sink: (n: string) => sinks.find((s: { metadata: { name: string } }) => s.metadata.name === n), sinks: () => sinks } };
  const missing = decide(pc({ targetPod: 'p', sink: 'nope' }), w, CFG, T0, none);
  assert.equal(missing.status?.conditions?.find((c) => c.type === 'Invalid')?.reason, 'SinkNotFound');
  assert.match(missing.events.find((e) => e.reason === 'SinkNotFound')?.message ?? '', /does not exist; sinks this namespace may use: team-sink/);
  const again = decide(pc({ targetPod: 'p', sink: 'nope' }, missing.status), w, CFG, T0 + 1000, none);
  assert.equal(again.status?.conditions?.find((c) => c.type === 'Invalid')?.reason, 'SinkNotFound', 'stays refused');
  assert.ok(!again.events.some((e) => e.reason === 'SinkNotFound'), 'one Event');
  const foreign = decide(pc({ targetPod: 'p', sink: 'other-sink' }), w, CFG, T0, none);
  assert.equal(foreign.status?.progress, 'failure');
  assert.match(foreign.status?.conditions?.find((c) => c.type === 'Invalid')?.message ?? '', /does not allow namespace "team": the cluster admin must add "team"/);
  const ok = decide(pc({ targetPod: 'p', sink: 'team-sink' }), w, CFG, T0, none);
  assert.equal(ok.status?.conditions?.find((c) => c.type === 'Invalid')?.status, 'False');
  assert.equal(ok.status?.targetsTotal, 1);
  const noSupport = decide(pc({ targetPod: 'p', sink: 'team-sink' }), base, CFG, T0, none);
  assert.match(noSupport.status?.conditions?.find((c) => c.type === 'Invalid')?.message ?? '', /without sink support/);
});

test('decide: a selector capture whose targets all ended stays running while its window is open (a new pod still joins), then finishes', () => {
  const spec = { podSelector: { matchLabels: { app: 'web' } }, captureSeconds: '60' };
  const ended = { targets: [{ name: 'pod/team/a', kind: 'pod' as const, namespace: 'team', pod: 'a', podUID: 'uid-a', node: 'n1', phase: 'Finished' as const, reason: 'PodGone' }], startTime: created, progress: 'running' as const };
  const empty = arrayWorld({ pods: [], nodes: ['n1'] });
  const during = decide(pc(spec, ended), empty, CFG, T0 + 10_000, none);
  assert.equal(during.status?.progress, 'running', 'not finished while pods may still come');
  assert.equal(during.requeueAfterMs, 50_000, 'wakes when the window ends');
  const joined = decide(pc(spec, during.status), arrayWorld({ pods: [pod('b', 'n1', { app: 'web' })], nodes: ['n1'] }), CFG, T0 + 20_000, none);
  assert.deepEqual(joined.status?.targets?.map((t) => t.name), ['pod/team/a', 'pod/team/b'], 'the new pod joined');
  const after = decide(pc(spec, ended), empty, CFG, T0 + 61_000, none);
  assert.equal(after.status?.progress, 'finished');
  const counted = decide(pc({ ...spec, packetCount: 10 }, ended), empty, CFG, T0 + 10_000, none);
  assert.equal(counted.status?.progress, 'finished', 'a count-limited capture still ends with its targets');
  const badFilter = { ...ended, targets: [{ name: 'pod/team/a', kind: 'pod' as const, namespace: 'team', pod: 'a', podUID: 'uid-a', node: 'n1', phase: 'Failed' as const, reason: 'BadFilter' }] };
  assert.equal(decide(pc(spec, badFilter), empty, CFG, T0 + 10_000, none).status?.progress, 'failure', 'targets that failed on their own end the capture at once');
});
