/**
 * The node agent (seed 002 "binary pcapper"): one per node, acts only on status.targets[] entries
 * whose `node` is its own. This file only wires the parts together (docs/agent.md, "Structure"):
 *
 * - the caches: PacketCaptures in all namespaces and the Pods of its own node (field selector
 *   spec.nodeName=<NODE_NAME>), src/k8s informers; every change queues the capture's key on the
 *   shared work queue (src/k8s/workqueue.ts: one reconcile per key at a time, retry with backoff,
 *   terminal API errors not retried), and a pod change also wakes a target waiting for that pod;
 * - reconcile.ts (key -> planCapture -> actions), start.ts (a target's start state machine),
 *   session.ts (a running target), status-writer.ts, disk-guard.ts, metadata.ts, metrics.ts;
 * - the periodic disk check and sweep (housekeeping.ts), on the injected clock;
 * - the file server (server.ts), which needs no RBAC: it serves only the pcapper server,
 *   authenticated by mutual TLS (src/agent/auth.ts).
 *
 * RBAC of the agent's ServiceAccount (see docs/agent.md for the manifest):
 *   pcapper.dev         packetcaptures                list, watch   (informer; never a single get)
 *   pcapper.dev         packetcaptures/status         patch
 *   ""                  pods                          list, watch   (field selector: own node)
 *   "" / events.k8s.io  events                        create, patch
 */
import { rewrapTree } from '../crypto/rewrap-tree.js';
import type * as k8s from '@kubernetes/client-node';
import { agentFieldManager, type PacketCaptureStatus } from '../api/packetcapture.js';
import type { AgentConfig } from '../config/agent.js';
import type { CaptureBackend } from '../capture/backend.js';
import { measureDisk, type DiskState } from '../capture/disk.js';
import { LinuxCaptureBackend } from '../capture/linux.js';
import type { PreparedCapture } from '../capture/backend.js';
import type { RingFile } from '../capture/ring.js';
import type { KubeObject } from '../k8s/informer.js';
import { loadCredentials } from '../storage/credentials.js';
import type { Credentials } from '../storage/sigv4.js';
import { ringFileClosed, ringMayReuse, ringUniqueNames, uploadReported } from './store-hooks.js';
import type { AnalysisHook } from './analysis.js';
import { kafkaAnalysisHook } from './kafka-consumer.js';
import { readSecretEntry, SinkCache, SINK_API_PATH, type SinkObject } from './sinks.js';
import { cacheResolver, STORE_API_PATH, type StoreConfigRef, type StoreObject, type StoreResolver } from './stores.js';
import { UploadQueue } from './uploads.js';
import { encryptedSink, plainSink } from '../capture/sinks.js';
import type { Keyring } from '../crypto/format.js';
import { loadKeyringDir } from '../crypto/secret-dir.js';
import { clientFor, packetCapturePath } from '../k8s/client.js';
import { systemClock, type Clock, type Timer } from '../k8s/clock.js';
import { EventRecorder } from '../k8s/events.js';
import { Informer, type Change } from '../k8s/informer.js';
import { applyStatus } from '../k8s/status.js';
import { agentTriggerFieldManager, type Firing } from '../api/trigger-schema.js';
import { WorkQueue } from '../k8s/workqueue.js';
import type { Logger } from '../telemetry/log.js';
import { PodWaits, type AgentContext, type CaptureObject, type EventSink, type ObjectCache } from './context.js';
import { DiskGuard } from './disk-guard.js';
import { diskCheck, sweep } from './housekeeping.js';
import { AgentMetrics, type MetricsSnapshot } from './metrics.js';
import { takesPodsOf } from './plan.js';
import { reconcile } from './reconcile.js';
import { AgentServer, type StreamSource } from './server.js';
import { stopSession } from './session.js';
import { isLive, type CaptureState, type Pod } from './state.js';
import { StatusWriter } from './status-writer.js';
import { every, within } from './timers.js';

export { observationOf } from './state.js';

/** Reconciles of different captures that may run at once (one per capture at a time). */
const WORKERS = 4;

/** What the file server needs from the agent. */
export interface ServerHooks {
  metrics(): Promise<{ contentType: string; body: string }>;
  streams(namespace: string, name: string): StreamSource[];
  onAuthDenied(): void;
}

