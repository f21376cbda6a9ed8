/**
 * The controller against a real kube-apiserver (v1.34, RBAC, etcd) with simulated nodes and pods
 * (Pod objects only: network:false; the controller never looks into pods). Agents are not running
 * here; where a test needs an agent's report it applies status as `pcapper-agent-<node>`, the
 * documented contract (see test/controller-helpers.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FINALIZER, type PacketCapture } from '../src/api/packetcapture.js';
import { clientFor, deletePacketCapture, getPacketCapture, KubeApiError, type KubeClient } from '../src/k8s/client.js';
import { runController, type ControllerHandle } from '../src/controller/controller.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { SimKubelet } from './harness/kubelet.js';
import { agentReport, createCapture, ensureNamespace, eventsOf, installCRD, nowIso, waitCapture, waitEvent, waitGone } from './controller-helpers.js';
import { eventually } from './harness/eventually.js';

const SYS = 'pcapper';
const GRACE = { resolveGraceMs: 2_000, deadlineGraceMs: 2_000, cleanupTimeoutMs: 60_000 };

let cluster: Cluster;
let kubelet: SimKubelet;
let admin: KubeClient;
let ctl: ControllerHandle | undefined;

const targetNames = (pc: PacketCapture): string[] => (pc.status?.targets ?? []).map((t) => t.name).sort();
const cond = (pc: PacketCapture, type: string) => pc.status?.conditions?.find((c) => c.type === type);

/**
 * Waits until the controller `h` has completed a reconcile of `key` that saw `pc`'s state or a
 * later one (resourceVersions of one object grow; the test apiserver's are etcd revisions). `pc`
 * must be a state someone else wrote (an agent's report, a deletion): the controller does not
 * reconcile again after its own status writes.
 */
async function reconciledAtLeast(key: string, pc: PacketCapture, h: ControllerHandle | undefined = ctl): Promise<void> {
  const want = BigInt(pc.metadata.resourceVersion ?? '0');
  await eventually(
    () => {
      const v = h?.reconciledVersion(key);
      return v !== undefined && BigInt(v) >= want;
    },
    { what: `the controller to reconcile ${key} at resourceVersion ${want} or later`, timeoutMs: 15_000, describe: () => `last reconciled at ${h?.reconciledVersion(key) ?? 'never'}` },
  );
}

function startController(extra: Partial<Parameters<typeof runController>[0]> = {}): ControllerHandle {
  return runController({ kc: cluster.kubeConfig, systemNamespace: SYS, reconcile: GRACE, minIntervalMs: 100, ...extra });
}

before(async () => {
  cluster = await startCluster();
  admin = clientFor(cluster.kubeConfig);
  await installCRD(admin);
  for (const ns of [SYS, 'test-namespace', 'team-a', 'team-b']) await ensureNamespace(admin, ns);
  kubelet = new SimKubelet(cluster.kubeConfig);
  for (const n of ['worker-01', 'worker-02', 'worker-03']) await kubelet.addNode(n, { network: false });
  ctl = startController();
  await ctl.ready;
});

after(async () => {
  await ctl?.stop();
  await kubelet?.close();
  await cluster?.stop();
});

