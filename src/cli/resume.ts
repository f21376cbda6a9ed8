/**
 * The decisions of a resumable download (pure): which Range to ask for, what a response means for
 * the bytes already on disk, whether a failure is worth another attempt and how long to wait.
 *
 * Why resuming is normal here: kube-apiserver cuts every non-long-running request at its
 * --request-timeout (60 s by default), and a pcapper server replica may restart mid-file. Both look
 * like a response that ends short of its Content-Length (or a reset connection, or a 503 on the
 * next attempt); the download continues with `Range: bytes=N-` until the file is complete.
 */

/** `Range` header for a download that already has `have` bytes (none for a fresh start). */
export function rangeHeaders(have: number): Record<string, string> {
  return have > 0 ? { Range: `bytes=${have}-` } : {};
}

export interface ContentRange {
  start: number;
  end: number;
  /** undefined for `*` */
  total: number | undefined;
}

/** Parses `bytes a-b/total` (total may be `*`). */
export function parseContentRange(h: string | undefined): ContentRange | undefined {
  const m = h ? /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(h.trim()) : null;
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return { start, end, total };
}

export type ResponsePlan =
  /** Write the body at `offset` (0 = truncate and start over); the file then has `total` bytes. */
  | { action: 'write'; offset: number; total: number | undefined }
  /** Nothing left to fetch (416 for a file we already have completely). */
  | { action: 'complete' }
  /** A response that cannot be used; retrying from scratch is the way out. */
  | { action: 'restart'; why: string };

/**
 * What to do with a 2xx/416 response to a request made with `have` bytes on disk.
 * `headers` are the response headers (lower-case names, as node gives them).
 */
export function planResponse(have: number, status: number, headers: Readonly<Record<string, string | string[] | undefined>>, expected: number | undefined): ResponsePlan {
  const len = headers['content-length'];
  const contentLength = typeof len === 'string' && /^\d+$/.test(len) ? Number(len) : undefined;
  if (status === 200) {
    // a fresh start, or a server that ignored Range: either way the body is the whole file
    return { action: 'write', offset: 0, total: contentLength };
  }
  if (status === 206) {
    const cr = parseContentRange(typeof headers['content-range'] === 'string' ? headers['content-range'] : undefined);
    if (!cr) return { action: 'restart', why: 'a 206 answer without a usable Content-Range' };
    if (cr.start !== have) return { action: 'restart', why: `the server resumed at byte ${cr.start}, not ${have}` };
    if (contentLength !== undefined && contentLength !== cr.end - cr.start + 1) return { action: 'restart', why: 'Content-Length does not match Content-Range' };
    return { action: 'write', offset: have, total: cr.total ?? cr.end + 1 };
  }
  if (status === 416) {
    // "bytes=N-" beyond the end: complete when N is the file's size (Content-Range: bytes */size)
    const m = /^bytes\s+\*\/(\d+)$/i.exec(typeof headers['content-range'] === 'string' ? headers['content-range'] : '');
    const size = m ? Number(m[1]) : expected;
    if (have > 0 && size !== undefined && size === have) return { action: 'complete' };
    return { action: 'restart', why: `the server cannot serve bytes from ${have} on (416)` };
  }
  return { action: 'restart', why: `unexpected status ${status}` };
}

/**
 * Whether a failed attempt is worth repeating: transport failures (status 0: reset, timeout,
 * body cut short), 429, 5xx (503 while a server replica restarts or an agent is unreachable) are;
 * 4xx answers (403 forbidden, 404 gone, 400 bad name) are final.
 */
export function retryable(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

export interface RetryState {
  /** Failed attempts since the last one that made progress. */
  failuresWithoutProgress: number;
  /** Every attempt so far. */
  attempts: number;
}

/** Limits: consecutive failures that wrote nothing, and attempts in total (a 60 s cut per attempt). */
export const RETRY_LIMITS = { withoutProgress: 6, total: 10_000 } as const;

/**
 * After a failed attempt: the next state, or undefined when giving up. An attempt that wrote
 * bytes resets the count, so a long file cut every 60 s keeps going while a dead server does not.
 */
export function afterFailure(s: RetryState, madeProgress: boolean, limits: { withoutProgress: number; total: number } = RETRY_LIMITS): RetryState | undefined {
  const next = { attempts: s.attempts + 1, failuresWithoutProgress: madeProgress ? 0 : s.failuresWithoutProgress + 1 };
  if (next.failuresWithoutProgress >= limits.withoutProgress || next.attempts >= limits.total) return undefined;
  return next;
}

/** Backoff before the next attempt: none right after progress, then 250 ms doubling up to 8 s. */
export function retryDelayMs(s: RetryState, random: () => number = Math.random): number {
  if (s.failuresWithoutProgress === 0) return 0;
  const base = Math.min(8000, 250 * 2 ** (s.failuresWithoutProgress - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * Checks a finished file: the size the server announced for it, and at least the size the file
 * list reported (a file of a running capture may have grown since; it never shrinks).
 */
export function sizeProblem(size: number, announced: number | undefined, listed: number | undefined): string | undefined {
  if (announced !== undefined && size !== announced) return `got ${size} bytes, the server announced ${announced}`;
  if (listed !== undefined && size < listed) return `got ${size} bytes, the file list said ${listed}`;
  return undefined;
}
