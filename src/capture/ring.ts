/**
 * The agent's side of `tcpdump -w -`: tcpdump writes a pcap stream into a pipe, and this cuts it
 * into ring files at record boundaries, the way tcpdump's own `-C/-W` would (docs/storage.md
 * section 6), but writing every file through a sink the agent chooses: the encrypted writer
 * (src/crypto/writer.ts, the default) or a plain file (encryption turned off by the admin).
 *
 * - `PcapSplitter` (pure, incremental): bytes in, the 24-byte global header once, then whole
 *   records. A record length beyond any snap length is an error (the stream is not pcap).
 * - `PcapRing`: owns the ring. A new file starts with the same global header (every ring file is a
 *   valid pcap on its own); a record that would take the file past `maxFileSize` plaintext bytes
 *   goes into the next file; file `i` is named `<fileBase><i mod fileCount>` (tcpdump's names:
 *   zero-padded to the width of fileCount-1). The file about to be reused is deleted first — only
 *   when `canDelete` allows it (with a store: once uploaded); otherwise the ring stops with a
 *   `RingBacklogError` (never deletes captured data that is not safe elsewhere).
 * - Live subscribers get the global header, then every record as it arrives, from memory.
 * - Sizes are plaintext bytes (what a reader gets after decryption).
 */
import type { Readable } from 'node:stream';

export const PCAP_GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
/** Largest record accepted: tcpdump's largest snap length (262144) plus slack for odd link types. */
const MAX_RECORD = 262144 + 65536;

export class PcapStreamError extends Error {
  override readonly name = 'PcapStreamError';
}

/** Whole records, contiguous as tcpdump wrote them: `count` records in `data`. */
export interface RecordSpan {
  data: Buffer;
  count: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * Incremental pcap parser: push() bytes, get the header (once) and whole records.
 *
 * The hot path (`pushSpan`) makes no object per record: it scans the record headers and hands
 * back the whole records as one slice of the pushed bytes (tcpdump writes 100k+ records a second;
 * a Buffer per record cost more than the encryption, bench/storage.ts). Only the bytes of a record
 * cut by the end of a read are copied, to be completed by the next push.
 */
export class PcapSplitter {
  private buf: Buffer = EMPTY;
  header: Buffer | undefined;
  private le = true;

  /** Complete records contained in the bytes pushed so far, one Buffer each (a partial one waits). */
  push(data: Buffer): Buffer[] {
    const span = this.pushSpan(data);
    const out: Buffer[] = [];
    this.forEachRecord(span.data, (r) => out.push(r));
    return out;
  }

  /** Complete records contained in the bytes pushed so far, as one contiguous slice. */
  pushSpan(data: Buffer): RecordSpan {
    let buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    if (!this.header) {
      if (buf.length < PCAP_GLOBAL_HEADER) {
        this.buf = Buffer.from(buf);
        return { data: EMPTY, count: 0 };
      }
      const magic = buf.readUInt32LE(0);
      if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) this.le = true;
      else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) this.le = false;
      else throw new PcapStreamError(`tcpdump's output does not start with a pcap header (magic 0x${magic.toString(16)})`);
      this.header = Buffer.from(buf.subarray(0, PCAP_GLOBAL_HEADER));
      buf = buf.subarray(PCAP_GLOBAL_HEADER);
    }
    let off = 0;
    let count = 0;
    const len = buf.length;
    while (len - off >= RECORD_HEADER) {
      const incl = this.le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
      if (incl > MAX_RECORD) throw new PcapStreamError(`a pcap record of ${incl} bytes in tcpdump's output: the stream is damaged`);
      const end = off + RECORD_HEADER + incl;
      if (end > len) break;
      off = end;
      count++;
    }
    this.buf = off === len ? EMPTY : Buffer.from(buf.subarray(off));
    return { data: off === len ? buf : buf.subarray(0, off), count };
  }

  /** Bytes of the first records of `span` (whole records) that fit in `room` bytes; at least one when `atLeastOne`. */
  fitting(span: Buffer, room: number, atLeastOne: boolean): { bytes: number; count: number } {
    let off = 0;
    let count = 0;
    while (off < span.length) {
      const end = off + RECORD_HEADER + this.recordLength(span, off);
      if (end > room && !(atLeastOne && count === 0)) break;
      off = end;
      count++;
    }
    return { bytes: off, count };
  }

  /** Calls `fn` with each record of `span` (whole records, as pushSpan returns them). */
  forEachRecord(span: Buffer, fn: (record: Buffer) => void): void {
    for (let off = 0; off < span.length; ) {
      const end = off + RECORD_HEADER + this.recordLength(span, off);
      fn(span.subarray(off, end));
      off = end;
    }
  }

  private recordLength(b: Buffer, off: number): number {
    return this.le ? b.readUInt32LE(off + 8) : b.readUInt32BE(off + 8);
  }

  /** Bytes of a record cut off by the end of the stream (tcpdump killed mid-write). */
  get pending(): number {
    return this.buf.length;
  }
}

