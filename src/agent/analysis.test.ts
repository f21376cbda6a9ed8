// The agent's live analysis over the raw pcap records a ring hands to its subscribers: the same
// records as the library's RecordStream reading the file, connection records out before the end when
// a connection ends, consumers isolated from each other, and the Kafka adapter's keys and counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PcapngMessageCutter, rebuildPcapng } from '../sink/kafka/pcapng-messages.js';
import { PcapSplitter } from '../capture/ring.js';
import { CaptureReader, drain } from '../pcap/reader.js';
import { RecordStream } from '../pcap/records/stream.js';
import type { PcapRecord } from '../pcap/records/types.js';
import { INVALID_VERSION_FILE, testdataFiles } from '../../test/harness/pcap.js';
import { DEFAULT_ANALYSIS, TargetAnalysis, type RecordConsumer, type RecordTarget } from './analysis.js';
import { kafkaAnalysisHook, originOf } from './kafka-consumer.js';

const legacy = testdataFiles().filter((f) => f.endsWith('.pcap') && basename(f) !== INVALID_VERSION_FILE);

/** A ring that replays a file's records to its subscriber (the shape PcapRing.subscribe gives). */
function replay(file: string): { header: Buffer | undefined; records: Buffer[] } | undefined {
  const sp = new PcapSplitter();
  try {
    const records = sp.push(readFileSync(file));
    return { header: sp.header, records };
  } catch {
    return undefined;
  }
}

const target: RecordTarget = { capture: 'cap-1', namespace: 'shop', target: 'pod/shop/web-0' };

let sawEarly = false;
// files tcpdump could have written (the splitter takes them; exotic link-layer headers excepted)
const splittable = legacy.filter((f) => replay(f)?.header !== undefined);
assert.ok(splittable.length >= 5, `${splittable.length} test captures`);
for (const file of splittable) {
  test(`live analysis of ring records = the library over the file: ${basename(file)}`, async () => {
    const r = replay(file);
    if (!r || !r.header) return assert.fail(`cannot split ${file}`);
    const got: PcapRecord[] = [];
    const consumer: RecordConsumer = { offer: (rec, t) => (assert.deepEqual(t, target), got.push(rec)) };
    const a = new TargetAnalysis(target, new Map(), [consumer], { idleSeconds: 1e9, closedSeconds: 1 });
    let listener: { data(b: Buffer): void; end(): void } | undefined;
    a.attach({ header: r.header, subscribe: (l) => ((listener = l), () => (listener = undefined)) });
    let before = 0;
    for (const rec of r.records) {
      listener?.data(rec);
      const t = rec.readUInt32LE(0);
      a.tick(t);
    }
    before = got.filter((x) => x.kind === 'connection').length;
    if (before > 0) sawEarly = true;
    listener?.end();
    assert.equal(a.finished, true);
    assert.equal(listener, undefined, 'unsubscribed at the end');
    // the library over the same file (no expiry)
    const rs = new RecordStream();
    const want: PcapRecord[] = [];
    try {
      await drain(await CaptureReader.open(file), (p) => {
        rs.add(p);
        want.push(...rs.drain());
      });
    } catch {
      // a truncated file: both saw the same complete records
    }
    const fin = rs.finish();
    want.push(...fin.records);
    const sortKey = (x: PcapRecord) => JSON.stringify(x);
    const nonConn = (xs: PcapRecord[]) => xs.filter((x) => x.kind !== 'connection').map(sortKey).sort();
    assert.deepEqual(nonConn(got), nonConn(want), 'DNS/HTTP/HTTP2 records');
    assert.equal(got.filter((x) => x.kind === 'connection').length, fin.summary.conversations.length, 'one connection record per conversation');
    assert.equal(a.packets, fin.summary.packets);
  });
}

test('some test capture has a connection recorded before the end (FIN/RST)', () => {
  // runs after the file tests above (node:test runs top-level tests in order)
  assert.ok(sawEarly);
});