/** Everything the agent talks to, injected (createNodeAgent() builds the real ones). */
export interface AgentDeps {
  config: AgentConfig;
  log: Logger;
  backend: CaptureBackend;
  captures: ObjectCache<CaptureObject>;
  pods: ObjectCache<Pod>;
  /** Server-side apply of this node's status fields (throws KubeApiError). */
  applyStatus(namespace: string, name: string, status: PacketCaptureStatus): Promise<void>;
  /** Server-side apply of a Traffic firing this agent decided (src/agent/traffic-trigger.ts); its own field manager. */
  applyFiring?: (namespace: string, name: string, firing: Firing) => Promise<void>;
  events: EventSink;
  clock?: Clock;
  /** The data directory's usage (default: src/capture/disk.ts measureDisk). */
  measureDisk?: (dir: string) => Promise<DiskState>;
  /** The file server; none in unit tests. */
  server?: (hooks: ServerHooks) => { listen(host: string, port: number): Promise<number>; close(): Promise<void> };
  /** Releases the API client's connections at stop. */
  close?: () => void;
  /** How long a pod target may wait for its pod/container before failing (default 60 s). */
  podWaitMs?: number;
  /** Work queue backoff after a failed reconcile (default 200 ms doubling to 30 s). */
  retryBackoff?: { initialMs: number; maxMs: number };
  /** Status write backoff (default 500 ms doubling to 30 s). */
  statusBackoff?: { initialMs: number; maxMs: number };
  /** Process metrics (process_*, nodejs_*) on /metrics (default true). */
  defaultMetrics?: boolean;
  /**
   * Uploads to object stores (docs/storage.md section 4): PacketCaptureStore objects and the
   * credentials reader. None: files stay on the node (unit tests).
   */
  /** Live analysis of running targets and its record consumers (src/agent/analysis.ts; kafkaAnalysisHook). */
  analysis?: AnalysisHook;
  /** More informers started and stopped with the agent (PacketCaptureSinks). */
  extraCaches?: readonly { start(): unknown; stop(): Promise<unknown> }[];
  /** Called at stop (after the captures stopped): closes the Kafka sinks. */
  onStop?: () => Promise<void>;
  stores?: {
    readonly cache: ObjectCache<StoreObject & KubeObject>;
    readonly credentials: (store: StoreConfigRef) => Promise<Credentials>;
    readonly backoff?: { baseMs: number; capMs: number };
  };
}

export interface AgentOptions {
  config: AgentConfig;
  kc: k8s.KubeConfig;
  log: Logger;
  backend?: CaptureBackend;
  podWaitMs?: number;
}

/** The agent with the real API client, informers, event recorder, Linux backend and file server. */
export function createNodeAgent(o: AgentOptions): NodeAgent {
  const { config } = o;
  const log = o.log.child({ node: config.nodeName });
  const client = clientFor(o.kc);
  const manager = agentFieldManager(config.nodeName);
  // re-read for every new file and every download: a rotated Secret applies without a restart
  const keyring = (): Promise<Keyring> => loadKeyringDir(config.encryptionKeysDir);
  // the backend's ring hooks reach the agent built below
  const ref: { agent?: NodeAgent } = {};
  const captures = new Informer<CaptureObject>({ kc: o.kc, path: packetCapturePath(), log });
  // Kafka sinks named by captures (spec.sink -> PacketCaptureSink): live analysis publishes to them
  const sinkObjects = new Informer<SinkObject & KubeObject>({ kc: o.kc, path: SINK_API_PATH, log: log.child({ component: 'sinks' }) });
  const sinks = new SinkCache(() => sinkObjects.list(), (entry) => readSecretEntry(config.sinkCredentialsDir, entry));
  const created = new NodeAgent({
    config,
    log,
    podWaitMs: o.podWaitMs,
    analysis: kafkaAnalysisHook({
      sinkFor: (c) => sinks.sinkFor(captures.get(`${c.namespace}/${c.name}`)?.spec?.sink),
      sinkError: (c) => {
        const name = captures.get(`${c.namespace}/${c.name}`)?.spec?.sink;
        return name ? sinks.errors.get(name) : undefined;
      },
      // per-pod-pair metrics from the same records (src/agent/pair-metrics.ts); the agent is built below
      extra: [{ offer: (rec, t) => ref.agent?.metrics.pairs.offer(rec, t) }],
      analyseAll: config.analysis === 'all',
    }),
    extraCaches: [sinkObjects],
    onStop: () => sinks.close(),
    stores: {
      cache: new Informer<StoreObject & KubeObject>({ kc: o.kc, path: STORE_API_PATH, log: log.child({ component: 'stores' }) }),
      credentials: (store) => loadCredentials(config.storeCredentialsDir, store.credentials),
      backoff: { baseMs: Math.min(1000, config.uploadRetryMaxMs), capMs: config.uploadRetryMaxMs },
    },
    backend:
      o.backend ??
      new LinuxCaptureBackend({
        nodeName: config.nodeName,
        dataDir: config.dataDir,
        hostDataDir: config.hostDataDir,
        procRoot: config.procRoot,
        hostNetns: config.hostNetns,
        systemNamespace: config.systemNamespace,
        pipe: {
          open: config.encryption ? encryptedSink(keyring) : plainSink(),
          onClosed: (prep, file) => ref.agent?.ringFileClosed(prep, file),
          canDelete: (prep, name) => ref.agent?.ringMayReuse(prep, name) ?? false,
          uniqueNames: (prep) => ref.agent?.ringUniqueNames(prep) ?? false,
        },
      }),
    captures,
    pods: new Informer<Pod>({ kc: o.kc, path: '/api/v1/pods', fieldSelector: `spec.nodeName=${config.nodeName}`, log }),
    applyStatus: async (ns, name, status) => {
      await applyStatus(client, ns, name, status, manager, { force: true });
    },
    applyFiring: async (ns, name, firing) => {
      await applyStatus(client, ns, name, { firings: [firing] }, agentTriggerFieldManager(config.nodeName));
    },
    events: new EventRecorder({ kc: o.kc, component: 'pcapper-agent', instance: config.nodeName, log }),
    server: (hooks) =>
      new AgentServer({ nodeName: config.nodeName, dataDir: config.dataDir, ...hooks, ...(config.encryption ? { keyring } : {}) }, log.child({ component: 'server' }), { ...config.tls, clientNames: config.clientNames }),
    close: () => client.close(),
  });
  ref.agent = created;
  return created;
}

