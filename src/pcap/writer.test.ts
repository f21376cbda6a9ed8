import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CaptureReader, drain, RecordKind } from './reader.js';
import { PcapngWriter, PcapWriter } from './writer.js';
import { mergeCaptures } from './merge.js';
import { PcapFormatError } from './errors.js';
import { INVALID_VERSION_FILE, normaliseEpoch, runTool, testdataFiles, tsharkFrames } from '../../test/harness/pcap.js';

const files = testdataFiles().filter((f) => basename(f) !== INVALID_VERSION_FILE);
const tmp = mkdtempSync(join(tmpdir(), 'pcapper-writer-test-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Copies every packet of `file` through PcapngWriter (one IDB per input interface, same resolution). */
async function rewritePcapng(file: string, out: string): Promise<void> {
  const r = await CaptureReader.open(file);
  const w = new PcapngWriter(createWriteStream(out));
  w.writeSection({ comments: [`copy of ${basename(file)}`] });
  const ids = new Map<number, number>();
  try {
    await drain(r, (p) => {
      let id = ids.get(p.interfaceId);
      if (id === undefined) {
        const i = r.interfaces[p.interfaceId]!;
        id = w.addInterface({ linkType: i.linkType, snapLength: i.snapLength, name: i.name ?? `if${p.interfaceId}`, tsresol: i.tsresol, tsOffset: i.tsOffset });
        ids.set(p.interfaceId, id);
      }
      if (p.recordKind === RecordKind.Spb) w.writePacket(id, p.tsSec, p.tsNsec, p.data.subarray(p.dataOffset, p.dataOffset + p.caplen), p.origLen);
      else w.writePacket(id, p.tsSec, p.tsNsec, p.data.subarray(p.dataOffset, p.dataOffset + p.caplen), p.origLen, p.packetComments());
    });
  } catch (err) {
    if (!(err instanceof PcapFormatError)) throw err;
  }
  await w.end();
}

function sameFrames(original: string, copy: string, opts: { checkTime: boolean; usec?: boolean }): void {
  const a = tsharkFrames(original);
  const b = tsharkFrames(copy);
  assert.equal(b.length, a.length, 'frame count');
  for (const [i, fa] of a.entries()) {
    const fb = b[i]!;
    assert.equal(fb.len, fa.len, `frame ${i + 1} len`);
    assert.equal(fb.caplen, fa.caplen, `frame ${i + 1} caplen`);
    assert.equal(fb.md5, fa.md5, `frame ${i + 1} bytes`);
    if (opts.checkTime && fa.time !== '') {
      const ta = normaliseEpoch(fa.time);
      assert.equal(normaliseEpoch(fb.time), opts.usec ? `${ta.slice(0, -3)}000` : ta, `frame ${i + 1} time`);
    }
  }
}

for (const file of files) {
  test(`pcapng writer round trip, read back by tshark: ${basename(file)}`, async () => {
    const out = join(tmp, `${basename(file)}.rt.pcapng`);
    await rewritePcapng(file, out);
    sameFrames(file, out, { checkTime: true });
    // comments survive
    const comments = (f: string) =>
      runTool('tshark', ['-r', f, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.interface_id', '-e', 'frame.comment'])
        .stdout.split('\n')
        .map((l) => l.split('\t'))
        .filter((c) => c.length === 3 && (c[0] !== '' || c[1] !== '')) // custom blocks: no time, no interface
        .map((c) => c[2]);
    assert.deepEqual(comments(out), comments(file));
  });
}

test('pcap writer round trip (µs and ns), read back by tshark', async () => {
  const file = files.find((f) => basename(f) === 'zeek__http_get.pcap')!;
  for (const nanosecond of [false, true]) {
    const out = join(tmp, `rt-${nanosecond ? 'ns' : 'us'}.pcap`);
    const r = await CaptureReader.open(file);
    const w = new PcapWriter(createWriteStream(out), { linkType: r.interfaces[0]!.linkType, nanosecond });
    await drain(r, (p) => w.writePacket(p.tsSec, p.tsNsec, p.data, p.dataOffset, p.caplen, p.origLen));
    await w.end();
    sameFrames(file, out, { checkTime: true });
    assert.match(runTool('capinfos', ['-t', out]).stdout, nanosecond ? /Wireshark\/tcpdump\/\.\.\. - nanosecond pcap/ : /Wireshark\/tcpdump\/\.\.\. - pcap/);
  }
});

test('merge: strictly time-ordered, ties keep input order, one named interface per input interface', async () => {
  const pick = ['zeek__http_get.pcap', 'zeek__pcapng-multi-interface.pcapng', 'tcpdump__tcp-handshake-nano.pcap', 'tcpdump__pptp.pcap'];
  const inputs = pick.map((n, i) => ({ path: files.find((f) => basename(f) === n)!, name: `node-${i}/ns/pod-${i}`, comments: [`input ${i}`] }));
  // the same file twice: every timestamp ties, the first input must come first
  inputs.push({ path: inputs[0]!.path, name: 'node-9/ns/dup', comments: [] });
  const out = join(tmp, 'merged.pcapng');
  const res = await mergeCaptures(inputs, createWriteStream(out));
  assert.deepEqual(res.errors, []);
  const expected = inputs.reduce((n, i) => n + tsharkFrames(i.path).length, 0);
  assert.equal(res.packets, expected);
  const rows = runTool('tshark', ['-n', '-r', out, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.interface_name', '-e', 'frame.interface_id'])
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
  assert.equal(rows.length, expected);
  const key = (t: string) => {
    const [s, f] = normaliseEpoch(t).split('.');
    return BigInt(s!) * 1000000000n + BigInt(f!);
  };
  for (let i = 1; i < rows.length; i++) {
    const prev = key(rows[i - 1]![0]!);
    const cur = key(rows[i]![0]!);
    assert.ok(prev <= cur, `frame ${i + 1} goes back in time`);
    if (prev === cur && rows[i - 1]![1] === 'node-9/ns/dup') assert.notEqual(rows[i]![1], 'node-0/ns/pod-0', `tie at frame ${i + 1} not in input order`);
  }
  const names = new Set(rows.map((r) => r[1]));
  assert.deepEqual([...names].sort(), ['node-0/ns/pod-0', 'node-1/ns/pod-1#\\Device\\NPF_{5AE6EDB4-EFF9-46B3-A3C2-EE50C688A9E6}', 'node-1/ns/pod-1#eth0', 'node-2/ns/pod-2', 'node-3/ns/pod-3', 'node-9/ns/dup'].sort());
  const ci = runTool('capinfos', ['-M', out]).stdout;
  assert.match(ci, /Number of interfaces in file: 6/);
  assert.match(ci, /Strict time order:\s+True/);
  // each input's packets are unchanged (compare per interface with the source files)
  for (const [i, input] of inputs.entries()) {
    const ours = runTool('tshark', ['-n', '-o', 'frame.generate_md5_hash:TRUE', '-r', out, '-Y', `frame.interface_name matches "^${input.name.replace(/[/]/g, '.')}"`, '-T', 'fields', '-e', 'frame.md5_hash', '-e', 'frame.len']).stdout;
    const theirs = tsharkFrames(input.path).map((f) => `${f.md5}\t${f.len}`).join('\n');
    assert.equal(ours.trim(), theirs.trim(), `input ${i} packets`);
  }
});

test('merge: a corrupt input contributes its packets before the error; others continue', async () => {
  const good = files.find((f) => basename(f) === 'zeek__web.pcap')!;
  const cut = files.find((f) => basename(f).startsWith('fpcap__RICS2021'))!;
  const bad = join(tmp, 'bad.txt');
  const fs = await import('node:fs/promises');
  await fs.writeFile(bad, 'not a capture at all');
  const out = join(tmp, 'merged-bad.pcapng');
  const res = await mergeCaptures([{ path: good }, { path: cut }, { path: bad }], createWriteStream(out));
  assert.equal(res.errors.length, 2);
  assert.ok(res.errors.every((e) => e instanceof PcapFormatError));
  assert.equal(res.packets, tsharkFrames(good).length + tsharkFrames(cut).length);
  assert.equal(tsharkFrames(out).length, res.packets);
});

test('merge: the ring files of one target (same name) become one interface', async () => {
  const src = files.find((f) => basename(f) === 'zeek__http_get.pcap')!;
  const total = tsharkFrames(src).length;
  // editcap -c splits the capture the way tcpdump -C rotates it: consecutive files, same link type.
  const ringBase = join(tmp, 'ring.pcap');
  runTool('editcap', ['-F', 'pcap', '-c', String(Math.ceil(total / 3)), src, ringBase]);
  const ring = readdirSync(tmp)
    .filter((f) => f.startsWith('ring_'))
    .sort()
    .map((f) => join(tmp, f));
  assert.ok(ring.length >= 3, `editcap made ${ring.length} files`);
  const other = files.find((f) => basename(f) === 'tcpdump__tcp-handshake-nano.pcap')!;
  const inputs = [
    ...ring.map((path) => ({ path, name: 'node-a/shop/web-0' })),
    { path: other, name: 'node-b/shop/db-0' },
  ];
  const out = join(tmp, 'merged-ring.pcapng');
  const res = await mergeCaptures(inputs, createWriteStream(out));
  assert.deepEqual(res.errors, []);
  assert.equal(res.packets, total + tsharkFrames(other).length);
  assert.deepEqual(
    res.interfaces.map((i) => i.name),
    ['node-a/shop/web-0', 'node-b/shop/db-0'],
  );
  assert.match(runTool('capinfos', ['-M', out]).stdout, /Number of interfaces in file: 2/);
  const ids = runTool('tshark', ['-n', '-r', out, '-Y', 'frame.interface_name == "node-a/shop/web-0"', '-T', 'fields', '-e', 'frame.interface_id'])
    .stdout.split('\n')
    .filter(Boolean);
  assert.equal(ids.length, total);
  assert.deepEqual([...new Set(ids)], ['0']);
});
