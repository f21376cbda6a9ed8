/**
 * Whole-capture counters: records, bytes, time range, link types (before decoding) and the
 * protocol mix (after decoding). Every record counts, copies at several capture points included.
 */
import { EtherType, IpProto, type Decoded } from '../decode.js';
import { formatTimestamp } from '../time.js';

// a type (not an interface): assignable to Summary.protocols (Record<string, number>)
export type ProtocolCounts = {
  ipv4: number;
  ipv6: number;
  arp: number;
  tcp: number;
  udp: number;
  icmp: number;
  icmpv6: number;
  otherIp: number;
  nonIp: number;
};

/** The top-level figures of a Summary that this tracker owns. */
export interface TotalsResult {
  packets: number;
  bytes: number;
  capturedBytes: number;
  firstTime: string | null;
  lastTime: string | null;
  durationSeconds: number;
  linkTypes: Record<string, number>;
  protocols: ProtocolCounts;
}

export class Totals {
  private packets = 0;
  private bytes = 0;
  private captured = 0;
  private firstSec = Infinity;
  private firstNsec = 0;
  private lastSec = -Infinity;
  private lastNsec = 0;
  private readonly linkTypes = new Map<number, number>();
  // a run of records of one link type is counted in a local counter (no map update per record)
  private lastLinkType = -1;
  private lastLinkCount = 0;
  private readonly protocols: ProtocolCounts = { ipv4: 0, ipv6: 0, arp: 0, tcp: 0, udp: 0, icmp: 0, icmpv6: 0, otherIp: 0, nonIp: 0 };

  /** Every record, before decoding. */
  onRecord(caplen: number, origLen: number, linkType: number, tsSec: number, tsNsec: number): void {
    this.packets++;
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
  }

  /** Every record, after decoding (`ok`: decodePacket's result). */
  onDecoded(ok: boolean, d: Decoded): void {
    const p = this.protocols;
    if (!ok) {
      p.nonIp++;
      return;
    }
    if (d.ipVersion === 0) {
      if (d.etherType === EtherType.ARP || d.etherType === EtherType.RARP) p.arp++;
      else p.nonIp++;
      return;
    }
    if (d.ipVersion === 4) p.ipv4++;
    else p.ipv6++;
    const proto = d.proto;
    if (proto === IpProto.TCP) {
      if (d.transport) p.tcp++;
      else p.otherIp++;
    } else if (proto === IpProto.UDP) {
      if (d.transport) p.udp++;
      else p.otherIp++;
    } else if (proto === IpProto.ICMP) p.icmp++;
    else if (proto === IpProto.ICMPV6) p.icmpv6++;
    else p.otherIp++;
  }

  private switchLinkType(linkType: number): void {
    if (this.lastLinkType >= 0) this.linkTypes.set(this.lastLinkType, (this.linkTypes.get(this.lastLinkType) ?? 0) + this.lastLinkCount);
    this.lastLinkType = linkType;
    this.lastLinkCount = 0;
  }

  finish(): TotalsResult {
    this.switchLinkType(-1);
    const linkTypes: Record<string, number> = {};
    for (const [k, v] of this.linkTypes) linkTypes[String(k)] = v;
    const empty = this.packets === 0;
    return {
      packets: this.packets,
      bytes: this.bytes,
      capturedBytes: this.captured,
      firstTime: empty ? null : formatTimestamp(this.firstSec, this.firstNsec),
      lastTime: empty ? null : formatTimestamp(this.lastSec, this.lastNsec),
      durationSeconds: empty ? 0 : Math.max(0, this.lastSec - this.firstSec + (this.lastNsec - this.firstNsec) * 1e-9),
      linkTypes,
      protocols: { ...this.protocols },
    };
  }
}
