/**
 * Every field and protocol name of the display-filter language, with its type, a description (the
 * source of the table in docs/filters.md) and how to read it from a {@link FilterPacket}. Names and
 * meanings follow Wireshark's where it has the field; pcapper's own (pod, namespace, node,
 * capture_point) are documented as such.
 *
 * A field may have several getters (ip.addr = ip.src or ip.dst): a test is true when it is true for
 * any of them, except `!=`, which is true when `==` is false for all (Wireshark 4 semantics).
 */
import { EtherType, IpProto } from '../decode.js';
import type { EndpointInfo } from '../metadata.js';
import type { FilterPacket } from './packet.js';

export type FieldType = 'proto' | 'uint' | 'bool' | 'float' | 'ipv4' | 'ipv6' | 'mac' | 'string';

/** What a getter returns: a number (uint, bool 0/1, float, IPv4; buffer offset for ipv6/mac), a string, or undefined when absent. */
export type FieldValue = number | string | undefined;
export type Getter = (p: FilterPacket) => FieldValue;

export interface FieldDef {
  name: string;
  type: FieldType;
  description: string;
  getters: Getter[];
  /** needs tcp.stream tracking */
  needsStream?: boolean;
  /** proto: where the protocol's bytes start (for `contains`) */
  start?: (p: FilterPacket) => number;
}

const u8 = (p: FilterPacket, o: number): number => p.b[o]!;
const u16 = (p: FilterPacket, o: number): number => (p.b[o]! << 8) | p.b[o + 1]!;
const u32 = (p: FilterPacket, o: number): number => ((p.b[o]! << 24) | (p.b[o + 1]! << 16) | (p.b[o + 2]! << 8) | p.b[o + 3]!) >>> 0;
const end = (p: FilterPacket): number => p.off + p.caplen;

const isIPv4 = (p: FilterPacket): boolean => p.d.ipVersion === 4;
const isIPv6 = (p: FilterPacket): boolean => p.d.ipVersion === 6;
const isArp = (p: FilterPacket): boolean => p.d.etherType === EtherType.ARP || p.d.etherType === EtherType.RARP;
const isIcmp = (p: FilterPacket): boolean => p.d.ipVersion === 4 && p.d.proto === IpProto.ICMP && p.d.icmpType >= 0 && !p.d.fragment;
const isIcmp6 = (p: FilterPacket): boolean => p.d.ipVersion === 6 && p.d.proto === IpProto.ICMPV6 && p.d.icmpType >= 0 && !p.d.fragment;
const net = (p: FilterPacket): number => p.linkInfo().netOffset;
const arpField = (o: number, len: number) => (p: FilterPacket): FieldValue => {
  if (!isArp(p)) return undefined;
  const n = net(p);
  if (n < 0 || n + o + len > end(p)) return undefined;
  return len === 2 ? u16(p, n + o) : u32(p, n + o);
};
const ipv4Hdr = (fn: (p: FilterPacket, n: number) => number, minLen = 20) => (p: FilterPacket): FieldValue => {
  if (!isIPv4(p)) return undefined;
  const n = net(p);
  return n >= 0 && n + minLen <= end(p) ? fn(p, n) : undefined;
};
const ipv6Hdr = (fn: (p: FilterPacket, n: number) => number) => (p: FilterPacket): FieldValue => {
  if (!isIPv6(p)) return undefined;
  const n = net(p);
  return n >= 0 && n + 40 <= end(p) ? fn(p, n) : undefined;
};
const tcp = (fn: (p: FilterPacket) => number) => (p: FilterPacket): FieldValue => (p.isTcp ? fn(p) : undefined);
const udp = (fn: (p: FilterPacket) => number) => (p: FilterPacket): FieldValue => (p.isUdp ? fn(p) : undefined);
const flag = (bit: number) => tcp((p) => ((p.d.tcpFlags & bit) !== 0 ? 1 : 0));
const dns = <T>(fn: (h: NonNullable<ReturnType<FilterPacket['dns']>>) => T) => (p: FilterPacket): T | undefined => {
  const h = p.dns();
  return h === undefined ? undefined : fn(h);
};
const eth = (o: number) => (p: FilterPacket): FieldValue => {
  const e = p.linkInfo().ethOffset;
  return e >= 0 ? e + o : undefined;
};
const podOf = (e: EndpointInfo | undefined): string | undefined => e?.pod;
const nsOf = (e: EndpointInfo | undefined): string | undefined => (e?.pod !== undefined ? e.namespace : undefined);
const nodeOf = (e: EndpointInfo | undefined): string | undefined => e?.node;

