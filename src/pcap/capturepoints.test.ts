// Several capture points in one file: `kubectl pcap capture` merges every pod's capture into one
// pcapng with one interface per pod, so a packet between two captured pods is recorded twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapngWriter } from './writer.js';
import { summarizeFiles, type Summary } from './summary.js';
import { endpointCell, formatSummaryTable } from './format.js';
import { runTool } from '../../test/harness/pcap.js';
import type { EndpointInfo } from './metadata.js';

const tmp = mkdtempSync(join(tmpdir(), 'pcapper-cp-test-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const WEB = [10, 0, 0, 1];
const API = [10, 0, 0, 2];
const MAC_WEB = [2, 0, 0, 0, 0, 1];
const MAC_API = [2, 0, 0, 0, 0, 2];

/** Ethernet + IPv4 + (TCP or UDP) frame with a correct IPv4 header checksum. */
function frame(src: number[], dst: number[], proto: 6 | 17, sport: number, dport: number, payload: Buffer, tcp?: { seq: number; ack: number; flags: number }): Buffer {
  const l4len = proto === 6 ? 20 : 8;
  const ipLen = 20 + l4len + payload.length;
  const b = Buffer.alloc(14 + ipLen);
  Buffer.from(dst === WEB ? MAC_WEB : MAC_API).copy(b, 0);
  Buffer.from(src === WEB ? MAC_WEB : MAC_API).copy(b, 6);
  b.writeUInt16BE(0x0800, 12);
  const ip = 14;
  b[ip] = 0x45;
  b.writeUInt16BE(ipLen, ip + 2);
  b[ip + 8] = 64;
  b[ip + 9] = proto;
  Buffer.from(src).copy(b, ip + 12);
  Buffer.from(dst).copy(b, ip + 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(ip + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b.writeUInt16BE(~sum & 0xffff, ip + 10);
  const l4 = ip + 20;
  b.writeUInt16BE(sport, l4);
  b.writeUInt16BE(dport, l4 + 2);
  if (proto === 6 && tcp) {
    b.writeUInt32BE(tcp.seq >>> 0, l4 + 4);
    b.writeUInt32BE(tcp.ack >>> 0, l4 + 8);
    b[l4 + 12] = 5 << 4;
    b[l4 + 13] = tcp.flags;
    b.writeUInt16BE(65535, l4 + 14);
  } else b.writeUInt16BE(8 + payload.length, l4 + 4);
  payload.copy(b, l4 + l4len);
  return b;
}

const FIN = 0x01;
const SYN = 0x02;
const PSH = 0x08;
const ACK = 0x10;

interface Pkt {
  fromWeb: boolean;
  data: Buffer;
}

/** A clean exchange: DNS query/answer, then a TCP connection with one HTTP request/response. */
function exchange(): Pkt[] {
  const out: Pkt[] = [];
  const q = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, ...Buffer.from('api'), 7, ...Buffer.from('default'), 0, 0, 1, 0, 1]);
  const r = Buffer.concat([Buffer.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]), q.subarray(12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, ...API])]);
  out.push({ fromWeb: true, data: frame(WEB, API, 17, 40000, 53, q) });
  out.push({ fromWeb: false, data: frame(API, WEB, 17, 53, 40000, r) });
  const c = 1000; // client ISN
  const s = 5000; // server ISN
  const req = Buffer.from('GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n');
  const resp = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const cli = (seq: number, ack: number, flags: number, p = Buffer.alloc(0)) => out.push({ fromWeb: true, data: frame(WEB, API, 6, 58884, 8080, p, { seq, ack, flags }) });
  const srv = (seq: number, ack: number, flags: number, p = Buffer.alloc(0)) => out.push({ fromWeb: false, data: frame(API, WEB, 6, 8080, 58884, p, { seq, ack, flags }) });
  cli(c, 0, SYN);
  srv(s, c + 1, SYN | ACK);
  cli(c + 1, s + 1, ACK);
  cli(c + 1, s + 1, PSH | ACK, req);
  srv(s + 1, c + 1 + req.length, ACK);
  srv(s + 1, c + 1 + req.length, PSH | ACK, resp);
  cli(c + 1 + req.length, s + 1 + resp.length, ACK);
  cli(c + 1 + req.length, s + 1 + resp.length, FIN | ACK);
  srv(s + 1 + resp.length, c + 2 + req.length, FIN | ACK);
  cli(c + 2 + req.length, s + 2 + resp.length, ACK);
  return out;
}

