/**
 * The packet detail tree (pure): one {@link FieldNode} per layer with a child per field, each
 * with its byte range in the packet and, as `field`, its display-filter name (docs/filters.md),
 * so the UI can turn a click into a filter. Layers: frame, link (Ethernet with VLAN tags, Linux
 * SLL, SLL2, raw / loopback), ARP, IPv4, IPv6, TCP (flags as children), UDP, ICMP, ICMPv6, DNS
 * (questions and answers) and HTTP/1.x (start line and headers).
 */
import { EtherType, formatIPv4, formatIPv6, IpProto, LinkType } from '../decode.js';
import { qtypeName, rcodeName } from '../dns.js';
import { endpointLabel, type EndpointInfo } from '../metadata.js';
import type { FilterPacket } from '../filter/packet.js';
import type { FieldNode } from './types.js';
import { formatMac, icmp6TypeName, icmpTypeName, tcpFlagNames } from './row.js';

const hex = (n: number, w: number): string => `0x${n.toString(16).padStart(w, '0')}`;

export function dissect(p: FilterPacket, frameLabel: { number: number; timestamp: string; capturePoint: string }): FieldNode[] {
  const b = p.b;
  const base = p.off;
  const end = p.off + p.caplen;
  const node = (field: string, label: string, o: number, len: number, children?: FieldNode[]): FieldNode => {
    const n: FieldNode = { field, label, offset: Math.max(0, o - base), length: Math.max(0, Math.min(len, end - o)) };
    if (children && children.length > 0) n.children = children;
    return n;
  };
  const u16 = (o: number): number => (b[o]! << 8) | b[o + 1]!;
  const u32 = (o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  const has = (o: number, n: number): boolean => o >= base && o + n <= end;
  const named = (addr: string, e: EndpointInfo | undefined): string => {
    const l = endpointLabel(e);
    return l ? `${addr} (${l})` : addr;
  };
  const layers: FieldNode[] = [];

  layers.push(
    node('frame', `Frame ${frameLabel.number}: ${p.origLen} bytes on wire, ${p.caplen} bytes captured, at ${frameLabel.capturePoint}`, base, p.caplen, [
      node('frame.number', `Frame Number: ${frameLabel.number}`, base, 0),
      node('frame.time_epoch', `Arrival Time: ${frameLabel.timestamp}`, base, 0),
      node('frame.time_relative', `Time since first frame: ${p.relTime.toFixed(9)} seconds`, base, 0),
      node('frame.len', `Frame Length: ${p.origLen} bytes`, base, 0),
      node('frame.cap_len', `Capture Length: ${p.caplen} bytes`, base, 0),
      node('frame.interface_id', `Interface id: ${p.interfaceId}`, base, 0),
      node('capture_point', `Capture point: ${frameLabel.capturePoint}`, base, 0),
    ]),
  );

  const li = p.linkInfo();
  if (p.linkType === LinkType.ETHERNET && li.ethOffset >= 0) {
    const e = li.ethOffset;
    const kids = [node('eth.dst', `Destination: ${formatMac(b, e)}`, e, 6), node('eth.src', `Source: ${formatMac(b, e + 6)}`, e + 6, 6)];
    let q = e + 12;
    let et = u16(q);
    const vlans: FieldNode[] = [];
    kids.push(node('eth.type', `Type: ${etherTypeName(et)} (${hex(et, 4)})`, q, 2));
    while ((et === EtherType.VLAN || et === EtherType.QINQ || et === EtherType.QINQ_OLD || et === 0x9200) && has(q + 2, 4)) {
      const tci = u16(q + 2);
      const inner = u16(q + 4);
      // 0x8100 is an 802.1Q tag (Wireshark's "vlan"); 0x88a8 (and the older 0x9100/0x9200) an 802.1ad service tag
      const pre = et === EtherType.VLAN ? 'vlan' : 'ieee8021ad';
      vlans.push(
        node(pre, `${pre === 'vlan' ? '802.1Q Virtual LAN' : '802.1ad Service VLAN'}, PRI: ${tci >> 13}, DEI: ${(tci >> 12) & 1}, ID: ${tci & 0xfff}`, q + 2, 4, [
          node(`${pre}.priority`, `Priority: ${tci >> 13}`, q + 2, pre === 'vlan' ? 2 : 1),
          node(`${pre}.dei`, `DEI: ${(tci >> 12) & 1}`, q + 2, pre === 'vlan' ? 2 : 1),
          node(`${pre}.id`, `ID: ${tci & 0xfff}`, q + 2, 2),
          node(`${pre}.etype`, `Type: ${etherTypeName(inner)} (${hex(inner, 4)})`, q + 4, 2),
        ]),
      );
      q += 4;
      et = inner;
    }
    layers.push(node('eth', `Ethernet II, Src: ${formatMac(b, e + 6)}, Dst: ${formatMac(b, e)}`, e, 14, kids));
    layers.push(...vlans);
  } else if (li.sllOffset >= 0) {
    const s = li.sllOffset;
    if (p.linkType === LinkType.LINUX_SLL) {
      const ptype = u16(s);
      layers.push(
        node('sll', 'Linux cooked capture v1', s, 16, [
          node('sll.pkttype', `Packet type: ${sllPacketType(ptype)} (${ptype})`, s, 2),
          node('sll.hatype', `Link-layer address type: ${u16(s + 2)}`, s + 2, 2),
          node('sll.halen', `Link-layer address length: ${u16(s + 4)}`, s + 4, 2),
          node('sll.src', `Source: ${formatMac(b, s + 6)}`, s + 6, Math.min(8, u16(s + 4))),
          node('sll.etype', `Protocol: ${etherTypeName(u16(s + 14))} (${hex(u16(s + 14), 4)})`, s + 14, 2),
        ]),
      );
    } else {
      layers.push(
        node('sll', 'Linux cooked capture v2', s, 20, [
          node('sll.etype', `Protocol: ${etherTypeName(u16(s))} (${hex(u16(s), 4)})`, s, 2),
          node('sll.ifindex', `Interface index: ${u32(s + 4)}`, s + 4, 4),
          node('sll.hatype', `Link-layer address type: ${u16(s + 8)}`, s + 8, 2),
          node('sll.pkttype', `Packet type: ${sllPacketType(b[s + 10]!)} (${b[s + 10]})`, s + 10, 1),
          node('sll.halen', `Link-layer address length: ${b[s + 11]}`, s + 11, 1),
          node('sll.src', `Source: ${formatMac(b, s + 12)}`, s + 12, Math.min(8, b[s + 11]!)),
        ]),
      );
    }
  } else if (p.linkType === LinkType.NULL || p.linkType === LinkType.LOOP) {
    layers.push(node('null', 'Null/Loopback', base, 4, [node('null.family', `Family: ${u32(base)}`, base, 4)]));
  } else {
    layers.push(node('raw', 'Raw packet data (no link header)', base, 0));
  }

  const d = p.d;
  const n = li.netOffset;
  if ((d.etherType === EtherType.ARP || d.etherType === EtherType.RARP) && n >= 0 && has(n, 28)) {
    const op = u16(n + 6);
    layers.push(
      node('arp', `Address Resolution Protocol (${op === 1 ? 'request' : op === 2 ? 'reply' : `opcode ${op}`})`, n, 28, [
        node('arp.hw.type', `Hardware type: ${u16(n)}`, n, 2),
        node('arp.proto.type', `Protocol type: ${hex(u16(n + 2), 4)}`, n + 2, 2),
        node('arp.hw.size', `Hardware size: ${b[n + 4]}`, n + 4, 1),
        node('arp.proto.size', `Protocol size: ${b[n + 5]}`, n + 5, 1),
        node('arp.opcode', `Opcode: ${op === 1 ? 'request' : op === 2 ? 'reply' : op} (${op})`, n + 6, 2),
        node('arp.src.hw_mac', `Sender MAC address: ${formatMac(b, n + 8)}`, n + 8, 6),
        node('arp.src.proto_ipv4', `Sender IP address: ${formatIPv4(u32(n + 14))}`, n + 14, 4),
        node('arp.dst.hw_mac', `Target MAC address: ${formatMac(b, n + 18)}`, n + 18, 6),
        node('arp.dst.proto_ipv4', `Target IP address: ${formatIPv4(u32(n + 24))}`, n + 24, 4),
      ]),
    );
    return layers;
  }
  if (d.ipVersion === 4 && n >= 0 && has(n, 20)) {
    const ihl = (b[n]! & 15) * 4;
    const fl = u16(n + 6);
    const src = formatIPv4(d.src4);
    const dst = formatIPv4(d.dst4);
    layers.push(
      node('ip', `Internet Protocol Version 4, Src: ${named(src, p.srcEndpoint())}, Dst: ${named(dst, p.dstEndpoint())}`, n, ihl, [
        node('ip.version', 'Version: 4', n, 1),
        node('ip.hdr_len', `Header Length: ${ihl} bytes`, n, 1),
        node('ip.dsfield.dscp', `Differentiated Services Codepoint: ${b[n + 1]! >> 2}`, n + 1, 1),
        node('ip.len', `Total Length: ${u16(n + 2)}`, n + 2, 2),
        node('ip.id', `Identification: ${hex(u16(n + 4), 4)} (${u16(n + 4)})`, n + 4, 2),
        node('ip.flags', `Flags: ${hex(fl >> 13, 1)}${fl & 0x4000 ? ", Don't fragment" : ''}${fl & 0x2000 ? ', More fragments' : ''}`, n + 6, 1, [
          node('ip.flags.df', `Don't fragment: ${(fl >> 14) & 1 ? 'Set' : 'Not set'}`, n + 6, 1),
          node('ip.flags.mf', `More fragments: ${(fl >> 13) & 1 ? 'Set' : 'Not set'}`, n + 6, 1),
        ]),
        node('ip.frag_offset', `Fragment Offset: ${(fl & 0x1fff) * 8}`, n + 6, 2),
        node('ip.ttl', `Time to Live: ${b[n + 8]}`, n + 8, 1),
        node('ip.proto', `Protocol: ${ipProtoName(b[n + 9]!)} (${b[n + 9]})`, n + 9, 1),
        node('ip.checksum', `Header Checksum: ${hex(u16(n + 10), 4)}`, n + 10, 2),
        node('ip.src', `Source Address: ${named(src, p.srcEndpoint())}`, n + 12, 4),
        node('ip.dst', `Destination Address: ${named(dst, p.dstEndpoint())}`, n + 16, 4),
      ]),
    );
  } else if (d.ipVersion === 6 && n >= 0 && has(n, 40)) {
    const src = formatIPv6(b, d.src6);
    const dst = formatIPv6(b, d.dst6);
    const vtf = u32(n);
    layers.push(
      node('ipv6', `Internet Protocol Version 6, Src: ${named(src, p.srcEndpoint())}, Dst: ${named(dst, p.dstEndpoint())}`, n, 40, [
        node('ipv6.version', 'Version: 6', n, 1),
        node('ipv6.tclass', `Traffic Class: ${hex((vtf >>> 20) & 0xff, 2)}`, n, 4),
        node('ipv6.flow', `Flow Label: ${hex(vtf & 0xfffff, 5)}`, n + 1, 3),
        node('ipv6.plen', `Payload Length: ${u16(n + 4)}`, n + 4, 2),
        node('ipv6.nxt', `Next Header: ${ipProtoName(b[n + 6]!)} (${b[n + 6]})`, n + 6, 1),
        node('ipv6.hlim', `Hop Limit: ${b[n + 7]}`, n + 7, 1),
        node('ipv6.src', `Source Address: ${named(src, p.srcEndpoint())}`, n + 8, 16),
        node('ipv6.dst', `Destination Address: ${named(dst, p.dstEndpoint())}`, n + 24, 16),
      ]),
    );
  } else return layers;

  if (d.fragment) return layers;
  const t = d.l4Offset;
  if (d.proto === IpProto.TCP && d.transport) {
    const hl = d.payloadOffset - t;
    const f = d.tcpFlags;
    const bit = (mask: number, name: string, field: string): FieldNode => node(field, `${name}: ${f & mask ? 'Set' : 'Not set'}`, t + 13, 1);
    layers.push(
      node('tcp', `Transmission Control Protocol, Src Port: ${d.srcPort}, Dst Port: ${d.dstPort}, Seq: ${d.seq}, Len: ${d.payloadLength}`, t, hl, [
        node('tcp.srcport', `Source Port: ${d.srcPort}`, t, 2),
        node('tcp.dstport', `Destination Port: ${d.dstPort}`, t + 2, 2),
        ...(p.stream >= 0 ? [node('tcp.stream', `Stream index: ${p.stream}`, t, 0)] : []),
        node('tcp.len', `TCP Segment Len: ${d.payloadLength}`, t, 0),
        node('tcp.seq_raw', `Sequence Number (raw): ${d.seq}`, t + 4, 4),
        node('tcp.ack_raw', `Acknowledgment number (raw): ${d.ack}`, t + 8, 4),
        node('tcp.hdr_len', `Header Length: ${hl} bytes`, t + 12, 1),
        node('tcp.flags', `Flags: ${hex(f, 3)} (${tcpFlagNames(f)})`, t + 12, 2, [
          bit(0x80, 'Congestion Window Reduced', 'tcp.flags.cwr'),
          bit(0x40, 'ECN-Echo', 'tcp.flags.ece'),
          bit(0x20, 'Urgent', 'tcp.flags.urg'),
          bit(0x10, 'Acknowledgment', 'tcp.flags.ack'),
          bit(0x08, 'Push', 'tcp.flags.push'),
          bit(0x04, 'Reset', 'tcp.flags.reset'),
          bit(0x02, 'Syn', 'tcp.flags.syn'),
          bit(0x01, 'Fin', 'tcp.flags.fin'),
        ]),
        node('tcp.window_size_value', `Window: ${d.window}`, t + 14, 2),
        node('tcp.checksum', `Checksum: ${hex(u16(t + 16), 4)}`, t + 16, 2),
        node('tcp.urgent_pointer', `Urgent Pointer: ${u16(t + 18)}`, t + 18, 2),
        ...(hl > 20 ? [node('tcp.options', `Options: (${hl - 20} bytes)`, t + 20, hl - 20)] : []),
      ]),
    );
  } else if (d.proto === IpProto.UDP && d.transport) {
    layers.push(
      node('udp', `User Datagram Protocol, Src Port: ${d.srcPort}, Dst Port: ${d.dstPort}`, t, 8, [
        node('udp.srcport', `Source Port: ${d.srcPort}`, t, 2),
        node('udp.dstport', `Destination Port: ${d.dstPort}`, t + 2, 2),
        node('udp.length', `Length: ${u16(t + 4)}`, t + 4, 2),
        node('udp.checksum', `Checksum: ${hex(u16(t + 6), 4)}`, t + 6, 2),
      ]),
    );
  } else if ((d.proto === IpProto.ICMP || d.proto === IpProto.ICMPV6) && d.icmpType >= 0) {
    const v6 = d.proto === IpProto.ICMPV6;
    const pre = v6 ? 'icmpv6' : 'icmp';
    const name = v6 ? icmp6TypeName(d.icmpType) : icmpTypeName(d.icmpType, d.icmpCode);
    const kids = [node(`${pre}.type`, `Type: ${d.icmpType} (${name})`, t, 1), node(`${pre}.code`, `Code: ${d.icmpCode}`, t + 1, 1)];
    if (has(t + 2, 2)) kids.push(node(`${pre}.checksum`, `Checksum: ${hex(u16(t + 2), 4)}`, t + 2, 2));
    const echo = v6 ? d.icmpType === 128 || d.icmpType === 129 : d.icmpType === 0 || d.icmpType === 8;
    if (echo && has(t + 4, 4)) kids.push(node(`${pre}.ident`, `Identifier: ${u16(t + 4)}`, t + 4, 2), node(`${pre}.seq`, `Sequence Number: ${u16(t + 6)}`, t + 6, 2));
    if (v6 && (d.icmpType === 135 || d.icmpType === 136) && has(t + 8, 16)) kids.push(node('icmpv6.nd.ns.target_address', `Target Address: ${formatIPv6(b, t + 8)}`, t + 8, 16));
    layers.push(node(pre, v6 ? 'Internet Control Message Protocol v6' : 'Internet Control Message Protocol', t, end - t, kids));
    return layers;
  } else return layers;

  const h = p.dns();
  if (h !== undefined) {
    const o = d.payloadOffset + (d.proto === IpProto.TCP ? 2 : 0);
    layers.push(dnsTree(b, o, end, h.qr, node));
    return layers;
  }
  if (p.isHttp()) layers.push(httpTree(b, d.payloadOffset, d.payloadOffset + d.payloadCaptured, p.httpRequest() !== undefined, node));
  else if (d.payloadCaptured > 0) layers.push(node('data', `Data (${d.payloadCaptured} bytes)`, d.payloadOffset, d.payloadCaptured));
  return layers;
}

type Mk = (field: string, label: string, o: number, len: number, children?: FieldNode[]) => FieldNode;

/** Reads a DNS name at `p` (following pointers, bounded); returns the name and the end of it in place. */
function dnsName(b: Uint8Array, msg: number, p: number, end: number): { name: string; next: number } | undefined {
  const labels: string[] = [];
  let next = -1;
  let jumps = 0;
  let total = 0;
  for (;;) {
    if (p >= end) return undefined;
    const l = b[p]!;
    if (l === 0) {
      if (next < 0) next = p + 1;
      break;
    }
    if ((l & 0xc0) === 0xc0) {
      if (p + 1 >= end || ++jumps > 32) return undefined;
      if (next < 0) next = p + 2;
      p = msg + (((l & 0x3f) << 8) | b[p + 1]!);
      continue;
    }
    if ((l & 0xc0) !== 0 || p + 1 + l > end) return undefined;
    total += l + 1;
    if (total > 255) return undefined;
    labels.push(Buffer.from(b.buffer, b.byteOffset + p + 1, l).toString('latin1'));
    p += 1 + l;
  }
  return { name: labels.length === 0 ? '<Root>' : labels.join('.'), next };
}

function dnsTree(b: Uint8Array, o: number, end: number, response: boolean, node: Mk): FieldNode {
  const u16 = (x: number): number => (b[x]! << 8) | b[x + 1]!;
  const flags = u16(o + 2);
  const qd = u16(o + 4);
  const an = u16(o + 6);
  const kids: FieldNode[] = [
    node('dns.id', `Transaction ID: 0x${u16(o).toString(16).padStart(4, '0')}`, o, 2),
    node('dns.flags', `Flags: 0x${flags.toString(16).padStart(4, '0')} ${response ? 'Standard query response' : 'Standard query'}${response && (flags & 15) !== 0 ? `, ${rcodeName(flags & 15)}` : ''}`, o + 2, 2, [
      node('dns.flags.response', `Response: ${response ? 'Message is a response' : 'Message is a query'}`, o + 2, 2),
      node('dns.flags.opcode', `Opcode: ${(flags >> 11) & 15}`, o + 2, 2),
      node('dns.flags.rcode', `Reply code: ${rcodeName(flags & 15)} (${flags & 15})`, o + 2, 2),
    ]),
    node('dns.count.queries', `Questions: ${qd}`, o + 4, 2),
    node('dns.count.answers', `Answer RRs: ${an}`, o + 6, 2),
    node('dns.count.auth_rr', `Authority RRs: ${u16(o + 8)}`, o + 8, 2),
    node('dns.count.add_rr', `Additional RRs: ${u16(o + 10)}`, o + 10, 2),
  ];
  let p = o + 12;
  const qs: FieldNode[] = [];
  for (let i = 0; i < qd && i < 32; i++) {
    const n = dnsName(b, o, p, end);
    if (n === undefined || n.next + 4 > end) break;
    const type = u16(n.next);
    qs.push(node('', `${n.name}: type ${qtypeName(type)}, class ${u16(n.next + 2) === 1 ? 'IN' : u16(n.next + 2)}`, p, n.next + 4 - p, [node('dns.qry.name', `Name: ${n.name}`, p, n.next - p), node('dns.qry.type', `Type: ${qtypeName(type)} (${type})`, n.next, 2)]));
    p = n.next + 4;
  }
  if (qs.length > 0) kids.push(node('', 'Queries', o + 12, p - o - 12, qs));
  const as: FieldNode[] = [];
  const aStart = p;
  for (let i = 0; i < an && i < 64; i++) {
    const n = dnsName(b, o, p, end);
    if (n === undefined || n.next + 10 > end) break;
    const type = u16(n.next);
    const ttl = ((b[n.next + 4]! << 24) | (b[n.next + 5]! << 16) | (b[n.next + 6]! << 8) | b[n.next + 7]!) >>> 0;
    const rdlen = u16(n.next + 8);
    const rd = n.next + 10;
    if (rd + rdlen > end) break;
    let data = `${rdlen} bytes`;
    const rdata: FieldNode[] = [];
    if (type === 1 && rdlen === 4) {
      data = `addr ${b[rd]}.${b[rd + 1]}.${b[rd + 2]}.${b[rd + 3]}`;
      rdata.push(node('dns.a', `Address: ${data.slice(5)}`, rd, 4));
    } else if (type === 28 && rdlen === 16) {
      data = `addr ${formatIPv6(b, rd)}`;
      rdata.push(node('dns.aaaa', `AAAA Address: ${data.slice(5)}`, rd, 16));
    } else if (type === 5 || type === 2 || type === 12) {
      const c = dnsName(b, o, rd, end);
      if (c) data = `${qtypeName(type).toLowerCase()} ${c.name}`;
    }
    as.push(node('', `${n.name}: type ${qtypeName(type)}, class IN, ttl ${ttl}, ${data}`, p, rd + rdlen - p, [node('dns.resp.name', `Name: ${n.name}`, p, n.next - p), node('dns.resp.type', `Type: ${qtypeName(type)} (${type})`, n.next, 2), node('dns.resp.ttl', `Time to live: ${ttl}`, n.next + 4, 4), ...rdata]));
    p = rd + rdlen;
  }
  if (as.length > 0) kids.push(node('', 'Answers', aStart, p - aStart, as));
  return node('dns', `Domain Name System (${response ? 'response' : 'query'})`, o, end - o, kids);
}

function httpTree(b: Uint8Array, o: number, end: number, request: boolean, node: Mk): FieldNode {
  const kids: FieldNode[] = [];
  let i = o;
  let first = true;
  const stop = Math.min(end, o + 65536);
  while (i < stop) {
    let j = i;
    while (j < stop && b[j] !== 0x0a) j++;
    let le = j;
    if (le > i && b[le - 1] === 0x0d) le--;
    const line = Buffer.from(b.buffer, b.byteOffset + i, le - i).toString('latin1');
    if (first) {
      if (request) {
        const sp = line.indexOf(' ');
        const sp2 = line.lastIndexOf(' ');
        kids.push(node('', line, i, j + 1 - i, [node('http.request.method', `Request Method: ${line.slice(0, sp)}`, i, sp), node('http.request.uri', `Request URI: ${line.slice(sp + 1, sp2)}`, i + sp + 1, sp2 - sp - 1), node('http.request.version', `Request Version: ${line.slice(sp2 + 1)}`, i + sp2 + 1, le - i - sp2 - 1)]));
      } else {
        kids.push(node('', line, i, j + 1 - i, [node('http.response.version', `Response Version: ${line.slice(0, 8)}`, i, 8), node('http.response.code', `Status Code: ${line.slice(9, 12)}`, i + 9, 3), node('http.response.phrase', `Response Phrase: ${line.slice(13)}`, i + 13, Math.max(0, le - i - 13))]));
      }
      first = false;
    } else if (le === i) {
      if (j < end && j + 1 < end) kids.push(node('http.file_data', `File Data: ${end - (j + 1)} bytes`, j + 1, end - j - 1));
      break;
    } else {
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon).toLowerCase() : '';
      const known: Record<string, string> = { host: 'http.host', 'user-agent': 'http.user_agent', 'content-type': 'http.content_type', 'content-length': 'http.content_length_header', server: 'http.server', accept: 'http.accept' };
      kids.push(node(known[name] ?? (request ? 'http.request.line' : 'http.response.line'), line, i, j + 1 - i));
    }
    i = j + 1;
  }
  return node('http', 'Hypertext Transfer Protocol', o, end - o, kids);
}

function etherTypeName(et: number): string {
  switch (et) {
    case EtherType.IPV4:
      return 'IPv4';
    case EtherType.IPV6:
      return 'IPv6';
    case EtherType.ARP:
      return 'ARP';
    case EtherType.VLAN:
      return '802.1Q';
    case EtherType.QINQ:
      return '802.1ad';
    default:
      return 'Unknown';
  }
}

function sllPacketType(t: number): string {
  return ['Unicast to us', 'Broadcast', 'Multicast', 'Unicast to another host', 'Sent by us'][t] ?? 'Unknown';
}

function ipProtoName(p: number): string {
  const names: Record<number, string> = { 0: 'Hop-by-hop', 1: 'ICMP', 2: 'IGMP', 6: 'TCP', 17: 'UDP', 41: 'IPv6', 43: 'Routing', 44: 'Fragment', 47: 'GRE', 50: 'ESP', 51: 'AH', 58: 'ICMPv6', 59: 'No next header', 60: 'Destination options', 132: 'SCTP' };
  return names[p] ?? 'Unknown';
}
