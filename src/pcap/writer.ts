/**
 * Streaming writers for pcapng ({@link PcapngWriter}) and classic pcap ({@link PcapWriter}) over a
 * Node.js `Writable`, with backpressure: records are appended to a 1 MiB chunk that is handed to the
 * stream when full; when the stream asks to wait, `needsDrain` becomes true and the caller awaits
 * {@link ChunkedOutput.drain} before writing more. Output is always little-endian.
 */

import { closeSync, openSync, writeSync, writevSync } from 'node:fs';
import { Writable } from 'node:stream';

/** Any writable byte stream (fs.WriteStream, process.stdout, a socket, ...). */
export type ByteSink = NodeJS.WritableStream & { writableNeedDrain?: boolean };
import { PCAPPER_VERSION } from '../version.js';
import { mulAdd64 } from './time.js';

const CHUNK = 1024 * 1024;
/** Packets at least this long are written by reference when the sink allows it. */
const ZERO_COPY_MIN = 256;

/** Buffering + backpressure shared by both writers. */
export class ChunkedOutput {
  private chunk: Buffer = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  /** True when the stream's buffer is full; await {@link drain} before writing more. */
  needsDrain = false;
  /** Total bytes written (handed to the stream or buffered). */
  bytesWritten = 0;
  private streamError: Error | undefined;
  /** File descriptor of a {@link FileSink}: written directly with writevSync, enabling references. */
  private readonly fd: number | undefined;
  /** Pending output in order: regions of `chunk` and referenced caller bytes (fd mode only). */
  private segs: Uint8Array[] = [];
  private segStart = 0;

  constructor(private readonly out: ByteSink) {
    out.on('error', (err: Error) => {
      this.streamError = err;
    });
    this.fd = out instanceof FileSink ? out.fd : undefined;
  }

  /**
   * True when {@link addRef} keeps a reference instead of copying: the caller must then call
   * {@link releaseRefs} before it changes referenced bytes.
   */
  get zeroCopy(): boolean {
    return this.fd !== undefined;
  }

  /** Reserves `n` bytes and returns [buffer, offset] to write them at. */
  reserve(n: number): Buffer {
    if (this.pos + n > this.chunk.length) {
      this.flushChunk();
      if (n > this.chunk.length) this.chunk = Buffer.allocUnsafe(n);
    }
    return this.chunk;
  }

  /** Appends `len` bytes of `src` at `off`: by reference in zero-copy mode, else copied. */
  addRef(src: Uint8Array, off: number, len: number): void {
    if (this.fd === undefined) {
      const b = this.reserve(len);
      copyBytes(src, off, len, b, this.pos);
      this.commit(len);
      return;
    }
    if (this.pos > this.segStart) this.segs.push(this.chunk.subarray(this.segStart, this.pos));
    this.segStart = this.pos;
    this.segs.push(new Uint8Array(src.buffer, src.byteOffset + off, len));
    this.bytesWritten += len;
    if (this.segs.length >= 1000) this.writevNow();
  }

  /** Writes out everything that references caller bytes (zero-copy mode); no-op otherwise. */
  releaseRefs(): void {
    if (this.fd !== undefined && this.segs.length > 0) this.writevNow();
  }

  private writevNow(): void {
    const fd = this.fd as number;
    if (this.pos > this.segStart) this.segs.push(this.chunk.subarray(this.segStart, this.pos));
    let segs = this.segs;
    this.segs = [];
    this.pos = 0;
    this.segStart = 0;
    try {
      while (segs.length > 0) {
        let n = writevSync(fd, segs);
        // partial write: drop what was written and retry the rest
        let i = 0;
        while (i < segs.length && n >= (segs[i] as Uint8Array).length) n -= (segs[i++] as Uint8Array).length;
        const rest = segs.slice(i);
        if (n > 0 && rest[0] !== undefined) rest[0] = rest[0].subarray(n);
        segs = rest;
      }
    } catch (err) {
      this.streamError = err as Error;
      throw err;
    }
  }

  /** Offset where the bytes reserved by the last {@link reserve} start. */
  get offset(): number {
    return this.pos;
  }

  /** Commits `n` bytes written at {@link offset}. */
  commit(n: number): void {
    this.pos += n;
    this.bytesWritten += n;
  }