export class NodeAgent {
  readonly config: AgentConfig;
  readonly metrics: AgentMetrics;
  private readonly deps: AgentDeps;
  private readonly ctx: AgentContext;
  private readonly clock: Clock;
  private readonly queue: WorkQueue;
  private readonly workers = new AbortController();
  private running: Promise<void> | undefined;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly server: ReturnType<NonNullable<AgentDeps['server']>> | undefined;
  private readonly podWaitMs: number;
  private timers: Timer[] = [];
  private isStopping = false;
  private port = 0;

  constructor(deps: AgentDeps) {
    this.deps = deps;
    this.config = deps.config;
    this.clock = deps.clock ?? systemClock;
    this.podWaitMs = deps.podWaitMs ?? 60_000;
    const log = deps.log;
    this.metrics = new AgentMetrics(deps.config.nodeName, { defaultMetrics: deps.defaultMetrics, pairTopN: deps.config.pairMetricsTopN });
    this.queue = new WorkQueue({ clock: this.clock, minIntervalMs: 0, backoff: deps.retryBackoff ?? { initialMs: 200, maxMs: 30_000 }, observer: this.metrics });
    const status = new StatusWriter({
      clock: this.clock,
      intervalMs: deps.config.statusIntervalMs,
      apply: (key, st) => {
        const [ns = '', name = ''] = key.split('/');
        return deps.applyStatus(ns, name, st);
      },
      exists: (key) => deps.captures.get(key) !== undefined,
      log,
      ...(deps.statusBackoff ? { backoff: deps.statusBackoff } : {}),
    });
    const resolver = deps.stores ? cacheResolver(() => deps.stores?.cache.list() ?? []) : undefined;
    const uploads = deps.stores
      ? new UploadQueue({
          concurrency: deps.config.uploadConcurrency,
          clock: this.clock,
          resolver: resolver as StoreResolver,
          credentials: deps.stores.credentials,
          report: (job, u) => uploadReported(this.ctx, job, u),
          log: log.child({ component: 'uploads' }),
          ...(deps.stores.backoff ? { backoff: deps.stores.backoff } : {}),
        })
      : undefined;
    this.ctx = {
      uploads,
      stores: resolver,
      analysis: deps.analysis,
      applyFiring: deps.applyFiring,
      config: deps.config,
      clock: this.clock,
      backend: deps.backend,
      log,
      events: deps.events,
      captures: deps.captures,
      pods: deps.pods,
      states: new Map<string, CaptureState>(),
      status,
      disk: new DiskGuard(deps.config, this.clock, deps.measureDisk ?? measureDisk),
      metrics: this.metrics,
      track: (p) => this.track(p),
      stopping: () => this.isStopping,
      podChanged: new PodWaits(this.clock),
    };
    this.metrics.bindSnapshot(() => this.snapshot());
    this.server = deps.server?.({
      metrics: () => this.metrics.render(),
      streams: (ns, name) => this.streamSources(ns, name),
      onAuthDenied: () => this.metrics.deniedRequest(),
    });
  }