describe('seed 002 examples (apiVersion pcapper.dev/v1alpha1, otherwise unchanged)', () => {
  it('pcap1 (pod target) is accepted and reaches scheduled with the right target', async () => {
    await kubelet.createPod({ namespace: 'test-namespace', name: 'test-pod', node: 'worker-02', network: false });
    const created = await createCapture(admin, SYS, 'pcap1', {
      targetNamespace: 'test-namespace',
      targetPod: 'test-pod',
      captureSeconds: '600',
      captureFilter: 'icmp and host 192.168.1.10',
      maxFileSize: '100M',
      fileCount: '10',
    });
    assert.equal(created.spec.captureSeconds, '600', 'stored verbatim');
    const pc = await waitCapture(admin, SYS, 'pcap1', 'scheduled', (p) => p.status?.progress === 'scheduled');
    assert.equal(pc.status?.node, 'worker-02');
    assert.deepEqual(
      pc.status?.targets?.map((t) => ({ name: t.name, kind: t.kind, namespace: t.namespace, pod: t.pod, node: t.node })),
      [{ name: 'pod/test-namespace/test-pod', kind: 'pod', namespace: 'test-namespace', pod: 'test-pod', node: 'worker-02' }],
    );
    assert.equal(pc.status?.fileLocation, '/var/pcapper/pcapper/pcap1');
    assert.ok(pc.metadata.finalizers?.includes(FINALIZER), 'finalizer added');
    assert.equal(cond(pc, 'TargetsResolved')?.status, 'True');
    await waitEvent(admin, pc, 'Scheduled');
  });

  it('pcap2 (node interface target) is accepted and reaches scheduled with the right target', async () => {
    await createCapture(admin, SYS, 'pcap2', {
      targetNode: 'worker-01',
      targetInterface: 'eno1',
      captureSeconds: '600',
      captureFilter: 'icmp and host 192.168.1.10',
      maxFileSize: '100M',
      fileCount: '10',
    });
    const pc = await waitCapture(admin, SYS, 'pcap2', 'scheduled', (p) => p.status?.progress === 'scheduled');
    assert.equal(pc.status?.node, 'worker-01');
    assert.deepEqual(
      pc.status?.targets?.map((t) => ({ name: t.name, kind: t.kind, node: t.node, interface: t.interface })),
      [{ name: 'node/worker-01/eno1', kind: 'node', node: 'worker-01', interface: 'eno1' }],
    );
  });

  it('the agent reports Running then Finished: progress follows, agent fields survive controller applies', async () => {
    const name = 'pod/test-namespace/test-pod';
    await agentReport(admin, SYS, 'pcap1', 'worker-02', [{ name, phase: 'Running', startTime: nowIso(), packets: 10, bytes: 1000, lastUpdateTime: nowIso() }]);
    let pc = await waitCapture(admin, SYS, 'pcap1', 'running', (p) => p.status?.progress === 'running' && p.status.packets === 10);
    assert.equal(pc.status?.targetsRunning, 1);
    assert.equal(cond(pc, 'Capturing')?.status, 'True');
    await agentReport(admin, SYS, 'pcap1', 'worker-02', [
      { name, phase: 'Finished', reason: 'DurationReached', startTime: nowIso(), finishTime: nowIso(), packets: 42, bytes: 4200, drops: 1, files: [{ name: 'worker-02.pcap1.0.pcap', size: 4200 }] },
    ]);
    pc = await waitCapture(admin, SYS, 'pcap1', 'finished', (p) => p.status?.progress === 'finished');
    const t = pc.status?.targets?.[0];
    assert.equal(t?.packets, 42, 'agent field kept');
    assert.equal(t?.files?.[0]?.name, 'worker-02.pcap1.0.pcap');
    assert.equal(t?.node, 'worker-02', 'controller identity kept');
    assert.equal(pc.status?.packets, 42);
    assert.equal(pc.status?.drops, 1);
    assert.ok(pc.status?.completionTime);
    await waitEvent(admin, pc, 'Finished');
  });
});

describe('kubectl view', () => {
  it('kubectl get pcap (short name) prints progress, targets running/total, packets, age; -o wide adds the node', async () => {
    const r = await cluster.kubectl(['get', 'pcap', '-n', SYS]);
    assert.equal(r.code, 0, r.stderr);
    const [header, ...rows] = r.stdout.trim().split('\n');
    assert.deepEqual(header?.split(/\s+/), ['NAME', 'PROGRESS', 'RUNNING', 'TARGETS', 'PACKETS', 'AGE']);
    const pcap1 = rows.find((l) => l.startsWith('pcap1 '))?.split(/\s+/);
    assert.deepEqual(pcap1?.slice(0, 5), ['pcap1', 'finished', '0', '1', '42']);
    const wide = await cluster.kubectl(['get', 'pcap', 'pcap2', '-n', SYS, '-o', 'wide']);
    assert.match(wide.stdout, /NODE/);
    assert.match(wide.stdout, /pcap2\s+scheduled\s+0\s+1\s+0\s+worker-01\s/);
  });
});

