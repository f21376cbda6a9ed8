// The sink's shell with an injected producer (a fake standing in for the broker's answers, so that the
// broker's refusals can be chosen); the real broker is in test/kafka.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutMessage, ProducerLike } from './producer.js';
import { KafkaSink } from './sink.js';

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
  assert.deepEqual(fake.sent.flat().map((m) => (JSON.parse(m.value.toString()) as { i: number }).i), [...Array(100).keys()]);
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
  assert.deepEqual(fake.sent.flat().map((m) => (JSON.parse(m.value.toString()) as { i: number }).i), [...Array(20).keys()]);
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
