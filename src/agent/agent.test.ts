/**
 * Unit tests of the node agent with a fake CaptureBackend (src/capture/fake.ts), fake caches of
 * captures and pods, a fake apiserver for status writes and a fake clock: no root, no tcpdump, no
 * cluster. Everything is asserted by state (status written, backend calls, files on disk); time
 * moves only when a test advances the fake clock. The same behaviour against a real apiserver,
 * real tcpdump and real network namespaces is tested in test/agent*.test.ts.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_VERSION, KIND, type PacketCaptureSpec, type PacketCaptureStatus, type TargetStatus } from '../api/packetcapture.js';
import { CaptureSetupError } from '../capture/backend.js';
import type { DiskState } from '../capture/disk.js';
import { FakeCaptureBackend, PCAP_HEADER } from '../capture/fake.js';
import { capturePaths } from '../capture/tcpdump.js';
import { ringFailure, RingBacklogError } from '../capture/ring.js';
import { loadAgentConfig, type AgentConfig } from '../config/agent.js';
import { KubeApiError } from '../k8s/client.js';
import { FakeClock } from '../k8s/clock.js';
import type { Change } from '../k8s/informer.js';
import { silentLogger } from '../telemetry/log.js';
import { NodeAgent } from './agent.js';
import type { CaptureObject, ObjectCache } from './context.js';
import type { Pod } from './state.js';

const NODE = 'node-a';
const NS = 'shop';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** An informer's cache, filled by the test. */
class FakeCache<T extends { metadata?: { name?: string; namespace?: string } }> implements ObjectCache<T> {
  private readonly m = new Map<string, T>();
  private readonly cbs: ((c: Change<T>) => void)[] = [];
  private synced = false;
  get(key: string): T | undefined {
    return this.m.get(key);
  }
  list(): T[] {
    return [...this.m.values()];
  }
  get size(): number {
    return this.m.size;
  }
  hasSynced(): boolean {
    return this.synced;
  }
  onChange(cb: (c: Change<T>) => void): () => void {
    this.cbs.push(cb);
    return () => undefined;
  }
  start(): void {
    this.synced = true;
  }
  waitForSync(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  put(o: T): void {
    const key = `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    const old = this.m.get(key);
    this.m.set(key, o);
    for (const cb of this.cbs) cb({ type: old ? 'MODIFIED' : 'ADDED', key, object: o, ...(old ? { old } : {}) });
  }
  remove(key: string): void {
    const old = this.m.get(key);
    if (!old) return;
    this.m.delete(key);
    for (const cb of this.cbs) cb({ type: 'DELETED', key, object: old, old });
  }
}

const hex = (n: number): string => n.toString(16).padStart(64, '0');

function pod(name: string, o: { node?: string; containers?: number; phase?: string; ip?: string } = {}): Pod {
  return {
    metadata: { name, namespace: NS, uid: `uid-${name}` },
    spec: { nodeName: o.node ?? NODE },
    status: {
      phase: o.phase ?? 'Running',
      podIP: o.ip ?? '10.1.0.7',
      hostIP: '192.168.0.10',
      containerStatuses: Array.from({ length: o.containers ?? 1 }, (_, i) => ({ containerID: `containerd://${hex(i + 1)}`, state: { running: {} } })),
    },
  };
}

const podTarget = (p: string, node = NODE, extra: Partial<TargetStatus> = {}): TargetStatus => ({ name: `pod/${NS}/${p}`, kind: 'pod', namespace: NS, pod: p, podUID: `uid-${p}`, node, ...extra });

let rv = 1;
function capture(name: string, targets: TargetStatus[], o: { spec?: Partial<PacketCaptureSpec>; deleting?: boolean; nodes?: PacketCaptureStatus['nodes'] } = {}): CaptureObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: NS, uid: `uid-${name}`, resourceVersion: String(rv++), ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { targetPod: 'web', maxFileSize: '1M', fileCount: '1', ...o.spec },
    status: { targets, ...(o.nodes ? { nodes: o.nodes } : {}) },
  };
}

interface Harness {
  agent: NodeAgent;
  clock: FakeClock;
  backend: FakeCaptureBackend;
  captures: FakeCache<CaptureObject>;
  pods: FakeCache<Pod>;
  config: AgentConfig;
  applied: { key: string; status: PacketCaptureStatus }[];
  applyFailures: Error[];
  events: { type: string; reason: string; message: string }[];
  disk: { state: DiskState; fail?: Error };
  /** The target entry in the last status written for capture `name`. */
  target(name: string, target: string): TargetStatus | undefined;
  nodeStatus(name: string): NonNullable<PacketCaptureStatus['nodes']>[number] | undefined;
  /** Runs the event loop (and due zero-delay timers) until `cond` holds; fails after a bounded number of turns. */
  until(what: string, cond: () => boolean): Promise<void>;
}

