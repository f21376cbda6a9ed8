// Random-access decryption of an encrypted capture file: its plaintext size, any byte range, the
// whole file as a stream, and the live view of a file still being written. Every chunk read is
// authenticated; the size comes from the last chunk, which is authenticated too.
import { open, type FileHandle } from 'node:fs/promises';
import { unwrapWithIdentities, type AgeIdentities } from './age.js';
import {
  chunkOffset,
  ALG_AGE,
  EncryptedFileError,
  endToEndError,
  FIXED_HEADER_SIZE,
  HEADER_SIZE,
  openChunk,
  openDataKey,
  parseFixedHeader,
  parseHeader,
  RECORD_HEADER_SIZE,
  slotStride,
  TAG_SIZE,
  type FixedHeader,
  type Keyring,
} from './format.js';

/** How often a live view re-reads a last chunk its writer is re-sealing (each after a turn of the event loop). */
const LIVE_REREADS = 50;

export interface EncryptedFileInfo {
  /** Plaintext bytes readable now. */
  readonly size: number;
  /** True when the final chunk is there (the writer closed the file). */
  readonly complete: boolean;
  readonly chunkSize: number;
  readonly keyId: string;
  /** Encrypted bytes on disk. */
  readonly fileSize: number;
}

export interface InfoOptions {
  /** Accept a file without its final chunk (still being written, or its writer died): the size is
   * that of the authenticated chunks present. Default false: such a file is an error (Truncated). */
  readonly live?: boolean;
}

