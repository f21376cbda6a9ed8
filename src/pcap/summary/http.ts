/**
 * HTTP/1.x over TCP, from the start lines at the beginning of segments (no reassembly): requests by
 * method and endpoint (method + path), responses by status, and request -> response latency (the
 * n-th response on a connection answers its n-th request). Retransmitted segments are ignored; a
 * message recorded at several capture points is counted once ({@link CopyDetector}).
 */
import { parseHttpRequest, parseHttpStatus } from '../http.js';
import type { CopyDetector } from './capturepoints.js';
import { FlowSlots, type PacketContext, type PacketTracker } from './context.js';
import { Latency } from './latency.js';
import type { Flow } from './flow.js';
import { httpRecord, type EndpointMap } from '../records/build.js';
import type { PcapRecord } from '../records/types.js';
import type { HttpEndpointStats, HttpSummary } from './types.js';

const MAX_TRACKED_ENDPOINTS = 50_000;
/** Requests awaiting a response per connection (pipelining depth kept). */
const MAX_PENDING_HTTP = 64;

interface HttpPending {
  t: number;
  /** endpoint key (`METHOD path`) */
  key: string;
  method: string;
  path: string;
  /** the request went from A to B */
  ab: boolean;
  /** a copy of a request already counted at another capture point */
  copy: boolean;
}

export class HttpTracker implements PacketTracker<HttpSummary> {
  private requests = 0;
  private responses = 0;
  private readonly methods = new Map<string, number>();
  private readonly statuses = new Map<number, number>();
  private readonly latency = new Latency();
  private readonly endpoints = new Map<string, { s: HttpEndpointStats; lat: Latency }>();
  /** requests awaiting their response, per flow */
  private readonly pending = new FlowSlots<HttpPending[]>();

  /** `top`: how many endpoints to report. */
  /** flows with requests awaiting a response (for the records of unanswered requests) */
  private readonly pendingFlows: Flow[] = [];

  /** `top`: how many endpoints to report; `sink`: where transaction records go (null: none). */
  constructor(
    private readonly copies: CopyDetector,
    private readonly top: number,
    private readonly sink: ((r: PcapRecord) => void) | null = null,
    private readonly endpointMap: EndpointMap = undefined,
  ) {}

  /** A TCP packet with ports (`p.flow` set, `p.retransmission` decided by the TCP tracker). */
  onPacket(p: PacketContext): void {
    const d = p.d;
    if (p.retransmission || d.payloadCaptured < 12) return;
    const b = p.b;
    const f = p.flow;
    const t = p.t;
    if (b[d.payloadOffset] === 0x48) {
      const status = parseHttpStatus(b, d.payloadOffset, d.payloadCaptured);
      if (status < 0) return;
      const s = this.copies.seen(`h${f.tupleKey()}${p.ab ? '>' : '<'}${d.seq}r`, f.cp, t);
      if (!s.copy) {
        this.responses++;
        this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
      }
      const pending = this.pending.get(f)?.shift();
      if (pending !== undefined && !s.m.matched) {
        s.m.matched = true;
        const ms = (t - pending.t) * 1000;
        this.latency.add(ms);
        const e = this.endpoints.get(pending.key);
        if (e) {
          e.s.statuses[status] = (e.s.statuses[status] ?? 0) + 1;
          e.lat.add(ms);
        }
        if (this.sink !== null) this.sink(httpRecord(pending.t, f, pending.ab, pending.method, pending.path, status, ms, this.endpointMap));
      }
      return;
    }
    const req = parseHttpRequest(b, d.payloadOffset, d.payloadCaptured);
    if (req === undefined) return;
    const key = `${req.method} ${req.path}`;
    const copy = this.copies.seen(`h${f.tupleKey()}${p.ab ? '>' : '<'}${d.seq}q`, f.cp, t).copy;
    if (!copy) {
      this.requests++;
      this.methods.set(req.method, (this.methods.get(req.method) ?? 0) + 1);
      let e = this.endpoints.get(key);
      if (e === undefined && this.endpoints.size < MAX_TRACKED_ENDPOINTS) {
        e = { s: { method: req.method, path: req.path, requests: 0, statuses: {}, latency: null }, lat: new Latency() };
        this.endpoints.set(key, e);
      }
      if (e) e.s.requests++;
    }
    let q = this.pending.get(f);
    if (q === null) {
      q = [];
      this.pending.set(f, q);
      this.pendingFlows.push(f);
    }
    if (q.length < MAX_PENDING_HTTP) q.push({ t, key, method: req.method, path: req.path, ab: p.ab, copy });
  }

  /** Records of the requests still unanswered (status null), once; call at the end of input. */
  flushRecords(): void {
    if (this.sink === null) return;
    for (const f of this.pendingFlows) {
      const q = this.pending.get(f);
      if (q === null) continue;
      for (const r of q) if (!r.copy) this.sink(httpRecord(r.t, f, r.ab, r.method, r.path, null, null, this.endpointMap));
      q.length = 0;
    }
  }

  finish(): HttpSummary {
    const methods: Record<string, number> = {};
    for (const [k, v] of this.methods) methods[k] = v;
    const statuses: Record<string, number> = {};
    for (const [k, v] of [...this.statuses].sort((x, y) => x[0] - y[0])) statuses[String(k)] = v;
    return {
      requests: this.requests,
      responses: this.responses,
      methods,
      statuses,
      latency: this.latency.result(),
      endpoints: [...this.endpoints.values()]
        .sort((x, y) => y.s.requests - x.s.requests)
        .slice(0, this.top)
        .map((e) => ({ ...e.s, latency: e.lat.result() })),
    };
  }
}
