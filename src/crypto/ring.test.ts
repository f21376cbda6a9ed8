import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { forEachPacket } from '../pcap/reader.js';
import { parseKeyring } from './keyring.js';
import { PcapFramer, PcapStreamError } from './pcap-framer.js';
import { EncryptedFileReader } from './reader.js';
import { EncryptedRing } from './ring.js';

const ring = parseKeyring({ active: Buffer.from('k1'), 'k1.key': randomBytes(32) });
const SECRET = 'password=KNOWN-RING-SECRET';
const MAX = 10_000;

/** A classic pcap stream (little-endian, Ethernet) of `n` packets whose payload names their index. */
function pcapStream(n: number): { bytes: Buffer; sizes: number[] } {
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(262144, 16);
  g.writeUInt32LE(1, 20);
  const parts = [g];
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    const data = Buffer.concat([Buffer.alloc(14, 0xaa), Buffer.from(`#${i}# ${SECRET} `), Buffer.alloc(i % 300, 0x41)]);
    const h = Buffer.alloc(16);
    h.writeUInt32LE(1764000000 + i, 0);
    h.writeUInt32LE(i, 4);
    h.writeUInt32LE(data.length, 8);
    h.writeUInt32LE(data.length, 12);
    parts.push(h, data);
    sizes.push(16 + data.length);
  }
  return { bytes: Buffer.concat(parts), sizes };
}

describe('pcap framer', () => {
  it('yields the header once and whole records, however the bytes are split', () => {
    const { bytes, sizes } = pcapStream(50);
    for (const step of [1, 7, 23, 24, 25, 1000, bytes.length]) {
      const f = new PcapFramer();
      const got: number[] = [];
      let headers = 0;
      for (let off = 0; off < bytes.length; off += step) {
        const r = f.push(bytes.subarray(off, off + step));
        if (r.header) headers++;
        got.push(...r.records.map((x) => x.length));
      }
      assert.equal(headers, 1);
      assert.deepEqual(got, sizes, `step ${step}`);
      assert.equal(f.pendingBytes, 0);
    }
  });
  it('refuses pcapng and garbage with a clear error', () => {
    assert.throws(() => new PcapFramer().push(Buffer.concat([Buffer.from('0a0d0d0a', 'hex'), Buffer.alloc(40)])), /pcapng; the encrypted ring needs classic pcap/);
    assert.throws(() => new PcapFramer().push(Buffer.alloc(40, 0x20)), (e: unknown) => e instanceof PcapStreamError && /magic number \(0x20202020\)/.test(e.message));
  });
});

describe('encrypted ring', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pcapper-ring-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function decryptTo(path: string): Promise<string> {
    const r = await EncryptedFileReader.open(path, ring);
    try {
      const out = join(dir, `plain-${basename(path)}`);
      writeFileSync(out, await r.read(0, (await r.info()).size), { mode: 0o600 });
      return out;
    } finally {
      await r.close();
    }
  }

  it('rotates at record boundaries into valid encrypted pcaps, keeps fileCount, and holds back files not yet uploaded', async () => {
    const { bytes } = pcapStream(400);
    const closed: string[] = [];
    const uploaded = new Set<string>();
    const r = new EncryptedRing({
      dir,
      baseName: 'node-a.cap.1764000000.pcap',
      maxFileSize: MAX,
      fileCount: 2,
      keyring: () => ring,
      chunkSize: 4096,
      // file 0 is "not uploaded yet": it must never be deleted
      canDelete: (p) => uploaded.has(p),
      onClosed: (p) => {
        closed.push(p);
        if (!p.endsWith('pcap0')) uploaded.add(p);
      },
    });
    for (let off = 0; off < bytes.length; off += 3001) await r.write(bytes.subarray(off, off + 3001));
    await r.flush();
    const { files, truncatedBytes } = await r.close();
    assert.equal(truncatedBytes, 0);
    assert.ok(closed.length >= 5, `several files (${closed.length})`);
    assert.deepEqual(closed.map((p) => basename(p)), closed.map((_, i) => `node-a.cap.1764000000.pcap${i}`));
    // pcap0 kept (not uploaded), then the newest 2
    assert.deepEqual(files.map((p) => basename(p)), ['pcap0', `pcap${closed.length - 2}`, `pcap${closed.length - 1}`].map((s) => `node-a.cap.1764000000.${s}`));
    assert.equal(r.backlog, 1);
    for (const p of closed) assert.equal(existsSync(p), files.includes(p));

    // every kept file: no plaintext on disk, decrypts to a valid pcap of consecutive packets
    let total = 0;
    let seen: number[] = [];
    for (const p of closed) {
      if (!files.includes(p)) {
        // deleted ones still count for the sequence check below
        continue;
      }
      assert.equal(readFileSync(p).indexOf(Buffer.from('KNOWN-RING-SECRET')), -1, `${p} holds no plaintext`);
      const plain = await decryptTo(p);
      assert.ok(readFileSync(plain).length <= MAX, `${p} holds at most maxFileSize bytes`);
      const idx: number[] = [];
      await forEachPacket(plain, (pk) => {
        const m = /#(\d+)#/.exec(Buffer.from(pk.data.subarray(pk.dataOffset, pk.dataOffset + pk.caplen)).toString('latin1'));
        idx.push(Number(m?.[1]));
      });
      for (let i = 1; i < idx.length; i++) assert.equal(idx[i], (idx[i - 1] ?? 0) + 1, 'consecutive packets inside a file');
      total += idx.length;
      seen = seen.concat(idx);
    }
    assert.equal(seen[0], 0, 'the held-back first file starts at packet 0');
    assert.equal(seen[seen.length - 1], 399, 'the last file ends with the last packet');
    assert.ok(total > 0 && r.records === 400);
  });

  it('a capture with no packet still leaves one valid (empty) pcap', async () => {
    const { bytes } = pcapStream(0);
    const r = new EncryptedRing({ dir, baseName: 'empty.pcap', maxFileSize: 1000, fileCount: 3, keyring: () => ring });
    await r.write(bytes);
    const { files } = await r.close();
    assert.equal(files.length, 1);
    const plain = await decryptTo(files[0]!);
    assert.equal(readFileSync(plain).length, 24);
    let n = 0;
    await forEachPacket(plain, () => n++);
    assert.equal(n, 0);
  });
});
