// The Traffic trigger's pure decision: which records count for which metric, a sliding window in
// packet time that takes late (out-of-order) records, the firing's time and cause, once only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrafficCondition } from '../api/trigger.js';
import type { ConnectionRecord, DnsRecord, Http2Record, HttpRecord, RecordEndpoint } from '../pcap/records/types.js';
import { SlidingCount, trafficCause, TrafficDecider, trafficFiringId, trafficHits } from './traffic-trigger.js';

const ep = (ip: string, port: number, pod: string | null = null): RecordEndpoint => ({ ip, port, pod, namespace: pod ? 'shop' : null, node: null, workload: null, external: pod === null });
const conn = (ts: number, resets: number, state: ConnectionRecord['state'] = 'REJ'): ConnectionRecord => ({
  schemaVersion: 1,
  kind: 'connection',
  ts,
  durationSeconds: 0.001,
  protocol: 'tcp',
  orig: ep('10.0.0.1', 40000, 'client'),
  resp: ep('10.0.0.2', 81, 'web-0'),
  origPackets: 1,
  origBytes: 60,
  respPackets: 1,
  respBytes: 54,
  state,
  history: resets > 0 ? 'Sr' : 'ShADadFf',
  handshakeRttMs: null,
  retransmissions: 0,
  resets,
  capturePoints: 1,
});
const dns = (ts: number, rcode: string | null): DnsRecord => ({ schemaVersion: 1, kind: 'dns', ts, client: ep('10.0.0.1', 5353), server: ep('10.0.0.53', 53), id: 1, qname: 'api.example.', qtype: 'A', rcode, answers: 0, latencyMs: 2 });
const http = (ts: number, status: number | null): HttpRecord => ({ schemaVersion: 1, kind: 'http', ts, client: ep('10.0.0.1', 40001), server: ep('10.0.0.2', 8080, 'web-0'), method: 'GET', path: '/boom', status, latencyMs: 5 });
const h2 = (ts: number, status: number, grpc: number | null): Http2Record => ({
  schemaVersion: 1,
  kind: 'http2',
  ts,
  client: ep('10.0.0.1', 40002),
  server: ep('10.0.0.2', 9090),
  streamId: 1,
  upgraded: false,
  method: 'POST',
  path: '/shop.Cart/Add',
  authority: 'cart',
  scheme: 'http',
  contentType: grpc === null ? 'text/plain' : 'application/grpc',
  status,
  requestBytes: 10,
  responseBytes: 10,
  latencyMs: 1,
  end: 'complete',
  resetCode: null,
  resetBy: null,
  grpc: grpc === null ? null : { service: 'shop.Cart', method: 'Add', status: grpc, statusName: grpc === 0 ? 'OK' : 'UNAVAILABLE', message: null, requestMessages: 1, responseMessages: 1, compressedMessages: 0 },
});
const cond = (metric: TrafficCondition['metric'], threshold: number, windowSeconds = 1): TrafficCondition => ({ metric, threshold, windowSeconds });

describe('trafficHits: what counts for which metric', () => {
  it('TcpResets: TCP connections with RSTs, as many as it had, at the connection\'s end', () => {
    assert.deepEqual(trafficHits(conn(100, 2), 'TcpResets'), { atMs: 100_001, n: 2, what: 'shop/client:40000 -> shop/web-0:81 refused' });
    assert.equal(trafficHits(conn(100, 0, 'SF'), 'TcpResets'), undefined);
    assert.equal(trafficHits({ ...conn(100, 1), protocol: 'udp' }, 'TcpResets'), undefined);
    assert.equal(trafficHits(dns(100, 'SERVFAIL'), 'TcpResets'), undefined);
  });
  it('DnsServfail: answers with SERVFAIL only (not NXDOMAIN, not unanswered), at the answer', () => {
    assert.equal(trafficHits(dns(100, 'SERVFAIL'), 'DnsServfail')?.atMs, 100_002);
    assert.match(trafficHits(dns(100, 'SERVFAIL'), 'DnsServfail')?.what ?? '', /api.example. A from 10.0.0.53:53 SERVFAIL/);
    assert.equal(trafficHits(dns(100, 'NXDOMAIN'), 'DnsServfail'), undefined);
    assert.equal(trafficHits(dns(100, null), 'DnsServfail'), undefined);
  });
  it('Http5xx: HTTP/1.x and non-gRPC HTTP/2 responses 500..599; GrpcError: non-OK grpc-status', () => {
    assert.equal(trafficHits(http(100, 503), 'Http5xx')?.n, 1);
    assert.equal(trafficHits(http(100, 404), 'Http5xx'), undefined);
    assert.equal(trafficHits(http(100, null), 'Http5xx'), undefined);
    assert.equal(trafficHits(h2(100, 500, null), 'Http5xx')?.n, 1);
    assert.equal(trafficHits(h2(100, 200, 14), 'Http5xx'), undefined, 'a gRPC call counts as GrpcError, not by its HTTP status');
    assert.match(trafficHits(h2(100, 200, 14), 'GrpcError')?.what ?? '', /shop.Cart\/Add on 10.0.0.2:9090 ended UNAVAILABLE/);
    assert.equal(trafficHits(h2(100, 200, 0), 'GrpcError'), undefined);
  });
});

