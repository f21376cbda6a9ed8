/**
 * Streaming reader for classic pcap (both byte orders, micro/nanosecond magic, the "modified pcap"
 * variant a1b2cd34) and pcapng (any number of sections of either byte order, several interfaces with
 * different link types, if_tsresol / if_tsoffset, EPB, SPB and the obsolete packet block; NRB, ISB,
 * custom and unknown blocks are skipped).
 *
 * The hot path allocates nothing per packet: the reader fills one reusable buffer (default 4 MiB)
 * with large reads and exposes the current packet as fields of the reader itself (`data`,
 * `dataOffset`, `caplen`, ...), which point into that buffer and stay valid until the next call of
 * {@link CaptureReader.advance}. Use it like this:
 *
 * ```ts
 * const r = await CaptureReader.open(path);
 * try {
 *   for (;;) {
 *     while (r.advance()) use(r);      // synchronous, per packet
 *     if (r.done) break;
 *     await r.fill();                  // one large read
 *   }
 * } finally { await r.close(); }
 * ```
 *
 * or the convenience wrappers {@link forEachPacket} (callback) and {@link openCapture}
 * (async iterable of copied packets; slower).
 *
 * Limits: a block or record longer than {@link MAX_RECORD_BYTES} or longer than the rest of the file
 * is rejected with a {@link PcapFormatError}, so corrupt input can never make the reader allocate
 * more than that. Every error names the file and the byte offset; every packet before it has
 * already been delivered.
 */
import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { PcapFormatError, PcapIoError } from './errors.js';
import { divmod64 } from './time.js';

/** Largest pcap record or pcapng block the reader accepts (64 MiB). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const DEFAULT_BUFFER = 4 * 1024 * 1024;

/** pcap magic numbers as read little-endian. */
const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAP_MAGIC_MOD = 0xa1b2cd34;
const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Where the reader gets its bytes from: a file, or memory (tests, fuzzing). */
export interface ByteSource {
  /** Label used in errors (usually the path). */
  readonly name: string;
  /** Total size in bytes when known; lets the reader reject over-long records early. */
  readonly size: number | undefined;
  /** Reads up to `length` bytes at the current position into `buf[offset..]`; 0 means end. */
  read(buf: Buffer, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * A {@link ByteSource} over a file opened for reading. With `syncReads`, reads are done with
 * fs.readSync (no thread-pool round trip per buffer: faster for command-line tools, but it blocks
 * the event loop for the duration of each read).
 */
export async function fileSource(path: string, syncReads = false): Promise<ByteSource> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new PcapIoError(path, `cannot open: ${(err as Error).message}`, { cause: err });
  }
  let size: number | undefined;
  try {
    const st = await fh.stat();
    size = st.isFile() ? st.size : undefined;
  } catch {
    size = undefined;
  }
  return {
    name: path,
    size,
    async read(buf, offset, length) {
      try {
        if (syncReads) return readSync(fh.fd, buf, offset, length, null);
        const { bytesRead } = await fh.read(buf, offset, length, null);
        return bytesRead;
      } catch (err) {
        throw new PcapIoError(path, `read failed: ${(err as Error).message}`, { cause: err });
      }
    },
    close: () => fh.close(),
  };
}

/** A {@link ByteSource} over bytes in memory. */
export function bufferSource(bytes: Uint8Array, name = '<memory>'): ByteSource {
  let pos = 0;
  return {
    name,
    size: bytes.length,
    read(buf, offset, length) {
      const n = Math.min(length, bytes.length - pos);
      buf.set(bytes.subarray(pos, pos + n), offset);
      pos += n;
      return Promise.resolve(n);
    },
    close: () => Promise.resolve(),
  };
}

/** One capture interface: the pcap file itself, or one pcapng Interface Description Block. */
export interface CaptureInterface {
  /** Index across the whole file (pcapng sections are numbered on). */
  readonly index: number;
  /** pcapng section number (0 for pcap). */
  readonly section: number;
  /** LINKTYPE_* value. */
  readonly linkType: number;
  readonly snapLength: number;
  readonly name: string | undefined;
  readonly description: string | undefined;
  readonly comments: readonly string[];
  /** Timestamp units per second (1e6 for microseconds). */
  readonly unitsPerSecond: number;
  /** Raw if_tsresol byte (6 if absent, 9 for nanosecond pcap). */
  readonly tsresol: number;
  /** if_tsoffset in seconds (0 if absent). */
  readonly tsOffset: number;
  /** Operating system / hardware strings when present. */
  readonly os: string | undefined;
}

