import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../k8s/clock.js';
import { PodWaits } from './context.js';
import { every, within } from './timers.js';

describe('agent timers on an injected clock', () => {
  it('every() repeats until cancelled', async () => {
    const clock = new FakeClock();
    let n = 0;
    const t = every(clock, 1000, () => n++);
    await clock.advance(999);
    assert.equal(n, 0);
    await clock.advance(2001);
    assert.equal(n, 3);
    t.cancel();
    await clock.advance(10_000);
    assert.equal(n, 3);
    assert.equal(clock.pending(), 0);
  });

  it('within() is true when the promise settles first, false at the deadline, and leaves no timer', async () => {
    const clock = new FakeClock();
    assert.equal(await within(clock, Promise.reject(new Error('x')), 1000), true);
    assert.equal(clock.pending(), 0);
    const never = new Promise<void>(() => undefined);
    const r = within(clock, never, 1000);
    await clock.advance(1000);
    assert.equal(await r, false);
  });

  it('PodWaits: a change of the pod wakes its waiter only; the time limit and wake() end the wait too', async () => {
    const clock = new FakeClock();
    const w = new PodWaits(clock);
    const woke: string[] = [];
    void w.next('ns/a', 60_000, () => undefined).then(() => woke.push('a'));
    void w.next('ns/b', 60_000, () => undefined).then(() => woke.push('b'));
    let wake: (() => void) | undefined;
    void w.next('ns/c', 60_000, (f) => (wake = f ?? wake)).then(() => woke.push('c'));
    w.changed('ns/a');
    await clock.advance(0);
    assert.deepEqual(woke, ['a']);
    wake?.();
    await clock.advance(0);
    assert.deepEqual(woke, ['a', 'c']);
    await clock.advance(60_000);
    assert.deepEqual(woke, ['a', 'c', 'b']);
    assert.equal(clock.pending(), 0);
  });
});
