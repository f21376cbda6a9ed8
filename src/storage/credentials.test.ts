import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKeyringDir } from '../crypto/secret-dir.js';
import { CredentialsError, loadCredentials } from './credentials.js';

/** A Secret volume as the kubelet lays it out; `update` swaps ..data atomically like the kubelet. */
function secretVolume(root: string, data: Record<string, string | Buffer>, gen = 1): string {
  const dir = join(root, 'secret');
  mkdirSync(dir, { recursive: true });
  const ts = `..2026_11_27_17_00_0${gen}.000000001`;
  mkdirSync(join(dir, ts));
  for (const [k, v] of Object.entries(data)) writeFileSync(join(dir, ts, k), v, { mode: 0o400 });
  symlinkSync(ts, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const k of Object.keys(data)) {
    try {
      symlinkSync(join('..data', k), join(dir, k));
    } catch {
      // exists from the previous generation: it points through ..data already
    }
  }
  return dir;
}

describe('mounted Secrets', () => {
  const root = mkdtempSync(join(tmpdir(), 'pcapper-secret-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reads store credentials and picks up a rotated Secret without a restart', async () => {
    const r = join(root, 'creds');
    const dir = secretVolume(r, { 'team-s3.accessKeyId': 'AKIA1\n', 'team-s3.secretAccessKey': 's1' });
    const names = { accessKeyId: 'team-s3.accessKeyId', secretAccessKey: 'team-s3.secretAccessKey' };
    assert.deepEqual(await loadCredentials(dir, names), { accessKeyId: 'AKIA1', secretAccessKey: 's1' });
    secretVolume(r, { 'team-s3.accessKeyId': 'AKIA2', 'team-s3.secretAccessKey': 's2' }, 2);
    assert.deepEqual(await loadCredentials(dir, names), { accessKeyId: 'AKIA2', secretAccessKey: 's2' });
    await assert.rejects(
      loadCredentials(dir, { ...names, sessionToken: 'team-s3.sessionToken' }),
      (e: unknown) => e instanceof CredentialsError && /has no entry "team-s3.sessionToken" \(the store's sessionToken\)/.test(e.message),
    );
  });

  it('reads the encryption keyring', async () => {
    const k = randomBytes(32);
    const dir = secretVolume(join(root, 'keys'), { active: '2026-11', '2026-11.key': k.toString('base64') });
    const ring = await loadKeyringDir(dir);
    assert.equal(ring.active.id, '2026-11');
    assert.deepEqual(ring.active.key, k);
    const bad = secretVolume(join(root, 'bad'), { active: '2027-01', '2026-11.key': k });
    await assert.rejects(loadKeyringDir(bad), /the encryption keys Secret mounted at .*: the active key "2027-01" has no entry 2027-01.key/);
  });
});
