/**
 * A compiled display filter applied to packets as a reader delivers them (`summary --filter`,
 * `merge --filter`): one reused {@link FilterPacket}, frame numbers counted in the order packets
 * are offered, `tcp.stream` tracked only when the filter uses it.
 */
import type { PacketView } from '../reader.js';
import type { CompiledFilter } from './compile.js';
import { EndpointIndex, FilterPacket, type CapturePointInfo } from './packet.js';
import { TcpStreams } from './streams.js';

export class PacketFilter {
  private readonly p = new FilterPacket();
  private readonly streams: TcpStreams | undefined;
  private frame = 0;
  private firstSec = 0;
  private firstNsec = 0;
  private points: readonly CapturePointInfo[] = [];
  /** Packets offered and packets that matched. */
  examined = 0;
  matched = 0;

  constructor(
    readonly compiled: CompiledFilter,
    endpoints: EndpointIndex = new EndpointIndex(),
  ) {
    this.p.endpoints = endpoints;
    this.streams = compiled.needsStream ? new TcpStreams() : undefined;
  }

  /** Capture points of the interfaces of the file whose packets come next (index = interface id). */
  setCapturePoints(points: readonly CapturePointInfo[]): void {
    this.points = points;
  }

  /** True when the reader's current packet matches. */
  test(r: PacketView): boolean {
    const p = this.p;
    p.set(r.data, r.dataOffset, r.caplen, r.origLen, r.linkType);
    if (this.frame === 0) {
      this.firstSec = r.tsSec;
      this.firstNsec = r.tsNsec;
    }
    p.frame = ++this.frame;
    p.tsSec = r.tsSec;
    p.tsNsec = r.tsNsec;
    p.relTime = r.tsSec - this.firstSec + (r.tsNsec - this.firstNsec) / 1e9;
    p.interfaceId = r.interfaceId;
    p.capturePoint = this.points[r.interfaceId] ?? { label: '' };
    p.stream = this.streams !== undefined ? this.streams.assign(p.b, p.d) : -1;
    this.examined++;
    const ok = this.compiled.test(p);
    if (ok) this.matched++;
    return ok;
  }
}