/** What kind of record the current packet came from. */
export const enum RecordKind {
  Pcap = 0,
  Epb = 1,
  Spb = 2,
  Opb = 3,
}

/** Fields of the current packet; {@link CaptureReader} implements it. */
export interface PacketView {
  /** Buffer that holds the packet bytes at `dataOffset .. dataOffset + caplen`. */
  readonly data: Buffer;
  readonly dataOffset: number;
  /** Captured length. */
  readonly caplen: number;
  /** Original length on the wire. */
  readonly origLen: number;
  /** Seconds since the epoch. */
  readonly tsSec: number;
  /** Nanoseconds within the second, 0..999999999. */
  readonly tsNsec: number;
  /** Index into `interfaces`. */
  readonly interfaceId: number;
  readonly linkType: number;
  /** 1-based packet number in the file. */
  readonly packetNumber: number;
}

/** Input format of a capture. */
export type CaptureFormat = 'pcap' | 'pcapng';

interface SectionState {
  le: boolean;
  /** local interface id -> global interface index */
  ifaces: number[];
}

/**
 * Pull-based reader; see the module comment for the loop. Not reentrant: one consumer at a time.
 */
export class CaptureReader implements PacketView {
  readonly source: ByteSource;
  format: CaptureFormat | undefined;
  /** All interfaces seen so far (grows as pcapng IDBs are read). */
  readonly interfaces: CaptureInterface[] = [];
  /** pcapng Section Header Block comments and user application, first section. */
  readonly sectionComments: string[] = [];
  sectionUserAppl: string | undefined;
  /** True once the whole input has been read. */
  done = false;

  // current packet
  data: Buffer;
  dataOffset = 0;
  caplen = 0;
  origLen = 0;
  tsSec = 0;
  tsNsec = 0;
  interfaceId = 0;
  linkType = 0;
  packetNumber = 0;
  /** Kind of the current record. */
  recordKind: RecordKind = RecordKind.Pcap;
  /** Offset of the current record (header included) in `data`. */
  recordOffset = 0;
  /** Length of the current record including header (and pcapng trailer). */
  recordLength = 0;
  /** Raw timestamp of the current record: pcap (seconds, fraction) or pcapng (high, low). */
  rawTsHi = 0;
  rawTsLo = 0;
  /** Byte order of the current record. */
  littleEndian = true;
  /** File offset of the current record. */
  recordFileOffset = 0;

  private buf: Buffer;
  private start = 0; // next unparsed byte in buf
  private end = 0; // end of valid bytes in buf
  private fileBase = 0; // file offset of buf[0]
  private eof = false;
  private need = 0; // bytes needed at `start` before parsing can continue
  private pcapLe = true;
  private pcapNs = false;
  private pcapRecHdr = 16;
  private pcapLinkType = 1;
  private section: SectionState | undefined;
  private sectionCount = 0;
  private readonly scratch = new Float64Array(2);
  private readonly maxRecord: number;

  private constructor(source: ByteSource, bufferSize: number, maxRecord: number) {
    this.source = source;
    this.buf = Buffer.allocUnsafe(bufferSize);
    this.data = this.buf;
    this.maxRecord = maxRecord;
  }

  /** Opens a file, reads its header and returns a reader positioned before the first packet. */
  static async open(path: string, opts: ReaderOptions = {}): Promise<CaptureReader> {
    const src = await fileSource(path, opts.syncReads ?? false);
    try {
      return await CaptureReader.fromSource(src, opts);
    } catch (err) {
      await src.close();
      throw err;
    }
  }

  /** Like {@link CaptureReader.open} over any {@link ByteSource}. */
  static async fromSource(source: ByteSource, opts: ReaderOptions = {}): Promise<CaptureReader> {
    const r = new CaptureReader(source, Math.max(opts.bufferSize ?? DEFAULT_BUFFER, 65536), opts.maxRecordBytes ?? MAX_RECORD_BYTES);
    await r.readHeader();
    return r;
  }

