/**
 * The controller's thin shell: informers on PacketCaptures, Pods, Nodes and workloads feed a work
 * queue of capture keys; each key is reconciled from the caches by the pure decide() and the
 * decision is carried out — at most one finalizer write, one status apply and a few Events per
 * reconcile. With leader election only the leader runs workers (informers run everywhere so a
 * standby takes over warm). Errors back off and retry; refusals are recorded, never thrown.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type * as k8s from '@kubernetes/client-node';
import { API_VERSION, CONTROLLER_FIELD_MANAGER, FINALIZER, KIND, type PacketCapture } from '../api/packetcapture.js';
import { systemClock, type Clock } from '../k8s/clock.js';
import { deletePacketCapture, getPacketCapture, isConflict, KubeClient, packetCapturePath, setFinalizers } from '../k8s/client.js';
import { EventRecorder } from '../k8s/events.js';
import { Informer, type Change, type KubeObject } from '../k8s/informer.js';
import { LeaderElector } from '../k8s/leader.js';
import { applyStatus, ownedTargetFields } from '../k8s/status.js';
import type { Logger } from '../telemetry/log.js';
import { silentLogger } from '../telemetry/log.js';
import { WorkQueue, type QueueObserver } from '../k8s/workqueue.js';
import { decide, DEFAULT_RECONCILE_CONFIG, type Decision, type ReconcileConfig } from './reconcile.js';
import type { NodeObj, Pod, Workload, World } from './types.js';
import { SYSTEM_NAMESPACE } from '../api/names.js';
import type { PacketCaptureStore } from '../api/packetcapturestore.js';
import { cleanupCaptureObjects, probeAndRecord, storesPath, type StoreShellOptions } from './store-shell.js';
import type { StoreWorld } from './stores.js';
import type { SinkWorld } from './sinks.js';
import { SINK_PLURAL, type PacketCaptureSink } from '../api/packetcapturesink.js';
import { GROUP, VERSION } from '../api/packetcapture.js';
import { startScheduleController, type ScheduleController } from './schedule-controller.js';
import { startTriggerController } from './trigger-controller.js';
import { triggerPodStatus } from './trigger-pods.js';

export interface LeaderElectionConfig {
  /** Namespace of the Lease (default: the system namespace). */
  namespace?: string;
  /** Lease name (default "pcapper-controller"). */
  name?: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface ControllerOptions {
  /** A KubeConfig (the controller makes its own counted client) or a KubeClient. */
  kc: k8s.KubeConfig | KubeClient;
  systemNamespace?: string;
  log?: Logger;
  clock?: Clock;
  /** Unique name of this replica (Lease holder, Event source). */
  identity?: string;
  /** Leader election with a Lease; undefined = act right away (single replica). */
  leaderElection?: LeaderElectionConfig;
  reconcile?: Partial<Omit<ReconcileConfig, 'systemNamespace'>>;
  /** Parallel reconciles of different keys (default 4). */
  concurrency?: number;
  /** Minimum time between two reconciles of one capture (default 200 ms): coalesces event storms. */
  minIntervalMs?: number;
  /** Receives the work queue's reconcile, error, retry and depth reports (src/controller/metrics.ts). */
  metrics?: QueueObserver;
  /**
   * Store support (docs/storage.md): watch PacketCaptureStores and namespaces, probe stores, resolve
   * spec.store, aggregate Uploaded, delete objects through the finalizer. Needs the store CRD.
   */
  stores?: StoreShellOptions;
  /** PacketCaptureSinks (spec.sink must exist and allow the namespace): needs the sink CRD; default off (the controller command turns it on). */
  sinks?: boolean;
  /** PacketCaptureSchedules (src/controller/schedule-controller.ts): default on; false when that CRD is not installed. */
  schedules?: boolean;
  /** The schedule clock (next runs); default `clock`. */
  scheduleClock?: Clock;
}

export interface ControllerHandle {
  /** The controller's HTTP client; `client.metrics` counts every request it made. */
  readonly client: KubeClient;
  /** Resolves once every informer has listed. */
  readonly ready: Promise<void>;
  /** Resolves when the controller stopped: stop() was called or leadership was lost (`reason`). */
  readonly done: Promise<{ reason: 'stopped' | 'leadership-lost' }>;
  isLeader(): boolean;
  /** Number of reconciles run and status applies sent (for tests and the benchmark). */
  readonly stats: { reconciles: number; statusApplies: number; conflicts: number };
  /**
   * The resourceVersion of capture `key` ("namespace/name") as its last completed reconcile saw
   * it, or undefined before one. Lets a caller know the controller has acted on a given state.
   */
  reconciledVersion(key: string): string | undefined;
  /** The PacketCaptureSchedule loop (undefined with `schedules: false`). */
  readonly schedules: ScheduleController | undefined;
  stop(): Promise<void>;
}

