// The encrypted ring fed by real tcpdump through a pipe (`tcpdump -r FILE -w -`, the same output
// path as a live `tcpdump -w -`): the ring files, decrypted, hold exactly tcpdump's records, each
// file is a pcap that capinfos reads, and no ring file holds a byte sequence of the plaintext.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseKeyring } from '../src/crypto/keyring.js';
import { EncryptedFileReader } from '../src/crypto/reader.js';
import { EncryptedRing } from '../src/crypto/ring.js';
import { runTool } from './harness/pcap.js';

/** A ~1.5 MB classic pcap of Ethernet frames with random payloads (tcpdump reads it back). */
function writeSource(path: string): void {
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(65535, 16);
  g.writeUInt32LE(1, 20);
  const parts = [g];
  for (let i = 0; i < 2000; i++) {
    const data = randomBytes(60 + ((i * 7919) % 1440));
    const h = Buffer.alloc(16);
    h.writeUInt32LE(1764000000 + Math.floor(i / 100), 0);
    h.writeUInt32LE((i % 100) * 1000, 4);
    h.writeUInt32LE(data.length, 8);
    h.writeUInt32LE(data.length, 12);
    parts.push(h, data);
  }
  writeFileSync(path, Buffer.concat(parts), { mode: 0o600 });
}

function capinfosPackets(file: string): number {
  const r = runTool('capinfos', ['-M', '-c', '-T', '-r', file]);
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim().split('\t').pop());
}

describe('encrypted ring fed by tcpdump -w - through a pipe', { timeout: 120_000 }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pcapper-ring-tcpdump-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ring files decrypt to exactly tcpdump records, each a valid pcap', async () => {
    const SOURCE = join(dir, 'source.pcap');
    writeSource(SOURCE);
    const keyring = parseKeyring({ active: Buffer.from('k1'), 'k1.key': randomBytes(32) });
    const ring = new EncryptedRing({ dir, baseName: 'node-a.cap.1.pcap', maxFileSize: 64 * 1024, fileCount: 1000, keyring: () => keyring });
    const plainStream: Buffer[] = [];
    const td = spawn('tcpdump', ['-r', SOURCE, '-w', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    td.stderr.on('data', (b: Buffer) => (err += b.toString()));
    for await (const chunk of td.stdout as AsyncIterable<Buffer>) {
      plainStream.push(chunk);
      await ring.write(chunk);
      await ring.flush();
    }
    const code = await new Promise<number | null>((resolve) => (td.exitCode !== null ? resolve(td.exitCode) : td.once('exit', resolve)));
    assert.equal(code, 0, err);
    const { files, truncatedBytes } = await ring.close();
    assert.equal(truncatedBytes, 0);
    const stream = Buffer.concat(plainStream);
    assert.ok(files.length >= 5, `${files.length} ring files`);

    const bodies: Buffer[] = [];
    let packets = 0;
    for (const f of files) {
      const enc = readFileSync(f);
      // no 32-byte window of tcpdump's record bytes appears in the encrypted file
      for (let off = 24; off + 32 <= stream.length; off += 4096) assert.equal(enc.indexOf(stream.subarray(off, off + 32)), -1, `${basename(f)} holds plaintext`);
      const r = await EncryptedFileReader.open(f, keyring);
      let plain: Buffer;
      try {
        plain = await r.read(0, (await r.info()).size);
      } finally {
        await r.close();
      }
      assert.deepEqual(plain.subarray(0, 24), stream.subarray(0, 24), 'each file starts with tcpdump\'s global header');
      assert.ok(plain.length <= 64 * 1024, `${basename(f)}: ${plain.length} bytes`);
      const out = join(dir, `plain-${basename(f)}`);
      writeFileSync(out, plain, { mode: 0o600 });
      packets += capinfosPackets(out);
      bodies.push(plain.subarray(24));
    }
    assert.deepEqual(Buffer.concat(bodies), stream.subarray(24), 'the records, in order, byte for byte');
    assert.equal(packets, capinfosPackets(SOURCE));
    assert.equal(ring.records, packets);
    // tcpdump's own reading of a decrypted ring file agrees
    const first = join(dir, `plain-${basename(files[0]!)}`);
    const t = spawnSync('tcpdump', ['-r', first, '-c', '1', '-n'], { encoding: 'utf8' });
    assert.equal(t.status, 0, t.stderr);
  });
});
