/**
 * `tcp.stream`: numbers TCP connections in the order their first packet appears, as Wireshark
 * does. A connection is the 4-tuple (either direction); a SYN without ACK on a 4-tuple whose
 * connection was closed (RST, or FIN from both sides) starts a new stream. IPv4 keys live in a
 * typed-array hash table. As in Wireshark, a SYN with the same initial sequence number as the
 * connection's first SYN is a retransmission and stays in its stream, even after a RST.
 * IPv4 keys live in a typed-array hash table (nothing allocated per packet); IPv6 keys are strings.
 */
import { formatIPv6, IpProto, TcpFlag, type Decoded } from '../decode.js';
import { Ipv4FlowTable } from '../flowtable.js';

const FIN_A = 1;
const FIN_B = 2;
const RST = 4;

export class TcpStreams {
  private readonly v4 = new Ipv4FlowTable(1 << 12);
  private readonly v6 = new Map<string, number>();
  /** per stream: close state bits */
  private state = new Uint8Array(1024);
  /** per stream: IPv4 address of side A (the first packet's source), to tell directions */
  private sideA = new Int32Array(1024);
  private portA = new Uint16Array(1024);
  /** per stream: the initial sequence number of its first SYN (+1 stored; 0 = none seen) */
  private isn = new Float64Array(1024);
  private count = 0;

  get streams(): number {
    return this.count;
  }

  private grow(): void {
    const n = this.state.length * 2;
    const s = new Uint8Array(n);
    s.set(this.state);
    this.state = s;
    const a = new Int32Array(n);
    a.set(this.sideA);
    this.sideA = a;
    const p = new Uint16Array(n);
    p.set(this.portA);
    this.portA = p;
    const q = new Float64Array(n);
    q.set(this.isn);
    this.isn = q;
  }

  private newStream(srcKey: number, srcPort: number): number {
    if (this.count >= this.state.length) this.grow();
    const id = this.count++;
    this.state[id] = 0;
    this.sideA[id] = srcKey | 0;
    this.portA[id] = srcPort;
    this.isn[id] = 0;
    return id;
  }

  /** Stream of a decoded packet (-1 when it has no TCP header). */
  assign(b: Uint8Array, d: Decoded): number {
    if (!d.transport || d.proto !== IpProto.TCP) return -1;
    const flags = d.tcpFlags;
    const syn = (flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN;
    let id: number;
    let srcKey: number;
    if (d.ipVersion === 4) {
      const aFirst = d.src4 < d.dst4 || (d.src4 === d.dst4 && d.srcPort <= d.dstPort);
      const lo = aFirst ? d.src4 : d.dst4;
      const hi = aFirst ? d.dst4 : d.src4;
      const ports = aFirst ? (d.srcPort << 16) | d.dstPort : (d.dstPort << 16) | d.srcPort;
      srcKey = d.src4;
      id = this.v4.get(IpProto.TCP, lo, hi, ports);
      if (id < 0 || (syn && this.closed(id) && this.isn[id] !== d.seq + 1)) {
        id = this.newStream(srcKey, d.srcPort);
        this.v4.set(IpProto.TCP, lo, hi, ports, id);
      }
    } else {
      const s = `${formatIPv6(b, d.src6)}#${d.srcPort}`;
      const t = `${formatIPv6(b, d.dst6)}#${d.dstPort}`;
      const key = s < t ? `${s}|${t}` : `${t}|${s}`;
      srcKey = s < t ? 1 : 2;
      const found = this.v6.get(key);
      id = found ?? -1;
      if (id < 0 || (syn && this.closed(id) && this.isn[id] !== d.seq + 1)) {
        id = this.newStream(srcKey, d.srcPort);
        this.v6.set(key, id);
      }
    }
    if (syn && this.isn[id] === 0) this.isn[id] = d.seq + 1;
    const fromA = this.sideA[id] === (srcKey | 0) && this.portA[id] === d.srcPort;
    if (flags & TcpFlag.RST) this.state[id]! |= RST;
    if (flags & TcpFlag.FIN) this.state[id]! |= fromA ? FIN_A : FIN_B;
    return id;
  }

  private closed(id: number): boolean {
    const s = this.state[id]!;
    return (s & RST) !== 0 || (s & (FIN_A | FIN_B)) === (FIN_A | FIN_B);
  }
}
