import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PacketCaptureStatus } from '../api/packetcapture.js';
import { FakeClock } from '../k8s/clock.js';
import { KubeApiError } from '../k8s/client.js';
import { silentLogger } from '../telemetry/log.js';
import { StatusWriter } from './status-writer.js';

const apiError = (status: number): KubeApiError => new KubeApiError({ status, message: `HTTP ${status}`, method: 'PATCH', path: '/status' });

/** A fake apiserver: records applied statuses; `fail` holds errors for the next calls; `hold` keeps a call in flight. */
function fakeApply(): {
  applied: { key: string; packets: number }[];
  fail: Error[];
  hold: boolean;
  release: () => void;
  apply: (key: string, s: PacketCaptureStatus) => Promise<void>;
} {
  const f = {
    applied: [] as { key: string; packets: number }[],
    fail: [] as Error[],
    hold: false,
    release: () => undefined as void,
    apply: async (key: string, s: PacketCaptureStatus): Promise<void> => {
      const packets = s.targets?.[0]?.packets ?? -1;
      if (f.hold) await new Promise<void>((r) => (f.release = r));
      const e = f.fail.shift();
      if (e) throw e;
      f.applied.push({ key, packets });
    },
  };
  return f;
}

const flushMicrotasks = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('status writer (fake clock, fake apiserver)', () => {
  const setup = (o: { exists?: boolean } = {}) => {
    const clock = new FakeClock();
    const api = fakeApply();
    let packets = 0;
    const read = (): PacketCaptureStatus => ({ targets: [{ name: 't', packets }], nodes: [] });
    const w = new StatusWriter({ clock, intervalMs: 2000, apply: api.apply, exists: () => o.exists ?? true, log: silentLogger, backoff: { initialMs: 500, maxMs: 4000 }, random: () => 0.5 });
    return { clock, api, w, read, set: (n: number) => (packets = n) };
  };

  it('writes a phase change at once and coalesces counter updates to one write per interval, with the last figures', async () => {
    const { clock, api, w, read, set } = setup();
    w.markDirty('ns/c', read, true);
    await clock.advance(0);
    assert.deepEqual(api.applied, [{ key: 'ns/c', packets: 0 }]);
    for (let i = 1; i <= 50; i++) {
      set(i);
      w.markDirty('ns/c', read, false);
      await clock.advance(10);
    }
    // 500 ms after the first write: the interval (2 s) has not passed, nothing more was written
    assert.equal(api.applied.length, 1);
    await clock.advance(1500);
    assert.deepEqual(api.applied, [
      { key: 'ns/c', packets: 0 },
      { key: 'ns/c', packets: 50 },
    ]);
    assert.equal(w.pending('ns/c'), false);
  });

  it('backs off on 409 and 500 and delivers the last state when the apiserver answers again', async () => {
    const { clock, api, w, read, set } = setup();
    api.fail.push(api409(), apiError(500), apiError(503));
    set(1);
    w.markDirty('ns/c', read, true);
    await clock.advance(0);
    assert.equal(api.applied.length, 0);
    assert.equal(w.writes, 1);
    set(2); // a change while the apiserver fails: not written before the backoff
    w.markDirty('ns/c', read, true);
    await clock.advance(499);
    assert.equal(w.writes, 1, 'no write before the first backoff (500 ms)');
    await clock.advance(1);
    assert.equal(w.writes, 2);
    await clock.advance(999);
    assert.equal(w.writes, 2, 'the second backoff doubles (1000 ms)');
    await clock.advance(1);
    assert.equal(w.writes, 3);
    set(3);
    await clock.advance(2000);
    assert.equal(w.writes, 4);
    assert.deepEqual(api.applied, [{ key: 'ns/c', packets: 3 }], 'the state at the time of the successful write, not a stale one');
    // after a success the backoff is reset: a phase change goes out at once... after the interval
    set(4);
    w.markDirty('ns/c', read, true);
    await clock.advance(0);
    assert.deepEqual(api.applied.at(-1), { key: 'ns/c', packets: 4 });
  });

  it('a change made while a write is in flight is written after it (never lost), without polling', async () => {
    const { clock, api, w, read, set } = setup();
    api.hold = true;
    set(1);
    w.markDirty('ns/c', read, true);
    await clock.advance(0);
    assert.equal(w.writes, 1);
    set(2);
    w.markDirty('ns/c', read, true); // in flight: only marked
    assert.equal(clock.pending(), 0, 'no timer armed while the write is in flight');
    api.hold = false;
    api.release();
    await flushMicrotasks();
    // the next write waits for the interval after the first one
    await clock.advance(2000);
    assert.deepEqual(api.applied, [
      { key: 'ns/c', packets: 1 },
      { key: 'ns/c', packets: 2 },
    ]);
  });

  it('drops writes of a capture that is gone (404, or no longer cached), except the final flush', async () => {
    const gone = setup({ exists: false });
    gone.w.markDirty('ns/c', gone.read, true);
    await gone.clock.advance(0);
    assert.equal(gone.w.writes, 0);
    gone.w.markDirty('ns/c', gone.read, true);
    gone.w.stop();
    await gone.w.flushAll();
    assert.equal(gone.w.writes, 1, 'the final flush writes even when the cache no longer has the capture');

    const nf = setup();
    nf.api.fail.push(apiError(404));
    nf.w.markDirty('ns/c', nf.read, true);
    await nf.clock.advance(0);
    await nf.clock.advance(60_000);
    assert.equal(nf.w.writes, 1, '404: not retried');
    assert.equal(nf.w.pending('ns/c'), false);
  });

  it('flushAll waits for the write in flight, then writes what is still dirty once', async () => {
    const { clock, api, w, read, set } = setup();
    api.hold = true;
    set(1);
    w.markDirty('ns/c', read, true);
    await clock.advance(0);
    set(2);
    w.markDirty('ns/c', read, false);
    w.stop();
    const flushed = w.flushAll();
    await flushMicrotasks();
    assert.equal(w.writes, 1, 'the flush waits for the write in flight');
    api.hold = false;
    api.release();
    await flushed;
    assert.deepEqual(api.applied, [
      { key: 'ns/c', packets: 1 },
      { key: 'ns/c', packets: 2 },
    ]);
  });
});

function api409(): KubeApiError {
  return apiError(409);
}
