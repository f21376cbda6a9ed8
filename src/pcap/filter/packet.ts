/**
 * The packet a compiled display filter is evaluated on: one object reused for every packet (the
 * filter pass allocates nothing per packet for link/IP/transport fields). {@link FilterPacket.set}
 * decodes link, network and transport with the allocation-free decoder; DNS and HTTP are decoded
 * lazily, only when a test asks for them, and cached for the packet.
 */
import { decodePacket, Decoded, EtherType, IpProto, LinkType } from '../decode.js';
import { decodeDns, type DnsHeader } from '../dns.js';
import { parseHttpRequest, parseHttpStatus, type HttpRequestLine } from '../http.js';
import { formatIPv6 } from '../decode.js';
import type { EndpointInfo } from '../metadata.js';

/** Where a packet was captured, as the view resolved it from the capture metadata. */
export interface CapturePointInfo {
  /** `namespace/pod`, `node:NAME/IFACE` or the interface name. */
  label: string;
  pod?: string;
  namespace?: string;
  node?: string;
}

/** IP -> owner, keyed for fast lookup (IPv4 as number, everything as text). */
export class EndpointIndex {
  private readonly v4 = new Map<number, EndpointInfo>();
  private readonly text = new Map<string, EndpointInfo>();
  constructor(map: ReadonlyMap<string, EndpointInfo> = new Map()) {
    for (const [ip, e] of map) {
      this.text.set(ip, e);
      const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
      if (m) this.v4.set(((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0, e);
    }
  }
  get size(): number {
    return this.text.size;
  }
  ipv4(a: number): EndpointInfo | undefined {
    return this.v4.get(a);
  }
  ip(text: string): EndpointInfo | undefined {
    return this.text.get(text);
  }
}

/** Link-layer facts the decoder does not keep: where the network header starts, VLAN, MACs. */
export class LinkInfo {
  /** Offset of the Ethernet header (-1 when the link is not Ethernet). */
  ethOffset = -1;
  /** Offset of the network header (-1 when none). */
  netOffset = -1;
  /** Offset of the first 802.1Q tag's TCI (-1 when none). */
  vlanOffset = -1;
  /** SLL/SLL2 header offset (-1 when none). */
  sllOffset = -1;
}

export function parseLink(b: Uint8Array, off: number, caplen: number, linkType: number, out: LinkInfo): void {
  out.ethOffset = -1;
  out.netOffset = -1;
  out.vlanOffset = -1;
  out.sllOffset = -1;
  const end = off + caplen;
  switch (linkType) {
    case LinkType.ETHERNET: {
      if (caplen < 14) return;
      out.ethOffset = off;
      let p = off + 12;
      let et = (b[p]! << 8) | b[p + 1]!;
      p += 2;
      while ((et === EtherType.VLAN || et === EtherType.QINQ || et === EtherType.QINQ_OLD || et === 0x9200) && p + 4 <= end) {
        if (out.vlanOffset < 0 && et === EtherType.VLAN) out.vlanOffset = p; // 802.1Q; 802.1ad service tags are not "vlan" in Wireshark
        et = (b[p + 2]! << 8) | b[p + 3]!;
        p += 4;
      }
      if (et > 1500) out.netOffset = p;
      return;
    }
    case LinkType.LINUX_SLL:
      if (caplen >= 16) {
        out.sllOffset = off;
        out.netOffset = off + 16;
      }
      return;
    case LinkType.LINUX_SLL2:
      if (caplen >= 20) {
        out.sllOffset = off;
        out.netOffset = off + 20;
      }
      return;
    case LinkType.NULL:
    case LinkType.LOOP:
      if (caplen >= 4) out.netOffset = off + 4;
      return;
    default:
      if (caplen >= 1) out.netOffset = off;
  }
}

export class FilterPacket {
  readonly d = new Decoded();
  readonly link = new LinkInfo();
  b: Uint8Array = new Uint8Array(0);
  off = 0;
  caplen = 0;
  origLen = 0;
  linkType = 0;
  /** 1-based frame number in the view. */
  frame = 0;
  tsSec = 0;
  tsNsec = 0;
  /** Seconds since the view's first packet. */
  relTime = 0;
  interfaceId = 0;
  /** true when a network layer was decoded */
  ok = false;
  /** tcp.stream of the packet (-1 when not TCP or not tracked). */
  stream = -1;
  capturePoint: CapturePointInfo = { label: '' };
  endpoints: EndpointIndex = new EndpointIndex();

  private gen = 0;
  private linkGen = -1;
  private dnsGen = -1;
  private dnsHdr: DnsHeader | undefined;
  private httpGen = -1;
  private httpReq: HttpRequestLine | undefined;
  private httpCode = -1;
  private epGen = -1;
  private srcEp: EndpointInfo | undefined;
  private dstEp: EndpointInfo | undefined;

  /** Points the context at a packet and decodes it. */
  set(b: Uint8Array, off: number, caplen: number, origLen: number, linkType: number): void {
    this.b = b;
    this.off = off;
    this.caplen = caplen;
    this.origLen = origLen;
    this.linkType = linkType;
    this.gen++;
    this.ok = decodePacket(b, off, caplen, linkType, this.d);
  }

  /** Link facts (computed on first use for this packet). */
  linkInfo(): LinkInfo {
    if (this.linkGen !== this.gen) {
      parseLink(this.b, this.off, this.caplen, this.linkType, this.link);
      this.linkGen = this.gen;
    }
    return this.link;
  }

  get isTcp(): boolean {
    return this.d.transport && this.d.proto === IpProto.TCP;
  }

  get isUdp(): boolean {
    return this.d.transport && this.d.proto === IpProto.UDP;
  }

  /** The DNS message (port 53 over UDP, or TCP with its 2-byte length prefix), if any. */
  dns(): DnsHeader | undefined {
    if (this.dnsGen === this.gen) return this.dnsHdr;
    this.dnsGen = this.gen;
    this.dnsHdr = undefined;
    const d = this.d;
    if (!d.transport || d.fragment || (d.srcPort !== 53 && d.dstPort !== 53) || d.payloadCaptured <= 0) return undefined;
    if (d.proto === IpProto.UDP) this.dnsHdr = decodeDns(this.b, d.payloadOffset, d.payloadCaptured);
    else if (d.proto === IpProto.TCP && d.payloadCaptured > 2) this.dnsHdr = decodeDns(this.b, d.payloadOffset + 2, d.payloadCaptured - 2);
    return this.dnsHdr;
  }

  private decodeHttp(): void {
    if (this.httpGen === this.gen) return;
    this.httpGen = this.gen;
    this.httpReq = undefined;
    this.httpCode = -1;
    const d = this.d;
    if (!this.isTcp || d.payloadCaptured <= 0) return;
    this.httpReq = parseHttpRequest(this.b, d.payloadOffset, d.payloadCaptured);
    if (this.httpReq === undefined) this.httpCode = parseHttpStatus(this.b, d.payloadOffset, d.payloadCaptured);
  }

  /** HTTP/1.x request line at the start of the TCP payload. */
  httpRequest(): HttpRequestLine | undefined {
    this.decodeHttp();
    return this.httpReq;
  }

  /** HTTP/1.x status code at the start of the TCP payload, or -1. */
  httpStatus(): number {
    this.decodeHttp();
    return this.httpCode;
  }

  isHttp(): boolean {
    this.decodeHttp();
    return this.httpReq !== undefined || this.httpCode >= 0;
  }

  private resolveEndpoints(): void {
    if (this.epGen === this.gen) return;
    this.epGen = this.gen;
    this.srcEp = undefined;
    this.dstEp = undefined;
    const d = this.d;
    if (this.endpoints.size === 0) return;
    if (d.ipVersion === 4) {
      this.srcEp = this.endpoints.ipv4(d.src4);
      this.dstEp = this.endpoints.ipv4(d.dst4);
    } else if (d.ipVersion === 6) {
      this.srcEp = this.endpoints.ip(formatIPv6(this.b, d.src6));
      this.dstEp = this.endpoints.ip(formatIPv6(this.b, d.dst6));
    }
  }

  srcEndpoint(): EndpointInfo | undefined {
    this.resolveEndpoints();
    return this.srcEp;
  }

  dstEndpoint(): EndpointInfo | undefined {
    this.resolveEndpoints();
    return this.dstEp;
  }
}
