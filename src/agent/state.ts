/**
 * What the agent knows about one PacketCapture on this node (its observations, the targets this
 * process decided, the running sessions), and the pure helpers that read and change it.
 */
import { API_VERSION, KIND, type FileUpload, type NodeStatus, type PacketCapture, type PacketCaptureStatus, type TargetPhase, type TargetStatus } from '../api/packetcapture.js';
import type { RunningCapture } from '../capture/backend.js';
import type { TargetAnalysis } from './analysis.js';
import type { TcpdumpOptions } from '../capture/tcpdump.js';
import type { Timer } from '../k8s/clock.js';
import type { EventSubject } from '../k8s/events.js';
import type { LocalTarget } from './plan.js';

/** A Pod as the agent reads it from its informer (own node only). */
export interface Pod {
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

/** The agent-owned fields of one status.targets entry. */
export type Observation = Omit<TargetStatus, 'kind' | 'namespace' | 'pod' | 'podUID' | 'node' | 'interface'> & { name: string };

export interface StopReason {
  phase: TargetPhase;
  reason: string;
  message: string;
}

/** One target's capture in this process, from admission to tcpdump's exit. */
export interface Session {
  key: string;
  uid: string;
  target: string;
  dirName: string;
  entry: TargetStatus;
  opts: TcpdumpOptions;
  promised: number;
  running: RunningCapture | undefined;
  exited: boolean;
  stopReason: StopReason | undefined;
  timers: Timer[];
  startedAt: Date | undefined;
  /** Wakes the start state machine while it waits for the pod (set only while it waits). */
  wake: (() => void) | undefined;
  /** Live analysis of the target's packets (captures with consumers, e.g. a Kafka sink). */
  analysis?: TargetAnalysis | undefined;
}

export interface CaptureState {
  key: string;
  namespace: string;
  name: string;
  uid: string;
  subject: EventSubject;
  obs: Map<string, Observation>;
  local: Map<string, LocalTarget>;
  sessions: Map<string, Session>;
  cleanedUp: boolean;
  /** Upload state of ring files, by target status key then file name (captures with a store). */
  uploads: Map<string, Map<string, FileUpload>>;
  /**
   * Targets this agent started from its own plan (src/agent/plan.ts ownTargets) that the
   * controller has not planned into status yet: observed but not reported (an entry the controller
   * did not write would have no identity), until the controller's entry arrives.
   */
  unplanned: Map<string, TargetStatus>;
}

export function newCaptureState(pc: PacketCapture, node: string): CaptureState {
  const namespace = pc.metadata.namespace ?? '';
  const name = pc.metadata.name ?? '';
  const mine = (pc.status?.nodes ?? []).find((n) => n.node === node);
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    uid: pc.metadata.uid ?? '',
    subject: { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace, uid: pc.metadata.uid } },
    obs: new Map(),
    local: new Map(),
    sessions: new Map(),
    cleanedUp: mine?.cleanedUp === true,
    uploads: new Map(),
    unplanned: new Map(),
  };
}

/** Merges the defined fields of `o` into the target's observation. */
export function observe(st: CaptureState, target: string, o: Partial<Observation>): void {
  const cur = st.obs.get(target) ?? { name: target };
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (cur as Record<string, unknown>)[k] = v;
  st.obs.set(target, cur);
}

/** The agent-owned fields of a status entry (what it applies). */
export function observationOf(t: TargetStatus): Observation {
  const o: Observation = { name: t.name };
  const keys = ['phase', 'reason', 'message', 'files', 'fileLocation', 'bytes', 'packets', 'drops', 'recordsPublished', 'recordsDropped', 'sinkError', 'startTime', 'finishTime', 'lastUpdateTime'] as const;
  for (const k of keys) if (t[k] !== undefined) (o as Record<string, unknown>)[k] = t[k];
  return o;
}

export function nodeEntry(st: CaptureState, node: string): NodeStatus {
  let files = 0;
  let bytes = 0;
  for (const o of st.obs.values()) {
    files += o.files?.length ?? 0;
    bytes += o.bytes ?? 0;
  }
  return { node, files, bytes, cleanedUp: st.cleanedUp };
}

/** The status this node applies for the capture (its field manager owns exactly these fields). */
export function statusOf(st: CaptureState, node: string): PacketCaptureStatus {
  const reported = [...st.obs.values()].filter((o) => !st.unplanned.has(o.name));
  return { targets: reported.map((o) => withUploads(o, st.uploads.get(o.name))), nodes: [nodeEntry(st, node)] };
}

/**
 * The observation with each file's upload state. A file uploaded and removed from the node stays
 * listed (it is in the store). Pure.
 */
export function withUploads(o: Observation, ups: ReadonlyMap<string, FileUpload> | undefined): Observation {
  if (!ups || ups.size === 0) return { ...o };
  const files = (o.files ?? []).map((f) => {
    const u = ups.get(f.name);
    return u ? { ...f, upload: { ...u } } : { ...f };
  });
  for (const [name, u] of ups) if (!files.some((f) => f.name === name)) files.push({ name, upload: { ...u } });
  return { ...o, files };
}

/** Targets being started or running, over all captures (the node cap counts these). */
export function activeCount(states: Iterable<CaptureState>): number {
  let n = 0;
  for (const st of states) for (const l of st.local.values()) if (l.active) n++;
  return n;
}

export function* allSessions(states: Iterable<CaptureState>): Generator<Session> {
  for (const st of states) yield* st.sessions.values();
}

export function isLive(s: Session | undefined): boolean {
  return s?.running !== undefined && !s.exited;
}
