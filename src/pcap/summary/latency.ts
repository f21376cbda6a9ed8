/** Latency statistics shared by the trackers (handshake RTT, DNS and HTTP response times). */
import type { LatencySummary } from './types.js';

/** How many samples the percentiles are taken from (a uniform reservoir sample beyond that). */
const RESERVOIR = 8192;

/** Reservoir of latency samples (bounded) with exact count/min/max/avg. */
export class Latency {
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;
  private readonly samples: number[] = [];
  // fixed seed: the same input gives the same percentiles
  private seed = 0x2545f491;

  add(ms: number): void {
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    if (this.samples.length < RESERVOIR) this.samples.push(ms);
    else {
      this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0;
      const j = this.seed % this.count;
      if (j < RESERVOIR) this.samples[j] = ms;
    }
  }

  result(): LatencySummary | null {
    if (this.count === 0) return null;
    const s = [...this.samples].sort((x, y) => x - y);
    const pct = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    return { count: this.count, minMs: r3(this.min), avgMs: r3(this.sum / this.count), p50Ms: r3(pct(0.5)), p95Ms: r3(pct(0.95)), maxMs: r3(this.max) };
  }
}
