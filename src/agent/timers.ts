/**
 * Timers on an injected clock (src/k8s/clock.ts): a repeating timer and a bounded wait, so that
 * the agent's domain code never calls setTimeout/setInterval itself and unit tests run on fake time.
 */
import type { Clock, Timer } from '../k8s/clock.js';

/** Calls `fn` every `ms` until cancelled (the next run is armed before `fn` runs). */
export function every(clock: Clock, ms: number, fn: () => void): Timer {
  let cancelled = false;
  let t: Timer;
  const arm = (): void => {
    t = clock.setTimer(() => {
      if (cancelled) return;
      arm();
      fn();
    }, ms);
  };
  arm();
  return {
    cancel: () => {
      cancelled = true;
      t.cancel();
    },
  };
}

/** Waits for `p` or `ms` on the clock, whichever comes first; true when `p` settled in time. */
export async function within(clock: Clock, p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: Timer | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = clock.setTimer(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    timer?.cancel();
  }
}
