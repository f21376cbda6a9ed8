import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { afterFailure, parseContentRange, planResponse, rangeHeaders, retryable, retryDelayMs, sizeProblem } from './resume.js';
import { renderTransfer, TransferProgress } from './transfer-progress.js';

describe('resumable download decisions', () => {
  it('asks for the rest with Range: bytes=N- once bytes are on disk', () => {
    assert.deepEqual(rangeHeaders(0), {});
    assert.deepEqual(rangeHeaders(1234), { Range: 'bytes=1234-' });
  });

  it('parses Content-Range and refuses nonsense', () => {
    assert.deepEqual(parseContentRange('bytes 100-199/1000'), { start: 100, end: 199, total: 1000 });
    assert.deepEqual(parseContentRange('bytes 0-9/*'), { start: 0, end: 9, total: undefined });
    assert.equal(parseContentRange('bytes 10-5/100'), undefined);
    assert.equal(parseContentRange('bytes 0-100/100'), undefined);
    assert.equal(parseContentRange('items 0-1/2'), undefined);
    assert.equal(parseContentRange(undefined), undefined);
  });

  it('plans each response against the bytes on disk', () => {
    assert.deepEqual(planResponse(0, 200, { 'content-length': '1000' }, undefined), { action: 'write', offset: 0, total: 1000 });
    assert.deepEqual(planResponse(400, 206, { 'content-length': '600', 'content-range': 'bytes 400-999/1000' }, 1000), { action: 'write', offset: 400, total: 1000 });
    assert.deepEqual(planResponse(400, 200, { 'content-length': '1000' }, 1000), { action: 'write', offset: 0, total: 1000 }, 'Range ignored: start over');
    assert.equal(planResponse(400, 206, { 'content-range': 'bytes 300-999/1000' }, 1000).action, 'restart', 'resumed at the wrong byte');
    assert.equal(planResponse(400, 206, {}, 1000).action, 'restart', 'no Content-Range');
    assert.equal(planResponse(400, 206, { 'content-length': '5', 'content-range': 'bytes 400-999/1000' }, 1000).action, 'restart', 'lengths disagree');
    assert.deepEqual(planResponse(1000, 416, { 'content-range': 'bytes */1000' }, 1000), { action: 'complete' });
    assert.equal(planResponse(500, 416, { 'content-range': 'bytes */400' }, 1000).action, 'restart', 'the file shrank: start over');
  });

  it('retries transport failures, 429 and 5xx (503 while a replica restarts); 4xx are final', () => {
    for (const s of [0, 429, 500, 502, 503, 504]) assert.equal(retryable(s), true, String(s));
    for (const s of [400, 401, 403, 404, 416]) assert.equal(retryable(s), false, String(s));
  });

  it('bounds retries that make no progress, but keeps going while every attempt adds bytes (60 s cuts of a long file)', () => {
    const limits = { withoutProgress: 3, total: 100 };
    let s = { attempts: 0, failuresWithoutProgress: 0 };
    for (let i = 0; i < 50; i++) {
      const n = afterFailure(s, true, limits);
      assert.ok(n, `attempt ${i} made progress: go on`);
      s = n;
    }
    assert.equal(s.failuresWithoutProgress, 0);
    assert.equal(retryDelayMs(s), 0, 'no wait right after progress');
    const a = afterFailure(s, false, limits);
    const b = a && afterFailure(a, false, limits);
    assert.ok(a && b);
    assert.equal(afterFailure(b, false, limits), undefined, 'third failure in a row without a byte: give up');
    assert.equal(afterFailure({ attempts: 99, failuresWithoutProgress: 0 }, true, limits), undefined, 'total cap');
    assert.ok(retryDelayMs({ attempts: 3, failuresWithoutProgress: 2 }, () => 0.5) === 500);
    assert.ok(retryDelayMs({ attempts: 30, failuresWithoutProgress: 20 }, () => 1) <= 8000 * 1.2);
  });

  it('checks the final size against the server and the file list', () => {
    assert.equal(sizeProblem(1000, 1000, 1000), undefined);
    assert.equal(sizeProblem(1200, 1200, 1000), undefined, 'a running capture\'s file grew since the list');
    assert.match(sizeProblem(900, 1000, 1000) ?? '', /got 900 bytes, the server announced 1000/);
    assert.match(sizeProblem(900, undefined, 1000) ?? '', /the file list said 1000/);
  });

  it('progress: one line redrawn on a terminal, nothing on a pipe', () => {
    assert.equal(renderTransfer(3, 2, 12_000_000, 40_000_000, 2000), 'downloading 3 file(s) from 2 node(s): 12.0 MB / 40.0 MB (30%)  6.0 MB/s');
    let t = 0;
    const tty = { out: '', isTTY: true, columns: 200, write(s: string) { this.out += s; } };
    const p = new TransferProgress(tty, 1, 1, () => t);
    p.expect('a', 100);
    t = 500;
    p.update('a', 10, 100); // the first second: nothing (a quick download shows no progress)
    t = 1500;
    p.update('a', 50, 100);
    t = 1600;
    p.update('a', 60, 100); // within 200 ms of the last frame: not drawn
    p.clear();
    assert.equal(tty.out, '\r\x1b[Kdownloading 1 file(s) from 1 node(s): 50 B / 100 B (50%)  33 B/s\r\x1b[K');
    const pipe = { out: '', isTTY: false, write(s: string) { this.out += s; } };
    const q = new TransferProgress(pipe, 1, 1, () => (t += 1000));
    q.update('a', 50, 100);
    q.clear();
    assert.equal(pipe.out, '');
  });
});