async function harness(o: { config?: Partial<AgentConfig>; captures?: CaptureObject[]; pods?: Pod[]; files?: (dataDir: string) => void } = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pcapper-agent-unit-'));
  dirs.push(dataDir);
  const config: AgentConfig = {
    ...loadAgentConfig({ NODE_NAME: NODE, PCAPPER_DATA_DIR: dataDir, PCAPPER_TLS_CERT: '/unused/tls.crt', PCAPPER_TLS_KEY: '/unused/tls.key', PCAPPER_CA: '/unused/ca.crt' }),
    ...o.config,
  };
  const clock = new FakeClock();
  const backend = new FakeCaptureBackend({ nodeName: NODE, dataDir });
  const captures = new FakeCache<CaptureObject>();
  const pods = new FakeCache<Pod>();
  for (const c of o.captures ?? []) captures.put(c);
  for (const p of o.pods ?? []) pods.put(p);
  o.files?.(dataDir);
  const applied: Harness['applied'] = [];
  const applyFailures: Error[] = [];
  const events: Harness['events'] = [];
  const disk: Harness['disk'] = { state: { usedBytes: 0, freeBytes: 1e12 } };
  const agent = new NodeAgent({
    config,
    log: silentLogger,
    backend,
    captures,
    pods,
    clock,
    measureDisk: () => (disk.fail ? Promise.reject(disk.fail) : Promise.resolve(disk.state)),
    applyStatus: (ns, name, status) => {
      const e = applyFailures.shift();
      if (e) return Promise.reject(e);
      applied.push({ key: `${ns}/${name}`, status: structuredClone(status) });
      return Promise.resolve();
    },
    events: { record: (_s, type, reason, message) => void events.push({ type, reason, message }), flush: () => Promise.resolve() },
    retryBackoff: { initialMs: 1000, maxMs: 8000 },
    statusBackoff: { initialMs: 500, maxMs: 4000 },
    defaultMetrics: false,
  });
  await agent.start();
  const last = (name: string): PacketCaptureStatus | undefined => applied.filter((a) => a.key === `${NS}/${name}`).at(-1)?.status;
  return {
    agent,
    clock,
    backend,
    captures,
    pods,
    config,
    applied,
    applyFailures,
    events,
    disk,
    target: (name, target) => last(name)?.targets?.find((t) => t.name === target),
    nodeStatus: (name) => last(name)?.nodes?.[0],
    async until(what, cond) {
      for (let i = 0; i < 5000; i++) {
        await clock.advance(0);
        if (cond()) return;
        await new Promise((r) => setImmediate(r));
      }
      assert.fail(`never happened: ${what}; last status ${JSON.stringify(applied.at(-1))}; events ${JSON.stringify(events)}`);
    },
  };
}

const phaseOf = (h: Harness, name: string, target: string): string | undefined => {
  const t = h.target(name, target);
  return t ? `${t.phase}/${t.reason}` : undefined;
};

