/**
 * The node agent (seed 002 "binary pcapper"): one per node, acts only on status.targets[] entries
 * whose `node` is its own.
 *
 * - Watches PacketCaptures in all namespaces and the Pods of its own node (field selector
 *   spec.nodeName=<NODE_NAME>) with src/k8s informers; every change enqueues the capture's key
 *   and planCapture() (pure) decides from current state what to do.
 * - Per target: disk guard, node cap on concurrent captures, netns lookup, filter check, tcpdump,
 *   metadata sidecar, Running/counters/Finished|Failed in status (server-side apply, field manager
 *   pcapper-agent-<node>, rate-limited per capture), Events on start, finish and failure.
 * - Deletion: stop tcpdump within a second, delete the capture's files, report
 *   status.nodes[{node, cleanedUp: true}] so the controller can drop the finalizer.
 * - Robustness: tcpdump dies with the agent (setpriv --pdeathsig); after a restart, targets the
 *   status still shows Running are failed with reason AgentRestarted and their files kept and
 *   served; status writes retry with backoff, so an unreachable apiserver never stops a capture.
 *
 * RBAC of the agent's ServiceAccount (see docs/agent.md for the manifest):
 *   pcapper.dev         packetcaptures                list, watch   (informer; never a single get)
 *   pcapper.dev         packetcaptures/status         patch
 *   ""                  pods                          list, watch   (field selector: own node)
 *   "" / events.k8s.io  events                        create, patch
 * The file server needs no RBAC: it serves only the pcapper server, authenticated by mutual TLS
 * (src/agent/auth.ts); the agent publishes no address (the server finds it from the API).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { API_VERSION, KIND, agentFieldManager, type NodeStatus, type PacketCapture, type PacketCaptureStatus, type TargetPhase, type TargetStatus } from '../api/packetcapture.js';
import { resolveSpec } from '../api/validate.js';
import type { AgentConfig } from '../config/agent.js';
import { CaptureSetupError, type CaptureBackend, type RunningCapture } from '../capture/backend.js';
import { admit, checkRunning, measureDisk, type DiskState } from '../capture/disk.js';
import { LinuxCaptureBackend } from '../capture/linux.js';
import { parseContainerId } from '../capture/netns.js';
import { captureDirOf, isCaptureFileName, promisedBytes, ringFiles, targetDirName, type TargetRef, type TcpdumpOptions } from '../capture/tcpdump.js';
import type { TcpdumpExit } from '../capture/runner.js';
import { CAPTURE_METADATA_VERSION, type CaptureMetadata, type EndpointInfo } from '../pcap/metadata.js';
import { clientFor, isNotFound, packetCapturePath, type KubeClient } from '../k8s/client.js';
import { EventRecorder, type EventSubject } from '../k8s/events.js';
import { Informer, type Change, type KubeObject } from '../k8s/informer.js';
import { applyStatus } from '../k8s/status.js';
import { backoffDelay } from '../k8s/clock.js';
import type { Logger } from '../telemetry/log.js';
import type { MetricsSnapshot } from './http.js';
import { planCapture, podGoneReason, type LocalTarget } from './plan.js';
import { AgentServer, type StreamSource } from './server.js';
import { applySweep, planSweep, scanDataDir } from './sweep.js';

interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip?: string }[];
    hostIP?: string;
    containerStatuses?: { containerID?: string; state?: { running?: unknown } }[];
  };
}

type Observation = Omit<TargetStatus, 'kind' | 'namespace' | 'pod' | 'podUID' | 'node' | 'interface'> & { name: string };

interface Session {
  key: string;
  uid: string;
  target: string;
  dirName: string;
  entry: TargetStatus;
  opts: TcpdumpOptions;
  promised: number;
  running: RunningCapture | undefined;
  exited: boolean;
  stopReason: { phase: TargetPhase; reason: string; message: string } | undefined;
  timers: NodeJS.Timeout[];
  startedAt: Date | undefined;
}

interface CaptureState {
  key: string;
  namespace: string;
  name: string;
  uid: string;
  subject: EventSubject;
  obs: Map<string, Observation>;
  local: Map<string, LocalTarget>;
  sessions: Map<string, Session>;
  cleanedUp: boolean;
  // status writer
  lastApply: number;
  timer: NodeJS.Timeout | undefined;
  writing: boolean;
  dirty: boolean;
  attempt: number;
}

export interface AgentOptions {
  config: AgentConfig;
  kc: k8s.KubeConfig;
  log: Logger;
  backend?: CaptureBackend;
  /** How long a pod target may wait for its pod/container before failing (default 60 s). */
  podWaitMs?: number;
}

const nowIso = (): string => new Date().toISOString();


