// PacketCaptureSink -> the sink's input: secret entries read from the mounted Secret, a missing
// entry said plainly; the cache builds one sink per object generation and reports bad configs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SinkCache, sinkInputOf, type SinkObject } from './sinks.js';
import type { ProducerLike } from '../sink/kafka/producer.js';

/** Test objects as the API returns them (optional fields absent). */
const obj = (x: unknown): SinkObject => x as SinkObject;
const base = obj({ metadata: { name: 'flows', generation: 1 }, spec: { kafka: { brokers: ['kafka.infra:9092'], topic: 'pcapper.records' } } });

test('settings from the object, secrets from the entries it names', () => {
  const o = obj({ metadata: { name: 'flows' }, spec: { kafka: { brokers: ['k:9093'], topic: 't', compression: 'gzip', tls: { caEntry: 'ca.pem' }, sasl: { mechanism: 'SCRAM-SHA-512', usernameEntry: 'user', passwordEntry: 'pass' } } } });
  const entries: Record<string, string> = { 'ca.pem': 'PEM', user: 'u', pass: 'p' };
  const r = sinkInputOf(o, (n) => entries[n]);
  assert.ok(r.ok);
  assert.deepEqual(r.input, { brokers: ['k:9093'], topic: 't', compression: 'gzip', tls: { ca: 'PEM' }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' } });
  const bad = sinkInputOf(o, (n) => (n === 'pass' ? undefined : entries[n]));
  assert.ok(!bad.ok);
  assert.match(bad.error, /Secret pcapper-sink-credentials has no entry pass .*add it/);
});

test('a small bufferMaxRecords (the CRD allows >= 1) also bounds the batch, so the sink accepts it', async () => {
  const small = obj({ metadata: { name: 'small', generation: 1 }, spec: { kafka: { brokers: ['k:9092'], topic: 't', bufferMaxRecords: 5 } } });
  const r = sinkInputOf(small, () => undefined);
  assert.ok(r.ok);
  assert.deepEqual(r.input, { brokers: ['k:9092'], topic: 't', bufferMaxRecords: 5, batchMaxRecords: 5 });
  const big = sinkInputOf(obj({ metadata: { name: 'big' }, spec: { kafka: { brokers: ['k:9092'], topic: 't', bufferMaxRecords: 50000 } } }), () => undefined);
  assert.ok(big.ok);
  assert.deepEqual(big.input, { brokers: ['k:9092'], topic: 't', bufferMaxRecords: 50000 });
  const producer = (): ProducerLike => ({ send: () => Promise.resolve(), close: () => Promise.resolve() });
  const cache = new SinkCache(() => [small], () => undefined, { producer, sleep: () => Promise.resolve() });
  assert.ok(cache.sinkFor('small'), [...cache.errors.values()].join('; '));
  assert.equal(cache.errors.size, 0);
  await cache.close(100);
});

test('cache: one sink per generation, bad configs and unknown names reported', async () => {
  let objects: SinkObject[] = [base];
  const producer = (): ProducerLike => ({ send: () => Promise.resolve(), close: () => Promise.resolve() });
  const cache = new SinkCache(() => objects, () => undefined, { producer, sleep: () => Promise.resolve() });
  const a = cache.sinkFor('flows');
  assert.ok(a);
  assert.equal(cache.sinkFor('flows'), a, 'same generation: same sink');
  assert.equal(cache.sinkFor(undefined), undefined);
  assert.equal(cache.sinkFor('nope'), undefined);
  assert.match(cache.errors.get('nope') ?? '', /PacketCaptureSink nope not found/);
  objects = [obj({ ...base, metadata: { name: 'flows', generation: 2 }, spec: { kafka: { brokers: ['kafka.infra:9092'], topic: 'bad/topic' } } })];
  assert.equal(cache.sinkFor('flows'), a, 'a bad new generation keeps the running sink');
  assert.match(cache.errors.get('flows') ?? '', /topic/);
  objects = [{ ...base, metadata: { name: 'flows', generation: 3 } }];
  const b = cache.sinkFor('flows');
  assert.ok(b && b !== a, 'a good new generation: a new sink');
  await cache.close(100);
});

test('the analysis hook says why a named sink cannot be used (a missing credentials entry), and nothing when it can or none is named', async () => {
  const { kafkaAnalysisHook } = await import('./kafka-consumer.js');
  const sasl = obj({ metadata: { name: 'secure', generation: 1 }, spec: { kafka: { brokers: ['k:9093'], topic: 't', tls: {}, sasl: { mechanism: 'PLAIN', usernameEntry: 'u', passwordEntry: 'p' } } } });
  const producer = (): ProducerLike => ({ send: () => Promise.resolve(), close: () => Promise.resolve() });
  const entries: Record<string, string> = { u: 'user' };
  const cache = new SinkCache(() => [base, sasl], (n) => entries[n], { producer, sleep: () => Promise.resolve() });
  const named: Record<string, string | undefined> = { a: 'secure', b: 'flows', c: undefined };
  const hook = kafkaAnalysisHook({
    sinkFor: (c) => cache.sinkFor(named[c.name]),
    sinkError: (c) => (named[c.name] ? cache.errors.get(named[c.name] ?? '') : undefined),
  });
  assert.deepEqual(hook.consumersFor({ namespace: 'ns', name: 'a' }), [], 'no sink, no consumers');
  assert.match(hook.unavailable?.({ namespace: 'ns', name: 'a' }) ?? '', /Secret pcapper-sink-credentials has no entry p \(named by PacketCaptureSink secure\); add it/);
  assert.equal(hook.unavailable?.({ namespace: 'ns', name: 'b' }), undefined, 'a working sink');
  assert.equal(hook.unavailable?.({ namespace: 'ns', name: 'c' }), undefined, 'no sink named');
  entries['p'] = 'secret';
  assert.equal(hook.unavailable?.({ namespace: 'ns', name: 'a' }), undefined, 'the entry added: the sink is built');
  await cache.close(100);
});