  private flushChunk(): void {
    if (this.fd !== undefined) {
      if (this.pos > 0 || this.segs.length > 0) this.writevNow();
      return;
    }
    if (this.pos === 0) return;
    const full = this.chunk.subarray(0, this.pos);
    this.chunk = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
    if (!this.out.write(full)) this.needsDrain = true;
  }

  /** Waits until the stream accepts more data (no-op if it already does). */
  async drain(): Promise<void> {
    this.throwIfFailed();
    if (!this.needsDrain) return;
    if (this.out.writableNeedDrain !== false) {
      const out = this.out;
      await new Promise<void>((resolve) => {
        const done = () => {
          out.removeListener('drain', done);
          out.removeListener('close', done);
          out.removeListener('error', done);
          resolve();
        };
        out.on('drain', done);
        out.on('close', done);
        out.on('error', done);
      });
    }
    this.needsDrain = false;
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    const e = this.streamError;
    if (e !== undefined) throw e;
  }

  /** Flushes what is buffered and waits for the stream to accept it. */
  async flush(): Promise<void> {
    this.flushChunk();
    await this.drain();
  }

  /**
   * Flushes and ends the stream (waits until everything was handed to the OS). With
   * `close: false` the stream is left open (for process.stdout).
   */
  async end(close = true): Promise<void> {
    if (this.fd !== undefined) this.flushChunk();
    const last = this.chunk.subarray(0, this.pos);
    this.pos = 0;
    this.throwIfFailed();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.out.once('error', onError);
      const done = () => {
        this.out.removeListener('error', onError);
        resolve();
      };
      if (close) this.out.end(last, done);
      else this.out.write(last, () => done());
    });
    this.throwIfFailed();
  }
}

/** Description of an interface to write as a pcapng Interface Description Block. */
export interface InterfaceSpec {
  linkType: number;
  /** 0 = unlimited. */
  snapLength?: number;
  name?: string;
  description?: string;
  comments?: readonly string[];
  /** Raw if_tsresol byte: 6 = microseconds (default), 9 = nanoseconds. */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsOffset?: number;
}

export interface SectionSpec {
  comments?: readonly string[];
  userAppl?: string;
}

