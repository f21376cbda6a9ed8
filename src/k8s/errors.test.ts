import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError } from './client.js';
import { classifyError, isNetworkError, isTerminal } from './errors.js';

const api = (status: number, body?: unknown): KubeApiError => new KubeApiError({ status, message: 'm', method: 'PATCH', path: '/x', body });

test('classifyError: 400, 403, 404, 422 and other 4xx are terminal; 401, 408, 409, 410, 429, 5xx and transport failures are transient', () => {
  const cases: [number, string, string][] = [
    [400, 'terminal', 'BadRequest'],
    [403, 'terminal', 'Forbidden'],
    [404, 'terminal', 'NotFound'],
    [422, 'terminal', 'Invalid'],
    [405, 'terminal', 'ClientError'],
    [413, 'terminal', 'ClientError'],
    [401, 'transient', 'Unauthorized'],
    [408, 'transient', 'Timeout'],
    [409, 'transient', 'Conflict'],
    [410, 'transient', 'Gone'],
    [429, 'transient', 'TooManyRequests'],
    [500, 'transient', 'ServerError'],
    [503, 'transient', 'ServerError'],
    [504, 'transient', 'Timeout'],
    [0, 'transient', 'Network'],
  ];
  for (const [status, kind, reason] of cases) {
    const c = classifyError(api(status));
    assert.deepEqual([c.kind, c.reason, c.status], [kind, reason, status], `HTTP ${status}`);
    assert.equal(isTerminal(api(status)), kind === 'terminal');
  }
});

test('classifyError: Retry-After from the Status body; socket errors (direct or as a cause) are transient; unknown errors are transient', () => {
  assert.equal(classifyError(api(429, { kind: 'Status', details: { retryAfterSeconds: 3 } })).retryAfterMs, 3000);
  assert.equal(classifyError(api(429, { details: { retryAfterSeconds: 'soon' } })).retryAfterMs, undefined);
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
  assert.deepEqual(classifyError(refused), { kind: 'transient', reason: 'Network', status: 0 });
  assert.ok(isNetworkError(new Error('fetch failed', { cause: refused })));
  const timeout = Object.assign(new Error('t'), { name: 'TimeoutError' });
  assert.equal(classifyError(timeout).reason, 'Timeout');
  assert.equal(isNetworkError(new TypeError('x is undefined')), false);
  assert.deepEqual(classifyError(new TypeError('x is undefined')), { kind: 'transient', reason: 'Unknown', status: 0 });
  assert.deepEqual(classifyError('a string'), { kind: 'transient', reason: 'Unknown', status: 0 });
});