describe('targeting modes', () => {
  it('podSelector in its own namespace, and a pod created mid-capture joins', async () => {
    await kubelet.createPod({ namespace: 'team-a', name: 'web-1', node: 'worker-01', labels: { app: 'web' }, network: false });
    await kubelet.createPod({ namespace: 'team-a', name: 'web-2', node: 'worker-02', labels: { app: 'web' }, network: false });
    await kubelet.createPod({ namespace: 'team-a', name: 'db-1', node: 'worker-02', labels: { app: 'db' }, network: false });
    await createCapture(admin, 'team-a', 'sel', { podSelector: { matchLabels: { app: 'web' } }, captureSeconds: 300 });
    let pc = await waitCapture(admin, 'team-a', 'sel', 'two targets', (p) => p.status?.targetsTotal === 2);
    assert.deepEqual(targetNames(pc), ['pod/team-a/web-1', 'pod/team-a/web-2']);
    assert.equal(pc.status?.node, 'worker-01,worker-02');
    await kubelet.createPod({ namespace: 'team-a', name: 'web-3', node: 'worker-03', labels: { app: 'web' }, network: false });
    pc = await waitCapture(admin, 'team-a', 'sel', 'web-3 joined', (p) => p.status?.targetsTotal === 3);
    assert.deepEqual(targetNames(pc), ['pod/team-a/web-1', 'pod/team-a/web-2', 'pod/team-a/web-3']);
    assert.equal(pc.status?.targets?.find((t) => t.pod === 'web-3')?.node, 'worker-03');
    await waitEvent(admin, pc, 'TargetsAdded');
  });

  it('a podSelector capture with no matching pod waits (scheduled, WaitingForPods) past the grace; a pod that starts matching later is captured; failIfNoTargets fails fast', async () => {
    const ns = 'team-wait';
    await ensureNamespace(admin, ns);
    const selector = { matchLabels: { app: 'late' } };
    await createCapture(admin, ns, 'waits', { podSelector: selector, captureSeconds: 300 });
    let pc = await waitCapture(admin, ns, 'waits', 'waiting for pods', (p) => p.status?.progress === 'scheduled' && cond(p, 'TargetsResolved')?.reason === 'WaitingForPods');
    assert.equal(pc.status?.targetsTotal, 0);
    assert.equal(cond(pc, 'TargetsResolved')?.status, 'False');
    assert.match(cond(pc, 'TargetsResolved')?.message ?? '', /waiting for pods: no running pod in namespace "team-wait" matches the podSelector/);
    const ev = await waitEvent(admin, pc, 'WaitingForPods');
    assert.equal(ev.type, 'Normal');

    // the same selector with failIfNoTargets, created after: once it has failed after the grace,
    // the grace of the first one (created earlier) is over too — and it must still be waiting
    await createCapture(admin, ns, 'fails-fast', { podSelector: selector, captureSeconds: 300, failIfNoTargets: true });
    const fast = await waitCapture(admin, ns, 'fails-fast', 'failure', (p) => p.status?.progress === 'failure');
    assert.equal(cond(fast, 'TargetsResolved')?.reason, 'NoPodsMatched');
    assert.equal((await waitEvent(admin, fast, 'Failed')).type, 'Warning');
    assert.ok(!(await eventsOf(admin, fast)).some((e) => e.reason === 'WaitingForPods'), 'a fail-fast capture does not announce waiting');
    pc = await getPacketCapture(admin, ns, 'waits');
    assert.equal(pc.status?.progress, 'scheduled', 'still waiting after the resolve grace');
    assert.equal(cond(pc, 'TargetsResolved')?.reason, 'WaitingForPods');
    assert.equal((await eventsOf(admin, pc)).filter((e) => e.reason === 'WaitingForPods').length, 1, 'one WaitingForPods Event');

    // a matching pod starts: it is planned and the capture runs
    await kubelet.createPod({ namespace: ns, name: 'late-1', node: 'worker-02', labels: { app: 'late' }, network: false });
    pc = await waitCapture(admin, ns, 'waits', 'late-1 planned', (p) => p.status?.targetsTotal === 1);
    assert.deepEqual(targetNames(pc), ['pod/team-wait/late-1']);
    assert.equal(pc.status?.targets?.[0]?.node, 'worker-02');
    assert.equal(cond(pc, 'TargetsResolved')?.status, 'True');
    await waitEvent(admin, pc, 'TargetsAdded');
    await agentReport(admin, ns, 'waits', 'worker-02', [{ name: 'pod/team-wait/late-1', phase: 'Running', startTime: nowIso(), lastUpdateTime: nowIso() }]);
    pc = await waitCapture(admin, ns, 'waits', 'running', (p) => p.status?.progress === 'running' && p.status.targetsRunning === 1);
    const failedFast = await getPacketCapture(admin, ns, 'fails-fast');
    assert.equal(failedFast.status?.targetsTotal, 0, 'a failed capture admits no pod');
  });

  it('targetDeployment follows Deployment -> ReplicaSet -> Pods (and not a look-alike pod)', async () => {
    const dep = await kubelet.makeDeployment('team-a', 'shop', 3, { app: 'shop' }, ['worker-01', 'worker-02', 'worker-03'], { network: false });
    // same labels, but owned by nobody in the chain: kubectl would pick it by selector; owner refs exclude it
    const foreignRs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'other-rs', uid: '00000000-0000-0000-0000-000000000001', controller: true };
    await kubelet.createPod({ namespace: 'team-a', name: 'shop-lookalike', node: 'worker-01', labels: { app: 'shop' }, ownerReferences: [foreignRs], network: false });
    await createCapture(admin, 'team-a', 'dep', { targetDeployment: 'shop', duration: '30', jobId: 'qwer' });
    const pc = await waitCapture(admin, 'team-a', 'dep', 'three targets', (p) => p.status?.targetsTotal === 3 && p.status.progress === 'scheduled');
    assert.deepEqual(targetNames(pc), dep.pods.map((p) => `pod/team-a/${p.name}`).sort());
    assert.deepEqual(pc.status?.node?.split(','), ['worker-01', 'worker-02', 'worker-03']);
  });

  it('workloadRef StatefulSet, DaemonSet and ReplicaSet', async () => {
    const sts = await kubelet.makeStatefulSet('team-b', 'kv', 2, { app: 'kv' }, ['worker-01', 'worker-02'], { network: false });
    const ds = await kubelet.makeDaemonSet('team-b', 'agentish', { app: 'ds' }, ['worker-01', 'worker-02', 'worker-03'], { network: false });
    const d2 = await kubelet.makeDeployment('team-b', 'api', 2, { app: 'api' }, ['worker-03'], { network: false });
    await createCapture(admin, 'team-b', 'sts', { workloadRef: { kind: 'StatefulSet', name: 'kv' } });
    await createCapture(admin, 'team-b', 'ds', { workloadRef: { kind: 'DaemonSet', name: 'agentish' } });
    await createCapture(admin, 'team-b', 'rs', { workloadRef: { kind: 'ReplicaSet', name: d2.replicaSet.metadata?.name ?? '' } });
    const a = await waitCapture(admin, 'team-b', 'sts', 'planned', (p) => p.status?.progress === 'scheduled');
    assert.deepEqual(targetNames(a), sts.pods.map((p) => `pod/team-b/${p.name}`).sort());
    const b = await waitCapture(admin, 'team-b', 'ds', 'planned', (p) => p.status?.progress === 'scheduled');
    assert.equal(b.status?.targetsTotal, 3);
    assert.deepEqual(targetNames(b), ds.pods.map((p) => `pod/team-b/${p.name}`).sort());
    const c = await waitCapture(admin, 'team-b', 'rs', 'planned', (p) => p.status?.progress === 'scheduled');
    assert.deepEqual(targetNames(c), d2.pods.map((p) => `pod/team-b/${p.name}`).sort());
  });
});

