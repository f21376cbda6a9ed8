import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { parseKeyring } from '../crypto/keyring.js';
import { EncryptedFileReader } from '../crypto/reader.js';
import { PcapRing, PcapSplitter, PcapStreamError, ringFailure, ringFileName, RingBacklogError, uniqueRingFileName, type RingFile } from './ring.js';
import { encryptedSink, plainSink } from './sinks.js';

const HEADER = Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex');

/** A pcap record (little-endian) whose payload is `payload`. */
function rec(payload: Buffer, ts = 1): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(ts, 0);
  h.writeUInt32LE(payload.length, 8);
  h.writeUInt32LE(payload.length, 12);
  return Buffer.concat([h, payload]);
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ring-'));
  dirs.push(d);
  return d;
}

describe('PcapSplitter', () => {
  it('yields whole records whatever the chunking of the stream', () => {
    const records = Array.from({ length: 50 }, (_, i) => rec(randomBytes(i * 7 + 1), i));
    const stream = Buffer.concat([HEADER, ...records]);
    for (const step of [1, 3, 16, 17, 100, stream.length]) {
      const sp = new PcapSplitter();
      const got: Buffer[] = [];
      for (let off = 0; off < stream.length; off += step) got.push(...sp.push(Buffer.from(stream.subarray(off, off + step))));
      assert.deepEqual(sp.header, HEADER);
      assert.equal(got.length, 50, `step ${step}`);
      assert.deepEqual(Buffer.concat(got), Buffer.concat(records));
      assert.equal(sp.pending, 0);
    }
  });

  it('refuses a stream that is not pcap, and an impossible record length', () => {
    assert.throws(() => new PcapSplitter().push(Buffer.alloc(24, 0x41)), PcapStreamError);
    const bad = Buffer.alloc(16);
    bad.writeUInt32LE(10_000_000, 8);
    assert.throws(() => new PcapSplitter().push(Buffer.concat([HEADER, bad])), /damaged/);
  });
});