/** Header of the HTTP/1.x message starting the TCP payload (case-insensitive name), or undefined. */
function httpHeader(p: FilterPacket, name: string): string | undefined {
  if (!p.isHttp()) return undefined;
  const d = p.d;
  const b = p.b;
  const stop = d.payloadOffset + Math.min(d.payloadCaptured, 16384);
  let i = d.payloadOffset;
  // skip the start line
  while (i < stop && b[i] !== 0x0a) i++;
  i++;
  while (i < stop) {
    let j = i;
    while (j < stop && b[j] !== 0x0a) j++;
    let lineEnd = j;
    if (lineEnd > i && b[lineEnd - 1] === 0x0d) lineEnd--;
    if (lineEnd === i) return undefined; // end of headers
    const colon = b.indexOf(0x3a, i);
    if (colon > i && colon < lineEnd && colon - i === name.length) {
      let k = 0;
      while (k < name.length && (b[i + k]! | 0x20) === name.charCodeAt(k)) k++;
      if (k === name.length) {
        let v = colon + 1;
        while (v < lineEnd && (b[v] === 0x20 || b[v] === 0x09)) v++;
        return Buffer.from(b.buffer, b.byteOffset + v, lineEnd - v).toString('latin1');
      }
    }
    i = j + 1;
  }
  return undefined;
}

