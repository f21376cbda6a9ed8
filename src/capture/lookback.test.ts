import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LookbackGate, RecordWindow } from './lookback.js';

function header(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(65535, 16);
  h.writeUInt32LE(1, 20);
  return h;
}
function rec(sec: number, usec: number, len: number, fill = 0): Buffer {
  const r = Buffer.alloc(16 + len, fill);
  r.writeUInt32LE(sec, 0);
  r.writeUInt32LE(usec, 4);
  r.writeUInt32LE(len, 8);
  r.writeUInt32LE(len, 12);
  return r;
}

test('window: keeps the newest records within seconds and bytes', () => {
  const w = new RecordWindow({ seconds: 2, bytes: 1000 });
  for (let s = 0; s < 10; s++) w.push(rec(1000 + s, 0, 10), (1000 + s) * 1e6);
  // 2 s before the newest (1009): 1007, 1008, 1009
  assert.equal(w.packets, 3);
  const big = new RecordWindow({ seconds: 100, bytes: 100 });
  for (let i = 0; i < 10; i++) big.push(rec(1, i, 24), 1e6 + i);
  assert.equal(big.packets, 2); // 40 bytes each, at most 100
  assert.equal(big.evicted, 8);
});

test('gate: nothing passes while armed; release hands on the header, the window, then everything', async () => {
  const g = new LookbackGate({ seconds: 5, bytes: 1 << 20 });
  const out: Buffer[] = [];
  g.on('data', (b: Buffer) => out.push(b));
  g.write(Buffer.concat([header(), rec(100, 0, 20, 1)]));
  g.write(rec(110, 0, 20, 2).subarray(0, 10)); // a record split over two chunks
  g.write(rec(110, 0, 20, 2).subarray(10));
  g.write(rec(111, 0, 20, 3));
  await new Promise((r) => setImmediate(r));
  assert.equal(out.length, 0, 'armed: nothing out');
  const r = g.release(112_000);
  assert.equal(r.packets, 2); // 100 is older than 112 - 5
  assert.equal(r.oldestMs, 110_000);
  g.write(rec(113, 0, 20, 4));
  g.end();
  await new Promise((res) => g.on('end', res));
  const all = Buffer.concat(out);
  assert.deepEqual(all, Buffer.concat([header(), rec(110, 0, 20, 2), rec(111, 0, 20, 3), rec(113, 0, 20, 4)]));
});

test('gate: an armed stream that ends leaves nothing', async () => {
  const g = new LookbackGate({ seconds: 5, bytes: 1 << 20 });
  const out: Buffer[] = [];
  g.on('data', (b: Buffer) => out.push(b));
  g.end(Buffer.concat([header(), rec(100, 0, 20)]));
  await new Promise((res) => g.on('end', res));
  assert.equal(out.length, 0);
});

test('gate: subscribe taps every record as it enters, armed or released; a tap may release mid-chunk and the rest passes through', async () => {
  const g = new LookbackGate({ seconds: 30, bytes: 1 << 20 });
  const out: Buffer[] = [];
  g.on('data', (b: Buffer) => out.push(b));
  const seen: number[] = [];
  let ended = 0;
  g.subscribe({
    data: (r) => {
      seen.push(r.readUInt32LE(0));
      if (r.readUInt32LE(0) === 102) g.release(102_000); // the third record decides
    },
    end: () => ended++,
  });
  // one chunk: header and four records; the tap releases on the third
  g.write(Buffer.concat([header(), rec(100, 0, 20, 1), rec(101, 0, 20, 2), rec(102, 0, 20, 3), rec(103, 0, 20, 4)]));
  assert.equal(g.header?.length, 24);
  g.write(rec(104, 0, 20, 5));
  g.end();
  await new Promise((r) => g.on('end', r));
  assert.deepEqual(seen, [100, 101, 102, 103, 104], 'the tap saw every record, before and after the release');
  assert.equal(ended, 1);
  const all = Buffer.concat(out);
  assert.deepEqual(all.subarray(0, 24), header());
  const secs: number[] = [];
  for (let off = 24; off < all.length; off += 36) secs.push(all.readUInt32LE(off));
  assert.deepEqual(secs, [100, 101, 102, 103, 104], 'window then the rest, in order, each once');
  let late = 0;
  g.subscribe({ data: () => undefined, end: () => late++ });
  assert.equal(late, 1, 'a tap after the end is ended at once');
});