describe('tenancy', () => {
  it('outside the system namespace: another targetNamespace is refused with a clear message', async () => {
    await kubelet.createPod({ namespace: 'team-b', name: 'secret-pod', node: 'worker-01', network: false });
    await createCapture(admin, 'team-a', 'sneaky', { targetNamespace: 'team-b', targetPod: 'secret-pod' });
    const pc = await waitCapture(admin, 'team-a', 'sneaky', 'failure', (p) => p.status?.progress === 'failure');
    assert.equal(pc.status?.targetsTotal, 0, 'nothing planned');
    assert.equal(cond(pc, 'Invalid')?.reason, 'CrossNamespaceTarget');
    assert.match(cond(pc, 'Invalid')?.message ?? '', /may only target pods in "team-a"/);
    const ev = await waitEvent(admin, pc, 'Forbidden');
    assert.equal(ev.type, 'Warning');
  });

  it('outside the system namespace: node interface captures are refused', async () => {
    await createCapture(admin, 'team-a', 'nodecap', { targetNode: 'worker-01', targetInterface: 'eth0' });
    const pc = await waitCapture(admin, 'team-a', 'nodecap', 'failure', (p) => p.status?.progress === 'failure');
    assert.equal(cond(pc, 'Invalid')?.reason, 'NodeTargetNotAllowed');
    assert.equal(pc.status?.targets?.length ?? 0, 0);
  });

  it('in the system namespace, cross-namespace targets are allowed (seed 002 flow)', async () => {
    await createCapture(admin, SYS, 'admin-cross', { targetNamespace: 'team-b', targetPod: 'secret-pod' });
    const pc = await waitCapture(admin, SYS, 'admin-cross', 'scheduled', (p) => p.status?.progress === 'scheduled');
    assert.deepEqual(targetNames(pc), ['pod/team-b/secret-pod']);
  });
});

