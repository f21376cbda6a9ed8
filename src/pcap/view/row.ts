/**
 * The packet-list columns of one decoded packet (pure): protocol, source, destination and a
 * Wireshark-like Info text. Differences from Wireshark's columns: TCP sequence numbers are the raw
 * ones (Wireshark shows them relative to the connection's first), HTTP is recognised by its start
 * line at the start of a segment (not after reassembly), and addresses are named by pod from the
 * capture metadata instead of by DNS.
 */
import { EtherType, formatIPv4, formatIPv6, IpProto, TcpFlag } from '../decode.js';
import { qtypeName, rcodeName } from '../dns.js';
import { endpointLabel } from '../metadata.js';
import type { FilterPacket } from '../filter/packet.js';

const TCP_FLAG_NAMES: [number, string][] = [
  [TcpFlag.FIN, 'FIN'],
  [TcpFlag.SYN, 'SYN'],
  [TcpFlag.RST, 'RST'],
  [TcpFlag.PSH, 'PSH'],
  [TcpFlag.ACK, 'ACK'],
  [TcpFlag.URG, 'URG'],
  [TcpFlag.ECE, 'ECE'],
  [TcpFlag.CWR, 'CWR'],
];

export function tcpFlagNames(flags: number): string {
  return TCP_FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0)
    .map(([, n]) => n)
    .join(', ');
}

export function formatMac(b: Uint8Array, o: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push((b[o + i] ?? 0).toString(16).padStart(2, '0'));
  return parts.join(':');
}

const ICMP_TYPES: Record<number, string> = {
  0: 'Echo (ping) reply',
  3: 'Destination unreachable',
  4: 'Source quench',
  5: 'Redirect',
  8: 'Echo (ping) request',
  11: 'Time-to-live exceeded',
  12: 'Parameter problem',
  13: 'Timestamp request',
  14: 'Timestamp reply',
};
const UNREACH: Record<number, string> = { 0: 'Network unreachable', 1: 'Host unreachable', 2: 'Protocol unreachable', 3: 'Port unreachable', 4: 'Fragmentation needed', 13: 'Communication administratively filtered' };
const ICMP6_TYPES: Record<number, string> = {
  1: 'Destination Unreachable',
  2: 'Packet Too Big',
  3: 'Time Exceeded',
  4: 'Parameter Problem',
  128: 'Echo (ping) request',
  129: 'Echo (ping) reply',
  130: 'Multicast Listener Query',
  131: 'Multicast Listener Report',
  132: 'Multicast Listener Done',
  133: 'Router Solicitation',
  134: 'Router Advertisement',
  135: 'Neighbor Solicitation',
  136: 'Neighbor Advertisement',
  137: 'Redirect',
  143: 'Multicast Listener Report Message v2',
};

export function icmpTypeName(type: number, code: number): string {
  const n = ICMP_TYPES[type] ?? `Type ${type}`;
  if (type === 3) return `${n} (${UNREACH[code] ?? `code ${code}`})`;
  return n;
}

export function icmp6TypeName(type: number): string {
  return ICMP6_TYPES[type] ?? `Type ${type}`;
}

/** Highest decoded protocol, as Wireshark's Protocol column names it. */
export function protocolOf(p: FilterPacket): string {
  const d = p.d;
  if (d.etherType === EtherType.ARP) return 'ARP';
  if (d.etherType === EtherType.RARP) return 'RARP';
  if (d.ipVersion === 0) {
    if (p.linkInfo().ethOffset >= 0) return 'ETH';
    if (p.linkInfo().sllOffset >= 0) return 'SLL';
    return 'RAW';
  }
  if (d.fragment) return d.ipVersion === 4 ? 'IPv4' : 'IPv6';
  if (d.proto === IpProto.TCP) {
    if (!d.transport) return 'TCP';
    if (p.dns() !== undefined) return 'DNS';
    if (p.isHttp()) return 'HTTP';
    return 'TCP';
  }
  if (d.proto === IpProto.UDP) {
    if (!d.transport) return 'UDP';
    if (p.dns() !== undefined) return 'DNS';
    return 'UDP';
  }
  if (d.proto === IpProto.ICMP && d.icmpType >= 0) return 'ICMP';
  if (d.proto === IpProto.ICMPV6 && d.icmpType >= 0) return 'ICMPv6';
  if (d.proto === 47) return 'GRE';
  if (d.proto === 132) return 'SCTP';
  if (d.proto === 2) return 'IGMP';
  return d.ipVersion === 4 ? 'IPv4' : 'IPv6';
}

