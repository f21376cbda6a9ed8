import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grpcRows, httpRows } from './dashboard-data.js';

const lat = (p50Ms: number, maxMs: number) => ({ count: 1, minMs: p50Ms, avgMs: p50Ms, p50Ms, p95Ms: maxMs, maxMs });

test('request rows: busiest first, statuses by count, failing when not 1xx-3xx / not OK', () => {
  assert.deepEqual(
    httpRows([
      { method: 'GET', path: '/a', requests: 1, statuses: { '200': 1 }, latency: lat(1, 1) },
      { method: 'POST', path: '/b', requests: 3, statuses: { '200': 1, '503': 2 }, latency: null },
    ]),
    [
      { name: 'POST /b', count: 3, statuses: '503: 2, 200: 1', failing: true, p50Ms: null, maxMs: null },
      { name: 'GET /a', count: 1, statuses: '200: 1', failing: false, p50Ms: 1, maxMs: 1 },
    ],
  );
  assert.deepEqual(httpRows(undefined), []);
  const g = grpcRows({
    calls: 3,
    statuses: {},
    latency: null,
    methods: [
      { service: 's.V', method: 'Get', calls: 2, statuses: { OK: 2 }, requestMessages: 2, responseMessages: 2, latency: lat(0.5, 0.7) },
      { service: 's.V', method: 'Put', calls: 1, statuses: { none: 1 }, requestMessages: 1, responseMessages: 0, latency: null },
    ],
  });
  assert.deepEqual(g.map((r) => [r.name, r.statuses, r.failing]), [['s.V/Get', 'OK: 2', false], ['s.V/Put', 'none: 1', true]]);
  assert.deepEqual(grpcRows(undefined), []);
});