describe('bad inputs: each is refused readably, and the controller keeps serving', () => {
  // refused at admission (schema patterns, bounds, CEL rules): [name, spec, message fragment]
  const admission: [string, Record<string, unknown>, RegExp][] = [
    ['no target', { captureSeconds: 10 }, /exactly one kind of target/],
    ['two kinds of target', { targetPod: 'a', podSelector: { matchLabels: { a: 'b' } } }, /exactly one kind of target/],
    ['pod and node', { targetPod: 'a', targetNode: 'worker-01', targetInterface: 'eth0' }, /exactly one kind of target/],
    ['negative size', { targetPod: 'a', maxFileSize: '-100M' }, /maxFileSize/],
    ['absurd size', { targetPod: 'a', maxFileSize: '9999999G' }, /between 1M and 100G/],
    ['"10X" size', { targetPod: 'a', maxFileSize: '10X' }, /maxFileSize/],
    ['zero size (integer)', { targetPod: 'a', maxFileSize: 0 }, /between 1M and 100G/],
    ['words for seconds', { targetPod: 'a', captureSeconds: 'ten minutes' }, /captureSeconds/],
    ['negative seconds', { targetPod: 'a', captureSeconds: -5 }, /between 1 second and 7 days/],
    ['over a week', { targetPod: 'a', captureSeconds: '1000000' }, /captureSeconds/],
    ['words for fileCount', { targetPod: 'a', fileCount: 'ten' }, /fileCount/],
    ['fileCount 0', { targetPod: 'a', fileCount: '0' }, /between 1 and 1000/],
    ['packetCount 0', { targetPod: 'a', packetCount: 0 }, /between 1 and 1000000000/],
    ['unknown workload kind', { workloadRef: { kind: 'CronJob', name: 'x' } }, /Unsupported value: "CronJob"/],
    ['targetInterface without targetNode', { targetPod: 'a', targetInterface: 'eth0' }, /go together/],
    ['targetNode without targetInterface', { targetNode: 'worker-01' }, /go together/],
    ['path-like interface', { targetNode: 'worker-01', targetInterface: '../../etc/x' }, /targetInterface/],
    ['flag-like interfaceName', { targetPod: 'a', interfaceName: '-i' }, /interfaceName/],
    ['over-long filter', { targetPod: 'a', captureFilter: 'host 10.0.0.1 and '.repeat(80) + 'tcp' }, /may not be more than 1024/],
    ['flag-looking filter', { targetPod: 'a', captureFilter: '-z /x.sh' }, /captureFilter/],
    ['path-like pod name', { targetPod: '../etc/passwd' }, /targetPod/],
    ['empty podSelector', { podSelector: {} }, /must not be empty/],
    ['snapLength too big', { targetPod: 'a', snapLength: 10_000_000 }, /snapLength/],
    ['captureSeconds and duration', { targetPod: 'a', captureSeconds: 5, duration: 5 }, /not both/],
    ['failIfNoTargets not a boolean', { podSelector: { matchLabels: { a: 'b' } }, failIfNoTargets: 'yes' }, /failIfNoTargets/],
  ];
  // accepted by the apiserver, refused by the controller: [name, spec, condition reason or failure text]
  const controllerSide: [string, Record<string, unknown>, RegExp][] = [
    ['a selector that matches nothing, failing fast', { podSelector: { matchLabels: { app: 'nothing-here' } }, failIfNoTargets: true }, /no running pod .* matches/],
    ['a pod that does not exist', { targetPod: 'ghost' }, /pod "ghost" does not exist/],
    ['a Deployment that does not exist', { targetDeployment: 'ghost' }, /Deployment "ghost" does not exist/],
    ['1 TB per target (100G x 1000 files)', { targetPod: 'web-1', maxFileSize: '100G', fileCount: 1000 }, /exceeds/],
  ];

  it(`${admission.length} malformed specs are rejected at admission with a readable reason`, async () => {
    for (const [i, [what, spec, msg]] of admission.entries()) {
      const err = await createCapture(admin, 'team-a', `bad-${i}`, spec).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof KubeApiError, `${what}: expected a rejection, but it was accepted`);
      assert.equal(err.status, 422, `${what}: ${err.message}`);
      assert.match(err.message, msg, what);
    }
  });

  it(`${controllerSide.length} specs the apiserver cannot judge fail in status with a reason and an Event, while another capture is served`, async () => {
    // a healthy capture that must keep progressing during the storm of bad ones
    await createCapture(admin, 'team-a', 'healthy', { targetPod: 'web-1', captureSeconds: 120 });
    await waitCapture(admin, 'team-a', 'healthy', 'scheduled', (p) => p.status?.progress === 'scheduled');
    for (const [i, [, spec]] of controllerSide.entries()) await createCapture(admin, 'team-a', `refused-${i}`, spec);
    // while they resolve, the healthy capture's agent reports: the controller must aggregate it
    await agentReport(admin, 'team-a', 'healthy', 'worker-01', [{ name: 'pod/team-a/web-1', phase: 'Running', startTime: nowIso(), lastUpdateTime: nowIso(), packets: 3 }]);
    await waitCapture(admin, 'team-a', 'healthy', 'running', (p) => p.status?.progress === 'running' && p.status.packets === 3);
    for (const [i, [what, , msg]] of controllerSide.entries()) {
      const pc = await waitCapture(admin, 'team-a', `refused-${i}`, `${what} -> failure`, (p) => p.status?.progress === 'failure', 15_000);
      const text = [cond(pc, 'Invalid'), cond(pc, 'TargetsResolved')].map((c) => `${c?.reason}: ${c?.message}`).join(' | ');
      assert.match(text, msg, what);
      const ev = await waitEvent(admin, pc, 'Failed');
      assert.match(ev.message, msg, `${what}: event`);
    }
    // and a new capture created after all that is served as usual
    await createCapture(admin, 'team-a', 'after-storm', { podSelector: { matchLabels: { app: 'db' } } });
    const pc = await waitCapture(admin, 'team-a', 'after-storm', 'scheduled', (p) => p.status?.progress === 'scheduled');
    assert.deepEqual(targetNames(pc), ['pod/team-a/db-1']);
  });
});

