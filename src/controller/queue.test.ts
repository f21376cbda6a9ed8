import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../k8s/clock.js';
import { WorkQueue } from './queue.js';

test('work queue: dedupes keys, never runs a key concurrently, coalesces re-adds within minInterval', async () => {
  const clock = new FakeClock();
  const q = new WorkQueue({ clock, minIntervalMs: 1000 });
  const ac = new AbortController();
  const runs: string[] = [];
  let release: (() => void) | undefined;
  const running = q.run(
    async (k) => {
      runs.push(k);
      if (k === 'slow' && runs.filter((x) => x === 'slow').length === 1) await new Promise<void>((r) => (release = r));
    },
    2,
    ac.signal,
  );
  for (let i = 0; i < 100; i++) q.add('a'); // a storm of events for one key
  q.add('slow');
  await clock.advance(0);
  assert.deepEqual(runs.sort(), ['a', 'slow']);
  q.add('slow'); // while running: marked dirty, not run concurrently
  q.add('a'); // within minInterval: delayed
  await clock.advance(10);
  assert.equal(runs.filter((k) => k === 'slow').length, 1);
  assert.equal(runs.filter((k) => k === 'a').length, 1);
  release?.();
  await clock.advance(1000);
  assert.equal(runs.filter((k) => k === 'a').length, 2, 'a ran once more after minInterval');
  assert.equal(runs.filter((k) => k === 'slow').length, 2, 'dirty key ran again after finishing');
  ac.abort();
  q.shutdown();
  await running;
});

test('work queue: retry backs off exponentially per key; forget resets', () => {
  const q = new WorkQueue({ clock: new FakeClock(), backoff: { initialMs: 100, maxMs: 1000 } });
  const d = [q.retry('k'), q.retry('k'), q.retry('k'), q.retry('k'), q.retry('k')];
  assert.ok(d[0]! >= 80 && d[0]! <= 120);
  assert.ok(d[2]! >= 320 && d[2]! <= 480);
  assert.ok(d[4]! <= 1200, 'capped');
  q.forget('k');
  assert.ok(q.retry('k') <= 120);
  q.shutdown();
});