  /** Current size of the read buffer (bounded by max(bufferSize, largest accepted record)). */
  get bufferCapacity(): number {
    return this.buf.length;
  }

  /** Name of the input (path) used in errors. */
  get name(): string {
    return this.source.name;
  }

  async close(): Promise<void> {
    await this.source.close();
  }

  private fail(offset: number, problem: string): never {
    throw new PcapFormatError(this.source.name, offset, problem);
  }

  private remainingInFile(fileOffset: number): number | undefined {
    return this.source.size === undefined ? undefined : this.source.size - fileOffset;
  }

  private async readHeader(): Promise<void> {
    this.need = 4;
    while (this.end - this.start < 4 && !this.eof) await this.fill();
    if (this.end < 4) {
      if (this.end === 0) this.fail(0, 'empty file: not a pcap or pcapng capture');
      this.fail(0, `file too short (${this.end} bytes) to be a pcap or pcapng capture`);
    }
    const m = this.buf.readUInt32LE(0);
    if (m === PCAPNG_SHB) {
      this.format = 'pcapng';
      this.need = 0;
      return;
    }
    const mb = this.buf.readUInt32BE(0);
    let le: boolean;
    let ns = false;
    let mod = false;
    if (m === PCAP_MAGIC_US || m === PCAP_MAGIC_NS || m === PCAP_MAGIC_MOD) {
      le = true;
      ns = m === PCAP_MAGIC_NS;
      mod = m === PCAP_MAGIC_MOD;
    } else if (mb === PCAP_MAGIC_US || mb === PCAP_MAGIC_NS || mb === PCAP_MAGIC_MOD) {
      le = false;
      ns = mb === PCAP_MAGIC_NS;
      mod = mb === PCAP_MAGIC_MOD;
    } else {
      this.fail(0, `not a pcap or pcapng file (magic 0x${mb.toString(16).padStart(8, '0')})`);
    }
    this.need = 24;
    while (this.end - this.start < 24 && !this.eof) await this.fill();
    if (this.end < 24) this.fail(this.end, `file ends inside the 24-byte pcap file header (${this.end} bytes)`);
    const b = this.buf;
    const major = le ? b.readUInt16LE(4) : b.readUInt16BE(4);
    const minor = le ? b.readUInt16LE(6) : b.readUInt16BE(6);
    if (major !== 2) this.fail(4, `unsupported pcap version ${major}.${minor} (only 2.x is defined)`);
    const snap = le ? b.readUInt32LE(16) : b.readUInt32BE(16);
    const lt = (le ? b.readUInt32LE(20) : b.readUInt32BE(20)) & 0x03ffffff;
    this.format = 'pcap';
    this.pcapLe = le;
    this.pcapNs = ns;
    this.pcapRecHdr = mod ? 24 : 16;
    this.pcapLinkType = lt & 0xffff;
    this.interfaces.push({
      index: 0,
      section: 0,
      linkType: lt & 0xffff,
      snapLength: snap,
      name: undefined,
      description: undefined,
      comments: [],
      unitsPerSecond: ns ? 1e9 : 1e6,
      tsresol: ns ? 9 : 6,
      tsOffset: 0,
      os: undefined,
    });
    this.start = 24;
    this.need = 0;
  }