describe('SlidingCount: threshold within a window of packet time', () => {
  const hit = (s: number, n = 1) => ({ atMs: s * 1000, n, what: `at ${s}` });
  it('fires when threshold hits fall within the window, at the hit that reached it', () => {
    const c = new SlidingCount(cond('TcpResets', 3, 1));
    assert.equal(c.add(hit(10)), undefined);
    assert.equal(c.add(hit(10.5)), undefined);
    assert.equal(c.add(hit(11.2)), undefined, '10 is out of the window of 1 s ending at 11.2');
    const r = c.add(hit(11.4));
    assert.deepEqual(r && { count: r.count, atMs: r.atMs }, { count: 3, atMs: 11_400 });
  });
  it('spread out below the rate: never', () => {
    const c = new SlidingCount(cond('TcpResets', 3, 1));
    for (let s = 0; s < 100; s++) assert.equal(c.add(hit(s * 0.5)), undefined, `hit ${s}`);
  });
  it('a late record inserted in the past completes a window; its time is the threshold-th in time order', () => {
    const c = new SlidingCount(cond('DnsServfail', 3, 10));
    assert.equal(c.add(hit(100)), undefined);
    assert.equal(c.add(hit(130)), undefined);
    assert.equal(c.add(hit(150)), undefined);
    assert.equal(c.add(hit(104)), undefined);
    const r = c.add(hit(102)); // late: 100, 102, 104 within 10 s
    assert.equal(r?.atMs, 104_000);
  });
  it('a hit counting several (a connection with many RSTs) reaches it alone', () => {
    const c = new SlidingCount(cond('TcpResets', 5, 1));
    assert.equal(c.add(hit(1, 5))?.count, 5);
  });
  it('forgets hits long before the newest (bounded memory)', () => {
    const c = new SlidingCount(cond('TcpResets', 1_000_000, 1));
    for (let s = 0; s < 5000; s++) c.add(hit(s));
    assert.ok(c.size <= 2 * 602, `${c.size} kept (10 min before the newest window, compacted in halves)`);
  });
  it('every arrival order of the same hits fires (at a threshold-th hit of a window that holds it) or never fires alike', () => {
    // every order of 6 hits at fixed times: the decision (when reached) must not depend on the order
    const times = [0, 0.3, 0.9, 1.5, 1.6, 1.7];
    const perms = (a: number[]): number[][] => (a.length <= 1 ? [a] : a.flatMap((x, i) => perms([...a.slice(0, i), ...a.slice(i + 1)]).map((p) => [x, ...p])));
    for (const order of perms(times)) {
      const c = new SlidingCount(cond('TcpResets', 3, 1));
      let fired: number | undefined;
      for (const t of order) fired ??= c.add(hit(t))?.atMs;
      // all six in: a window of 1 s holding 3 exists ([0.9..1.7] and [1.5, 1.6, 1.7]); fired once all that window's hits were added
      assert.ok(fired !== undefined, `order ${order.join(',')}`);
      assert.ok([900, 1500, 1600, 1700].includes(fired), `order ${order.join(',')}: fired at ${fired}`);
    }
    // below the threshold in every order: never
    for (const order of perms([0, 1, 2, 3, 4])) {
      const c = new SlidingCount(cond('TcpResets', 2, 1));
      for (const t of order) assert.equal(c.add(hit(t)), undefined, `order ${order.join(',')}`);
    }
  });
});

describe('TrafficDecider: the first condition reached, once', () => {
  it('decides on the first reached condition, then nothing', () => {
    const d = new TrafficDecider([cond('Http5xx', 2, 5), cond('TcpResets', 3, 1)]);
    assert.equal(d.offer(http(100, 500)), undefined);
    assert.equal(d.offer(conn(100.1, 1)), undefined);
    assert.equal(d.offer(http(100, 200)), undefined);
    const r = d.offer(http(101, 502));
    assert.ok(r);
    assert.equal(r.condition.metric, 'Http5xx');
    assert.equal(r.count, 2);
    assert.equal(r.atMs, 101_005);
    assert.equal(d.offer(http(102, 500)), undefined, 'decided once');
    assert.equal(d.offer(conn(102, 10)), undefined);
    assert.equal(
      trafficCause(r, 'pod/shop/web-0', 'node-a'),
      'Http5xx on pod/shop/web-0: 2 within 5 s (threshold 2), seen by node node-a; last: GET /boom on shop/web-0:8080 answered 502',
    );
  });
  it('the firing id: deterministic per capture and node, valid for status.firings', () => {
    const a = trafficFiringId('uid-1', 'node-a');
    assert.equal(a, trafficFiringId('uid-1', 'node-a'));
    assert.notEqual(a, trafficFiringId('uid-1', 'node-b'));
    assert.notEqual(a, trafficFiringId('uid-2', 'node-a'));
    assert.match(a, /^[a-z0-9-]{1,64}$/);
  });
});