const WORKLOAD_PATHS = {
  Deployment: '/apis/apps/v1/deployments',
  StatefulSet: '/apis/apps/v1/statefulsets',
  DaemonSet: '/apis/apps/v1/daemonsets',
  ReplicaSet: '/apis/apps/v1/replicasets',
} as const;
type WorkloadKindName = keyof typeof WORKLOAD_PATHS;

/** The fields of a Pod the controller reads; everything else is dropped before caching. */
export function trimPod(o: KubeObject): KubeObject {
  const p = o as Pod & KubeObject;
  const m = p.metadata ?? {};
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      ownerReferences: m.ownerReferences?.map((r) => ({ kind: r.kind, name: r.name, uid: r.uid, controller: r.controller })),
      deletionTimestamp: m.deletionTimestamp,
    },
    spec: { nodeName: p.spec?.nodeName, ...(p.spec?.hostNetwork === true ? { hostNetwork: true } : {}) },
    status: { phase: p.status?.phase, ...triggerPodStatus(o) },
  } as Pod & KubeObject;
}

/** Nodes: only existence matters. */
export function trimMeta(o: KubeObject): KubeObject {
  const m = (o as Workload & KubeObject).metadata ?? {};
  return {
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, labels: m.labels, ownerReferences: m.ownerReferences },
    spec: { selector: (o as Workload).spec?.selector },
  } as Workload & KubeObject;
}

function captureTargetNamespace(pc: PacketCapture): string | undefined {
  if (pc.spec.targetNode !== undefined) return undefined;
  return pc.spec.targetNamespace ?? pc.metadata.namespace;
}

