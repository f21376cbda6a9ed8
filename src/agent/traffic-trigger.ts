/**
 * Traffic triggers (docs/triggers.md): the agent that captures a target decides, from the records
 * of its live analysis (src/agent/analysis.ts, the summary engine), whether a Traffic condition of
 * the capture's trigger was reached — `threshold` TCP resets, DNS SERVFAILs, HTTP 5xx responses or
 * gRPC errors on that target within a sliding `window` of packet time.
 *
 * - {@link trafficHits} and {@link TrafficDecider} are pure: records in, a decision out.
 * - The shell ({@link trafficConsumer}) fires: it releases this node's armed windows at once (no
 *   round trip: the packets that led to it are in the window) and applies the firing into
 *   status.firings under the agent's trigger field manager (pcapper-agent-trigger-<node>), with a
 *   deterministic id per capture and node, so a retried write never adds a second firing. The
 *   other nodes' agents see it through their capture watch, as for any firing. Once only: a
 *   capture with a firing (any source) is never fired again.
 *
 * The analysis of an armed target reads the records as they enter the look-back gate
 * (RunningCapture.input), not the ring, which gets nothing before the firing.
 */
import { createHash } from 'node:crypto';
import type { PacketCapture } from '../api/packetcapture.js';
import type { ResolvedTrigger, TrafficCondition } from '../api/trigger.js';
import type { Firing } from '../api/trigger-schema.js';
import { firingAt } from '../controller/trigger-decide.js';
import type { PcapRecord, RecordEndpoint } from '../pcap/records/types.js';
import type { RecordConsumer, RecordTarget } from './analysis.js';
import { type AgentContext } from './context.js';
import { applyFirings, firstFiring } from './lookback.js';
import type { CaptureState } from './state.js';

/** One counted occurrence: when (packet time, ms) and what (for the firing's cause). */
export interface TrafficHit {
  atMs: number;
  /** How many at that time (a connection with 3 RSTs). */
  n: number;
  what: string;
}

const ep = (e: RecordEndpoint): string => `${e.pod ? `${e.namespace ?? ''}/${e.pod}` : e.ip}${e.port !== null ? `:${e.port}` : ''}`;
const sec = (ts: number, latencyMs: number | null): number => Math.round(ts * 1000 + (latencyMs ?? 0));

/** What a record counts for `metric` (usually nothing). Pure. */
export function trafficHits(rec: PcapRecord, metric: TrafficCondition['metric']): TrafficHit | undefined {
  switch (metric) {
    case 'TcpResets':
      // the connection's end is when the reset came (a refused connection: the RST right after the SYN)
      if (rec.kind === 'connection' && rec.protocol === 'tcp' && rec.resets > 0) {
        return { atMs: Math.round((rec.ts + rec.durationSeconds) * 1000), n: rec.resets, what: `${ep(rec.orig)} -> ${ep(rec.resp)} ${rec.state === 'REJ' ? 'refused' : 'reset'}` };
      }
      return undefined;
    case 'DnsServfail':
      if (rec.kind === 'dns' && rec.rcode === 'SERVFAIL') return { atMs: sec(rec.ts, rec.latencyMs), n: 1, what: `${rec.qname} ${rec.qtype} from ${ep(rec.server)} SERVFAIL` };
      return undefined;
    case 'Http5xx':
      if ((rec.kind === 'http' || (rec.kind === 'http2' && rec.grpc === null)) && rec.status !== null && rec.status >= 500 && rec.status <= 599) {
        return { atMs: sec(rec.ts, rec.latencyMs), n: 1, what: `${rec.method} ${rec.path.slice(0, 120)} on ${ep(rec.server)} answered ${rec.status}` };
      }
      return undefined;
    case 'GrpcError':
      if (rec.kind === 'http2' && rec.grpc !== null && rec.grpc.status !== null && rec.grpc.status !== 0) {
        return { atMs: sec(rec.ts, rec.latencyMs), n: 1, what: `${rec.grpc.service}/${rec.grpc.method} on ${ep(rec.server)} ended ${rec.grpc.statusName ?? rec.grpc.status}` };
      }
      return undefined;
  }
}