/** Little-endian uint32 store without Buffer's argument validation (hot path). */
function u32(b: Buffer, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

/**
 * Copies `len` bytes. A plain Uint8Array view + TypedArray#set is about 3x faster than
 * Buffer#copy or Buffer#subarray for packet-sized copies on Node 20 (measured).
 */
function copyBytes(src: Uint8Array, off: number, len: number, dst: Buffer, at: number): void {
  dst.set(new Uint8Array(src.buffer, src.byteOffset + off, len), at);
}

function optLen(valueLen: number): number {
  return 4 + ((valueLen + 3) & ~3);
}

/** Writes an option (code, bytes) at `b[o]`, padded; returns the new offset. */
function putOption(b: Buffer, o: number, code: number, value: Buffer): number {
  b.writeUInt16LE(code, o);
  b.writeUInt16LE(value.length, o + 2);
  value.copy(b, o + 4);
  const padded = (value.length + 3) & ~3;
  b.fill(0, o + 4 + value.length, o + 4 + padded);
  return o + 4 + padded;
}

/**
 * pcapng writer. Call {@link writeSection} once (or let the first {@link addInterface} write a
 * default SHB), then {@link addInterface} before the packets that use it, then packets.
 */
export class PcapngWriter {
  private readonly o: ChunkedOutput;
  private sectionWritten = false;
  private readonly unitsPerSecond: number[] = [];
  private readonly tsOffsets: number[] = [];
  private readonly scratch = new Float64Array(2);
  /** Packets written so far. */
  packets = 0;

  constructor(out: ByteSink) {
    this.o = new ChunkedOutput(out);
  }

  get needsDrain(): boolean {
    return this.o.needsDrain;
  }
  get bytesWritten(): number {
    return this.o.bytesWritten;
  }
  /** See {@link ChunkedOutput.drain}. */
  drain(): Promise<void> {
    return this.o.drain();
  }
  /** Number of interfaces added. */
  get interfaceCount(): number {
    return this.unitsPerSecond.length;
  }

  /** Writes the Section Header Block (section length unspecified). */
  writeSection(spec: SectionSpec = {}): void {
    const opts: [number, Buffer][] = [];
    for (const c of spec.comments ?? []) opts.push([1, Buffer.from(c, 'utf8')]);
    opts.push([4, Buffer.from(spec.userAppl ?? `pcapper ${PCAPPER_VERSION}`, 'utf8')]);
    this.writeBlock(0x0a0d0d0a, 16, opts, (b, o) => {
      b.writeUInt32LE(0x1a2b3c4d, o);
      b.writeUInt16LE(1, o + 4);
      b.writeUInt16LE(0, o + 6);
      b.writeInt32LE(-1, o + 8);
      b.writeInt32LE(-1, o + 12);
    });
    this.sectionWritten = true;
  }

  /** Adds an interface (IDB); returns its id for {@link writePacket}. */
  addInterface(spec: InterfaceSpec): number {
    if (!this.sectionWritten) this.writeSection();
    const opts: [number, Buffer][] = [];
    for (const c of spec.comments ?? []) opts.push([1, Buffer.from(c, 'utf8')]);
    if (spec.name !== undefined) opts.push([2, Buffer.from(spec.name, 'utf8')]);
    if (spec.description !== undefined) opts.push([3, Buffer.from(spec.description, 'utf8')]);
    const tsresol = spec.tsresol ?? 6;
    if (tsresol !== 6) opts.push([9, Buffer.from([tsresol])]);
    const tsOffset = spec.tsOffset ?? 0;
    if (tsOffset !== 0) {
      const v = Buffer.alloc(8);
      v.writeBigInt64LE(BigInt(tsOffset));
      opts.push([14, v]);
    }
    this.writeBlock(1, 8, opts, (b, o) => {
      b.writeUInt16LE(spec.linkType & 0xffff, o);
      b.writeUInt16LE(0, o + 2);
      b.writeUInt32LE(spec.snapLength ?? 0, o + 4);
    });
    const exp = tsresol & 0x7f;
    this.unitsPerSecond.push(tsresol & 0x80 ? 2 ** exp : 10 ** exp);
    this.tsOffsets.push(tsOffset);
    return this.unitsPerSecond.length - 1;
  }

  private writeBlock(type: number, fixedLen: number, opts: [number, Buffer][], fixed: (b: Buffer, o: number) => void): void {
    let optsLen = 0;
    for (const [, v] of opts) optsLen += optLen(v.length);
    if (optsLen > 0) optsLen += 4; // opt_endofopt
    const total = 12 + fixedLen + optsLen;
    const b = this.o.reserve(total);
    const start = this.o.offset;
    b.writeUInt32LE(type, start);
    b.writeUInt32LE(total, start + 4);
    fixed(b, start + 8);
    let o = start + 8 + fixedLen;
    for (const [code, v] of opts) o = putOption(b, o, code, v);
    if (optsLen > 0) {
      b.writeUInt32LE(0, o);
      o += 4;
    }
    b.writeUInt32LE(total, o);
    this.o.commit(total);
  }

  /**
   * Writes an Enhanced Packet Block with a timestamp given as seconds + nanoseconds (converted to
   * the interface's resolution; sub-resolution digits are truncated).
   */
  writePacket(interfaceId: number, tsSec: number, tsNsec: number, data: Uint8Array, origLen = data.length, comments?: readonly string[]): void {
    const ups = this.unitsPerSecond[interfaceId];
    if (ups === undefined) throw new RangeError(`interface ${interfaceId} was not added`);
    const sec = tsSec - (this.tsOffsets[interfaceId] ?? 0);
    let frac: number;
    if (ups === 1e9) frac = tsNsec;
    else if (ups === 1e6) frac = Math.floor(tsNsec / 1000);
    else frac = Math.floor((tsNsec * ups) / 1e9);
    let hi: number;
    let lo: number;
    if (ups <= 1073741824 && sec >= 0) {
      mulAdd64(sec, ups, frac, this.scratch);
      hi = this.scratch[0] ?? 0;
      lo = this.scratch[1] ?? 0;
    } else {
      const u = BigInt(Math.round(sec)) * BigInt(ups) + BigInt(frac);
      const m = BigInt.asUintN(64, u);
      hi = Number(m >> 32n);
      lo = Number(m & 0xffffffffn);
    }
    this.writeEpbRaw(interfaceId, hi, lo, data, 0, data.length, origLen, comments);
  }

  /** Writes an EPB whose timestamp is already in the interface's units (high and low 32 bits). */
  writeEpbRaw(interfaceId: number, tsHi: number, tsLo: number, src: Uint8Array, off: number, caplen: number, origLen: number, comments?: readonly string[]): void {
    const pad = (caplen + 3) & ~3;
    let optsLen = 0;
    let encoded: Buffer[] | undefined;
    if (comments && comments.length > 0) {
      encoded = comments.map((c) => Buffer.from(c, 'utf8'));
      for (const e of encoded) optsLen += optLen(e.length);
      optsLen += 4;
    }
    const total = 32 + pad + optsLen;
    if (caplen >= ZERO_COPY_MIN && this.o.zeroCopy) {
      this.writeEpbRef(interfaceId, tsHi, tsLo, src, off, caplen, origLen, total, encoded);
      return;
    }
    const b = this.o.reserve(total);
    const s = this.o.offset;
    u32(b, s, 6);
    u32(b, s + 4, total);
    u32(b, s + 8, interfaceId);
    u32(b, s + 12, tsHi);
    u32(b, s + 16, tsLo);
    u32(b, s + 20, caplen);
    u32(b, s + 24, origLen);
    copyBytes(src, off, caplen, b, s + 28);
    let o = s + 28 + caplen;
    for (; o < s + 28 + pad; o++) b[o] = 0;
    if (encoded) {
      for (const e of encoded) o = putOption(b, o, 1, e);
      u32(b, o, 0);
      o += 4;
    }
    u32(b, o, total);
    this.o.commit(total);
    this.packets++;
  }

  private writeEpbRef(interfaceId: number, tsHi: number, tsLo: number, src: Uint8Array, off: number, caplen: number, origLen: number, total: number, encoded: Buffer[] | undefined): void {
    let b = this.o.reserve(28);
    let s = this.o.offset;
    u32(b, s, 6);
    u32(b, s + 4, total);
    u32(b, s + 8, interfaceId);
    u32(b, s + 12, tsHi);
    u32(b, s + 16, tsLo);
    u32(b, s + 20, caplen);
    u32(b, s + 24, origLen);
    this.o.commit(28);
    this.o.addRef(src, off, caplen);
    const tail = total - 28 - caplen;
    b = this.o.reserve(tail);
    s = this.o.offset;
    let o = s;
    const padEnd = s + (((caplen + 3) & ~3) - caplen);
    for (; o < padEnd; o++) b[o] = 0;
    if (encoded) {
      for (const e of encoded) o = putOption(b, o, 1, e);
      u32(b, o, 0);
      o += 4;
    }
    u32(b, o, total);
    this.o.commit(tail);
    this.packets++;
  }

  /**
   * With a {@link FileSink}, large packets are written by reference to the caller's bytes (no
   * copy): call this before changing bytes passed to {@link writeEpbRaw} / {@link copyEpb}.
   */
  releaseRefs(): void {
    this.o.releaseRefs();
  }

  /**
   * Copies a complete little-endian EPB (`len` bytes at `src[off]`) unchanged except for its
   * interface id. The source interface must have the same if_tsresol/if_tsoffset as `interfaceId`.
   */
  copyEpb(interfaceId: number, src: Uint8Array, off: number, len: number): void {
    if (len >= ZERO_COPY_MIN && this.o.zeroCopy) {
      const h = this.o.reserve(12);
      const hs = this.o.offset;
      copyBytes(src, off, 8, h, hs);
      u32(h, hs + 8, interfaceId);
      this.o.commit(12);
      this.o.addRef(src, off + 12, len - 12);
      this.packets++;
      return;
    }
    const b = this.o.reserve(len);
    const s = this.o.offset;
    copyBytes(src, off, len, b, s);
    u32(b, s + 8, interfaceId);
    this.o.commit(len);
    this.packets++;
  }

  /** Flushes buffered bytes to the stream and waits for it to accept them. */
  flush(): Promise<void> {
    return this.o.flush();
  }

  /** Flushes and ends the stream (`close: false` leaves it open, e.g. for stdout). */
  end(close = true): Promise<void> {
    if (!this.sectionWritten) this.writeSection();
    return this.o.end(close);
  }
}

export interface PcapHeaderSpec {
  linkType: number;
  snapLength?: number;
  /** Nanosecond magic (a1b23c4d) instead of microseconds. */
  nanosecond?: boolean;
}

/** Classic pcap writer (little-endian). */
export class PcapWriter {
  private readonly o: ChunkedOutput;
  private readonly ns: boolean;
  packets = 0;

  constructor(out: ByteSink, spec: PcapHeaderSpec) {
    this.o = new ChunkedOutput(out);
    this.ns = spec.nanosecond ?? false;
    const b = this.o.reserve(24);
    const s = this.o.offset;
    b.writeUInt32LE(this.ns ? 0xa1b23c4d : 0xa1b2c3d4, s);
    b.writeUInt16LE(2, s + 4);
    b.writeUInt16LE(4, s + 6);
    b.writeInt32LE(0, s + 8);
    b.writeUInt32LE(0, s + 12);
    b.writeUInt32LE(spec.snapLength ?? 262144, s + 16);
    b.writeUInt32LE(spec.linkType, s + 20);
    this.o.commit(24);
  }

  get needsDrain(): boolean {
    return this.o.needsDrain;
  }
  get bytesWritten(): number {
    return this.o.bytesWritten;
  }
  drain(): Promise<void> {
    return this.o.drain();
  }

  /** Writes one record; the timestamp is seconds + nanoseconds (truncated to µs for µs files). */
  writePacket(tsSec: number, tsNsec: number, src: Uint8Array, off = 0, caplen = src.length - off, origLen = caplen): void {
    const b = this.o.reserve(16 + caplen);
    const s = this.o.offset;
    b.writeUInt32LE(tsSec >>> 0, s);
    b.writeUInt32LE(this.ns ? tsNsec : Math.floor(tsNsec / 1000), s + 4);
    b.writeUInt32LE(caplen, s + 8);
    b.writeUInt32LE(origLen, s + 12);
    b.set(src.subarray(off, off + caplen), s + 16);
    this.o.commit(16 + caplen);
    this.packets++;
  }

  /**
   * Reserves a record of `caplen` bytes and returns the buffer and offset where the caller writes
   * the packet bytes in place (saves a copy for generators). Call {@link commitRecord} after.
   */
  beginRecord(tsSec: number, tsNsec: number, caplen: number, origLen = caplen): { buf: Buffer; offset: number } {
    const b = this.o.reserve(16 + caplen);
    const s = this.o.offset;
    b.writeUInt32LE(tsSec >>> 0, s);
    b.writeUInt32LE(this.ns ? tsNsec : Math.floor(tsNsec / 1000), s + 4);
    b.writeUInt32LE(caplen, s + 8);
    b.writeUInt32LE(origLen, s + 12);
    this.pendingLen = 16 + caplen;
    return { buf: b, offset: s + 16 };
  }
  private pendingLen = 0;
  commitRecord(): void {
    this.o.commit(this.pendingLen);
    this.pendingLen = 0;
    this.packets++;
  }

  flush(): Promise<void> {
    return this.o.flush();
  }
  end(close = true): Promise<void> {
    return this.o.end(close);
  }
}

/**
 * A Writable over a file that writes synchronously (fs.writeSync) in large chunks: the fastest
 * sink for the writers here (no event-loop round trip per chunk, and {@link PcapngWriter} writes
 * large packets straight from the caller's buffers with writev instead of copying them).
 * Created with `mode` (default 0600: captured traffic is secret). Throws at once if the file
 * cannot be created.
 */
export class FileSink extends Writable {
  readonly fd: number;
  constructor(path: string, mode = 0o600) {
    const fd = openSync(path, 'w', mode);
    super({
      highWaterMark: 16 << 20,
      write(chunk: Buffer, _enc, cb) {
        try {
          let off = 0;
          while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
          cb();
        } catch (err) {
          cb(err as Error);
        }
      },
      final(cb) {
        try {
          closeSync(fd);
          cb();
        } catch (err) {
          cb(err as Error);
        }
      },
    });
    this.fd = fd;
  }
}

/** `new FileSink(path, mode)`. */
export function fileSink(path: string, mode = 0o600): FileSink {
  return new FileSink(path, mode);
}
