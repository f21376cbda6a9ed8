/**
 * Builds, stores, loads and extends the {@link PacketIndex} of a capture file (the side-effect
 * shell around ./packetindex.ts).
 *
 * - Build: one pass of the zero-copy reader recording each packet's data offset, timestamp,
 *   lengths and interface.
 * - Store: `<file>.pcapper-idx` beside the file (mode 0600, written to a temporary file and
 *   renamed), else in `cacheDir` (name from a hash of the absolute path), else nowhere (memory).
 * - Load: used only when the source's size and mtime are those recorded; a corrupt, truncated or
 *   other-version index is rebuilt.
 * - Extend (a growing file): parsing resumes at the end of the last complete record, reading the
 *   file's prefix (file header / SHB + IDBs) first so the reader knows the format and interfaces;
 *   a file whose interfaces are defined after its first packet is re-read from the start instead.
 *   A record cut short at the end (tcpdump still writing it) is left for the next extension.
 */
import { createHash } from 'node:crypto';
import { open, readFile, rename, stat, unlink, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PcapFormatError, PcapIoError } from '../errors.js';
import { CaptureReader, type ByteSource } from '../reader.js';
import { decodeIndex, encodeIndex, IndexFileError, INDEX_SUFFIX, PacketIndex } from './packetindex.js';

export interface IndexPlaces {
  /** Directory for index files instead of beside the captures. */
  indexDir?: string;
  /** Fallback directory when the capture's directory is not writable. */
  cacheDir?: string;
  /** Build in memory only. */
  noIndexFiles?: boolean;
}

export interface LoadedIndex {
  index: PacketIndex;
  /** Where it is stored (undefined: memory only). */
  indexPath: string | undefined;
  /** How it was obtained, for logs and tests: 'loaded', or 'built' with the reason. */
  how: 'loaded' | 'built';
  reason: string;
}

function hashedName(dir: string, capture: string): string {
  const h = createHash('sha256').update(resolve(capture)).digest('hex').slice(0, 32);
  return join(dir, `${h}${INDEX_SUFFIX}`);
}

/** Candidate index paths in order of preference. */
export function indexCandidates(capture: string, places: IndexPlaces): string[] {
  if (places.noIndexFiles) return [];
  if (places.indexDir !== undefined) return [hashedName(places.indexDir, capture)];
  const c = [`${capture}${INDEX_SUFFIX}`];
  if (places.cacheDir !== undefined) c.push(hashedName(places.cacheDir, capture));
  return c;
}

/** A byte source that yields the file's first `prefixEnd` bytes, then the file from `resumeOffset`. */
async function resumeSource(path: string, prefixEnd: number, resumeOffset: number): Promise<ByteSource> {
  const fh = await open(path, 'r').catch((err: unknown) => {
    throw new PcapIoError(path, `cannot open: ${(err as Error).message}`, { cause: err });
  });
  const size = (await fh.stat()).size;
  const prefix = Buffer.alloc(prefixEnd);
  await fh.read(prefix, 0, prefixEnd, 0);
  let pos = 0;
  return {
    name: path,
    size: prefixEnd + Math.max(0, size - resumeOffset),
    async read(buf, offset, length) {
      if (pos < prefixEnd) {
        const n = Math.min(length, prefixEnd - pos);
        prefix.copy(buf, offset, pos, pos + n);
        pos += n;
        return n;
      }
      try {
        const { bytesRead } = await fh.read(buf, offset, length, resumeOffset + (pos - prefixEnd));
        pos += bytesRead;
        return bytesRead;
      } catch (err) {
        throw new PcapIoError(path, `read failed: ${(err as Error).message}`, { cause: err });
      }
    },
    close: () => fh.close(),
  };
}

/**
 * Indexes the packets of `path` after those already in `existing` (all of them when `existing`
 * is undefined or cannot be resumed). Returns the index (the same object when extended) and how
 * many packets were added. A format problem stops indexing at the last complete packet and is
 * recorded in `header.problem` (the packets before it stay usable).
 */
