/**
 * Live analysis of one running target: its ring's packets (PcapRing.subscribe, every pcap record as
 * it is written) go into a RecordStream (the summary engine of `kubectl pcap summary`, not a second
 * analyser), and the records it finishes go to a list of consumers (the Kafka sink, per-pod-pair
 * metrics, ...). Connection records come out when a connection ends or idles ({@link tick}), the
 * rest at {@link end}.
 *
 * The consumers are called synchronously on the ring's write path: they must not block or throw
 * (a throwing consumer is caught and counted, never stops the capture).
 *
 * Raw mode (a sink with `rawTopic`): the same packets also go out as a pcapng stream (SHB, one IDB
 * with the ring's link type, snap length and timestamp resolution, then one EPB per packet, written
 * by the pcap library's PcapngWriter) to a {@link RawConsumer}, block by block.
 */
import { Writable } from 'node:stream';
import type { LiveRing } from '../capture/backend.js';
import type { EndpointInfo } from '../pcap/metadata.js';
import { PcapngWriter } from '../pcap/writer.js';
import { RecordStream } from '../pcap/records/stream.js';
import type { PcapRecord } from '../pcap/records/types.js';

/** Which target a record comes from. `target`: the status key (pod/<ns>/<pod> or node/<node>/<if>). */
export interface RecordTarget {
  capture: string;
  namespace: string;
  target: string;
}

/** Anything that takes records: the Kafka sink's adapter, PairMetrics (src/agent/pair-metrics.ts). */
export interface RecordConsumer {
  offer(rec: PcapRecord, target: RecordTarget): void;
}

/**
 * Raw mode: takes a target's packets as whole pcapng blocks, in stream order (the Kafka sink's
 * offerRawBlock). Called on the ring's write path: must not block; a throw is caught and counted.
 */
export interface RawConsumer {
  block(block: Buffer, target: RecordTarget): void;
  /** Sends what it holds (every tick, and at the target's end). */
  flush(): void;
}

export interface AnalysisOptions {
  /** A connection without packets for this long is recorded (seconds). */
  idleSeconds: number;
  /** A connection closed (FIN both ways, RST, refused) is recorded this long after its last packet. */
  closedSeconds: number;
}

/** What the agent asks about analysis (src/agent/session.ts): who consumes a capture's records, and the counts for status. */
export interface AnalysisHook {
  /** The consumers of this capture's records; empty: the capture is not analysed. */
  consumersFor(capture: { namespace: string; name: string }): readonly RecordConsumer[];
  /** Raw mode: who takes this capture's packets as pcapng blocks (undefined: no raw mode). */
  rawFor?(capture: { namespace: string; name: string }): RawConsumer | undefined;
  /** The counts the target's status shows now (undefined: nothing to show). */
  counts(t: RecordTarget): { recordsPublished: number; recordsDropped: number } | undefined;
  /** After the target ended: resolves when its records are published or dropped (or after a bound), with the final counts. */
  settled(t: RecordTarget): Promise<{ recordsPublished: number; recordsDropped: number } | undefined>;
  /** Why the sink this capture names cannot be used on this node (undefined: it can, or it names none). */
  unavailable?(capture: { namespace: string; name: string }): string | undefined;
  /** Forget the target's counts (its final status was written). */
  forget?(t: RecordTarget): void;
  readonly options?: AnalysisOptions;
}

export const DEFAULT_ANALYSIS: AnalysisOptions = { idleSeconds: 60, closedSeconds: 1 };

/** The pcap global header's fields the engine needs: byte order, timestamp unit, link type, snap length. */
export function parsePcapHeader(h: Buffer): { le: boolean; nano: boolean; linkType: number; snapLength: number } | undefined {
  if (h.length < 24) return undefined;
  const m = h.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) {
    le = true;
    nano = m === 0xa1b23c4d;
  } else {
    const mb = h.readUInt32BE(0);
    if (mb !== 0xa1b2c3d4 && mb !== 0xa1b23c4d) return undefined;
    le = false;
    nano = mb === 0xa1b23c4d;
  }
  const linkType = (le ? h.readUInt32LE(20) : h.readUInt32BE(20)) & 0x0fffffff;
  const snapLength = le ? h.readUInt32LE(16) : h.readUInt32BE(16);
  return { le, nano, linkType, snapLength };
}

/**
 * A target's packets as a pcapng stream cut into whole blocks: the library's PcapngWriter writes into
 * its 1 MiB chunks (always whole blocks, little-endian), and each chunk handed out (when full, or on
 * {@link flush}) is split at block boundaries for `emit`. The first packet writes the SHB and the IDB.
 */
export class PcapngBlockStream {
  private readonly w: PcapngWriter;
  private iface: number | undefined;

