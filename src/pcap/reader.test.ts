import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CaptureReader, bufferSource, forEachPacket, MAX_RECORD_BYTES, openCapture } from './reader.js';
import { PcapFormatError } from './errors.js';
import { INVALID_VERSION_FILE, normaliseEpoch, runTool, testdataFiles, tsharkFrames } from '../../test/harness/pcap.js';

const files = testdataFiles();

test('the test-data directory has the capture files', () => {
  assert.ok(files.length >= 20, `expected the third-party captures, found ${files.length}`);
});

function capinfosCount(file: string): { status: number | null; count: number | undefined; stderr: string } {
  const r = runTool('capinfos', ['-c', '-M', file]);
  const m = /Number of packets:\s*(\d+)/.exec(r.stdout);
  return { status: r.status, count: m ? Number(m[1]) : undefined, stderr: r.stderr };
}

async function readAll(file: string): Promise<{ count: number; error: unknown }> {
  let count = 0;
  try {
    await forEachPacket(file, () => count++);
    return { count, error: undefined };
  } catch (error) {
    return { count, error };
  }
}

for (const file of files) {
  const name = basename(file);
  test(`packet count equals capinfos -c: ${name}`, async () => {
    const ci = capinfosCount(file);
    const ours = await readAll(file);
    if (name === INVALID_VERSION_FILE) {
      // capinfos refuses it (pcap major version 1); we must refuse it with a clear error
      assert.notEqual(ci.status, 0, 'capinfos was expected to reject the file');
      assert.ok(ours.error instanceof PcapFormatError, `expected PcapFormatError, got ${String(ours.error)}`);
      assert.equal(ours.error.offset, 4);
      assert.match(ours.error.message, /unsupported pcap version 1\.4/);
      assert.equal(ours.count, 0);
      return;
    }
    assert.notEqual(ci.count, undefined, `capinfos printed no packet count: ${ci.stderr}`);
    assert.equal(ours.count, ci.count);
    if (ci.status !== 0) {
      // capinfos complains (truncated file): so must we, naming file and offset
      assert.ok(ours.error instanceof PcapFormatError, 'capinfos reported a problem; expected an error from us too');
      assert.equal(ours.error.file, file);
      assert.match(ours.error.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: offset \\d+: `));
    } else {
      assert.equal(ours.error, undefined, `unexpected error: ${String(ours.error)}`);
    }
  });

  if (name === INVALID_VERSION_FILE) continue;
  test(`timestamps, lengths and bytes equal tshark: ${name}`, async () => {
    const frames = tsharkFrames(file);
    const ours: { time: string; len: number; caplen: number; iface: number; md5: string }[] = [];
    await forEachPacket(file, (p) => {
      ours.push({
        time: `${p.tsSec}.${String(p.tsNsec).padStart(9, '0')}`,
        len: p.origLen,
        caplen: p.caplen,
        iface: p.interfaceId,
        md5: createHash('md5').update(p.data.subarray(p.dataOffset, p.dataOffset + p.caplen)).digest('hex'),
      });
    }).catch((err: unknown) => {
      if (!(err instanceof PcapFormatError)) throw err;
    });
    assert.equal(ours.length, frames.length);
    for (const [i, f] of frames.entries()) {
      const o = ours[i]!;
      const where = `frame ${i + 1}`;
      if (f.time !== '') assert.equal(o.time, normaliseEpoch(f.time), `${where} time`);
      assert.equal(o.len, f.len, `${where} len`);
      assert.equal(o.caplen, f.caplen, `${where} caplen`);
      assert.equal(String(o.iface), f.interfaceId === '' ? '0' : f.interfaceId, `${where} interface`);
      assert.equal(o.md5, f.md5, `${where} bytes`);
    }
  });
}

test('a file cut inside a record: one error with file, offset and problem; earlier records delivered', async () => {
  const file = files.find((f) => basename(f).startsWith('fpcap__RICS2021'));
  assert.ok(file);
  const ours = await readAll(file);
  assert.ok(ours.error instanceof PcapFormatError);
  assert.equal(ours.error.offset, 536552); // the 16-byte header of record #6719 starts here ...
  assert.match(ours.error.problem, /file ends inside packet data of record #6719 \(needs 42 bytes, 8 left\)/);
  assert.equal(ours.count, capinfosCount(file).count); // ... and every complete record before it was read
});

test('truncating any file anywhere delivers exactly the complete records before the cut', async () => {
  for (const file of files) {
    if (basename(file) === INVALID_VERSION_FILE) continue;
    const bytes = readFileSync(file);
    // record boundaries from a full read
    const ends: number[] = [];
    const blockEnds = new Set<number>();
    const r = await CaptureReader.fromSource(bufferSource(bytes, file));
    try {
      for (;;) {
        while (r.advance()) ends.push(r.recordFileOffset + r.recordLength);
        if (r.done) break;
        await r.fill();
      }
    } catch (err) {
      if (!(err instanceof PcapFormatError)) throw err;
    }
    for (const e of ends) blockEnds.add(e);
    const cuts = new Set<number>([0, 1, 23, 24, 25, 28, bytes.length - 1]);
    for (let i = 0; i < 12; i++) cuts.add(Math.floor(Math.random() * bytes.length));
    for (const e of ends.slice(0, 3)) {
      cuts.add(e);
      cuts.add(e - 1);
    }
    for (const cut of cuts) {
      if (cut < 0 || cut >= bytes.length) continue;
      let n = 0;
      let error: unknown;
      try {
        const rr = await CaptureReader.fromSource(bufferSource(bytes.subarray(0, cut), `${basename(file)}[0:${cut}]`), { bufferSize: 65536 });
        for (;;) {
          while (rr.advance()) n++;
          if (rr.done) break;
          await rr.fill();
        }
      } catch (err) {
        error = err;
      }
      const expected = ends.filter((e) => e <= cut).length;
      assert.equal(n, expected, `${basename(file)} cut at ${cut}: packets delivered`);
      if (error !== undefined) {
        assert.ok(error instanceof PcapFormatError, `${basename(file)} cut at ${cut}: ${error instanceof Error ? error.message : typeof error}`);
        assert.ok(error.offset <= cut, `offset ${error.offset} beyond the cut ${cut}`);
      }
    }
  }
});

test('an over-long record length is refused without allocating it', async () => {
  const b = Buffer.alloc(24 + 16 + 4);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeUInt32LE(65535, 16);
  b.writeUInt32LE(1, 20);
  b.writeUInt32LE(MAX_RECORD_BYTES + 1, 24 + 8);
  const r = await CaptureReader.fromSource(bufferSource(b, 'big.pcap'));
  assert.throws(() => r.advance(), (err: unknown) => err instanceof PcapFormatError && err.offset === 32 && /limit/.test(err.problem));
  // a length within the limit but beyond the end of the file fails at once, too
  b.writeUInt32LE(1000, 24 + 8);
  const r2 = await CaptureReader.fromSource(bufferSource(b, 'short.pcap'));
  assert.throws(() => r2.advance(), (err: unknown) => err instanceof PcapFormatError && err.offset === 24 && /file ends inside packet data/.test(err.problem));
});

test('not a capture: clear error at offset 0', async () => {
  await assert.rejects(CaptureReader.fromSource(bufferSource(Buffer.from('hello world, no pcap'), 'x.txt')), (err: unknown) => err instanceof PcapFormatError && err.offset === 0 && /not a pcap or pcapng file/.test(err.message));
  await assert.rejects(CaptureReader.fromSource(bufferSource(Buffer.alloc(0), 'empty')), (err: unknown) => err instanceof PcapFormatError && /empty file/.test(err.message));
  await assert.rejects(CaptureReader.open('/nonexistent/file.pcap'), /cannot open/);
});

test('openCapture yields copies that survive buffer reuse', async () => {
  const file = files.find((f) => basename(f) === 'zeek__http_get.pcap');
  assert.ok(file);
  const recs = [];
  for await (const p of openCapture(file, { bufferSize: 65536 })) recs.push(p);
  const frames = tsharkFrames(file);
  assert.equal(recs.length, frames.length);
  for (const [i, p] of recs.entries()) assert.equal(createHash('md5').update(p.data).digest('hex'), frames[i]!.md5);
});

/** Rewrites a little-endian pcapng (SHB, IDB, EPB, others copied as opaque) in big-endian byte order. */
function toBigEndianPcapng(le: Buffer): Buffer {
  const out = Buffer.from(le);
  const swapOptions = (o: number, end: number) => {
    while (o + 4 <= end) {
      const code = le.readUInt16LE(o);
      const len = le.readUInt16LE(o + 2);
      out.writeUInt16BE(code, o);
      out.writeUInt16BE(len, o + 2);
      if (code === 0) return;
      if (code === 14 && len === 8) out.writeBigInt64BE(le.readBigInt64LE(o + 4), o + 4); // if_tsoffset
      o += 4 + ((len + 3) & ~3);
    }
  };
  let p = 0;
  while (p + 12 <= le.length) {
    const type = le.readUInt32LE(p);
    const len = le.readUInt32LE(p + 4);
    out.writeUInt32BE(type, p);
    out.writeUInt32BE(len, p + 4);
    out.writeUInt32BE(len, p + len - 4);
    if (type === 0x0a0d0d0a) {
      out.writeUInt32BE(0x1a2b3c4d, p + 8);
      out.writeUInt16BE(le.readUInt16LE(p + 12), p + 12);
      out.writeUInt16BE(le.readUInt16LE(p + 14), p + 14);
      out.writeBigInt64BE(le.readBigInt64LE(p + 16), p + 16);
      swapOptions(p + 24, p + len - 4);
    } else if (type === 1) {
      out.writeUInt16BE(le.readUInt16LE(p + 8), p + 8);
      out.writeUInt32BE(le.readUInt32LE(p + 12), p + 12);
      swapOptions(p + 16, p + len - 4);
    } else if (type === 6) {
      for (let f = 8; f < 28; f += 4) out.writeUInt32BE(le.readUInt32LE(p + f), p + f);
      swapOptions(p + 28 + ((le.readUInt32LE(p + 20) + 3) & ~3), p + len - 4);
    } else {
      throw new Error(`test converter: block type ${type} not handled`);
    }
    p += len;
  }
  return out;
}

test('big-endian pcapng sections read the same as little-endian, and as tshark reads them', async () => {
  const src = files.find((f) => basename(f) === 'zeek__pcapng-multi-interface.pcapng');
  assert.ok(src);
  const dir = mkdtempSync(join(tmpdir(), 'pcapper-be-'));
  try {
    const be = join(dir, 'be.pcapng');
    writeFileSync(be, toBigEndianPcapng(readFileSync(src)));
    const read = async (f: string) => {
      const rows: string[] = [];
      await forEachPacket(f, (p) => rows.push(`${p.tsSec}.${String(p.tsNsec).padStart(9, '0')} ${p.interfaceId} ${p.origLen} ${createHash('md5').update(p.data.subarray(p.dataOffset, p.dataOffset + p.caplen)).digest('hex')}`));
      return rows;
    };
    const ours = await read(be);
    assert.deepEqual(ours, await read(src));
    const theirs = tsharkFrames(be).map((f) => `${normaliseEpoch(f.time)} ${f.interfaceId} ${f.len} ${f.md5}`);
    assert.deepEqual(ours, theirs);
    const r = await forEachPacket(be, () => undefined); // interfaces are known once their IDBs were read
    assert.equal(r.interfaces.length, 2);
    assert.equal(r.interfaces[0]?.name, 'eth0');
    assert.equal(r.interfaces[0]?.tsresol, 9);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
