/**
 * Uploads: the request body goes to a private file, counted as it arrives; a body larger than the
 * limit is refused (413) before or while it is read, and the partial file is removed. What is kept
 * is then read by the same hardened reader as `kubectl pcap import` (src/cli/store.ts importFile).
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { parseSize } from '../../api/validate.js';

export const DEFAULT_MAX_UPLOAD = 512 * 1024 * 1024;

export class UploadError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 411 | 413,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UploadError';
  }
}

/** `--max-upload` (512M, 1G, 100000) -> bytes; a clear error otherwise. */
export function parseMaxUpload(v: string | undefined): number {
  if (v === undefined) return DEFAULT_MAX_UPLOAD;
  const n = parseSize(v);
  if (n instanceof Error || n <= 0) throw new Error(`--max-upload ${JSON.stringify(v)}: give a size such as 512M, 2G or 1Gi (a bare number means megabytes)`);
  return n;
}

/** The file name the browser gave (X-Filename, URI-encoded), reduced to a safe base name. */
export function uploadName(header: string | string[] | undefined): string {
  let raw = Array.isArray(header) ? header[0] : header;
  try {
    raw = raw === undefined ? undefined : decodeURIComponent(raw);
  } catch {
    // keep it as sent
  }
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  const safe = base.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[.-]+/, '').slice(0, 120);
  return safe || 'upload.pcapng';
}

/**
 * Streams `body` into `dest` (created 0600, exclusive), refusing more than `limit` bytes.
 * `contentLength` (the header) is checked first so a too-large upload is refused unread.
 * Returns the byte count.
 */
export async function receiveUpload(body: Readable, dest: string, limit: number, contentLength: string | undefined): Promise<number> {
  if (contentLength !== undefined) {
    const n = Number(contentLength);
    if (!Number.isSafeInteger(n) || n < 0) throw new UploadError(`invalid Content-Length ${JSON.stringify(contentLength)}`, 400);
    if (n > limit) throw new UploadError(`the file is ${n} bytes, more than the upload limit of ${limit} bytes (start kubectl pcap ui with --max-upload SIZE to allow more)`, 413);
  }
  const out = createWriteStream(dest, { mode: 0o600, flags: 'wx' });
  let n = 0;
  try {
    for await (const chunk of body) {
      const b = chunk as Buffer;
      n += b.length;
      if (n > limit) throw new UploadError(`the file is more than the upload limit of ${limit} bytes (start kubectl pcap ui with --max-upload SIZE to allow more)`, 413);
      if (!out.write(b)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (e) {
    out.destroy();
    await rm(dest, { force: true });
    throw e;
  }
  if (n === 0) {
    await rm(dest, { force: true });
    throw new UploadError('the upload is empty: choose a pcap or pcapng file', 400);
  }
  return n;
}
