import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { followRing } from './stream.js';

/** A classic pcap header (LE, microseconds, Ethernet) and records of `n` bytes tagged by `tag`. */
function header(): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeUInt32LE(262144, 16);
  b.writeUInt32LE(1, 20);
  return b;
}
function record(tag: number, n = 10): Buffer {
  const b = Buffer.alloc(16 + n, tag);
  b.writeUInt32LE(tag, 0);
  b.writeUInt32LE(0, 4);
  b.writeUInt32LE(n, 8);
  b.writeUInt32LE(n, 12);
  return b;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls cond until true; fails after ms (a bound, not a measurement). */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(5);
  }
}

describe('live stream follows growing ring files', () => {
  it('sends the header once, then records across rotation, and ends when the capture is over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-stream-'));
    try {
      const base = 'n1.cap.100.pcap';
      let finished = false;
      const chunks: Buffer[] = [];
      const ac = new AbortController();
      const done = followRing({ dir, fileBase: base, fileCount: 2, finished: () => finished, write: (c) => { chunks.push(c); return Promise.resolve(); }, signal: ac.signal, pollMs: 20 });
      const streamed = (): number => chunks.reduce((n, c) => n + c.length, 0);
      const R = record(1).length;
      writeFileSync(join(dir, `${base}0`), Buffer.concat([header(), record(1)]));
      await until(() => streamed() === 24 + R, 10_000, 'header and record 1 streamed');
      appendFileSync(join(dir, `${base}0`), record(2));
      await until(() => streamed() === 24 + 2 * R, 10_000, 'record 2 streamed');
      writeFileSync(join(dir, `${base}1`), Buffer.concat([header(), record(3)])); // rotation
      await until(() => streamed() === 24 + 3 * R, 10_000, 'record 3 streamed after rotation, without a second header');
      appendFileSync(join(dir, `${base}1`), record(4));
      await until(() => streamed() === 24 + 4 * R, 10_000, 'record 4 streamed');
      finished = true;
      const n = await done;
      const all = Buffer.concat(chunks);
      assert.equal(n, all.length);
      assert.deepEqual(all, Buffer.concat([header(), record(1), record(2), record(3), record(4)]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops when the client goes away', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-stream-'));
    try {
      writeFileSync(join(dir, 'b.pcap0'), Buffer.concat([header(), record(1)]));
      const ac = new AbortController();
      const chunks: Buffer[] = [];
      const p = followRing({ dir, fileBase: 'b.pcap', fileCount: 3, finished: () => false, write: (c) => { chunks.push(c); return Promise.resolve(); }, signal: ac.signal, pollMs: 20 });
      await until(() => Buffer.concat(chunks).length === 24 + record(1).length, 10_000, 'the existing record was streamed');
      ac.abort();
      await p;
      assert.deepEqual(Buffer.concat(chunks), Buffer.concat([header(), record(1)]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('while a stream is attached, a record still in the writer\'s buffer is flushed and delivered although the file does not grow by itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-stream-'));
    const ac = new AbortController();
    try {
      // a writer like tcpdump without -U: records sit in its buffer until flush() writes them
      const file = join(dir, 'w.pcap0');
      writeFileSync(file, Buffer.concat([header(), record(1)]));
      let pending: Buffer[] = [];
      let flushes = 0;
      const flush = (): void => {
        flushes++;
        if (pending.length) appendFileSync(file, Buffer.concat(pending));
        pending = [];
      };
      const chunks: Buffer[] = [];
      // no poll period would come in time (10 min): the quiet-flush cadence (flushMs, 25 ms) must
      const p = followRing({ dir, fileBase: 'w.pcap', fileCount: 3, finished: () => false, write: (c) => { chunks.push(c); return Promise.resolve(); }, signal: ac.signal, flush, pollMs: 600_000 });
      await until(() => Buffer.concat(chunks).length === 24 + 26, 5000, 'header and record 1');
      pending.push(record(2)); // captured, not written: only a flush brings it to the file
      await until(() => Buffer.concat(chunks).length === 24 + 2 * 26, 5000, 'record 2 after a flush');
      assert.ok(flushes > 0);
      assert.deepEqual(Buffer.concat(chunks), Buffer.concat([header(), record(1), record(2)]));
      ac.abort();
      await p;
    } finally {
      ac.abort();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a write to the file wakes the follower (inotify), with no poll period to wait out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-stream-'));
    const ac = new AbortController();
    try {
      const file = join(dir, 'i.pcap0');
      writeFileSync(file, Buffer.concat([header(), record(1)]));
      const chunks: Buffer[] = [];
      // polls and flushes only every 10 minutes: only the change notification can deliver record 2 in time
      const p = followRing({ dir, fileBase: 'i.pcap', fileCount: 3, finished: () => false, write: (c) => { chunks.push(c); return Promise.resolve(); }, signal: ac.signal, pollMs: 600_000, flushMs: 600_000 });
      await until(() => Buffer.concat(chunks).length === 24 + 26, 5000, 'header and record 1');
      appendFileSync(file, record(2));
      await until(() => Buffer.concat(chunks).length === 24 + 2 * 26, 5000, 'record 2 after the write');
      assert.deepEqual(Buffer.concat(chunks), Buffer.concat([header(), record(1), record(2)]));
      ac.abort();
      await p;
    } finally {
      ac.abort();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
