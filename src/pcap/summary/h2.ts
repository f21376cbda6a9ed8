/**
 * HTTP/2 (h2c) and gRPC per TCP connection: reassembles each direction
 * ({@link ReassemblyDirection}), decodes it ({@link H2Connection}) and aggregates the streams into
 * {@link Http2Summary} and {@link GrpcSummary}; every finished stream also goes to `onTransaction`
 * (the record emitter). A connection whose first payload cannot start HTTP/2 (a preface, an
 * HTTP/1.1 request that may ask for Upgrade, or a server's SETTINGS frame) is dropped at once and
 * costs one byte comparison per packet from then on. A stream recorded at several capture points is
 * counted once ({@link CopyDetector}).
 */
import { TcpFlag } from '../decode.js';
import { grpcStatusName } from '../grpc/grpc.js';
import { H2Connection, type H2Transaction } from '../h2/connection.js';
import { ReassemblyDirection } from '../h2/reassembly.js';
import type { CopyDetector } from './capturepoints.js';
import { FlowSlots, type PacketContext, type PacketTracker } from './context.js';
import type { Flow } from './flow.js';
import { Latency } from './latency.js';
import type { GrpcMethodStats, GrpcSummary, Http2EndpointStats, Http2Summary } from './types.js';

const MAX_TRACKED_ENDPOINTS = 50_000;

/** A finished HTTP/2 stream with the conversation it belongs to. */
export type H2TransactionHandler = (tx: H2Transaction, flow: Flow, clientIsA: boolean) => void;

class H2Flow {
  readonly dirs = [new ReassemblyDirection(), new ReassemblyDirection()] as const;
  counted = false;
  constructor(readonly conn: H2Connection) {}
}

const H2C = Buffer.from('h2c');

/**
 * Can a connection whose first payload (in either direction) is `b[o .. o+len)` be HTTP/2? The
 * preface (`PRI `, or a segment shorter than that), an HTTP/1.x request mentioning `h2c` in its
 * first segment (the Upgrade header), or a server's SETTINGS frame sent before the client's
 * preface. Anything else is decided here, without allocating.
 */