/** Where the encrypted bytes are: a local file, or an object read with ranged GETs. */
export interface RandomAccessSource {
  /** Current size in bytes (a growing file grows). */
  size(): Promise<number>;
  /** Up to `length` bytes at `offset` (fewer only at the end). */
  readAt(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** A random-access source over an already opened file (the agent keeps its no-follow open, safefs.ts). */
export function handleSource(fh: FileHandle): RandomAccessSource {
  return {
    size: async () => (await fh.stat()).size,
    readAt: async (offset, length) => {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    },
    close: () => fh.close(),
  };
}

/** A local file as a source. */
export async function fileSource(path: string): Promise<RandomAccessSource> {
  return handleSource(await open(path, 'r'));
}

export class EncryptedFileReader {
  private constructor(
    private readonly src: RandomAccessSource,
    readonly fixed: FixedHeader,
    private readonly dek: Buffer,
    readonly keyId: string,
  ) {}

  /** Opens a local encrypted file (with the cluster keyring, or age identities for an end-to-end file). */
  static async open(path: string, keys: Keyring | AgeIdentities): Promise<EncryptedFileReader> {
    return EncryptedFileReader.fromSource(await fileSource(path), keys);
  }

  /** Opens encrypted bytes from any source (a file, an object in a store); closes it on failure. */
  static async fromSource(src: RandomAccessSource, keys: Keyring | AgeIdentities): Promise<EncryptedFileReader> {
    try {
      const head = await src.readAt(0, HEADER_SIZE);
      const fixed = parseFixedHeader(head);
      if (fixed.alg === ALG_AGE) {
        if (!('ageIdentities' in keys)) throw endToEndError();
        const area = await src.readAt(FIXED_HEADER_SIZE, fixed.dataStart - FIXED_HEADER_SIZE);
        if (area.length < fixed.dataStart - FIXED_HEADER_SIZE) throw new EncryptedFileError('Truncated', 'the file ends inside its age key area');
        return new EncryptedFileReader(src, fixed, await unwrapWithIdentities(area, keys.ageIdentities), 'age');
      }
      if (!('active' in keys)) {
        throw new EncryptedFileError('UnknownKey', 'this file is encrypted with the cluster keyring (not end to end): download it through the API, which decrypts it, without --identity');
      }
      const header = parseHeader(head);
      const { dek, keyId } = openDataKey(header, keys);
      return new EncryptedFileReader(src, header.fixed, dek, keyId);
    } catch (e) {
      await src.close();
      throw e;
    }
  }

  close(): Promise<void> {
    return this.src.close();
  }

  private async readRecord(index: number, fileSize: number): Promise<Buffer | undefined> {
    const off = chunkOffset(this.fixed.chunkSize, index, this.fixed.dataStart);
    if (off + RECORD_HEADER_SIZE + TAG_SIZE > fileSize) return undefined;
    return this.src.readAt(off, Math.min(slotStride(this.fixed.chunkSize), fileSize - off));
  }

  /** Size and completeness, from the file size and its last chunk. */
  async info(opts: InfoOptions = {}): Promise<EncryptedFileInfo> {
    for (let attempt = 0; ; attempt++) {
      const size = await this.src.size();
      let r: { info: EncryptedFileInfo; steppedBack: boolean };
      try {
        r = await this.infoAt(size, opts);
      } catch (e) {
        // live: the last slot was being re-sealed as it was read (a longer record than the size seen)
        if (!opts.live || attempt >= LIVE_REREADS || !(e instanceof EncryptedFileError) || (await this.src.size()) === size) throw e;
        await new Promise<void>((res) => setImmediate(res));
        continue;
      }
      // live: a last slot that did not open while the file grew was being re-sealed; look again
      if (!r.steppedBack || attempt >= LIVE_REREADS || (await this.src.size()) === size) return r.info;
      await new Promise<void>((res) => setImmediate(res));
    }
  }

  private async infoAt(sizeNow: number, opts: InfoOptions): Promise<{ info: EncryptedFileInfo; steppedBack: boolean }> {
    let fileSize = sizeNow;
    let steppedBack = false;
    const cs = this.fixed.chunkSize;
    const stride = slotStride(cs);
    const base = { chunkSize: cs, keyId: this.keyId, fileSize };
    const start = this.fixed.dataStart;
    if (fileSize <= start) {
      if (opts.live) return { info: { ...base, size: 0, complete: false }, steppedBack };
      throw new EncryptedFileError('Truncated', 'the encrypted file ends after its header: it holds no chunk, not even the final one (its writer did not finish)');
    }
    // The slot the last byte falls in; in the live view, a record still being written there is
    // skipped and the one before it is the last readable chunk.
    let last = Math.floor((fileSize - start - 1) / stride);
    for (;;) {
      const rec = await this.readRecord(last, fileSize);
      let opened: ReturnType<typeof openChunk> | undefined;
      let failure: unknown;
      if (rec) {
        try {
          opened = openChunk(this.fixed, this.dek, last, rec);
        } catch (e) {
          failure = e;
        }
      } else {
        failure = new EncryptedFileError('Truncated', `the encrypted file ends inside chunk ${last}`);
      }
      if (opened) {
        const end = chunkOffset(cs, last, start) + RECORD_HEADER_SIZE + opened.plaintext.length + TAG_SIZE;
        if (end < fileSize) {
          throw new EncryptedFileError('TrailingData', `${fileSize - end} bytes follow the last chunk (${last}) of the encrypted file: it was altered or damaged`);
        }
        if (last > 0 && opened.plaintext.length === 0 && !opened.final) {
          throw new EncryptedFileError('ChunkAuthFailed', `chunk ${last} is empty and not final: the file was altered`);
        }
        if (!opened.final && !opts.live) {
          throw new EncryptedFileError(
            'Truncated',
            `the encrypted file ends after chunk ${last} without its final chunk: it was cut short, or its writer has not finished (read it as a live file to get the ${last * cs + opened.plaintext.length} bytes present)`,
          );
        }
        return { info: { ...base, size: last * cs + opened.plaintext.length, complete: opened.final }, steppedBack };
      }
      if (!opts.live || last === 0) {
        if (opts.live) return { info: { ...base, size: 0, complete: false }, steppedBack };
        throw failure;
      }
      // Live: the last slot is being written (or was torn by a crash); step back one.
      steppedBack = true;
      last--;
      // A full earlier chunk always fills its slot, so the record is complete from here on.
      fileSize = chunkOffset(cs, last + 1, start);
    }
  }

  private openAt(i: number, rec: Buffer | undefined): ReturnType<typeof openChunk> {
    if (!rec) throw new EncryptedFileError('Truncated', `chunk ${i} is missing from the encrypted file`);
    return openChunk(this.fixed, this.dek, i, rec);
  }

  /**
   * The last chunk of a live view: its writer re-seals that slot in place on every flush (a longer
   * record, a fresh nonce), so between info() and this read the slot may hold a newer record that
   * reaches past the size info() saw, or one being written. Read it again at the file's current
   * size until it opens; the newer record holds at least the bytes info() counted.
   */
  private async openLiveLast(i: number, sizeAtInfo: number): Promise<ReturnType<typeof openChunk>> {
    let size = sizeAtInfo;
    for (let attempt = 0; ; attempt++) {
      try {
        return this.openAt(i, await this.readRecord(i, size));
      } catch (e) {
        if (attempt >= LIVE_REREADS || !(e instanceof EncryptedFileError)) throw e;
        await new Promise<void>((r) => setImmediate(r));
        size = await this.src.size();
      }
    }
  }

  /** The plaintext bytes [start, end) (end exclusive), every chunk authenticated. */
  async read(start: number, end: number, opts: InfoOptions = {}): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const b of this.stream(start, end, opts)) parts.push(b);
    return Buffer.concat(parts);
  }

  /** Streams the plaintext [start, end) chunk by chunk (end defaults to the size). */
  async *stream(start = 0, end?: number, opts: InfoOptions = {}): AsyncGenerator<Buffer> {
    const info = await this.info(opts);
    const stop = end ?? info.size;
    if (start < 0 || stop > info.size || start > stop) {
      throw new EncryptedFileError('BadRange', `range ${start}-${stop} is outside the ${info.size} plaintext bytes of the file`);
    }
    const cs = this.fixed.chunkSize;
    const lastIndex = Math.floor((info.size - 1) / cs);
    for (let i = Math.floor(start / cs); i * cs < stop; i++) {
      const c = i === lastIndex && opts.live ? await this.openLiveLast(i, info.fileSize) : this.openAt(i, await this.readRecord(i, info.fileSize));
      if (i < lastIndex && (c.final || c.plaintext.length !== cs)) {
        throw new EncryptedFileError('ChunkAuthFailed', `chunk ${i} is ${c.final ? 'marked final' : 'short'} but is not the last chunk: the file was altered (an older seal of the chunk was put back, or chunks were removed)`);
      }
      const from = Math.max(start - i * cs, 0);
      const to = Math.min(stop - i * cs, c.plaintext.length);
      if (to > from) yield c.plaintext.subarray(from, to);
    }
  }
}
