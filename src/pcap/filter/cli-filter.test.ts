/**
 * `summary --filter` and `merge --filter`: the packets they keep are those tshark keeps for the same
 * expression (merge output compared packet by packet with `mergecap | tshark -Y`), and a bad
 * filter exits 2 with the problem and a caret under it. Runs tshark and mergecap ("tools").
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runTool } from '../../../test/harness/pcap.js';
import { testdataDir } from '../../../test/harness/paths.js';
import { runSummary } from '../../cli/commands/summary.js';
import { runMerge } from '../../cli/commands/merge.js';

const dir = mkdtempSync(join(tmpdir(), 'pcapper-cli-filter-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function io(): { io: { stdout: PassThrough; stderr: PassThrough }; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  return { io: { stdout, stderr }, out: () => o, err: () => e };
}

const A = join(testdataDir(), 'zeek__http_get.pcap');
const B = join(testdataDir(), 'zeek__web.pcap');

describe('merge --filter', () => {
  for (const expr of ['tcp.flags.syn == 1', 'http.request', 'ip.addr == 141.142.228.5 && tcp.len > 0', 'frame.len > 1000']) {
    it(`${expr}: the same packets as mergecap | tshark -Y`, async () => {
      const out = join(dir, 'm.pcapng');
      const t = io();
      assert.equal(await runMerge([A, B, '-w', out, '--filter', expr], t.io), 0, t.err());
      assert.equal(statSync(out).mode & 0o777, 0o600);
      const all = join(dir, 'all.pcapng');
      assert.equal(runTool('mergecap', ['-w', all, A, B]).status, 0);
      const fields = ['-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'ip.src', '-e', 'tcp.seq_raw'];
      const theirs = runTool('tshark', ['-n', '-r', all, '-Y', expr, ...fields]).stdout;
      const ours = runTool('tshark', ['-n', '-r', out, ...fields]).stdout;
      assert.ok(theirs.trim().length > 0, 'the filter matches something');
      assert.equal(ours, theirs);
    });
  }
});

describe('summary --filter', () => {
  it('summarises only the matching packets', async () => {
    const t = io();
    assert.equal(await runSummary([A, '--filter', 'tcp.port == 80 && tcp.len > 0', '-o', 'json'], t.io), 0, t.err());
    const s = JSON.parse(t.out()) as { packets: number };
    const n = runTool('tshark', ['-n', '-r', A, '-Y', 'tcp.port == 80 && tcp.len > 0']).stdout.split('\n').filter((l) => l.trim()).length;
    assert.equal(s.packets, n);
  });

  it('a bad filter exits 2 with the problem and a caret under its position', async () => {
    for (const run of [runSummary, runMerge]) {
      const t = io();
      const argv = run === runSummary ? [A, '--filter', 'tcp and ip.sorc == 1'] : [A, '-w', join(dir, 'x.pcapng'), '--filter', 'tcp and ip.sorc == 1'];
      assert.equal(await run(argv, t.io), 2);
      assert.match(t.err(), /--filter: unknown field "ip\.sorc" at 8: did you mean ip\.src\?\n {2}tcp and ip\.sorc == 1\n {10}\^~~~~~~\n/);
    }
  });
});
