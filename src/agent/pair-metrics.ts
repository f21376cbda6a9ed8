/**
 * Per pod pair Prometheus metrics from the agent's records (src/pcap/records): connections
 * attempted / established / refused / reset, DNS errors by rcode, HTTP status classes, gRPC status
 * names and a handshake RTT histogram. The analysis engine calls {@link PairMetrics.offer} once per
 * record (it is a RecordConsumer of src/agent/analysis.ts); everything here is in-memory
 * aggregation, no I/O. docs/metrics.md documents the metrics and the top-N rule.
 *
 * A pair is (capture, source pod → destination pod): the connection's originator and responder,
 * DNS and HTTP client and server. An end that capture metadata does not know is `external`.
 *
 * Cardinality (the top-N rule): at most `topN` pairs have their own series, plus one `other`
 * series (src_pod = dst_pod = `other`). The first `topN` pairs seen are tracked; the records of
 * any further pair count under `other`, and that pair becomes a candidate (at most `topN`
 * candidates are remembered; when full, the least active one is forgotten). Every `rerankEvery`
 * records the activity of the period (records offered) is compared: while the most active
 * candidate had more records than the least active tracked pair, that pair is evicted — every one
 * of its series is removed from the registry, its later records count under `other` — and the
 * candidate is tracked, its series starting at zero (its earlier records stay in `other`). Then
 * the period's counts restart. So at any scrape each metric has at most `topN + 1` pair series,
 * and a pair that became busy replaces a pair that went quiet within one period.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { PcapRecord, RecordEndpoint } from '../pcap/records/types.js';

/** What the analysis engine says about the capture a record came from. */
export interface RecordTarget {
  capture: string;
  namespace: string;
  target: string;
}

export interface PairMetricsOptions {
  /** most pairs with their own series (PCAPPER_PAIR_METRICS_TOP_N) */
  topN: number;
  /** records per ranking period (default 10 × topN, at least 1000) */
  rerankEvery?: number;
  /** the `node` label (the agent's metrics carry it first); default '' */
  node?: string;
}

/** The RTT histogram's buckets, in seconds: 50 µs (same node) to 2.5 s (far external). */
export const RTT_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const PAIR_LABELS = ['node', 'capture', 'src_namespace', 'src_workload', 'src_pod', 'dst_namespace', 'dst_workload', 'dst_pod'] as const;
type PairLabel = (typeof PAIR_LABELS)[number];
type PairLabels = Record<PairLabel, string>;

export const EXTERNAL = 'external';
export const OTHER = 'other';

/** The labels of one end: its pod, or `external` with empty namespace and workload. */
function endLabels(e: RecordEndpoint): { namespace: string; workload: string; pod: string } {
  if (e.external || e.pod === null) return { namespace: '', workload: '', pod: EXTERNAL };
  return { namespace: e.namespace ?? '', workload: e.workload ?? '', pod: e.pod };
}

/** The pair of a record: (originator or client) → (responder or server). */
export function pairOf(rec: PcapRecord, capture: string, node: string): PairLabels {
  const [src, dst] = rec.kind === 'connection' ? [rec.orig, rec.resp] : [rec.client, rec.server];
  const s = endLabels(src);
  const d = endLabels(dst);
  return { node, capture, src_namespace: s.namespace, src_workload: s.workload, src_pod: s.pod, dst_namespace: d.namespace, dst_workload: d.workload, dst_pod: d.pod };
}

/** HTTP status class: `2xx`…; `none` when no response was seen. */
export function statusClass(status: number | null): string {
  if (status === null || !Number.isInteger(status) || status < 100 || status > 599) return 'none';
  return `${Math.floor(status / 100)}xx`;
}

/** What a TCP connection record counts as (Zeek's conn_state): attempted means a SYN was seen. */
export function connectionOutcome(state: string | null): { attempted: boolean; established: boolean; refused: boolean; reset: boolean } {
  const attempted = state !== null && state !== 'OTH';
  const established = state === 'S1' || state === 'SF' || state === 'S2' || state === 'S3' || state === 'RSTO' || state === 'RSTR';
  return { attempted, established, refused: state === 'REJ', reset: state === 'RSTO' || state === 'RSTR' };
}