/**
 * Occurrences of one condition in packet time, sorted; late records (a connection is recorded
 * when it ends) are inserted in place. reached() says whether some window of `windowSeconds`
 * holds `threshold` occurrences, and when the threshold-th came. Pure (no clock).
 */
export class SlidingCount {
  private hits: TrafficHit[] = [];
  /** In-order fast path: hits[left..] are the newest window (after the newest minus w); sum is their count. */
  private left = 0;
  private sum = 0;

  constructor(private readonly c: TrafficCondition) {}

  /** Hits kept in memory. */
  get size(): number {
    return this.hits.length;
  }

  /** Adds one hit; returns the first window that now reaches the threshold (its count and when it was reached), if any. */
  add(h: TrafficHit): { count: number; atMs: number; last: TrafficHit } | undefined {
    const w = this.c.windowSeconds * 1000;
    const hits = this.hits;
    const last = hits[hits.length - 1];
    if (last === undefined || last.atMs <= h.atMs) {
      // in packet-time order (the usual case): O(1) amortised, the window ending at h
      hits.push(h);
      this.sum += h.n;
      while (this.left < hits.length && (hits[this.left] as TrafficHit).atMs <= h.atMs - w) this.sum -= (hits[this.left++] as TrafficHit).n;
      this.compact();
      return this.sum >= this.c.threshold ? { count: this.sum, atMs: h.atMs, last: h } : undefined;
    }
    // a late hit (a connection is recorded when it ends): insert in place, then look at every window holding it
    let i = hits.length;
    while (i > 0 && (hits[i - 1] as TrafficHit).atMs > h.atMs) i--;
    hits.splice(i, 0, h);
    if (h.atMs > last.atMs - w) this.sum += h.n; // in the newest window (the newest hit is still `last`)
    else this.left++; // before the newest window: inserted at or before `left`
    // Earlier hits never reached the threshold, so a window that does now holds h. A window
    // [x, x + w) holding h has x in (h - w, h]; moved right to its first hit it loses nothing:
    // so try the windows that start at the hits in (h - w, h], two pointers.
    let s0 = 0;
    while (s0 < hits.length && (hits[s0] as TrafficHit).atMs <= h.atMs - w) s0++;
    let hi = s0;
    let count = 0;
    for (let lo = s0; lo < hits.length && (hits[lo] as TrafficHit).atMs <= h.atMs; lo++) {
      const start = (hits[lo] as TrafficHit).atMs;
      while (hi < hits.length && (hits[hi] as TrafficHit).atMs < start + w) count += (hits[hi++] as TrafficHit).n;
      if (count >= this.c.threshold) {
        // when it was reached: the hit that brought the count of this window to the threshold
        let n = 0;
        for (let k = lo; k < hi; k++) {
          n += (hits[k] as TrafficHit).n;
          if (n >= this.c.threshold) return { count: n, atMs: (hits[k] as TrafficHit).atMs, last: hits[k] as TrafficHit };
        }
      }
      count -= (hits[lo] as TrafficHit).n;
    }
    return undefined;
  }

  /**
   * Keeps what a late hit may still need: hits of the newest window plus those up to 10 minutes
   * older (a connection record comes out when the connection ends or idles).
   */
  private compact(): void {
    const newest = (this.hits[this.hits.length - 1] as TrafficHit).atMs;
    const w = this.c.windowSeconds * 1000;
    let drop = 0;
    while (drop < this.left && (this.hits[drop] as TrafficHit).atMs < newest - w - 600_000) drop++;
    if (drop > 1024 || (drop > 0 && drop * 2 > this.hits.length)) {
      this.hits = this.hits.slice(drop);
      this.left -= drop;
    }
  }
}

export interface TrafficDecision {
  condition: TrafficCondition;
  /** Occurrences in the window that reached the threshold. */
  count: number;
  /** Packet time of the occurrence that reached it: the firing's time. */
  atMs: number;
  /** The last occurrence counted, for the cause. */
  example: string;
}

/** The Traffic conditions of one target: records in, the first decision out (then nothing). Pure. */
export class TrafficDecider {
  private readonly counts: SlidingCount[];
  private decided = false;

  constructor(readonly conditions: readonly TrafficCondition[]) {
    this.counts = conditions.map((c) => new SlidingCount(c));
  }