/**
 * Writes `pkts` 1 ms apart; each on the sender's interface and, 5 µs later, on the receiver's
 * (interface 0 = web, 1 = api). `onlyAt` restricts a packet to one interface (index into pkts).
 */
async function write(path: string, pkts: Pkt[], onlyAt = new Map<number, number>()): Promise<void> {
  const w = new PcapngWriter(createWriteStream(path));
  w.writeSection({});
  const web = w.addInterface({ linkType: 1, name: 'node-a/default/demo-web', tsresol: 9 });
  const api = w.addInterface({ linkType: 1, name: 'node-b/default/demo-api', tsresol: 9 });
  const t0 = 1_700_000_000;
  pkts.forEach((p, i) => {
    const ns = i * 1_000_000;
    const first = p.fromWeb ? web : api;
    const second = p.fromWeb ? api : web;
    const only = onlyAt.get(i);
    if (only === undefined || only === first) w.writePacket(first, t0, ns, p.data);
    if (only === undefined || only === second) w.writePacket(second, t0, ns + 5_000, p.data);
  });
  await w.end();
}

function tsharkCount(file: string, filter: string): number {
  return runTool('tshark', ['-n', '-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number']).stdout.split('\n').filter((l) => l !== '').length;
}

/** tshark's count for `filter` when it sees only interface `id` (its TCP analysis spans interfaces). */
function tsharkCountAt(file: string, id: number, filter: string): number {
  const one = `${file}.if${id}.pcapng`;
  runTool('tshark', ['-n', '-r', file, '-Y', `frame.interface_id == ${id}`, '-w', one]);
  return tsharkCount(one, filter);
}

const endpoints = new Map<string, EndpointInfo>([
  ['10.0.0.1', { pod: 'demo-web-7d9c4f6b8-abcde', namespace: 'default', node: 'node-a' }],
  ['10.0.0.2', { pod: 'demo-api-5f6d7c8b9-fghij', namespace: 'default', node: 'node-b' }],
]);

test('every packet at two capture points: no retransmissions, DNS and HTTP answered, conversations once', async () => {
  const path = join(tmp, 'two.pcapng');
  const pkts = exchange();
  await write(path, pkts);
  const { summary } = await summarizeFiles([path], { endpoints });
  const tcpPkts = pkts.length - 2;
  assert.equal(summary.packets, 2 * pkts.length, 'packets counts records');
  assert.equal(summary.capturePoints, 2);
  assert.equal(summary.tcp.retransmissions, 0);
  assert.equal(summary.tcp.connections, 1);
  assert.equal(summary.tcp.completed, 1);
  assert.equal(summary.tcp.segments, tcpPkts);
  assert.equal(summary.tcp.handshakeRtt?.count, 1);
  assert.deepEqual({ q: summary.dns.queries, r: summary.dns.responses, u: summary.dns.unanswered, n: summary.dns.latency?.count }, { q: 1, r: 1, u: 0, n: 1 });
  assert.deepEqual(summary.dns.names.map((n) => [n.name, n.queries, n.responses]), [['api.default', 1, 1]]);
  assert.deepEqual({ q: summary.http.requests, r: summary.http.responses, n: summary.http.latency?.count }, { q: 1, r: 1, n: 1 });
  assert.deepEqual(summary.http.endpoints.map((e) => [e.method, e.path, e.requests, e.statuses]), [['GET', '/healthz', 1, { '200': 1 }]]);
  assert.equal(summary.conversations.length, 2);
  const tcp = summary.conversations.find((c) => c.protocol === 'tcp');
  const udp = summary.conversations.find((c) => c.protocol === 'udp');
  assert.equal(tcp?.tcp?.state, 'completed');
  assert.equal(tcp?.tcp?.retransmissions, 0);
  assert.equal(tcp?.packets, tcpPkts);
  assert.equal(tcp?.capturePoints, 2);
  assert.equal(tcp?.packetsAllCapturePoints, 2 * tcpPkts);
  assert.equal(tcp?.bytesAllCapturePoints, 2 * (tcp?.bytes ?? 0));
  assert.equal(udp?.packets, 2);
  assert.equal(udp?.capturePoints, 2);
  assert.equal(summary.topTalkers.find((t) => t.address === '10.0.0.1')?.packets, pkts.length);
  // tshark on each interface alone agrees: no retransmission at either capture point ...
  assert.equal(tsharkCountAt(path, 0, 'tcp.analysis.retransmission'), 0);
  assert.equal(tsharkCountAt(path, 1, 'tcp.analysis.retransmission'), 0);
  // ... while all interfaces as one stream (tshark's default) sees the copies as retransmissions
  const { summary: flat } = await summarizeFiles([path], { perCapturePoint: false });
  assert.equal(flat.tcp.retransmissions, tsharkCount(path, 'tcp.analysis.retransmission'));
  assert.ok(flat.tcp.retransmissions > 0);
  assert.equal(flat.conversations.find((c) => c.protocol === 'tcp')?.packets, 2 * tcpPkts);
  // the table shows pod names, not truncated namespaces
  const table = formatSummaryTable(summary);
  assert.match(table, /2 capture points/);
  assert.match(table, /pods in namespace default/);
  assert.match(table, / demo-web-7…bcde:58884 demo-api-5…fghij:8080 /);
  for (const line of table.split('\n')) assert.ok([...line].length <= 80, line);
});