interface Tracked {
  labels: PairLabels;
  period: number;
}

export class PairMetrics {
  private readonly topN: number;
  private readonly rerankEvery: number;
  private readonly node: string;
  private readonly tracked = new Map<string, Tracked>();
  private readonly candidates = new Map<string, { labels: PairLabels; period: number }>();
  private sincePeriod = 0;
  /** every label set written per metric, so an evicted pair's series (any rcode/class) can be removed */
  private readonly written = new Map<string, Array<{ metric: Counter<string> | Histogram<string>; labels: Record<string, string> }>>();

  private readonly attempted: Counter<PairLabel>;
  private readonly established: Counter<PairLabel>;
  private readonly refused: Counter<PairLabel>;
  private readonly reset: Counter<PairLabel>;
  private readonly dnsQueries: Counter<PairLabel>;
  private readonly dnsErrors: Counter<PairLabel | 'rcode'>;
  private readonly http: Counter<PairLabel | 'protocol' | 'class'>;
  private readonly grpc: Counter<PairLabel | 'status'>;
  private readonly rtt: Histogram<PairLabel>;

  constructor(registry: Registry, opts: PairMetricsOptions) {
    if (!Number.isInteger(opts.topN) || opts.topN < 1) throw new Error(`PairMetrics: topN must be an integer ≥ 1, got ${opts.topN}`);
    this.topN = opts.topN;
    this.rerankEvery = opts.rerankEvery ?? Math.max(1000, 10 * opts.topN);
    if (!Number.isInteger(this.rerankEvery) || this.rerankEvery < 1) throw new Error(`PairMetrics: rerankEvery must be an integer ≥ 1, got ${opts.rerankEvery}`);
    this.node = opts.node ?? '';
    const registers = [registry];
    const counter = <E extends string>(name: string, help: string, extra: E[] = []): Counter<PairLabel | E> =>
      new Counter({ name, help, labelNames: [...PAIR_LABELS, ...extra], registers });
    this.attempted = counter('pcapper_pair_connections_attempted_total', 'TCP connections whose SYN was seen (any conn_state but OTH), per pod pair.');
    this.established = counter('pcapper_pair_connections_established_total', 'TCP connections whose SYN was answered by a SYN-ACK (S1, SF, S2, S3, RSTO, RSTR), per pod pair.');
    this.refused = counter('pcapper_pair_connections_refused_total', 'TCP connections whose SYN was answered by a RST (REJ), per pod pair.');
    this.reset = counter('pcapper_pair_connections_reset_total', 'Established TCP connections ended by a RST from either end (RSTO, RSTR), per pod pair.');
    this.dnsQueries = counter('pcapper_pair_dns_queries_total', 'DNS queries (answered or not), per client → server pair.');
    this.dnsErrors = counter('pcapper_pair_dns_errors_total', 'DNS responses with an rcode other than NOERROR, per pair and rcode; unanswered queries count as rcode="none".', ['rcode']);
    this.http = counter('pcapper_pair_http_responses_total', 'HTTP/1.x and HTTP/2 (non-gRPC) transactions by status class (1xx..5xx; none = no response), per pair.', ['protocol', 'class']);
    this.grpc = counter('pcapper_pair_grpc_calls_total', 'gRPC calls by grpc-status name (none = ended without one), per pair.', ['status']);
    this.rtt = new Histogram({
      name: 'pcapper_pair_handshake_rtt_seconds',
      help: 'TCP handshake RTT (SYN to the ACK of the SYN-ACK, as seen at the capture point), per pod pair.',
      labelNames: [...PAIR_LABELS],
      buckets: RTT_BUCKETS,
      registers,
    });
  }

  /** Pairs with their own series now (for tests and status). */
  trackedPairs(): PairLabels[] {
    return [...this.tracked.values()].map((t) => t.labels);
  }

  offer(rec: PcapRecord, target: RecordTarget): void {
    const pair = pairOf(rec, `${target.namespace}/${target.capture}`, this.node);
    const labels = this.slot(pair);
    this.count(rec, labels);
    if (++this.sincePeriod >= this.rerankEvery) this.rerank();
  }