describe('PcapRing', () => {
  it('names files as tcpdump -W does', () => {
    assert.equal(ringFileName('x.pcap', 0, 5), 'x.pcap0');
    assert.equal(ringFileName('x.pcap', 7, 5), 'x.pcap2');
    assert.equal(ringFileName('x.pcap', 3, 100), 'x.pcap03');
  });

  it('cuts encrypted ring files at record boundaries, keeps fileCount, and every file decrypts to a valid pcap', async () => {
    const dir = tmp();
    const ring = parseKeyring({ active: Buffer.from('k1'), 'k1.key': randomBytes(32) });
    const closed: RingFile[] = [];
    const r = new PcapRing({ dir, fileBase: 'n.c.1.pcap', maxFileSize: 10_000, fileCount: 3, open: encryptedSink(() => Promise.resolve(ring), 1024), remove: (p) => rm(p), onClosed: (f) => closed.push(f) });
    const live: Buffer[] = [];
    r.subscribe({ data: (b) => live.push(b), end: () => live.push(Buffer.from('END')) });
    const input = new PassThrough();
    const done = r.consume(input);
    const marker = Buffer.from('SECRET-PAYLOAD-0123456789');
    const records = Array.from({ length: 100 }, (_, i) => rec(Buffer.concat([marker, randomBytes(300)]), i));
    const all = Buffer.concat([HEADER, ...records]);
    for (let off = 0; off < all.length; off += 999) input.write(all.subarray(off, off + 999));
    input.end();
    await done;
    const names = readdirSync(dir).sort();
    assert.deepEqual(names, ['n.c.1.pcap0', 'n.c.1.pcap1', 'n.c.1.pcap2'], 'the oldest files were reused (fileCount 3)');
    // 100 records of 341 bytes, at most 10 kB per file: 29 records per file -> 4 files, the first reused
    assert.equal(closed.length, 4);
    let total = 0;
    for (const f of r.files()) {
      const raw = readFileSync(join(dir, f.name));
      assert.equal(raw.indexOf(marker), -1, 'no plaintext of the payload on disk');
      assert.equal(statSync(join(dir, f.name)).mode & 0o777, 0o600);
      const rd = await EncryptedFileReader.open(join(dir, f.name), ring);
      const info = await rd.info();
      assert.ok(info.complete);
      const plain = await rd.read(0, info.size);
      await rd.close();
      assert.equal(plain.length, f.size, 'status sizes are plaintext sizes');
      assert.ok(plain.length <= 10_000);
      assert.deepEqual(plain.subarray(0, 24), HEADER, 'every ring file starts with the global header');
      const sp = new PcapSplitter();
      total += sp.push(plain).length;
      assert.equal(sp.pending, 0, 'files end at a record boundary');
    }
    assert.equal(total, 100 - 29, 'the records of the 3 newest files');
    assert.equal(r.packets, 100);
    assert.deepEqual(Buffer.concat(live.slice(0, -1)), Buffer.concat(records), 'live subscribers got every record');
    assert.equal(live.at(-1)?.toString(), 'END');
  });

  it('never deletes a file the store does not hold yet: the ring stops with RingBacklogError', async () => {
    const dir = tmp();
    const r = new PcapRing({ dir, fileBase: 'b.pcap', maxFileSize: 1000, fileCount: 2, open: plainSink(), remove: (p) => rm(p), canDelete: () => false });
    const input = new PassThrough();
    const done = r.consume(input);
    input.end(Buffer.concat([HEADER, ...Array.from({ length: 20 }, () => rec(randomBytes(200)))]));
    await assert.rejects(done, RingBacklogError);
    assert.deepEqual(readdirSync(dir).sort(), ['b.pcap0', 'b.pcap1'], 'both files kept');
  });

  it('uniqueNames (a capture with a store): every file has a name of its own, the oldest uploaded one is removed beyond fileCount, a name is never reused', async () => {
    assert.equal(uniqueRingFileName('w.pcap', 3, 12), 'w.pcap03', 'padded like tcpdump -W names');
    assert.equal(uniqueRingFileName('w.pcap', 12, 12), 'w.pcap12', 'never wrapped');
    const dir = tmp();
    const uploaded = new Set<string>();
    const closed: string[] = [];
    const removed: string[] = [];
    const r = new PcapRing({
      dir,
      fileBase: 'w.pcap',
      maxFileSize: 1000,
      fileCount: 2,
      open: plainSink(),
      remove: (p) => (removed.push(p.slice(dir.length + 1)), rm(p, { force: true })),
      canDelete: (n) => uploaded.has(n),
      // the upload queue verifies each closed file at once (and deletes the local copy, as the agent does)
      onClosed: (f) => (closed.push(f.name), uploaded.add(f.name)),
      uniqueNames: true,
    });
    const input = new PassThrough();
    const done = r.consume(input);
    input.end(Buffer.concat([HEADER, ...Array.from({ length: 20 }, () => rec(randomBytes(200)))]));
    await done;
    // 4 records of 216 bytes per 1000-byte file (24-byte header): 5 files
    assert.deepEqual(closed, ['w.pcap0', 'w.pcap1', 'w.pcap2', 'w.pcap3', 'w.pcap4'], 'five files, five names: no object key repeats');
    assert.equal(new Set(closed).size, closed.length);
    assert.deepEqual(removed, ['w.pcap0', 'w.pcap1', 'w.pcap2'], 'the oldest removed, one per new file beyond fileCount');
    assert.deepEqual(readdirSync(dir).sort(), ['w.pcap3', 'w.pcap4'], 'the node keeps the newest fileCount files');
    assert.deepEqual(r.files().map((f) => f.name), ['w.pcap3', 'w.pcap4']);
  });

  it('uniqueNames: a file not yet in the store is never removed; the ring stops with RingBacklogError naming the oldest', async () => {
    const dir = tmp();
    const r = new PcapRing({ dir, fileBase: 'v.pcap', maxFileSize: 1000, fileCount: 2, open: plainSink(), remove: (p) => rm(p), canDelete: () => false, uniqueNames: true });
    const input = new PassThrough();
    const done = r.consume(input);
    input.end(Buffer.concat([HEADER, ...Array.from({ length: 20 }, () => rec(randomBytes(200)))]));
    const err = await done.then(
      () => assert.fail('the ring must stop'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RingBacklogError);
    assert.equal(err.file, 'v.pcap0');
    assert.deepEqual(readdirSync(dir).sort(), ['v.pcap0', 'v.pcap1'], 'both files kept');
  });

  it('a backlog says how many files wait and what to do; it ends the target as UploadBacklog (other ring errors: CaptureFailed)', async () => {
    const dir = tmp();
    const uploaded = new Set<string>();
    const r = new PcapRing({ dir, fileBase: 'u.pcap', maxFileSize: 1000, fileCount: 3, open: plainSink(), remove: (p) => rm(p), canDelete: (n) => uploaded.has(n), onClosed: (f) => uploaded.delete(f.name) });
    const input = new PassThrough();
    const done = r.consume(input);
    // the first file is in the store: its slot is reused; the next two are not: the ring stops at the 5th file
    const closed: string[] = [];
    input.write(Buffer.concat([HEADER, ...Array.from({ length: 12 }, () => rec(randomBytes(200)))]));
    for (let i = 0; i < 500 && r.files().filter((f) => f.closed).length < 2; i++) await new Promise((res) => setTimeout(res, 10));
    uploaded.add('u.pcap0');
    closed.push(...r.files().filter((f) => f.closed).map((f) => f.name));
    input.end(Buffer.concat(Array.from({ length: 12 }, () => rec(randomBytes(200)))));
    const err = await done.then(
      () => assert.fail('the ring must stop'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RingBacklogError);
    assert.deepEqual(closed, ['u.pcap0', 'u.pcap1']);
    assert.equal(err.file, 'u.pcap1');
    assert.equal(err.waiting, 3, 'u.pcap1, u.pcap2 and the reused u.pcap0 wait for upload');
    assert.equal(err.fileCount, 3);
    const f = ringFailure(err);
    assert.equal(f.reason, 'UploadBacklog');
    assert.match(f.message, /ring of 3 files is full and 3 closed files still wait for upload/);
    assert.match(f.message, /raise spec\.fileCount/);
    assert.match(f.message, /Check the store/);
    assert.deepEqual(readdirSync(dir).sort(), ['u.pcap0', 'u.pcap1', 'u.pcap2'], 'nothing deleted that is not in the store');
    assert.deepEqual(ringFailure(new Error('ENOSPC')), { reason: 'CaptureFailed', message: 'writing the ring files failed: ENOSPC' });
  });

  it('cuts files at record boundaries with one sink write per file a read touches (no write per record)', async () => {
    const dir = tmp();
    const writes: number[] = [];
    const r = new PcapRing({
      dir,
      fileBase: 'w.pcap',
      maxFileSize: 24 + 10 * 216,
      fileCount: 10,
      open: async (p) => {
        const s = await plainSink()(p);
        return { ...s, write: (b) => (writes.push(b.length), s.write(b)) };
      },
      remove: (p) => rm(p),
    });
    const input = new PassThrough();
    const done = r.consume(input);
    const records = Array.from({ length: 25 }, () => rec(randomBytes(200)));
    input.end(Buffer.concat([HEADER, ...records]));
    await done;
    assert.equal(r.packets, 25);
    // 3 files: 10 + 10 + 5 records, each a header write and one records write
    assert.deepEqual(writes, [24, 2160, 24, 2160, 24, 1080]);
    assert.deepEqual(
      r.files().map((f) => f.size),
      [2184, 2184, 1104],
    );
    const back = ['w.pcap0', 'w.pcap1', 'w.pcap2'].map((n) => readFileSync(join(dir, n)).subarray(24));
    assert.deepEqual(Buffer.concat(back), Buffer.concat(records));
  });

  it('flush() makes a quiet capture readable on disk before the file is closed', async () => {
    const dir = tmp();
    const ring = parseKeyring({ active: Buffer.from('k1'), 'k1.key': randomBytes(32) });
    const r = new PcapRing({ dir, fileBase: 'q.pcap', maxFileSize: 1e6, fileCount: 1, open: encryptedSink(() => Promise.resolve(ring)), remove: (p) => rm(p) });
    const input = new PassThrough();
    const done = r.consume(input);
    input.write(Buffer.concat([HEADER, rec(Buffer.from('hello'))]));
    // bounded poll until the record has been taken in (asserted by state below, not by time)
    for (let i = 0; i < 500 && r.packets < 1; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(r.packets, 1);
    await r.flush();
    const rd = await EncryptedFileReader.open(join(dir, 'q.pcap0'), ring);
    const info = await rd.info({ live: true });
    assert.equal(info.complete, false);
    assert.equal(info.size, 24 + 16 + 5);
    await rd.close();
    input.end();
    await done;
  });
});

describe('recoverRingFile (a ring file whose writer died)', () => {
  it('keeps every whole record, cuts a record torn by the crash, and seals the file so strict readers accept it', async () => {
    const { recoverRingFile } = await import('../agent/recover.js');
    const { EncryptedFileWriter } = await import('../crypto/writer.js');
    const dir = tmp();
    const ring = parseKeyring({ active: Buffer.from('k1'), 'k1.key': randomBytes(32) });
    const path = join(dir, 'x.pcap0');
    const w = await EncryptedFileWriter.create(path, ring, { chunkSize: 1024 });
    const records = Array.from({ length: 10 }, (_, i) => rec(randomBytes(300), i));
    const all = Buffer.concat([HEADER, ...records]);
    // everything but the last 100 bytes (inside the last record), flushed: what a SIGKILL leaves
    await w.write(all.subarray(0, all.length - 100));
    await w.flush();
    await w.abandon();
    const r = await recoverRingFile(path, ring);
    assert.equal(r.changed, true);
    assert.equal(r.size, all.length - records[9]!.length, 'the torn record is cut, the 9 others kept');
    assert.equal(r.tornBytes, records[9]!.length - 100);
    const rd = await EncryptedFileReader.open(path, ring);
    const info = await rd.info();
    assert.ok(info.complete, 'strict readers accept the file');
    const plain = await rd.read(0, info.size);
    await rd.close();
    const sp = new PcapSplitter();
    assert.equal(sp.push(plain).length, 9);
    assert.equal(sp.pending, 0);
    // idempotent
    assert.equal((await recoverRingFile(path, ring)).changed, false);
  });
});
