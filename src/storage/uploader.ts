// Uploads one finished local file (a ring file or its .meta.json sidecar) to the store, with no
// silent loss:
// - multipart with a SHA-256 checksum per part (the store checks each part on arrival), or one
//   PutObject with its checksum for a file smaller than one part;
// - bounded memory: one part buffer per concurrent part (concurrency x partSize);
// - resumable: a journal beside the file keeps the upload id; after a restart the store's
//   ListParts decides which parts are there (same size and checksum as the local bytes: not sent
//   again);
// - transient failures retried by the client with backoff; terminal ones throw UploadError and
//   leave the local file and the journal as they are (fix the cause, the next attempt resumes);
// - verified: HeadObject must report the local size and checksum. The caller deletes the local
//   copy only when the result says `verified: true`.
import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { StoreError } from './errors.js';
import { readJournal, removeJournal, writeJournal, type JournalPart, type UploadJournal } from './journal.js';
import type { ObjectHead, PartInfo, S3Client } from './client.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024; // S3's minimum for every part but the last
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;
export const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
export const DEFAULT_CONCURRENCY = 2;

export class UploadError extends Error {
  override readonly name = 'UploadError';
  constructor(
    message: string,
    /** Retrying later may succeed (the store was unreachable for longer than the retry budget). */
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface UploadOptions {
  readonly file: string;
  readonly key: string;
  /** Default `<file>.upload.json`. */
  readonly journal?: string;
  readonly partSize?: number;
  readonly concurrency?: number;
  /** Called after each part is known to be in the store (sent now, or found there on resume). */
  readonly onPart?: (p: { partNumber: number; parts: number; resumed: boolean }) => void | Promise<void>;
}

export interface UploadResult {
  readonly key: string;
  readonly size: number;
  /** The object's checksum as the store reports it (`<base64 sha256>` or `<base64>-<parts>`). */
  readonly checksumSha256: string;
  readonly parts: number;
  readonly partsSent: number;
  readonly partsResumed: number;
  readonly verified: boolean;
  /** Why verification failed, when it did. */
  readonly reason?: string;
}

export interface Expected {
  readonly size: number;
  readonly checksumSha256: string;
}

/** Pure: the part size for a file (at least the asked size, grown so the parts fit in 10,000). */
export function choosePartSize(size: number, asked: number): number {
  if (!Number.isInteger(asked) || asked < MIN_PART_SIZE || asked > MAX_PART_SIZE) {
    throw new UploadError(`part size ${asked} is out of range: S3 needs ${MIN_PART_SIZE} (5 MiB) .. ${MAX_PART_SIZE} (5 GiB) bytes`, false);
  }
  const needed = Math.ceil(size / MAX_PARTS);
  return Math.max(asked, Math.ceil(needed / (1024 * 1024)) * 1024 * 1024);
}

/** Pure: S3's composite checksum of a multipart object from its parts' raw SHA-256 digests. */
export function compositeChecksum(partDigests: readonly Buffer[]): string {
  return `${createHash('sha256').update(Buffer.concat(partDigests)).digest('base64')}-${partDigests.length}`;
}

/** Pure: does the store's head match what was uploaded? */
export function checkHead(head: ObjectHead | undefined, expected: Expected): { verified: boolean; reason?: string } {
  if (!head) return { verified: false, reason: 'the object is not in the store' };
  if (head.size !== expected.size) return { verified: false, reason: `the object has ${head.size} bytes, the local file ${expected.size}` };
  if (!head.checksumSha256) return { verified: false, reason: 'the store reported no SHA-256 checksum for the object, so it cannot be verified' };
  if (head.checksumSha256 !== expected.checksumSha256) {
    return { verified: false, reason: `the object's checksum ${head.checksumSha256} differs from the local file's ${expected.checksumSha256}` };
  }
  return { verified: true };
}

/** HeadObject and compare (also for a later re-check before deleting the local copy). */
export async function verifyObject(client: S3Client, key: string, expected: Expected): Promise<{ verified: boolean; reason?: string }> {
  return checkHead(await client.headObject(key), expected);
}

function wrap(e: unknown, what: string): UploadError {
  if (e instanceof UploadError) return e;
  if (e instanceof StoreError) return new UploadError(`${what}: ${e.message}`, e.transient, { cause: e });
  return new UploadError(`${what}: ${(e as Error).message}`, false, { cause: e });
}

async function readPart(fh: FileHandle, buf: Buffer, offset: number, length: number, file: string): Promise<Buffer> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) throw new UploadError(`${file} became shorter during the upload (expected ${length} bytes at ${offset}): only finished files can be uploaded`, false);
    got += bytesRead;
  }
  return buf.subarray(0, length);
}

export async function uploadFile(client: S3Client, opts: UploadOptions): Promise<UploadResult> {
  const what = `upload ${opts.file} to ${client.config.bucket}/${opts.key}`;
  try {
    return await upload(client, opts);
  } catch (e) {
    throw wrap(e, what);
  }
}

