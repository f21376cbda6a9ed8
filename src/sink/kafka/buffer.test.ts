import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedBuffer } from './buffer.js';

const item = (n: number, size = 10) => ({ topic: 't', key: `k${n % 10}`, value: Buffer.alloc(size - 2, n) });

test('drops and counts beyond the record bound; offered = published + dropped + buffered', () => {
  const b = new BoundedBuffer(3, 1_000_000);
  const kept = [0, 1, 2, 3, 4].map((n) => b.offer(item(n)));
  assert.deepEqual(kept, [true, true, true, false, false]);
  assert.deepEqual(b.counts(), { offered: 5, dropped: 2, droppedBytes: 20, published: 0, buffered: 3, bufferedBytes: 30 });
  const batch = b.peek(2);
  assert.equal(batch.length, 2);
  assert.equal(batch[0]!.value[0], 0);
  b.commit(2);
  assert.equal(b.offer(item(5)), true);
  const c = b.counts();
  assert.equal(c.offered, c.published + c.dropped + c.buffered);
  assert.deepEqual([c.published, c.buffered, c.dropped], [2, 2, 2]);
});

test('drops beyond the byte bound; the batch in flight counts against the bound until committed', () => {
  const b = new BoundedBuffer(100, 25);
  assert.equal(b.offer(item(0)), true);
  assert.equal(b.offer(item(1)), true);
  assert.equal(b.offer(item(2)), false);
  b.peek(10); // in flight, not committed: still held
  assert.equal(b.offer(item(3)), false);
  b.commit(1);
  assert.equal(b.offer(item(4)), true);
  assert.deepEqual(b.peek(10).map((i) => i.value[0]), [1, 4]);
});

test('peek respects the batch byte limit but always returns at least one item', () => {
  const b = new BoundedBuffer(100, 1_000);
  for (let n = 0; n < 5; n++) b.offer(item(n, 100));
  assert.equal(b.peek(10, 250).length, 2);
  assert.equal(b.peek(10, 1).length, 1);
});

test('dropRemaining counts the unacknowledged as dropped; the invariant holds; compaction keeps order', () => {
  const b = new BoundedBuffer(100_000, 10_000_000);
  for (let n = 0; n < 20_000; n++) b.offer(item(n));
  b.commit(15_000);
  assert.equal(b.peek(1)[0]!.value[0], 15_000 % 256);
  b.dropRemaining();
  const c = b.counts();
  assert.deepEqual([c.offered, c.published, c.dropped, c.buffered, c.bufferedBytes], [20_000, 15_000, 5_000, 0, 0]);
});

test('a text value is counted in UTF-8 bytes; commit credits each key once per record', () => {
  const b = new BoundedBuffer(100, 1_000);
  assert.equal(b.offer({ topic: 't', key: 'k1', value: 'é'.repeat(10) }), true); // 20 + 2 bytes
  assert.equal(b.offer({ topic: 't', key: 'k1', value: 'ab' }), true);
  assert.equal(b.offer({ topic: 't', key: 'k2', value: 'abc' }), true);
  assert.equal(b.counts().bufferedBytes, 22 + 4 + 5);
  b.commit(3);
  assert.deepEqual(b.countsOf('k1'), { offered: 2, published: 2, dropped: 0 });
  assert.deepEqual(b.countsOf('k2'), { offered: 1, published: 1, dropped: 0 });
  assert.equal(b.counts().bufferedBytes, 0);
});