describe('deadlines, deletion, TTL', () => {
  it('a target no agent starts fails after captureSeconds + grace, with a reason and an Event', async () => {
    await createCapture(admin, 'team-a', 'late', { targetPod: 'web-2', captureSeconds: 1 });
    const pc = await waitCapture(admin, 'team-a', 'late', 'failure', (p) => p.status?.progress === 'failure', 15_000);
    const t = pc.status?.targets?.[0];
    assert.equal(t?.phase, 'Failed');
    assert.equal(t?.reason, 'NotStarted');
    assert.match(t?.message ?? '', /no agent started capturing on node worker-02/);
    await waitEvent(admin, pc, 'TargetFailed');
  });

  it('a Running target whose agent stops reporting is failed by the controller (re-read, then forced over the agent\'s phase)', async () => {
    await createCapture(admin, 'team-a', 'silent', { targetPod: 'web-3', captureSeconds: 1 });
    await waitCapture(admin, 'team-a', 'silent', 'scheduled', (p) => p.status?.progress === 'scheduled');
    await agentReport(admin, 'team-a', 'silent', 'worker-03', [{ name: 'pod/team-a/web-3', phase: 'Running', startTime: nowIso(), lastUpdateTime: nowIso(), packets: 1 }]);
    const pc = await waitCapture(admin, 'team-a', 'silent', 'failure', (p) => p.status?.progress === 'failure', 15_000);
    const t = pc.status?.targets?.[0];
    assert.equal(t?.phase, 'Failed');
    assert.equal(t?.reason, 'AgentNotReporting');
    assert.equal(t?.packets, 1, 'the agent\'s other fields stay');
    // the agent comes back and reports: its forced apply wins again (newest observation)
    const report = await agentReport(admin, 'team-a', 'silent', 'worker-03', [{ name: 'pod/team-a/web-3', phase: 'Finished', reason: 'CaptureSecondsElapsed', packets: 2 }]);
    // the negative ("did not take it back") is checked once the controller has reconciled the
    // state that holds the agent's report, not after a guess at how long that takes
    await reconciledAtLeast('team-a/silent', report);
    const after = await getPacketCapture(admin, 'team-a', 'silent');
    assert.equal(after.status?.targets?.[0]?.phase, 'Finished', 'the controller did not take the phase back');
    assert.equal(after.status?.targets?.[0]?.packets, 2);
  });

  it('partial failure is visible: one target finished, one failed -> finished + PartialFailure', async () => {
    await createCapture(admin, 'team-a', 'partial', { podSelector: { matchLabels: { app: 'web' } }, captureSeconds: 60 });
    await waitCapture(admin, 'team-a', 'partial', 'planned', (p) => p.status?.targetsTotal === 3);
    const t = nowIso();
    await agentReport(admin, 'team-a', 'partial', 'worker-01', [{ name: 'pod/team-a/web-1', phase: 'Finished', startTime: t, finishTime: t, packets: 5 }]);
    await agentReport(admin, 'team-a', 'partial', 'worker-02', [{ name: 'pod/team-a/web-2', phase: 'Failed', reason: 'BadFilter', message: 'tcpdump: syntax error', startTime: t }]);
    await agentReport(admin, 'team-a', 'partial', 'worker-03', [{ name: 'pod/team-a/web-3', phase: 'Finished', startTime: t, finishTime: t, packets: 7 }]);
    const pc = await waitCapture(admin, 'team-a', 'partial', 'finished', (p) => p.status?.progress === 'finished');
    assert.equal(cond(pc, 'PartialFailure')?.status, 'True');
    assert.match(cond(pc, 'PartialFailure')?.message ?? '', /pod\/team-a\/web-2: BadFilter \(tcpdump: syntax error\)/);
    assert.equal(pc.status?.targetsFailed, 1);
    assert.equal(pc.status?.packets, 12);
    const ev = await waitEvent(admin, pc, 'FinishedWithFailures');
    assert.equal(ev.type, 'Warning');
  });

  it('delete waits for every node with files to report cleanedUp, then the finalizer goes', async () => {
    await createCapture(admin, 'team-a', 'cleanup', { targetPod: 'web-1', captureSeconds: 60 });
    await waitCapture(admin, 'team-a', 'cleanup', 'scheduled + finalizer', (p) => p.status?.progress === 'scheduled' && !!p.metadata.finalizers?.includes(FINALIZER));
    await agentReport(admin, 'team-a', 'cleanup', 'worker-01', [{ name: 'pod/team-a/web-1', phase: 'Running', startTime: nowIso() }], { files: 1, bytes: 100 });
    await deletePacketCapture(admin, 'team-a', 'cleanup');
    const deleting = await getPacketCapture(admin, 'team-a', 'cleanup');
    assert.ok(deleting.metadata.deletionTimestamp, 'marked for deletion');
    // the controller has reconciled the deleted capture (and kept the finalizer): still there
    await reconciledAtLeast('team-a/cleanup', deleting);
    const pc = await getPacketCapture(admin, 'team-a', 'cleanup');
    assert.ok(pc.metadata.deletionTimestamp, 'still there, being deleted');
    assert.ok(pc.metadata.finalizers?.includes(FINALIZER), 'finalizer kept until the node reports cleanedUp');
    await agentReport(admin, 'team-a', 'cleanup', 'worker-01', [{ name: 'pod/team-a/web-1', phase: 'Finished' }], { files: 0, bytes: 0, cleanedUp: true });
    await waitGone(admin, 'team-a', 'cleanup');
  });

  it('a capture whose targets never started is deleted without waiting (no node has files)', async () => {
    await createCapture(admin, 'team-a', 'quickdel', { targetPod: 'web-2' });
    await waitCapture(admin, 'team-a', 'quickdel', 'finalizer', (p) => !!p.metadata.finalizers?.includes(FINALIZER));
    await deletePacketCapture(admin, 'team-a', 'quickdel');
    // no node reports cleanedUp here: were the controller waiting for one, this would never pass
    await waitGone(admin, 'team-a', 'quickdel');
  });

  it('ttlSecondsAfterFinished deletes a finished capture', async () => {
    await createCapture(admin, 'team-a', 'ttl', { targetPod: 'web-1', captureSeconds: 60, ttlSecondsAfterFinished: 1 });
    await waitCapture(admin, 'team-a', 'ttl', 'scheduled', (p) => p.status?.progress === 'scheduled');
    const t = nowIso();
    await agentReport(admin, 'team-a', 'ttl', 'worker-01', [{ name: 'pod/team-a/web-1', phase: 'Finished', startTime: t, finishTime: t }], { files: 1, cleanedUp: true });
    await waitCapture(admin, 'team-a', 'ttl', 'finished', (p) => p.status?.progress === 'finished');
    await waitGone(admin, 'team-a', 'ttl', 10_000);
  });
});

