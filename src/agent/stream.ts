/**
 * Live stream of a running target: follows tcpdump's growing ring files and writes one continuous
 * pcap stream (the 24-byte global header once, then records as they are written), across ring
 * rotation. tcpdump -U writes whole records and closes a ring file before it opens the next, so
 * following bytes in file order, and skipping the header of every later file, yields a valid
 * pcap stream that `wireshark -k -i -` reads.
 *
 * The stream starts at the beginning of the newest ring file and ends when tcpdump has exited and
 * everything written was sent, or when the client goes away.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ringFiles } from '../capture/tcpdump.js';

export const PCAP_HEADER_BYTES = 24;

interface FileState {
  name: string;
  index: number;
  mtimeMs: number;
  ino: number;
  size: number;
}

async function ring(dir: string, fileBase: string): Promise<FileState[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: FileState[] = [];
  for (const f of ringFiles(names, fileBase)) {
    try {
      const st = await stat(join(dir, f.name));
      out.push({ name: f.name, index: f.index, mtimeMs: st.mtimeMs, ino: st.ino, size: st.size });
    } catch {
      /* rotated away */
    }
  }
  return out;
}

export interface FollowOptions {
  dir: string;
  fileBase: string;
  fileCount: number;
  /** True once tcpdump has exited (nothing more will be written). */
  finished: () => boolean;
  /** Writes a chunk; resolves when the consumer can take more (backpressure). */
  write: (chunk: Buffer) => Promise<void>;
  signal: AbortSignal;
  pollMs?: number;
  /** Asks the writer to flush its buffer; called when the file did not grow for a poll. */
  flush?: () => void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/** Streams until the capture is over and drained, or the signal aborts. Returns bytes written. */
export async function followRing(o: FollowOptions): Promise<number> {
  const poll = o.pollMs ?? 100;
  let written = 0;
  // wait for the first file with a complete header
  let cur: FileState | undefined;
  while (!o.signal.aborted) {
    const files = await ring(o.dir, o.fileBase);
    const newest = files.sort((a, b) => b.mtimeMs - a.mtimeMs || b.index - a.index)[0];
    if (newest && newest.size >= PCAP_HEADER_BYTES) {
      cur = newest;
      break;
    }
    o.flush?.(); // without -U even the header may still be in tcpdump's buffer
    if (o.finished() && !newest) return 0;
    await sleep(poll, o.signal);
  }
  if (!cur || o.signal.aborted) return 0;
  let fh = await open(join(o.dir, cur.name), 'r');
  try {
    const header = Buffer.alloc(PCAP_HEADER_BYTES);
    await fh.read(header, 0, PCAP_HEADER_BYTES, 0);
    await o.write(header);
    written += PCAP_HEADER_BYTES;
    let offset = PCAP_HEADER_BYTES;
    const nextIndex = (i: number): number => (o.fileCount > 1 ? (i + 1) % o.fileCount : i);
    const snapshotNext = async (): Promise<FileState | undefined> => (await ring(o.dir, o.fileBase)).find((f) => f.index === nextIndex(cur?.index ?? 0));
    let nextBefore = await snapshotNext();
    const buf = Buffer.alloc(256 * 1024);
    const drain = async (): Promise<void> => {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) return;
        offset += bytesRead;
        await o.write(Buffer.from(buf.subarray(0, bytesRead)));
        written += bytesRead;
      }
    };
    while (!o.signal.aborted) {
      const before = offset;
      await drain();
      if (offset === before) o.flush?.();
      const done = o.finished();
      const next = await snapshotNext();
      const rotated =
        o.fileCount > 1 &&
        next !== undefined &&
        next.index !== cur.index &&
        (nextBefore === undefined || next.mtimeMs !== nextBefore.mtimeMs || next.ino !== nextBefore.ino || next.size < nextBefore.size);
      if (rotated && next) {
        await drain(); // the old file is closed: read its tail
        await fh.close();
        cur = next;
        fh = await open(join(o.dir, cur.name), 'r');
        offset = PCAP_HEADER_BYTES;
        nextBefore = await snapshotNext();
        continue;
      }
      if (done) {
        await drain();
        break;
      }
      await sleep(poll, o.signal);
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
  return written;
}
