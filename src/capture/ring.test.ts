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
import { PcapRing, PcapSplitter, PcapStreamError, ringFileName, RingBacklogError, type RingFile } from './ring.js';
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
