/**
 * Traffic summary: conversations (TCP, UDP, ICMP, ICMPv6, other IP), top talkers, TCP health,
 * DNS and HTTP/1.x. {@link Summarizer} is pure (fed packets, returns a plain {@link Summary});
 * {@link summarizeFiles} is the thin shell that reads files.
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
import { Decoded, decodePacket, formatIPv4, formatIPv6, IpProto, TcpFlag, EtherType } from './decode.js';
import { decodeDns, rcodeName, qtypeName } from './dns.js';
import { parseHttpRequest, parseHttpStatus } from './http.js';
import { CaptureReader, drain, type PacketView } from './reader.js';
import { PcapFormatError, PcapIoError } from './errors.js';
import { endpointLabel, type EndpointInfo } from './metadata.js';
import { formatTimestamp } from './time.js';
import { Ipv4FlowTable } from './flowtable.js';

/** One side of a conversation. */
export interface Endpoint {
  address: string;
  /** TCP/UDP port (absent for ICMP and other protocols). */
  port?: number;
  /** `namespace/pod` or `node:NAME` when capture metadata knows the address. */
  name?: string;
  pod?: string;
  namespace?: string;
  node?: string;
}

export type TcpState = 'completed' | 'refused' | 'syn-unanswered' | 'syn-ack-unacked' | 'no-handshake';

export interface TcpHealth {
  state: TcpState;
  resets: number;
  retransmissions: number;
  /** Handshake round trip (SYN -> handshake ACK) in milliseconds. */
  rttMs?: number;
  /** Which side sent the SYN ("a" or "b") when a handshake was seen. */
  client?: 'a' | 'b';
  finA: boolean;
  finB: boolean;
}

export interface Conversation {
  /** tcp, udp, icmp, icmpv6, ospf, gre, ..., `ip/N` for other IP protocols, `ip` for IP packets whose TCP/UDP header is cut short. */
  protocol: string;
  a: Endpoint;
  b: Endpoint;
  packets: number;
  bytes: number;
  packetsAtoB: number;
  bytesAtoB: number;
  packetsBtoA: number;
  bytesBtoA: number;
  /** Seconds since the epoch (fractional). */
  firstTime: number;
  lastTime: number;
  durationSeconds: number;
  tcp?: TcpHealth;
  /**
   * How many capture points (interfaces of the input files) saw this conversation. The packet,
   * byte, time and TCP figures above are those of one of them (the one that saw the most packets).
   */
  capturePoints: number;
  /** Packets at all capture points together (= `packets` when `capturePoints` is 1; tshark's count). */
  packetsAllCapturePoints: number;
  bytesAllCapturePoints: number;
}

