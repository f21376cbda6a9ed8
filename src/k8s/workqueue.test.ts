import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.js';
import { KubeApiError } from './client.js';
import { WorkQueue } from './workqueue.js';

const api = (status: number, body?: unknown): KubeApiError => new KubeApiError({ status, message: 'm', method: 'PATCH', path: '/x', body });

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

/** Records what the queue reports to metrics. */
function recorder() {
  const r = { ran: [] as string[], failed: [] as string[], retried: 0, depth: (): number => -1 };
  return {
    r,
    observer: {
      bindDepth: (d: () => number) => (r.depth = d),
      ran: (_ms: number, result: 'success' | 'error') => r.ran.push(result),
      failed: (kind: string, reason: string) => r.failed.push(`${kind}/${reason}`),
      retried: () => r.retried++,
    },
  };
}

test('work queue: a terminal error (403, 422) is not retried; the key runs again only when queued; reported once per reason', async () => {
  const clock = new FakeClock();
  const { r, observer } = recorder();
  const q = new WorkQueue({ clock, minIntervalMs: 0, backoff: { initialMs: 100, maxMs: 1000 }, observer });
  const ac = new AbortController();
  const runs: string[] = [];
  const outcomes: unknown[] = [];
  const errs = [api(403), api(403), api(422)];
  const running = q.run(
    async (k) => {
      await Promise.resolve();
      runs.push(k);
      const e = errs.shift();
      if (e) outcomes.push(q.fail(k, e));
    },
    1,
    ac.signal,
  );
  q.add('k');
  await clock.advance(0);
  assert.deepEqual(outcomes, [{ kind: 'terminal', reason: 'Forbidden', first: true }]);
  await clock.advance(60_000); // far past any backoff: nothing retries it
  assert.equal(runs.length, 1, 'a 403 is not retried');
  assert.equal(clock.pending(), 0, 'no retry timer is armed');
  q.add('k'); // the object changed (a watch event)
  await clock.advance(0);
  q.add('k');
  await clock.advance(0);
  assert.equal(runs.length, 3);
  assert.deepEqual(outcomes.slice(1), [
    { kind: 'terminal', reason: 'Forbidden', first: false },
    { kind: 'terminal', reason: 'Invalid', first: true },
  ]);
  await clock.advance(60_000);
  assert.equal(runs.length, 3, 'a 422 is not retried either');
  assert.deepEqual(r.failed, ['terminal/Forbidden', 'terminal/Forbidden', 'terminal/Invalid']);
  assert.deepEqual(r.ran, ['error', 'error', 'error']);
  assert.equal(r.retried, 0);
  ac.abort();
  q.shutdown();
  await running;
});

test('work queue: a transient error (503, conflict, network) is retried with growing backoff until success; Retry-After is honoured', async () => {
  const clock = new FakeClock();
  const { r, observer } = recorder();
  const q = new WorkQueue({ clock, minIntervalMs: 0, backoff: { initialMs: 100, maxMs: 10_000 }, observer });
  const ac = new AbortController();
  const runAt: number[] = [];
  const delays: number[] = [];
  const errs: unknown[] = [api(503), api(409), Object.assign(new Error('reset'), { code: 'ECONNRESET' }), api(429, { details: { retryAfterSeconds: 5 } })];
  const running = q.run(
    async (k) => {
      await Promise.resolve();
      runAt.push(clock.now());
      const e = errs.shift();
      if (e) {
        const f = q.fail(k, e);
        assert.equal(f.kind, 'transient');
        delays.push(f.delayMs ?? -1);
      } else q.forget(k);
    },
    1,
    ac.signal,
  );
  q.add('k');
  await clock.advance(0);
  for (let i = 0; i < 4; i++) {
    assert.equal(runAt.length, i + 1);
    assert.equal(q.length, 0);
    await clock.advance(delays[i]! - 1);
    assert.equal(runAt.length, i + 1, `not before its backoff (${delays[i]} ms)`);
    await clock.advance(1);
  }
  assert.equal(runAt.length, 5, 'retried until the fifth run succeeded');
  assert.ok(delays[0]! >= 80 && delays[0]! <= 120, `first backoff ~100 ms, got ${delays[0]}`);
  assert.ok(delays[1]! > delays[0]! && delays[2]! > delays[1]!, `backoff grows: ${delays.join(', ')}`);
  assert.equal(delays[3], 5000, 'Retry-After (5 s) beats the computed backoff (~800 ms)');
  assert.deepEqual(r.failed, ['transient/ServerError', 'transient/Conflict', 'transient/Network', 'transient/TooManyRequests']);
  assert.deepEqual(r.ran, ['error', 'error', 'error', 'error', 'success']);
  assert.equal(r.retried, 4);
  await clock.advance(60_000);
  assert.equal(runAt.length, 5, 'no retry after the success');
  ac.abort();
  q.shutdown();
  await running;
});

test('work queue: a worker that throws is classified instead of stopping the worker; depth is the ready keys', async () => {
  const clock = new FakeClock();
  const { r, observer } = recorder();
  const q = new WorkQueue({ clock, minIntervalMs: 0, backoff: { initialMs: 100, maxMs: 1000 }, observer });
  q.add('a');
  q.add('b');
  assert.equal(r.depth(), 2);
  const ac = new AbortController();
  let n = 0;
  const running = q.run(
    async () => {
      await Promise.resolve();
      if (n++ === 0) throw api(403);
    },
    1,
    ac.signal,
  );
  await clock.advance(0);
  assert.equal(n, 2, 'the worker went on to the next key');
  assert.equal(r.depth(), 0);
  assert.deepEqual(r.failed, ['terminal/Forbidden']);
  assert.deepEqual(r.ran, ['error', 'success']);
  ac.abort();
  q.shutdown();
  await running;
});
