/**
 * Pure, allocation-free protocol decoders: link layers (Ethernet with 802.1Q/802.1ad tag stacks,
 * Linux SLL and SLL2, raw IPv4/IPv6, BSD NULL/loopback), IPv4, IPv6 with extension headers, TCP,
 * UDP, ICMP, ICMPv6 and ARP. {@link decodePacket} fills a caller-owned {@link Decoded} in place, so
 * a summary over millions of packets allocates nothing per packet. Addresses are kept as numbers
 * (IPv4) or buffer offsets (IPv6) and turned into strings only when needed
 * ({@link formatIPv4}, {@link formatIPv6}).
 */

/** LINKTYPE_* values the decoders understand. */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  RARP: 0x8035,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  QINQ_OLD: 0x9100,
  IPV6: 0x86dd,
} as const;

export const IpProto = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

/** Decoding result; reused across packets. Fields beyond the decoded layer are stale. */
export class Decoded {
  /** Ethertype of the network layer (0 if unknown / not decoded). */
  etherType = 0;
  /** Number of VLAN tags stripped. */
  vlanTags = 0;
  /** 0, 4 or 6. */
  ipVersion = 0;
  /** IPv4 addresses as unsigned 32-bit numbers. */
  src4 = 0;
  dst4 = 0;
  /** IPv6 addresses: offsets of the 16-byte addresses in the packet buffer. */
  src6 = 0;
  dst6 = 0;
  /** IP protocol / final IPv6 next header (-1 if none). */
  proto = -1;
  /** True for IPv4/IPv6 fragments other than the first (no transport header). */
  fragment = false;
  /** Offset of the transport header in the buffer, and the transport length per the IP header. */
  l4Offset = 0;
  l4Length = 0;
  /** Captured bytes available from l4Offset. */
  l4Captured = 0;
  /** TCP/UDP ports; true when the transport header was decoded. */
  transport = false;
  srcPort = 0;
  dstPort = 0;
  // TCP
  seq = 0;
  ack = 0;
  tcpFlags = 0;
  window = 0;
  /** Offset of the TCP/UDP payload and its length per the IP header (may exceed what was captured). */
  payloadOffset = 0;
  payloadLength = 0;
  /** Captured payload bytes (<= payloadLength). */
  payloadCaptured = 0;
  // ICMP / ICMPv6
  icmpType = -1;
  icmpCode = -1;
  // ARP
  arpOp = 0;
}

/**
 * Decodes the packet at `b[off .. off+caplen)` with link type `linkType` into `out`.
 * Returns false when no network layer could be decoded.
 */
export function decodePacket(b: Uint8Array, off: number, caplen: number, linkType: number, out: Decoded): boolean {
  out.etherType = 0;
  out.vlanTags = 0;
  out.ipVersion = 0;
  out.proto = -1;
  out.transport = false;
  out.fragment = false;
  out.icmpType = -1;
  const end = off + caplen;
  let p = off;
  let et: number;
  switch (linkType) {
    case LinkType.ETHERNET: {
      if (caplen < 14) return false;
      p = off + 12;
      et = (b[p]! << 8) | b[p + 1]!;
      p += 2;
      while ((et === EtherType.VLAN || et === EtherType.QINQ || et === EtherType.QINQ_OLD || et === 0x9200) && p + 4 <= end) {
        et = (b[p + 2]! << 8) | b[p + 3]!;
        p += 4;
        out.vlanTags++;
      }
      if (et <= 1500) return false; // 802.3 length field: LLC, not decoded
      break;
    }
    case LinkType.LINUX_SLL:
      if (caplen < 16) return false;
      et = (b[off + 14]! << 8) | b[off + 15]!;
      p = off + 16;
      break;
    case LinkType.LINUX_SLL2:
      if (caplen < 20) return false;
      et = (b[off]! << 8) | b[off + 1]!;
      p = off + 20;
      break;
    case LinkType.RAW:
    case 12:
    case 14:
    case LinkType.IPV4:
    case LinkType.IPV6: {
      if (caplen < 1) return false;
      const v = b[off]! >> 4;
      et = v === 4 ? EtherType.IPV4 : v === 6 ? EtherType.IPV6 : 0;
      break;
    }
    case LinkType.NULL:
    case LinkType.LOOP: {
      if (caplen < 4) return false;
      const le = b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24);
      const be = (b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!;
      const fam = linkType === LinkType.LOOP ? be : (le & 0xffff0000) === 0 ? le : be;
      et = fam === 2 ? EtherType.IPV4 : fam === 10 || fam === 24 || fam === 28 || fam === 30 ? EtherType.IPV6 : 0;
      p = off + 4;
      break;
    }
    default:
      return false;
  }
  out.etherType = et;
  if (et === EtherType.IPV4) return decodeIPv4(b, p, end, out);
  if (et === EtherType.IPV6) return decodeIPv6(b, p, end, out);
  if (et === EtherType.ARP || et === EtherType.RARP) {
    if (p + 8 <= end) out.arpOp = (b[p + 6]! << 8) | b[p + 7]!;
    return true;
  }
  return false;
}