async function upload(client: S3Client, opts: UploadOptions): Promise<UploadResult> {
  const st = await stat(opts.file);
  const size = st.size;
  const partSize = choosePartSize(size, opts.partSize ?? DEFAULT_PART_SIZE);
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_CONCURRENCY));
  const journalPath = opts.journal ?? `${opts.file}.upload.json`;
  const fh = await open(opts.file, 'r');
  try {
    if (size < partSize) {
      const body = await readPart(fh, Buffer.alloc(size), 0, size, opts.file);
      const checksum = createHash('sha256').update(body).digest('base64');
      await client.putObject(opts.key, body, checksum);
      await opts.onPart?.({ partNumber: 1, parts: 1, resumed: false });
      await checkUnchanged(opts.file, st.size, st.mtimeMs);
      const v = await verifyObject(client, opts.key, { size, checksumSha256: checksum });
      return { key: opts.key, size, checksumSha256: checksum, parts: 1, partsSent: 1, partsResumed: 0, ...v };
    }

    const nParts = Math.ceil(size / partSize);
    let journal: UploadJournal | undefined = await readJournal(journalPath);
    if (
      journal &&
      !(journal.bucket === client.config.bucket && journal.key === opts.key && journal.size === size && journal.mtimeMs === st.mtimeMs && journal.partSize === partSize)
    ) {
      // The journal is for other bytes or another object: its upload is abandoned.
      await client.abortMultipartUpload(journal.key, journal.uploadId).catch(() => undefined);
      journal = undefined;
    }
    let stored = new Map<number, PartInfo>();
    let completedBefore = false;
    if (journal) {
      const listed = await client.listParts(opts.key, journal.uploadId);
      if (listed) stored = new Map(listed.map((p) => [p.partNumber, p]));
      else completedBefore = true; // gone: completed by the previous run, or aborted; the head decides
    }
    const digests: Buffer[] = new Array<Buffer>(nParts);
    const done: JournalPart[] = [];
    let sent = 0;
    let resumed = 0;

    if (completedBefore && journal) {
      // Hash the local file and compare with the object; if it is not there, start over.
      const buf = Buffer.alloc(partSize);
      for (let i = 0; i < nParts; i++) {
        const len = Math.min(partSize, size - i * partSize);
        digests[i] = createHash('sha256').update(await readPart(fh, buf, i * partSize, len, opts.file)).digest();
      }
      const expected = { size, checksumSha256: compositeChecksum(digests) };
      const v = await verifyObject(client, opts.key, expected);
      if (v.verified) {
        await removeJournal(journalPath);
        for (let i = 1; i <= nParts; i++) await opts.onPart?.({ partNumber: i, parts: nParts, resumed: true });
        return { key: opts.key, size, checksumSha256: expected.checksumSha256, parts: nParts, partsSent: 0, partsResumed: nParts, verified: true };
      }
      journal = undefined;
    }

    if (!journal) {
      const uploadId = await client.createMultipartUpload(opts.key);
      journal = { version: 1, bucket: client.config.bucket, key: opts.key, size, mtimeMs: st.mtimeMs, partSize, uploadId, parts: [] };
      await writeJournal(journalPath, journal);
    }
    const uploadId = journal.uploadId;
    const base: UploadJournal = journal;
    let journalChain: Promise<void> = Promise.resolve();
    const record = (p: JournalPart): Promise<void> => {
      done.push(p);
      journalChain = journalChain.then(() => writeJournal(journalPath, { ...base, parts: [...done].sort((a, b) => a.partNumber - b.partNumber) }));
      return journalChain;
    };

    let next = 0;
    let stopping = false;
    const worker = async (): Promise<void> => {
      const buf = Buffer.alloc(partSize); // this worker's one part buffer
      for (;;) {
        const i = next++;
        if (i >= nParts || stopping) return;
        const partNumber = i + 1;
        const len = Math.min(partSize, size - i * partSize);
        const body = await readPart(fh, buf, i * partSize, len, opts.file);
        const digest = createHash('sha256').update(body).digest();
        digests[i] = digest;
        const checksum = digest.toString('base64');
        const have = stored.get(partNumber);
        if (have && have.size === len && have.checksumSha256 === checksum) {
          resumed++;
          await record({ partNumber, size: len, etag: have.etag, checksumSha256: checksum });
          await opts.onPart?.({ partNumber, parts: nParts, resumed: true });
          continue;
        }
        const etag = await client.uploadPart(opts.key, uploadId, partNumber, body, checksum);
        sent++;
        await record({ partNumber, size: len, etag, checksumSha256: checksum });
        await opts.onPart?.({ partNumber, parts: nParts, resumed: false });
      }
    };
    // Every worker runs to its end; the first failure is rethrown after all have stopped, so no
    // part request outlives the upload.
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(concurrency, nParts) }, () =>
        worker().catch((e: unknown) => {
          stopping = true; // the other workers finish their current part and take no new one
          throw e;
        }),
      ),
    );
    await journalChain;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    await checkUnchanged(opts.file, st.size, st.mtimeMs);

    const parts = [...done].sort((a, b) => a.partNumber - b.partNumber);
    const expected = { size, checksumSha256: compositeChecksum(digests) };
    try {
      await client.completeMultipartUpload(opts.key, uploadId, parts);
    } catch (e) {
      // A retried Complete whose first attempt succeeded finds no upload: the head decides.
      if (!(e instanceof StoreError && e.code === 'NoSuchUpload')) throw e;
    }
    const v = await verifyObject(client, opts.key, expected);
    if (v.verified) await removeJournal(journalPath);
    return { key: opts.key, size, checksumSha256: expected.checksumSha256, parts: nParts, partsSent: sent, partsResumed: resumed, ...v };
  } finally {
    await fh.close();
  }
}

async function checkUnchanged(file: string, size: number, mtimeMs: number): Promise<void> {
  const now = await stat(file);
  if (now.size !== size || now.mtimeMs !== mtimeMs) {
    throw new UploadError(`${file} changed during the upload (${size} -> ${now.size} bytes): only finished files can be uploaded`, false);
  }
}