describe('restart and leader election', () => {
  it('a restarted controller resumes from status: keeps targets and startTime, aggregates reports made while it was down, admits new pods', async () => {
    await createCapture(admin, 'team-b', 'resume', { podSelector: { matchLabels: { tier: 'resume' } }, captureSeconds: 600 });
    await kubelet.createPod({ namespace: 'team-b', name: 'r-1', node: 'worker-01', labels: { tier: 'resume' }, network: false });
    const before = await waitCapture(admin, 'team-b', 'resume', 'planned', (p) => p.status?.targetsTotal === 1);
    await ctl?.stop();
    ctl = undefined;
    // while no controller runs: the agent starts capturing and a new pod appears
    await agentReport(admin, 'team-b', 'resume', 'worker-01', [{ name: 'pod/team-b/r-1', phase: 'Running', startTime: nowIso(), lastUpdateTime: nowIso(), packets: 9 }]);
    await kubelet.createPod({ namespace: 'team-b', name: 'r-2', node: 'worker-02', labels: { tier: 'resume' }, network: false });
    const stale = await getPacketCapture(admin, 'team-b', 'resume');
    assert.equal(stale.status?.progress, 'scheduled', 'nobody aggregated while the controller was down');
    ctl = startController();
    const pc = await waitCapture(admin, 'team-b', 'resume', 'resumed', (p) => p.status?.progress === 'running' && p.status.targetsTotal === 2);
    assert.equal(pc.status?.startTime, before.status?.startTime, 'deadline clock not reset');
    assert.equal(pc.status?.packets, 9);
    assert.equal(pc.status?.targets?.find((t) => t.pod === 'r-1')?.phase, 'Running', 'agent phase untouched');
  });

  it('two replicas: only the leader writes; the standby takes over when the leader stops', async () => {
    await ctl?.stop();
    ctl = undefined;
    const le = { leaseDurationSeconds: 2, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
    const a = startController({ identity: 'replica-a', leaderElection: le });
    await a.ready;
    await eventually(() => a.isLeader(), { what: 'replica-a to lead', timeoutMs: 15_000 });
    const b = startController({ identity: 'replica-b', leaderElection: le });
    try {
      await b.ready;
      const [leader, standby] = a.isLeader() ? [a, b] : [b, a];
      assert.ok(leader.isLeader() && !standby.isLeader(), 'exactly one leader');
      const writes = (h: ControllerHandle): string[] => {
        const out: string[] = [];
        h.client.onRequest((m, p) => {
          if (m !== 'GET' && !p.includes('/leases')) out.push(`${m} ${p}`);
        });
        return out;
      };
      let standbyLeaseRequests = 0;
      standby.client.onRequest((_m, p) => {
        if (p.includes('/leases')) standbyLeaseRequests++;
      });
      const leaderWrites = writes(leader);
      const standbyWrites = writes(standby);
      await kubelet.createPod({ namespace: 'team-b', name: 'le-1', node: 'worker-03', labels: { tier: 'le' }, network: false });
      await createCapture(admin, 'team-b', 'led', { podSelector: { matchLabels: { tier: 'le' } } });
      await waitCapture(admin, 'team-b', 'led', 'scheduled', (p) => p.status?.progress === 'scheduled');
      // the negative below is checked after positive events: the leader has written the scheduled
      // status, and the standby, alive all along, has since tried the Lease twice more
      const seen = standbyLeaseRequests;
      await eventually(() => standbyLeaseRequests >= seen + 2, { what: 'two more Lease requests from the standby', timeoutMs: 15_000 });
      assert.ok(leaderWrites.length > 0, 'the leader wrote');
      assert.deepEqual(standbyWrites, [], 'the standby wrote nothing but its lease reads');
      assert.equal(standby.stats.reconciles, 0);
      // leader goes away (releases the lease): the standby takes over and serves
      await leader.stop();
      await createCapture(admin, 'team-b', 'led2', { podSelector: { matchLabels: { tier: 'le' } } });
      await waitCapture(admin, 'team-b', 'led2', 'scheduled by the new leader', (p) => p.status?.progress === 'scheduled', 15_000);
      assert.ok(standby.isLeader());
      assert.ok(standbyWrites.length > 0);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe('events', () => {
  it('repeated identical events are aggregated (count), not duplicated', async () => {
    const pc = await getPacketCapture(admin, 'team-a', 'sneaky');
    const evs = (await eventsOf(admin, pc)).filter((e) => e.reason === 'Forbidden');
    assert.equal(evs.length, 1, JSON.stringify(evs));
  });
});
