import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admit, checkRunning, directoryBytes, formatBytes, measureDisk } from './disk.js';

const G = 1e9;
const limits = { maxTotalFileSize: 10 * G, minFreeDisk: 20 * G };

describe('disk guard decisions', () => {
  it('admits a capture that fits', () => {
    assert.deepEqual(admit(limits, { usedBytes: 1 * G, freeBytes: 100 * G }, [], 1 * G), { ok: true });
  });

  it('counts what running captures were promised but have not written yet', () => {
    const running = [{ promisedBytes: 5 * G, writtenBytes: 1 * G }];
    // used 1G + owed 4G + 5G requested = 10G: fits exactly
    assert.deepEqual(admit(limits, { usedBytes: 1 * G, freeBytes: 100 * G }, running, 5 * G), { ok: true });
    const d = admit(limits, { usedBytes: 1 * G, freeBytes: 100 * G }, running, 5 * G + 1);
    assert.equal(d.ok, false);
    assert.ok(!d.ok && d.reason === 'DiskQuotaExceeded' && /MAX_TOTAL_FILESIZE 10.0 GB would be exceeded/.test(d.message), JSON.stringify(d));
  });

  it('keeps MIN_FREE_DISK free', () => {
    const d = admit(limits, { usedBytes: 0, freeBytes: 21.5 * G }, [{ promisedBytes: 1 * G, writtenBytes: 0 }], 0.5 * G);
    assert.deepEqual(d, { ok: true });
    const e = admit(limits, { usedBytes: 0, freeBytes: 21.5 * G }, [{ promisedBytes: 1 * G, writtenBytes: 0 }], 0.5 * G + 1);
    assert.ok(!e.ok && e.reason === 'DiskFull' && /MIN_FREE_DISK 20.0 GB/.test(e.message));
  });

  it('stops running captures on violation', () => {
    assert.deepEqual(checkRunning(limits, { usedBytes: 10 * G, freeBytes: 20 * G }), { ok: true });
    const a = checkRunning(limits, { usedBytes: 10 * G + 1, freeBytes: 100 * G });
    assert.ok(!a.ok && a.reason === 'DiskQuotaExceeded');
    const b = checkRunning(limits, { usedBytes: 0, freeBytes: 19 * G });
    assert.ok(!b.ok && b.reason === 'DiskFull' && /only 19.0 GB free/.test(b.message));
  });

  it('formats bytes', () => {
    assert.equal(formatBytes(7), '7 B');
    assert.equal(formatBytes(1_500_000), '1.5 MB');
    assert.equal(formatBytes(250e9), '250 GB');
  });
});

describe('disk measurement', () => {
  it('sums file sizes recursively and reads free space', async () => {
    const d = mkdtempSync(join(tmpdir(), 'pcapper-disk-'));
    try {
      mkdirSync(join(d, 'a', 'b'), { recursive: true });
      writeFileSync(join(d, 'a', 'x'), Buffer.alloc(1000));
      writeFileSync(join(d, 'a', 'b', 'y'), Buffer.alloc(234));
      assert.equal(await directoryBytes(d), 1234);
      assert.equal(await directoryBytes(join(d, 'missing')), 0);
      const m = await measureDisk(d);
      assert.equal(m.usedBytes, 1234);
      assert.ok(m.freeBytes > 0);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