export async function scanCapture(path: string, existing?: PacketIndex): Promise<{ index: PacketIndex; added: number }> {
  const st = await stat(path).catch((err: unknown) => {
    throw new PcapIoError(path, `cannot read: ${(err as Error).message}`, { cause: err });
  });
  const resume = existing !== undefined && existing.header.resumable && existing.count > 0;
  let ix: PacketIndex;
  let map: (virtual: number) => number;
  let source: ByteSource | undefined;
  const before = resume ? existing.count : 0;
  if (resume) {
    ix = existing;
    const { prefixEnd, resumeOffset } = ix.header;
    if (st.size <= resumeOffset) {
      ix.header.sourceSize = st.size;
      ix.header.sourceMtimeMs = st.mtimeMs;
      return { index: ix, added: 0 };
    }
    source = await resumeSource(path, prefixEnd, resumeOffset);
    map = (v) => (v < prefixEnd ? v : v - prefixEnd + resumeOffset);
  } else {
    ix = new PacketIndex({ sourceSize: st.size, sourceMtimeMs: st.mtimeMs, count: 0, format: 'pcap', interfaces: [], prefixEnd: 0, prefixInterfaces: 0, resumeOffset: 0, resumable: true, problem: undefined });
    map = (v) => v;
  }
  const r = source !== undefined ? await CaptureReader.fromSource(source) : await CaptureReader.open(path);
  const ifaceBase = resume ? ix.header.prefixInterfaces : 0;
  let problem: string | undefined;
  let first = !resume;
  let lastEnd = resume ? ix.header.resumeOffset : 0;
  try {
    for (;;) {
      while (r.advance()) {
        const rec = map(r.recordFileOffset);
        if (first) {
          ix.header.prefixEnd = rec;
          ix.header.prefixInterfaces = r.interfaces.length;
          first = false;
        }
        let iface = r.interfaceId;
        if (resume && iface >= ifaceBase) {
          // an interface defined in the grown part: keep it, and re-read from the start next time
          iface = ix.header.interfaces.length + (iface - ifaceBase);
          ix.header.resumable = false;
        } else if (!resume && r.interfaces.length !== ix.header.prefixInterfaces) ix.header.resumable = false;
        ix.push(rec + (r.dataOffset - r.recordOffset), r.tsSec, r.tsNsec, r.caplen, r.origLen, iface);
        lastEnd = rec + r.recordLength;
      }
      if (r.done) break;
      await r.fill();
    }
  } catch (err) {
    if (!(err instanceof PcapFormatError)) {
      await r.close();
      throw err;
    }
    problem = err.problem;
  }
  await r.close();
  if (resume) {
    for (let i = ifaceBase; i < r.interfaces.length; i++) {
      const f = r.interfaces[i]!;
      ix.header.interfaces.push({ ...f, index: ix.header.interfaces.length });
      ix.header.resumable = false;
    }
  } else {
    ix.header.format = r.format ?? 'pcap';
    ix.header.interfaces = r.interfaces.map((f) => ({ ...f, comments: [...f.comments] }));
    if (ix.count === 0) ix.header.resumable = false;
  }
  ix.header.resumeOffset = lastEnd;
  ix.header.problem = problem;
  ix.header.sourceSize = st.size;
  ix.header.sourceMtimeMs = st.mtimeMs;
  ix.header.count = ix.count;
  return { index: ix, added: ix.count - before };
}

/** Writes the index atomically with mode 0600 at the first place that accepts it; returns the path or undefined. */
export async function storeIndex(ix: PacketIndex, candidates: readonly string[]): Promise<string | undefined> {
  const bytes = encodeIndex(ix);
  for (const p of candidates) {
    const tmp = `${p}.tmp-${process.pid}-${Date.now()}`;
    try {
      await mkdir(dirname(p), { recursive: true, mode: 0o700 });
      await writeFile(tmp, bytes, { mode: 0o600 });
      await rename(tmp, p);
      return p;
    } catch {
      await unlink(tmp).catch(() => undefined);
      // not writable here: try the next place (or keep it in memory)
    }
  }
  return undefined;
}

/** Loads a stored index that matches the file, else builds (and stores) a new one. */
export async function loadOrBuildIndex(capture: string, places: IndexPlaces): Promise<LoadedIndex> {
  const candidates = indexCandidates(capture, places);
  const st = await stat(capture).catch((err: unknown) => {
    throw new PcapIoError(capture, `cannot read: ${(err as Error).message}`, { cause: err });
  });
  let reason = candidates.length === 0 ? 'index files disabled' : 'no index file';
  for (const p of candidates) {
    let buf: Buffer;
    try {
      buf = await readFile(p);
    } catch {
      continue;
    }
    try {
      const ix = decodeIndex(buf);
      if (ix.header.sourceSize !== st.size || ix.header.sourceMtimeMs !== st.mtimeMs) {
        reason = `stale index (file size/mtime changed)`;
        continue;
      }
      return { index: ix, indexPath: p, how: 'loaded', reason: 'index matches the file' };
    } catch (err) {
      if (!(err instanceof IndexFileError)) throw err;
      reason = err.message;
    }
  }
  const { index } = await scanCapture(capture);
  index.trim();
  const indexPath = await storeIndex(index, candidates);
  return { index, indexPath, how: 'built', reason };
}
