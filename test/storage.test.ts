// The uploader against a real S3-compatible server (versitygw, test/harness/s3.ts): many parts,
// the server SIGKILLed and restarted mid-upload, the uploader SIGKILLed mid-upload and resumed
// from its journal, wrong credentials, a missing bucket, a changed object, and an encrypted file
// whose object never holds the plaintext. Faults are injected at states (after part N is in the
// store), never after a sleep.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, type StoreConfig } from '../src/storage/client.js';
import { capturePrefix, objectKey } from '../src/storage/keys.js';
import { readJournal } from '../src/storage/journal.js';
import { objectSource } from '../src/storage/object-source.js';
import { deletePrefix, listPrefix } from '../src/storage/prefix.js';
import { MIN_PART_SIZE, uploadFile, UploadError, verifyObject } from '../src/storage/uploader.js';
import { parseKeyring } from '../src/crypto/keyring.js';
import { DEFAULT_CHUNK_SIZE } from '../src/crypto/format.js';
import { EncryptedFileWriter } from '../src/crypto/writer.js';
import { EncryptedFileReader } from '../src/crypto/reader.js';
import { repoRoot } from './harness/paths.js';
import { S3Server } from './harness/s3.js';

const BUCKET = 'pcapper-test';
const PART = MIN_PART_SIZE; // versitygw enforces S3's 5 MiB minimum for every part but the last
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let server: S3Server;
let dir = '';
let seq = 0;

function key(file: string): string {
  return objectKey({ prefix: 'pcapper', namespace: 'shop', capture: `cap-${seq}`, node: 'node-a', target: 'pod.shop.web-0', file });
}

function localFile(size: number): { path: string; data: Buffer } {
  const data = randomBytes(size);
  const path = join(dir, `node-a.cap-${++seq}.1764000000.pcap0`);
  writeFileSync(path, data, { mode: 0o600 });
  return { path, data };
}

/** A client with fast retries: the test must not wait for production backoff. */
function client(overrides: Partial<StoreConfig> = {}, onRetry?: (what: string, attempt: number) => void): S3Client {
  return new S3Client(server.storeConfig(BUCKET, { retry: { attempts: 60, baseMs: 20, capMs: 500 }, requestTimeoutMs: 20_000, ...overrides }), onRetry ? { onRetry } : {});
}