  /** The port the file server listens on (PCAPPER_LISTEN; useful when it was 0). */
  get listenPort(): number {
    return this.port;
  }

  /** The ring closed a file (backend hook): hand it to the upload queue. */
  ringFileClosed(prep: PreparedCapture, file: RingFile): void {
    ringFileClosed(this.ctx, prep, file);
  }

  /** May the ring delete this file to reuse its slot? (backend hook) */
  ringMayReuse(prep: PreparedCapture, name: string): boolean {
    return ringMayReuse(this.ctx, prep, name);
  }

  ringUniqueNames(prep: PreparedCapture): boolean {
    return ringUniqueNames(this.ctx, prep);
  }

  /** This node's view of a capture (tests and debugging). */
  state(key: string): Readonly<CaptureState> | undefined {
    return this.ctx.states.get(key);
  }

  /** No reconcile queued or running (background work such as a running target may continue). */
  idle(): boolean {
    return this.queue.idle;
  }

  async start(): Promise<void> {
    const { config, log } = this.ctx;
    if (this.server) this.port = await this.server.listen(config.listenHost, config.listenPort);
    await this.ctx.disk.measure().catch((err: unknown) => log.warn('cannot measure the data directory', { err }));
    this.ctx.captures.onChange((c) => this.enqueue(c.key));
    this.ctx.pods.onChange((c) => this.onPod(c));
    this.ctx.captures.start();
    this.ctx.pods.start();
    // stores: not waited for (the kind may not be installed yet; its informer retries on its own)
    this.deps.stores?.cache.start();
    for (const c of this.deps.extraCaches ?? []) c.start();
    await Promise.all([this.ctx.captures.waitForSync(), this.ctx.pods.waitForSync()]);
    log.info('agent started', { listen: `${config.listenHost}:${this.port}`, dataDir: config.dataDir, captures: this.ctx.captures.size, pods: this.ctx.pods.size });
    // a few workers: a reconcile may wait for tcpdumps to stop (cleanup); starts run in the background
    this.running = this.queue.run((key) => this.work(key), WORKERS, this.workers.signal);
    for (const pc of this.ctx.captures.list()) this.enqueue(`${pc.metadata.namespace ?? ''}/${pc.metadata.name ?? ''}`);
    this.track(this.sweep());
    this.timers.push(every(this.clock, config.sweepIntervalMs, () => this.track(this.sweep())));
    // key rotation: re-wrap this node's files when the Secret's active key changes (and at start)
    this.track(this.rewrapSweep());
    this.timers.push(every(this.clock, config.sweepIntervalMs, () => this.track(this.rewrapSweep())));
    this.timers.push(every(this.clock, config.diskCheckIntervalMs, () => this.track(diskCheck(this.ctx))));
  }

  /** The active key the files on this node were last all re-wrapped with. */
  private rewrappedFor: string | undefined;

  /** Re-wraps every encrypted file of this node with the active key, once per active key (docs/storage.md, key rotation). */
  private async rewrapSweep(): Promise<void> {
    const { config, log } = this.ctx;
    if (!config.encryption) return;
    let ring;
    try {
      ring = await loadKeyringDir(config.encryptionKeysDir);
    } catch (err) {
      log.warn('cannot read the encryption keys to re-wrap files', { err });
      return;
    }
    if (ring.active.id === this.rewrappedFor) return;
    const r = await rewrapTree(config.dataDir, ring);
    const fields = { activeKey: ring.active.id, rewrapped: r.rewrapped, current: r.current, endToEnd: r.endToEnd, failed: r.failed.length };
    if (r.failed.length > 0) {
      // transient or not, the next sweep tries again: these files still need their old key
      log.warn('some files could not be re-wrapped with the active key; keep the old keys in the Secret', { ...fields, first: r.failed[0] });
      return;
    }
    log.info('every encrypted file on this node is wrapped by the active key', fields);
    this.rewrappedFor = ring.active.id;
  }