  /** The labels the record counts under: its pair's, or `other`'s. */
  private slot(pair: PairLabels): PairLabels {
    const key = pairKey(pair);
    const t = this.tracked.get(key);
    if (t) {
      t.period++;
      return t.labels;
    }
    if (this.tracked.size < this.topN) {
      this.tracked.set(key, { labels: pair, period: 1 });
      return pair;
    }
    const c = this.candidates.get(key);
    if (c) c.period++;
    else {
      if (this.candidates.size >= this.topN) {
        let least: string | undefined;
        let min = Infinity;
        for (const [k, v] of this.candidates) if (v.period < min) [least, min] = [k, v.period];
        if (least !== undefined) this.candidates.delete(least);
      }
      this.candidates.set(key, { labels: pair, period: 1 });
    }
    return this.otherLabels();
  }

  private otherLabels(): PairLabels {
    return { node: this.node, capture: '', src_namespace: '', src_workload: '', src_pod: OTHER, dst_namespace: '', dst_workload: '', dst_pod: OTHER };
  }

  /** The end of a period: busy candidates replace quiet tracked pairs (see the file comment). */
  rerank(): void {
    this.sincePeriod = 0;
    const cands = [...this.candidates.entries()].sort((a, b) => b[1].period - a[1].period);
    const quiet = [...this.tracked.entries()].sort((a, b) => a[1].period - b[1].period);
    let i = 0;
    for (const [key, c] of cands) {
      const victim = quiet[i];
      if (!victim || c.period <= victim[1].period) break;
      i++;
      this.evict(victim[0]);
      this.tracked.set(key, { labels: c.labels, period: 0 });
    }
    this.candidates.clear();
    for (const t of this.tracked.values()) t.period = 0;
  }

  private evict(key: string): void {
    this.tracked.delete(key);
    for (const w of this.written.get(key) ?? []) w.metric.remove(w.labels);
    this.written.delete(key);
  }

  private note(pair: PairLabels, metric: Counter<string> | Histogram<string>, labels: Record<string, string>): void {
    if (pair.src_pod === OTHER && pair.capture === '') return; // `other` is never evicted
    const key = pairKey(pair);
    let list = this.written.get(key);
    if (!list) this.written.set(key, (list = []));
    if (!list.some((w) => w.metric === metric && sameLabels(w.labels, labels))) list.push({ metric, labels });
  }

  private inc(pair: PairLabels, metric: Counter<string>, extra: Record<string, string> = {}): void {
    const labels = { ...pair, ...extra };
    metric.inc(labels);
    this.note(pair, metric, labels);
  }

  private count(rec: PcapRecord, p: PairLabels): void {
    switch (rec.kind) {
      case 'connection': {
        if (rec.protocol !== 'tcp') return;
        const o = connectionOutcome(rec.state);
        if (o.attempted) this.inc(p, this.attempted);
        if (o.established) this.inc(p, this.established);
        if (o.refused) this.inc(p, this.refused);
        if (o.reset) this.inc(p, this.reset);
        if (rec.handshakeRttMs !== null) {
          this.rtt.observe(p, rec.handshakeRttMs / 1000);
          this.note(p, this.rtt, p);
        }
        return;
      }
      case 'dns':
        this.inc(p, this.dnsQueries);
        if (rec.rcode !== 'NOERROR') this.inc(p, this.dnsErrors, { rcode: rec.rcode ?? 'none' });
        return;
      case 'http':
        this.inc(p, this.http, { protocol: 'http1', class: statusClass(rec.status) });
        return;
      case 'http2':
        if (rec.grpc) this.inc(p, this.grpc, { status: rec.grpc.statusName ?? 'none' });
        else this.inc(p, this.http, { protocol: 'http2', class: statusClass(rec.status) });
        return;
    }
  }
}

function pairKey(p: PairLabels): string {
  return JSON.stringify([p.capture, p.src_namespace, p.src_workload, p.src_pod, p.dst_namespace, p.dst_workload, p.dst_pod]);
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
