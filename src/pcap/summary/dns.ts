/**
 * DNS over UDP port 53: queries, responses, answer records, response codes, per-name counts and
 * query -> response latency. A query is answered when its response (same flow, reversed direction,
 * same id) is seen at the same capture point; a message recorded at several capture points is
 * counted once ({@link CopyDetector}).
 */
import { decodeDns, qtypeName, rcodeName } from '../dns.js';
import type { CopyDetector } from './capturepoints.js';
import type { PacketContext, PacketTracker } from './context.js';
import { Latency } from './latency.js';
import type { Flow } from './flow.js';
import { dnsRecord, type EndpointMap } from '../records/build.js';
import type { PcapRecord } from '../records/types.js';

interface DnsPending {
  t: number;
  id: number;
  qname: string;
  qtype: string;
  flow: Flow;
  /** the query went from A to B */
  ab: boolean;
  copy: boolean;
}
import type { DnsNameStats, DnsSummary } from './types.js';

const MAX_TRACKED_NAMES = 50_000;
const MAX_PENDING_DNS = 100_000;

export class DnsTracker implements PacketTracker<DnsSummary> {
  private queries = 0;
  private responses = 0;
  private answers = 0;
  private matched = 0;
  private readonly rcodes = new Map<number, number>();
  /** query time by (capture point, flow, direction, id) */
  private readonly pending = new Map<string, number>();
  /** the queries behind `pending`, kept only when records are wanted */
  private readonly pendingQueries = new Map<string, DnsPending>();
  private readonly latency = new Latency();
  private readonly names = new Map<string, DnsNameStats>();

  /** `top`: how many names to report. */
  constructor(
    private readonly copies: CopyDetector,
    private readonly top: number,
    private readonly sink: ((r: PcapRecord) => void) | null = null,
    private readonly endpointMap: EndpointMap = undefined,
  ) {}

  /** A UDP packet with ports (`p.flow` set); only port 53 is looked at. */
  onPacket(p: PacketContext): void {
    const d = p.d;
    if ((d.srcPort !== 53 && d.dstPort !== 53) || d.payloadCaptured < 12) return;
    const h = decodeDns(p.b, d.payloadOffset, d.payloadCaptured);
    if (h === undefined) return;
    const ab = p.ab;
    const t = p.t;
    const cp = p.cp;
    const flowKey = p.flow.tupleKey();
    const s = this.copies.seen(`d${flowKey}${ab ? '>' : '<'}${h.id}${h.qr ? 'r' : 'q'}`, cp, t);
    // pending queries are per capture point: an answer matches the query seen at the same one
    const cpKey = cp === 0 ? flowKey : `${cp}|${flowKey}`;
    const pk = `${cpKey}${ab ? '>' : '<'}${h.id}`;
    const name = h.qname ?? '?';
    const nk = `${name}\u0000${h.qtype}`;
    let ns = this.names.get(nk);
    if (ns === undefined && this.names.size < MAX_TRACKED_NAMES) {
      ns = { name, qtype: qtypeName(h.qtype), queries: 0, responses: 0, rcodes: {} };
      this.names.set(nk, ns);
    }
    if (!h.qr) {
      if (!s.copy) {
        this.queries++;
        if (ns) ns.queries++;
      }
      if (this.pending.size < MAX_PENDING_DNS && !this.pending.has(pk)) {
        this.pending.set(pk, t);
        if (this.sink !== null) this.pendingQueries.set(pk, { t, id: h.id, qname: name, qtype: qtypeName(h.qtype), flow: p.flow, ab, copy: s.copy });
      }
      return;
    }
    if (!s.copy) {
      this.responses++;
      this.answers += h.ancount;
      const rc = rcodeName(h.rcode);
      this.rcodes.set(h.rcode, (this.rcodes.get(h.rcode) ?? 0) + 1);
      if (ns) {
        ns.responses++;
        ns.rcodes[rc] = (ns.rcodes[rc] ?? 0) + 1;
      }
    }
    const qk = `${cpKey}${ab ? '<' : '>'}${h.id}`;
    const qt = this.pending.get(qk);
    if (qt !== undefined) {
      this.pending.delete(qk);
      const q0 = this.sink !== null ? this.pendingQueries.get(qk) : undefined;
      if (q0 !== undefined) this.pendingQueries.delete(qk);
      if (!s.m.matched) {
        s.m.matched = true;
        this.matched++;
        const ms = (t - qt) * 1000;
        this.latency.add(ms);
        if (q0 !== undefined && this.sink !== null) this.sink(dnsRecord(q0.t, q0.flow, q0.ab, q0, rcodeName(h.rcode), h.ancount, ms, this.endpointMap));
      }
    }
  }

  /** Records of the queries still unanswered (rcode null), once; call at the end of input. */
  flushRecords(): void {
    if (this.sink === null) return;
    for (const q of this.pendingQueries.values()) if (!q.copy) this.sink(dnsRecord(q.t, q.flow, q.ab, q, null, null, null, this.endpointMap));
    this.pendingQueries.clear();
  }

  finish(): DnsSummary {
    const rcodes: Record<string, number> = {};
    for (const [k, v] of [...this.rcodes].sort((x, y) => x[0] - y[0])) rcodes[rcodeName(k)] = v;
    return {
      queries: this.queries,
      responses: this.responses,
      answers: this.answers,
      unanswered: Math.max(0, this.queries - this.matched),
      rcodes,
      latency: this.latency.result(),
      names: [...this.names.values()].sort((x, y) => y.queries + y.responses - (x.queries + x.responses)).slice(0, this.top),
    };
  }
}
