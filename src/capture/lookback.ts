/**
 * The look-back window of an armed capture (docs/triggers.md): tcpdump writes its pcap stream
 * into a pipe as for any capture; while armed, this gate keeps only the newest records in memory
 * — at most `seconds` of packet time and `bytes` of records — and passes nothing on, so no file
 * exists and nothing reaches the disk. release() freezes the window: the pcap header and the
 * kept records go on to the ring (the encrypted sink), and from then on every record passes
 * straight through. An armed stream that ends without release leaves nothing behind.
 *
 * Written by hand on purpose: it is a thin deque over PcapSplitter (src/capture/ring.ts), which
 * already cuts tcpdump's stream at record boundaries; no library keeps a pcap window.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { PcapSplitter } from './ring.js';

export interface LookbackOptions {
  /** Packet time kept (seconds before the newest record, and before the firing at release). */
  seconds: number;
  /** Record bytes kept (pcap record headers included). */
  bytes: number;
}

export interface WindowRelease {
  /** Records handed on from the window. */
  packets: number;
  bytes: number;
  /** Time of the oldest record handed on (ms since the epoch), undefined for an empty window. */
  oldestMs: number | undefined;
  /** Records dropped from the window (too old or over the byte bound) since arming. */
  evicted: number;
}

/** Microseconds since the epoch of a pcap record (nanosecond files: the fraction is ns). */
export function recordMicros(rec: Buffer, littleEndian: boolean, nanos: boolean): number {
  const sec = littleEndian ? rec.readUInt32LE(0) : rec.readUInt32BE(0);
  const frac = littleEndian ? rec.readUInt32LE(4) : rec.readUInt32BE(4);
  return sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac);
}

/** The window proper: a deque of records bounded by time and bytes. Pure (no I/O). */
export class RecordWindow {
  private recs: Buffer[] = [];
  private times: number[] = [];
  private head = 0;
  private size = 0;
  evicted = 0;

  constructor(private readonly o: LookbackOptions) {}

  get bytes(): number {
    return this.size;
  }

  get packets(): number {
    return this.recs.length - this.head;
  }

  push(rec: Buffer, micros: number): void {
    // the record may be a view on a shared chunk: copy so the chunk can be freed
    this.recs.push(Buffer.from(rec));
    this.times.push(micros);
    this.size += rec.length;
    this.evict(micros - this.o.seconds * 1e6);
  }

  /** Drops records older than `minMicros`, and the oldest while over the byte bound. */
  evict(minMicros: number): void {
    while (this.head < this.recs.length && (this.size > this.o.bytes || (this.times[this.head] as number) < minMicros)) {
      this.size -= (this.recs[this.head] as Buffer).length;
      this.recs[this.head] = Buffer.alloc(0);
      this.head++;
      this.evicted++;
    }
    if (this.head > 1024 && this.head * 2 > this.recs.length) {
      this.recs = this.recs.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  /** Takes everything kept (oldest first) and empties the window. */
  drain(): { recs: Buffer[]; oldestMicros: number | undefined } {
    const recs = this.recs.slice(this.head);
    const oldestMicros = recs.length > 0 ? this.times[this.head] : undefined;
    this.recs = [];
    this.times = [];
    this.head = 0;
    this.size = 0;
    return { recs, oldestMicros };
  }
}

/** A listener of every record that enters the gate (the agent's live analysis; LiveRing.subscribe's shape). */
export interface RecordTap {
  data(record: Buffer): void;
  end(): void;
}

/**
 * tcpdump's stream in, nothing out while armed; the window then everything after release().
 * subscribe() taps the records as they come in, armed or not: the live analysis of an armed
 * target (Traffic triggers, src/agent/traffic-trigger.ts) must see packets the ring does not get yet.
 */
export class LookbackGate extends Transform {
  private readonly split = new PcapSplitter();
  private readonly window: RecordWindow;
  private le = true;
  private nanos = false;
  private released = false;
  private headerOut = false;
  private readonly taps = new Set<RecordTap>();
  private tapsEnded = false;

  constructor(private readonly o: LookbackOptions) {
    super();
    this.window = new RecordWindow(o);
  }

  get armed(): boolean {
    return !this.released;
  }

  /** Bytes and packets held in memory now. */
  get held(): { packets: number; bytes: number } {
    return { packets: this.window.packets, bytes: this.window.bytes };
  }

  /** The pcap global header once tcpdump wrote it. */
  get header(): Buffer | undefined {
    return this.split.header;
  }

  /** Every record from now on as it enters (before the window); returns the unsubscribe function. */
  subscribe(l: RecordTap): () => void {
    if (this.tapsEnded) {
      l.end();
      return () => undefined;
    }
    this.taps.add(l);
    return () => this.taps.delete(l);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let recs: Buffer[];
    try {
      recs = this.split.push(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    const h = this.split.header;
    if (h && !this.headerOut && !this.released) {
      const magic = h.readUInt32LE(0);
      this.le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
      this.nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
    }
    if (this.released && this.taps.size === 0) {
      this.sendHeader();
      if (recs.length > 0) this.push(recs.length === 1 ? Buffer.from(recs[0] as Buffer) : Buffer.concat(recs));
      cb();
      return;
    }
    // one record at a time: a tap may release the window in the middle of a chunk (a Traffic
    // trigger decided on this very packet); the records after it then pass straight through
    const out: Buffer[] = [];
    for (const r of recs) {
      if (this.released) out.push(r);
      else this.window.push(r, recordMicros(r, this.le, this.nanos));
      for (const t of this.taps) {
        try {
          t.data(r);
        } catch {
          this.taps.delete(t); // a failing listener never stops the capture
        }
      }
    }
    if (this.released) this.sendHeader();
    if (out.length > 0) this.push(out.length === 1 ? Buffer.from(out[0] as Buffer) : Buffer.concat(out));
    cb();
  }

  private endTaps(): void {
    if (this.tapsEnded) return;
    this.tapsEnded = true;
    const ts = [...this.taps];
    this.taps.clear();
    for (const t of ts) t.end();
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.endTaps();
    cb(err);
  }

  private sendHeader(): void {
    const h = this.split.header;
    if (this.headerOut || !h) return;
    this.headerOut = true;
    this.push(Buffer.from(h));
  }

  /**
   * Freezes the window at `firedAtMs`: records older than firedAtMs - seconds are dropped, the
   * rest go on (header first), and every later record passes through. Idempotent.
   */
  release(firedAtMs: number): WindowRelease {
    if (this.released) return { packets: 0, bytes: 0, oldestMs: undefined, evicted: this.window.evicted };
    this.released = true;
    this.window.evict(firedAtMs * 1000 - this.o.seconds * 1e6);
    const bytes = this.window.bytes;
    const { recs, oldestMicros } = this.window.drain();
    this.sendHeader();
    if (recs.length > 0) this.push(Buffer.concat(recs, bytes));
    return { packets: recs.length, bytes, oldestMs: oldestMicros === undefined ? undefined : Math.floor(oldestMicros / 1000), evicted: this.window.evicted };
  }

  override _flush(cb: TransformCallback): void {
    // armed to the end: the window is dropped (nothing fired, nothing is kept)
    if (!this.released) this.window.drain();
    this.endTaps();
    cb();
  }
}
