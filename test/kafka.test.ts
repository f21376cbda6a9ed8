// The Kafka sink against a real Apache Kafka 4.1 broker (KRaft, test/harness/kafka.ts): keys, counts and
// compression as the broker stored them (Kafka's DumpLogSegments), the broker stopped mid-stream and
// started again (offers never block, drops counted, publishing resumes, nothing unaccounted), raw pcapng
// rebuilt byte-identical (cmp) and readable by capinfos/tshark, and bad configs reported, not thrown.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KafkaSink } from '../src/sink/kafka/sink.js';
import { rawMessageFrom, rebuildPcapng, splitPcapngBlocks } from '../src/sink/kafka/pcapng-messages.js';
import { KafkaBroker, TopicReader, waitFor } from './harness/kafka.js';
import { testdataDir } from './harness/paths.js';

let broker: KafkaBroker;
let work: string;

before(async () => {
  broker = await KafkaBroker.start();
  work = mkdtempSync(join(tmpdir(), 'pcapper-kafka-test-'));
});

after(async () => {
  await broker?.stop();
  broker?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

function sinkOf(input: Record<string, unknown>): KafkaSink {
  const r = KafkaSink.create({ brokers: [broker.bootstrap], ...input });
  if (!r.ok) throw r.error;
  return r.sink;
}

const origin = (pod: string) => ({ namespace: 'shop', capture: 'cap-1', pod });

test('records are published keyed by namespace/capture/pod, packed per key (ndjson/1), batched, lz4-compressed, by the idempotent producer', async () => {
  await broker.createTopic('records-basic', 3);
  const sink = sinkOf({ topic: 'records-basic', compression: 'lz4', batchMaxRecords: 500 });
  const pods = ['web-0', 'web-1', 'db-0'];
  const N = 3_000;
  for (let i = 0; i < N; i++) {
    assert.equal(sink.offer(origin(pods[i % 3]!), { schemaVersion: 1, kind: 'connection', seq: i, pod: pods[i % 3] }), true);
  }
  await waitFor('all records acknowledged', () => sink.status().recordsPublished === N);
  const st = await sink.close();
  assert.deepEqual([st.recordsOffered, st.recordsPublished, st.recordsDropped, st.idempotent], [N, N, 0, true]);

  const reader = await TopicReader.start(broker.bootstrap, 'records-basic');
  let messages = 0;
  try {
    await waitFor(`${N} records consumed`, () => reader.records().length >= N);
    const byKey = new Map<string, number[]>();
    const partitionOfKey = new Map<string, Set<number>>();
    for (const m of reader.records()) {
      const rec = m.record as { seq: number; pod: string; kind: string; schemaVersion: number };
      assert.equal(m.key, `shop/cap-1/${rec.pod}`);
      assert.deepEqual([rec.kind, rec.schemaVersion], ['connection', 1]);
      byKey.set(m.key, [...(byKey.get(m.key) ?? []), rec.seq]);
      partitionOfKey.set(m.key, (partitionOfKey.get(m.key) ?? new Set()).add(m.partition));
    }
    assert.equal(reader.records().length, N);
    // packed: messages of one key, at most 100 records (the default), each saying how many it holds
    assert.ok(reader.messages.length >= N / 100 && reader.messages.length < N / 10, `${reader.messages.length} messages for ${N} records`);
    for (const m of reader.messages) assert.equal(m.headers.get('pcapper-envelope'), 'ndjson/1');
    messages = reader.messages.length;
    assert.deepEqual([...byKey.keys()].sort(), ['shop/cap-1/db-0', 'shop/cap-1/web-0', 'shop/cap-1/web-1']);
    for (const [k, seqs] of byKey) {
      assert.equal(seqs.length, N / 3, k);
      // One partition per key, in order (per-key ordering is what consumers rely on).
      assert.equal(partitionOfKey.get(k)!.size, 1, k);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), k);
    }
  } finally {
    await reader.close();
  }
  // The broker's own view: every batch lz4, from an idempotent producer (producerId >= 0), batched.
  const batches = broker.dumpBatches('records-basic');
  assert.ok(batches.length > 0 && batches.length < N / 10, `${batches.length} batches for ${N} records`);
  for (const b of batches) {
    assert.match(b, /compresscodec: lz4/);
    assert.match(b, /producerId: (\d+)/);
    assert.notEqual(/producerId: (-?\d+)/.exec(b)![1], '-1');
  }
  // the broker stored exactly the messages consumed (one Kafka record per message)
  const stored = batches.reduce((n, b) => n + Number(/ count: (\d+)/.exec(b)![1]), 0);
  assert.equal(stored, messages, `${stored} Kafka records stored, ${messages} messages consumed`);
});

