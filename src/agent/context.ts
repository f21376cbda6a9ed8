/**
 * What the agent's parts share: configuration, the injected clock and capture backend, the caches
 * of captures and pods, the per-capture state, and the writers (status, events, metrics). Built
 * once by NodeAgent (src/agent/agent.ts); every part takes it instead of reaching for globals.
 */
import type { UploadQueue } from './uploads.js';
import type { StoreResolver } from './stores.js';
import type { PacketCapture } from '../api/packetcapture.js';
import type { CaptureBackend } from '../capture/backend.js';
import type { AgentConfig } from '../config/agent.js';
import type { Clock } from '../k8s/clock.js';
import type { EventSubject, EventType } from '../k8s/events.js';
import type { Change, KubeObject } from '../k8s/informer.js';
import type { Logger } from '../telemetry/log.js';
import type { DiskGuard } from './disk-guard.js';
import type { AgentMetrics } from './metrics.js';
import { statusOf, type CaptureState, type Pod } from './state.js';
import type { StatusWriter } from './status-writer.js';
import type { AnalysisHook } from './analysis.js';
import type { Firing } from '../api/trigger-schema.js';

/** A cache of objects kept current by a watch (src/k8s/informer.ts Informer implements it). */
export interface ObjectCache<T> {
  get(key: string): T | undefined;
  list(): T[];
  readonly size: number;
  hasSynced(): boolean;
  onChange(cb: (c: Change<T>) => void): () => void;
  start(): void;
  waitForSync(): Promise<void>;
  stop(): Promise<void>;
}

export type CaptureObject = PacketCapture & KubeObject;

/** Where the agent records Kubernetes Events (src/k8s/events.ts EventRecorder implements it). */
export interface EventSink {
  record(subject: EventSubject, type: EventType, reason: string, message: string): void;
  flush(): Promise<void>;
}

export interface AgentContext {
  readonly config: AgentConfig;
  readonly clock: Clock;
  readonly backend: CaptureBackend;
  readonly log: Logger;
  readonly events: EventSink;
  readonly captures: ObjectCache<CaptureObject>;
  readonly pods: ObjectCache<Pod>;
  readonly states: Map<string, CaptureState>;
  readonly status: StatusWriter;
  readonly disk: DiskGuard;
  readonly metrics: AgentMetrics;
  /** Runs `p` in the background; its failure is logged, and stop() waits for it. */
  track(p: Promise<unknown>): void;
  /** The agent is shutting down. */
  stopping(): boolean;
  /** Wakes whatever waits for a change of pod namespace/name (the start state machine). */
  readonly podChanged: PodWaits;
  /** Uploads of ring files to the capture's store (none: no store support, e.g. unit tests). */
  readonly uploads?: UploadQueue | undefined;
  readonly stores?: StoreResolver | undefined;
  /** Live analysis of running targets and where its records go (none: no analysis). */
  readonly analysis?: AnalysisHook | undefined;
  /** Applies a firing this agent decided (Traffic triggers) into status.firings under its trigger field manager; none: not written (unit tests). */
  readonly applyFiring?: ((namespace: string, name: string, firing: Firing) => Promise<void>) | undefined;
}

/** Waits for a change of one pod in the informer, or a time on the clock. */
export class PodWaits {
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(private readonly clock: Clock) {}

  /** The informer saw a change of pod `key` (namespace/name). */
  changed(key: string): void {
    const set = this.waiting.get(key);
    if (!set) return;
    this.waiting.delete(key);
    for (const w of set) w();
  }

  /**
   * Resolves at the next change of pod `key`, after `ms`, or when `wake` (given to `onWake`) is
   * called, whichever comes first.
   */
  next(key: string, ms: number, onWake: (wake: (() => void) | undefined) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.waiting.get(key);
      if (!set) this.waiting.set(key, (set = new Set()));
      const done = (): void => {
        timer.cancel();
        set.delete(done);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
        onWake(undefined);
        resolve();
      };
      set.add(done);
      const timer = this.clock.setTimer(done, Math.max(0, ms));
      onWake(done);
    });
  }
}

/** Schedules a status write of `st` (`now`: a phase change). */
export function markDirty(ctx: AgentContext, st: CaptureState, now: boolean): void {
  ctx.status.markDirty(st.key, () => statusOf(st, ctx.config.nodeName), now);
}

export const isoAt = (clock: Clock): string => new Date(clock.now()).toISOString();
