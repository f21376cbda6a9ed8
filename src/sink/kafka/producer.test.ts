// Message keys land on the partition a Java producer picks: Kafka's Utils.toPositive(Utils.murmur2(key))
// modulo the partition count. The hashes are Kafka's own test vectors (UtilsTest.testMurmur2).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyCache } from './producer.js';

test("a key's partition hash is the Java client's (murmur2 with the sign bit masked), also for negative murmur2 values", () => {
  const javaMurmur2: Record<string, number> = { '21': -973932308, foobar: -790332482, 'a-little-bit-long-string': -985981536, abc: 479470107 };
  const keys = new KeyCache();
  for (const [key, h] of Object.entries(javaMurmur2)) {
    const k = keys.get(key);
    assert.equal(k.partition, h & 0x7fffffff, key);
    assert.deepEqual(k.bytes, Buffer.from(key));
    // 3 partitions: where a Java producer puts it ('21': 1173551340 % 3 = 0; the unsigned hash (>>> 0) would give 2)
    assert.equal(k.partition % 3, (h & 0x7fffffff) % 3);
  }
  assert.equal(keys.get('21').partition % 3, 0);
  assert.equal(keys.get('21'), keys.get('21'), 'computed once per key');
});
