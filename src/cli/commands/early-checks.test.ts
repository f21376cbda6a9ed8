// Bad input is refused before anything is created (issue 16 items 4, 9, 10 and the minor ones).
// The kubeconfig points at a port where nothing listens: a check that ran after contacting the
// cluster would end in "cannot reach the cluster" instead of the expected line.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { PacketCapture } from '../../api/packetcapture.js';
import type { CliIo } from '../io.js';
import { captureCommand, refusedOutright } from './capture.js';
import { downloadCommand } from './download.js';
import { importCommand } from './import.js';
import { runMerge } from './merge.js';
import { runSummary } from './summary.js';

function fakeIo(cwd: string, env: Record<string, string> = {}): { io: CliIo; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  return { io: { stdout, stderr, stdin: new PassThrough(), env, cwd, signal: new AbortController().signal }, out: () => o, err: () => e };
}

describe('checked before anything is created', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcapper-early-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n',
  );
  const env = { KUBECONFIG: kubeconfig };

  it('capture -w DIR, -w into a missing directory: one line, exit 2, before the cluster is contacted', async () => {
    mkdirSync(join(dir, 'outdir'));
    for (const [w, re] of [
      [join(dir, 'outdir'), /^error: cannot write .*outdir: it is a directory; give a file name with -w/],
      [join(dir, 'missing', 'x.pcapng'), /^error: cannot write .*x\.pcapng: the directory .*missing does not exist/],
    ] as const) {
      const f = fakeIo(dir, env);
      assert.equal(await captureCommand.run(['pod/x', '-n', 'shop', '--duration', '5s', '-w', w], f.io), 2, f.err());
      assert.match(f.err(), re);
      assert.doesNotMatch(f.err(), /cannot reach the cluster/);
      assert.equal(f.err().trimEnd().split('\n').length, 2, f.err());
    }
    const d = fakeIo(dir, env);
    assert.equal(await downloadCommand.run(['cap', '-w', join(dir, 'outdir')], d.io), 2, d.err());
    assert.match(d.err(), /it is a directory/);
    // a writable path passes the check and then needs the cluster
    const ok = fakeIo(dir, env);
    assert.equal(await captureCommand.run(['pod/x', '-n', 'shop', '--duration', '5s', '-w', join(dir, 'fine.pcapng')], ok.io), 1);
    assert.match(ok.err(), /^error: cannot reach the cluster at https:\/\/127\.0\.0\.1:1/);
  });

  it('--dry-run -o yaml refuses a namespace the apiserver would refuse (exit 2, nothing on stdout)', async () => {
    for (const ns of ['BAD_NS', 'a'.repeat(64), '-x']) {
      const f = fakeIo(dir, env);
      assert.equal(await captureCommand.run(['pod/x', `--namespace=${ns}`, '--dry-run', '-o', 'yaml'], f.io), 2, ns);
      assert.match(f.err(), /^error: invalid -n ".*": a namespace has at most 63 lowercase letters/);
      assert.equal(f.out(), '');
    }
    const t = fakeIo(dir, env);
    assert.equal(await captureCommand.run(['pod/x', '-n', 'pcapper', '--target-namespace', 'Shop', '--dry-run'], t.io), 2);
    assert.match(t.err(), /invalid --target-namespace "Shop"/);
    const good = fakeIo(dir, env);
    assert.equal(await captureCommand.run(['pod/x', '-n', 'shop', '--dry-run', '-o', 'yaml'], good.io), 0, good.err());
    assert.match(good.out(), /namespace: shop/);
  });

  it('import of a missing source leaves no store entry; summary and merge usage errors are one line plus the hint', async () => {
    const store = join(dir, 'store');
    const f = fakeIo(dir);
    assert.equal(await importCommand.run([join(dir, 'nonexistent.pcap'), '--name', 'nothing', '--store', store], f.io), 1);
    assert.equal(f.err(), `error: cannot import ${join(dir, 'nonexistent.pcap')}: no such file\n`);
    assert.equal(existsSync(join(store, 'nothing')), false, 'no entry');
    writeFileSync(join(dir, 'junk.pcap'), 'not a capture');
    const j = fakeIo(dir);
    assert.equal(await importCommand.run([join(dir, 'junk.pcap'), '--name', 'junk', '--store', store], j.io), 1);
    assert.ok(!readdirSync(store).includes('junk'), `a failed import removes its new entry (${j.err()})`);
    const s = fakeIo(dir);
    assert.equal(await runSummary(['-o', 'yaml', 'x.pcap'], s.io), 2);
    assert.equal(s.err(), 'error: summary: -o must be "table", "json" or "records", not "yaml"\nSee \'kubectl pcap summary --help\' for usage.\n');
    const m = fakeIo(dir);
    assert.equal(await runMerge(['a.pcap'], m.io), 2);
    assert.equal(m.err(), 'error: merge: missing -w OUT (use -w - for stdout)\nSee \'kubectl pcap merge --help\' for usage.\n');
  });

  it('a capture refused outright shows no failure progress before its error line', () => {
    const pc = (targets: { phase: string }[], extra: Record<string, unknown> = {}): PacketCapture => ({ apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: {}, spec: {}, status: { targets: targets.map((t, i) => ({ name: `pod/s/p${i}`, ...t })), ...extra } }) as PacketCapture;
    assert.equal(refusedOutright(pc([{ phase: 'Failed' }, { phase: 'Failed' }])), true);
    assert.equal(refusedOutright(pc([], { progress: 'failure' })), true);
    assert.equal(refusedOutright(pc([{ phase: 'Failed' }, { phase: 'Running' }])), false);
    assert.equal(refusedOutright(pc([{ phase: 'Failed' }], { packets: 3 })), false);
    assert.equal(refusedOutright(pc([])), false);
  });

  it('cleanup', () => rmSync(dir, { recursive: true, force: true }));
});
