// Streaming encryption of one capture file: plaintext in (as tcpdump writes it), sealed chunks out
// at their fixed slots. The thin I/O shell over format.ts.
//
// - write(): bytes are buffered until a chunk is full, then that chunk is sealed and written.
//   Memory: one chunk of plaintext per open file.
// - flush(): seals the pending bytes as a short, non-final chunk, so a reader of the growing file
//   (live view, a crash) sees them. The next flush or the full chunk re-seals the same slot with
//   the next seal number (a fresh nonce), so a quiet capture is on disk within a flush period.
// - close(): seals the final chunk (possibly empty) and fsyncs. A file without its final chunk
//   reads as truncated unless the reader is asked for the live (growing) view.
import { randomBytes } from 'node:crypto';
import { wrapToRecipients } from './age.js';
import { open, type FileHandle } from 'node:fs/promises';
import {
  chunkOffset,
  DEFAULT_CHUNK_SIZE,
  encodeHeader,
  FIXED_HEADER_SIZE,
  KEY_SIZE,
  newFixedHeader,
  sealChunkParts,
  wrapDataKey,
  type FixedHeader,
  type Keyring,
} from './format.js';

export interface WriterOptions {
  readonly chunkSize?: number;
  /** File mode of a new file (default 0600: captured traffic is secret). */
  readonly mode?: number;
  readonly random?: (n: number) => Buffer;
}

export class EncryptedFileWriter {
  private cur: Buffer;
  private curLen = 0;
  private index = 0;
  private seal = 0;
  private plain = 0;
  private closed = false;
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly fh: FileHandle,
    private readonly fixed: FixedHeader,
    private readonly dek: Buffer,
    readonly keyId: string,
  ) {
    this.cur = Buffer.alloc(fixed.chunkSize);
  }

  /** Creates `path` (which must not exist) wrapped by the keyring's active key. */
  static async create(path: string, ring: Keyring, opts: WriterOptions = {}): Promise<EncryptedFileWriter> {
    const random = opts.random ?? randomBytes;
    const fixed = newFixedHeader(opts.chunkSize ?? DEFAULT_CHUNK_SIZE, random);
    const dek = random(KEY_SIZE);
    const slot = wrapDataKey(fixed, dek, ring.active, random);
    const fh = await open(path, 'wx', opts.mode ?? 0o600);
    try {
      await fh.write(encodeHeader(fixed, [slot, undefined]), 0, undefined, 0);
    } catch (e) {
      await fh.close();
      throw e;
    }
    return new EncryptedFileWriter(fh, fixed, dek, ring.active.id);
  }

  /**
   * Creates `path` end to end: the data key is wrapped to age recipients only (no cluster key), so
   * the writer's memory is the only place in the cluster that ever holds it.
   */
  static async createForRecipients(path: string, recipients: readonly string[], opts: WriterOptions = {}): Promise<EncryptedFileWriter> {
    const random = opts.random ?? randomBytes;
    const dek = random(KEY_SIZE);
    const area = await wrapToRecipients(dek, recipients);
    const fixed = newFixedHeader(opts.chunkSize ?? DEFAULT_CHUNK_SIZE, random, area.length);
    const fh = await open(path, 'wx', opts.mode ?? 0o600);
    try {
      await fh.write(Buffer.concat([fixed.bytes, area]), 0, FIXED_HEADER_SIZE + area.length, 0);
    } catch (e) {
      await fh.close();
      throw e;
    }
    return new EncryptedFileWriter(fh, fixed, dek, 'age');
  }

  /** Plaintext bytes accepted so far. */
  get plaintextBytes(): number {
    return this.plain;
  }

  /** Serialises the operations: write/flush/close may be called without awaiting each other. */
  private run(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  write(data: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new Error('write after close of an encrypted file'));
    return this.run(async () => {
      // Full chunks are sealed straight from `data` when possible (no copy) and their records
      // (each as header, ciphertext and tag: no copy into one buffer), contiguous on disk, go out
      // in one writev.
      const records: Buffer[] = [];
      const firstIndex = this.index;
      let off = 0;
      while (off < data.length) {
        if (this.curLen === 0 && data.length - off >= this.fixed.chunkSize) {
          records.push(...sealChunkParts(this.fixed, this.dek, this.index, this.seal, data.subarray(off, off + this.fixed.chunkSize), false));
          off += this.fixed.chunkSize;
          this.plain += this.fixed.chunkSize;
          this.index++;
          this.seal = 0;
          continue;
        }
        const n = Math.min(data.length - off, this.fixed.chunkSize - this.curLen);
        data.copy(this.cur, this.curLen, off, off + n);
        this.curLen += n;
        off += n;
        this.plain += n;
        if (this.curLen === this.fixed.chunkSize) {
          records.push(...sealChunkParts(this.fixed, this.dek, this.index, this.seal, this.cur, false));
          this.index++;
          this.seal = 0;
          this.curLen = 0;
        }
      }
      if (records.length > 0) await writeAllv(this.fh, records, chunkOffset(this.fixed.chunkSize, firstIndex, this.fixed.dataStart));
    });
  }

  flush(): Promise<void> {
    return this.run(async () => {
      if (this.curLen > 0) await this.sealCurrent(false, false);
    });
  }

  close(): Promise<void> {
    if (this.closed) return this.chain;
    this.closed = true;
    return this.run(async () => {
      try {
        await this.sealCurrent(true, true);
        await this.fh.sync();
      } finally {
        await this.fh.close();
      }
    });
  }

  /** Stops without a final chunk (the file reads as truncated): for tests and an aborted capture. */
  abandon(): Promise<void> {
    this.closed = true;
    return this.run(() => this.fh.close());
  }

  private async sealCurrent(final: boolean, advance: boolean): Promise<void> {
    // (used by flush and close; full chunks are sealed in write())
    await writeAllv(this.fh, sealChunkParts(this.fixed, this.dek, this.index, this.seal, this.cur.subarray(0, this.curLen), final), chunkOffset(this.fixed.chunkSize, this.index, this.fixed.dataStart));
    if (advance) {
      this.index++;
      this.seal = 0;
      this.curLen = 0;
    } else {
      this.seal++;
    }
  }
}

/** writev until every byte is written (a short write continues where it stopped). */
async function writeAllv(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let rest = bufs;
  let pos = position;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, pos);
    pos += bytesWritten;
    let n = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (n >= b.length) n -= b.length;
      else {
        next.push(n > 0 ? b.subarray(n) : b);
        n = 0;
      }
    }
    rest = next;
  }
}
