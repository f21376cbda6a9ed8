// The upload journal: a small JSON file beside the local file that survives a restart of the
// uploader (the agent), so an interrupted multipart upload resumes instead of starting over.
// It records the upload id and the parts known done; on resume the store's ListParts is the truth
// (a part is skipped only if the store holds it with the checksum of the local bytes).
// Written atomically (temp file + rename), mode 0600.
import { open, readFile, rename, rm } from 'node:fs/promises';

export interface JournalPart {
  readonly partNumber: number;
  readonly size: number;
  readonly etag: string;
  readonly checksumSha256: string;
}

export interface UploadJournal {
  readonly version: 1;
  readonly bucket: string;
  readonly key: string;
  /** Identity of the local file: an upload resumes only for the same bytes. */
  readonly size: number;
  readonly mtimeMs: number;
  readonly partSize: number;
  readonly uploadId: string;
  readonly parts: readonly JournalPart[];
}

export async function readJournal(path: string): Promise<UploadJournal | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const j = JSON.parse(text) as UploadJournal;
    if (j.version !== 1 || typeof j.uploadId !== 'string' || !Array.isArray(j.parts)) return undefined;
    return j;
  } catch {
    // A journal cut by a crash mid-write cannot happen (rename is atomic), but a damaged one
    // only costs a fresh upload: the old upload id is then unknown and left to the bucket's
    // lifecycle rule for incomplete multipart uploads (docs/storage.md).
    return undefined;
  }
}

export async function writeJournal(path: string, j: UploadJournal): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(j));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

export async function removeJournal(path: string): Promise<void> {
  await rm(path, { force: true });
}
