/**
 * The agent's status writer: one server-side apply per capture at a time, coalesced to at most
 * one per status interval (phase changes go out at once), retried with capped backoff when the
 * apiserver fails, so an unreachable apiserver never stops a capture and never loses the last
 * state: the status is read from the capture's state at the moment of each write, and a change
 * made during a write schedules the next one.
 *
 * Writes of one capture are serialised by a promise chain (`inflight`), never by polling.
 */
import type { PacketCaptureStatus } from '../api/packetcapture.js';
import { backoffDelay, type Clock, type Timer } from '../k8s/clock.js';
import { isNotFound } from '../k8s/client.js';
import type { Logger } from '../telemetry/log.js';

export interface StatusWriterOptions {
  clock: Clock;
  /** Minimum time between two writes of one capture (PCAPPER_STATUS_INTERVAL). */
  intervalMs: number;
  /** Applies the status of capture `key` (namespace/name); throws a KubeApiError on failure. */
  apply(key: string, status: PacketCaptureStatus): Promise<void>;
  /** Whether the capture still exists in the cache (a write for a deleted capture is dropped, except the final one). */
  exists(key: string): boolean;
  log: Logger;
  backoff?: { initialMs: number; maxMs: number };
  random?: () => number;
}

interface Slot {
  read: () => PacketCaptureStatus;
  dirty: boolean;
  lastApply: number;
  attempt: number;
  timer: Timer | undefined;
  /** The write in flight, if any. */
  inflight: Promise<void> | undefined;
}

export class StatusWriter {
  private readonly slots = new Map<string, Slot>();
  private stopped = false;
  private readonly backoff: { initialMs: number; maxMs: number };
  /** Writes started (for tests and debugging). */
  writes = 0;

  constructor(private readonly o: StatusWriterOptions) {
    this.backoff = o.backoff ?? { initialMs: 500, maxMs: 30_000 };
  }

  /**
   * The status of `key` changed (`read` returns it as it is now). `now`: a phase change, written
   * at once unless a retry is pending; otherwise at most one write per interval.
   */
  markDirty(key: string, read: () => PacketCaptureStatus, now: boolean): void {
    const s = this.slot(key, read);
    s.dirty = true;
    if (s.inflight || this.stopped) return; // the write in flight schedules the next one
    if (s.attempt > 0 && s.timer) return; // backing off: the retry carries the latest state
    const wait = now && s.attempt === 0 ? 0 : Math.max(0, s.lastApply + this.o.intervalMs - this.o.clock.now());
    if (s.timer) {
      if (wait > 0) return;
      s.timer.cancel();
    }
    this.schedule(key, s, wait);
  }

  /** Whether a write of `key` is pending (scheduled, in flight or dirty). */
  pending(key: string): boolean {
    const s = this.slots.get(key);
    return s !== undefined && (s.dirty || s.timer !== undefined || s.inflight !== undefined);
  }

  /** The capture is gone for good: no more writes. */
  forget(key: string): void {
    this.slots.get(key)?.timer?.cancel();
    this.slots.delete(key);
  }

  /** Shutdown: no more scheduled writes; what is still dirty is written once by flush(). */
  stop(): void {
    this.stopped = true;
    for (const s of this.slots.values()) {
      s.timer?.cancel();
      s.timer = undefined;
    }
  }

  /** Writes every dirty status once (after the write in flight, if any), without retrying. */
  async flushAll(): Promise<void> {
    await Promise.all([...this.slots.keys()].map((k) => this.flush(k)));
  }

  private async flush(key: string): Promise<void> {
    const s = this.slots.get(key);
    if (!s) return;
    s.timer?.cancel();
    s.timer = undefined;
    while (s.inflight) await s.inflight;
    await this.write(key, s, true);
  }

  private slot(key: string, read: () => PacketCaptureStatus): Slot {
    let s = this.slots.get(key);
    if (!s) {
      s = { read, dirty: false, lastApply: -Infinity, attempt: 0, timer: undefined, inflight: undefined };
      this.slots.set(key, s);
    }
    s.read = read;
    return s;
  }

  private schedule(key: string, s: Slot, ms: number): void {
    s.timer = this.o.clock.setTimer(() => {
      s.timer = undefined;
      void this.write(key, s, false);
    }, ms);
  }

  /** One apply; never throws. */
  private write(key: string, s: Slot, final: boolean): Promise<void> {
    if (s.inflight || !s.dirty) return s.inflight ?? Promise.resolve();
    if (!final && !this.o.exists(key)) {
      s.dirty = false;
      return Promise.resolve();
    }
    s.dirty = false;
    this.writes++;
    const run = (async (): Promise<void> => {
      try {
        await this.o.apply(key, s.read());
        s.attempt = 0;
        s.lastApply = this.o.clock.now();
      } catch (e) {
        if (isNotFound(e)) {
          s.attempt = 0; // the capture is gone: nothing to report to
          return;
        }
        s.dirty = true;
        const delay = backoffDelay(s.attempt++, this.backoff.initialMs, this.backoff.maxMs, this.o.random);
        this.o.log.warn('status write failed, retrying', { capture: key, err: e, delayMs: delay, final });
        if (!this.stopped && !final) {
          s.timer?.cancel();
          this.schedule(key, s, delay);
        }
      }
    })();
    const done = run.finally(() => {
      s.inflight = undefined;
      if (s.dirty && !final && !this.stopped && !s.timer) this.markDirty(key, s.read, false);
    });
    s.inflight = done;
    return done;
  }
}