test('a throwing consumer is counted and does not stop the others', () => {
  const r = replay(legacy[0] as string);
  assert.ok(r?.header);
  const got: PcapRecord[] = [];
  const a = new TargetAnalysis(target, new Map(), [{ offer: () => { throw new Error('boom'); } }, { offer: (x) => got.push(x) }]);
  for (const rec of r.records) a.addRecord(rec, r.header);
  a.end();
  assert.ok(got.length > 0);
  assert.equal(a.consumerErrors, got.length);
});

test('kafka adapter: records keyed by capture and pod, per-target counts from the sink', async () => {
  const offered: { origin: unknown; kind: string }[] = [];
  const counts = new Map<string, { recordsOffered: number; recordsPublished: number; recordsDropped: number }>();
  const sink = {
    offer: (origin: { namespace: string; capture: string; pod: string }, rec: { kind: string }) => {
      offered.push({ origin, kind: rec.kind });
      const k = `${origin.namespace}/${origin.capture}/${origin.pod}`;
      const c = counts.get(k) ?? { recordsOffered: 0, recordsPublished: 0, recordsDropped: 0 };
      c.recordsOffered++;
      counts.set(k, c);
      return true;
    },
    originStatus: (o: { namespace: string; capture: string; pod: string }) => counts.get(`${o.namespace}/${o.capture}/${o.pod}`) ?? { recordsOffered: 0, recordsPublished: 0, recordsDropped: 0 },
    forgetOrigin: (o: { namespace: string; capture: string; pod: string }) => void counts.delete(`${o.namespace}/${o.capture}/${o.pod}`),
  };
  const hook = kafkaAnalysisHook({ sinkFor: (c) => (c.name === 'cap-1' ? sink : undefined), settleMs: 2000, sleep: () => {
    // the broker acknowledges half, the rest is dropped
    for (const c of counts.values()) {
      c.recordsPublished = Math.ceil(c.recordsOffered / 2);
      c.recordsDropped = c.recordsOffered - c.recordsPublished;
    }
    return Promise.resolve();
  } });
  assert.equal(hook.consumersFor({ namespace: 'shop', name: 'other' }).length, 0, 'no sink: not analysed');
  const consumers = hook.consumersFor({ namespace: 'shop', name: 'cap-1' });
  assert.equal(consumers.length, 1);
  const rec = { schemaVersion: 1, kind: 'dns' } as unknown as PcapRecord;
  for (let i = 0; i < 5; i++) consumers[0]?.offer(rec, target);
  consumers[0]?.offer(rec, { ...target, target: 'node/node-a/eth0' });
  assert.deepEqual(offered[0]?.origin, { namespace: 'shop', capture: 'cap-1', pod: 'web-0' });
  assert.deepEqual(offered[5]?.origin, { namespace: 'shop', capture: 'cap-1', pod: 'node/node-a/eth0' });
  assert.deepEqual(hook.counts(target), { recordsPublished: 0, recordsDropped: 0 });
  assert.deepEqual(await hook.settled(target), { recordsPublished: 3, recordsDropped: 2 });
  hook.forget?.(target);
  assert.deepEqual(hook.counts(target), { recordsPublished: 0, recordsDropped: 0 });
  assert.deepEqual(originOf({ capture: 'c', namespace: 'n', target: 'pod/n/p-1' }), { namespace: 'n', capture: 'c', pod: 'p-1' });
});

test('kafkaAnalysisHook: without a sink a capture is analysed only in PCAPPER_ANALYSIS=all, for the extra consumers (pod-pair metrics)', () => {
  const pairs: RecordConsumer = { offer: () => undefined };
  const sinksOnly = kafkaAnalysisHook({ sinkFor: () => undefined, extra: [pairs] });
  assert.deepEqual(sinksOnly.consumersFor({ namespace: 'ns', name: 'c' }), [], 'no sink, default mode: not analysed');
  const all = kafkaAnalysisHook({ sinkFor: () => undefined, extra: [pairs], analyseAll: true });
  assert.deepEqual(all.consumersFor({ namespace: 'ns', name: 'c' }), [pairs]);
});

