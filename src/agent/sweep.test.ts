import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySweep, planSweep, scanDataDir } from './sweep.js';

const DAY = 86_400_000;

describe('sweep', () => {
  it('plans: directories of deleted captures, files older than the limit, never active ones', () => {
    const now = 10 * DAY;
    const plan = planSweep({
      captureDirs: [
        { namespace: 'a', capture: 'live', path: '/d/a/live' },
        { namespace: 'a', capture: 'deleted', path: '/d/a/deleted' },
        { namespace: 'b', capture: 'writing', path: '/d/b/writing' },
      ],
      files: [
        { path: '/d/a/live/pod.a.x/n.live.1.pcap0', mtimeMs: now - 3 * DAY },
        { path: '/d/a/live/pod.a.x/n.live.2.pcap0', mtimeMs: now - 1 * DAY },
        { path: '/d/a/deleted/pod.a.y/n.deleted.1.pcap0', mtimeMs: now },
        { path: '/d/b/writing/pod.b.z/n.writing.1.pcap0', mtimeMs: now - 5 * DAY },
      ],
      exists: (ns, c) => !(ns === 'a' && c === 'deleted') && !(ns === 'b' && c === 'writing'),
      activeDirs: new Set(['/d/b/writing/pod.b.z']),
      nowMs: now,
      maxAgeMs: 2 * DAY,
    });
    assert.deepEqual(plan, { removeDirs: ['/d/a/deleted'], removeFiles: ['/d/a/live/pod.a.x/n.live.1.pcap0'] });
  });

  it('never removes by age a file that must reach the store first (keep)', () => {
    const now = 10 * DAY;
    const plan = planSweep({
      captureDirs: [{ namespace: 'a', capture: 'stored', path: '/d/a/stored' }],
      files: [{ path: '/d/a/stored/pod.a.x/n.stored.1.pcap0', mtimeMs: now - 30 * DAY }],
      exists: () => true,
      activeDirs: new Set(),
      nowMs: now,
      maxAgeMs: 2 * DAY,
      keep: (p) => p.startsWith('/d/a/stored/'),
    });
    assert.deepEqual(plan.removeFiles, []);
  });

  it('scans and applies on a real directory', async () => {
    const d = mkdtempSync(join(tmpdir(), 'pcapper-sweep-'));
    try {
      mkdirSync(join(d, 'ns1', 'gone', 'pod.ns1.p'), { recursive: true });
      mkdirSync(join(d, 'ns2', 'kept', 'node.eth0'), { recursive: true });
      writeFileSync(join(d, 'ns1', 'gone', 'pod.ns1.p', 'f.pcap0'), 'x');
      writeFileSync(join(d, 'ns2', 'kept', 'node.eth0', 'old.pcap0'), 'x');
      writeFileSync(join(d, 'ns2', 'kept', 'node.eth0', 'new.pcap0'), 'x');
      writeFileSync(join(d, 'not-a-capture.txt'), 'x');
      const old = (Date.now() - 3 * DAY) / 1000;
      utimesSync(join(d, 'ns2', 'kept', 'node.eth0', 'old.pcap0'), old, old);
      const scan = await scanDataDir(d);
      assert.deepEqual(scan.captureDirs.map((c) => `${c.namespace}/${c.capture}`).sort(), ['ns1/gone', 'ns2/kept']);
      const plan = planSweep({ ...scan, exists: (ns) => ns === 'ns2', activeDirs: new Set(), nowMs: Date.now(), maxAgeMs: 2 * DAY });
      assert.equal(await applySweep(d, plan), 2);
      assert.ok(!existsSync(join(d, 'ns1')), 'empty namespace directory removed');
      assert.ok(!existsSync(join(d, 'ns2', 'kept', 'node.eth0', 'old.pcap0')));
      assert.ok(existsSync(join(d, 'ns2', 'kept', 'node.eth0', 'new.pcap0')));
      assert.ok(existsSync(join(d, 'not-a-capture.txt')));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