/** Where the bytes of one ring file go (an encrypted writer, or a plain file). */
export interface RingSink {
  write(b: Buffer): Promise<void>;
  /** Makes what was written readable by others (the encrypted writer seals a short chunk). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface RingFile {
  name: string;
  /** Plaintext bytes. */
  size: number;
  closed: boolean;
}

/**
 * The ring must reuse a file the store does not hold yet. The capture stops (tcpdump is ended, no
 * file is deleted) and the target fails with reason `UploadBacklog` (docs/storage.md section 6).
 */
export class RingBacklogError extends Error {
  override readonly name = 'RingBacklogError';
  constructor(
    /** The file the ring would have reused. */
    readonly file: string,
    /** Closed files still waiting for their upload (not verified in the store). */
    readonly waiting: number,
    readonly fileCount: number,
  ) {
    super(
      `upload backlog: the ring of ${fileCount} file${fileCount === 1 ? '' : 's'} is full and ${waiting} closed file${waiting === 1 ? '' : 's'} still wait${waiting === 1 ? 's' : ''} for upload to the store (the oldest, ${file}, would be overwritten next); ` +
        'the capture stopped so that nothing captured is deleted before it is in the store, and every file is kept on the node and still uploaded. ' +
        'Check the store (the capture\'s Uploaded condition and status.targets[].files[].upload say why uploads wait), or raise spec.fileCount (or maxFileSize) so the ring holds more while uploads catch up',
    );
  }
}

/** How a ring error ends the target: its reason and message in status. Pure. */
export function ringFailure(err: Error): { reason: string; message: string } {
  if (err instanceof RingBacklogError) return { reason: 'UploadBacklog', message: err.message };
  return { reason: 'CaptureFailed', message: `writing the ring files failed: ${err.message}` };
}

export interface PcapRingOptions {
  dir: string;
  fileBase: string;
  maxFileSize: number;
  fileCount: number;
  /** Creates a new file (must not exist). */
  open: (path: string) => Promise<RingSink>;
  /** Deletes a file being reused by the ring. */
  remove: (path: string) => Promise<void>;
  /** May this closed file be deleted to make room? (with a store: only once verified there). Default yes. */
  canDelete?: (name: string) => boolean;
  /** A file was closed (complete on disk): hand it to the upload queue. */
  onClosed?: (file: RingFile) => void;
  /**
   * Every file gets a name of its own (`<base><N>`, N counting every file of the capture, not N
   * modulo fileCount); beyond fileCount files on disk the oldest is removed (when canDelete
   * allows). Used with a store, whose object key is the file name: no object is ever overwritten
   * by a later lap of the ring (docs/storage.md section 4, "Ring files"). Default false: tcpdump's
   * -W names.
   */
  uniqueNames?: boolean;
}

/** A live reader: every record as it arrives, then end() when the capture's stream ended. */
export interface LiveListener {
  data(record: Buffer): void;
  end(): void;
}

/** tcpdump's ring file name: `<base><index>`, zero-padded to the width of fileCount-1. */
export function ringFileName(fileBase: string, index: number, fileCount: number): string {
  const width = fileCount > 1 ? String(fileCount - 1).length : 1;
  return `${fileBase}${String(index % Math.max(1, fileCount)).padStart(width, '0')}`;
}

/**
 * A ring file's own name with unique names (PcapRingOptions.uniqueNames): `<base><index>`, zero
 * padded like {@link ringFileName} but never wrapped, so the first fileCount names are tcpdump's.
 */
export function uniqueRingFileName(fileBase: string, index: number, fileCount: number): string {
  const width = fileCount > 1 ? String(fileCount - 1).length : 1;
  return `${fileBase}${String(index).padStart(width, '0')}`;
}

export class PcapRing {
  private readonly split = new PcapSplitter();
  private sink: RingSink | undefined;
  private current: RingFile | undefined;
  private seq = 0;
  private readonly all: RingFile[] = [];
  private readonly listeners = new Set<LiveListener>();
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private ended = false;
  /** Packets written into ring files. */
  packets = 0;