test('broker stopped mid-stream: offers never block, drops are counted, publishing resumes, consumed + dropped == produced', async () => {
  await broker.createTopic('records-fault', 3);
  const sink = sinkOf({ topic: 'records-fault', compression: 'gzip', batchMaxRecords: 200, bufferMaxRecords: 2_000, retryMaxMs: 500, requestTimeoutMs: 3_000 });
  let produced = 0;
  const offerSome = (n: number): void => {
    // offer() is synchronous: the caller never awaits the broker.
    for (let i = 0; i < n; i++) sink.offer(origin(`p-${produced % 4}`), { schemaVersion: 1, kind: 'connection', seq: produced++ });
  };
  offerSome(1_000);
  await waitFor('first records published', () => sink.status().recordsPublished >= 1_000);

  await broker.stop();
  // Keep producing while the broker is gone, until the bound is hit and drops are counted.
  await waitFor('the sink reports the broker unavailable', () => {
    offerSome(50);
    return sink.status().state === 'unavailable';
  });
  const whileDown = await waitFor('records dropped while the broker is down', () => {
    offerSome(200);
    const s = sink.status();
    return s.recordsDropped > 0 && s;
  });
  assert.equal(whileDown.recordsBuffered, 2_000);
  assert.match(whileDown.lastError ?? '', /cannot publish to 127\.0\.0\.1:\d+ \(topic records-fault\)/);

  await broker.startAgain();
  offerSome(500);
  await waitFor('publishing resumed and the buffer drained', () => {
    const s = sink.status();
    return s.state === 'publishing' && s.recordsBuffered === 0 && s.recordsPublished + s.recordsDropped === produced;
  }, 120_000);
  const st = await sink.close();
  assert.equal(st.recordsOffered, produced);
  assert.equal(st.recordsPublished + st.recordsDropped, produced);
  assert.ok(st.recordsDropped > 0);
  assert.equal(st.lastError, undefined);

  const reader = await TopicReader.start(broker.bootstrap, 'records-fault');
  try {
    const expectUnique = produced - st.recordsDropped;
    const seen = new Map<number, number>();
    await waitFor(`${expectUnique} distinct records consumed`, () => {
      seen.clear();
      for (const m of reader.records()) {
        const seq = (m.record as { seq: number }).seq;
        seen.set(seq, (seen.get(seq) ?? 0) + 1);
      }
      return seen.size >= expectUnique;
    });
    const consumed = reader.records().length;
    const duplicates = consumed - seen.size;
    assert.equal(seen.size + st.recordsDropped, produced, 'consumed (distinct) + dropped == produced');
    for (const seq of seen.keys()) assert.ok(seq >= 0 && seq < produced);
    console.log(`# fault: produced=${produced} published=${st.recordsPublished} dropped=${st.recordsDropped} consumed=${consumed} messages=${reader.messages.length} duplicates=${duplicates}`);
  } finally {
    await reader.close();
  }
});

