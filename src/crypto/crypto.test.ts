import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chunkOffset,
  EncryptedFileError,
  FIXED_HEADER_SIZE,
  HEADER_SIZE,
  MIN_CHUNK_SIZE,
  SLOT_SIZE,
  slotStride,
  type Keyring,
} from './format.js';
import { KeyringError, parseKeyring } from './keyring.js';
import { EncryptedFileReader, fileSource } from './reader.js';
import { finishFile } from './recover.js';
import { rewrapFile } from './rotate.js';
import { EncryptedFileWriter } from './writer.js';

const CS = MIN_CHUNK_SIZE; // small chunks: many boundaries in small files
const k1 = randomBytes(32);
const k2 = randomBytes(32);
const ring1: Keyring = parseKeyring({ active: Buffer.from('k1'), 'k1.key': k1 });
const ring2: Keyring = parseKeyring({ active: Buffer.from('k2\n'), 'k1.key': k1, 'k2.key': Buffer.from(k2.toString('base64')) });
const ring2only: Keyring = parseKeyring({ active: Buffer.from('k2'), 'k2.key': k2 });

let dir = '';
let n = 0;
const path = () => join(dir, `f${n++}.pcap.enc`);

async function encrypt(data: Buffer, ring = ring1, writes: number[] = [data.length]): Promise<string> {
  const p = path();
  const w = await EncryptedFileWriter.create(p, ring, { chunkSize: CS });
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const len = writes[i % writes.length] ?? data.length;
    await w.write(data.subarray(off, off + len));
    off += len;
  }
  await w.close();
  return p;
}