describe('uploads to a real S3-compatible server (versitygw)', { timeout: 300_000 }, () => {
  before(async () => {
    server = await S3Server.start({ buckets: [BUCKET] });
    dir = mkdtempSync(join(tmpdir(), 'pcapper-upload-'));
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uploads a file spanning many parts and its sidecar; lists and deletes them by capture prefix', async () => {
    const { path, data } = localFile(8 * PART + 12345);
    const meta = `${path}.meta.json`;
    writeFileSync(meta, JSON.stringify({ pod: 'web-0', namespace: 'shop' }), { mode: 0o600 });
    const c = client();
    // Count parts in flight: never more than the concurrency (bounded memory), and it is used.
    let inFlight = 0;
    let maxInFlight = 0;
    const send = c.uploadPart.bind(c);
    c.uploadPart = async (...a: Parameters<S3Client['uploadPart']>) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        return await send(...a);
      } finally {
        inFlight--;
      }
    };
    try {
      const res = await uploadFile(c, { file: path, key: key('f.pcap0'), partSize: PART, concurrency: 3 });
      assert.equal(maxInFlight, 3, 'at most (and here exactly) 3 parts in flight');
      assert.equal(res.verified, true, res.reason);
      assert.equal(res.parts, 9);
      assert.equal(res.partsSent, 9);
      assert.equal(res.size, data.length);
      assert.equal(existsSync(`${path}.upload.json`), false, 'journal removed after verification');
      assert.equal(sha(await c.getObject(res.key)), sha(data), 'object bytes equal the file');
      assert.deepEqual(await c.getObject(res.key, { start: PART - 3, end: PART + 2 }), data.subarray(PART - 3, PART + 3), 'ranges across a part boundary');
      const m = await uploadFile(c, { file: meta, key: key('f.pcap0.meta.json'), partSize: PART });
      assert.equal(m.verified, true, m.reason);
      assert.equal(m.parts, 1);

      const prefix = capturePrefix('pcapper', 'shop', `cap-${seq}`);
      assert.deepEqual((await listPrefix(c, prefix)).map((o) => [o.key.slice(prefix.length), o.size]).sort(), [
        ['node-a/pod.shop.web-0/f.pcap0', data.length],
        ['node-a/pod.shop.web-0/f.pcap0.meta.json', readFileSync(meta).length],
      ]);
      assert.equal(await deletePrefix(c, prefix), 2);
      assert.deepEqual(await listPrefix(c, prefix), []);
      assert.equal(await c.headObject(res.key), undefined);
    } finally {
      c.close();
    }
  });

  it('completes with nothing lost when the server is SIGKILLed after part 2 and restarted', async () => {
    const { path, data } = localFile(6 * PART + 999);
    let killed = false;
    let retries = 0;
    let restarting: Promise<void> | undefined;
    const c = client({}, () => {
      retries++;
      // The first failed request after the kill brings the server back (same port, same data).
      if (killed && !restarting) restarting = server.restart();
    });
    try {
      const res = await uploadFile(c, {
        file: path,
        key: key('g.pcap0'),
        partSize: PART,
        concurrency: 2,
        onPart: async ({ partNumber }) => {
          if (partNumber === 2 && !killed) {
            await server.kill9();
            killed = true;
          }
        },
      });
      await restarting;
      assert.ok(killed && retries > 0, `the fault happened (retries: ${retries})`);
      assert.equal(res.verified, true, res.reason);
      assert.equal(res.parts, 7);
      assert.equal(sha(await c.getObject(res.key)), sha(data));
      assert.equal(readFileSync(path).length, data.length, 'local file kept (the caller deletes it)');
    } finally {
      c.close();
    }
  });

  it('resumes from the journal after the uploader is SIGKILLed: parts in the store are not sent again', async () => {
    const { path, data } = localFile(7 * PART + 1);
    const k = key('h.pcap0');
    const journal = `${path}.upload.json`;
    // A separate uploader process, killed with SIGKILL once it reports 3 parts in the store.
    const dist = join(repoRoot(), 'dist');
    const childSrc = `
      import { S3Client } from ${JSON.stringify(join(dist, 'src/storage/client.js'))};
      import { uploadFile } from ${JSON.stringify(join(dist, 'src/storage/uploader.js'))};
      const a = JSON.parse(process.argv[1]);
      const c = new S3Client(a.config);
      await uploadFile(c, { file: a.file, key: a.key, partSize: a.partSize, concurrency: 1,
        onPart: (p) => new Promise((r) => process.stdout.write('part ' + p.partNumber + '\\n', r)) });
      process.stdout.write('done\\n');`;
    const args = JSON.stringify({ config: server.storeConfig(BUCKET), file: path, key: k, partSize: PART });
    const child = spawn(process.execPath, ['--input-type=module', '-e', childSrc, args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (/^part 3$/m.test(out)) resolve();
      });
      void exited.then(() => reject(new Error(`the uploader child ended before part 3: ${out} ${err}`)));
    });
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.doesNotMatch(out, /done/);

    const j = await readJournal(journal);
    assert.ok(j, 'the journal survived the kill');
    const c = client();
    try {
      const inStore = await c.listParts(k, j.uploadId);
      assert.ok(inStore && inStore.length >= 3, `ListParts has the parts the killed uploader sent (${inStore?.length})`);
      const resumedParts: number[] = [];
      const res = await uploadFile(c, {
        file: path,
        key: k,
        partSize: PART,
        onPart: ({ partNumber, resumed }) => {
          if (resumed) resumedParts.push(partNumber);
        },
      });
      assert.equal(res.verified, true, res.reason);
      assert.equal(res.parts, 8);
      assert.equal(res.partsResumed, inStore.length, 'every part ListParts had was kept');
      assert.equal(res.partsSent, 8 - inStore.length, 'only the missing parts were sent');
      assert.deepEqual(resumedParts.sort((a, b) => a - b), inStore.map((p) => p.partNumber).sort((a, b) => a - b));
      assert.equal(sha(await c.getObject(k)), sha(data));
      assert.equal(existsSync(journal), false);
    } finally {
      c.close();
    }
  });

  for (const [name, overrides, re] of [
    ['a wrong secret key', () => ({ credentials: { accessKeyId: server.accessKeyId, secretAccessKey: 'not-the-secret' } }), /rejected the signature: the secret access key .* is wrong/],
    ['an unknown access key', () => ({ credentials: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: server.secretAccessKey } }), /does not know the access key .*: fix accessKeyId/],
    ['a missing bucket', () => ({ bucket: 'no-such-bucket' }), /bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+: create it, or fix the bucket name/],
    ['a node clock an hour off (signatures expire after 15 minutes)', () => ({}), /this node's clock differs from the store's by more than 15 minutes/],
  ] as const) {
    it(`stops at once with a clear terminal error for ${name}, keeping the local file`, async () => {
      for (const size of [1000, 2 * PART + 1]) {
        const { path, data } = localFile(size);
        let retries = 0;
        const c = /clock/.test(name)
          ? new S3Client(server.storeConfig(BUCKET), { now: () => new Date(Date.now() - 3_600_000), onRetry: () => retries++ })
          : client(overrides(), () => retries++);
        try {
          await assert.rejects(uploadFile(c, { file: path, key: key('x.pcap0'), partSize: PART }), (e: unknown) => {
            assert.ok(e instanceof UploadError, String(e));
            assert.equal(e.transient, false);
            assert.match(e.message, re);
            assert.match(e.message, new RegExp(`^upload ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} to `));
            return true;
          });
          assert.equal(retries, 0, 'terminal errors are not retried');
          assert.equal(sha(readFileSync(path)), sha(data), 'local file kept, unchanged');
        } finally {
          c.close();
        }
      }
    });
  }

  it('verification fails when the object in the store differs from the local file', async () => {
    const { path, data } = localFile(2 * PART + 10);
    const c = client();
    try {
      const res = await uploadFile(c, { file: path, key: key('v.pcap0'), partSize: PART });
      assert.equal(res.verified, true, res.reason);
      const expected = { size: res.size, checksumSha256: res.checksumSha256 };
      assert.deepEqual(await verifyObject(c, res.key, expected), { verified: true });
      // Someone replaces the object with other bytes of the same size.
      const other = Buffer.from(data);
      other[5] = (other[5] ?? 0) ^ 0xff;
      await c.putObject(res.key, other, createHash('sha256').update(other).digest('base64'));
      const v = await verifyObject(c, res.key, expected);
      assert.equal(v.verified, false);
      assert.match(v.reason ?? '', /checksum .* differs from the local file's/);
      await c.deleteObjects([res.key]);
      assert.deepEqual(await verifyObject(c, res.key, expected), { verified: false, reason: 'the object is not in the store' });
    } finally {
      c.close();
    }
  });

  it('an encrypted capture file: the object never holds the known payload, and decrypts to it', async () => {
    const ring = parseKeyring({ active: Buffer.from('k1'), 'k1.key': randomBytes(32) });
    const payload = Buffer.from('Authorization: Bearer KNOWN-SECRET-PAYLOAD-4242\r\n');
    const plain = Buffer.concat(Array.from({ length: 150_000 }, () => payload)); // ~7.5 MB: 2 parts
    const path = join(dir, `enc-${++seq}.pcap0`);
    const w = await EncryptedFileWriter.create(path, ring);
    for (let off = 0; off < plain.length; off += 65_000) await w.write(plain.subarray(off, off + 65_000));
    await w.close();
    const c = client();
    try {
      const res = await uploadFile(c, { file: path, key: key('enc.pcap0'), partSize: PART });
      assert.equal(res.verified, true, res.reason);
      assert.equal(res.parts, 2);
      const obj = await c.getObject(res.key);
      assert.equal(obj.indexOf(Buffer.from('KNOWN-SECRET-PAYLOAD')), -1, 'no plaintext in the object');
      // The store's bytes decrypt to the capture, read in place with ranged GETs: a range
      // fetches only its chunks (plus the header and the last chunk for the size).
      let gets = 0;
      const src = await objectSource(c, res.key);
      const counting = { ...src, readAt: (o: number, l: number) => (gets++, src.readAt(o, l)) };
      const r = await EncryptedFileReader.fromSource(counting, ring);
      try {
        const info = await r.info();
        assert.equal(info.complete, true);
        assert.equal(info.size, plain.length);
        gets = 0;
        const a = 3_000_000;
        const len = 600_000;
        assert.deepEqual(await r.read(a, a + len), plain.subarray(a, a + len));
        const C = DEFAULT_CHUNK_SIZE;
        const chunks = Math.floor((a + len - 1) / C) - Math.floor(a / C) + 1;
        assert.ok(chunks >= 3, `the range spans several ${C}-byte chunks`);
        assert.equal(gets, 1 + chunks, `the last chunk (size) and the ${chunks} chunks the range spans, no more`);
        assert.equal(sha(await r.read(0, info.size)), sha(plain));
      } finally {
        await r.close();
      }
      // The same bytes downloaded whole decrypt too (the file a user would get from the store).
      const back = join(dir, `back-${seq}.pcap0`);
      writeFileSync(back, obj, { mode: 0o600 });
      const r2 = await EncryptedFileReader.open(back, ring);
      try {
        assert.equal(sha(await r2.read(0, (await r2.info()).size)), sha(plain));
      } finally {
        await r2.close();
      }
    } finally {
      c.close();
    }
  });
});
