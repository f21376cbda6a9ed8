// The sink's shell with an injected producer (a fake standing in for the broker's answers, so that the
// broker's refusals can be chosen); the real broker is in test/kafka.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutMessage, ProducerLike } from './producer.js';
import { COUNT_HEADER, decodeRecordMessage, ENVELOPE, ENVELOPE_HEADER, packRecords, RecordEnvelopeError } from './record.js';
import { KafkaSink } from './sink.js';

/** The records of the messages sent, in order, as a consumer reads them. */
const recordsOf = (ms: readonly OutMessage[]) => ms.flatMap((m) => decodeRecordMessage(m.value, m.headers) as Array<{ i: number }>);

class FakeProducer implements ProducerLike {
  sent: OutMessage[][] = [];
  failWith: Error | undefined;
  maxBatchBytes = Infinity;
  async send(messages: readonly OutMessage[]): Promise<void> {
    await Promise.resolve();
    if (this.failWith) throw this.failWith;
    const bytes = messages.reduce((n, m) => n + m.value.length, 0);
    if (bytes > this.maxBatchBytes) throw new Error('MESSAGE_TOO_LARGE: The request included a message larger than the max message size the server will accept');
    this.sent.push([...messages]);
  }
  async close(): Promise<void> {}
}

async function until(what: string, f: () => boolean): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (f()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never: ${what}`);
}

const origin = { namespace: 'ns', capture: 'c', pod: 'p' };
// The injected clock: every back-off or linger lasts one event-loop turn.
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a batch the broker finds too large is halved until it fits; a record too large alone is dropped and counted', async () => {
  const fake = new FakeProducer();
  fake.maxBatchBytes = 5_000;
  const r = KafkaSink.create({ brokers: ['k:9092'], topic: 't', lingerMs: 0, batchMaxRecords: 1_000 }, { producer: () => fake, sleep: nextTurn });
  assert.ok(r.ok);
  for (let i = 0; i < 100; i++) r.sink.offer(origin, { schemaVersion: 1, kind: 'x', pad: 'y'.repeat(200), i });
  r.sink.offer(origin, { schemaVersion: 1, kind: 'x', pad: 'z'.repeat(10_000) });
  await until('all handled', () => r.sink.status().recordsBuffered === 0);
  const st = await r.sink.close(0);
  assert.deepEqual([st.recordsOffered, st.recordsPublished, st.recordsDropped], [101, 100, 1]);
  assert.ok(fake.sent.every((b) => b.reduce((n, m) => n + m.value.length, 0) <= 5_000));
  assert.deepEqual(recordsOf(fake.sent.flat()).map((r) => r.i), [...Array(100).keys()]);
  assert.ok(fake.sent.flat().every((m) => m.key === 'ns/c/p'));
});

test('while the broker fails, offers return at once; the same batch is retried; the status says why', async () => {
  const fake = new FakeProducer();
  fake.failWith = new Error('Connection to k:9092 failed', { cause: new Error('connect ECONNREFUSED') });
  const r = KafkaSink.create({ brokers: ['k:9092'], topic: 't', lingerMs: 0, batchMaxRecords: 10, bufferMaxRecords: 20 }, { producer: () => fake, sleep: nextTurn });
  assert.ok(r.ok);
  const kept = Array.from({ length: 30 }, (_, i) => r.sink.offer(origin, { schemaVersion: 1, kind: 'x', i }));
  assert.equal(kept.filter(Boolean).length, 20);
  await until('unavailable', () => r.sink.status().state === 'unavailable');
  assert.match(r.sink.status().lastError ?? '', /cannot publish to k:9092 \(topic t\): Connection to k:9092 failed: connect ECONNREFUSED/);
  fake.failWith = undefined;
  await until('drained', () => r.sink.status().recordsBuffered === 0);
  const st = await r.sink.close(0);
  assert.deepEqual([st.recordsPublished, st.recordsDropped, st.state, st.lastError], [20, 10, 'closed', undefined]);
  assert.deepEqual(recordsOf(fake.sent.flat()).map((r) => r.i), [...Array(20).keys()]);
});

test('a broker that refuses the idempotent producer: the sink falls back to acks=all and says so', async () => {
  const made: boolean[] = [];
  const fake = new FakeProducer();
  fake.failWith = new Error('CLUSTER_AUTHORIZATION_FAILED: Cluster authorization failed (IDEMPOTENT_WRITE)');
  const r = KafkaSink.create({ brokers: ['k:9092'], topic: 't', lingerMs: 0 }, {
    producer: (_c, idem) => {
      made.push(idem);
      if (!idem) fake.failWith = undefined;
      return fake;
    },
    sleep: nextTurn,
  });
  assert.ok(r.ok);
  r.sink.offer(origin, { schemaVersion: 1, kind: 'x' });
  await until('published', () => r.sink.status().recordsPublished === 1);
  assert.deepEqual(made, [true, false]);
  assert.equal(r.sink.status().idempotent, false);
  await r.sink.close(0);
});

test('records of one key are packed into messages of at most recordsPerMessage, in order per key; the envelope says how many', async () => {
  const fake = new FakeProducer();
  const r = KafkaSink.create({ brokers: ['k:9092'], topic: 't', lingerMs: 0, batchMaxRecords: 1_000, recordsPerMessage: 4 }, { producer: () => fake, sleep: nextTurn });
  assert.ok(r.ok);
  const pods = ['a', 'b', 'c'];
  // offered before the loop runs: one batch of 30 records, interleaved across three keys
  for (let i = 0; i < 30; i++) r.sink.offer({ namespace: 'ns', capture: 'c', pod: pods[i % 3]! }, { schemaVersion: 1, kind: 'x', i, text: 'line\nbreak "quoted" é' });
  await until('published', () => r.sink.status().recordsPublished === 30);
  const st = await r.sink.close(0);
  assert.deepEqual([st.recordsOffered, st.recordsPublished, st.recordsDropped], [30, 30, 0]);
  const msgs = fake.sent.flat();
  assert.equal(msgs.length, 9, 'three keys x ceil(10 / 4) messages');
  for (const m of msgs) {
    assert.equal(m.headers?.[ENVELOPE_HEADER], ENVELOPE);
    const recs = decodeRecordMessage(m.value, m.headers) as Array<{ i: number; text: string }>;
    assert.equal(Number(m.headers?.[COUNT_HEADER]), recs.length);
    assert.ok(recs.length <= 4);
    assert.ok(recs.every((x) => x.text === 'line\nbreak "quoted" é' && pods[x.i % 3] === m.key.split('/')[2]));
  }
  for (const p of pods) {
    const mine = recordsOf(msgs.filter((m) => m.key === `ns/c/${p}`)).map((x) => x.i);
    assert.deepEqual(mine, [...Array(30).keys()].filter((i) => pods[i % 3] === p));
  }
  // per-key counts in status follow the packed acknowledgements
  assert.deepEqual(r.sink.originStatus({ namespace: 'ns', capture: 'c', pod: 'b' }), { recordsOffered: 10, recordsPublished: 10, recordsDropped: 0 });
});

test('recordsPerMessage 1: one JSON record per message, readable with JSON.parse alone, no envelope headers', () => {
  const items = [0, 1, 2].map((i) => ({ topic: 't', key: 'ns/c/p', value: JSON.stringify({ schemaVersion: 1, kind: 'x', i }) }));
  const msgs = packRecords(items, 1);
  assert.deepEqual(msgs.map((m) => (JSON.parse(m.value.toString()) as { i: number }).i), [0, 1, 2]);
  assert.ok(msgs.every((m) => m.headers === undefined), 'no envelope headers: a plain record per message');
});

test('a consumer: legacy messages without the envelope are one record; an unknown envelope or a wrong count is a clear error', () => {
  assert.deepEqual(decodeRecordMessage(Buffer.from('{"schemaVersion":1,"kind":"x"}')), [{ schemaVersion: 1, kind: 'x' }]);
  assert.deepEqual(decodeRecordMessage(Buffer.from('{"a":1}\n{"a":2}'), new Map([[ENVELOPE_HEADER, ENVELOPE]])), [{ a: 1 }, { a: 2 }]);
  assert.throws(() => decodeRecordMessage(Buffer.from('{}'), { [ENVELOPE_HEADER]: 'ndjson/2' }), (e: unknown) => e instanceof RecordEnvelopeError && /ndjson\/2.*not known here.*update the consumer/.test(e.message));
  assert.throws(() => decodeRecordMessage(Buffer.from('{}\n{}'), { [ENVELOPE_HEADER]: ENVELOPE, [COUNT_HEADER]: '3' }), /says 3 records but holds 2/);
});