function run(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('raw mode: pcapng blocks in messages of at most 1 MiB, rebuilt byte-identical (cmp) and read by capinfos/tshark', async () => {
  await broker.createTopic('raw-packets', 3);
  await broker.createTopic('raw-records', 1);
  // A multi-MiB single-interface file (mergecap concatenating a vendored capture 250 times), and vendored pcapng
  // files with several interfaces and other block types.
  const web = join(testdataDir(), 'zeek__web.pcap');
  const big = join(work, 'big.pcapng');
  run(['mergecap', '-F', 'pcapng', '-a', '-w', big, ...Array<string>(250).fill(web)]);
  const sources = { big, multi: join(testdataDir(), 'zeek__pcapng-multi-interface.pcapng'), example: join(testdataDir(), 'fpcap__pcapng-example.pcapng') };
  const sink = sinkOf({ topic: 'raw-records', rawTopic: 'raw-packets', compression: 'gzip' });
  for (const [target, file] of Object.entries(sources)) {
    for (const b of splitPcapngBlocks(readFileSync(file))) sink.offerRawBlock('shop', 'cap-1', target, b);
  }
  sink.flushRaw();
  await waitFor('every raw message acknowledged', () => sink.status().rawMessagesPublished > 0 && sink.status().rawMessagesBuffered === 0);
  const st = await sink.close();
  assert.equal(st.rawMessagesDropped, 0);

  const reader = await TopicReader.start(broker.bootstrap, 'raw-packets');
  try {
    await waitFor('all raw messages consumed', () => reader.messages.length >= st.rawMessagesPublished);
    for (const [target, file] of Object.entries(sources)) {
      const mine = reader.messages.filter((m) => m.key === `shop/cap-1/${target}`);
      assert.ok(mine.length > 0, target);
      for (const m of mine) assert.ok(m.value.length <= 1024 * 1024, `${target}: message of ${m.value.length} bytes`);
      if (target === 'big') assert.ok(mine.length >= 3, `big file in ${mine.length} messages`);
      const r = rebuildPcapng(mine.map((m) => rawMessageFrom(m.value, m.headers)));
      assert.deepEqual(r.missing, []);
      const out = join(work, `${target}.rebuilt.pcapng`);
      writeFileSync(out, r.pcapng, { mode: 0o600 });
      run(['cmp', file, out]);
      const count = (f: string) => /Number of packets:\s+(\S+)/.exec(run(['capinfos', '-c', f]))![1];
      assert.equal(count(out), count(file));
      assert.equal(run(['tshark', '-r', out, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length, Number(count(file)));
      // Each message alone is a readable pcapng too.
      const one = join(work, `${target}.one.pcapng`);
      writeFileSync(one, mine[mine.length - 1]!.value, { mode: 0o600 });
      run(['capinfos', '-c', one]);
    }
  } finally {
    await reader.close();
  }
});

test('bad config: a bad topic name is a clear error, not a throw; an unreachable broker is a status, and close accounts every record', async () => {
  const bad = KafkaSink.create({ brokers: [broker.bootstrap], topic: 'flows/by pod' });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.error.message : '', /topic "flows\/by pod" contains "\/"; Kafka topic names use only letters, digits/);

  // A port with nothing listening: the sink starts, accepts without blocking and reports why it cannot publish.
  const r = KafkaSink.create({ brokers: ['127.0.0.1:1'], topic: 'records', requestTimeoutMs: 2_000, retryMaxMs: 200, bufferMaxRecords: 100, batchMaxRecords: 10 });
  assert.ok(r.ok);
  const sink = r.sink;
  for (let i = 0; i < 150; i++) sink.offer(origin('p'), { schemaVersion: 1, kind: 'dns', seq: i });
  const s = await waitFor('unavailable status', () => (sink.status().state === 'unavailable' ? sink.status() : undefined));
  assert.match(s.lastError ?? '', /cannot publish to 127\.0\.0\.1:1 \(topic records\): .*(ECONNREFUSED|connect)/i);
  assert.deepEqual([s.recordsBuffered, s.recordsDropped], [100, 50]);
  const end = await sink.close(0);
  assert.deepEqual([end.recordsOffered, end.recordsPublished, end.recordsDropped, end.state], [150, 0, 150, 'closed']);

  // A valid name for a topic that does not exist (and is not auto-created by the sink).
  const m = sinkOf({ topic: 'no-such-topic', requestTimeoutMs: 2_000, retryMaxMs: 200 });
  m.offer(origin('p'), { schemaVersion: 1, kind: 'dns' });
  const ms = await waitFor('unknown-topic status', () => (m.status().state === 'unavailable' ? m.status() : undefined));
  console.log(`# missing topic: ${ms.lastError}`);
  assert.match(ms.lastError ?? '', /no-such-topic/);
  await m.close(0);
});
