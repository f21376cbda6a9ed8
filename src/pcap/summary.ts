/**
 * Traffic summary: conversations (TCP, UDP, ICMP, ICMPv6, other IP), top talkers, TCP health,
 * DNS and HTTP/1.x. {@link Summarizer} is pure (fed packets, returns a plain {@link Summary});
 * {@link summarizeFiles} is the thin shell that reads files.
 *
 * Structure: {@link Summarizer} is the loop. For each record it resolves the capture point, counts
 * the record ({@link Totals}), decodes it once into a reused {@link PacketContext}, finds its
 * conversation ({@link Conversations}) and hands it to the trackers of its protocol, each with one
 * job and its own state: {@link TcpTracker}, {@link HttpTracker} (after TCP: it skips what TCP
 * flagged as a retransmission), {@link DnsTracker}. `finish()` asks each for its part of the
 * result. A new tracker (HTTP/2, gRPC, ...) implements PacketTracker (./summary/context.ts) in its
 * own file under ./summary/ and gets one call in {@link Summarizer.addPacket} and one in {@link
 * Summarizer.finish}.
 *
 * Definitions (see docs/pcap-library.md for how they relate to tshark):
 * - A TCP conversation is one connection: the 4-tuple, split again when a new SYN with a different
 *   initial sequence number arrives after the previous connection closed (FIN or RST), as tshark
 *   splits `tcp.stream`. UDP/ICMP conversations are keyed by addresses (and ports for UDP).
 * - Endpoint A of a conversation is the source of its first packet.
 * - Bytes are frame lengths on the wire (original length), as in tshark's conversation table.
 * - Retransmission: a segment carrying data, SYN or FIN whose sequence number is below the highest
 *   sequence number already seen in that direction, that is not a keep-alive and not an
 *   out-of-order segment (arriving within the out-of-order window after the previous segment in
 *   that direction and not ending exactly at the highest sequence number seen).
 * - Handshake RTT: time from the client's SYN to the ACK that completes the handshake, as seen at
 *   the capture point.
 * - Capture points: every interface of every input file is one capture point (a merged
 *   `kubectl pcap capture` file has one interface per pod, so a packet between two captured pods is
 *   recorded twice). TCP, DNS and HTTP are analysed per capture point; a conversation seen at
 *   several is reported once, with the packets of the capture point that saw the most
 *   (`capturePoints`, `packetsAllCapturePoints`); a DNS/HTTP message recorded at several capture
 *   points is counted once. `perCapturePoint: false` restores tshark's view (one capture point).
 */
import { decodePacket, IpProto } from './decode.js';
import { CaptureReader, drain, type PacketView } from './reader.js';
import { PcapFormatError, PcapIoError } from './errors.js';
import { CapturePoints, CopyDetector } from './summary/capturepoints.js';
import { PacketContext } from './summary/context.js';
import { Conversations, topTalkers } from './summary/conversations.js';
import { DnsTracker } from './summary/dns.js';
import { H2Tracker } from './summary/h2.js';
import { HttpTracker } from './summary/http.js';
import { TcpTracker } from './summary/tcp.js';
import type { Flow } from './summary/flow.js';
import { Totals } from './summary/totals.js';
import { connectionRecord, http2Record } from './records/build.js';
import type { Summary, SummaryOptions } from './summary/types.js';

export type {
  Conversation,
  DnsNameStats,
  DnsSummary,
  Endpoint,
  GrpcMethodStats,
  GrpcSummary,
  Http2EndpointStats,
  Http2Summary,
  HttpEndpointStats,
  HttpSummary,
  LatencySummary,
  Summary,
  SummaryOptions,
  Talker,
  TcpHealth,
  TcpState,
  TcpSummary,
} from './summary/types.js';

/** Incremental summary over packets; pure apart from the packets it is fed. */
export class Summarizer {
  private readonly p = new PacketContext();
  private readonly perCp: boolean;
  private readonly top: number;
  private fileIndex = 0;
  private readonly files: string[] = [];
  private readonly errors: string[] = [];
  private readonly capturePoints = new CapturePoints();
  private readonly copies: CopyDetector;
  private readonly totals = new Totals();
  private readonly tcp = new TcpTracker();
  private readonly conversations: Conversations;
  private readonly dns: DnsTracker;
  private readonly http: HttpTracker;
  private readonly h2: H2Tracker;
  /** Live expiry ({@link expireConnections}): flow ids not recorded yet, and those already recorded. */
  private readonly live: number[] = [];
  private liveSeen = 0;
  private readonly recorded = new Set<string>();

  constructor(private readonly opts: SummaryOptions = {}) {
    this.perCp = opts.perCapturePoint !== false;
    this.top = opts.top ?? 20;
    this.copies = new CopyDetector(this.perCp);
    this.conversations = new Conversations(this.tcp, opts.endpoints);
    const sink = opts.onRecord ?? null;
    const eps = opts.endpoints;
    this.dns = new DnsTracker(this.copies, this.top, sink, eps);
    this.http = new HttpTracker(this.copies, this.top, sink, eps);
    this.h2 = new H2Tracker(this.copies, this.top, sink === null ? null : (tx, flow, clientIsA) => sink(http2Record(tx, flow, clientIsA, eps)));
  }

  /** Records the name of an input file; the packets added after it belong to its capture points. */
  addFile(name: string): void {
    this.files.push(name);
    this.fileIndex = this.files.length - 1;
  }

  /**
   * Announces that `count` files will be added one after the other, so that copies of a DNS/HTTP
   * message in a later file are recognised (call before the first packet when count > 1).
   */
  expectFiles(count: number): void {
    this.copies.severalFiles = count > 1;
  }