async function decrypt(p: string, ring = ring1, live = false): Promise<Buffer> {
  const r = await EncryptedFileReader.open(p, ring);
  try {
    const info = await r.info({ live });
    return await r.read(0, info.size, { live });
  } finally {
    await r.close();
  }
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof EncryptedFileError, `expected EncryptedFileError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

function flip(p: string, offset: number): void {
  const b = readFileSync(p);
  b[offset] = (b[offset] ?? 0) ^ 0x01;
  writeFileSync(p, b);
}

describe('encrypted capture files', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pcapper-crypto-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips sizes around chunk boundaries, written in odd pieces', async () => {
    for (const size of [0, 1, CS - 1, CS, CS + 1, 2 * CS - 1, 2 * CS, 2 * CS + 1, 5 * CS + 17]) {
      const data = randomBytes(size);
      for (const writes of [[size || 1], [1, 7, CS - 3], [CS + 5]]) {
        const p = await encrypt(data, ring1, writes);
        assert.deepEqual(await decrypt(p), data, `size ${size} writes ${writes.join(',')}`);
        const full = Math.floor(size / CS);
        const last = size - full * CS;
        assert.equal(statSync(p).size, chunkOffset(CS, full) + 8 + last + 16, `file size for ${size}`);
      }
    }
  });

  it('creates files 0600 and refuses to overwrite one', async () => {
    const p = await encrypt(Buffer.from('x'));
    assert.equal(statSync(p).mode & 0o777, 0o600);
    await assert.rejects(EncryptedFileWriter.create(p, ring1), /EEXIST/);
  });

  it('reads any byte range, authenticating only the chunks it touches', async () => {
    const data = randomBytes(4 * CS + 100);
    const p = await encrypt(data);
    const r = await EncryptedFileReader.open(p, ring1);
    try {
      for (const [a, b] of [
        [0, 1],
        [CS - 1, CS + 1],
        [CS, 2 * CS],
        [3 * CS + 50, 4 * CS + 100],
        [17, 17],
        [0, data.length],
      ] as const) {
        assert.deepEqual(await r.read(a, b), data.subarray(a, b), `range ${a}-${b}`);
      }
      await rejectsWith(r.read(0, data.length + 1), 'BadRange', /outside the 4196 plaintext bytes/);
    } finally {
      await r.close();
    }
  });

  it('never writes a known payload in plaintext', async () => {
    const secret = Buffer.from('GET /secret?token=hunter2-KNOWN-PAYLOAD HTTP/1.1\r\n');
    const data = Buffer.concat(Array.from({ length: 200 }, (_, i) => Buffer.concat([secret, Buffer.from(String(i))])));
    const p = await encrypt(data, ring1, [secret.length + 1]);
    const raw = readFileSync(p);
    assert.equal(raw.indexOf(Buffer.from('hunter2')), -1);
    assert.equal(raw.indexOf(Buffer.from('KNOWN-PAYLOAD')), -1);
    assert.equal(raw.indexOf(k1), -1, 'the KEK is not in the file');
    assert.deepEqual(await decrypt(p), data);
  });

  describe('detects tampering with a clear error', () => {
    const data = randomBytes(3 * CS + 10);
    let p = '';
    before(async () => {
      p = await encrypt(data);
    });
    const copy = () => {
      const q = path();
      writeFileSync(q, readFileSync(p));
      return q;
    };

    it('a flipped ciphertext bit', async () => {
      const q = copy();
      flip(q, chunkOffset(CS, 1) + 8 + 100);
      await rejectsWith(decrypt(q), 'ChunkAuthFailed', /chunk 1 failed authentication/);
    });
    it('a flipped tag bit of the last chunk', async () => {
      const q = copy();
      flip(q, statSync(q).size - 1);
      await rejectsWith(decrypt(q), 'ChunkAuthFailed', /chunk 3/);
    });
    it('a changed length word', async () => {
      const q = copy();
      flip(q, chunkOffset(CS, 0) + 3);
      await rejectsWith(decrypt(q), 'ChunkAuthFailed');
    });
    it('a changed fixed header (chunk AAD binds its hash)', async () => {
      const q = copy();
      flip(q, 30); // file id
      await rejectsWith(decrypt(q), 'WrongKey', /does not open with key "k1"/);
    });
    it('two chunks swapped', async () => {
      const q = copy();
      const b = readFileSync(q);
      const s = slotStride(CS);
      const c0 = Buffer.from(b.subarray(chunkOffset(CS, 0), chunkOffset(CS, 0) + s));
      b.copy(b, chunkOffset(CS, 0), chunkOffset(CS, 1), chunkOffset(CS, 1) + s);
      c0.copy(b, chunkOffset(CS, 1));
      writeFileSync(q, b);
      await rejectsWith(decrypt(q), 'ChunkAuthFailed', /chunk 0/);
    });
    it('a chunk spliced from another file with the same key', async () => {
      const other = await encrypt(randomBytes(3 * CS + 10));
      const q = copy();
      const b = readFileSync(q);
      readFileSync(other).copy(b, chunkOffset(CS, 1), chunkOffset(CS, 1), chunkOffset(CS, 2));
      writeFileSync(q, b);
      await rejectsWith(decrypt(q), 'ChunkAuthFailed', /chunk 1/);
    });
    it('truncated at a chunk boundary (final chunk removed)', async () => {
      const q = copy();
      truncateSync(q, chunkOffset(CS, 3));
      await rejectsWith(decrypt(q), 'Truncated', /ends after chunk 2 without its final chunk/);
    });
    it('truncated inside a chunk', async () => {
      const q = copy();
      truncateSync(q, chunkOffset(CS, 2) + 500);
      await rejectsWith(decrypt(q), 'Truncated', /chunk 2 is cut short/);
    });
    it('truncated inside the header', async () => {
      const q = copy();
      truncateSync(q, 100);
      await rejectsWith(decrypt(q), 'Truncated', /shorter than the 296-byte header/);
    });
    it('bytes appended after the final chunk', async () => {
      const q = copy();
      writeFileSync(q, Buffer.concat([readFileSync(q), Buffer.alloc(40)]));
      await rejectsWith(decrypt(q), 'TrailingData', /40 bytes follow the last chunk \(3\)/);
      writeFileSync(q, Buffer.concat([readFileSync(q), Buffer.alloc(4000)]));
      await rejectsWith(decrypt(q), 'ChunkAuthFailed');
    });
    it('a plain pcap file', async () => {
      const q = path();
      writeFileSync(q, Buffer.concat([Buffer.from('d4c3b2a1', 'hex'), Buffer.alloc(400)]));
      await rejectsWith(decrypt(q), 'BadMagic', /not an encrypted pcapper file/);
    });
    it('a future format version', async () => {
      const q = copy();
      const b = readFileSync(q);
      b[8] = 2;
      writeFileSync(q, b);
      await rejectsWith(decrypt(q), 'UnsupportedVersion', /version 2 is not supported/);
    });
    it('the untouched copy still reads', async () => {
      assert.deepEqual(await decrypt(copy()), data);
    });
  });

  it('refuses a wrong KEK and a keyring without the file key', async () => {
    const p = await encrypt(randomBytes(2000));
    const wrong = parseKeyring({ active: Buffer.from('k1'), 'k1.key': randomBytes(32) });
    await rejectsWith(decrypt(p, wrong), 'WrongKey', /key in the Secret differs/);
    await rejectsWith(decrypt(p, ring2only), 'UnknownKey', /encrypted with key "k1", which is not in the keyring \(it has "k2"\)/);
  });

  it('rotates: re-wraps the data key with the active key without touching the chunks', async () => {
    const data = randomBytes(5 * CS + 3);
    const p = await encrypt(data, ring1);
    const before = readFileSync(p);
    const res = await rewrapFile(p, ring2);
    assert.deepEqual(res, { changed: true, from: 'k1', to: 'k2' });
    const afterBytes = readFileSync(p);
    assert.deepEqual(afterBytes.subarray(HEADER_SIZE), before.subarray(HEADER_SIZE), 'chunks unchanged');
    assert.deepEqual(afterBytes.subarray(0, FIXED_HEADER_SIZE), before.subarray(0, FIXED_HEADER_SIZE), 'fixed header unchanged');
    // Only k2 now opens it: the old key can be retired.
    assert.deepEqual(await decrypt(p, ring2only), data);
    await rejectsWith(decrypt(p, ring1), 'UnknownKey', /"k2"/);
    assert.deepEqual(await rewrapFile(p, ring2), { changed: false, from: 'k2', to: 'k2' });
  });

  it('rotation interrupted after the new slot is written still opens with either key', async () => {
    const data = randomBytes(CS + 1);
    const p = await encrypt(data, ring1);
    const original = readFileSync(p);
    await rewrapFile(p, ring2);
    // Recreate the crash state: the old slot (A) from before, the new slot (B) from after.
    const rotated = readFileSync(p);
    const crashed = Buffer.from(rotated);
    original.copy(crashed, FIXED_HEADER_SIZE, FIXED_HEADER_SIZE, FIXED_HEADER_SIZE + SLOT_SIZE);
    writeFileSync(p, crashed);
    assert.deepEqual(await decrypt(p, ring1), data);
    assert.deepEqual(await decrypt(p, ring2only), data);
    // Running the rotation again finishes it (clears the retired slot).
    assert.equal((await rewrapFile(p, ring2)).changed, false);
    await rejectsWith(decrypt(p, ring1), 'UnknownKey');
  });

  it('live reads: a growing file shows sealed chunks, a flush seals the pending bytes, close makes it complete', async () => {
    const p = path();
    const w = await EncryptedFileWriter.create(p, ring1, { chunkSize: CS });
    const data = randomBytes(3 * CS);
    const r = await EncryptedFileReader.open(p, ring1);
    try {
      assert.deepEqual(await r.info({ live: true }), { size: 0, complete: false, chunkSize: CS, keyId: 'k1', fileSize: HEADER_SIZE });
      await w.write(data.subarray(0, CS + 10));
      assert.equal((await r.info({ live: true })).size, CS, 'only the sealed chunk is visible');
      await rejectsWith(r.info(), 'Truncated', /read it as a live file/);
      await w.flush();
      assert.equal((await r.info({ live: true })).size, CS + 10, 'the flush sealed the 10 pending bytes');
      assert.deepEqual(await r.read(0, CS + 10, { live: true }), data.subarray(0, CS + 10));
      await w.write(data.subarray(CS + 10, CS + 20));
      await w.flush(); // the same chunk sealed again with a new seal number
      assert.deepEqual(await r.read(CS, CS + 20, { live: true }), data.subarray(CS, CS + 20));
      await w.write(data.subarray(CS + 20));
      assert.equal((await r.info({ live: true })).size, 3 * CS);
      await w.close();
      const info = await r.info();
      assert.equal(info.complete, true);
      assert.deepEqual(await r.read(0, info.size), data);
    } finally {
      await r.close();
    }
  });

  for (const [when, nth] of [['in the size check', 1], ['in the chunk read', 2]] as const) {
    it(`a live read while its writer re-seals the last slot with a longer record (${when}) reads the bytes it asked for`, async () => {
      const p = path();
      const w = await EncryptedFileWriter.create(p, ring1, { chunkSize: CS });
      const data = randomBytes(CS + 300);
      await w.write(data.subarray(0, CS + 10));
      await w.flush(); // chunk 1 sealed short (10 bytes)
      const src = await fileSource(p);
      let armed = false;
      let reads = 0;
      let resealed = false;
      // read() takes the size, then reads chunk 1 (its size check), then reads chunk 1 again (the
      // data); the writer seals that slot again in between, as the agent's flush does
      const racing = {
        size: () => src.size(),
        readAt: async (offset: number, length: number) => {
          if (armed && offset === chunkOffset(CS, 1) && ++reads === nth) {
            await w.write(data.subarray(CS + 10));
            await w.flush();
            resealed = true; // the length asked for is that of the older, shorter record: the newer one is cut short
            return src.readAt(offset, length);
          }
          return src.readAt(offset, length);
        },
        close: () => src.close(),
      };
      const r = await EncryptedFileReader.fromSource(racing, ring1);
      try {
        assert.equal((await r.info({ live: true })).size, CS + 10);
        armed = true;
        assert.deepEqual(await r.read(0, CS + 10, { live: true }), data.subarray(0, CS + 10));
        assert.ok(resealed, 'the slot was re-sealed during the read');
      } finally {
        await r.close();
        await w.close();
      }
    });
  }

  it('a live reader skips a chunk whose record is still being written', async () => {
    const p = await encrypt(randomBytes(2 * CS + 100));
    const full = readFileSync(p);
    // The writer died while writing the last record: half of it is on disk.
    writeFileSync(p, full.subarray(0, chunkOffset(CS, 2) + 50));
    const r = await EncryptedFileReader.open(p, ring1);
    try {
      assert.equal((await r.info({ live: true })).size, 2 * CS);
      await rejectsWith(r.info(), 'Truncated', /chunk 2 is cut short/);
    } finally {
      await r.close();
    }
  });

  it('an older seal of a flushed chunk put back mid-file is detected', async () => {
    const p = path();
    const w = await EncryptedFileWriter.create(p, ring1, { chunkSize: CS });
    const data = randomBytes(2 * CS + 5);
    await w.write(data.subarray(0, 10));
    await w.flush();
    const shortSeal = readFileSync(p).subarray(chunkOffset(CS, 0));
    await w.write(data.subarray(10));
    await w.close();
    const b = readFileSync(p);
    shortSeal.copy(b, chunkOffset(CS, 0));
    writeFileSync(p, b);
    await rejectsWith(decrypt(p), 'ChunkAuthFailed', /chunk 0 is short but is not the last chunk/);
  });

  describe('finishing a file whose writer died', () => {
    it('after a flush: keeps the flushed bytes and makes the file complete', async () => {
      const p = path();
      const w = await EncryptedFileWriter.create(p, ring1, { chunkSize: CS });
      const data = randomBytes(2 * CS + 300);
      await w.write(data);
      await w.flush();
      await w.write(randomBytes(50)); // never flushed: lost with the writer
      await w.abandon();
      await rejectsWith(decrypt(p), 'Truncated');
      assert.deepEqual(await finishFile(p, ring1), { changed: true, size: data.length, droppedBytes: 0 });
      assert.deepEqual(await decrypt(p), data);
      assert.deepEqual(await finishFile(p, ring1), { changed: false, size: data.length, droppedBytes: 0 });
    });
    it('at a chunk boundary: adds an empty final chunk', async () => {
      const p = path();
      const w = await EncryptedFileWriter.create(p, ring1, { chunkSize: CS });
      const data = randomBytes(3 * CS);
      await w.write(data);
      await w.abandon();
      assert.equal((await finishFile(p, ring1)).size, 3 * CS);
      assert.deepEqual(await decrypt(p), data);
    });
    it('with a torn last record: cuts it off and keeps every sealed chunk', async () => {
      const data = randomBytes(2 * CS + 100);
      const p = await encrypt(data);
      writeFileSync(p, readFileSync(p).subarray(0, chunkOffset(CS, 2) + 60));
      const res = await finishFile(p, ring1);
      assert.equal(res.size, 2 * CS);
      assert.equal(res.droppedBytes, 60);
      assert.deepEqual(await decrypt(p), data.subarray(0, 2 * CS));
    });
    it('an empty file (header only)', async () => {
      const p = path();
      const w = await EncryptedFileWriter.create(p, ring1, { chunkSize: CS });
      await w.abandon();
      assert.equal((await finishFile(p, ring1)).size, 0);
      assert.equal((await decrypt(p)).length, 0);
    });
  });

  describe('keyring from the Secret', () => {
    it('takes raw or base64 keys and the active id', () => {
      assert.equal(ring2.active.id, 'k2');
      assert.deepEqual(ring2.active.key, k2);
      assert.deepEqual([...ring2.keys.keys()].sort(), ['k1', 'k2']);
    });
    it('says what is wrong', () => {
      assert.throws(() => parseKeyring({ 'k1.key': k1 }), (e: unknown) => e instanceof KeyringError && /no "active" entry/.test(e.message));
      assert.throws(() => parseKeyring({ active: Buffer.from('k9'), 'k1.key': k1 }), /active key "k9" has no entry k9.key \(keys present: k1\)/);
      assert.throws(() => parseKeyring({ active: Buffer.from('k1'), 'k1.key': Buffer.alloc(16) }), /k1.key has 16 bytes: it must be 32 random bytes/);
      assert.throws(() => parseKeyring({ active: Buffer.from('K_1'), 'K_1.key': k1 }), /key id "K_1" is not valid/);
    });
  });
});