export interface LatencySummary {
  count: number;
  minMs: number;
  avgMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface Talker {
  address: string;
  name?: string;
  packets: number;
  bytes: number;
}

export interface DnsNameStats {
  name: string;
  qtype: string;
  queries: number;
  responses: number;
  rcodes: Record<string, number>;
}

export interface DnsSummary {
  queries: number;
  responses: number;
  /** Answer records in all responses (sum of ANCOUNT). */
  answers: number;
  unanswered: number;
  rcodes: Record<string, number>;
  latency: LatencySummary | null;
  names: DnsNameStats[];
}

export interface HttpEndpointStats {
  method: string;
  path: string;
  requests: number;
  statuses: Record<string, number>;
  latency: LatencySummary | null;
}

export interface HttpSummary {
  requests: number;
  responses: number;
  methods: Record<string, number>;
  statuses: Record<string, number>;
  latency: LatencySummary | null;
  endpoints: HttpEndpointStats[];
}

export interface TcpSummary {
  connections: number;
  completed: number;
  refused: number;
  synUnanswered: number;
  synAckUnacked: number;
  noHandshake: number;
  resets: number;
  retransmissions: number;
  segments: number;
  handshakeRtt: LatencySummary | null;
}

export interface Summary {
  files: string[];
  /** Records in the input (a packet recorded at two capture points counts twice). */
  packets: number;
  /** Interfaces (of all input files) that recorded at least one packet. */
  capturePoints: number;
  /** Sum of original (wire) lengths. */
  bytes: number;
  capturedBytes: number;
  firstTime: string | null;
  lastTime: string | null;
  durationSeconds: number;
  linkTypes: Record<string, number>;
  protocols: Record<string, number>;
  conversations: Conversation[];
  topTalkers: Talker[];
  tcp: TcpSummary;
  dns: DnsSummary;
  http: HttpSummary;
  /** Format problems (one line each); the summary covers every packet before each problem. */
  errors: string[];
}

export interface SummaryOptions {
  /** IP -> owner, from capture metadata ({@link endpointMap}). */
  endpoints?: ReadonlyMap<string, EndpointInfo>;
  /** How many talkers, DNS names and HTTP endpoints to keep in the result (default 20). */
  top?: number;
  /**
   * Analyse TCP/DNS/HTTP per capture point (interface of an input file) and report a conversation
   * seen at several capture points once (default true). false: all packets form one stream, as in
   * tshark (conversation counts sum over interfaces, a copy of a packet is a retransmission).
   */
  perCapturePoint?: boolean;
  /** Read files with fs.readSync ({@link summarizeFiles}; faster for command-line use). */
  syncReads?: boolean;
}

/** Reservoir of latency samples (bounded) with exact count/min/max/avg. */
class Latency {
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;
  private readonly samples: number[] = [];
  private seed = 0x2545f491;
  add(ms: number): void {
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    if (this.samples.length < 8192) this.samples.push(ms);
    else {
      this.seed = (Math.imul(this.seed, 1103515245) + 12345) >>> 0;
      const j = this.seed % this.count;
      if (j < 8192) this.samples[j] = ms;
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

const MAX_TRACKED_NAMES = 50_000;
const MAX_PENDING_DNS = 100_000;
const MAX_PENDING_HTTP = 64;
/** Out-of-order window when no handshake RTT is known (tshark uses 3 ms too). */
const OOO_DEFAULT_SECONDS = 0.003;
/** A DNS/HTTP message seen at another capture point within this time is a copy of the same message. */
const COPY_WINDOW_SECONDS = 2;
const MAX_SEEN_MESSAGES = 100_000;

/** A DNS/HTTP message (capture-point independent identity) and where it was seen. */
interface SeenMessage {
  k: string;
  t: number;
  cps: number[];
  /** a response that was already paired with its request at some capture point */
  matched: boolean;
}

interface HttpPending {
  t: number;
  key: string;
}

/** Mutable per-conversation state. */
class Flow {
  // endpoints
  aAddr = '';
  bAddr = '';
  aPort = -1;
  bPort = -1;
  /** true when A is the lexically lower (address, port) side used in the key */
  aIsLo = true;
  pktsAB = 0;
  bytesAB = 0;
  pktsBA = 0;
  bytesBA = 0;
  first = 0;
  last = 0;
  // TCP
  synTime = -1;
  synSeq = -1;
  clientIsA = true;
  synAckTime = -1;
  hsDone = false;
  rttMs = -1;
  refused = false;
  resets = 0;
  finA = false;
  finB = false;
  retrans = 0;
  nextA = 0;
  nextB = 0;
  nextSetA = false;
  nextSetB = false;
  nextTimeA = 0;
  nextTimeB = 0;
  lastAckA = 0;
  lastAckB = 0;
  ackTimeA = 0;
  ackTimeB = 0;
  winA = -1;
  winB = -1;
  dupA = 0;
  dupB = 0;
  /** seconds from the most recent SYN to the handshake ACK (out-of-order window) */
  firstRtt = 0;
  lastSynTime = -1;
  http: HttpPending[] | undefined;
  segs = 0;
  /** order in which handshakes completed (RTT samples are added in this order) */
  hsOrder = -1;
  /** capture point (0 unless per-capture-point analysis sees several) */
  cp = 0;
  /** n-th connection on this tuple at this capture point (port reuse) */
  inst = 0;
  /** capture-point independent tuple key: IPv6 string key, or the IPv4 numbers */
  gKey = '';
  ga = 0;
  gb = 0;
  gp = 0;
  constructor(readonly proto: number) {}
  tupleKey(): string {
    return this.gKey || `${this.ga}:${this.gb}:${this.gp}`;
  }
}

function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6', 2: 'igmp', 47: 'gre', 50: 'esp', 51: 'ah', 89: 'ospf', 103: 'pim', 112: 'vrrp', 132: 'sctp' };

/** Incremental summary over packets; pure apart from the packets it is fed. */
export class Summarizer {
  private readonly d = new Decoded();
  /** IPv6 (and fallback) conversations by string key; IPv4 ones in {@link v4}. */
  private readonly flows = new Map<string, Flow>();
  private readonly v4 = new Ipv4FlowTable();
  private readonly all: Flow[] = [];
  private packets = 0;
  private bytes = 0;
  private captured = 0;
  private firstSec = Infinity;
  private firstNsec = 0;
  private lastSec = -Infinity;
  private lastNsec = 0;
  private readonly linkTypes = new Map<number, number>();
  private lastLinkType = -1;
  private lastLinkCount = 0;
  private readonly protocols = { ipv4: 0, ipv6: 0, arp: 0, tcp: 0, udp: 0, icmp: 0, icmpv6: 0, otherIp: 0, nonIp: 0 };
  private hsCount = 0;
  // capture points: (file index, interface id) -> dense id
  private fileIndex = 0;
  private readonly cpIds = new Map<number, number>();
  private cacheFile = -1;
  private cacheIf = -1;
  private cacheCp = 0;
  private readonly perCp: boolean;
  private readonly seenMessages = new Map<string, SeenMessage>();
  private readonly seenQueue: SeenMessage[] = [];
  private seenHead = 0;
  private severalFiles = false;
  // DNS
  private dnsQueries = 0;
  private dnsResponses = 0;
  private dnsAnswers = 0;
  private readonly dnsRcodes = new Map<number, number>();
  private readonly dnsPending = new Map<string, number>();
  private readonly dnsLatency = new Latency();
  private readonly dnsNames = new Map<string, DnsNameStats>();
  private dnsMatched = 0;
  // HTTP
  private httpRequests = 0;
  private httpResponses = 0;
  private readonly httpMethods = new Map<string, number>();
  private readonly httpStatuses = new Map<number, number>();
  private readonly httpLatency = new Latency();
  private readonly httpEndpoints = new Map<string, { s: HttpEndpointStats; lat: Latency }>();
  private readonly errors: string[] = [];
  private readonly files: string[] = [];

  constructor(private readonly opts: SummaryOptions = {}) {
    this.perCp = opts.perCapturePoint !== false;
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
    this.severalFiles = count > 1;
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
    this.packets++;
    if (interfaceId !== this.cacheIf || this.fileIndex !== this.cacheFile) {
      const k = this.fileIndex * 0x100000000 + interfaceId;
      let id = this.cpIds.get(k);
      if (id === undefined) {
        id = this.cpIds.size;
        this.cpIds.set(k, id);
      }
      this.cacheIf = interfaceId;
      this.cacheFile = this.fileIndex;
      this.cacheCp = id;
    }
    const cp = this.perCp ? this.cacheCp : 0;
    this.bytes += origLen;
    this.captured += caplen;
    if (tsSec < this.firstSec || (tsSec === this.firstSec && tsNsec < this.firstNsec)) {
      this.firstSec = tsSec;
      this.firstNsec = tsNsec;
    }
    if (tsSec > this.lastSec || (tsSec === this.lastSec && tsNsec > this.lastNsec)) {
      this.lastSec = tsSec;
      this.lastNsec = tsNsec;
    }
    if (linkType !== this.lastLinkType) this.switchLinkType(linkType);
    this.lastLinkCount++;
    const d = this.d;
    if (!decodePacket(b, off, caplen, linkType, d)) {
      this.protocols.nonIp++;
      return;
    }
    if (d.ipVersion === 0) {
      if (d.etherType === EtherType.ARP || d.etherType === EtherType.RARP) this.protocols.arp++;
      else this.protocols.nonIp++;
      return;
    }
    if (d.ipVersion === 4) this.protocols.ipv4++;
    else this.protocols.ipv6++;
    const t = tsSec + tsNsec * 1e-9;
    const proto = d.proto;
    const hasPorts = d.transport && (proto === IpProto.TCP || proto === IpProto.UDP);
    if (proto === IpProto.TCP) {
      if (hasPorts) this.protocols.tcp++;
      else this.protocols.otherIp++;
    } else if (proto === IpProto.UDP) {
      if (hasPorts) this.protocols.udp++;
      else this.protocols.otherIp++;
    } else if (proto === IpProto.ICMP) this.protocols.icmp++;
    else if (proto === IpProto.ICMPV6) this.protocols.icmpv6++;
    else this.protocols.otherIp++;
    const flowProto = hasPorts ? proto : proto === IpProto.TCP || proto === IpProto.UDP ? 255 : proto;
    const sp = hasPorts ? d.srcPort : 0;
    const dp = hasPorts ? d.dstPort : 0;
    // canonical key: lower (address, port) first
    let lo: boolean;
    let f: Flow | undefined;
    let key = '';
    let v4a = 0;
    let v4b = 0;
    let v4p = 0;
    if (d.ipVersion === 4) {
      const s = d.src4;
      const r = d.dst4;
      lo = s < r || (s === r && sp <= dp);
      v4a = lo ? s : r;
      v4b = lo ? r : s;
      v4p = lo ? (sp << 16) | dp : (dp << 16) | sp;
      const idx = this.v4.get(flowProto | (cp << 8), v4a, v4b, v4p);
      f = idx >= 0 ? this.all[idx] : undefined;
    } else {
      const c = b.compare(b, d.dst6, d.dst6 + 16, d.src6, d.src6 + 16); // src vs dst
      lo = c < 0 || (c === 0 && sp <= dp);
      const sa = b.toString('latin1', d.src6, d.src6 + 16);
      const da = b.toString('latin1', d.dst6, d.dst6 + 16);
      key = lo
        ? `6${String.fromCharCode(flowProto, sp)}${sa}${String.fromCharCode(dp)}${da}`
        : `6${String.fromCharCode(flowProto, dp)}${da}${String.fromCharCode(sp)}${sa}`;
      f = this.flows.get(cp === 0 ? key : `${cp}|${key}`);
    }
    const isTcp = flowProto === IpProto.TCP;
    let inst = 0;
    if (f !== undefined && isTcp && (d.tcpFlags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN && f.synSeq >= 0 && f.synSeq !== d.seq && (f.resets > 0 || (f.finA && f.finB) || f.refused)) {
      inst = f.inst + 1;
      f = undefined; // port reuse: a new connection
    }
    if (f === undefined) {
      f = new Flow(flowProto);
      f.aIsLo = lo;
      f.cp = cp;
      f.inst = inst;
      f.gKey = key;
      f.ga = v4a;
      f.gb = v4b;
      f.gp = v4p;
      f.aAddr = d.ipVersion === 4 ? formatIPv4(d.src4) : formatIPv6(b, d.src6);
      f.bAddr = d.ipVersion === 4 ? formatIPv4(d.dst4) : formatIPv6(b, d.dst6);
      if (hasPorts) {
        f.aPort = sp;
        f.bPort = dp;
      }
      f.first = t;
      if (d.ipVersion === 4) this.v4.set(flowProto | (cp << 8), v4a, v4b, v4p, this.all.length);
      else this.flows.set(cp === 0 ? key : `${cp}|${key}`, f);
      this.all.push(f);
    }
    const ab = lo === f.aIsLo;
    if (ab) {
      f.pktsAB++;
      f.bytesAB += origLen;
    } else {
      f.pktsBA++;
      f.bytesBA += origLen;
    }
    f.last = t;
    if (isTcp) this.tcp(f, ab, t, b);
    else if (flowProto === IpProto.UDP && (sp === 53 || dp === 53) && d.payloadCaptured >= 12) this.dns(b, key || `${v4a}:${v4b}:${v4p}`, ab, t, cp);
  }

  private switchLinkType(linkType: number): void {
    if (this.lastLinkType >= 0) this.linkTypes.set(this.lastLinkType, (this.linkTypes.get(this.lastLinkType) ?? 0) + this.lastLinkCount);
    this.lastLinkType = linkType;
    this.lastLinkCount = 0;
  }

  private tcp(f: Flow, ab: boolean, t: number, b: Buffer): void {
    const d = this.d;
    const flags = d.tcpFlags;
    const seq = d.seq;
    const seglen = d.payloadLength;
    f.segs++;
    const syn = (flags & TcpFlag.SYN) !== 0;
    const ackf = (flags & TcpFlag.ACK) !== 0;
    const fin = (flags & TcpFlag.FIN) !== 0;
    const rst = (flags & TcpFlag.RST) !== 0;
    const fromClient = ab === f.clientIsA;
    // handshake
    if (syn && !ackf) {
      f.lastSynTime = t;
      if (f.synTime < 0) {
        f.synTime = t;
        f.synSeq = seq;
        f.clientIsA = ab;
      }
    } else if (syn && ackf) {
      if (f.synTime >= 0 && !fromClient && f.synAckTime < 0) f.synAckTime = t;
    } else if (ackf && !rst && f.synAckTime >= 0 && !f.hsDone && fromClient) {
      f.hsDone = true;
      f.rttMs = (t - f.synTime) * 1000;
      f.firstRtt = t - f.lastSynTime;
      f.hsOrder = this.hsCount++;
    }
    if (rst) {
      f.resets++;
      if (f.synTime >= 0 && f.synAckTime < 0 && !fromClient) f.refused = true;
    }
    if (fin) {
      if (ab) f.finA = true;
      else f.finB = true;
    }
    // sequence analysis (per direction), following Wireshark's tcp_analyze_sequence_number()
    const ack = ackf ? d.ack : 0;
    const synfin = syn || fin ? 1 : 0;
    const nextSet = ab ? f.nextSetA : f.nextSetB;
    const next = ab ? f.nextA : f.nextB;
    const keepAlive = seglen <= 1 && !syn && !fin && !rst && nextSet && ((seq + 1) >>> 0) === next;
    // duplicate ACKs (needed for fast retransmissions)
    const fLastAck = ab ? f.lastAckA : f.lastAckB;
    if (seglen === 0 && d.window !== 0 && d.window === (ab ? f.winA : f.winB) && nextSet && seq === next && ack === fLastAck && !syn && !fin && !rst) {
      if (ab) f.dupA++;
      else f.dupB++;
    } else if (ack !== fLastAck) {
      if (ab) f.dupA = 0;
      else f.dupB = 0;
    }
    let retrans = false;
    if ((seglen > 0 || synfin === 1) && !keepAlive) {
      let notAdvanced = nextSet && seqLt(seq, next);
      if (seglen > 1 && ((next - 1) >>> 0) === seq) notAdvanced = false;
      const rLastAck = ab ? f.lastAckB : f.lastAckA;
      if (seglen > 0 && rLastAck !== 0 && !seqLt(rLastAck, (seq + seglen) >>> 0)) {
        retrans = true; // spurious retransmission: already acknowledged
      } else if (notAdvanced) {
        const rDup = ab ? f.dupB : f.dupA;
        const rAckTime = ab ? f.ackTimeB : f.ackTimeA;
        if (rDup >= 2 && rLastAck === seq && t - rAckTime < 0.02) {
          retrans = true; // fast retransmission
        } else {
          const ooo = f.firstRtt > 0 ? f.firstRtt : OOO_DEFAULT_SECONDS;
          const nextTime = ab ? f.nextTimeA : f.nextTimeB;
          const outOfOrder = t - nextTime < ooo && next !== ((seq + seglen + synfin) >>> 0);
          if (!outOfOrder) retrans = true;
        }
      }
    }
    if (retrans) f.retrans++;
    const end = (seq + seglen + synfin) >>> 0;
    if (!nextSet || seqLt(next, end)) {
      if (ab) {
        f.nextA = end;
        f.nextSetA = true;
        f.nextTimeA = t;
      } else {
        f.nextB = end;
        f.nextSetB = true;
        f.nextTimeB = t;
      }
    }
    if (ab) {
      f.lastAckA = ack;
      f.ackTimeA = t;
      f.winA = d.window;
    } else {
      f.lastAckB = ack;
      f.ackTimeB = t;
      f.winB = d.window;
    }
    // HTTP/1.x start lines (not on retransmissions)
    if (!retrans && d.payloadCaptured >= 12) this.http(f, ab, t, b);
  }

  /**
   * Looks up a DNS/HTTP message by its capture-point independent identity `k`: a copy when it was
   * seen at another capture point (and not yet at this one) within {@link COPY_WINDOW_SECONDS}.
   */
  private seen(k: string, cp: number, t: number): { m: SeenMessage; copy: boolean } {
    if (!this.perCp) return { m: { k, t, cps: [cp], matched: false }, copy: false };
    const m = this.seenMessages.get(k);
    if (m !== undefined && !m.cps.includes(cp) && Math.abs(t - m.t) <= COPY_WINDOW_SECONDS) {
      m.cps.push(cp);
      return { m, copy: true };
    }
    const n: SeenMessage = { k, t, cps: [cp], matched: false };
    // forget messages that can no longer have copies (the queue is in arrival order; within one
    // file packets arrive (nearly) in time order; files summarised together may go back in time)
    const seen = this.seenMessages;
    const q = this.seenQueue;
    while (this.seenHead < q.length) {
      const o = q[this.seenHead]!;
      if (seen.get(o.k) !== o) this.seenHead++; // replaced by a newer message with the same identity
      else if (seen.size >= MAX_SEEN_MESSAGES || (!this.severalFiles && o.t < t - COPY_WINDOW_SECONDS)) {
        seen.delete(o.k);
        this.seenHead++;
      } else break;
    }
    if (this.seenHead > 4096 && this.seenHead * 2 > q.length) {
      q.splice(0, this.seenHead);
      this.seenHead = 0;
    }
    seen.set(k, n);
    q.push(n);
    return { m: n, copy: false };
  }

  private http(f: Flow, ab: boolean, t: number, b: Buffer): void {
    const d = this.d;
    const c = b[d.payloadOffset]!;
    if (c === 0x48) {
      const status = parseHttpStatus(b, d.payloadOffset, d.payloadCaptured);
      if (status < 0) return;
      const s = this.seen(`h${f.tupleKey()}${ab ? '>' : '<'}${d.seq}r`, f.cp, t);
      if (!s.copy) {
        this.httpResponses++;
        this.httpStatuses.set(status, (this.httpStatuses.get(status) ?? 0) + 1);
      }
      const pending = f.http?.shift();
      if (pending !== undefined && !s.m.matched) {
        s.m.matched = true;
        const ms = (t - pending.t) * 1000;
        this.httpLatency.add(ms);
        const e = this.httpEndpoints.get(pending.key);
        if (e) {
          e.s.statuses[status] = (e.s.statuses[status] ?? 0) + 1;
          e.lat.add(ms);
        }
      }
      return;
    }
    const req = parseHttpRequest(b, d.payloadOffset, d.payloadCaptured);
    if (req === undefined) return;
    const key = `${req.method} ${req.path}`;
    if (!this.seen(`h${f.tupleKey()}${ab ? '>' : '<'}${d.seq}q`, f.cp, t).copy) {
      this.httpRequests++;
      this.httpMethods.set(req.method, (this.httpMethods.get(req.method) ?? 0) + 1);
      let e = this.httpEndpoints.get(key);
      if (e === undefined && this.httpEndpoints.size < MAX_TRACKED_NAMES) {
        e = { s: { method: req.method, path: req.path, requests: 0, statuses: {}, latency: null }, lat: new Latency() };
        this.httpEndpoints.set(key, e);
      }
      if (e) e.s.requests++;
    }
    f.http ??= [];
    if (f.http.length < MAX_PENDING_HTTP) f.http.push({ t, key });
  }

  private dns(b: Buffer, flowKey: string, ab: boolean, t: number, cp: number): void {
    const d = this.d;
    const h = decodeDns(b, d.payloadOffset, d.payloadCaptured);
    if (h === undefined) return;
    const s = this.seen(`d${flowKey}${ab ? '>' : '<'}${h.id}${h.qr ? 'r' : 'q'}`, cp, t);
    // pending queries are per capture point: an answer matches the query seen at the same one
    const cpKey = cp === 0 ? flowKey : `${cp}|${flowKey}`;
    const pk = `${cpKey}${ab ? '>' : '<'}${h.id}`;
    const name = h.qname ?? '?';
    const nk = `${name}\u0000${h.qtype}`;
    let ns = this.dnsNames.get(nk);
    if (ns === undefined && this.dnsNames.size < MAX_TRACKED_NAMES) {
      ns = { name, qtype: qtypeName(h.qtype), queries: 0, responses: 0, rcodes: {} };
      this.dnsNames.set(nk, ns);
    }
    if (!h.qr) {
      if (!s.copy) {
        this.dnsQueries++;
        if (ns) ns.queries++;
      }
      if (this.dnsPending.size < MAX_PENDING_DNS && !this.dnsPending.has(pk)) this.dnsPending.set(pk, t);
      return;
    }
    if (!s.copy) {
      this.dnsResponses++;
      this.dnsAnswers += h.ancount;
      const rc = rcodeName(h.rcode);
      this.dnsRcodes.set(h.rcode, (this.dnsRcodes.get(h.rcode) ?? 0) + 1);
      if (ns) {
        ns.responses++;
        ns.rcodes[rc] = (ns.rcodes[rc] ?? 0) + 1;
      }
    }
    const qk = `${cpKey}${ab ? '<' : '>'}${h.id}`;
    const qt = this.dnsPending.get(qk);
    if (qt !== undefined) {
      this.dnsPending.delete(qk);
      if (!s.m.matched) {
        s.m.matched = true;
        this.dnsMatched++;
        this.dnsLatency.add((t - qt) * 1000);
      }
    }
  }

  private endpoint(address: string, port: number): Endpoint {
    const e: Endpoint = { address };
    if (port >= 0) e.port = port;
    const info = this.opts.endpoints?.get(address);
    if (info) {
      const name = endpointLabel(info);
      if (name) e.name = name;
      if (info.pod) e.pod = info.pod;
      if (info.namespace) e.namespace = info.namespace;
      if (info.node) e.node = info.node;
    }
    return e;
  }

  /** The summary of everything added so far. */
  finish(): Summary {
    const top = this.opts.top ?? 20;
    this.switchLinkType(-1);
    const conversations: Conversation[] = [];
    const talkers = new Map<string, Talker>();
    const talk = (addr: string, pk: number, by: number) => {
      let x = talkers.get(addr);
      if (!x) {
        x = { address: addr, packets: 0, bytes: 0 };
        const name = endpointLabel(this.opts.endpoints?.get(addr));
        if (name) x.name = name;
        talkers.set(addr, x);
      }
      x.packets += pk;
      x.bytes += by;
    };
    const tcp: TcpSummary = { connections: 0, completed: 0, refused: 0, synUnanswered: 0, synAckUnacked: 0, noHandshake: 0, resets: 0, retransmissions: 0, segments: 0, handshakeRtt: null };
    // a conversation seen at several capture points: one group of per-capture-point flows
    let groups: Flow[][];
    if (this.perCp && this.cpIds.size > 1) {
      const byKey = new Map<string, Flow[]>();
      for (const f of this.all) {
        const k = `${f.proto}/${f.tupleKey()}#${f.inst}`;
        const g = byKey.get(k);
        if (g) g.push(f);
        else byKey.set(k, [f]);
      }
      groups = [...byKey.values()];
    } else groups = this.all.map((f) => [f]);
    const handshakes: Flow[] = [];
    for (const g of groups) {
      // report the capture point that saw the most packets (the first one on a tie)
      let f = g[0]!;
      let allPackets = 0;
      let allBytes = 0;
      for (const x of g) {
        allPackets += x.pktsAB + x.pktsBA;
        allBytes += x.bytesAB + x.bytesBA;
        if (x.pktsAB + x.pktsBA > f.pktsAB + f.pktsBA) f = x;
      }
      const packets = f.pktsAB + f.pktsBA;
      const bytes = f.bytesAB + f.bytesBA;
      const c: Conversation = {
        protocol: PROTO_NAMES[f.proto] ?? (f.proto === 255 ? 'ip' : `ip/${f.proto}`),
        a: this.endpoint(f.aAddr, f.aPort),
        b: this.endpoint(f.bAddr, f.bPort),
        packets,
        bytes,
        packetsAtoB: f.pktsAB,
        bytesAtoB: f.bytesAB,
        packetsBtoA: f.pktsBA,
        bytesBtoA: f.bytesBA,
        firstTime: f.first,
        lastTime: f.last,
        durationSeconds: Math.max(0, f.last - f.first),
        capturePoints: g.length,
        packetsAllCapturePoints: allPackets,
        bytesAllCapturePoints: allBytes,
      };
      talk(f.aAddr, packets, bytes);
      if (f.bAddr !== f.aAddr) talk(f.bAddr, packets, bytes);
      if (f.proto === IpProto.TCP) {
        let state: TcpState;
        if (f.hsDone) state = 'completed';
        else if (f.refused) state = 'refused';
        else if (f.synTime >= 0 && f.synAckTime >= 0) state = 'syn-ack-unacked';
        else if (f.synTime >= 0) state = 'syn-unanswered';
        else state = 'no-handshake';
        const h: TcpHealth = { state, resets: f.resets, retransmissions: f.retrans, finA: f.finA, finB: f.finB };
        if (f.rttMs >= 0) h.rttMs = Math.round(f.rttMs * 1000) / 1000;
        if (f.synTime >= 0) h.client = f.clientIsA ? 'a' : 'b';
        c.tcp = h;
        tcp.connections++;
        if (state === 'completed') tcp.completed++;
        else if (state === 'refused') tcp.refused++;
        else if (state === 'syn-unanswered') tcp.synUnanswered++;
        else if (state === 'syn-ack-unacked') tcp.synAckUnacked++;
        else tcp.noHandshake++;
        tcp.resets += f.resets;
        tcp.retransmissions += f.retrans;
        tcp.segments += f.segs;
        if (f.hsOrder >= 0) handshakes.push(f);
      }
      conversations.push(c);
    }
    handshakes.sort((x, y) => x.hsOrder - y.hsOrder);
    const rtt = new Latency();
    for (const f of handshakes) rtt.add(f.rttMs);
    tcp.handshakeRtt = rtt.result();
    conversations.sort((x, y) => y.bytes - x.bytes || x.firstTime - y.firstTime);
    const rcodes: Record<string, number> = {};
    for (const [k, v] of [...this.dnsRcodes].sort((x, y) => x[0] - y[0])) rcodes[rcodeName(k)] = v;
    const methods: Record<string, number> = {};
    for (const [k, v] of this.httpMethods) methods[k] = v;
    const statuses: Record<string, number> = {};
    for (const [k, v] of [...this.httpStatuses].sort((x, y) => x[0] - y[0])) statuses[String(k)] = v;
    const linkTypes: Record<string, number> = {};
    for (const [k, v] of this.linkTypes) linkTypes[String(k)] = v;
    const empty = this.packets === 0;
    return {
      files: [...this.files],
      packets: this.packets,
      capturePoints: this.cpIds.size,
      bytes: this.bytes,
      capturedBytes: this.captured,
      firstTime: empty ? null : formatTimestamp(this.firstSec, this.firstNsec),
      lastTime: empty ? null : formatTimestamp(this.lastSec, this.lastNsec),
      durationSeconds: empty ? 0 : Math.max(0, this.lastSec - this.firstSec + (this.lastNsec - this.firstNsec) * 1e-9),
      linkTypes,
      protocols: { ...this.protocols },
      conversations,
      topTalkers: [...talkers.values()].sort((x, y) => y.bytes - x.bytes).slice(0, top),
      tcp,
      dns: {
        queries: this.dnsQueries,
        responses: this.dnsResponses,
        answers: this.dnsAnswers,
        unanswered: Math.max(0, this.dnsQueries - this.dnsMatched),
        rcodes,
        latency: this.dnsLatency.result(),
        names: [...this.dnsNames.values()].sort((x, y) => y.queries + y.responses - (x.queries + x.responses)).slice(0, top),
      },
      http: {
        requests: this.httpRequests,
        responses: this.httpResponses,
        methods,
        statuses,
        latency: this.httpLatency.result(),
        endpoints: [...this.httpEndpoints.values()]
          .sort((x, y) => y.s.requests - x.s.requests)
          .slice(0, top)
          .map((e) => ({ ...e.s, latency: e.lat.result() })),
      },
      errors: [...this.errors],
    };
  }
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
