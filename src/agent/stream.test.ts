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

describe('live stream follows growing ring files', () => {
  it('sends the header once, then records across rotation, and ends when the capture is over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-stream-'));
    try {
      const base = 'n1.cap.100.pcap';
      let finished = false;
      const chunks: Buffer[] = [];
      const ac = new AbortController();
      const done = followRing({ dir, fileBase: base, fileCount: 2, finished: () => finished, write: (c) => { chunks.push(c); return Promise.resolve(); }, signal: ac.signal, pollMs: 20 });
      await sleep(60);
      writeFileSync(join(dir, `${base}0`), Buffer.concat([header(), record(1)]));
      await sleep(80);
      appendFileSync(join(dir, `${base}0`), record(2));
      await sleep(80);
      writeFileSync(join(dir, `${base}1`), Buffer.concat([header(), record(3)])); // rotation
      await sleep(80);
      appendFileSync(join(dir, `${base}1`), record(4));
      await sleep(80);
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
      await sleep(100);
      ac.abort();
      await p;
      assert.deepEqual(Buffer.concat(chunks), Buffer.concat([header(), record(1)]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
