/**
 * The compact packet index of one capture file: per packet only what paging needs, in typed arrays
 * (no object per packet): file offset of the packet data (8 B), timestamp seconds and nanoseconds
 * (4 + 4 B), captured and original length (4 + 4 B) and interface id (2 B): 26 bytes a packet.
 *
 * {@link encodeIndex}/{@link decodeIndex} are the pure halves of the on-disk form
 * (`<file>.pcapper-idx`, see {@link INDEX_VERSION}); the file shell is ./indexer.ts.
 *
 * On-disk format, version 1, little-endian:
 * ```
 * 0   "PCPRIDX\0"                       magic (8 bytes)
 * 8   u32 version (1)
 * 12  u32 header length H
 * 16  H bytes of JSON: IndexHeader      (padded with spaces to a multiple of 8)
 * ..  f64[n] data offsets, u32[n] seconds, u32[n] nanoseconds, u32[n] caplen, u32[n] origLen,
 *     u16[n] interface ids, then u32 n again (a truncated file is detected)
 * ```
 */
import type { CaptureFormat, CaptureInterface } from '../reader.js';

export const INDEX_MAGIC = 'PCPRIDX\0';
export const INDEX_VERSION = 1;
export const INDEX_SUFFIX = '.pcapper-idx';
export const BYTES_PER_PACKET = 26;

/** What the index knows about its source file besides the per-packet arrays. */
export interface IndexHeader {
  sourceSize: number;
  sourceMtimeMs: number;
  count: number;
  format: CaptureFormat;
  interfaces: CaptureInterface[];
  /** Offset of the first packet record: everything before it (file header, SHB, IDBs) is the prefix. */
  prefixEnd: number;
  /** Interfaces defined in the prefix. */
  prefixInterfaces: number;
  /** End of the last complete record indexed: where indexing resumes when the file grows. */
  resumeOffset: number;
  /** False when interfaces are defined after the first packet: a grown file is then re-read from the start. */
  resumable: boolean;
  /** The format problem that stopped indexing (a truncated last record while the file grows, or corruption), if any. */
  problem: string | undefined;
}

function grow<T extends Float64Array | Uint32Array | Uint16Array>(a: T, n: number, make: (n: number) => T): T {
  if (n <= a.length) return a;
  const b = make(Math.max(n, a.length * 2, 1024));
  b.set(a);
  return b;
}

export class PacketIndex {
  offset = new Float64Array(0);
  sec = new Uint32Array(0);
  nsec = new Uint32Array(0);
  caplen = new Uint32Array(0);
  origLen = new Uint32Array(0);
  iface = new Uint16Array(0);
  count = 0;

  constructor(public header: IndexHeader) {}

  push(offset: number, sec: number, nsec: number, caplen: number, origLen: number, iface: number): void {
    const n = this.count;
    if (n >= this.offset.length) {
      const want = n + 1;
      this.offset = grow(this.offset, want, (k) => new Float64Array(k));
      this.sec = grow(this.sec, want, (k) => new Uint32Array(k));
      this.nsec = grow(this.nsec, want, (k) => new Uint32Array(k));
      this.caplen = grow(this.caplen, want, (k) => new Uint32Array(k));
      this.origLen = grow(this.origLen, want, (k) => new Uint32Array(k));
      this.iface = grow(this.iface, want, (k) => new Uint16Array(k));
    }
    this.offset[n] = offset;
    this.sec[n] = sec >>> 0;
    this.nsec[n] = nsec;
    this.caplen[n] = caplen;
    this.origLen[n] = origLen;
    this.iface[n] = iface;
    this.count = n + 1;
  }

  /** Drops the spare capacity left by growing (call after a build). */
  trim(): void {
    const n = this.count;
    if (this.offset.length === n) return;
    this.offset = this.offset.slice(0, n);
    this.sec = this.sec.slice(0, n);
    this.nsec = this.nsec.slice(0, n);
    this.caplen = this.caplen.slice(0, n);
    this.origLen = this.origLen.slice(0, n);
    this.iface = this.iface.slice(0, n);
  }

