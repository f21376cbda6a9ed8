/**
 * Live stream of a running target: follows tcpdump's growing ring files and writes one continuous
 * pcap stream (the 24-byte global header once, then records as they are written), across ring
 * rotation. tcpdump -U writes whole records and closes a ring file before it opens the next, so
 * following bytes in file order, and skipping the header of every later file, yields a valid
 * pcap stream that `wireshark -k -i -` reads.
 *
 * The stream starts at the beginning of the newest ring file and ends when tcpdump has exited and
 * everything written was sent, or when the client goes away.
 *
 * Latency (bench/live-latency.ts): while a stream is attached, the follower is woken by inotify
 * (fs.watch on the target directory) as soon as tcpdump writes, instead of sleeping a poll period,
 * and when the file has not grown for `flushMs` (25 ms) it asks tcpdump to flush its stdio buffer
 * (tcpdump runs without -U for capture rate). Captures nobody streams never get here, so they
 * keep tcpdump's own 4 KiB buffering untouched.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LiveRing } from '../capture/backend.js';
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
  /** Longest wait between two looks when no change is reported (inotify missing or missed): 100 ms. */
  pollMs?: number;
  /** Look again (and flush when the file did not grow) after this long without a change: 25 ms. */
  flushMs?: number;
  /** Asks the writer to flush its buffer; called when the file did not grow since the last look. */
  flush?: () => void;
}

/**
 * Wake-ups for the follower: resolves a wait early when something in `dir` changes (inotify). A
 * change that happens between two waits is remembered, so none is lost. Without inotify (watch
 * fails, e.g. out of watches) waits simply time out: the follower then polls.
 */
class DirChanges {
  private w: FSWatcher | undefined;
  private pending = false;
  private wake: (() => void) | undefined;
  constructor(dir: string) {
    try {
      this.w = watch(dir, { persistent: false }, () => this.changed());
      this.w.on('error', () => this.close());
    } catch {
      this.w = undefined;
    }
  }
  private changed(): void {
    this.pending = true;
    this.wake?.();
  }
  /** Waits for a change, at most ms (or until the signal aborts). */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }
  close(): void {
    this.w?.close();
    this.w = undefined;
  }
}

/** Streams until the capture is over and drained, or the signal aborts. Returns bytes written. */
export async function followRing(o: FollowOptions): Promise<number> {
  const quiet = Math.min(o.flushMs ?? 25, o.pollMs ?? 100);
  const changes = new DirChanges(o.dir);
  try {
    return await follow(o, changes, quiet);
  } finally {
    changes.close();
  }
}

async function follow(o: FollowOptions, changes: DirChanges, quiet: number): Promise<number> {
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
    await changes.wait(quiet, o.signal);
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
      // woken by the write that follows a flush, or after `quiet` ms to flush again
      await changes.wait(quiet, o.signal);
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
  return written;
}

/** Most bytes queued for one slow live client before its stream is ended (it is told by the end of the stream). */
export const LIVE_QUEUE_MAX = 64 * 1024 * 1024;

export interface LiveOptions {
  ring: LiveRing;
  write: (chunk: Buffer) => Promise<void>;
  signal: AbortSignal;
  /** Asks tcpdump to flush its stdio buffer into the pipe; called when nothing arrived for `flushMs`. */
  flush?: () => void;
  flushMs?: number;
}

/**
 * Live stream from the agent's memory (tcpdump -w - and the ring, src/capture/ring.ts): the global
 * header, then every record from now on, until the capture's stream ends. No disk read, no
 * plaintext file. A client slower than the capture by more than LIVE_QUEUE_MAX bytes is cut off
 * (its stream ends early; the ring files keep everything). Returns bytes written.
 */
export async function followLive(o: LiveOptions): Promise<number> {
  const quiet = o.flushMs ?? 25;
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let overflow = false;
  let wake: (() => void) | undefined;
  const unsubscribe = o.ring.subscribe({
    data: (r) => {
      if (overflow) return;
      queue.push(r);
      queued += r.length;
      if (queued > LIVE_QUEUE_MAX) overflow = true;
      wake?.();
    },
    end: () => {
      ended = true;
      wake?.();
    },
  });
  let written = 0;
  try {
    // the header: tcpdump writes it first; without -U it may still sit in tcpdump's buffer
    while (!o.ring.header && !ended && !o.signal.aborted) {
      o.flush?.();
      await waitFor(quiet, o.signal, (w) => (wake = w));
    }
    const header = o.ring.header;
    if (!header || o.signal.aborted) return 0;
    await o.write(header);
    written += header.length;
    while (!o.signal.aborted && !overflow) {
      if (queue.length > 0) {
        const batch = Buffer.concat(queue.splice(0));
        queued = 0;
        await o.write(batch);
        written += batch.length;
        continue;
      }
      if (ended) break;
      o.flush?.();
      await waitFor(quiet, o.signal, (w) => (wake = w));
    }
  } finally {
    unsubscribe();
  }
  return written;
}

function waitFor(ms: number, signal: AbortSignal, setWake: (w: (() => void) | undefined) => void): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      setWake(undefined);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    setWake(done);
  });
}