function decodeIPv4(b: Uint8Array, p: number, end: number, out: Decoded): boolean {
  if (p + 20 > end) return false;
  const vihl = b[p]!;
  if (vihl >> 4 !== 4) return false;
  const ihl = (vihl & 0x0f) * 4;
  if (ihl < 20) return false;
  const total = (b[p + 2]! << 8) | b[p + 3]!;
  const frag = ((b[p + 6]! << 8) | b[p + 7]!) & 0x1fff;
  out.ipVersion = 4;
  out.proto = b[p + 9]!;
  out.src4 = ((b[p + 12]! << 24) | (b[p + 13]! << 16) | (b[p + 14]! << 8) | b[p + 15]!) >>> 0;
  out.dst4 = ((b[p + 16]! << 24) | (b[p + 17]! << 16) | (b[p + 18]! << 8) | b[p + 19]!) >>> 0;
  out.fragment = frag !== 0;
  const l4 = p + ihl;
  // total length 0 happens with TCP segmentation offload: fall back to what was captured
  const l4len = total >= ihl ? total - ihl : Math.max(0, end - l4);
  return decodeL4(b, l4, l4len, end, out);
}

function decodeIPv6(b: Uint8Array, p: number, end: number, out: Decoded): boolean {
  if (p + 40 > end) return false;
  if (b[p]! >> 4 !== 6) return false;
  const plen = (b[p + 4]! << 8) | b[p + 5]!;
  let nh = b[p + 6]!;
  out.ipVersion = 6;
  out.src6 = p + 8;
  out.dst6 = p + 24;
  let q = p + 40;
  let remaining = plen === 0 ? Math.max(0, end - q) : plen; // jumbogram / TSO: use captured length
  for (let i = 0; i < 16; i++) {
    if (nh === 0 || nh === 43 || nh === 60 || nh === 135 || nh === 139 || nh === 140) {
      if (q + 2 > end) {
        out.proto = nh;
        return true;
      }
      const len = (b[q + 1]! + 1) * 8;
      nh = b[q]!;
      q += len;
      remaining -= len;
    } else if (nh === 44) {
      if (q + 8 > end) {
        out.proto = nh;
        return true;
      }
      const fo = ((b[q + 2]! << 8) | b[q + 3]!) & 0xfff8;
      nh = b[q]!;
      q += 8;
      remaining -= 8;
      if (fo !== 0) out.fragment = true;
    } else if (nh === 51) {
      if (q + 2 > end) {
        out.proto = nh;
        return true;
      }
      const len = (b[q + 1]! + 2) * 4;
      nh = b[q]!;
      q += len;
      remaining -= len;
    } else break;
  }
  out.proto = nh;
  if (remaining < 0) remaining = 0;
  return decodeL4(b, q, remaining, end, out);
}

function decodeL4(b: Uint8Array, q: number, l4len: number, end: number, out: Decoded): boolean {
  out.l4Offset = q;
  out.l4Length = l4len;
  out.l4Captured = q <= end ? end - q : 0;
  if (out.fragment) return true;
  const proto = out.proto;
  if (proto === IpProto.TCP) {
    if (q + 20 > end) return true;
    const thl = (b[q + 12]! >> 4) * 4;
    // like tshark, a TCP header that is cut short (options missing) is not a TCP segment
    if (thl < 20 || q + thl > end) return true;
    out.transport = true;
    out.srcPort = (b[q]! << 8) | b[q + 1]!;
    out.dstPort = (b[q + 2]! << 8) | b[q + 3]!;
    out.seq = ((b[q + 4]! << 24) | (b[q + 5]! << 16) | (b[q + 6]! << 8) | b[q + 7]!) >>> 0;
    out.ack = ((b[q + 8]! << 24) | (b[q + 9]! << 16) | (b[q + 10]! << 8) | b[q + 11]!) >>> 0;
    out.tcpFlags = b[q + 13]!;
    out.window = (b[q + 14]! << 8) | b[q + 15]!;
    out.payloadOffset = q + thl;
    out.payloadLength = l4len > thl ? l4len - thl : 0;
    const cap = end - out.payloadOffset;
    out.payloadCaptured = cap <= 0 ? 0 : cap < out.payloadLength ? cap : out.payloadLength;
  } else if (proto === IpProto.UDP) {
    if (q + 8 > end) return true;
    out.transport = true;
    out.srcPort = (b[q]! << 8) | b[q + 1]!;
    out.dstPort = (b[q + 2]! << 8) | b[q + 3]!;
    const ulen = (b[q + 4]! << 8) | b[q + 5]!;
    out.payloadOffset = q + 8;
    out.payloadLength = ulen >= 8 ? ulen - 8 : l4len > 8 ? l4len - 8 : 0;
    const cap = end - out.payloadOffset;
    out.payloadCaptured = cap <= 0 ? 0 : cap < out.payloadLength ? cap : out.payloadLength;
  } else if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) {
    if (q + 2 > end) return true;
    out.icmpType = b[q]!;
    out.icmpCode = b[q + 1]!;
  }
  return true;
}

/** Dotted-quad form of an IPv4 address held as a number. */
export function formatIPv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** RFC 5952 text form of the IPv6 address at `b[o .. o+16)` (lower case, longest zero run as ::). */
export function formatIPv6(b: Uint8Array, o: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!);
  // IPv4-mapped
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${b[o + 12]}.${b[o + 13]}.${b[o + 14]}.${b[o + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] === 0) {
      let j = i;
      while (j < 8 && w[j] === 0) j++;
      if (j - i > bestLen && j - i >= 2) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    } else i++;
  }
  const hex = w.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

/** Source address of a decoded IP packet as text. */
export function srcAddress(b: Uint8Array, d: Decoded): string {
  return d.ipVersion === 4 ? formatIPv4(d.src4) : formatIPv6(b, d.src6);
}

/** Destination address of a decoded IP packet as text. */
export function dstAddress(b: Uint8Array, d: Decoded): string {
  return d.ipVersion === 4 ? formatIPv4(d.dst4) : formatIPv6(b, d.dst6);
}