  /**
   * Reads more input into the buffer. Call it when {@link advance} returned false and `done` is
   * false. Keeps unparsed bytes; grows the buffer only if one record is larger than it.
   */
  async fill(): Promise<void> {
    if (this.eof) {
      return;
    }
    // compact
    if (this.start > 0) {
      if (this.end > this.start) this.buf.copy(this.buf, 0, this.start, this.end);
      this.fileBase += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    if (this.need > this.buf.length) {
      const nb = Buffer.allocUnsafe(Math.max(this.need, this.buf.length * 2));
      this.buf.copy(nb, 0, 0, this.end);
      this.buf = nb;
      this.data = nb;
    }
    const n = await this.source.read(this.buf, this.end, this.buf.length - this.end);
    if (n === 0) this.eof = true;
    this.end += n;
  }

  /**
   * Moves to the next packet. Returns true when the reader's packet fields describe it; false when
   * more input is needed (call {@link fill}) or the input is finished (`done` is then true).
   * Throws {@link PcapFormatError} on malformed input.
   */
  advance(): boolean {
    if (this.format === 'pcap') return this.advancePcap();
    return this.advancePcapng();
  }

  private atEnd(avail: number, what: string, needBytes: number): false {
    if (!this.eof) {
      this.need = needBytes;
      return false;
    }
    if (avail === 0) {
      this.done = true;
      return false;
    }
    this.fail(this.fileBase + this.start, `${what} (needs ${needBytes} bytes, ${avail} left)`);
  }

  private advancePcap(): boolean {
    const b = this.buf;
    const hdr = this.pcapRecHdr;
    const avail = this.end - this.start;
    if (avail < hdr) return this.atEnd(avail, `file ends inside the header of record #${this.packetNumber + 1}`, hdr);
    const p = this.start;
    const le = this.pcapLe;
    const caplen = le ? b.readUInt32LE(p + 8) : b.readUInt32BE(p + 8);
    const fileOff = this.fileBase + p;
    if (caplen > this.maxRecord) {
      this.fail(fileOff + 8, `record #${this.packetNumber + 1} has captured length ${caplen}, more than the ${this.maxRecord}-byte limit`);
    }
    const total = hdr + caplen;
    if (avail < total) {
      const rem = this.remainingInFile(fileOff);
      if (rem !== undefined && rem < total) {
        this.fail(fileOff, `file ends inside packet data of record #${this.packetNumber + 1} (needs ${caplen} bytes, ${rem - hdr} left)`);
      }
      return this.atEnd(avail, `file ends inside record #${this.packetNumber + 1}`, total);
    }
    const sec = le ? b.readUInt32LE(p) : b.readUInt32BE(p);
    let frac = le ? b.readUInt32LE(p + 4) : b.readUInt32BE(p + 4);
    this.rawTsHi = sec;
    this.rawTsLo = frac;
    let s = sec;
    if (this.pcapNs) {
      if (frac >= 1e9) {
        const q = Math.floor(frac / 1e9);
        s += q;
        frac -= q * 1e9;
      }
      this.tsNsec = frac;
    } else {
      if (frac >= 1e6) {
        const q = Math.floor(frac / 1e6);
        s += q;
        frac -= q * 1e6;
      }
      this.tsNsec = frac * 1000;
    }
    this.tsSec = s;
    this.origLen = le ? b.readUInt32LE(p + 12) : b.readUInt32BE(p + 12);
    this.caplen = caplen;
    this.dataOffset = p + hdr;
    this.recordOffset = p;
    this.recordLength = total;
    this.recordFileOffset = fileOff;
    this.recordKind = RecordKind.Pcap;
    this.littleEndian = le;
    this.interfaceId = 0;
    this.linkType = this.pcapLinkType;
    this.packetNumber++;
    this.start = p + total;
    return true;
  }

  private advancePcapng(): boolean {
    const b = this.buf;
    for (;;) {
      const avail = this.end - this.start;
      if (avail < 8) return this.atEnd(avail, 'file ends inside a pcapng block header', 12);
      const p = this.start;
      const fileOff = this.fileBase + p;
      const rawType = b.readUInt32LE(p);
      let le: boolean;
      if (rawType === PCAPNG_SHB) {
        if (avail < 12) return this.atEnd(avail, 'file ends inside a section header block', 12);
        const bom = b.readUInt32LE(p + 8);
        if (bom === BYTE_ORDER_MAGIC) le = true;
        else if (bom === 0x4d3c2b1a) le = false;
        else this.fail(fileOff + 8, `section header block has a bad byte-order magic 0x${bom.toString(16)}`);
      } else {
        if (this.section === undefined) this.fail(fileOff, 'pcapng block before the first section header block');
        le = this.section.le;
      }
      const blockLen = le ? b.readUInt32LE(p + 4) : b.readUInt32BE(p + 4);
      const type = le ? rawType : b.readUInt32BE(p);
      if (blockLen < 12 || blockLen % 4 !== 0) {
        this.fail(fileOff + 4, `pcapng block (type 0x${type.toString(16)}) has invalid total length ${blockLen}`);
      }
      if (blockLen > this.maxRecord) {
        this.fail(fileOff + 4, `pcapng block (type 0x${type.toString(16)}) length ${blockLen} exceeds the ${this.maxRecord}-byte limit`);
      }
      if (avail < blockLen) {
        const rem = this.remainingInFile(fileOff);
        if (rem !== undefined && rem < blockLen) {
          this.fail(fileOff, `file ends inside pcapng block (type 0x${type.toString(16)}, length ${blockLen}, ${rem} bytes left)`);
        }
        return this.atEnd(avail, `file ends inside pcapng block (type 0x${type.toString(16)})`, blockLen);
      }
      const trailer = le ? b.readUInt32LE(p + blockLen - 4) : b.readUInt32BE(p + blockLen - 4);
      if (trailer !== blockLen) {
        this.fail(fileOff + blockLen - 4, `pcapng block (type 0x${type.toString(16)}) trailing length ${trailer} differs from its leading length ${blockLen}`);
      }
      this.start = p + blockLen;
      switch (type) {
        case PCAPNG_SHB:
          this.readShb(p, blockLen, le, fileOff);
          continue;
        case 1:
          this.readIdb(p, blockLen, le, fileOff);
          continue;
        case 6: // EPB
        case 2: // obsolete packet block
          if (this.readEpb(p, blockLen, le, fileOff, type === 2)) return true;
          continue;
        case 3:
          this.readSpb(p, blockLen, le, fileOff);
          return true;
        default:
          // NRB (4), ISB (5), DSB (10), custom (0xBAD, 0x40000BAD) and unknown blocks: skipped.
          continue;
      }
    }
  }

  private readShb(p: number, len: number, le: boolean, fileOff: number): void {
    if (len < 28) this.fail(fileOff + 4, `section header block too short (${len} bytes)`);
    const b = this.buf;
    const major = le ? b.readUInt16LE(p + 12) : b.readUInt16BE(p + 12);
    if (major !== 1) this.fail(fileOff + 12, `unsupported pcapng version ${major}`);
    this.section = { le, ifaces: [] };
    const first = this.sectionCount === 0;
    this.sectionCount++;
    this.parseOptions(p + 24, p + len - 4, le, (code, o, l) => {
      if (!first) return;
      if (code === 1) this.sectionComments.push(b.toString('utf8', o, o + l));
      else if (code === 4) this.sectionUserAppl = b.toString('utf8', o, o + l);
    });
  }

  private readIdb(p: number, len: number, le: boolean, fileOff: number): void {
    if (len < 20) this.fail(fileOff + 4, `interface description block too short (${len} bytes)`);
    const b = this.buf;
    const linkType = le ? b.readUInt16LE(p + 8) : b.readUInt16BE(p + 8);
    const snapLength = le ? b.readUInt32LE(p + 12) : b.readUInt32BE(p + 12);
    let name: string | undefined;
    let description: string | undefined;
    let os: string | undefined;
    const comments: string[] = [];
    let tsresol = 6;
    let tsOffset = 0;
    this.parseOptions(p + 16, p + len - 4, le, (code, o, l) => {
      if (code === 1) comments.push(b.toString('utf8', o, o + l));
      else if (code === 2) name = b.toString('utf8', o, o + l);
      else if (code === 3) description = b.toString('utf8', o, o + l);
      else if (code === 9 && l >= 1) tsresol = b[o] ?? 6;
      else if (code === 12) os = b.toString('utf8', o, o + l);
      else if (code === 14 && l >= 8) {
        const hi = le ? b.readInt32LE(o + 4) : b.readInt32BE(o);
        const lo = le ? b.readUInt32LE(o) : b.readUInt32BE(o + 4);
        tsOffset = hi * 4294967296 + lo;
      }
    });
    const exp = tsresol & 0x7f;
    let ups: number;
    if (tsresol & 0x80) {
      if (exp > 62) this.fail(fileOff, `interface if_tsresol 2^-${exp} is out of range`);
      ups = 2 ** exp;
    } else {
      if (exp > 18) this.fail(fileOff, `interface if_tsresol 10^-${exp} is out of range`);
      ups = 10 ** exp;
    }
    const sec = this.section;
    if (sec === undefined) this.fail(fileOff, 'interface description block outside a section');
    const index = this.interfaces.length;
    sec.ifaces.push(index);
    this.interfaces.push({
      index,
      section: this.sectionCount - 1,
      linkType,
      snapLength,
      name,
      description,
      comments,
      unitsPerSecond: ups,
      tsresol,
      tsOffset,
      os,
    });
  }

  /**
   * Walks pcapng options in [o, end); calls `fn(code, valueOffset, valueLength)`. Stops at
   * opt_endofopt. A malformed option list ends the walk (the block itself is well framed).
   */
  private parseOptions(o: number, end: number, le: boolean, fn: (code: number, vo: number, vl: number) => void): void {
    const b = this.buf;
    while (o + 4 <= end) {
      const code = le ? b.readUInt16LE(o) : b.readUInt16BE(o);
      const l = le ? b.readUInt16LE(o + 2) : b.readUInt16BE(o + 2);
      if (code === 0) return;
      if (o + 4 + l > end) {
        // Malformed option list: ignore the rest of the options (the block itself is well framed).
        return;
      }
      fn(code, o + 4, l);
      o += 4 + ((l + 3) & ~3);
    }
  }

  private setTimestamp(ifIndex: number, hi: number, lo: number): void {
    const iface = this.interfaces[ifIndex];
    if (iface === undefined) return;
    const ups = iface.unitsPerSecond;
    let sec: number;
    let nsec: number;
    if (ups === 1e6 || ups === 1e9 || (ups > 1 && ups <= 1073741824)) {
      sec = divmod64(hi, lo, ups, this.scratch);
      const r = this.scratch[0] ?? 0;
      nsec = ups === 1e9 ? r : ups === 1e6 ? r * 1000 : Math.floor((r * 1e9) / ups);
    } else if (ups === 1) {
      sec = hi * 4294967296 + lo;
      nsec = 0;
    } else {
      const units = (BigInt(hi) << 32n) | BigInt(lo);
      const bu = BigInt(ups);
      sec = Number(units / bu);
      nsec = Number(((units % bu) * 1000000000n) / bu);
    }
    this.tsSec = sec + iface.tsOffset;
    this.tsNsec = nsec;
  }

  private readEpb(p: number, len: number, le: boolean, fileOff: number, obsolete: boolean): boolean {
    if (len < 32) this.fail(fileOff + 4, `packet block too short (${len} bytes)`);
    const b = this.buf;
    const sec = this.section as SectionState;
    const localId = obsolete ? (le ? b.readUInt16LE(p + 8) : b.readUInt16BE(p + 8)) : le ? b.readUInt32LE(p + 8) : b.readUInt32BE(p + 8);
    const gid = sec.ifaces[localId];
    if (gid === undefined) this.fail(fileOff + 8, `packet block refers to interface ${localId}, but the section defines ${sec.ifaces.length}`);
    const hi = le ? b.readUInt32LE(p + 12) : b.readUInt32BE(p + 12);
    const lo = le ? b.readUInt32LE(p + 16) : b.readUInt32BE(p + 16);
    const caplen = le ? b.readUInt32LE(p + 20) : b.readUInt32BE(p + 20);
    if (caplen > len - 32) this.fail(fileOff + 20, `packet block captured length ${caplen} exceeds its block (${len} bytes)`);
    this.caplen = caplen;
    this.origLen = le ? b.readUInt32LE(p + 24) : b.readUInt32BE(p + 24);
    this.rawTsHi = hi;
    this.rawTsLo = lo;
    this.setTimestamp(gid, hi, lo);
    this.finishPacket(p, len, le, fileOff, gid, p + 28, obsolete ? RecordKind.Opb : RecordKind.Epb);
    return true;
  }

  private readSpb(p: number, len: number, le: boolean, fileOff: number): void {
    if (len < 16) this.fail(fileOff + 4, `simple packet block too short (${len} bytes)`);
    const sec = this.section as SectionState;
    const gid = sec.ifaces[0];
    if (gid === undefined) this.fail(fileOff, 'simple packet block in a section without interfaces');
    const b = this.buf;
    const orig = le ? b.readUInt32LE(p + 8) : b.readUInt32BE(p + 8);
    const iface = this.interfaces[gid];
    const snap = iface !== undefined && iface.snapLength > 0 ? iface.snapLength : orig;
    this.caplen = Math.min(orig, snap, len - 16);
    this.origLen = orig;
    // SPBs carry no timestamp: the previous packet's timestamp is kept (0 for the first).
    this.rawTsHi = 0;
    this.rawTsLo = 0;
    this.finishPacket(p, len, le, fileOff, gid, p + 12, RecordKind.Spb);
  }

  private finishPacket(p: number, len: number, le: boolean, fileOff: number, gid: number, dataOff: number, kind: RecordKind): void {
    this.dataOffset = dataOff;
    this.recordOffset = p;
    this.recordLength = len;
    this.recordFileOffset = fileOff;
    this.recordKind = kind;
    this.littleEndian = le;
    this.interfaceId = gid;
    this.linkType = this.interfaces[gid]?.linkType ?? 0;
    this.packetNumber++;
  }

  /** Comments (opt_comment) of the current packet, if it came from an EPB/OPB. Allocates. */
  packetComments(): string[] {
    const out: string[] = [];
    if (this.recordKind !== RecordKind.Epb && this.recordKind !== RecordKind.Opb) return out;
    const p = this.recordOffset;
    const optStart = p + 28 + ((this.caplen + 3) & ~3);
    this.parseOptions(optStart, p + this.recordLength - 4, this.littleEndian, (code, o, l) => {
      if (code === 1) out.push(this.buf.toString('utf8', o, o + l));
    });
    return out;
  }
}

/** Options for {@link CaptureReader}. */
export interface ReaderOptions {
  /** Size of the read buffer (default 4 MiB). */
  bufferSize?: number;
  /** Largest record/block accepted (default {@link MAX_RECORD_BYTES}). */
  maxRecordBytes?: number;
  /** Read files with fs.readSync (see {@link fileSource}); default false. */
  syncReads?: boolean;
}

/**
 * Calls `onPacket` for every packet of `reader` (the view is only valid during the call) and closes
 * the reader. Rejects with {@link PcapFormatError} after delivering every complete packet before the
 * problem.
 */
export async function drain(reader: CaptureReader, onPacket: (p: CaptureReader) => void): Promise<void> {
  try {
    for (;;) {
      while (reader.advance()) onPacket(reader);
      if (reader.done) break;
      await reader.fill();
    }
  } finally {
    await reader.close();
  }
}

/** Opens `path` and calls `onPacket` for each packet; returns the reader (closed) for its interfaces. */
export async function forEachPacket(path: string, onPacket: (p: CaptureReader) => void, opts?: ReaderOptions): Promise<CaptureReader> {
  const r = await CaptureReader.open(path, opts);
  await drain(r, onPacket);
  return r;
}

/** A packet copied out of the reader's buffer. */
export interface PacketRecord {
  tsSec: number;
  tsNsec: number;
  caplen: number;
  origLen: number;
  interfaceId: number;
  linkType: number;
  data: Buffer;
}

/** Async iterable of copied packets (convenient, allocates per packet). */
export async function* openCapture(path: string, opts?: ReaderOptions): AsyncGenerator<PacketRecord> {
  const r = await CaptureReader.open(path, opts);
  try {
    for (;;) {
      const batch: PacketRecord[] = [];
      while (r.advance()) {
        batch.push({
          tsSec: r.tsSec,
          tsNsec: r.tsNsec,
          caplen: r.caplen,
          origLen: r.origLen,
          interfaceId: r.interfaceId,
          linkType: r.linkType,
          data: Buffer.from(r.data.subarray(r.dataOffset, r.dataOffset + r.caplen)),
        });
      }
      yield* batch;
      if (r.done) break;
      await r.fill();
    }
  } finally {
    await r.close();
  }
}