  /** Records a format problem (the summary still covers the packets before it). */
  addError(message: string): void {
    this.errors.push(message);
  }

  /** Adds one packet. */
  add(p: PacketView): void {
    this.addPacket(p.data, p.dataOffset, p.caplen, p.origLen, p.linkType, p.tsSec, p.tsNsec, p.interfaceId);
  }

  /** Adds one packet given by its fields (`interfaceId`: the capture point within the current file). */
  addPacket(b: Buffer, off: number, caplen: number, origLen: number, linkType: number, tsSec: number, tsNsec: number, interfaceId = 0): void {
    const cp = this.capturePoints.id(this.fileIndex, interfaceId);
    this.totals.onRecord(caplen, origLen, linkType, tsSec, tsNsec);
    const p = this.p;
    const d = p.d;
    const ok = decodePacket(b, off, caplen, linkType, d);
    this.totals.onDecoded(ok, d);
    if (!ok || d.ipVersion === 0) return;
    p.b = b;
    p.t = tsSec + tsNsec * 1e-9;
    p.cp = this.perCp ? cp : 0;
    p.origLen = origLen;
    this.conversations.onPacket(p);
    // per-protocol trackers; the order matters only where stated (HTTP after TCP)
    if (!d.transport) return;
    if (d.proto === IpProto.TCP) {
      this.tcp.onPacket(p);
      this.http.onPacket(p);
      this.h2.onPacket(p);
    } else if (d.proto === IpProto.UDP) {
      this.dns.onPacket(p);
    }
  }

  /**
   * Records only (`onRecord`): emits now the connection record of every connection that ended (TCP:
   * FIN both ways, a reset or a refused SYN) at least `closedSeconds` before `now`, or that has been
   * idle for `idleSeconds` (any protocol); `finish()` then skips them. `now` is in the packets' clock
   * (seconds since the epoch). The record covers the packets seen until then; packets of that
   * connection after it (a late ACK) still count in the summary. Only for one capture point (a
   * live target): with several, connections are grouped at the end and this emits nothing (a
   * connection recorded early is not recorded again at the end, at any capture point).
   * Returns how many records it emitted. The summary itself is unchanged.
   */
  expireConnections(now: number, idleSeconds: number, closedSeconds: number): number {
    const sink = this.opts.onRecord;
    if (sink === undefined || (this.perCp && this.capturePoints.count > 1)) return 0;
    for (; this.liveSeen < this.conversations.size; this.liveSeen++) this.live.push(this.liveSeen);
    let n = 0;
    let w = 0;
    for (const id of this.live) {
      const f = this.conversations.flowAt(id);
      if (f === undefined) continue;
      const tcp = f.proto === IpProto.TCP ? this.tcp.connection(f) : null;
      const ended = tcp !== null && (tcp.resets > 0 || tcp.refused || (tcp.finA && tcp.finB));
      const age = now - f.last;
      if (age >= idleSeconds || (ended && age >= closedSeconds)) {
        sink(connectionRecord(f, this.conversations.conversationOf(f), tcp, this.opts.endpoints));
        this.recorded.add(groupKey(f));
        n++;
      } else this.live[w++] = id;
    }
    this.live.length = w;
    return n;
  }

  /** The summary of everything added so far. */
  finish(): Summary {
    const totals = this.totals.finish();
    const reported = this.conversations.finish(this.perCp && this.capturePoints.count > 1);
    const tcp = this.tcp.finish(reported);
    const { http2, grpc } = this.h2.finish();
    const sink = this.opts.onRecord;
    if (sink !== undefined) {
      this.dns.flushRecords();
      this.http.flushRecords();
      for (const r of reported) if (!this.recorded.has(groupKey(r.flow))) sink(connectionRecord(r.flow, r.conversation, this.tcp.connection(r.flow), this.opts.endpoints));
    }
    const topTalkersList = topTalkers(reported, this.opts.endpoints, this.top);
    const conversations = reported.map((r) => r.conversation).sort((x, y) => y.bytes - x.bytes || x.firstTime - y.firstTime);
    return {
      files: [...this.files],
      packets: totals.packets,
      capturePoints: this.capturePoints.count,
      bytes: totals.bytes,
      capturedBytes: totals.capturedBytes,
      firstTime: totals.firstTime,
      lastTime: totals.lastTime,
      durationSeconds: totals.durationSeconds,
      linkTypes: totals.linkTypes,
      protocols: totals.protocols,
      conversations,
      topTalkers: topTalkersList,
      tcp,
      dns: this.dns.finish(),
      http: this.http.finish(),
      http2,
      grpc,
      errors: [...this.errors],
    };
  }
}

/** A connection's identity across capture points (the key of Conversations.finish's groups). */
function groupKey(f: Flow): string {
  return `${f.proto}/${f.tupleKey()}#${f.inst}`;
}

/**
 * Summarises capture files (their packets are combined in file order). A format problem in a file
 * is recorded in `summary.errors` and returned in `errors` (as typed errors); the summary still
 * covers every packet before it.
 */
export async function summarizeFiles(paths: readonly string[], opts: SummaryOptions = {}): Promise<{ summary: Summary; errors: (PcapFormatError | PcapIoError)[] }> {
  const s = new Summarizer(opts);
  s.expectFiles(paths.length);
  const errors: (PcapFormatError | PcapIoError)[] = [];
  for (const path of paths) {
    s.addFile(path);
    try {
      const r = await CaptureReader.open(path, { syncReads: opts.syncReads ?? false });
      await drain(r, (p) => s.add(p));
    } catch (err) {
      if (err instanceof PcapFormatError || err instanceof PcapIoError) {
        errors.push(err);
        s.addError(err.message);
      } else throw err;
    }
  }
  return { summary: s.finish(), errors };
}