  constructor(emit: (block: Buffer) => void) {
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (let off = 0; off + 12 <= chunk.length; ) {
          const len = chunk.readUInt32LE(off + 4);
          if (len < 12 || off + len > chunk.length) break; // cannot happen: the writer hands out whole blocks
          emit(Buffer.from(chunk.subarray(off, off + len)));
          off += len;
        }
        cb();
      },
    });
    this.w = new PcapngWriter(out);
  }

  /** One packet (timestamp in seconds + nanoseconds: exact at the interface's resolution). */
  packet(h: { linkType: number; snapLength: number; nano: boolean }, tsSec: number, tsNsec: number, data: Uint8Array, origLen: number): void {
    this.iface ??= this.w.addInterface({ linkType: h.linkType, snapLength: h.snapLength, tsresol: h.nano ? 9 : 6 });
    this.w.writePacket(this.iface, tsSec, tsNsec, data, origLen);
  }

  get packets(): number {
    return this.w.packets;
  }

  /** Hands out what the writer holds (synchronously: the chunk goes to emit before this returns). */
  flush(): void {
    this.w.flush().catch(() => undefined);
  }
}

export class TargetAnalysis {
  private readonly rs: RecordStream;
  private hdr: ReturnType<typeof parsePcapHeader>;
  private unsubscribe: (() => void) | undefined;
  private ended = false;
  private readonly raw: PcapngBlockStream | undefined;
  /** Packets analysed, records handed out, consumer errors (a consumer threw). */
  packets = 0;
  records = 0;
  consumerErrors = 0;

  constructor(
    readonly target: RecordTarget,
    endpoints: ReadonlyMap<string, EndpointInfo>,
    readonly consumers: readonly RecordConsumer[],
    private readonly opts: AnalysisOptions = DEFAULT_ANALYSIS,
    private readonly rawConsumer?: RawConsumer,
  ) {
    this.rs = new RecordStream({ endpoints });
    this.raw = rawConsumer
      ? new PcapngBlockStream((b) => {
          try {
            rawConsumer.block(b, target);
          } catch {
            this.consumerErrors++;
          }
        })
      : undefined;
  }

  /** Follows a ring: every record written from now on; end() when the ring's stream ends. */
  attach(ring: Pick<LiveRing, 'header' | 'subscribe'>): void {
    this.unsubscribe = ring.subscribe({
      data: (rec) => {
        if (this.hdr === undefined) {
          const h = ring.header;
          this.hdr = h ? parsePcapHeader(h) : undefined;
          if (this.hdr === undefined) return;
        }
        this.addRecord(rec);
      },
      end: () => this.end(),
    });
  }

  /** One pcap record (16-byte record header, then the packet). */
  addRecord(rec: Buffer, header?: Buffer): void {
    if (this.ended) return;
    if (header !== undefined && this.hdr === undefined) this.hdr = parsePcapHeader(header);
    const h = this.hdr;
    if (h === undefined || rec.length < 16) return;
    const tsSec = h.le ? rec.readUInt32LE(0) : rec.readUInt32BE(0);
    const frac = h.le ? rec.readUInt32LE(4) : rec.readUInt32BE(4);
    const incl = h.le ? rec.readUInt32LE(8) : rec.readUInt32BE(8);
    const orig = h.le ? rec.readUInt32LE(12) : rec.readUInt32BE(12);
    const caplen = Math.min(incl, rec.length - 16);
    this.rs.addPacket(rec, 16, caplen, orig, h.linkType, tsSec, h.nano ? frac : frac * 1000);
    this.raw?.packet(h, tsSec, h.nano ? frac : frac * 1000, rec.subarray(16, 16 + caplen), orig);
    this.packets++;
    this.hand();
  }

  /** Periodic (the agent's clock, seconds since the epoch): records of connections that ended or idled; raw blocks out. */
  tick(nowSeconds: number): void {
    if (this.ended) return;
    this.rs.expire(nowSeconds, this.opts.idleSeconds, this.opts.closedSeconds);
    this.hand();
    this.flushRaw();
  }

  private flushRaw(): void {
    if (!this.raw || !this.rawConsumer) return;
    this.raw.flush();
    try {
      this.rawConsumer.flush();
    } catch {
      this.consumerErrors++;
    }
  }

  /** The capture's stream ended: everything still open is recorded. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const { records } = this.rs.finish();
    this.give(records);
    this.flushRaw();
  }

  get finished(): boolean {
    return this.ended;
  }

  private hand(): void {
    const q = this.rs.drain();
    if (q.length > 0) this.give(q);
  }

  private give(recs: readonly PcapRecord[]): void {
    for (const r of recs) {
      this.records++;
      for (const c of this.consumers) {
        try {
          c.offer(r, this.target);
        } catch {
          this.consumerErrors++;
        }
      }
    }
  }
}

/** The endpoint map of the capture metadata sidecar (src/agent/metadata.ts), for the engine. */
export function endpointMap(endpoints: Readonly<Record<string, EndpointInfo>>): Map<string, EndpointInfo> {
  return new Map(Object.entries(endpoints));
}
