/**
 * The conversation (flow) table: finds or creates the {@link Flow} of every IP packet, counts its
 * packets and bytes per direction, and at the end reports each conversation once (a conversation
 * seen at several capture points is one group; the capture point that saw the most packets is
 * reported). Top talkers are derived from the reported conversations.
 *
 * - Key: protocol, the (address, port) pairs in canonical order (lower first) and the capture point.
 *   IPv4 keys live in an allocation-free {@link Ipv4FlowTable}; IPv6 keys are strings.
 * - Endpoint A of a conversation is the source of its first packet.
 * - A TCP tuple is split into a new conversation when {@link ConnectionSplitter} says a SYN starts
 *   a new connection (port reuse; the TCP tracker owns that decision, as tshark's `tcp.stream`).
 */
import { formatIPv4, formatIPv6, IpProto, TcpFlag } from '../decode.js';
import { Ipv4FlowTable } from '../flowtable.js';
import { endpointLabel, type EndpointInfo } from '../metadata.js';
import type { PacketContext, ReportedConversation } from './context.js';
import { Flow } from './flow.js';
import type { Conversation, Endpoint, Talker } from './types.js';

/** Decides whether a SYN on an existing TCP conversation starts a new connection (port reuse). */
export interface ConnectionSplitter {
  /** `f`: the existing flow; `seq`: the SYN's sequence number. */
  startsNewConnection(f: Flow, seq: number): boolean;
}

const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6', 2: 'igmp', 47: 'gre', 50: 'esp', 51: 'ah', 89: 'ospf', 103: 'pim', 112: 'vrrp', 132: 'sctp' };

/** Protocol name of a flow: `ip` for TCP/UDP cut short before the ports (255), `ip/N` for others. */
export function protocolName(proto: number): string {
  return PROTO_NAMES[proto] ?? (proto === 255 ? 'ip' : `ip/${proto}`);
}

export class Conversations {
  /** IPv6 (and fallback) conversations by string key; IPv4 ones in {@link v4}. */
  private readonly byKey = new Map<string, Flow>();
  private readonly v4 = new Ipv4FlowTable();
  /** every flow, by {@link Flow.id} */
  private readonly all: Flow[] = [];

  constructor(
    private readonly splitter: ConnectionSplitter,
    private readonly endpoints: ReadonlyMap<string, EndpointInfo> | undefined,
  ) {}

  /** Number of flows (conversations per capture point) so far. */
  get size(): number {
    return this.all.length;
  }

  /** For an IP packet: sets `p.flow` and `p.ab` and counts the packet. */
  onPacket(p: PacketContext): void {
    const d = p.d;
    const b = p.b;
    const cp = p.cp;
    const proto = d.proto;
    const hasPorts = d.transport && (proto === IpProto.TCP || proto === IpProto.UDP);
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
      f = this.byKey.get(cp === 0 ? key : `${cp}|${key}`);
    }
    let inst = 0;
    if (f !== undefined && flowProto === IpProto.TCP && (d.tcpFlags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN && this.splitter.startsNewConnection(f, d.seq)) {
      inst = f.inst + 1;
      f = undefined; // port reuse: a new connection
    }
    if (f === undefined) {
      f = new Flow(this.all.length, flowProto);
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
      f.first = p.t;
      if (d.ipVersion === 4) this.v4.set(flowProto | (cp << 8), v4a, v4b, v4p, f.id);
      else this.byKey.set(cp === 0 ? key : `${cp}|${key}`, f);
      this.all.push(f);
    }
    const ab = lo === f.aIsLo;
    if (ab) {
      f.pktsAB++;
      f.bytesAB += p.origLen;
    } else {
      f.pktsBA++;
      f.bytesBA += p.origLen;
    }
    f.last = p.t;
    p.flow = f;
    p.ab = ab;
  }

  /**
   * The conversations, each once, in order of their first packet (unsorted). With
   * `groupCapturePoints`, flows of the same connection at different capture points form one
   * conversation, reported with the figures of the capture point that saw the most packets.
   */
  finish(groupCapturePoints: boolean): ReportedConversation[] {
    let groups: Flow[][];
    if (groupCapturePoints) {
      const byKey = new Map<string, Flow[]>();
      for (const f of this.all) {
        const k = `${f.proto}/${f.tupleKey()}#${f.inst}`;
        const g = byKey.get(k);
        if (g) g.push(f);
        else byKey.set(k, [f]);
      }
      groups = [...byKey.values()];
    } else groups = this.all.map((f) => [f]);
    const out: ReportedConversation[] = [];
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
      const conversation = this.conversationOf(f, g.length, allPackets, allBytes);
      out.push({ flow: f, conversation });
    }
    return out;
  }

  /** The flow with this {@link Flow.id} (ids are dense, in order of creation). */
  flowAt(id: number): Flow | undefined {
    return this.all[id];
  }

  /** One flow as a conversation (`capturePoints`: of its group; the totals over the group). */
  conversationOf(f: Flow, capturePoints = 1, allPackets = f.pktsAB + f.pktsBA, allBytes = f.bytesAB + f.bytesBA): Conversation {
    return {
      protocol: protocolName(f.proto),
      a: this.endpoint(f.aAddr, f.aPort),
      b: this.endpoint(f.bAddr, f.bPort),
      packets: f.pktsAB + f.pktsBA,
      bytes: f.bytesAB + f.bytesBA,
      packetsAtoB: f.pktsAB,
      bytesAtoB: f.bytesAB,
      packetsBtoA: f.pktsBA,
      bytesBtoA: f.bytesBA,
      firstTime: f.first,
      lastTime: f.last,
      durationSeconds: Math.max(0, f.last - f.first),
      capturePoints,
      packetsAllCapturePoints: allPackets,
      bytesAllCapturePoints: allBytes,
    };
  }

  private endpoint(address: string, port: number): Endpoint {
    const e: Endpoint = { address };
    if (port >= 0) e.port = port;
    const info = this.endpoints?.get(address);
    if (info) {
      const name = endpointLabel(info);
      if (name) e.name = name;
      if (info.pod) e.pod = info.pod;
      if (info.namespace) e.namespace = info.namespace;
      if (info.node) e.node = info.node;
    }
    return e;
  }
}

/** The `top` addresses by bytes over the reported conversations (both endpoints of each). */
export function topTalkers(reported: readonly ReportedConversation[], endpoints: ReadonlyMap<string, EndpointInfo> | undefined, top: number): Talker[] {
  const talkers = new Map<string, Talker>();
  const talk = (addr: string, pk: number, by: number) => {
    let x = talkers.get(addr);
    if (!x) {
      x = { address: addr, packets: 0, bytes: 0 };
      const name = endpointLabel(endpoints?.get(addr));
      if (name) x.name = name;
      talkers.set(addr, x);
    }
    x.packets += pk;
    x.bytes += by;
  };
  for (const { conversation: c } of reported) {
    talk(c.a.address, c.packets, c.bytes);
    if (c.b.address !== c.a.address) talk(c.b.address, c.packets, c.bytes);
  }
  return [...talkers.values()].sort((x, y) => y.bytes - x.bytes).slice(0, top);
}