  /** Timestamp of packet i in seconds (fractional; for ordering and charts). */
  time(i: number): number {
    return this.sec[i]! + this.nsec[i]! / 1e9;
  }

  /** Bytes held by the arrays (capacity, not count). */
  get memoryBytes(): number {
    return this.offset.byteLength + this.sec.byteLength + this.nsec.byteLength + this.caplen.byteLength + this.origLen.byteLength + this.iface.byteLength;
  }
}

/** The on-disk form of an index. */
export function encodeIndex(ix: PacketIndex): Buffer {
  const n = ix.count;
  let json = JSON.stringify({ ...ix.header, count: n });
  while (Buffer.byteLength(json) % 8 !== 0) json += ' ';
  const h = Buffer.byteLength(json);
  const size = 16 + h + n * BYTES_PER_PACKET + 4;
  const out = Buffer.alloc(size);
  out.write(INDEX_MAGIC, 0, 'latin1');
  out.writeUInt32LE(INDEX_VERSION, 8);
  out.writeUInt32LE(h, 12);
  out.write(json, 16, 'utf8');
  let p = 16 + h;
  const put = (a: ArrayBufferView, bytes: number): void => {
    Buffer.from(a.buffer, a.byteOffset, bytes).copy(out, p);
    p += bytes;
  };
  put(ix.offset, n * 8);
  put(ix.sec, n * 4);
  put(ix.nsec, n * 4);
  put(ix.caplen, n * 4);
  put(ix.origLen, n * 4);
  put(ix.iface, n * 2);
  out.writeUInt32LE(n, p);
  return out;
}

/** A stored index that cannot be used; the caller rebuilds it. */
export class IndexFileError extends Error {
  override readonly name = 'IndexFileError';
}

/** Parses an index file; throws {@link IndexFileError} when it is corrupt or of another version. */
export function decodeIndex(buf: Buffer): PacketIndex {
  const bad = (why: string): never => {
    throw new IndexFileError(`packet index unusable: ${why}`);
  };
  if (buf.length < 20 || buf.toString('latin1', 0, 8) !== INDEX_MAGIC) bad('not a pcapper index (bad magic)');
  const version = buf.readUInt32LE(8);
  if (version !== INDEX_VERSION) bad(`version ${version}, this build reads ${INDEX_VERSION}`);
  const h = buf.readUInt32LE(12);
  if (16 + h > buf.length) bad('header runs past the end');
  let header: IndexHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 16, 16 + h)) as IndexHeader;
  } catch (err) {
    throw new IndexFileError('packet index unusable: header is not JSON', { cause: err });
  }
  const n = header.count;
  if (!Number.isInteger(n) || n < 0 || !Array.isArray(header.interfaces) || typeof header.sourceSize !== 'number') bad('header fields missing');
  if (buf.length !== 16 + h + n * BYTES_PER_PACKET + 4) bad(`size ${buf.length} does not fit ${n} packets`);
  if (buf.readUInt32LE(buf.length - 4) !== n) bad('trailer count differs');
  const ix = new PacketIndex(header);
  let p = 16 + h;
  const take = (bytes: number): ArrayBuffer => {
    const ab = new ArrayBuffer(bytes);
    buf.copy(Buffer.from(ab), 0, p, p + bytes);
    p += bytes;
    return ab;
  };
  ix.offset = new Float64Array(take(n * 8));
  ix.sec = new Uint32Array(take(n * 4));
  ix.nsec = new Uint32Array(take(n * 4));
  ix.caplen = new Uint32Array(take(n * 4));
  ix.origLen = new Uint32Array(take(n * 4));
  ix.iface = new Uint16Array(take(n * 2));
  ix.count = n;
  const ifaces = header.interfaces.length;
  for (let i = 0; i < n; i++) {
    const o = ix.offset[i]!;
    if (!(o >= 0) || o + ix.caplen[i]! > header.sourceSize || ix.iface[i]! >= ifaces) bad(`packet ${i + 1} points outside the file or to an unknown interface`);
  }
  return ix;
}
