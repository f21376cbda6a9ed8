import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FileUpload } from '../api/packetcapture.js';
import { FakeClock } from '../k8s/clock.js';
import { StoreError } from '../storage/errors.js';
import { UploadError, type UploadOptions, type UploadResult } from '../storage/uploader.js';
import { silentLogger } from '../telemetry/log.js';
import { cacheResolver, storeOfCapture, type StoreObject } from './stores.js';
import { failureOf, journalPath, retryDelay, UploadQueue, type UploadJob } from './uploads.js';

const dir = mkdtempSync(join(tmpdir(), 'uploads-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const STORE: StoreObject = {
  metadata: { name: 's' },
  spec: { s3: { endpoint: 'http://127.0.0.1:1', bucket: 'b', prefix: 'p', pathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'k' } }, upload: { partSize: '5Mi' } },
};

function job(file: string): UploadJob {
  const path = join(dir, file);
  writeFileSync(path, 'x'.repeat(100), { mode: 0o600 });
  return { captureKey: 'ns/c', namespace: 'ns', capture: 'c', node: 'n1', target: 'pod/ns/p', targetDir: 'pod.ns.p', file, path, store: 's', inStatus: true };
}

/** Lets queued promise chains run (bounded: a fixed number of turns, no time). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

/** Bounded poll (real time, 5 s at most) until `ok()`: file system work of an attempt takes a while under load. */
async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

const ok = (o: UploadOptions): UploadResult => ({ key: o.key, size: 100, checksumSha256: 'x', parts: 1, partsSent: 1, partsResumed: 0, verified: true });

describe('UploadQueue (fake clock, scripted uploader)', () => {
  it('uploads with the object key of the data API path, deletes the local copy only when verified, and reports each state', async () => {
    const clock = new FakeClock();
    const states: Array<[string, FileUpload]> = [];
    const keys: string[] = [];
    let creds = 0;
    const q = new UploadQueue({
      concurrency: 1,
      clock,
      resolver: cacheResolver(() => [STORE]),
      credentials: () => {
        creds++;
        return Promise.resolve({ accessKeyId: 'a', secretAccessKey: 'k' });
      },
      report: (j, u) => states.push([j.file, u]),
      log: silentLogger,
      upload: (_c, o) => {
        keys.push(o.key);
        assert.equal(o.journal, journalPath(o.file));
        assert.equal(o.partSize, 5 * 1024 * 1024);
        return Promise.resolve(o.key.endsWith('bad.pcap0') ? { ...ok(o), verified: false, reason: 'checksum differs' } : ok(o));
      },
    });
    const good = job('n1.c.1.pcap0');
    const bad = job('bad.pcap0');
    q.add(good);
    q.add(good); // a second add while queued is a no-op
    q.add(bad);
    await until('both attempts done', () => q.stateOf(bad.path)?.state === 'Failed' && q.isUploaded(good.path));
    assert.deepEqual(keys, ['p/ns/c/n1/pod.ns.p/n1.c.1.pcap0', 'p/ns/c/n1/pod.ns.p/bad.pcap0']);
    assert.equal(creds, 2, 'credentials read before each attempt');
    assert.equal(existsSync(good.path), false, 'verified: local copy removed');
    assert.equal(existsSync(bad.path), true, 'not verified: local copy kept');
    assert.equal(q.isUploaded(good.path), true);
    assert.equal(q.stateOf(bad.path)?.state, 'Failed');
    assert.equal(q.stateOf(bad.path)?.reason, 'VerificationFailed');
    assert.deepEqual(
      states.filter(([f]) => f === good.file).map(([, u]) => u.state),
      ['Pending', 'Uploading', 'Uploaded'],
    );
    await q.stop();
  });

  it('transient failures: Failed/StoreUnavailable, retried with backoff on the clock until the store answers; terminal ones carry the store code and are retried at the cap', async () => {
    const clock = new FakeClock();
    let down = true;
    let attempts = 0;
    const q = new UploadQueue({
      concurrency: 2,
      clock,
      resolver: cacheResolver(() => [STORE]),
      credentials: () => Promise.resolve({ accessKeyId: 'a', secretAccessKey: 'k' }),
      report: () => undefined,
      log: silentLogger,
      backoff: { baseMs: 1000, capMs: 10_000 },
      random: () => 1,
      upload: (_c, o) => {
        attempts++;
        if (o.file.endsWith('nobucket.pcap0')) return Promise.reject(new UploadError('upload: bucket "b" does not exist', false, { cause: new StoreError('bucket "b" does not exist', false, 404, 'NoSuchBucket') }));
        if (down) return Promise.reject(new UploadError('upload: connect ECONNREFUSED', true));
        return Promise.resolve(ok(o));
      },
    });
    const a = job('a.pcap0');
    const nb = job('nobucket.pcap0');
    q.add(a);
    q.add(nb);
    await until('both failed', () => q.stateOf(a.path)?.state === 'Failed' && q.stateOf(nb.path)?.state === 'Failed');
    assert.equal(q.stateOf(a.path)?.reason, 'StoreUnavailable');
    assert.equal(q.stateOf(nb.path)?.reason, 'NoSuchBucket');
    assert.match(q.stateOf(nb.path)?.message ?? '', /does not exist/);
    const before = attempts;
    await clock.advance(999);
    await settle();
    assert.equal(attempts, before, 'no retry before the backoff');
    down = false;
    await clock.advance(1);
    await until('uploaded after the backoff', () => q.stateOf(a.path)?.state === 'Uploaded');
    assert.equal(existsSync(nb.path), true, 'terminal failure: local file kept');
    const terminalAttempts = attempts;
    await clock.advance(10_000);
    await until('the terminal failure retried at the cap period', () => attempts > terminalAttempts && q.stateOf(nb.path)?.state === 'Failed');
    await q.stop();
  });

  it('pure parts: backoff, failure classification, store of a capture', () => {
    assert.equal(retryDelay(0, 1000, 60_000, () => 0.5), 500);
    assert.equal(retryDelay(10, 1000, 60_000, () => 1), 60_000);
    assert.deepEqual(failureOf(new UploadError('x', true)), { reason: 'StoreUnavailable', message: 'x', transient: true });
    assert.equal(failureOf(new UploadError('y', false, { cause: new StoreError('z', false, 403, 'SignatureDoesNotMatch') })).reason, 'SignatureDoesNotMatch');
    const r = cacheResolver(() => [STORE, { metadata: { name: 'd' }, spec: { ...STORE.spec, default: true } }]);
    assert.equal(storeOfCapture({ store: 's' }, r), 's');
    assert.equal(storeOfCapture({}, r), 'd', 'the one default store');
    assert.equal(r.resolve('missing'), undefined);
    assert.equal(r.resolve('s')?.partSize, 5 * 1024 * 1024);
  });
});