export class NodeAgent {
  readonly config: AgentConfig;
  private readonly kc: k8s.KubeConfig;
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly backend: CaptureBackend;
  private readonly events: EventRecorder;
  private readonly captures: Informer<PacketCapture & KubeObject>;
  private readonly pods: Informer<Pod>;
  private readonly server: AgentServer;
  private readonly states = new Map<string, CaptureState>();
  private readonly queue = new Map<string, { running: boolean; again: boolean }>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly podWaitMs: number;
  private diskTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private lastDisk: DiskState = { usedBytes: 0, freeBytes: 0 };
  private lastDiskAt = 0;
  private admissionTail: Promise<void> = Promise.resolve();
  private counters = { starts: 0, failures: 0, authDenied: 0 };
  private port = 0;

  constructor(o: AgentOptions) {
    this.config = o.config;
    this.kc = o.kc;
    this.client = clientFor(o.kc);
    this.log = o.log.child({ node: o.config.nodeName });
    this.podWaitMs = o.podWaitMs ?? 60_000;
    this.backend =
      o.backend ??
      new LinuxCaptureBackend({
        nodeName: o.config.nodeName,
        dataDir: o.config.dataDir,
        hostDataDir: o.config.hostDataDir,
        procRoot: o.config.procRoot,
        hostNetns: o.config.hostNetns,
        systemNamespace: o.config.systemNamespace,
      });
    this.events = new EventRecorder({ kc: o.kc, component: 'pcapper-agent', instance: o.config.nodeName, log: this.log });
    this.captures = new Informer<PacketCapture & KubeObject>({ kc: o.kc, path: packetCapturePath(), log: this.log });
    this.pods = new Informer<Pod>({ kc: o.kc, path: '/api/v1/pods', fieldSelector: `spec.nodeName=${o.config.nodeName}`, log: this.log });
    this.server = new AgentServer(
      {
        nodeName: o.config.nodeName,
        dataDir: o.config.dataDir,
        metrics: () => this.metrics(),
        streams: (ns, name) => this.streamSources(ns, name),
        onAuthDenied: () => void this.counters.authDenied++,
      },
      this.log.child({ component: 'server' }),
      { ...o.config.tls, clientNames: o.config.clientNames },
    );
  }

  /** The port the file server listens on (PCAPPER_LISTEN; useful when it was 0). */
  get listenPort(): number {
    return this.port;
  }

  async start(): Promise<void> {
    // Captured traffic is secret: everything the agent and its tcpdumps create is 0600/0700.
    process.umask(0o077);
    this.port = await this.server.listen(this.config.listenHost, this.config.listenPort);
    await this.measureDisk().catch((err: unknown) => this.log.warn('cannot measure the data directory', { err }));
    this.captures.onChange((c) => this.enqueue(c.key));
    this.pods.onChange((c) => this.onPod(c));
    this.captures.start();
    this.pods.start();
    await Promise.all([this.captures.waitForSync(), this.pods.waitForSync()]);
    this.log.info('agent started', { listen: `${this.config.listenHost}:${this.port}`, dataDir: this.config.dataDir, captures: this.captures.size, pods: this.pods.size });
    for (const pc of this.captures.list()) this.enqueue(`${pc.metadata.namespace ?? ''}/${pc.metadata.name ?? ''}`);
    this.track(this.sweep());
    this.sweepTimer = setInterval(() => this.track(this.sweep()), this.config.sweepIntervalMs);
    this.diskTimer = setInterval(() => this.track(this.diskCheck()), this.config.diskCheckIntervalMs);
    this.sweepTimer.unref();
    this.diskTimer.unref();
  }