export function srcAddressText(p: FilterPacket): string {
  const d = p.d;
  if (d.ipVersion === 4) return formatIPv4(d.src4);
  if (d.ipVersion === 6) return formatIPv6(p.b, d.src6);
  const li = p.linkInfo();
  if (li.ethOffset >= 0) return formatMac(p.b, li.ethOffset + 6);
  if (li.sllOffset >= 0) {
    // the sender's link-layer address of a cooked capture (SLL: at 6, SLL2: at 12; length before it)
    const s = li.sllOffset;
    const v2 = p.linkType === 276;
    const halen = v2 ? p.b[s + 11]! : (p.b[s + 4]! << 8) | p.b[s + 5]!;
    if (halen === 6) return formatMac(p.b, s + (v2 ? 12 : 6));
  }
  return '';
}

export function dstAddressText(p: FilterPacket): string {
  const d = p.d;
  if (d.ipVersion === 4) return formatIPv4(d.dst4);
  if (d.ipVersion === 6) return formatIPv6(p.b, d.dst6);
  const e = p.linkInfo().ethOffset;
  if (e >= 0) return formatMac(p.b, e);
  return '';
}

/** Source and destination column text: the pod (`ns/pod`) when the metadata knows the address. */
export function endpointsOf(p: FilterPacket): { source: string; destination: string } {
  const s = srcAddressText(p);
  const t = dstAddressText(p);
  return { source: endpointLabel(p.srcEndpoint()) ?? s, destination: endpointLabel(p.dstEndpoint()) ?? t };
}

function lineAt(b: Uint8Array, o: number, len: number): string {
  let e = o;
  const stop = o + Math.min(len, 2048);
  while (e < stop && b[e] !== 0x0d && b[e] !== 0x0a) e++;
  return Buffer.from(b.buffer, b.byteOffset + o, e - o).toString('latin1');
}

function ipv4At(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** Wireshark-like Info column. */
export function infoOf(p: FilterPacket, protocol: string): string {
  const d = p.d;
  const b = p.b;
  if (protocol === 'ARP' || protocol === 'RARP') {
    const n = p.linkInfo().netOffset;
    if (n < 0 || n + 28 > p.off + p.caplen) return 'ARP (truncated)';
    const op = (b[n + 6]! << 8) | b[n + 7]!;
    const spa = ipv4At(b, n + 14);
    const tpa = ipv4At(b, n + 24);
    if (op === 1) return spa === tpa ? `ARP Announcement for ${spa}` : `Who has ${tpa}? Tell ${spa}`;
    if (op === 2) return `${spa} is at ${formatMac(b, n + 8)}`;
    return `ARP opcode ${op}`;
  }
  if (protocol === 'DNS') {
    const h = p.dns();
    if (h !== undefined) {
      const q = h.qname !== undefined ? ` ${qtypeName(h.qtype)} ${h.qname === '' ? '<Root>' : h.qname}` : '';
      const id = `0x${h.id.toString(16).padStart(4, '0')}`;
      if (!h.qr) return `Standard query ${id}${q}`;
      return `Standard query response ${id}${h.rcode !== 0 ? ` ${rcodeName(h.rcode) === 'NXDOMAIN' ? 'No such name' : rcodeName(h.rcode)}` : ''}${q}`;
    }
  }
  if (protocol === 'HTTP') return lineAt(b, d.payloadOffset, d.payloadCaptured);
  if (d.transport && d.proto === IpProto.TCP) {
    const flags = tcpFlagNames(d.tcpFlags);
    let s = `${d.srcPort} → ${d.dstPort} [${flags}] Seq=${d.seq}`;
    if (d.tcpFlags & TcpFlag.ACK) s += ` Ack=${d.ack}`;
    s += ` Win=${d.window} Len=${d.payloadLength}`;
    return s;
  }
  if (d.transport && d.proto === IpProto.UDP) return `${d.srcPort} → ${d.dstPort} Len=${d.payloadLength}`;
  if (protocol === 'ICMP') {
    let s = icmpTypeName(d.icmpType, d.icmpCode);
    if ((d.icmpType === 0 || d.icmpType === 8) && d.l4Offset + 8 <= p.off + p.caplen) {
      const o = d.l4Offset;
      s += `  id=0x${((b[o + 4]! << 8) | b[o + 5]!).toString(16).padStart(4, '0')}, seq=${(b[o + 6]! << 8) | b[o + 7]!}`;
    }
    return s;
  }
  if (protocol === 'ICMPv6') {
    let s = icmp6TypeName(d.icmpType);
    if ((d.icmpType === 135 || d.icmpType === 136) && d.l4Offset + 24 <= p.off + p.caplen) s += ` ${d.icmpType === 135 ? 'for' : ''} ${formatIPv6(b, d.l4Offset + 8)}`.replace('  ', ' ');
    return s;
  }
  if (d.fragment) return `Fragmented IP protocol (proto=${d.proto})`;
  if (d.ipVersion !== 0) return `IP protocol ${d.proto}`;
  if (d.etherType !== 0) return `EtherType 0x${d.etherType.toString(16).padStart(4, '0')}`;
  return `${p.caplen} bytes`;
}
