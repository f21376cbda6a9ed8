// The polling helper itself: what it returns, and what its failure says. Short bounds are fine
// here: the assertions are about the messages, not about speed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, EventuallyTimeout, GiveUp } from './eventually.js';

describe('eventually', () => {
  it('returns the first value that is neither undefined nor false', async () => {
    let n = 0;
    const v = await eventually(() => (++n >= 3 ? { n } : n === 1 ? undefined : false), { what: 'the third probe', everyMs: 1 });
    assert.deepEqual(v, { n: 3 });
  });

  it('fails with what was expected and the last value seen', async () => {
    let n = 0;
    await assert.rejects(
      eventually(
        () => {
          n++;
          return false;
        },
        { what: 'the target Running', timeoutMs: 20, everyMs: 1, describe: () => 'phase Pending' },
      ),
      (e: unknown) => e instanceof EventuallyTimeout && /^expected the target Running within 20 ms \(\d+ probes\); the last probe returned false; state: phase Pending$/.test(e.message),
    );
    assert.ok(n > 1, 'it probed more than once');
  });

  it('keeps the last error of a failing probe as the cause', async () => {
    const boom = new Error('connection refused');
    await assert.rejects(
      eventually(
        () => {
          throw boom;
        },
        { what: 'an answer', timeoutMs: 10, everyMs: 1 },
      ),
      (e: unknown) => e instanceof EventuallyTimeout && e.cause === boom && /the last probe failed with Error: connection refused/.test(e.message),
    );
  });

  it('gives up at once on GiveUp (waiting longer cannot help)', async () => {
    let n = 0;
    await assert.rejects(
      eventually(
        () => {
          n++;
          throw new GiveUp('the process exited (1)');
        },
        { what: 'a log line', timeoutMs: 60_000, everyMs: 1 },
      ),
      (e: unknown) => e instanceof EventuallyTimeout && /^expected a log line, but the process exited \(1\)$/.test(e.message),
    );
    assert.equal(n, 1);
  });
});
