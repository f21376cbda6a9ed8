/**
 * The disk guard of the node: measures the data directory (at admission and on the disk timer,
 * never per /metrics scrape), admits a target only when the promised bytes of every running
 * target still fit (one decision at a time on the node, so targets that start together see each
 * other's reservations), and tells when running captures must stop. The decisions are the pure
 * functions of src/capture/disk.ts; the measurement is injected.
 */
import type { AgentConfig } from '../config/agent.js';
import { admit, checkRunning, type DiskDecision, type DiskState, type Promised } from '../capture/disk.js';
import type { Clock } from '../k8s/clock.js';

export type Admission = DiskDecision | { ok: false; reason: 'DiskUnavailable'; message: string };

export class DiskGuard {
  /** The last measurement (what /metrics shows). */
  last: DiskState = { usedBytes: 0, freeBytes: 0 };
  private lastAt = -Infinity;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: Pick<AgentConfig, 'dataDir' | 'maxTotalFileSize' | 'minFreeDisk' | 'idleDiskRefreshMs'>,
    private readonly clock: Clock,
    private readonly measureDir: (dir: string) => Promise<DiskState>,
  ) {}

  async measure(): Promise<DiskState> {
    const disk = await this.measureDir(this.config.dataDir);
    this.last = disk;
    this.lastAt = this.clock.now();
    return disk;
  }

  /**
   * Admits a target that may write `requestBytes`, counting what the running ones were promised;
   * `reserve` runs under the same lock when admitted (it records the new target as running).
   */
  admit(running: () => Promised[], requestBytes: number, reserve: () => void): Promise<Admission> {
    const run = this.tail.then(async (): Promise<Admission> => {
      let disk: DiskState;
      try {
        disk = await this.measure();
      } catch (e) {
        return { ok: false, reason: 'DiskUnavailable', message: `cannot measure the data directory ${this.config.dataDir}: ${(e as Error).message}` };
      }
      const d = admit(this.config, disk, running(), requestBytes);
      if (d.ok) reserve();
      return d;
    });
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * The periodic check. Idle (nothing running): re-measure now and then for /metrics only.
   * Capturing: measure, and return the reason to stop every capture when a limit is crossed.
   */
  async check(capturing: boolean): Promise<DiskDecision> {
    if (!capturing) {
      if (this.clock.now() - this.lastAt >= this.config.idleDiskRefreshMs) await this.measure().catch(() => undefined);
      return { ok: true };
    }
    return checkRunning(this.config, await this.measure());
  }
}