  /**
   * Stops the agent: its tcpdumps are stopped (targets fail with AgentStopped, files kept), the last
   * status is written if the apiserver answers within `flushMs`, then the informers and server stop.
   */
  async stop(flushMs = 3000): Promise<void> {
    this.isStopping = true;
    for (const t of this.timers) t.cancel();
    this.queue.shutdown();
    this.workers.abort();
    const stops: Promise<unknown>[] = [];
    for (const st of this.ctx.states.values())
      for (const s of st.sessions.values()) stops.push(stopSession(this.ctx, st, s, { phase: 'Failed', reason: 'AgentStopped', message: 'the agent on this node was shut down during the capture; files up to then are kept' }));
    await Promise.all(stops);
    // let the final bookkeeping (file sizes, pending writes) settle, then write what is left
    await within(this.clock, Promise.allSettled([...this.inflight]), 1000);
    this.ctx.status.stop();
    await within(this.clock, this.ctx.status.flushAll(), flushMs);
    await within(this.clock, this.ctx.events.flush(), 500);
    await within(this.clock, this.ctx.uploads?.stop() ?? Promise.resolve(), flushMs);
    await this.deps.onStop?.().catch(() => undefined);
    await Promise.all([this.ctx.captures.stop(), this.ctx.pods.stop(), this.deps.stores?.cache.stop(), ...(this.deps.extraCaches ?? []).map((c) => c.stop()), this.server?.close()]);
    await this.running;
    this.deps.close?.();
  }

  // ---- queue ----------------------------------------------------------------------------------

  private track(p: Promise<unknown>): void {
    const q = p.catch((err: unknown) => this.ctx.log.error('background task failed', { err }));
    this.inflight.add(q);
    void q.finally(() => this.inflight.delete(q));
  }

  /** Queues a reconcile of `key` (namespace/name); one reconcile per key at a time. */
  enqueue(key: string): void {
    if (!this.isStopping) this.queue.add(key);
  }

  /** One reconcile; a failure is retried with backoff (transient) or recorded once (terminal). */
  private async work(key: string): Promise<void> {
    try {
      await reconcile(this.ctx, key, this.podWaitMs);
      this.queue.forget(key);
    } catch (err) {
      if (this.isStopping) return;
      const f = this.queue.fail(key, err);
      if (f.kind === 'transient') this.ctx.log.warn('reconcile failed, retrying', { capture: key, err, reason: f.reason, delayMs: f.delayMs });
      else if (f.first) {
        this.ctx.log.error('reconcile failed; not retried until the capture changes', { capture: key, err, reason: f.reason });
        const st = this.ctx.states.get(key);
        if (st) this.ctx.events.record(st.subject, 'Warning', 'AgentReconcileFailed', `node ${this.config.nodeName}: ${(err as Error).message ?? String(err)}`);
      }
    }
  }

  private onPod(c: Change<Pod>): void {
    const ns = c.object.metadata?.namespace ?? '';
    const name = c.object.metadata?.name ?? '';
    this.ctx.podChanged.changed(`${ns}/${name}`);
    const target = `pod/${ns}/${name}`;
    for (const st of this.ctx.states.values()) if (st.local.has(target)) this.enqueue(st.key);
    // running selector captures of the pod's namespace: the agent's own plan may take it now
    for (const pc of this.ctx.captures.list()) if (takesPodsOf(pc, ns)) this.enqueue(`${pc.metadata.namespace ?? ''}/${pc.metadata.name ?? ''}`);
  }

  /** Removes directories of captures that no longer exist and files older than DELETE_OLDER_THAN. */
  sweep(): Promise<number> {
    return sweep(this.ctx);
  }

  // ---- server backends ------------------------------------------------------------------------

  private streamSources(namespace: string, name: string): StreamSource[] {
    const st = this.ctx.states.get(`${namespace}/${name}`);
    if (!st) return [];
    const out: StreamSource[] = [];
    for (const s of st.sessions.values()) {
      if (!s.running) continue;
      const p = s.running.prepared.paths;
      const run = s.running;
      out.push({ target: s.dirName, key: s.target, dir: p.targetDir, fileBase: p.fileBase, fileCount: s.opts.fileCount, finished: () => s.exited, flush: () => run.flush(), ring: run.ring, ...(run.seal ? { seal: run.seal } : {}) });
    }
    return out;
  }

  /** Cached figures only: O(targets), no file system access (an unauthenticated endpoint). */
  private snapshot(): MetricsSnapshot {
    const targets: MetricsSnapshot['targets'] = [];
    let running = 0;
    for (const st of this.ctx.states.values()) {
      for (const o of st.obs.values()) {
        const live = isLive(st.sessions.get(o.name));
        if (live) running++;
        targets.push({ namespace: st.namespace, capture: st.name, target: o.name, bytes: o.bytes ?? 0, packets: o.packets ?? 0, drops: o.drops ?? 0, running: live });
      }
    }
    return { capturesRunning: running, diskUsedBytes: this.ctx.disk.last.usedBytes, diskFreeBytes: this.ctx.disk.last.freeBytes, targets };
  }
}