export function runController(opts: ControllerOptions): ControllerHandle {
  const client = opts.kc instanceof KubeClient ? opts.kc : new KubeClient(opts.kc, { userAgent: 'pcapper-controller' });
  const clock = opts.clock ?? systemClock;
  const systemNamespace = opts.systemNamespace ?? SYSTEM_NAMESPACE;
  const identity = opts.identity ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
  const log = (opts.log ?? silentLogger).child({ component: 'controller', identity });
  const cfg: ReconcileConfig = { ...DEFAULT_RECONCILE_CONFIG, ...opts.reconcile, systemNamespace };
  const stats = { reconciles: 0, statusApplies: 0, conflicts: 0 };

  const iopts = { kc: client, clock, log };
  const captures = new Informer<PacketCapture & KubeObject>({ ...iopts, path: packetCapturePath() });
  const pods = new Informer<Pod & KubeObject>({ ...iopts, path: '/api/v1/pods', transform: trimPod });
  const nodes = new Informer<NodeObj & KubeObject>({ ...iopts, path: '/api/v1/nodes', transform: trimMeta });
  const workloads = Object.fromEntries(
    (Object.keys(WORKLOAD_PATHS) as WorkloadKindName[]).map((k) => [k, new Informer<Workload & KubeObject>({ ...iopts, path: WORKLOAD_PATHS[k], transform: trimMeta })]),
  ) as Record<WorkloadKindName, Informer<Workload & KubeObject>>;
  const all: Informer<KubeObject>[] = [captures, pods, nodes, ...Object.values(workloads)] as Informer<KubeObject>[];
  const storeOpts = opts.stores;
  const storeInf = storeOpts ? new Informer<PacketCaptureStore & KubeObject>({ ...iopts, path: storesPath() }) : undefined;
  const nsInf = storeOpts ? new Informer<NodeObj & KubeObject>({ ...iopts, path: '/api/v1/namespaces', transform: trimMeta }) : undefined;
  if (storeInf && nsInf) all.push(storeInf as unknown as Informer<KubeObject>, nsInf);
  const sinkInf = opts.sinks ? new Informer<PacketCaptureSink & KubeObject>({ ...iopts, path: `/apis/${GROUP}/${VERSION}/${SINK_PLURAL}` }) : undefined;
  if (sinkInf) all.push(sinkInf as unknown as Informer<KubeObject>);
  const sinkWorld: SinkWorld | undefined = sinkInf ? { sink: (n) => sinkInf.get(n), sinks: () => sinkInf.list() } : undefined;
  const storeWorld: StoreWorld | undefined =
    storeInf && nsInf
      ? {
          store: (n) => storeInf.get(n),
          stores: () => storeInf.list(),
          namespaceLabels: (ns) => {
            const o = nsInf.get(ns);
            return o ? (o.metadata?.labels ?? {}) : undefined;
          },
        }
      : undefined;

  // pods by namespace, maintained from the pod informer's changes (planning reads it per reconcile)
  const podsByNs = new Map<string, Map<string, Pod>>();
  pods.onChange((c) => {
    const ns = c.object.metadata?.namespace ?? '';
    const name = c.object.metadata?.name ?? '';
    let m = podsByNs.get(ns);
    if (c.type === 'DELETED') {
      m?.delete(name);
      return;
    }
    if (!m) podsByNs.set(ns, (m = new Map<string, Pod>()));
    m.set(name, c.object);
  });

  const world: World = {
    podsIn: (ns) => [...(podsByNs.get(ns)?.values() ?? [])],
    pod: (ns, name) => pods.get(`${ns}/${name}`),
    workload: (kind, ns, name) => (kind in workloads ? workloads[kind as WorkloadKindName].get(`${ns}/${name}`) : undefined),
    replicaSet: (ns, name) => workloads.ReplicaSet.get(`${ns}/${name}`),
    nodeExists: (n) => nodes.get(n) !== undefined,
    ...(storeWorld ? { storeWorld } : {}),
    ...(sinkWorld ? { sinkWorld } : {}),
  };

  const queue = new WorkQueue({ clock, minIntervalMs: opts.minIntervalMs ?? 200, observer: opts.metrics });
  const recorder = new EventRecorder({ kc: client, component: 'pcapper-controller', instance: identity, clock, log });
  /** Last status body applied per capture (uid + JSON): skip identical applies. */
  const lastApplied = new Map<string, string>();
  /** key -> resourceVersion seen by the last completed reconcile (ControllerHandle.reconciledVersion). */
  const reconciled = new Map<string, string>();

  // ---- event -> key mapping (reconcile is by key from current state, not by event) ----
  const liveCaptures = (): (PacketCapture & KubeObject)[] =>
    captures.list((pc) => !!pc.metadata.deletionTimestamp || (pc.status?.progress !== 'finished' && pc.status?.progress !== 'failure'));
  const keyOf = (pc: PacketCapture): string => `${pc.metadata.namespace}/${pc.metadata.name}`;
  captures.onChange((c: Change<PacketCapture & KubeObject>) => {
    if (c.type === 'DELETED') {
      lastApplied.delete(c.key);
      reconciled.delete(c.key);
    }
    queue.add(c.key);
  });
  pods.onChange((c) => {
    const ns = c.object.metadata?.namespace;
    const podKey = `pod/${ns}/${c.object.metadata?.name}`;
    for (const pc of liveCaptures()) {
      if (captureTargetNamespace(pc) === ns || pc.status?.targets?.some((t) => t.name === podKey)) queue.add(keyOf(pc));
    }
  });
  nodes.onChange(() => {
    for (const pc of liveCaptures()) queue.add(keyOf(pc));
  });
  for (const inf of Object.values(workloads)) {
    inf.onChange((c) => {
      const ns = c.object.metadata?.namespace;
      for (const pc of liveCaptures()) {
        if ((pc.spec.targetDeployment !== undefined || pc.spec.workloadRef !== undefined) && captureTargetNamespace(pc) === ns) queue.add(keyOf(pc));
      }
    });
  }

  // a store or a namespace changed: captures that may use it decide again; the store is probed
  const probing = new Set<string>();
  const probeLater = (name: string): void => {
    if (!storeOpts || !storeInf || probing.has(name) || !leading) return;
    probing.add(name);
    void (async () => {
      try {
        const st = storeInf.get(name);
        if (st && !st.metadata.deletionTimestamp) await probeAndRecord(client, st, storeInf.list(), storeOpts, new Date(clock.now()));
      } catch (e) {
        log.warn('store probe status not recorded', { store: name, err: e });
      } finally {
        probing.delete(name);
      }
    })();
  };
  const lastProbedGen = new Map<string, number | undefined>();
  storeInf?.onChange((c) => {
    for (const pc of liveCaptures()) queue.add(keyOf(pc));
    for (const pc of captures.list((p) => !!p.metadata.deletionTimestamp)) queue.add(keyOf(pc));
    if (c.type === 'DELETED') return;
    const name = c.object.metadata?.name ?? '';
    // spec changes (generation) and new stores are probed now; our own status writes are not a reason
    if (!lastProbedGen.has(name) || lastProbedGen.get(name) !== c.object.metadata?.generation) {
      lastProbedGen.set(name, c.object.metadata?.generation);
      // a change of `default` affects the Ready condition of every default store
      for (const s of storeInf.list()) if (s.metadata.name === name || s.spec.default === true) probeLater(s.metadata.name ?? '');
    }
  });
  nsInf?.onChange((c) => {
    const ns = c.object.metadata?.name;
    for (const pc of liveCaptures()) if (pc.metadata.namespace === ns) queue.add(keyOf(pc));
  });
  const cleanupAttempts = new Map<string, number>();

  const subject = (pc: PacketCapture) => ({ apiVersion: API_VERSION, kind: KIND, metadata: pc.metadata });
  const recordAll = (pc: PacketCapture, d: Decision): void => {
    for (const e of d.events) recorder.record(subject(pc), e.type, e.reason, e.message);
  };

  async function applyDecision(key: string, pc: PacketCapture, d: Decision): Promise<void> {
    const ns = pc.metadata.namespace ?? '';
    const name = pc.metadata.name ?? '';
    if (d.cleanStore && storeOpts) {
      const r = await cleanupCaptureObjects(client, pc, d.cleanStore, storeOpts, new Date(clock.now()));
      if (r.ok) {
        cleanupAttempts.delete(key);
        recorder.record(subject(pc), 'Normal', 'StoreCleanedUp', `${r.deleted} object(s) deleted from store "${d.cleanStore.metadata.name}"`);
        queue.addAfter(key, 0);
      } else {
        const n = (cleanupAttempts.get(key) ?? 0) + 1;
        cleanupAttempts.set(key, n);
        if (n === 1) recorder.record(subject(pc), 'Warning', 'StoreCleanupFailed', r.message);
        const delay = Math.min(300_000, (storeOpts.cleanupRetryBaseMs ?? 2_000) * 2 ** Math.min(n - 1, 10));
        log.warn('store cleanup refused, retrying', { capture: key, delayMs: delay, err: r.message });
        queue.addAfter(key, delay);
      }
      return;
    }
    if (d.finalizer === 'remove') {
      await setFinalizers(client, ns, name, (pc.metadata.finalizers ?? []).filter((f) => f !== FINALIZER), pc.metadata.resourceVersion ?? '');
      recordAll(pc, d);
      log.info('finalizer removed', { capture: key });
      return;
    }
    if (d.deleteCapture) {
      recordAll(pc, d);
      await deletePacketCapture(client, ns, name, { uid: pc.metadata.uid });
      log.info('deleted after ttlSecondsAfterFinished', { capture: key });
      return;
    }
    let current = pc;
    if (d.finalizer === 'add') {
      current = await setFinalizers(client, ns, name, [...(pc.metadata.finalizers ?? []), FINALIZER], pc.metadata.resourceVersion ?? '');
      captures.mutate(current as PacketCapture & KubeObject);
    }
    if (!d.status) {
      recordAll(current, d);
      return;
    }
    let decision = d;
    let force = false;
    if (d.needsForce) {
      // A verdict takes a phase an agent owns: decide again on a fresh read before forcing.
      current = await getPacketCapture(client, ns, name);
      decision = decide(current, world, cfg, clock.now(), ownedPhases(current));
      force = decision.needsForce;
      if (!decision.status) return;
    }
    const body = JSON.stringify(decision.status);
    const sig = `${current.metadata.uid}|${body}`;
    if (lastApplied.get(key) === sig) return;
    try {
      const res = await applyStatus(client, ns, name, decision.status!, CONTROLLER_FIELD_MANAGER, { force });
      stats.statusApplies++;
      captures.mutate(res as PacketCapture & KubeObject);
      lastApplied.set(key, sig);
      recordAll(current, decision);
    } catch (e) {
      lastApplied.delete(key);
      if (isConflict(e)) {
        // an agent owns a field we tried to set: our view was stale; re-read and try again
        stats.conflicts++;
        const fresh = await getPacketCapture(client, ns, name);
        captures.mutate(fresh as PacketCapture & KubeObject);
        queue.addAfter(key, 50);
        return;
      }
      throw e;
    }
  }

  function ownedPhases(pc: PacketCapture): Set<string> {
    const owned = ownedTargetFields(pc, CONTROLLER_FIELD_MANAGER);
    const out = new Set<string>();
    for (const [name, fields] of owned) if (fields.has('phase')) out.add(name);
    return out;
  }

  async function reconcile(key: string): Promise<void> {
    const pc = captures.get(key);
    if (!pc) {
      lastApplied.delete(key);
      queue.forget(key);
      return;
    }
    stats.reconciles++;
    const d = decide(pc, world, cfg, clock.now(), ownedPhases(pc));
    try {
      await applyDecision(key, pc, d);
      if (pc.metadata.resourceVersion !== undefined) reconciled.set(key, pc.metadata.resourceVersion);
      queue.forget(key);
      if (d.requeueAfterMs !== undefined) queue.addAfter(key, d.requeueAfterMs);
    } catch (e) {
      // transient (conflict, 429, 5xx, network): backoff; terminal (403, 422...): once, no retry loop
      const f = queue.fail(key, e);
      if (f.kind === 'transient') log[f.reason === 'Conflict' ? 'debug' : 'warn']('reconcile failed, retrying', { capture: key, reason: f.reason, err: e, delayMs: f.delayMs });
      else if (f.first && f.reason !== 'NotFound') {
        log.warn('reconcile failed, not retrying until the capture changes', { capture: key, reason: f.reason, err: e });
        recorder.record(subject(pc), 'Warning', 'ReconcileFailed', `${f.reason}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  // ---- lifecycle ----
  const stopAbort = new AbortController();
  let leading = false;
  let resolveDone!: (v: { reason: 'stopped' | 'leadership-lost' }) => void;
  const done = new Promise<{ reason: 'stopped' | 'leadership-lost' }>((r) => (resolveDone = r));
  for (const i of all) i.start();
  const ready = Promise.all(all.map((i) => i.waitForSync())).then(() => undefined);
  let workers: Promise<void> | undefined;
  const schedules = opts.schedules === false ? undefined : startScheduleController({ client, clock: opts.scheduleClock ?? clock, log, recorder });
  let scheduleWorkers: Promise<void> | undefined;
  // triggered captures (docs/triggers.md): fires from the pods and Events it watches
  const triggers = startTriggerController({ client, captures, pods: pods as never, clock, log, recorder });
  let triggerWorkers: Promise<void> | undefined;

  const startWorkers = (signal: AbortSignal): void => {
    leading = true;
    workers = ready.then(async () => {
      if (signal.aborted) return;
      log.info('reconciling', { captures: captures.size });
      for (const pc of captures.list()) queue.add(keyOf(pc));
      if (storeInf) {
        for (const st of storeInf.list()) probeLater(st.metadata.name ?? '');
        const every = storeOpts?.probeIntervalMs ?? 60_000;
        const timer = setInterval(() => {
          for (const st of storeInf.list()) probeLater(st.metadata.name ?? '');
        }, every);
        timer.unref();
        signal.addEventListener('abort', () => clearInterval(timer), { once: true });
      }
      await queue.run(reconcile, opts.concurrency ?? 4, signal);
    });
    scheduleWorkers = schedules?.run(signal);
    triggerWorkers = triggers.run(signal);
  };

  let elector: LeaderElector | undefined;
  let electing: Promise<void> | undefined;
  if (opts.leaderElection) {
    const le = opts.leaderElection;
    elector = new LeaderElector({
      kc: client,
      namespace: le.namespace ?? systemNamespace,
      name: le.name ?? 'pcapper-controller',
      identity,
      leaseDurationSeconds: le.leaseDurationSeconds,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      clock,
      log,
    });
    electing = elector.run(stopAbort.signal, {
      onStartedLeading: (ls) => startWorkers(ls),
      onStoppedLeading: () => {
        leading = false;
        queue.shutdown();
        if (!stopAbort.signal.aborted) resolveDone({ reason: 'leadership-lost' });
      },
    });
  } else {
    startWorkers(stopAbort.signal);
  }

  return {
    client,
    ready,
    done,
    stats,
    reconciledVersion: (key) => reconciled.get(key),
    schedules,
    isLeader: () => leading,
    async stop() {
      stopAbort.abort(new Error('controller stopped'));
      queue.shutdown();
      await electing;
      await workers;
      await schedules?.stop();
      await scheduleWorkers;
      await triggers.stop();
      await triggerWorkers;
      await Promise.all(all.map((i) => i.stop()));
      await recorder.flush();
      leading = false;
      resolveDone({ reason: 'stopped' });
      client.close();
    },
  };
}