describe('node agent with a fake capture backend (unit: no root, no tools, fake clock)', () => {
  it('starts the targets of its own node only, reports Running, counters and sizes, and stops a target the controller removed', async () => {
    const h = await harness({
      captures: [capture('c1', [podTarget('web-1'), podTarget('web-2', 'node-b')]), capture('elsewhere', [podTarget('web-3', 'node-b')])],
      pods: [pod('web-1'), pod('other', { ip: '10.1.0.8' })],
    });
    await h.until('web-1 Running', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Capturing');
    await h.until('the queue is idle', () => h.agent.idle());
    assert.deepEqual(
      h.backend.calls.setup.map((r) => r.target),
      [{ kind: 'pod', namespace: NS, pod: 'web-1' }],
      'only the target of node-a was set up',
    );
    assert.deepEqual(h.backend.calls.setup[0]?.containerIds, [hex(1)]);
    assert.equal(h.target('c1', 'pod/shop/web-2'), undefined, 'node-b target: this agent writes nothing for it');
    assert.equal(h.applied.filter((a) => a.key === 'shop/elsewhere').length, 0, 'a capture with no target on this node: no status write');
    // metadata sidecar: the pods of this namespace on the node
    assert.deepEqual(Object.keys(h.backend.calls.metadata[0]?.endpoints ?? {}).sort(), ['10.1.0.7', '10.1.0.8']);
    assert.equal(h.events.filter((e) => e.reason === 'CaptureStarted').length, 1);

    const run = h.backend.live('pod/shop/web-1');
    assert.ok(run);
    await run.packets(10, 84);
    await h.clock.advance(h.config.statusIntervalMs); // the refresh tick: SIGUSR1 stats and file sizes
    await h.until('10 packets reported', () => h.target('c1', 'pod/shop/web-1')?.packets === 10);
    const file = run.prepared.paths.writePath;
    const t = h.target('c1', 'pod/shop/web-1');
    assert.equal(t?.bytes, statSync(file).size, 'bytes in status = the file size on disk');
    assert.equal(t?.bytes, PCAP_HEADER.length + 10 * (16 + 84));
    assert.deepEqual(t?.files, [{ name: run.prepared.paths.fileBase, size: statSync(file).size }]);
    assert.equal(h.nodeStatus('c1')?.bytes, t?.bytes);

    // the controller drops the entry: the target stops with TargetRemoved, files kept
    h.captures.put(capture('c1', [podTarget('web-2', 'node-b')]));
    await h.until('web-1 stopped', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Failed/TargetRemoved');
    assert.equal(run.running, false);
    assert.ok(existsSync(file));
    const m = (await h.agent.metrics.render()).body;
    assert.match(m, /^pcapper_agent_capture_starts_total\{node="node-a"\} 1$/m);
    assert.match(m, /^pcapper_agent_capture_failures_total\{node="node-a"\} 1$/m);
    assert.match(m, /^pcapper_agent_captures_running\{node="node-a"\} 0$/m);
    assert.match(m, /^pcapper_agent_target_packets\{node="node-a",namespace="shop",capture="c1",target="pod\/shop\/web-1"\} 10$/m);
    assert.match(m, /^pcapper_agent_target_running\{node="node-a",namespace="shop",capture="c1",target="pod\/shop\/web-1"\} 0$/m);
    assert.match(m, /^pcapper_agent_reconcile_total\{node="node-a",result="success"\} [1-9]/m);
    await h.agent.stop();
  });

  it('a failed start gives the backend\'s reason in status and a Warning Event: bad filter, tcpdump refusing, terminated pod, bad spec', async () => {
    const h = await harness({ pods: [pod('web-1'), pod('web-2'), pod('done', { phase: 'Succeeded' })] });
    h.backend.setupFailures.push({ target: 'pod/shop/web-1', error: new CaptureSetupError('BadFilter', 'tcpdump: syntax error in filter expression') });
    h.backend.captureFailures.push({ target: 'pod/shop/web-2', error: new CaptureSetupError('CaptureFailed', 'tcpdump: web-2: permission denied') });
    h.captures.put(capture('c1', [podTarget('web-1'), podTarget('web-2'), podTarget('done')]));
    h.captures.put(capture('bad', [podTarget('web-1')], { spec: { maxFileSize: 'lots' } }));
    await h.until('all four targets failed', () =>
      ['pod/shop/web-1', 'pod/shop/web-2', 'pod/shop/done'].every((t) => h.target('c1', t)?.phase === 'Failed') && h.target('bad', 'pod/shop/web-1')?.phase === 'Failed',
    );
    assert.equal(phaseOf(h, 'c1', 'pod/shop/web-1'), 'Failed/BadFilter');
    assert.match(h.target('c1', 'pod/shop/web-1')?.message ?? '', /syntax error in filter/);
    assert.equal(phaseOf(h, 'c1', 'pod/shop/web-2'), 'Failed/CaptureFailed');
    assert.equal(phaseOf(h, 'c1', 'pod/shop/done'), 'Failed/PodNotRunning');
    assert.match(h.target('c1', 'pod/shop/done')?.message ?? '', /has terminated \(phase Succeeded\)/);
    assert.equal(phaseOf(h, 'bad', 'pod/shop/web-1'), 'Failed/InvalidSpec');
    assert.match(h.target('bad', 'pod/shop/web-1')?.message ?? '', /spec\.maxFileSize/);
    assert.deepEqual(h.events.filter((e) => e.type === 'Warning').map((e) => e.reason).sort(), ['BadFilter', 'CaptureFailed', 'InvalidSpec', 'PodNotRunning']);
    assert.equal(h.backend.captures.length, 0, 'no tcpdump runs');
    await h.agent.stop();
  });

  it('a target waits for its pod on pod events (no poll, the clock does not move), and fails after the wait deadline', async () => {
    const h = await harness({ config: { maxConcurrentCaptures: 16 }, pods: [pod('web-1', { containers: 0 })] });
    h.captures.put(capture('c1', [podTarget('web-1'), podTarget('never')]));
    await h.until('both waiting', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Scheduled/WaitingForPod' && phaseOf(h, 'c1', 'pod/shop/never') === 'Scheduled/WaitingForPod');
    assert.match(h.target('c1', 'pod/shop/web-1')?.message ?? '', /has no started container yet/);
    assert.match(h.target('c1', 'pod/shop/never')?.message ?? '', /is not \(yet\) on node node-a/);
    assert.equal(h.backend.calls.setup.length, 0);
    const t0 = h.clock.now();
    h.pods.put(pod('web-1')); // the container started: the informer says so
    await h.until('web-1 Running', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Capturing');
    assert.equal(h.clock.now(), t0, 'started on the pod event, not on a timer');
    assert.equal(h.backend.calls.setup.length, 1);
    // the other one never comes: PodNotRunning after the wait (60 s)
    await h.clock.advance(59_000);
    await h.until('queue idle', () => h.agent.idle());
    assert.equal(phaseOf(h, 'c1', 'pod/shop/never'), 'Scheduled/WaitingForPod');
    await h.clock.advance(1_000);
    await h.until('never failed', () => phaseOf(h, 'c1', 'pod/shop/never') === 'Failed/PodNotRunning');
    assert.match(h.target('c1', 'pod/shop/never')?.message ?? '', /waited 60 s/);
    await h.agent.stop();
  });

  it('a transient setup error (container process not visible yet) is retried on the clock after 200 ms', async () => {
    const h = await harness({ pods: [pod('web-1')] });
    h.backend.setupFailures.push({ error: new CaptureSetupError('PodNotRunning', 'no process of container 0001 in /proc yet', true) });
    h.captures.put(capture('c1', [podTarget('web-1')]));
    await h.until('waiting after the transient error', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Scheduled/WaitingForPod');
    assert.equal(h.backend.calls.setup.length, 1);
    await h.clock.advance(199);
    assert.equal(h.backend.calls.setup.length, 1, 'not asked again before 200 ms');
    await h.clock.advance(1);
    await h.until('Running after the retry', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Capturing');
    assert.equal(h.backend.calls.setup.length, 2);
    await h.agent.stop();
  });

  it('deleting a capture stops tcpdump and removes its files; a failed cleanup is retried with backoff until cleanedUp', async () => {
    const h = await harness({ pods: [pod('web-1')] });
    h.captures.put(capture('c1', [podTarget('web-1')]));
    await h.until('Running', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Capturing');
    const run = h.backend.live('pod/shop/web-1');
    assert.ok(run);
    const dir = run.prepared.paths.captureDir;
    h.backend.cleanupFailures.push(new Error('EBUSY: resource busy or locked, rmdir'));
    h.captures.put(capture('c1', [podTarget('web-1')], { deleting: true }));
    await h.until('the first cleanup failed', () => h.backend.calls.cleanup.length === 1 && h.agent.idle());
    assert.equal(run.running, false, 'tcpdump stopped before the cleanup');
    assert.deepEqual(run.stops, [500]);
    assert.ok(existsSync(dir), 'files still there: the removal failed');
    assert.notEqual(h.nodeStatus('c1')?.cleanedUp, true, 'not reported clean while the files remain');
    // retry with backoff: 1 s (±20 % jitter), nothing from the watch needed
    await h.clock.advance(790);
    assert.equal(h.backend.calls.cleanup.length, 1, 'no retry before the backoff');
    await h.clock.advance(420);
    await h.until('cleaned up on the retry', () => h.nodeStatus('c1')?.cleanedUp === true);
    assert.equal(h.backend.calls.cleanup.length, 2);
    assert.ok(!existsSync(dir));
    const m = (await h.agent.metrics.render()).body;
    assert.match(m, /^pcapper_agent_reconcile_errors_total\{node="node-a",type="transient",reason="Unknown"\} 1$/m);
    assert.match(m, /^pcapper_agent_workqueue_retries_total\{node="node-a"\} 1$/m);
    await h.agent.stop();
  });

  it('a terminal error is recorded once and not retried until the capture changes', async () => {
    const h = await harness();
    h.captures.put(capture('c1', [], { deleting: true, nodes: [{ node: NODE, files: 0, bytes: 0, cleanedUp: false }] }));
    // (a backend on an API-backed store could answer 403; the file backend here is scripted to)
    h.backend.cleanupFailures.push(new KubeApiError({ status: 403, message: 'forbidden', method: 'DELETE', path: '/x' }));
    await h.until('the cleanup failed', () => h.backend.calls.cleanup.length === 1 && h.agent.idle());
    await h.clock.advance(120_000);
    await h.until('queue idle', () => h.agent.idle());
    assert.equal(h.backend.calls.cleanup.length, 1, 'terminal: not retried');
    assert.deepEqual(
      h.events.filter((e) => e.reason === 'AgentReconcileFailed').map((e) => e.type),
      ['Warning'],
    );
    h.captures.put(capture('c1', [], { deleting: true, nodes: [{ node: NODE, files: 0, bytes: 0, cleanedUp: false }] })); // a change of the object
    await h.until('cleaned up after the change', () => h.nodeStatus('c1')?.cleanedUp === true);
    assert.equal(h.backend.calls.cleanup.length, 2);
    await h.agent.stop();
  });

  it('disk guard: admission counts promised bytes (DiskQuotaExceeded), an unmeasurable disk refuses (DiskUnavailable), a full disk stops running captures (DiskFull)', async () => {
    const h = await harness({ config: { maxTotalFileSize: 10_000_000, minFreeDisk: 1_000_000 }, pods: [pod('web-1'), pod('web-2'), pod('web-3')] });
    h.disk.state = { usedBytes: 9_500_000, freeBytes: 50_000_000 };
    h.captures.put(capture('c1', [podTarget('web-1')], { spec: { maxFileSize: '1M', fileCount: '1' } }));
    await h.until('refused', () => h.target('c1', 'pod/shop/web-1')?.phase === 'Failed');
    assert.equal(phaseOf(h, 'c1', 'pod/shop/web-1'), 'Failed/DiskQuotaExceeded');
    h.disk.fail = new Error('EIO: i/o error, statfs');
    h.captures.put(capture('c2', [podTarget('web-2')]));
    await h.until('refused', () => h.target('c2', 'pod/shop/web-2')?.phase === 'Failed');
    assert.equal(phaseOf(h, 'c2', 'pod/shop/web-2'), 'Failed/DiskUnavailable');
    delete h.disk.fail;
    h.disk.state = { usedBytes: 0, freeBytes: 50_000_000 };
    h.captures.put(capture('c3', [podTarget('web-3')]));
    await h.until('Running', () => phaseOf(h, 'c3', 'pod/shop/web-3') === 'Running/Capturing');
    // the disk check: fine, then the file system fills up
    await h.clock.advance(h.config.diskCheckIntervalMs);
    await h.until('queue idle', () => h.agent.idle());
    assert.equal(phaseOf(h, 'c3', 'pod/shop/web-3'), 'Running/Capturing');
    h.disk.state = { usedBytes: 100, freeBytes: 500_000 };
    await h.clock.advance(h.config.diskCheckIntervalMs);
    await h.until('stopped', () => phaseOf(h, 'c3', 'pod/shop/web-3') === 'Failed/DiskFull');
    assert.equal(h.backend.live('pod/shop/web-3'), undefined);
    await h.agent.stop();
  });

  it('after a restart: a target still Running in status is reported AgentRestarted with its files; a Finished one is adopted as it is', async () => {
    let fileName = '';
    let size = 0;
    const finished = podTarget('web-2', NODE, { phase: 'Finished', reason: 'PacketCountReached', message: 'captured 5 packets', files: [{ name: 'x.pcap', size: 524 }], bytes: 524 });
    const h = await harness({
      captures: [capture('c1', [podTarget('web-1', NODE, { phase: 'Running', reason: 'Capturing', startTime: '2026-01-01T00:00:00Z' }), finished])],
      pods: [pod('web-1'), pod('web-2')],
      files: (dataDir) => {
        const p = capturePaths({ dataDir, hostDataDir: dataDir, nodeName: NODE, namespace: NS, capture: 'c1', target: { kind: 'pod', namespace: NS, pod: 'web-1' }, unixTime: 1767225600 });
        mkdirSync(p.targetDir, { recursive: true, mode: 0o700 });
        const body = Buffer.concat([PCAP_HEADER, Buffer.alloc(300)]);
        writeFileSync(p.writePath, body, { mode: 0o600 });
        fileName = p.fileBase;
        size = body.length;
      },
    });
    await h.until('interrupted target reported', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Failed/AgentRestarted');
    const t = h.target('c1', 'pod/shop/web-1');
    assert.deepEqual(t?.files, [{ name: fileName, size }]);
    assert.equal(t?.bytes, size);
    assert.equal(t?.startTime, '2026-01-01T00:00:00Z', 'what the earlier life reported is kept');
    const f = h.target('c1', 'pod/shop/web-2');
    assert.equal(f?.phase, 'Finished');
    assert.equal(f?.reason, 'PacketCountReached');
    assert.deepEqual(f?.files, [{ name: 'x.pcap', size: 524 }]);
    assert.equal(h.nodeStatus('c1')?.bytes, size + 524);
    assert.equal(h.backend.calls.setup.length, 0, 'nothing restarted');
    assert.deepEqual(h.events.map((e) => e.reason), ['AgentRestarted']);
    await h.agent.stop();
  });

  it('after a restart: an armed target of an unfired capture is armed again (a fresh window, the gap said; captureSeconds from its first start); a fired one ends AgentRestarted', async () => {
    const trigger = { lookBack: '30s', lookBackBytes: '64Ki', after: '10s', when: [{ type: 'Webhook' as const }] };
    // the clock starts at 2026-01-01T00:00:00Z: the targets started 100 s before the restart
    const armedEntry = podTarget('web-1', NODE, { phase: 'Running', reason: 'Armed', startTime: '2025-12-31T23:58:20Z' });
    const fired = capture('c2', [podTarget('web-2', NODE, { phase: 'Running', reason: 'Triggered', startTime: '2025-12-31T23:58:20Z' })], { spec: { targetPod: 'web-2', captureSeconds: '300', trigger } });
    fired.status = { ...fired.status, firings: [{ id: 'f-1', type: 'Webhook', time: '2025-12-31T23:59:55Z', source: 'webhook' }] };
    const h = await harness({ captures: [capture('c1', [armedEntry], { spec: { targetPod: 'web-1', captureSeconds: '300', trigger } }), fired], pods: [pod('web-1'), pod('web-2')] });
    await h.until('re-armed', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Armed' && h.target('c1', 'pod/shop/web-1')?.startTime !== armedEntry.startTime);
    await h.until('the fired one interrupted', () => phaseOf(h, 'c2', 'pod/shop/web-2') === 'Failed/AgentRestarted');
    assert.match(h.target('c1', 'pod/shop/web-1')?.message ?? '', /re-armed after an agent restart at 2026-01-01T00:00:00.000Z: the window starts again then/);
    assert.deepEqual(
      h.events.map((e) => e.reason).sort(),
      ['AgentRestarted', 'CaptureStarted', 'Rearmed'],
    );
    assert.match(h.events.find((e) => e.reason === 'Rearmed')?.message ?? '', /re-armed with a fresh look-back window; the packets before 2026-01-01T00:00:00.000Z were not kept/);
    assert.deepEqual(h.backend.calls.capture.map((r) => r.target.kind === 'pod' && r.target.pod), ['web-1'], 'only the unfired one runs tcpdump again');
    const run = h.backend.live('pod/shop/web-1');
    assert.ok(run?.release, 'armed: the backend holds a window');
    // captureSeconds (300) counts from the first start (100 s ago): NotTriggered 200 s after the restart, not 300
    await h.clock.advance(199_000);
    await h.until('queue idle', () => h.agent.idle());
    assert.equal(phaseOf(h, 'c1', 'pod/shop/web-1'), 'Running/Armed');
    await h.clock.advance(1_000);
    await h.until('not triggered', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Finished/NotTriggered');
    assert.deepEqual(run.releases, [], 'nothing fired');
    await h.agent.stop();
  });

  it('a re-armed target is released by the capture\'s firing like any armed target', async () => {
    const trigger = { lookBack: '30s', lookBackBytes: '64Ki', after: '10s', when: [{ type: 'Webhook' as const }] };
    const c = capture('c1', [podTarget('web-1', NODE, { phase: 'Running', reason: 'Armed', startTime: '2025-12-31T23:58:20Z' })], { spec: { targetPod: 'web-1', captureSeconds: '300', trigger } });
    const h = await harness({ captures: [c], pods: [pod('web-1')] });
    await h.until('re-armed', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Armed' && h.backend.live('pod/shop/web-1') !== undefined);
    const firedAt = h.clock.now() + 5_000;
    await h.clock.advance(5_000);
    const next = capture('c1', h.captures.get(`${NS}/c1`)?.status?.targets ?? [], { spec: { targetPod: 'web-1', captureSeconds: '300', trigger } });
    next.status = { ...next.status, firings: [{ id: 'f-1', type: 'Webhook', time: new Date(firedAt).toISOString(), source: 'webhook' }] };
    h.captures.put(next);
    await h.until('triggered', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Triggered');
    assert.deepEqual(h.backend.live('pod/shop/web-1')?.releases, [firedAt]);
    await h.clock.advance(10_000);
    await h.until('window ended', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Finished/TriggerWindowEnded');
    await h.agent.stop();
  });

  it('a tcpdump that ends by itself finishes the target (PacketCountReached); one that fails reports its words (CaptureFailed)', async () => {
    const h = await harness({ pods: [pod('web-1'), pod('web-2')] });
    h.captures.put(capture('c1', [podTarget('web-1')], { spec: { packetCount: '5' } }));
    h.captures.put(capture('c2', [podTarget('web-2')], { spec: { targetPod: 'web-2' } }));
    await h.until('both Running', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Capturing' && phaseOf(h, 'c2', 'pod/shop/web-2') === 'Running/Capturing');
    const a = h.backend.live('pod/shop/web-1');
    await a?.packets(5);
    a?.exit(0);
    await h.until('finished', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Finished/PacketCountReached');
    assert.equal(h.target('c1', 'pod/shop/web-1')?.packets, 5);
    // a pod target's tcpdump that fails while its pod still runs: CaptureFailed (after waiting up to 3 s for a pod deletion)
    h.backend.live('pod/shop/web-2')?.exit(1, 'tcpdump: pcap_loop: The interface went down');
    for (let i = 0; i < 31 && phaseOf(h, 'c2', 'pod/shop/web-2') === 'Running/Capturing'; i++) {
      await h.until('queue idle', () => h.agent.idle());
      await h.clock.advance(100);
    }
    await h.until('failed', () => phaseOf(h, 'c2', 'pod/shop/web-2') === 'Failed/CaptureFailed');
    assert.equal(h.target('c2', 'pod/shop/web-2')?.message, 'tcpdump: pcap_loop: The interface went down');
    await h.agent.stop();
  });

  it('a ring that must not reuse a file the store does not hold ends the target Failed/UploadBacklog with what to do, and a Warning Event', async () => {
    const h = await harness({ pods: [pod('web-1')] });
    h.captures.put(capture('c1', [podTarget('web-1')], { spec: { targetPod: 'web-1' } }));
    await h.until('Running', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Capturing');
    // what the Linux backend reports when its ring stops with RingBacklogError (src/capture/ring.ts ringFailure)
    const f = ringFailure(new RingBacklogError('web-1.pcap0', 3, 3));
    h.backend.live('pod/shop/web-1')?.exit(1, f.message, f.reason);
    for (let i = 0; i < 31 && phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Capturing'; i++) {
      await h.until('queue idle', () => h.agent.idle());
      await h.clock.advance(100);
    }
    await h.until('failed', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Failed/UploadBacklog');
    assert.match(h.target('c1', 'pod/shop/web-1')?.message ?? '', /3 closed files still wait for upload.*raise spec\.fileCount/);
    assert.ok(h.events.some((e) => e.type === 'Warning' && e.reason === 'UploadBacklog'), 'a Warning Event UploadBacklog');
    await h.agent.stop();
  });

  it('a pod deleted under a running tcpdump ends the target as PodDeleted (Finished), from the pod event', async () => {
    const h = await harness({ pods: [pod('web-1')] });
    h.captures.put(capture('c1', [podTarget('web-1')]));
    await h.until('Running', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Capturing');
    const t0 = h.clock.now();
    h.backend.live('pod/shop/web-1')?.exit(1, 'tcpdump: pcap_loop: The interface disappeared');
    await h.until('queue idle', () => h.agent.idle());
    h.pods.remove(`${NS}/web-1`);
    await h.until('PodDeleted', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Finished/PodDeleted');
    assert.equal(h.clock.now(), t0, 'the deletion event ended the wait, not a timer');
    await h.agent.stop();
  });

  it('stop(): running targets end as AgentStopped and the last status is written', async () => {
    const h = await harness({ pods: [pod('web-1')] });
    h.captures.put(capture('c1', [podTarget('web-1')]));
    await h.until('Running', () => phaseOf(h, 'c1', 'pod/shop/web-1') === 'Running/Capturing');
    const run = h.backend.live('pod/shop/web-1');
    await run?.packets(3);
    await h.agent.stop();
    assert.equal(run?.running, false);
    assert.equal(phaseOf(h, 'c1', 'pod/shop/web-1'), 'Failed/AgentStopped');
    assert.equal(h.target('c1', 'pod/shop/web-1')?.bytes, PCAP_HEADER.length + 3 * 116, 'final sizes in the last write');
  });
});

describe("node agent: a running selector capture's new pods start from the agent's own plan (issue 15 item 3)", () => {
  const KEY = `${NS}/sel`;
  /** A selector capture (app=web) the controller accepted and started now, with `targets` in status. */
  const selector = (h: Harness, targets: TargetStatus[], o: { ns?: string; spec?: Partial<PacketCaptureSpec> } = {}): CaptureObject => {
    const c = capture('sel', targets, { spec: { targetPod: undefined, podSelector: { matchLabels: { app: 'web' } }, captureSeconds: '600', ...o.spec } });
    c.metadata.namespace = o.ns ?? NS;
    const at = new Date(h.clock.now()).toISOString();
    c.status = { ...c.status, progress: 'scheduled', startTime: at, conditions: [{ type: 'Invalid', status: 'False', reason: 'Valid', message: 'spec is valid and allowed', lastTransitionTime: at }] };
    return c;
  };
  const labelled = (name: string, o: { labels?: Record<string, string>; ns?: string; hostNetwork?: boolean } = {}): Pod => {
    const p = pod(name);
    const meta = p.metadata as NonNullable<Pod['metadata']> & { labels?: Record<string, string> };
    meta.labels = o.labels ?? { app: 'web' };
    if (o.ns) meta.namespace = o.ns;
    if (o.hostNetwork) (p.spec as { hostNetwork?: boolean }).hostNetwork = true;
    return p;
  };
  const reported = (h: Harness, target: string): boolean => h.applied.some((a) => a.key === KEY && (a.status.targets ?? []).some((t) => t.name === target));

  it("captures a new matching pod at once, before the controller's entry, reports it only once the controller planned it, and adopts it without a restart", async () => {
    const h = await harness();
    h.captures.put(selector(h, []));
    await h.until('queue idle', () => h.agent.idle());
    h.pods.put(labelled('web-1'));
    await h.until('web-1 capturing from the own plan', () => h.backend.live('pod/shop/web-1') !== undefined && h.agent.state(KEY)?.local.get('pod/shop/web-1')?.phase === 'Running');
    const run = h.backend.live('pod/shop/web-1');
    assert.deepEqual(h.backend.calls.setup.map((r) => [r.target, r.containerIds]), [[{ kind: 'pod', namespace: NS, pod: 'web-1' }, [hex(1)]]]);
    assert.equal(reported(h, 'pod/shop/web-1'), false, 'not in status before the controller planned it (an entry without identity)');
    await run?.packets(2, 60);
    // the controller's entry arrives: adopted, reported Running, the same tcpdump goes on
    h.captures.put(selector(h, [podTarget('web-1')]));
    await h.until('Running in status', () => phaseOf(h, 'sel', 'pod/shop/web-1') === 'Running/Capturing');
    assert.equal(h.backend.calls.setup.length, 1, 'set up once');
    assert.equal(h.backend.calls.capture.length, 1, 'one tcpdump: adopted, not restarted');
    assert.equal(run?.running, true);
    assert.equal(h.agent.state(KEY)?.unplanned.size, 0);
    assert.equal(h.events.filter((e) => e.reason === 'CaptureStarted').length, 1);
    await h.clock.advance(h.config.statusIntervalMs);
    await h.until('packets captured before the adoption reported', () => h.target('sel', 'pod/shop/web-1')?.packets === 2);
    await h.agent.stop();
  });

  it('stops a target of its own plan that the plan drops before the controller planned it (TargetRemoved; PodDeleted for a deleted pod), and one the controller never plans within the grace', async () => {
    const h = await harness();
    h.captures.put(selector(h, []));
    h.pods.put(labelled('web-1'));
    h.pods.put(labelled('web-2'));
    h.pods.put(labelled('web-3'));
    await h.until('three capturing', () => ['web-1', 'web-2', 'web-3'].every((p) => h.agent.state(KEY)?.local.get(`pod/shop/${p}`)?.phase === 'Running'));
    const runs = ['web-1', 'web-2', 'web-3'].map((p) => h.backend.live(`pod/shop/${p}`));
    // web-1 stops matching, web-2 is deleted: the agent's own plan no longer takes them
    h.pods.put(labelled('web-1', { labels: { app: 'db' } }));
    h.pods.remove(`${NS}/web-2`);
    const obs = (p: string): string | undefined => {
      const o = h.agent.state(KEY)?.obs.get(`pod/shop/${p}`);
      return o ? `${o.phase}/${o.reason}` : undefined;
    };
    await h.until('web-1 and web-2 stopped', () => obs('web-1') === 'Failed/TargetRemoved' && obs('web-2') === 'Finished/PodDeleted');
    assert.equal(runs[0]?.running, false);
    assert.equal(runs[1]?.running, false);
    assert.equal(runs[2]?.running, true, 'web-3 still matches: it goes on');
    // the controller never plans web-3: stopped once the grace has passed
    const { UNPLANNED_GRACE_MS } = await import('./start.js');
    await h.clock.advance(UNPLANNED_GRACE_MS);
    await h.until('web-3 stopped', () => obs('web-3') === 'Failed/TargetRemoved');
    assert.match(h.agent.state(KEY)?.obs.get('pod/shop/web-3')?.message ?? '', /did not plan this target within 30 s/);
    assert.equal(runs[2]?.running, false);
    for (const p of ['web-1', 'web-2', 'web-3']) assert.equal(reported(h, `pod/shop/${p}`), false, `${p}: never in status (the controller never planned it)`);
    await h.agent.stop();
  });

  it("never takes a pod of another namespace or a hostNetwork pod for a tenant's capture; the system namespace's capture may", async () => {
    const h = await harness();
    h.pods.put(labelled('host', { hostNetwork: true }));
    h.pods.put(labelled('x', { ns: 'other' }));
    h.captures.put(selector(h, [], { spec: { targetNamespace: 'other' } })); // a tenant asking for another namespace
    h.captures.put({ ...selector(h, []), metadata: { ...selector(h, []).metadata, name: 'sel2', uid: 'uid-sel2' } }); // a tenant's own namespace
    await h.until('queue idle', () => h.agent.idle());
    await h.clock.advance(0);
    await h.until('queue idle again', () => h.agent.idle());
    assert.equal(h.backend.calls.setup.length, 0, 'no target set up: checkTenancy and checkHostNetwork refuse');
    const sys = selector(h, [], { ns: h.config.systemNamespace, spec: { targetNamespace: 'other' } });
    sys.metadata.name = 'sys';
    sys.metadata.uid = 'uid-sys';
    h.captures.put(sys);
    await h.until('the system namespace capture takes pod other/x', () => h.backend.calls.setup.length === 1);
    assert.deepEqual(h.backend.calls.setup[0]?.target, { kind: 'pod', namespace: 'other', pod: 'x' });
    await h.agent.stop();
  });
});
