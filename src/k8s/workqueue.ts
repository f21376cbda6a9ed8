/**
 * A work queue of keys, controller-runtime style: a key is queued at most once; a key being
 * processed is never processed concurrently (re-adds while it runs mark it dirty and it runs
 * again afterwards); failures back off exponentially per key; and each key runs at most once per
 * `minIntervalMs`, so a storm of pod events becomes a few reconciles (and status applies).
 */
import { backoffDelay, systemClock, type Clock, type Timer } from './clock.js';
import { classifyError, type ErrorKind, type ErrorReason } from './errors.js';

/** What the queue reports to metrics (src/controller/metrics.ts and src/agent/metrics.ts implement it). */
export interface QueueObserver {
  /** Called once with a reader of the queue's depth (keys ready to run). */
  bindDepth?(depth: () => number): void;
  /** A worker run of a key finished; `ms` on the queue's clock. */
  ran?(ms: number, result: 'success' | 'error'): void;
  /** A failed run was classified (see fail()). */
  failed?(kind: ErrorKind, reason: ErrorReason): void;
  /** A key was queued again with backoff. */
  retried?(): void;
}

/** The decision after a failed run of a key. */
export interface Failure {
  readonly kind: ErrorKind;
  readonly reason: ErrorReason;
  /** Transient: the backoff before the retry. */
  readonly delayMs?: number;
  /** Terminal: true the first time this key failed for this reason since its last success (log/record it once). */
  readonly first?: boolean;
}

export interface WorkQueueOptions {
  clock?: Clock;
  /** Minimum time between two starts of the same key (coalescing). Default 100 ms. */
  minIntervalMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  observer?: QueueObserver;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly minInterval: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly ready: string[] = [];
  private readonly readySet = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: Timer }>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly lastStart = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  /** Keys whose last run failed terminally, with the reason (so it is reported once). */
  private readonly terminal = new Map<string, ErrorReason>();
  /** Keys whose current run called fail(). */
  private readonly failedRun = new Set<string>();
  private readonly observer: QueueObserver | undefined;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(o: WorkQueueOptions = {}) {
    this.clock = o.clock ?? systemClock;
    this.minInterval = o.minIntervalMs ?? 100;
    this.backoff = o.backoff ?? { initialMs: 200, maxMs: 60_000 };
    this.observer = o.observer;
    this.observer?.bindDepth?.(() => this.length);
  }

  get length(): number {
    return this.ready.length;
  }

  /** Nothing ready and nothing running (keys waiting for a retry or their interval may remain). */
  get idle(): boolean {
    return this.ready.length === 0 && this.processing.size === 0;
  }

  /** Keys waiting for a retry or their minimum interval. */
  get delayedCount(): number {
    return this.delayed.size;
  }

  /** Queues `key` now (subject to the per-key minimum interval). */
  add(key: string): void {
    if (this.closed) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.readySet.has(key)) return;
    const earliest = (this.lastStart.get(key) ?? -Infinity) + this.minInterval;
    const now = this.clock.now();
    if (earliest > now) {
      this.addAfter(key, earliest - now);
      return;
    }
    this.cancelDelayed(key);
    this.readySet.add(key);
    this.ready.push(key);
    const w = this.waiters.shift();
    w?.();
  }

  /** Queues `key` after `ms` (an earlier pending add wins). */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const cur = this.delayed.get(key);
    if (cur && cur.at <= at) return;
    cur?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  private cancelDelayed(key: string): void {
    const cur = this.delayed.get(key);
    if (cur) {
      cur.timer.cancel();
      this.delayed.delete(key);
    }
  }

  /** Queues `key` again after a failure, with per-key exponential backoff. */
  retry(key: string, minDelayMs = 0): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.max(minDelayMs, backoffDelay(n, this.backoff.initialMs, this.backoff.maxMs));
    this.addAfter(key, delay);
    this.observer?.retried?.();
    return delay;
  }

  /**
   * Decides after a failed run of `key`: a transient error is retried with backoff (at least the
   * server's Retry-After); a terminal one (403, 404, 422, 400...) is not retried at all — the key
   * runs again only when something queues it (a change of its object), never in a loop.
   */
  fail(key: string, err: unknown): Failure {
    const c = classifyError(err);
    if (this.processing.has(key)) this.failedRun.add(key);
    this.observer?.failed?.(c.kind, c.reason);
    if (c.kind === 'transient') return { kind: c.kind, reason: c.reason, delayMs: this.retry(key, c.retryAfterMs) };
    this.failures.delete(key);
    const first = this.terminal.get(key) !== c.reason;
    this.terminal.set(key, c.reason);
    return { kind: c.kind, reason: c.reason, first };
  }

  /** Forgets the failure history of `key` (after a success, or when its object is gone). */
  forget(key: string): void {
    this.failures.delete(key);
    this.terminal.delete(key);
  }

  private async next(signal: AbortSignal): Promise<string | undefined> {
    while (!signal.aborted && !this.closed) {
      const key = this.ready.shift();
      if (key !== undefined) {
        this.readySet.delete(key);
        return key;
      }
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        this.waiters.push(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    return undefined;
  }

  /** Runs `worker` on keys with `concurrency` workers until `signal` aborts. */
  async run(worker: (key: string) => Promise<void>, concurrency: number, signal: AbortSignal): Promise<void> {
    const one = async (): Promise<void> => {
      for (;;) {
        const key = await this.next(signal);
        if (key === undefined) return;
        this.processing.add(key);
        const started = this.clock.now();
        this.lastStart.set(key, started);
        try {
          await worker(key);
        } catch (e) {
          this.fail(key, e); // a worker should handle its errors; one that throws is retried by class
        } finally {
          this.observer?.ran?.(this.clock.now() - started, this.failedRun.delete(key) ? 'error' : 'success');
          this.processing.delete(key);
          if (this.dirty.delete(key)) this.add(key);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => one()));
  }

  shutdown(): void {
    this.closed = true;
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w();
  }
}
