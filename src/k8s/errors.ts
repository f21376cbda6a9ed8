/**
 * Typed Kubernetes API errors: is a failure worth retrying? A terminal error (400, 403, 404, 422,
 * other 4xx) will fail the same way on every retry until something changes (RBAC, the object, the
 * spec), so a work queue must not retry it in a loop: it waits for the next change of the object.
 * A transient one (network, 408, 409, 410, 429, 5xx, 401 while a token rotates, anything
 * unrecognised) is retried with backoff. Pure: no I/O, no logging.
 */
import { KubeApiError } from './client.js';

export type ErrorKind = 'terminal' | 'transient';

/** A bounded set of reasons (they are metric label values). */
export type ErrorReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'ClientError'
  | 'TooManyRequests'
  | 'Timeout'
  | 'ServerError'
  | 'Network'
  | 'Unknown';

export interface ClassifiedError {
  readonly kind: ErrorKind;
  readonly reason: ErrorReason;
  /** HTTP status; 0 for a transport failure or a non-HTTP error. */
  readonly status: number;
  /** The server's Retry-After hint (metav1.Status details.retryAfterSeconds), if any. */
  readonly retryAfterMs?: number;
}

/** Node/undici error codes of a connection that failed or broke: the request may succeed later. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function retryAfterMs(body: unknown): number | undefined {
  const s = (body as { details?: { retryAfterSeconds?: unknown } } | undefined)?.details?.retryAfterSeconds;
  return typeof s === 'number' && Number.isFinite(s) && s > 0 ? s * 1000 : undefined;
}

function byStatus(status: number): { kind: ErrorKind; reason: ErrorReason } {
  switch (status) {
    case 0:
      return { kind: 'transient', reason: 'Network' };
    case 400:
      return { kind: 'terminal', reason: 'BadRequest' };
    // A bound service-account token is rotated by the kubelet and re-read by the client: retry.
    case 401:
      return { kind: 'transient', reason: 'Unauthorized' };
    case 403:
      return { kind: 'terminal', reason: 'Forbidden' };
    // The object (or its resource type) is gone: retrying cannot bring it back; a re-create is an event.
    case 404:
      return { kind: 'terminal', reason: 'NotFound' };
    case 408:
      return { kind: 'transient', reason: 'Timeout' };
    // A stale resourceVersion or a field owned by another manager: re-read (the cache catches up) and retry.
    case 409:
      return { kind: 'transient', reason: 'Conflict' };
    case 410:
      return { kind: 'transient', reason: 'Gone' };
    case 422:
      return { kind: 'terminal', reason: 'Invalid' };
    case 429:
      return { kind: 'transient', reason: 'TooManyRequests' };
    case 504:
      return { kind: 'transient', reason: 'Timeout' };
  }
  if (status >= 500) return { kind: 'transient', reason: 'ServerError' };
  if (status >= 400) return { kind: 'terminal', reason: 'ClientError' };
  return { kind: 'transient', reason: 'Unknown' };
}

/** Classifies any thrown value. Unknown errors (bugs, odd transports) are transient: backoff caps the cost. */
export function classifyError(e: unknown): ClassifiedError {
  if (e instanceof KubeApiError) {
    const c = byStatus(e.status);
    const ra = retryAfterMs(e.body);
    return ra === undefined ? { ...c, status: e.status } : { ...c, status: e.status, retryAfterMs: ra };
  }
  if (isNetworkError(e)) return { kind: 'transient', reason: e instanceof Error && (e.name === 'TimeoutError' || /TIMEOUT/.test(codeOf(e) ?? '')) ? 'Timeout' : 'Network', status: 0 };
  return { kind: 'transient', reason: 'Unknown', status: 0 };
}

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | undefined)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** A transport failure: a known socket error code (on the error or its cause), or an abort/timeout. */
export function isNetworkError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = codeOf(cur);
    if (code !== undefined && NETWORK_CODES.has(code)) return true;
    if (cur instanceof Error && (cur.name === 'TimeoutError' || cur.name === 'AbortError')) return true;
  }
  return false;
}

export const isTerminal = (e: unknown): boolean => classifyError(e).kind === 'terminal';
