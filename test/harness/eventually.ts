// The one polling helper of the tests: wait for a state, never for a time. A test that waits with
// `eventually` says what it waits for, and when the state never comes its failure says what was
// expected and the last value (or error) seen, so a slow machine and a broken one are told apart.

export interface EventuallyOptions {
  /** What is awaited, in words: "capture p1 Running". */
  what: string;
  /** Give up after this long (a bound for a hung test, not a claim about speed). Default 30 s. */
  timeoutMs?: number;
  /** Pause between probes. Default 100 ms. */
  everyMs?: number;
  /** Extra state for the failure message (logs, a status), read once when giving up. */
  describe?: () => Promise<string> | string;
}

/** Thrown by a probe when waiting longer cannot help (the process exited): `eventually` fails at once. */
export class GiveUp extends Error {
  override readonly name = 'GiveUp';
}

/** The error `eventually` throws: what was expected and the last value or error seen. */
export class EventuallyTimeout extends Error {
  constructor(
    message: string,
    readonly last: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'EventuallyTimeout';
  }
}

const show = (v: unknown): string => {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 2000 ? `…${v.slice(-2000)}` : v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 2000 ? `${s.slice(0, 2000)}…` : s;
  } catch {
    return String(v);
  }
};

async function describeSafely(describe: () => Promise<string> | string): Promise<string> {
  try {
    return await describe();
  } catch (e) {
    return `(describe failed: ${show(e)})`;
  }
}

/**
 * Calls `probe` until it returns a value other than undefined or false, and returns that value.
 * A probe that throws counts as "not yet" (its error is kept for the message). Fails with
 * {@link EventuallyTimeout} after `timeoutMs`.
 */
export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, options: EventuallyOptions): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const everyMs = options.everyMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  let lastError: unknown = undefined;
  let probes = 0;
  for (;;) {
    try {
      probes++;
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
      lastError = undefined;
    } catch (e) {
      if (e instanceof GiveUp) throw new EventuallyTimeout(`expected ${options.what}, but ${e.message}${options.describe ? `; state: ${await describeSafely(options.describe)}` : ''}`, e, { cause: e });
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const extra = options.describe ? await describeSafely(options.describe) : '';
      const seen = lastError !== undefined ? `the last probe failed with ${show(lastError)}` : `the last probe returned ${show(last)}`;
      throw new EventuallyTimeout(
        `expected ${options.what} within ${timeoutMs} ms (${probes} probes); ${seen}${extra ? `; state: ${extra}` : ''}`,
        lastError ?? last,
        lastError !== undefined ? { cause: lastError } : undefined,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
