import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveKafkaSinkConfig } from './config.js';

test('defaults resolve into a frozen config', () => {
  const r = resolveKafkaSinkConfig({ brokers: ['kafka-0.kafka:9092', '[fd00::1]:9093'], topic: 'pcapper.records' }, { zstdAvailable: false });
  assert.ok(r.ok);
  assert.equal(r.config.compression, 'lz4');
  assert.equal(r.config.idempotent, true);
  assert.equal(r.config.recordsPerMessage, 100);
  assert.ok(Object.isFrozen(r.config));
});

test('bad input: each error says what and how to fix', () => {
  const r = resolveKafkaSinkConfig(
    { brokers: ['kafka:99999', 'nohost'], topic: 'bad topic!', compression: 'zstd', bufferMaxRecords: 10, batchMaxRecords: 100, sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } },
    { zstdAvailable: false },
  );
  assert.ok(!r.ok);
  const all = r.errors.join('\n');
  assert.match(all, /brokers\[0\]: "kafka:99999" is not "host:port"/);
  assert.match(all, /brokers\[1\]/);
  assert.match(all, /topic "bad topic!" contains " "; Kafka topic names use only/);
  assert.match(all, /zstd needs Node >= 22.15/);
  assert.match(all, /bufferMaxRecords \(10\) must be at least batchMaxRecords \(100\)/);
  assert.match(all, /sasl: credentials would cross the network in clear; set tls/);
  assert.ok(!resolveKafkaSinkConfig({ brokers: [], topic: 'x' }, { zstdAvailable: true }).ok);
  const z = resolveKafkaSinkConfig({ brokers: ['a:1'], topic: 'x', recordsPerMessage: 0 }, { zstdAvailable: true });
  assert.ok(!z.ok && /recordsPerMessage: must be at least 1 \(1 = one JSON record per message\)/.test(z.errors.join('\n')));
  assert.ok(!resolveKafkaSinkConfig({ brokers: ['a:1'], topic: 'x'.repeat(250) }, { zstdAvailable: true }).ok);
  assert.ok(!resolveKafkaSinkConfig({ brokers: ['a:1'], topic: 'x', rawMaxMessageBytes: 2 * 1024 * 1024 }, { zstdAvailable: true }).ok);
});
