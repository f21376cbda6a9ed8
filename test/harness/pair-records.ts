/**
 * Hand-built records (valid against the record schema) of the kinds no capture in test/data holds:
 * DNS errors, HTTP 5xx and unanswered requests, HTTP/2 and gRPC calls. Pod web-0 (namespace shop)
 * is the client of everything: DNS to kube-system/coredns-0, HTTP and gRPC to shop/api-0.
 * Used by the pair metrics tests (src/agent/pair-metrics.test.ts, test/dashboard.test.ts).
 */
import type { DnsRecord, Http2Record, HttpRecord, PcapRecord, RecordEndpoint } from '../../src/pcap/records/types.js';

const ep = (ip: string, port: number, pod: string, namespace: string): RecordEndpoint => ({ ip, port, pod, namespace, node: 'node-a', workload: null, external: false });
const web = (port: number) => ep('10.1.0.5', port, 'web-0', 'shop');
const dnsServer = ep('10.1.0.10', 53, 'coredns-0', 'kube-system');
const api = ep('10.1.0.7', 8080, 'api-0', 'shop');

function dns(rcode: string | null, id: number): DnsRecord {
  return { schemaVersion: 1, kind: 'dns', ts: 1700000000 + id, client: web(40000 + id), server: dnsServer, id, qname: 'api.shop.svc.cluster.local.', qtype: 'A', rcode, answers: rcode === null ? null : 0, latencyMs: rcode === null ? null : 0.4 };
}
function http(status: number | null): HttpRecord {
  return { schemaVersion: 1, kind: 'http', ts: 1700000100, client: web(41000), server: api, method: 'GET', path: '/cart', status, latencyMs: status === null ? null : 3 };
}
function h2(streamId: number, status: number | null, grpc: { status: number | null; statusName: string | null } | null): Http2Record {
  return {
    schemaVersion: 1,
    kind: 'http2',
    ts: 1700000200 + streamId,
    client: web(42000),
    server: api,
    streamId,
    upgraded: false,
    method: 'POST',
    path: grpc ? '/shop.Cart/Get' : '/v2/items',
    authority: 'api:8080',
    scheme: 'http',
    contentType: grpc ? 'application/grpc' : 'application/json',
    status,
    requestBytes: 20,
    responseBytes: 40,
    latencyMs: 2,
    end: 'complete',
    resetCode: null,
    resetBy: null,
    grpc: grpc ? { service: 'shop.Cart', method: 'Get', status: grpc.status, statusName: grpc.statusName, message: null, requestMessages: 1, responseMessages: grpc.status === 0 ? 1 : 0, compressedMessages: 0 } : null,
  };
}

/**
 * web-0 → coredns-0: 4 DNS queries: NOERROR, NXDOMAIN ×2, unanswered (rcode none).
 * web-0 → api-0: HTTP/1.1 500 and one unanswered; HTTP/2 404 (not gRPC); gRPC OK ×2, NOT_FOUND, no status.
 */
export function pairRecordsFixture(): PcapRecord[] {
  return [
    dns('NOERROR', 1),
    dns('NXDOMAIN', 2),
    dns('NXDOMAIN', 3),
    dns(null, 4),
    http(500),
    http(null),
    h2(1, 404, null),
    h2(3, 200, { status: 0, statusName: 'OK' }),
    h2(5, 200, { status: 0, statusName: 'OK' }),
    h2(7, 200, { status: 5, statusName: 'NOT_FOUND' }),
    h2(9, 200, { status: null, statusName: null }),
  ];
}