export function mayStartH2(b: Uint8Array, o: number, len: number): boolean {
  const c = b[o]!;
  if (c === 0x50) return len < 4 || (b[o + 1] === 0x52 && b[o + 2] === 0x49 && b[o + 3] === 0x20);
  if (c === 0) {
    // SETTINGS on stream 0, length a multiple of 6 (a header split over segments: undecided, keep)
    if (len < 9) return true;
    return b[o + 3] === 4 && ((b[o + 5]! & 0x7f) | b[o + 6]! | b[o + 7]! | b[o + 8]!) === 0 && ((b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!) % 6 === 0;
  }
  if (c < 0x41 || c > 0x5a) return false;
  return Buffer.from(b.buffer, b.byteOffset + o, len).indexOf(H2C) >= 0;
}

/** Marks a flow that is not HTTP/2. */
const NOT_H2 = new H2Flow(new H2Connection(() => undefined));

export class H2Tracker implements PacketTracker<{ http2: Http2Summary; grpc: GrpcSummary }> {
  private readonly flows = new FlowSlots<H2Flow>();
  private readonly open: { f: Flow; s: H2Flow }[] = [];
  private connections = 0;
  private upgraded = 0;
  private requests = 0;
  private responses = 0;
  private resets = 0;
  private unfinished = 0;
  private readonly statuses = new Map<number, number>();
  private readonly latency = new Latency();
  private readonly endpoints = new Map<string, { s: Http2EndpointStats; lat: Latency }>();
  private calls = 0;
  private readonly grpcStatuses = new Map<string, number>();
  private readonly grpcLatency = new Latency();
  private readonly methods = new Map<string, { s: GrpcMethodStats; lat: Latency }>();
  // the packet being delivered (so that the deliver callback is allocated once)
  private curConn: H2Connection | null = null;
  private curDir = 0;
  private curT = 0;
  private readonly deliver = (b: Uint8Array, off: number, len: number): void => {
    this.curConn!.onData(this.curDir, b, off, len, this.curT);
  };

  constructor(
    private readonly copies: CopyDetector,
    private readonly top: number,
    private readonly onTransaction: H2TransactionHandler | null = null,
  ) {}

  /** A TCP packet with ports (`p.flow` set). */
  onPacket(p: PacketContext): void {
    const f = p.flow;
    let s = this.flows.get(f);
    if (s === NOT_H2) return;
    const d = p.d;
    const len = d.payloadCaptured;
    if (s === null) {
      if (len === 0) return;
      if (!mayStartH2(p.b, d.payloadOffset, len)) {
        this.flows.set(f, NOT_H2);
        return;
      }
      const conn: H2Connection = new H2Connection((tx) => this.onTx(tx, f, conn.client === 0));
      s = new H2Flow(conn);
      this.flows.set(f, s);
      this.open.push({ f, s });
    }
    const dir = p.ab ? 0 : 1;
    const r = s.dirs[dir];
    const conn = s.conn;
    if (len > 0) {
      this.curConn = conn;
      this.curDir = dir;
      this.curT = p.t;
      r.segment(d.seq, p.b, d.payloadOffset, len, this.deliver);
      // bytes cut off by the snapshot length are missing: a gap
      if (len < d.payloadLength) r.lose();
    }
    if ((d.tcpFlags & (TcpFlag.FIN | TcpFlag.RST)) !== 0) r.end();
    if (r.gap) conn.onGap(dir, p.t);
    if (!s.counted && conn.mode === 'h2') {
      s.counted = true;
      this.connections++;
      if (conn.upgraded) this.upgraded++;
    }
    if (conn.done) this.flows.set(f, NOT_H2);
  }

  private onTx(tx: H2Transaction, f: Flow, clientIsA: boolean): void {
    const key = `2${f.tupleKey()}#${f.inst}/${tx.streamId}`;
    const seen = this.copies.seen(key, f.cp, tx.startTime);
    if (!seen.copy) this.count(tx);
    if (this.onTransaction !== null && !seen.copy) this.onTransaction(tx, f, clientIsA);
  }

  private count(tx: H2Transaction): void {
    this.requests++;
    if (tx.status !== null) {
      this.responses++;
      this.statuses.set(tx.status, (this.statuses.get(tx.status) ?? 0) + 1);
    }
    if (tx.end === 'reset') this.resets++;
    else if (tx.end !== 'complete') this.unfinished++;
    if (tx.latencyMs !== null) this.latency.add(tx.latencyMs);
    const g = tx.grpc;
    if (g !== null) {
      this.calls++;
      const st = g.status === null ? 'none' : grpcStatusName(g.status);
      this.grpcStatuses.set(st, (this.grpcStatuses.get(st) ?? 0) + 1);
      if (tx.latencyMs !== null) this.grpcLatency.add(tx.latencyMs);
      const k = `${g.service}/${g.method}`;
      let m = this.methods.get(k);
      if (m === undefined && this.methods.size < MAX_TRACKED_ENDPOINTS) {
        m = { s: { service: g.service, method: g.method, calls: 0, statuses: {}, requestMessages: 0, responseMessages: 0, latency: null }, lat: new Latency() };
        this.methods.set(k, m);
      }
      if (m) {
        m.s.calls++;
        m.s.statuses[st] = (m.s.statuses[st] ?? 0) + 1;
        m.s.requestMessages += g.requestMessages;
        m.s.responseMessages += g.responseMessages;
        if (tx.latencyMs !== null) m.lat.add(tx.latencyMs);
      }
      return;
    }
    const k = `${tx.method} ${tx.path}`;
    let e = this.endpoints.get(k);
    if (e === undefined && this.endpoints.size < MAX_TRACKED_ENDPOINTS) {
      e = { s: { method: tx.method, path: tx.path, requests: 0, statuses: {}, latency: null }, lat: new Latency() };
      this.endpoints.set(k, e);
    }
    if (e) {
      e.s.requests++;
      const sk = tx.status === null ? 'none' : String(tx.status);
      e.s.statuses[sk] = (e.s.statuses[sk] ?? 0) + 1;
      if (tx.latencyMs !== null) e.lat.add(tx.latencyMs);
    }
  }

  /** Ends every connection still open (end of input): its open streams are reported as incomplete. */
  flush(): void {
    for (const { f, s } of this.open) {
      if (this.flows.get(f) !== s) continue;
      s.dirs[0].end();
      s.dirs[1].end();
      s.conn.finish();
      this.flows.set(f, NOT_H2);
    }
    this.open.length = 0;
  }

  finish(): { http2: Http2Summary; grpc: GrpcSummary } {
    this.flush();
    const statuses: Record<string, number> = {};
    for (const [k, v] of [...this.statuses].sort((x, y) => x[0] - y[0])) statuses[String(k)] = v;
    const grpcStatuses: Record<string, number> = {};
    for (const [k, v] of this.grpcStatuses) grpcStatuses[k] = v;
    return {
      http2: {
        connections: this.connections,
        upgraded: this.upgraded,
        requests: this.requests,
        responses: this.responses,
        resets: this.resets,
        unfinished: this.unfinished,
        statuses,
        latency: this.latency.result(),
        endpoints: [...this.endpoints.values()]
          .sort((x, y) => y.s.requests - x.s.requests)
          .slice(0, this.top)
          .map((e) => ({ ...e.s, latency: e.lat.result() })),
      },
      grpc: {
        calls: this.calls,
        statuses: grpcStatuses,
        latency: this.grpcLatency.result(),
        methods: [...this.methods.values()]
          .sort((x, y) => y.s.calls - x.s.calls)
          .slice(0, this.top)
          .map((m) => ({ ...m.s, latency: m.lat.result() })),
      },
    };
  }
}