test('a segment retransmitted at one capture point is one retransmission', async () => {
  const path = join(tmp, 'retrans.pcapng');
  const pkts = exchange();
  // the HTTP request (index 5) is lost on the way: the web pod's interface sees it twice, the api
  // pod's interface only the retransmission
  const idx = 5;
  assert.ok(pkts[idx]?.fromWeb);
  const withRetrans = [...pkts.slice(0, idx + 1), pkts[idx], ...pkts.slice(idx + 1)];
  await write(path, withRetrans, new Map([[idx, 0]]));
  const { summary } = await summarizeFiles([path]);
  assert.equal(summary.tcp.retransmissions, 1);
  assert.equal(summary.tcp.completed, 1);
  const tcp = summary.conversations.find((c) => c.protocol === 'tcp');
  assert.equal(tcp?.tcp?.retransmissions, 1);
  assert.equal(tcp?.capturePoints, 2);
  assert.equal(tcp?.packets, pkts.length - 2 + 1, 'packets of the web capture point');
  assert.equal(summary.http.requests, 1);
  assert.equal(summary.http.responses, 1);
  assert.equal(tsharkCountAt(path, 0, 'tcp.analysis.retransmission'), 1);
  assert.equal(tsharkCountAt(path, 1, 'tcp.analysis.retransmission'), 0);
});

test('two files are two capture points; the same conversation in both is reported once', async () => {
  const pkts = exchange();
  const a = join(tmp, 'a.pcapng');
  const b = join(tmp, 'b.pcapng');
  // each file holds what one pod saw (interface 0 only / interface 1 only)
  await write(a, pkts, new Map(pkts.map((p, i) => [i, 0])));
  await write(b, pkts, new Map(pkts.map((p, i) => [i, 1])));
  const { summary } = await summarizeFiles([a, b]);
  assert.equal(summary.capturePoints, 2);
  assert.equal(summary.tcp.retransmissions, 0);
  assert.equal(summary.dns.queries, 1);
  assert.equal(summary.dns.unanswered, 0);
  assert.equal(summary.http.requests, 1);
  assert.equal(summary.conversations.length, 2);
  for (const c of summary.conversations) assert.equal(c.capturePoints, 2);
  const one: Summary = (await summarizeFiles([a])).summary;
  assert.equal(one.capturePoints, 1);
  assert.equal(one.conversations.find((c) => c.protocol === 'tcp')?.capturePoints, 1);
});

test('endpoint cells keep the pod name and shorten the namespace first', () => {
  const e = { address: '10.0.0.2', port: 58884, pod: 'demo-api', namespace: 'default', name: 'default/demo-api' };
  assert.equal(endpointCell(e, 21, 'default'), 'demo-api:58884');
  assert.equal(endpointCell(e, 23), 'default/demo-api:58884');
  assert.equal(endpointCell(e, 21), 'defau…/demo-api:58884');
  const long = { ...e, pod: 'demo-api-5f6d7c8b9-fghij' };
  const cell = endpointCell(long, 21);
  assert.equal(cell.length, 21);
  assert.ok(cell.startsWith('demo-api') && cell.endsWith(':58884'), cell);
  assert.equal(endpointCell({ address: '10.1.2.3', port: 80 }, 21), '10.1.2.3:80');
});
