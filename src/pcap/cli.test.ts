// Tests of the `summary` and `merge` commands (src/cli/commands), run in-process with captured streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runSummary } from '../cli/commands/summary.js';
import { runMerge } from '../cli/commands/merge.js';
import { writeCaptureMetadata } from './metadata.js';
import { runTool, sampleMetadata, testdataFiles, tsharkFrames } from '../../test/harness/pcap.js';

function io(): { io: { stdout: PassThrough; stderr: PassThrough }; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  stdout.on('data', (c: Buffer) => o.push(c));
  stderr.on('data', (c: Buffer) => e.push(c));
  return { io: { stdout, stderr }, out: () => Buffer.concat(o).toString('utf8'), err: () => Buffer.concat(e).toString('utf8') };
}

const files = testdataFiles();
const byName = (n: string) => files.find((f) => basename(f) === n)!;
const tmp = mkdtempSync(join(tmpdir(), 'pcapper-cli-test-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('summary -o json: packets and conversations', async () => {
  const t = io();
  const code = await runSummary(['-o', 'json', byName('zeek__http_get.pcap')], t.io);
  assert.equal(code, 0, t.err());
  const j = JSON.parse(t.out()) as { packets: number; conversations: { protocol: string; a: unknown; b: unknown; packets: number; bytes: number }[] };
  assert.equal(j.packets, tsharkFrames(byName('zeek__http_get.pcap')).length);
  assert.equal(j.conversations.length, 1);
  assert.equal(j.conversations[0]?.protocol, 'tcp');
  assert.equal(j.conversations[0]?.packets, j.packets);
});

test('summary picks up the metadata sidecar and names endpoints by pod', async () => {
  const pcap = join(tmp, 'web.pcap');
  copyFileSync(byName('zeek__web.pcap'), pcap);
  await writeCaptureMetadata(pcap, sampleMetadata({ endpoints: { '125.190.109.199': { pod: 'frontend-1', namespace: 'shop', node: 'node-b' } } }));
  const t = io();
  assert.equal(await runSummary([pcap, '--width', '80'], t.io), 0, t.err());
  // the only pod is in namespace shop: the table says so once and shows the pod name alone
  assert.match(t.out(), /pods in namespace shop/);
  assert.match(t.out(), / frontend-1:80 /);
  for (const line of t.out().split('\n')) assert.ok([...line].length <= 80, line);
});

test('summary errors: one line naming file, offset and problem; exit 1; no stack trace', async () => {
  const t = io();
  const cut = byName('fpcap__RICS2021_787__fwscada_20200625_160926.pcap');
  assert.equal(await runSummary(['-o', 'json', cut], t.io), 1);
  const lines = t.err().trim().split('\n');
  assert.equal(lines.length, 1);
  assert.equal(lines[0], `error: ${cut}: offset 536552: file ends inside packet data of record #6719 (needs 42 bytes, 8 left)`);
  assert.equal((JSON.parse(t.out()) as { packets: number }).packets, 6718);
  const bad = io();
  const inv = byName('libpcap__pcap-invalid-version-1.pcap');
  assert.equal(await runSummary([inv], bad.io), 1);
  assert.equal(bad.err().trim(), `error: ${inv}: offset 4: unsupported pcap version 1.4 (only 2.x is defined)`);
  const missing = io();
  assert.equal(await runSummary(['/nonexistent.pcap'], missing.io), 1);
  assert.match(missing.err(), /^error: \/nonexistent\.pcap: cannot open: .*ENOENT/);
  assert.doesNotMatch(missing.err(), /\n\s+at /);
  const usage = io();
  assert.equal(await runSummary(['-o', 'yaml', inv], usage.io), 2);
  assert.match(usage.err(), /^error: summary: -o must be "table", "json" or "records", not "yaml"/);
});

test('merge names interfaces <node>/<namespace>/<pod> from sidecars and writes 0600', async () => {
  const a = join(tmp, 'a.pcap');
  const b = join(tmp, 'b.pcap');
  copyFileSync(byName('zeek__http_get.pcap'), a);
  copyFileSync(byName('tcpdump__tcp-handshake-nano.pcap'), b);
  await writeCaptureMetadata(a, sampleMetadata({ nodeName: 'node-a', pod: { name: 'web-1', namespace: 'shop', uid: 'u', ips: [] } }));
  await writeCaptureMetadata(b, sampleMetadata({ nodeName: 'node-b', targetKind: 'node', pod: null, interfaces: ['eth1'] }));
  const out = join(tmp, 'merged.pcapng');
  const t = io();
  assert.equal(await runMerge([a, b, '-w', out], t.io), 0, t.err());
  const names = new Set(runTool('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.interface_name']).stdout.split('\n').filter(Boolean));
  assert.deepEqual([...names].sort(), ['node-a/shop/web-1', 'node-b/eth1']);
  assert.match(runTool('capinfos', ['-M', out]).stdout, /Number of packets:\s+17/);
  const { statSync } = await import('node:fs');
  assert.equal(statSync(out).mode & 0o777, 0o600);
});

test('merge -w - writes pcapng to stdout; usage and input errors', async () => {
  const out = join(tmp, 'stdout.pcapng');
  const u = io();
  const bytes: Buffer[] = [];
  u.io.stdout.on('data', (c: Buffer) => bytes.push(c));
  assert.equal(await runMerge([byName('zeek__web.pcap'), '-w', '-'], u.io), 0, u.err());
  assert.equal(u.err(), ''); // nothing but data on stdout, nothing on stderr
  writeFileSync(out, Buffer.concat(bytes));
  assert.equal(tsharkFrames(out).length, 24);
  const tty = io();
  Object.assign(tty.io.stdout, { isTTY: true });
  assert.equal(await runMerge([byName('zeek__web.pcap'), '-w', '-'], tty.io), 2);
  assert.match(tty.err(), /refusing to write a binary capture to a terminal/);
  const noOut = io();
  assert.equal(await runMerge([byName('zeek__web.pcap')], noOut.io), 2);
  assert.match(noOut.err(), /missing -w OUT/);
  const bad = io();
  const inv = byName('libpcap__pcap-invalid-version-1.pcap');
  assert.equal(await runMerge([byName('zeek__web.pcap'), inv, '-w', join(tmp, 'x.pcapng')], bad.io), 1);
  assert.match(bad.err(), new RegExp(`error: ${inv.replace(/[.]/g, '\\.')}: offset 4: unsupported pcap version 1\\.4`));
});