const F: FieldDef[] = [
  // frame
  { name: 'frame', type: 'proto', description: 'every packet', getters: [() => 1], start: (p) => p.off },
  { name: 'frame.number', type: 'uint', description: 'frame number in the view (1-based, timestamp order across files)', getters: [(p) => p.frame] },
  { name: 'frame.len', type: 'uint', description: 'length on the wire (original length)', getters: [(p) => p.origLen] },
  { name: 'frame.cap_len', type: 'uint', description: 'captured length', getters: [(p) => p.caplen] },
  { name: 'frame.time_relative', type: 'float', description: 'seconds since the first packet of the view', getters: [(p) => p.relTime] },
  { name: 'frame.time_epoch', type: 'float', description: 'seconds since 1970-01-01 UTC', getters: [(p) => p.tsSec + p.tsNsec / 1e9] },
  { name: 'frame.interface_id', type: 'uint', description: 'interface index in the capture file', getters: [(p) => p.interfaceId] },
  // link
  { name: 'eth', type: 'proto', description: 'Ethernet', getters: [(p) => (p.linkInfo().ethOffset >= 0 ? 1 : undefined)], start: (p) => p.linkInfo().ethOffset },
  { name: 'eth.dst', type: 'mac', description: 'Ethernet destination MAC', getters: [eth(0)] },
  { name: 'eth.src', type: 'mac', description: 'Ethernet source MAC', getters: [eth(6)] },
  { name: 'eth.addr', type: 'mac', description: 'eth.src or eth.dst', getters: [eth(6), eth(0)] },
  { name: 'eth.type', type: 'uint', description: 'the EtherType field of the Ethernet header (0x8100 for a VLAN-tagged frame, as in Wireshark)', getters: [(p) => (p.linkInfo().ethOffset >= 0 ? u16(p, p.linkInfo().ethOffset + 12) : undefined)] },
  { name: 'vlan.etype', type: 'uint', description: 'EtherType after the VLAN tag(s)', getters: [(p) => (p.linkInfo().vlanOffset >= 0 ? p.d.etherType : undefined)] },
  { name: 'sll', type: 'proto', description: 'Linux cooked capture (SLL or SLL2, tcpdump -i any)', getters: [(p) => (p.linkInfo().sllOffset >= 0 ? 1 : undefined)], start: (p) => p.linkInfo().sllOffset },
  { name: 'vlan', type: 'proto', description: '802.1Q / 802.1ad VLAN tag', getters: [(p) => (p.linkInfo().vlanOffset >= 0 ? 1 : undefined)], start: (p) => p.linkInfo().vlanOffset },
  { name: 'vlan.id', type: 'uint', description: 'VLAN id of the outer tag', getters: [(p) => (p.linkInfo().vlanOffset >= 0 ? u16(p, p.linkInfo().vlanOffset) & 0x0fff : undefined)] },
  // ARP
  { name: 'arp', type: 'proto', description: 'ARP (and RARP)', getters: [(p) => (isArp(p) ? 1 : undefined)], start: net },
  { name: 'arp.opcode', type: 'uint', description: '1 request, 2 reply', getters: [arpField(6, 2)] },
  { name: 'arp.src.proto_ipv4', type: 'ipv4', description: 'sender IPv4 address', getters: [arpField(14, 4)] },
  { name: 'arp.dst.proto_ipv4', type: 'ipv4', description: 'target IPv4 address', getters: [arpField(24, 4)] },
  // IPv4
  { name: 'ip', type: 'proto', description: 'IPv4', getters: [(p) => (isIPv4(p) ? 1 : undefined)], start: net },
  { name: 'ip.src', type: 'ipv4', description: 'IPv4 source address', getters: [(p) => (isIPv4(p) ? p.d.src4 : undefined)] },
  { name: 'ip.dst', type: 'ipv4', description: 'IPv4 destination address', getters: [(p) => (isIPv4(p) ? p.d.dst4 : undefined)] },
  { name: 'ip.addr', type: 'ipv4', description: 'ip.src or ip.dst', getters: [(p) => (isIPv4(p) ? p.d.src4 : undefined), (p) => (isIPv4(p) ? p.d.dst4 : undefined)] },
  { name: 'ip.proto', type: 'uint', description: 'IP protocol number (6 TCP, 17 UDP, 1 ICMP)', getters: [(p) => (isIPv4(p) ? p.d.proto : undefined)] },
  { name: 'ip.ttl', type: 'uint', description: 'time to live', getters: [ipv4Hdr((p, n) => u8(p, n + 8))] },
  { name: 'ip.len', type: 'uint', description: 'IPv4 total length', getters: [ipv4Hdr((p, n) => u16(p, n + 2))] },
  { name: 'ip.id', type: 'uint', description: 'IPv4 identification', getters: [ipv4Hdr((p, n) => u16(p, n + 4))] },
  { name: 'ip.flags.df', type: 'bool', description: "don't fragment", getters: [ipv4Hdr((p, n) => (u8(p, n + 6) >> 6) & 1)] },
  { name: 'ip.flags.mf', type: 'bool', description: 'more fragments', getters: [ipv4Hdr((p, n) => (u8(p, n + 6) >> 5) & 1)] },
  { name: 'ip.dsfield.dscp', type: 'uint', description: 'DSCP', getters: [ipv4Hdr((p, n) => u8(p, n + 1) >> 2)] },
  // IPv6
  { name: 'ipv6', type: 'proto', description: 'IPv6', getters: [(p) => (isIPv6(p) ? 1 : undefined)], start: net },
  { name: 'ipv6.src', type: 'ipv6', description: 'IPv6 source address', getters: [(p) => (isIPv6(p) ? p.d.src6 : undefined)] },
  { name: 'ipv6.dst', type: 'ipv6', description: 'IPv6 destination address', getters: [(p) => (isIPv6(p) ? p.d.dst6 : undefined)] },
  { name: 'ipv6.addr', type: 'ipv6', description: 'ipv6.src or ipv6.dst', getters: [(p) => (isIPv6(p) ? p.d.src6 : undefined), (p) => (isIPv6(p) ? p.d.dst6 : undefined)] },
  { name: 'ipv6.nxt', type: 'uint', description: 'next header of the fixed IPv6 header', getters: [ipv6Hdr((p, n) => u8(p, n + 6))] },
  { name: 'ipv6.hlim', type: 'uint', description: 'hop limit', getters: [ipv6Hdr((p, n) => u8(p, n + 7))] },
  { name: 'ipv6.plen', type: 'uint', description: 'payload length', getters: [ipv6Hdr((p, n) => u16(p, n + 4))] },
  // TCP
  { name: 'tcp', type: 'proto', description: 'TCP (a complete TCP header was captured)', getters: [(p) => (p.isTcp ? 1 : undefined)], start: (p) => p.d.l4Offset },
  { name: 'tcp.srcport', type: 'uint', description: 'TCP source port', getters: [tcp((p) => p.d.srcPort)] },
  { name: 'tcp.dstport', type: 'uint', description: 'TCP destination port', getters: [tcp((p) => p.d.dstPort)] },
  { name: 'tcp.port', type: 'uint', description: 'tcp.srcport or tcp.dstport', getters: [tcp((p) => p.d.srcPort), tcp((p) => p.d.dstPort)] },
  { name: 'tcp.stream', type: 'uint', description: 'index of the TCP connection in the view (0-based, in order of first packet)', getters: [tcp((p) => p.stream)], needsStream: true },
  { name: 'tcp.len', type: 'uint', description: 'TCP payload length (per the IP header)', getters: [tcp((p) => p.d.payloadLength)] },
  { name: 'tcp.seq_raw', type: 'uint', description: 'sequence number as on the wire', getters: [tcp((p) => p.d.seq)] },
  { name: 'tcp.ack_raw', type: 'uint', description: 'acknowledgment number as on the wire', getters: [tcp((p) => p.d.ack)] },
  { name: 'tcp.window_size_value', type: 'uint', description: 'window field as on the wire (not scaled)', getters: [tcp((p) => p.d.window)] },
  { name: 'tcp.hdr_len', type: 'uint', description: 'TCP header length in bytes', getters: [tcp((p) => p.d.payloadOffset - p.d.l4Offset)] },
  { name: 'tcp.flags', type: 'uint', description: 'the flag byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80)', getters: [tcp((p) => p.d.tcpFlags)] },
  { name: 'tcp.flags.fin', type: 'bool', description: 'FIN', getters: [flag(0x01)] },
  { name: 'tcp.flags.syn', type: 'bool', description: 'SYN', getters: [flag(0x02)] },
  { name: 'tcp.flags.reset', type: 'bool', description: 'RST (Wireshark\'s name)', getters: [flag(0x04)] },
  { name: 'tcp.flags.rst', type: 'bool', description: 'RST (alias of tcp.flags.reset)', getters: [flag(0x04)] },
  { name: 'tcp.flags.push', type: 'bool', description: 'PSH', getters: [flag(0x08)] },
  { name: 'tcp.flags.psh', type: 'bool', description: 'PSH (alias of tcp.flags.push)', getters: [flag(0x08)] },
  { name: 'tcp.flags.ack', type: 'bool', description: 'ACK', getters: [flag(0x10)] },
  { name: 'tcp.flags.urg', type: 'bool', description: 'URG', getters: [flag(0x20)] },
  { name: 'tcp.flags.ece', type: 'bool', description: 'ECE', getters: [flag(0x40)] },
  { name: 'tcp.flags.cwr', type: 'bool', description: 'CWR', getters: [flag(0x80)] },
  { name: 'tcp.payload', type: 'proto', description: 'TCP payload bytes (for contains)', getters: [(p) => (p.isTcp && p.d.payloadCaptured > 0 ? 1 : undefined)], start: (p) => p.d.payloadOffset },
  // UDP
  { name: 'udp', type: 'proto', description: 'UDP', getters: [(p) => (p.isUdp ? 1 : undefined)], start: (p) => p.d.l4Offset },
  { name: 'udp.srcport', type: 'uint', description: 'UDP source port', getters: [udp((p) => p.d.srcPort)] },
  { name: 'udp.dstport', type: 'uint', description: 'UDP destination port', getters: [udp((p) => p.d.dstPort)] },
  { name: 'udp.port', type: 'uint', description: 'udp.srcport or udp.dstport', getters: [udp((p) => p.d.srcPort), udp((p) => p.d.dstPort)] },
  { name: 'udp.length', type: 'uint', description: 'UDP length field (header + payload)', getters: [udp((p) => p.d.payloadLength + 8)] },
  // ICMP
  { name: 'icmp', type: 'proto', description: 'ICMP (over IPv4)', getters: [(p) => (isIcmp(p) ? 1 : undefined)], start: (p) => p.d.l4Offset },
  { name: 'icmp.type', type: 'uint', description: 'ICMP type (0 echo reply, 3 unreachable, 8 echo request, 11 time exceeded)', getters: [(p) => (isIcmp(p) ? p.d.icmpType : undefined)] },
  { name: 'icmp.code', type: 'uint', description: 'ICMP code', getters: [(p) => (isIcmp(p) ? p.d.icmpCode : undefined)] },
  { name: 'icmpv6', type: 'proto', description: 'ICMPv6', getters: [(p) => (isIcmp6(p) ? 1 : undefined)], start: (p) => p.d.l4Offset },
  { name: 'icmpv6.type', type: 'uint', description: 'ICMPv6 type (128 echo request, 129 reply, 135 neighbor solicitation, ...)', getters: [(p) => (isIcmp6(p) ? p.d.icmpType : undefined)] },
  { name: 'icmpv6.code', type: 'uint', description: 'ICMPv6 code', getters: [(p) => (isIcmp6(p) ? p.d.icmpCode : undefined)] },
  // DNS
  { name: 'dns', type: 'proto', description: 'DNS (UDP or TCP port 53)', getters: [dns(() => 1)], start: (p) => p.d.payloadOffset },
  { name: 'dns.id', type: 'uint', description: 'transaction id', getters: [dns((h) => h.id)] },
  { name: 'dns.flags.response', type: 'bool', description: '1 for a response, 0 for a query', getters: [dns((h) => (h.qr ? 1 : 0))] },
  { name: 'dns.flags.opcode', type: 'uint', description: 'opcode (0 standard query)', getters: [dns((h) => h.opcode)] },
  { name: 'dns.flags.rcode', type: 'uint', description: 'response code of a response (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED)', getters: [dns((h) => (h.qr ? h.rcode : undefined))] },
  { name: 'dns.count.queries', type: 'uint', description: 'number of questions', getters: [dns((h) => h.qdcount)] },
  { name: 'dns.count.answers', type: 'uint', description: 'number of answers', getters: [dns((h) => h.ancount)] },
  { name: 'dns.qry.name', type: 'string', description: 'name in the first question', getters: [dns((h) => h.qname)] },
  { name: 'dns.qry.type', type: 'uint', description: 'type of the first question (1 A, 28 AAAA, 33 SRV, ...)', getters: [dns((h) => (h.qname === undefined ? undefined : h.qtype))] },
  // HTTP
  { name: 'http', type: 'proto', description: 'HTTP/1.x: a TCP segment that starts with a request or status line', getters: [(p) => (p.isHttp() ? 1 : undefined)], start: (p) => p.d.payloadOffset },
  { name: 'http.request', type: 'proto', description: 'an HTTP/1.x request line starts the TCP payload', getters: [(p) => (p.httpRequest() !== undefined ? 1 : undefined)], start: (p) => p.d.payloadOffset },
  { name: 'http.response', type: 'proto', description: 'an HTTP/1.x status line starts the TCP payload', getters: [(p) => (p.httpStatus() >= 0 ? 1 : undefined)], start: (p) => p.d.payloadOffset },
  { name: 'http.request.method', type: 'string', description: 'request method (GET, POST, ...)', getters: [(p) => p.httpRequest()?.method] },
  { name: 'http.request.uri', type: 'string', description: 'request target as sent (path and query)', getters: [(p) => p.httpRequest()?.path] },
  { name: 'http.response.code', type: 'uint', description: 'response status code', getters: [(p) => (p.httpStatus() >= 0 ? p.httpStatus() : undefined)] },
  { name: 'http.host', type: 'string', description: 'Host header of the message', getters: [(p) => httpHeader(p, 'host')] },
  { name: 'http.user_agent', type: 'string', description: 'User-Agent header', getters: [(p) => httpHeader(p, 'user-agent')] },
  { name: 'http.content_type', type: 'string', description: 'Content-Type header', getters: [(p) => httpHeader(p, 'content-type')] },
  // pcapper: Kubernetes names from the capture metadata
  { name: 'pod', type: 'string', description: 'pod name of the source, the destination or the capture point (any of them)', getters: [(p) => podOf(p.srcEndpoint()), (p) => podOf(p.dstEndpoint()), (p) => p.capturePoint.pod] },
  { name: 'pod.src', type: 'string', description: 'pod name of the source address', getters: [(p) => podOf(p.srcEndpoint())] },
  { name: 'pod.dst', type: 'string', description: 'pod name of the destination address', getters: [(p) => podOf(p.dstEndpoint())] },
  { name: 'namespace', type: 'string', description: 'namespace of the source pod, the destination pod or the capture point pod (any of them)', getters: [(p) => nsOf(p.srcEndpoint()), (p) => nsOf(p.dstEndpoint()), (p) => p.capturePoint.namespace] },
  { name: 'namespace.src', type: 'string', description: 'namespace of the source pod', getters: [(p) => nsOf(p.srcEndpoint())] },
  { name: 'namespace.dst', type: 'string', description: 'namespace of the destination pod', getters: [(p) => nsOf(p.dstEndpoint())] },
  { name: 'node', type: 'string', description: 'node of the source, the destination or the capture point (any of them)', getters: [(p) => nodeOf(p.srcEndpoint()), (p) => nodeOf(p.dstEndpoint()), (p) => p.capturePoint.node] },
  { name: 'node.src', type: 'string', description: 'node of the source address (a pod\'s node, or the node owning the address)', getters: [(p) => nodeOf(p.srcEndpoint())] },
  { name: 'node.dst', type: 'string', description: 'node of the destination address', getters: [(p) => nodeOf(p.dstEndpoint())] },
  { name: 'capture_point', type: 'string', description: 'where the packet was captured, as the Capture point column shows it (`namespace/pod`, `node:NAME/IFACE` or the interface name)', getters: [(p) => p.capturePoint.label] },
];

export const FIELDS: ReadonlyMap<string, FieldDef> = new Map(F.map((f) => [f.name, f]));

/** Levenshtein distance (small strings). */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The known name closest to `name`, when close enough to be a likely typo. */
export function suggestField(name: string): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const f of FIELDS.keys()) {
    const d = distance(name.toLowerCase(), f);
    if (d < bestD) {
      bestD = d;
      best = f;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}
