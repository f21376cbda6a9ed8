import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatRoute, parseRoute, type Route } from './route.js';
import { connectionStats, statusClasses, type Summary } from './dashboard-data.js';

describe('deep links', () => {
  it('every route survives format -> parse', () => {
    const routes: Route[] = [
      { page: 'captures' },
      { page: 'create' },
      { page: 'capture', namespace: 'shop', name: 'web-x7k2p' },
      { page: 'analyze', source: 'cluster:shop/web-x7k2p', tab: 'packets', filter: 'http and pod == "web-0" && tcp.port == 80', packet: 42, follow: true, live: false },
      { page: 'analyze', source: 'store:incident-42', tab: 'dashboard', filter: '', follow: false, live: false },
      { page: 'analyze', source: 'file:0', tab: 'packets', filter: 'a?b#c&d=e/f%', follow: false, live: true },
    ];
    for (const r of routes) assert.deepEqual(parseRoute(formatRoute(r)), r);
  });
  it('anything else is the captures page; bad numbers are ignored', () => {
    assert.deepEqual(parseRoute(''), { page: 'captures' });
    assert.deepEqual(parseRoute('#/nowhere'), { page: 'captures' });
    assert.deepEqual(parseRoute('#/capture/only-ns'), { page: 'captures' });
    const r = parseRoute('#/analyze/file%3A0?packet=-3&tab=weird');
    assert.deepEqual(r, { page: 'analyze', source: 'file:0', tab: 'packets', filter: '', follow: false, live: false });
    assert.deepEqual(parseRoute('#/capture/%E0%A4%A/x'), { page: 'capture', namespace: '%E0%A4%A', name: 'x' });
  });
});

describe('dashboard shaping', () => {
  const ep = (address: string, name?: string, port?: number) => ({ address, ...(name ? { name } : {}), ...(port !== undefined ? { port } : {}) });
  const conv = (a: ReturnType<typeof ep>, b: ReturnType<typeof ep>, state: 'completed' | 'refused' | 'syn-unanswered' | 'no-handshake', client: 'a' | 'b' = 'a') => ({ protocol: 'tcp', a, b, tcp: { state, resets: state === 'refused' ? 1 : 0, client } });
  it('connections by client and server:port with their success rate; no-handshake and UDP not counted', () => {
    const s = {
      conversations: [
        conv(ep('10.0.0.1', 'shop/web-0', 40000), ep('10.0.0.2', 'shop/api-0', 8080), 'completed'),
        conv(ep('10.0.0.1', 'shop/web-0', 40001), ep('10.0.0.2', 'shop/api-0', 8080), 'refused'),
        // seen from the other side: the client is b
        conv(ep('10.0.0.2', 'shop/api-0', 8080), ep('10.0.0.1', 'shop/web-0', 40002), 'completed', 'b'),
        conv(ep('10.0.0.1', 'shop/web-0', 40003), ep('1.1.1.1', undefined, 443), 'syn-unanswered'),
        conv(ep('10.0.0.1', 'shop/web-0', 40004), ep('1.1.1.1', undefined, 443), 'no-handshake'),
        { protocol: 'udp', a: ep('10.0.0.1', 'shop/web-0', 5353), b: ep('10.0.0.3', 'kube-system/dns', 53) },
      ],
    } as unknown as Summary;
    const c = connectionStats(s);
    assert.deepEqual(
      c.map((x) => [x.client, x.server, x.attempts, x.completed, x.refused, x.unanswered, Math.round(x.successRate * 100)]),
      [
        ['shop/web-0', 'shop/api-0:8080', 3, 2, 1, 0, 67],
        ['shop/web-0', '1.1.1.1:443', 1, 0, 0, 1, 0],
      ],
    );
  });
  it('HTTP status classes', () => {
    assert.deepEqual(statusClasses({ '200': 3, '204': 1, '404': 2, '503': 1, other: 1 }), { '2xx': 4, '4xx': 2, '5xx': 1, other: 1 });
  });
});