  /**
   * Stops the agent: its tcpdumps are stopped (targets fail with AgentStopped, files kept), the last
   * status is written if the apiserver answers within `flushMs`, then the informers and server stop.
   */
  async stop(flushMs = 3000): Promise<void> {
    this.stopping = true;
    clearInterval(this.diskTimer);
    clearInterval(this.sweepTimer);
    const stops: Promise<unknown>[] = [];
    for (const st of this.states.values())
      for (const s of st.sessions.values()) stops.push(this.stopSession(st, s, { phase: 'Failed', reason: 'AgentStopped', message: 'the agent on this node was shut down during the capture; files up to then are kept' }));
    await Promise.all(stops);
    // let the final bookkeeping (file sizes, pending writes) settle, then write what is left
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 1000).unref())]);
    const flush = Promise.all([...this.states.values()].map((st) => this.flushFinal(st)));
    await Promise.race([flush, new Promise((r) => setTimeout(r, flushMs).unref())]);
    await Promise.race([this.events.flush(), new Promise((r) => setTimeout(r, 500).unref())]);
    await Promise.all([this.captures.stop(), this.pods.stop(), this.server.close()]);
    for (const st of this.states.values()) clearTimeout(st.timer);
    this.client.close();
  }

  // ---- queue ----------------------------------------------------------------------------------

  private track<T>(p: Promise<T>): void {
    const q = p.catch((err: unknown) => this.log.error('background task failed', { err }));
    this.inflight.add(q);
    void q.finally(() => this.inflight.delete(q));
  }

  /** Reconciles `key` (namespace/name), one reconcile per key at a time. */
  enqueue(key: string): void {
    if (this.stopping) return;
    const q = this.queue.get(key);
    if (q) {
      q.again = true;
      return;
    }
    const entry = { running: true, again: false };
    this.queue.set(key, entry);
    const loop = async (): Promise<void> => {
      try {
        do {
          entry.again = false;
          await this.reconcile(key);
        } while (entry.again && !this.stopping);
      } finally {
        this.queue.delete(key);
      }
    };
    this.track(loop());
  }

  private onPod(c: Change<Pod>): void {
    const ns = c.object.metadata?.namespace ?? '';
    const name = c.object.metadata?.name ?? '';
    const target = `pod/${ns}/${name}`;
    for (const st of this.states.values()) if (st.local.has(target)) this.enqueue(st.key);
  }

  private pod(namespace: string, name: string): Pod | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  // ---- reconcile ------------------------------------------------------------------------------

  private newState(pc: PacketCapture): CaptureState {
    const namespace = pc.metadata.namespace ?? '';
    const name = pc.metadata.name ?? '';
    const st: CaptureState = {
      key: `${namespace}/${name}`,
      namespace,
      name,
      uid: pc.metadata.uid ?? '',
      subject: { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace, uid: pc.metadata.uid } },
      obs: new Map(),
      local: new Map(),
      sessions: new Map(),
      cleanedUp: false,
      lastApply: 0,
      timer: undefined,
      writing: false,
      dirty: false,
      attempt: 0,
    };
    const mine = (pc.status?.nodes ?? []).find((n) => n.node === this.config.nodeName);
    if (mine?.cleanedUp) st.cleanedUp = true;
    return st;
  }

  private async reconcile(key: string): Promise<void> {
    const pc = this.captures.get(key);
    let st = this.states.get(key);
    if (st && pc && pc.metadata.uid !== st.uid) {
      // same name, new object: the old one is gone
      await this.cleanup(st, undefined);
      st = undefined;
    }
    if (!st) {
      if (!pc) return;
      st = this.newState(pc);
      this.states.set(key, st);
    }
    const state = st;
    const actions = planCapture({ capture: pc, node: this.config.nodeName, local: state.local, pod: (ns, n) => this.pod(ns, n) });
    for (const a of actions) {
      switch (a.kind) {
        case 'cleanup':
          await this.cleanup(state, pc);
          break;
        case 'start':
          state.local.set(a.entry.name, { phase: 'Scheduled', active: true });
          this.track(this.startTarget(state, pc as PacketCapture, a.entry));
          break;
        case 'interrupted': {
          const files = await this.filesOnDisk(state, a.entry);
          this.observe(state, a.entry.name, {
            ...observationOf(a.entry),
            phase: 'Failed',
            reason: 'AgentRestarted',
            message: 'the agent on this node restarted during the capture; the files written until then are kept and can be downloaded',
            ...files,
            finishTime: nowIso(),
          });
          state.local.set(a.entry.name, { phase: 'Failed', active: false });
          this.counters.failures++;
          this.events.record(state.subject, 'Warning', 'AgentRestarted', `node ${this.config.nodeName}: target ${a.entry.name} was interrupted by an agent restart; its files are kept`);
          this.markDirty(state, true);
          break;
        }
        case 'adopt':
          this.obsSet(state, observationOf(a.entry));
          state.local.set(a.entry.name, { phase: a.entry.phase ?? 'Finished', active: false });
          break;
        case 'stop': {
          const s = state.sessions.get(a.target);
          if (s) this.track(this.stopSession(state, s, { phase: a.reason === 'PodDeleted' ? 'Finished' : 'Failed', reason: a.reason, message: a.message }));
          break;
        }
      }
    }
    // A capture with nothing on this node (anymore) and no files: forget it.
    if (!pc && state.sessions.size === 0) this.states.delete(key);
  }

  private async cleanup(st: CaptureState, pc: PacketCapture | undefined): Promise<void> {
    const stops = [...st.sessions.values()].map((s) =>
      this.stopSession(st, s, { phase: 'Failed', reason: 'CaptureDeleted', message: 'the PacketCapture was deleted' }, 500),
    );
    await Promise.all(stops);
    const involved =
      st.obs.size > 0 ||
      (pc?.status?.targets ?? []).some((t) => t.node === this.config.nodeName) ||
      (pc?.status?.nodes ?? []).some((n) => n.node === this.config.nodeName) ||
      (await stat(captureDirOf(this.config.dataDir, st.namespace, st.name)).then(() => true, () => false));
    await this.backend.cleanup(st.namespace, st.name);
    if (!pc) {
      clearTimeout(st.timer);
      this.states.delete(st.key);
      this.log.info('capture gone: files removed', { capture: st.key });
      return;
    }
    if (st.cleanedUp || !involved) return;
    st.cleanedUp = true;
    for (const o of st.obs.values()) {
      o.files = [];
      o.bytes = 0;
    }
    this.log.info('capture deleted: tcpdump stopped, files removed', { capture: st.key });
    this.events.record(st.subject, 'Normal', 'CleanedUp', `node ${this.config.nodeName}: capture files removed`);
    this.markDirty(st, true);
  }

  // ---- targets --------------------------------------------------------------------------------

  private activeCount(): number {
    let n = 0;
    for (const st of this.states.values()) for (const l of st.local.values()) if (l.active) n++;
    return n;
  }

  private fail(st: CaptureState, entry: TargetStatus, reason: string, message: string): void {
    st.local.set(entry.name, { phase: 'Failed', active: false });
    this.observe(st, entry.name, { phase: 'Failed', reason, message, finishTime: nowIso() });
    this.counters.failures++;
    this.log.warn('target failed', { capture: st.key, target: entry.name, reason, message });
    this.events.record(st.subject, 'Warning', reason, `node ${this.config.nodeName}: target ${entry.name}: ${message}`);
    this.markDirty(st, true);
  }

  private async startTarget(st: CaptureState, pc: PacketCapture, entry: TargetStatus): Promise<void> {
    const resolved = resolveSpec(pc.spec, st.namespace);
    if (!resolved.ok) {
      this.fail(st, entry, 'InvalidSpec', resolved.problems.map((p) => `${p.field}: ${p.message}`).join('; '));
      return;
    }
    const spec = resolved.spec;
    let target: TargetRef;
    if (entry.kind === 'node') {
      target = { kind: 'node', interface: entry.interface ?? spec.interfaceName };
    } else if (entry.kind === 'pod' && entry.namespace && entry.pod) {
      target = { kind: 'pod', namespace: entry.namespace, pod: entry.pod };
    } else {
      this.fail(st, entry, 'InvalidTarget', `status target ${entry.name} has no kind/namespace/pod or kind/interface`);
      return;
    }
    const opts: TcpdumpOptions = {
      interface: target.kind === 'node' ? target.interface : (entry.interface ?? spec.interfaceName),
      filter: spec.captureFilter,
      snapLength: spec.snapLength,
      packetCount: spec.packetCount,
      maxFileSizeBytes: spec.maxFileSizeBytes,
      fileCount: spec.fileCount,
      bufferKiB: 4096,
      packetBuffered: this.config.packetBuffered,
      // live captures: packets leave the kernel at once (bench/live-latency), at some capture rate
      immediateMode: spec.immediate,
    };
    let dirName: string;
    try {
      dirName = targetDirName(target);
    } catch (e) {
      this.fail(st, entry, 'InvalidTarget', (e as Error).message);
      return;
    }
    // node cap (this target is already counted as active)
    if (this.activeCount() > this.config.maxConcurrentCaptures) {
      this.fail(st, entry, 'NodeCaptureLimit', `node ${this.config.nodeName} already runs ${this.config.maxConcurrentCaptures} captures (PCAPPER_MAX_CAPTURES); delete finished captures or retry later`);
      return;
    }
    // disk guard, counting what the other targets were promised
    const request = promisedBytes(opts);
    const session: Session = {
      key: st.key,
      uid: st.uid,
      target: entry.name,
      dirName,
      entry,
      opts,
      promised: request,
      running: undefined,
      exited: false,
      stopReason: undefined,
      timers: [],
      startedAt: undefined,
    };
    // Atomic per node: measure, decide and record the reservation under one lock, so targets that
    // start together each see the others' promises (issue 16 item 2).
    const verdict = await this.serialAdmission(async () => {
      let disk: DiskState;
      try {
        disk = await this.measureDisk();
      } catch (e) {
        return { ok: false as const, reason: 'DiskUnavailable', message: `cannot measure the data directory ${this.config.dataDir}: ${(e as Error).message}` };
      }
      const running = [] as { promisedBytes: number; writtenBytes: number }[];
      for (const s of this.allSessions()) running.push({ promisedBytes: s.promised, writtenBytes: this.states.get(s.key)?.obs.get(s.target)?.bytes ?? 0 });
      const d = admit(this.config, disk, running, request);
      if (d.ok) st.sessions.set(entry.name, session);
      return d;
    });
    if (!verdict.ok) {
      this.fail(st, entry, verdict.reason, verdict.message);
      return;
    }
    // find the pod's containers and start, waiting for a pod that is still starting
    const deadline = Date.now() + this.podWaitMs;
    let reportedWaiting = false;
    for (;;) {
      if (session.stopReason || this.stopping) {
        st.sessions.delete(entry.name);
        this.finishObservation(st, session, undefined);
        return;
      }
      let containerIds: string[] = [];
      let pod: Pod | undefined;
      if (target.kind === 'pod') {
        pod = this.pod(target.namespace, target.pod);
        if (pod && entry.podUID && pod.metadata?.uid !== entry.podUID) pod = undefined;
        containerIds = (pod?.status?.containerStatuses ?? []).map((c) => parseContainerId(c.containerID)?.id).filter((x): x is string => x !== undefined);
        if (pod?.status?.phase === 'Succeeded' || pod?.status?.phase === 'Failed') {
          st.sessions.delete(entry.name);
          this.fail(st, entry, 'PodNotRunning', `pod ${target.namespace}/${target.pod} has terminated (phase ${pod.status.phase})`);
          return;
        }
      }
      let prepared;
      let problem: string | undefined;
      if (target.kind === 'pod' && containerIds.length === 0) {
        problem = pod ? `pod ${target.namespace}/${target.pod} has no started container yet` : `pod ${target.namespace}/${target.pod} is not (yet) on node ${this.config.nodeName}`;
      } else {
        try {
          prepared = await this.backend.setup({ captureNamespace: st.namespace, captureName: st.name, target, containerIds, options: opts, now: new Date() });
        } catch (e) {
          if (e instanceof CaptureSetupError && e.transient) problem = e.message;
          else {
            st.sessions.delete(entry.name);
            this.fail(st, entry, e instanceof CaptureSetupError ? e.reason : 'CaptureFailed', (e as Error).message);
            return;
          }
        }
      }
      if (prepared) {
        try {
          session.running = await this.backend.capture(prepared);
        } catch (e) {
          st.sessions.delete(entry.name);
          this.fail(st, entry, e instanceof CaptureSetupError ? e.reason : 'CaptureFailed', (e as Error).message);
          return;
        }
        if (session.stopReason || this.stopping) {
          // deleted or stopped while tcpdump was starting
          const exit = await session.running.stop(300);
          session.exited = true;
          st.sessions.delete(entry.name);
          this.finishObservation(st, session, exit);
          return;
        }
        await this.began(st, session, pod, new Date());
        return;
      }
      if (Date.now() > deadline) {
        st.sessions.delete(entry.name);
        this.fail(st, entry, 'PodNotRunning', `${problem ?? 'pod not running'} (waited ${Math.round(this.podWaitMs / 1000)} s)`);
        return;
      }
      if (!reportedWaiting) {
        reportedWaiting = true;
        this.observe(st, entry.name, { phase: 'Scheduled', reason: 'WaitingForPod', message: problem ?? '' });
        this.markDirty(st, true);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async began(st: CaptureState, s: Session, pod: Pod | undefined, startedAt: Date): Promise<void> {
    const run = s.running;
    if (!run) return;
    s.startedAt = startedAt;
    this.counters.starts++;
    st.local.set(s.target, { phase: 'Running', active: true });
    const paths = run.prepared.paths;
    // metadata sidecar: who is who on the wire
    try {
      await this.backend.collectMetadata(run.prepared, this.metadataFor(st, s, pod, run.listening.linkType ?? 1, startedAt));
    } catch (e) {
      this.log.warn('cannot write capture metadata', { err: e, capture: st.key, target: s.target });
    }
    this.observe(st, s.target, {
      phase: 'Running',
      reason: 'Capturing',
      message: `tcpdump is capturing on ${run.listening.interface} (${run.listening.linkTypeName})`,
      fileLocation: paths.hostTargetDir,
      startTime: startedAt.toISOString(),
      packets: 0,
      drops: 0,
      bytes: 0,
      files: [],
      lastUpdateTime: nowIso(),
    });
    run.flush(); // the file header, right away
    this.markDirty(st, true);
    this.events.record(st.subject, 'Normal', 'CaptureStarted', `node ${this.config.nodeName}: capturing ${s.target} on ${run.listening.interface} into ${paths.hostTargetDir}`);
    this.log.info('capturing', { capture: st.key, target: s.target, pid: run.pid, dir: paths.targetDir });
    const resolved = resolveSpec(this.captures.get(st.key)?.spec, st.namespace);
    const seconds = resolved.ok ? resolved.spec.captureSeconds : undefined;
    if (seconds !== undefined) {
      const t = setTimeout(() => {
        this.track(this.stopSession(st, s, { phase: 'Finished', reason: 'CaptureSecondsElapsed', message: `captured for ${seconds} s` }));
      }, seconds * 1000);
      s.timers.push(t);
    }
    const tick = setInterval(() => this.track(this.refresh(st, s)), this.config.statusIntervalMs);
    s.timers.push(tick);
    this.track(
      run.exited.then(async (exit) => {
        if (!s.stopReason && exit.code !== 0 && s.entry.kind === 'pod') {
          // tcpdump dies with the pod's interfaces; the pod's deletion may reach the watch a moment later
          const gone = await this.waitPodGone(s.entry, 3000);
          if (gone && !s.stopReason) s.stopReason = { phase: 'Finished', reason: 'PodDeleted', message: `${gone} during the capture; files up to then are kept` };
        }
        s.exited = true;
        for (const t of s.timers) clearTimeout(t);
        st.sessions.delete(s.target);
        this.finishObservation(st, s, exit);
      }),
    );
  }

  /** Polls the pod cache until the target's pod is gone (returns why) or `ms` pass (undefined). */
  private async waitPodGone(entry: TargetStatus, ms: number): Promise<string | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const why = podGoneReason(entry, this.pod(entry.namespace ?? '', entry.pod ?? ''));
      if (why || Date.now() > deadline) return why;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private metadataFor(st: CaptureState, s: Session, pod: Pod | undefined, linkType: number, startedAt: Date): CaptureMetadata {
    const endpoints: Record<string, EndpointInfo> = {};
    // A tenant's file names only its own namespace's pods; the system namespace sees the node.
    const all = st.namespace === this.config.systemNamespace;
    for (const p of this.pods.list()) {
      if (!all && p.metadata?.namespace !== st.namespace) continue;
      for (const ip of podIPs(p)) endpoints[ip] = { pod: p.metadata?.name ?? '', namespace: p.metadata?.namespace ?? '', node: this.config.nodeName };
    }
    const nodeIPs = pod?.status?.hostIP ? [pod.status.hostIP] : [];
    return {
      version: CAPTURE_METADATA_VERSION,
      captureName: st.name,
      captureNamespace: st.namespace,
      nodeName: this.config.nodeName,
      nodeIPs: nodeIPs.filter((ip) => /^[0-9a-fA-F:.]+$/.test(ip)),
      targetKind: s.entry.kind === 'node' ? 'node' : 'pod',
      pod:
        s.entry.kind === 'pod'
          ? { name: s.entry.pod ?? '', namespace: s.entry.namespace ?? '', uid: pod?.metadata?.uid ?? s.entry.podUID ?? '', ips: pod ? podIPs(pod) : [] }
          : null,
      interfaces: [s.opts.interface],
      linkType,
      startTime: startedAt.toISOString(),
      filter: s.opts.filter,
      snapLength: s.opts.snapLength,
      endpoints,
    };
  }

  /** Periodic: counters from tcpdump (SIGUSR1) and sizes from disk. */
  private async refresh(st: CaptureState, s: Session): Promise<void> {
    if (!s.running || s.exited) return;
    const stats = await s.running.requestStats();
    const files = await this.sessionFiles(s);
    const o = st.obs.get(s.target);
    if (!o || s.exited) return;
    // quiet since the last look: tcpdump is idle, have it write out what it buffered
    if (files.bytes === o.bytes) s.running.flush();
    if (stats) {
      o.packets = stats.captured;
      o.drops = stats.droppedByKernel;
    }
    o.files = files.files;
    o.bytes = files.bytes;
    o.lastUpdateTime = nowIso();
    this.markDirty(st, false);
  }

  private async sessionFiles(s: Session): Promise<{ files: { name: string; size: number }[]; bytes: number }> {
    if (!s.running) return { files: [], bytes: 0 };
    const { targetDir, fileBase } = s.running.prepared.paths;
    const names = await readdir(targetDir).catch(() => [] as string[]);
    const files: { name: string; size: number }[] = [];
    let bytes = 0;
    for (const f of ringFiles(names, fileBase)) {
      const size = await stat(join(targetDir, f.name)).then((x) => x.size, () => -1);
      if (size < 0) continue;
      files.push({ name: f.name, size });
      bytes += size;
    }
    return { files, bytes };
  }

  /** Files of a target directory from any earlier run (after a restart). */
  private async filesOnDisk(st: CaptureState, entry: TargetStatus): Promise<Pick<Observation, 'files' | 'bytes'>> {
    let dir: string;
    try {
      const t: TargetRef = entry.kind === 'node' ? { kind: 'node', interface: entry.interface ?? 'any' } : { kind: 'pod', namespace: entry.namespace ?? '', pod: entry.pod ?? '' };
      dir = join(captureDirOf(this.config.dataDir, st.namespace, st.name), targetDirName(t));
    } catch {
      return { files: [], bytes: 0 };
    }
    const names = (await readdir(dir).catch(() => [] as string[])).filter(isCaptureFileName).sort();
    const files: { name: string; size: number }[] = [];
    let bytes = 0;
    for (const n of names) {
      const size = await stat(join(dir, n)).then((x) => x.size, () => -1);
      if (size < 0) continue;
      files.push({ name: n, size });
      bytes += size;
    }
    return { files, bytes };
  }

  private async stopSession(st: CaptureState, s: Session, why: NonNullable<Session['stopReason']>, graceMs = 800): Promise<void> {
    if (!s.stopReason) s.stopReason = why;
    for (const t of s.timers) clearTimeout(t);
    if (!s.running || s.exited) return;
    const exit = await s.running.stop(graceMs);
    s.exited = true;
    st.sessions.delete(s.target);
    this.finishObservation(st, s, exit);
  }

  private finishObservation(st: CaptureState, s: Session, exit: TcpdumpExit | undefined): void {
    const prev = st.local.get(s.target);
    if (prev && !prev.active) return; // already final
    let phase: TargetPhase;
    let reason: string;
    let message: string;
    if (s.stopReason) ({ phase, reason, message } = s.stopReason);
    else if (exit && exit.code === 0) {
      phase = 'Finished';
      reason = s.opts.packetCount !== undefined ? 'PacketCountReached' : 'CaptureEnded';
      message = s.opts.packetCount !== undefined ? `captured ${s.opts.packetCount} packets` : 'tcpdump ended';
    } else {
      phase = 'Failed';
      reason = 'CaptureFailed';
      message = exit?.error || `tcpdump exited with ${exit?.signal ?? `code ${exit?.code ?? '?'}`}`;
    }
    st.local.set(s.target, { phase, active: false });
    const o: Partial<Observation> = { phase, reason, message, finishTime: nowIso(), lastUpdateTime: nowIso() };
    if (exit?.stats) {
      o.packets = exit.stats.captured;
      o.drops = exit.stats.droppedByKernel;
    }
    this.observe(st, s.target, o);
    if (phase === 'Failed') this.counters.failures++;
    if (reason !== 'CaptureDeleted') {
      this.events.record(
        st.subject,
        phase === 'Finished' ? 'Normal' : 'Warning',
        phase === 'Finished' ? 'CaptureFinished' : reason,
        `node ${this.config.nodeName}: target ${s.target} ${phase === 'Finished' ? 'finished' : 'failed'} (${reason}): ${message}; ${o.packets ?? 0} packets, ${o.drops ?? 0} dropped by the kernel`,
      );
    }
    this.log.info('target ended', { capture: st.key, target: s.target, phase, reason, packets: o.packets, drops: o.drops });
    // final sizes, then report
    this.track(
      this.sessionFiles(s).then((f) => {
        const cur = st.obs.get(s.target);
        if (cur && !st.cleanedUp) {
          cur.files = f.files;
          cur.bytes = f.bytes;
        }
        this.markDirty(st, true);
      }),
    );
  }

  private *allSessions(): Generator<Session> {
    for (const st of this.states.values()) yield* st.sessions.values();
  }

  // ---- disk guard and sweep -------------------------------------------------------------------

  /** Runs admission decisions one at a time on this node. */
  private serialAdmission<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.admissionTail.then(fn);
    this.admissionTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** The disk walk: runs on the disk timer and at admission, never per /metrics scrape. */
  private async measureDisk(): Promise<DiskState> {
    const disk = await measureDisk(this.config.dataDir);
    this.lastDisk = disk;
    this.lastDiskAt = Date.now();
    return disk;
  }

  private async diskCheck(): Promise<void> {
    let any = false;
    for (const s of this.allSessions()) if (s.running && !s.exited) any = true;
    if (!any) {
      // idle: refresh the figures /metrics shows now and then, not every tick
      if (Date.now() - this.lastDiskAt >= this.config.idleDiskRefreshMs) await this.measureDisk().catch(() => undefined);
      return;
    }
    const disk = await this.measureDisk();
    const d = checkRunning(this.config, disk);
    if (d.ok) return;
    this.log.warn('disk guard: stopping captures', { reason: d.reason, message: d.message });
    const stops: Promise<void>[] = [];
    for (const st of this.states.values())
      for (const s of st.sessions.values()) stops.push(this.stopSession(st, s, { phase: 'Failed', reason: d.reason, message: d.message }));
    await Promise.all(stops);
  }

  /** Removes directories of captures that no longer exist and files older than DELETE_OLDER_THAN. */
  async sweep(): Promise<number> {
    if (!this.captures.hasSynced()) return 0;
    const scan = await scanDataDir(this.config.dataDir);
    const active = new Set<string>();
    for (const s of this.allSessions()) if (s.running) active.add(s.running.prepared.paths.targetDir);
    const plan = planSweep({
      ...scan,
      exists: (ns, name) => this.captures.get(`${ns}/${name}`) !== undefined || this.states.has(`${ns}/${name}`),
      activeDirs: active,
      nowMs: Date.now(),
      maxAgeMs: this.config.deleteOlderThanMs,
    });
    if (plan.removeDirs.length === 0 && plan.removeFiles.length === 0) return 0;
    const n = await applySweep(this.config.dataDir, plan);
    this.log.info('sweep removed files', { dirs: plan.removeDirs.length, files: plan.removeFiles.length });
    return n;
  }

  // ---- status ---------------------------------------------------------------------------------

  private obsSet(st: CaptureState, o: Observation): void {
    st.obs.set(o.name, o);
  }

  private observe(st: CaptureState, target: string, o: Partial<Observation>): void {
    const cur = st.obs.get(target) ?? { name: target };
    for (const [k, v] of Object.entries(o)) if (v !== undefined) (cur as Record<string, unknown>)[k] = v;
    st.obs.set(target, cur);
  }

  private nodeEntry(st: CaptureState): NodeStatus {
    let files = 0;
    let bytes = 0;
    for (const o of st.obs.values()) {
      files += o.files?.length ?? 0;
      bytes += o.bytes ?? 0;
    }
    return { node: this.config.nodeName, files, bytes, cleanedUp: st.cleanedUp };
  }

  /** Schedules a status write: `now` for phase changes, otherwise at most one per status interval. */
  private markDirty(st: CaptureState, now: boolean): void {
    st.dirty = true;
    if (st.writing) return;
    const wait = now && st.attempt === 0 ? 0 : Math.max(0, st.lastApply + this.config.statusIntervalMs - Date.now());
    if (st.timer) {
      if (wait > 0) return;
      clearTimeout(st.timer);
    }
    st.timer = setTimeout(() => {
      st.timer = undefined;
      this.track(this.writeStatus(st, false));
    }, wait);
  }

  /** Shutdown: cancel the scheduled write, wait for one in flight, then write what is still dirty. */
  private async flushFinal(st: CaptureState): Promise<void> {
    clearTimeout(st.timer);
    st.timer = undefined;
    while (st.writing) await new Promise((r) => setTimeout(r, 20));
    clearTimeout(st.timer);
    st.timer = undefined;
    await this.writeStatus(st, true);
  }

  private async writeStatus(st: CaptureState, final: boolean): Promise<void> {
    if (st.writing || !st.dirty) return;
    if (!this.captures.get(st.key) && !final) {
      st.dirty = false;
      return;
    }
    st.writing = true;
    st.dirty = false;
    const status: PacketCaptureStatus = {
      targets: [...st.obs.values()].map((o) => ({ ...o })),
      nodes: [this.nodeEntry(st)],
    };
    try {
      await applyStatus(this.client, st.namespace, st.name, status, agentFieldManager(this.config.nodeName), { force: true });
      st.attempt = 0;
      st.lastApply = Date.now();
    } catch (e) {
      if (isNotFound(e)) {
        st.attempt = 0;
        return;
      }
      st.dirty = true;
      const delay = backoffDelay(st.attempt++, 500, 30_000);
      this.log.warn('status write failed, retrying', { capture: st.key, err: e, delayMs: delay });
      if (!this.stopping && !final) {
        clearTimeout(st.timer);
        st.timer = setTimeout(() => {
          st.timer = undefined;
          this.track(this.writeStatus(st, false));
        }, delay);
      }
      return;
    } finally {
      st.writing = false;
    }
    if (st.dirty && !final) this.markDirty(st, false);
  }

  // ---- server backends ------------------------------------------------------------------------

  private streamSources(namespace: string, name: string): StreamSource[] {
    const st = this.states.get(`${namespace}/${name}`);
    if (!st) return [];
    const out: StreamSource[] = [];
    for (const s of st.sessions.values()) {
      if (!s.running) continue;
      const p = s.running.prepared.paths;
      const run = s.running;
      out.push({ target: s.dirName, key: s.target, dir: p.targetDir, fileBase: p.fileBase, fileCount: s.opts.fileCount, finished: () => s.exited, flush: () => run.flush() });
    }
    return out;
  }

  /** Cached figures only: O(targets), no file system access (an unauthenticated endpoint). */
  metrics(): MetricsSnapshot {
    const targets: MetricsSnapshot['targets'] = [];
    let running = 0;
    for (const st of this.states.values()) {
      for (const o of st.obs.values()) {
        const live = st.sessions.get(o.name)?.running !== undefined && !st.sessions.get(o.name)?.exited;
        if (live) running++;
        targets.push({ namespace: st.namespace, capture: st.name, target: o.name, bytes: o.bytes ?? 0, packets: o.packets ?? 0, drops: o.drops ?? 0, running: live });
      }
    }
    return {
      node: this.config.nodeName,
      capturesRunning: running,
      diskUsedBytes: this.lastDisk.usedBytes,
      diskFreeBytes: this.lastDisk.freeBytes,
      targets,
      startsTotal: this.counters.starts,
      failuresTotal: this.counters.failures,
      authDenied: this.counters.authDenied,
    };
  }
}

function podIPs(p: Pod): string[] {
  const ips = (p.status?.podIPs ?? []).map((x) => x.ip).filter((x): x is string => typeof x === 'string' && x !== '');
  if (ips.length === 0 && p.status?.podIP) ips.push(p.status.podIP);
  return ips.filter((ip) => /^[0-9a-fA-F:.]+$/.test(ip));
}

/** The agent-owned fields of a status entry (what it applies). */
export function observationOf(t: TargetStatus): Observation {
  const o: Observation = { name: t.name };
  const keys = ['phase', 'reason', 'message', 'files', 'fileLocation', 'bytes', 'packets', 'drops', 'startTime', 'finishTime', 'lastUpdateTime'] as const;
  for (const k of keys) if (t[k] !== undefined) (o as Record<string, unknown>)[k] = t[k];
  return o;
}