  offer(rec: PcapRecord): TrafficDecision | undefined {
    if (this.decided) return undefined;
    for (const [i, c] of this.conditions.entries()) {
      const h = trafficHits(rec, c.metric);
      if (!h) continue;
      const r = (this.counts[i] as SlidingCount).add(h);
      if (r) {
        this.decided = true;
        return { condition: c, count: r.count, atMs: r.atMs, example: r.last.what };
      }
    }
    return undefined;
  }
}

/** The firing's cause: the metric, the target, the value and the threshold. Pure. */
export function trafficCause(d: TrafficDecision, target: string, node: string): string {
  const c = d.condition;
  return `${c.metric} on ${target}: ${d.count} within ${c.windowSeconds} s (threshold ${c.threshold}), seen by node ${node}; last: ${d.example}`;
}

/** The id of this node's Traffic firing for a capture: the same for every retry (a write never adds a second firing). Pure. */
export function trafficFiringId(captureUid: string, node: string): string {
  return `traffic-${createHash('sha256').update(`${captureUid}\n${node}`).digest('hex').slice(0, 16)}`;
}

/** Firings this agent decided, until the capture's status shows them (the window is released at once). */
const decided = new WeakMap<CaptureState, Firing>();

/** The records consumer of one armed target with Traffic triggers; undefined when there is none or the capture fired. */
export function trafficConsumer(ctx: AgentContext, st: CaptureState, trigger: ResolvedTrigger | undefined): RecordConsumer | undefined {
  if (!trigger || trigger.traffic.length === 0) return undefined;
  if (decided.has(st) || firstFiring(ctx.captures.get(st.key))) return undefined;
  const decider = new TrafficDecider(trigger.traffic);
  return {
    offer: (rec: PcapRecord, t: RecordTarget) => {
      const d = decider.offer(rec);
      if (d) fireTraffic(ctx, st, trigger, d, t.target);
    },
  };
}

function fireTraffic(ctx: AgentContext, st: CaptureState, trigger: ResolvedTrigger, d: TrafficDecision, target: string): void {
  const pc = ctx.captures.get(st.key);
  if (!pc || decided.has(st) || firstFiring(pc)) return; // fires once: another target, node or trigger was first
  const node = ctx.config.nodeName;
  const firing = firingAt('Traffic', d.atMs, trafficCause(d, target, node), 'agent', trigger.lookBackSeconds, trigger.afterSeconds, trafficFiringId(pc.metadata.uid ?? st.key, node));
  decided.set(st, firing);
  ctx.log.info('traffic trigger fired', { capture: st.key, target, metric: d.condition.metric, count: d.count, threshold: d.condition.threshold, time: firing.time });
  ctx.events.record(st.subject, 'Normal', 'TriggerFired', `Traffic: ${firing.cause ?? ''}; window ${firing.windowStart ?? ''} to ${firing.windowEnd ?? ''}`);
  // this node's windows freeze now, without waiting for the status round trip
  applyFirings(ctx, st, withFiring(pc, firing));
  ctx.track(writeFiring(ctx, st, firing));
}

const withFiring = (pc: PacketCapture, f: Firing): PacketCapture => ({ ...pc, status: { ...pc.status, firings: [...(pc.status?.firings ?? []), f] } });

/** Applies the firing (retried with backoff while the capture exists and has no other firing). */
async function writeFiring(ctx: AgentContext, st: CaptureState, firing: Firing): Promise<void> {
  const apply = ctx.applyFiring;
  if (!apply) return;
  for (let attempt = 0; ; attempt++) {
    const pc = ctx.captures.get(st.key);
    if (!pc || ctx.stopping() || (pc.status?.firings ?? []).some((f) => f.id === firing.id)) return;
    try {
      await apply(st.namespace, st.name, firing);
      return;
    } catch (e) {
      if (attempt >= 8) {
        ctx.log.warn('cannot write the traffic firing into status; this node captured it, other nodes did not see it', { capture: st.key, err: e });
        return;
      }
      await new Promise<void>((r) => ctx.clock.setTimer(r, Math.min(30_000, 250 * 2 ** attempt)));
    }
  }
}