  constructor(private readonly o: PcapRingOptions) {}

  /** The ring files now on disk (oldest first) with their plaintext sizes. */
  files(): RingFile[] {
    return this.all.map((f) => ({ ...f }));
  }

  get bytes(): number {
    return this.all.reduce((n, f) => n + f.size, 0);
  }

  get error(): Error | undefined {
    return this.failure;
  }

  get finished(): boolean {
    return this.ended;
  }

  /** The global header (once tcpdump wrote it). */
  get header(): Buffer | undefined {
    return this.split.header;
  }

  /** Live: the header first (when known), then every record; returns the unsubscribe function. */
  subscribe(fn: LiveListener): () => void {
    this.listeners.add(fn);
    if (this.ended) fn.end();
    return () => {
      this.listeners.delete(fn);
    };
  }

  /** Reads `input` to its end (tcpdump exited), closing the last file. Rejects on a ring error. */
  async consume(input: Readable): Promise<void> {
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        const span = this.split.pushSpan(chunk);
        if (span.count > 0 || (this.split.header && !this.current)) await this.serial(() => this.take(span));
      }
    } catch (e) {
      this.failure ??= e as Error;
      input.destroy();
    } finally {
      await this.serial(async () => {
        if (!this.current && this.split.header && !this.failure) await this.startFile();
        await this.closeCurrent();
      }).catch((e: unknown) => {
        this.failure ??= e as Error;
      });
      this.ended = true;
      for (const l of this.listeners) l.end();
    }
    if (this.failure) throw this.failure;
  }

  /** Makes what arrived readable on disk (sealed), without closing the file. */
  flush(): Promise<void> {
    return this.serial(async () => {
      await this.sink?.flush();
    });
  }

  private serial(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Writes whole records, cutting files at record boundaries: one sink write per file touched. */
  private async take(span: RecordSpan): Promise<void> {
    if (!this.current) await this.startFile();
    let rest = span.data;
    while (rest.length > 0) {
      const cur = this.current;
      const sink = this.sink;
      if (!cur || !sink) return;
      const room = this.o.maxFileSize - cur.size;
      // a record that would take the file past maxFileSize goes into the next file, unless the
      // file holds no record yet (a record larger than maxFileSize gets a file of its own)
      const bytes = rest.length <= room ? rest.length : this.split.fitting(rest, room, cur.size <= PCAP_GLOBAL_HEADER).bytes;
      if (bytes > 0) {
        const part = bytes === rest.length ? rest : rest.subarray(0, bytes);
        await sink.write(part);
        cur.size += bytes;
        rest = rest.subarray(bytes);
      }
      if (rest.length > 0) {
        await this.closeCurrent();
        await this.startFile();
      }
    }
    this.packets += span.count;
    if (this.listeners.size > 0) this.split.forEachRecord(span.data, (r) => {
      for (const l of this.listeners) l.data(r);
    });
  }

  private async startFile(): Promise<void> {
    const header = this.split.header;
    if (!header) return;
    const name = this.o.uniqueNames ? uniqueRingFileName(this.o.fileBase, this.seq, this.o.fileCount) : ringFileName(this.o.fileBase, this.seq, this.o.fileCount);
    const old = this.o.uniqueNames ? (this.all.length >= Math.max(1, this.o.fileCount) ? 0 : -1) : this.all.findIndex((f) => f.name === name);
    const victim = old >= 0 ? this.all[old]?.name ?? name : name;
    if (old >= 0) {
      const canDelete = this.o.canDelete;
      if (canDelete && !canDelete(victim)) {
        const waiting = this.all.filter((f) => f.closed && !canDelete(f.name)).length;
        throw new RingBacklogError(victim, waiting, this.o.fileCount);
      }
      await this.o.remove(`${this.o.dir}/${victim}`);
      this.all.splice(old, 1);
    }
    this.seq++;
    this.sink = await this.o.open(`${this.o.dir}/${name}`);
    this.current = { name, size: 0, closed: false };
    this.all.push(this.current);
    await this.sink.write(header);
    this.current.size = header.length;
  }

  private async closeCurrent(): Promise<void> {
    const sink = this.sink;
    const cur = this.current;
    this.sink = undefined;
    this.current = undefined;
    if (!sink || !cur) return;
    await sink.close();
    cur.closed = true;
    this.o.onClosed?.({ ...cur });
  }
}
