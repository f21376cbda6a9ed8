// The encrypted ring: tcpdump's pcap stream (from a pipe) in, encrypted ring files out, so no
// plaintext capture file is ever written (docs/storage.md section 6).
// - A new file starts when the next record would take the current one past maxFileSize (at a
//   record boundary), with the same global header: every ring file is a valid pcap on its own.
// - Files are numbered <base>0, <base>1, … (never reused, unlike tcpdump -W: a name that waits for
//   its upload is never overwritten). Beyond fileCount closed files, the oldest is deleted only if
//   canDelete() says so (with a store: once verified in it); the others count as backlog.
// - flush() seals what tcpdump handed over so far (live readers and a crash see it).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Keyring } from './format.js';
import { PcapFramer } from './pcap-framer.js';
import { EncryptedFileWriter } from './writer.js';

export interface RingOptions {
  readonly dir: string;
  /** File name without the index, e.g. `node-a.web.1764000000.pcap`. */
  readonly baseName: string;
  /** Plaintext bytes per file (a single record larger than this still gets a file of its own). */
  readonly maxFileSize: number;
  /** Closed files kept (plus the one being written). */
  readonly fileCount: number;
  readonly keyring: () => Keyring | Promise<Keyring>;
  readonly chunkSize?: number;
  /** May this closed file be deleted to keep the ring at fileCount? Default: yes. */
  readonly canDelete?: (path: string) => boolean | Promise<boolean>;
  /** A file was closed (final chunk written): hand it to the uploader. */
  readonly onClosed?: (path: string, plaintextBytes: number) => void | Promise<void>;
}

export class EncryptedRing {
  private readonly framer = new PcapFramer();
  private writer: EncryptedFileWriter | undefined;
  private current: string | undefined;
  private index = 0;
  private closedFiles: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  /** Closed files kept beyond fileCount because canDelete() refused (e.g. not uploaded yet). */
  backlog = 0;
  records = 0;

  constructor(private readonly opts: RingOptions) {}

  private run(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Bytes from tcpdump's stdout, split anyhow. */
  write(chunk: Buffer): Promise<void> {
    return this.run(async () => {
      const { records } = this.framer.push(chunk);
      // Records that go into the same file are written together (one write per chunk of input).
      let batch: Buffer[] = [];
      let batchBytes = 0;
      const writeBatch = async (): Promise<void> => {
        if (batch.length === 0) return;
        await this.writer!.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes));
        batch = [];
        batchBytes = 0;
      };
      for (const r of records) {
        const inFile = this.writer ? this.writer.plaintextBytes + batchBytes : 0;
        if (!this.writer || (inFile + r.length > this.opts.maxFileSize && inFile > 24)) {
          await writeBatch();
          await this.rotate();
        }
        batch.push(r);
        batchBytes += r.length;
        this.records++;
      }
      await writeBatch();
    });
  }

  flush(): Promise<void> {
    return this.run(async () => {
      if (!this.writer && this.framer.header) await this.rotate(); // a header but no packet yet
      await this.writer?.flush();
    });
  }

  /** The stream ended: close the current file. Bytes of a cut-off record are reported, not hidden. */
  close(): Promise<{ files: string[]; truncatedBytes: number }> {
    return this.run(async () => {
      if (!this.writer && this.framer.header) await this.rotate();
      await this.closeCurrent();
    }).then(() => ({ files: [...this.closedFiles], truncatedBytes: this.framer.pendingBytes }));
  }

  get files(): readonly string[] {
    return [...this.closedFiles, ...(this.current ? [this.current] : [])];
  }

  private async closeCurrent(): Promise<void> {
    const w = this.writer;
    const path = this.current;
    if (!w || !path) return;
    this.writer = undefined;
    this.current = undefined;
    await w.close();
    this.closedFiles.push(path);
    await this.opts.onClosed?.(path, w.plaintextBytes);
    await this.trim();
  }

  private async rotate(): Promise<void> {
    await this.closeCurrent();
    const header = this.framer.header;
    if (!header) throw new Error('no pcap global header yet');
    const path = join(this.opts.dir, `${this.opts.baseName}${this.index++}`);
    this.writer = await EncryptedFileWriter.create(path, await this.opts.keyring(), this.opts.chunkSize ? { chunkSize: this.opts.chunkSize } : {});
    this.current = path;
    await this.writer.write(header);
  }

  private async trim(): Promise<void> {
    let backlog = 0;
    const keep: string[] = [];
    const excess = this.closedFiles.length - this.opts.fileCount;
    for (const [i, f] of this.closedFiles.entries()) {
      if (i < excess && (await (this.opts.canDelete?.(f) ?? true))) {
        await rm(f, { force: true });
        continue;
      }
      if (i < excess) backlog++;
      keep.push(f);
    }
    this.closedFiles = keep;
    this.backlog = backlog;
  }
}