/** Every packet of a capture file: timestamp (s, ns), original length, link type and bytes. */
async function packetsOf(file: string): Promise<string[]> {
  const out: string[] = [];
  // a truncated file: every complete packet before the cut (what the ring's splitter hands out too)
  await drain(await CaptureReader.open(file), (p) => out.push(`${p.tsSec}.${p.tsNsec} ${p.origLen} ${p.linkType} ${p.data.subarray(p.dataOffset, p.dataOffset + p.caplen).toString('hex')}`)).catch(
    (e: unknown) => assert.equal((e as Error).name, 'PcapFormatError', String(e)),
  );
  return out;
}

test('raw mode: the pcapng blocks of a target carry every packet of the ring, same timestamps and bytes, cut and rebuilt byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcapper-raw-'));
  try {
    let files = 0;
    for (const file of splittable.slice(0, 6)) {
      const r = replay(file);
      if (!r?.header) continue;
      const blocks: Buffer[] = [];
      let flushes = 0;
      const cutter = new PcapngMessageCutter(64 * 1024);
      const messages: { seq: number; skip: number; value: Buffer }[] = [];
      const raw = {
        block: (b: Buffer, t: RecordTarget) => {
          assert.deepEqual(t, target);
          blocks.push(b);
          messages.push(...cutter.push(b).messages);
        },
        flush: () => {
          flushes++;
          const m = cutter.flush();
          if (m) messages.push(m);
        },
      };
      const a = new TargetAnalysis(target, new Map(), [{ offer: () => undefined }], DEFAULT_ANALYSIS, raw);
      r.records.forEach((rec, i) => {
        a.addRecord(rec, r.header);
        if (i % 50 === 49) a.tick(rec.readUInt32LE(0));
      });
      a.end();
      assert.ok(flushes >= 1, 'flushed at the end');
      const stream = Buffer.concat(blocks);
      const f = join(dir, `${basename(file)}.pcapng`);
      writeFileSync(f, stream, { mode: 0o600 });
      assert.deepEqual(await packetsOf(f), await packetsOf(file), `${basename(file)}: same packets, timestamps and bytes`);
      const rebuilt = rebuildPcapng(messages.reverse());
      assert.deepEqual(rebuilt.missing, []);
      assert.ok(rebuilt.pcapng.equals(stream), `${basename(file)}: rebuilt from ${messages.length} messages = the stream`);
      files++;
    }
    assert.ok(files >= 3, `${files} files`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kafkaAnalysisHook: raw mode only for a sink with rawTopic; blocks keyed by the target pod', () => {
  const base = { offer: () => true, originStatus: () => ({ recordsOffered: 0, recordsPublished: 0, recordsDropped: 0 }), forgetOrigin: () => undefined };
  const got: string[] = [];
  const raw = { ...base, config: { rawTopic: 'pcapper.raw' }, offerRawBlock: (ns: string, cap: string, t: string, b: Buffer) => void got.push(`${ns}/${cap}/${t} ${b.length}`), flushRaw: () => void got.push('flush') };
  const noRaw = { ...base, config: {}, offerRawBlock: () => undefined, flushRaw: () => undefined };
  assert.equal(kafkaAnalysisHook({ sinkFor: () => noRaw }).rawFor?.({ namespace: 'shop', name: 'cap-1' }), undefined);
  assert.equal(kafkaAnalysisHook({ sinkFor: () => base }).rawFor?.({ namespace: 'shop', name: 'cap-1' }), undefined);
  const c = kafkaAnalysisHook({ sinkFor: () => raw }).rawFor?.({ namespace: 'shop', name: 'cap-1' });
  assert.ok(c);
  c.block(Buffer.alloc(28), target);
  c.flush();
  assert.deepEqual(got, ['shop/cap-1/web-0 28', 'flush']);
});
