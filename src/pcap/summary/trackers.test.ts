// Each tracker of the summary on its own, fed hand-made packets through the same PacketContext the
// Summarizer loop uses. (The whole summary is compared with tshark in ../summary.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePacket } from '../decode.js';
import { CapturePoints, CopyDetector } from './capturepoints.js';
import { FlowSlots, PacketContext } from './context.js';
import { Conversations, topTalkers, type ConnectionSplitter } from './conversations.js';
import { DnsTracker } from './dns.js';
import { Flow } from './flow.js';
import { HttpTracker } from './http.js';
import { Latency } from './latency.js';
import { TcpTracker } from './tcp.js';
import { Totals } from './totals.js';

const CLIENT = [10, 0, 0, 1];
const SERVER = [10, 0, 0, 2];
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const ETHERNET = 1;

/** Ethernet + IPv4 + TCP/UDP frame. */
function frame(src: number[], dst: number[], proto: 6 | 17, sport: number, dport: number, payload: Buffer = Buffer.alloc(0), tcp = { seq: 0, ack: 0, flags: ACK }): Buffer {
  const l4len = proto === 6 ? 20 : 8;
  const ipLen = 20 + l4len + payload.length;
  const b = Buffer.alloc(14 + ipLen);
  b.writeUInt16BE(0x0800, 12);
  const ip = 14;
  b[ip] = 0x45;
  b.writeUInt16BE(ipLen, ip + 2);
  b[ip + 8] = 64;
  b[ip + 9] = proto;
  Buffer.from(src).copy(b, ip + 12);
  Buffer.from(dst).copy(b, ip + 16);
  const l4 = ip + 20;
  b.writeUInt16BE(sport, l4);
  b.writeUInt16BE(dport, l4 + 2);
  if (proto === 6) {
    b.writeUInt32BE(tcp.seq >>> 0, l4 + 4);
    b.writeUInt32BE(tcp.ack >>> 0, l4 + 8);
    b[l4 + 12] = 5 << 4;
    b[l4 + 13] = tcp.flags;
    b.writeUInt16BE(65535, l4 + 14);
  } else b.writeUInt16BE(8 + payload.length, l4 + 4);
  payload.copy(b, l4 + l4len);
  return b;
}

/** DNS message: one question, `ancount` answers claimed in the header (not encoded). */
function dnsMessage(id: number, response: boolean, name: string, rcode = 0, ancount = 0): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE((response ? 0x8180 : 0x0100) | rcode, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(ancount, 6);
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')]));
  return Buffer.concat([h, ...labels, Buffer.from([0, 0, 1, 0, 1])]); // root, type A, class IN
}

/** Decodes `b` into `p` as the Summarizer loop does (flow and direction are set by the caller or the table). */
function load(p: PacketContext, b: Buffer, t: number, cp = 0): void {
  assert.ok(decodePacket(b, 0, b.length, ETHERNET, p.d));
  p.b = b;
  p.t = t;
  p.cp = cp;
  p.origLen = b.length;
  p.retransmission = false;
}

test('Latency: exact count/min/max/avg, percentiles of the samples, null when empty', () => {
  const l = new Latency();
  assert.equal(l.result(), null);
  for (const ms of [5, 1, 3, 2, 4]) l.add(ms);
  assert.deepEqual(l.result(), { count: 5, minMs: 1, avgMs: 3, p50Ms: 3, p95Ms: 5, maxMs: 5 });
});

test('FlowSlots: per-flow state by id, null for flows never set', () => {
  const s = new FlowSlots<string>();
  const f0 = new Flow(0, 6);
  const f5 = new Flow(5, 6);
  assert.equal(s.get(f5), null);
  s.set(f5, 'five');
  assert.equal(s.get(f5), 'five');
  assert.equal(s.get(f0), null);
  assert.equal(s.get(new Flow(9, 6)), null);
});

test('CapturePoints: dense ids per (file, interface) in order of appearance', () => {
  const c = new CapturePoints();
  assert.equal(c.id(0, 0), 0);
  assert.equal(c.id(0, 3), 1);
  assert.equal(c.id(0, 0), 0);
  assert.equal(c.id(1, 0), 2);
  assert.equal(c.id(0, 3), 1);
  assert.equal(c.count, 3);
});

test('CopyDetector: a message seen at another capture point within 2 s is a copy; at the same one, later, or disabled it is not', () => {
  const c = new CopyDetector(true);
  assert.equal(c.seen('m1', 0, 10).copy, false);
  assert.equal(c.seen('m1', 1, 10.5).copy, true); // the other capture point
  assert.equal(c.seen('m1', 1, 10.6).copy, false); // already seen there: a new message
  assert.equal(c.seen('m2', 0, 20).copy, false);
  assert.equal(c.seen('m2', 1, 22.5).copy, false); // outside the window
  const first = c.seen('m3', 0, 30);
  const copy = c.seen('m3', 1, 30.1);
  assert.equal(copy.m, first.m, 'a copy shares the message (so a response is paired once)');
  assert.deepEqual(copy.m.cps, [0, 1]);
  const off = new CopyDetector(false);
  assert.equal(off.seen('m', 0, 1).copy, false);
  assert.equal(off.seen('m', 1, 1).copy, false);
});

test('Totals: records, bytes, time range (not in order), link type runs, protocol mix', () => {
  const t = new Totals();
  const p = new PacketContext();
  const add = (b: Buffer, linkType: number, sec: number, nsec: number, caplen = b.length) => {
    t.onRecord(caplen, b.length, linkType, sec, nsec);
    t.onDecoded(decodePacket(b, 0, caplen, linkType, p.d), p.d);
  };
  const tcp = frame(CLIENT, SERVER, 6, 40000, 80);
  const udp = frame(CLIENT, SERVER, 17, 40000, 53, Buffer.alloc(4));
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  add(tcp, ETHERNET, 100, 500);
  add(udp, ETHERNET, 99, 0);
  add(arp, ETHERNET, 101, 7000);
  add(tcp, 228, 100, 600); // raw IPv4 link type: an Ethernet frame is not IPv4 -> not IP
  add(tcp, ETHERNET, 100, 700, 20); // cut short before the IP header
  const r = t.finish();
  assert.equal(r.packets, 5);
  assert.equal(r.bytes, tcp.length * 3 + udp.length + arp.length);
  assert.equal(r.capturedBytes, tcp.length * 2 + 20 + udp.length + arp.length);
  assert.equal(r.firstTime, '1970-01-01T00:01:39.000000Z');
  assert.equal(r.lastTime, '1970-01-01T00:01:41.000007Z');
  assert.deepEqual(r.linkTypes, { '1': 4, '228': 1 });
  assert.equal(r.protocols.tcp, 1);
  assert.equal(r.protocols.udp, 1);
  assert.equal(r.protocols.arp, 1);
  assert.equal(r.protocols.ipv4, 2);
  assert.equal(r.protocols.nonIp, 2);
});

test('Conversations: A is the first sender, both directions count, capture points are separate flows grouped at the end', () => {
  const never: ConnectionSplitter = { startsNewConnection: () => false };
  const c = new Conversations(never, new Map([['10.0.0.2', { pod: 'api', namespace: 'shop' }]]));
  const p = new PacketContext();
  const req = frame(SERVER, CLIENT, 17, 53, 40000, Buffer.alloc(10));
  const resp = frame(CLIENT, SERVER, 17, 40000, 53, Buffer.alloc(30));
  load(p, req, 1);
  c.onPacket(p);
  const f = p.flow;
  assert.equal(p.ab, true);
  load(p, resp, 2);
  c.onPacket(p);
  assert.equal(p.flow, f);
  assert.equal(p.ab, false);
  load(p, req, 3, 1); // the same packet at a second capture point
  c.onPacket(p);
  assert.notEqual(p.flow, f);
  assert.equal(c.size, 2);
  const reported = c.finish(true);
  assert.equal(reported.length, 1);
  const conv = reported[0]!.conversation;
  assert.equal(reported[0]!.flow, f, 'the capture point that saw the most packets');
  assert.equal(conv.protocol, 'udp');
  assert.deepEqual(conv.a, { address: '10.0.0.2', port: 53, name: 'shop/api', pod: 'api', namespace: 'shop' });
  assert.deepEqual(conv.b, { address: '10.0.0.1', port: 40000 });
  assert.deepEqual([conv.packetsAtoB, conv.bytesAtoB, conv.packetsBtoA, conv.bytesBtoA], [1, req.length, 1, resp.length]);
  assert.deepEqual([conv.firstTime, conv.lastTime, conv.durationSeconds], [1, 2, 1]);
  assert.deepEqual([conv.capturePoints, conv.packetsAllCapturePoints, conv.bytesAllCapturePoints], [2, 3, 2 * req.length + resp.length]);
  assert.equal(c.finish(false).length, 2, 'without grouping every capture point reports its own');
  const talkers = topTalkers(reported, undefined, 1);
  assert.equal(talkers.length, 1);
  assert.equal(talkers[0]!.packets, 2);
});

test('Conversations: the splitter decides port reuse on a SYN', () => {
  let split = false;
  const c = new Conversations({ startsNewConnection: () => split }, undefined);
  const p = new PacketContext();
  const syn = frame(CLIENT, SERVER, 6, 40000, 80, undefined, { seq: 1, ack: 0, flags: SYN });
  load(p, syn, 1);
  c.onPacket(p);
  const first = p.flow;
  load(p, syn, 2);
  c.onPacket(p);
  assert.equal(p.flow, first);
  split = true;
  load(p, syn, 3);
  c.onPacket(p);
  assert.notEqual(p.flow, first);
  assert.equal(p.flow.inst, 1);
  load(p, frame(SERVER, CLIENT, 6, 80, 40000, undefined, { seq: 9, ack: 2, flags: SYN | ACK }), 4);
  c.onPacket(p);
  assert.equal(p.flow.inst, 1, 'later packets go to the new connection');
  assert.equal(c.finish(true).length, 2);
});

/** Feeds TCP packets of one flow to a TcpTracker (A = client). */
function tcpFeed(tcp: TcpTracker, f: Flow) {
  const p = new PacketContext();
  return (fromClient: boolean, t: number, seq: number, ack: number, flags: number, payload = Buffer.alloc(0)): boolean => {
    const b = fromClient ? frame(CLIENT, SERVER, 6, 40000, 80, payload, { seq, ack, flags }) : frame(SERVER, CLIENT, 6, 80, 40000, payload, { seq, ack, flags });
    load(p, b, t);
    p.flow = f;
    p.ab = fromClient;
    tcp.onPacket(p);
    return p.retransmission;
  };
}

test('TcpTracker: completed handshake with RTT, a retransmission flagged, FINs, port reuse after close', () => {
  const tcp = new TcpTracker();
  const f = new Flow(0, 6);
  const send = tcpFeed(tcp, f);
  send(true, 10.0, 1000, 0, SYN);
  send(false, 10.004, 5000, 1001, SYN | ACK);
  send(true, 10.01, 1001, 5001, ACK);
  assert.equal(send(true, 10.02, 1001, 5001, PSH | ACK, Buffer.from('hello')), false);
  assert.equal(send(true, 10.5, 1001, 5001, PSH | ACK, Buffer.from('hello')), true, 'same data again after the window');
  send(false, 10.6, 5001, 1006, ACK);
  send(true, 10.7, 1006, 5001, FIN | ACK);
  assert.equal(tcp.startsNewConnection(f, 7777), false, 'half closed');
  send(false, 10.8, 5001, 1007, FIN | ACK);
  assert.equal(tcp.startsNewConnection(f, 1000), false, 'the same ISN is a retransmitted SYN');
  assert.equal(tcp.startsNewConnection(f, 7777), true);
  const reported = [{ flow: f, conversation: { protocol: 'tcp' } as never }];
  const s = tcp.finish(reported);
  assert.deepEqual(
    { ...s, handshakeRtt: s.handshakeRtt?.count },
    { connections: 1, completed: 1, refused: 0, synUnanswered: 0, synAckUnacked: 0, noHandshake: 0, resets: 0, retransmissions: 1, segments: 8, handshakeRtt: 1 },
  );
  assert.equal(s.handshakeRtt?.minMs, 10);
  assert.deepEqual((reported[0]!.conversation as { tcp: unknown }).tcp, { state: 'completed', resets: 0, retransmissions: 1, rttMs: 10, client: 'a', finA: true, finB: true });
});

test('TcpTracker: refused (RST to a SYN), unanswered SYN, no handshake; non-TCP flows are left alone', () => {
  const tcp = new TcpTracker();
  const refused = new Flow(0, 6);
  const unanswered = new Flow(1, 6);
  const midstream = new Flow(2, 6);
  const udp = new Flow(3, 17);
  tcpFeed(tcp, refused)(true, 1, 100, 0, SYN);
  tcpFeed(tcp, refused)(false, 1.001, 0, 101, RST | ACK);
  tcpFeed(tcp, unanswered)(true, 2, 200, 0, SYN);
  tcpFeed(tcp, midstream)(true, 3, 300, 400, ACK, Buffer.from('x'));
  const conv = () => ({}) as never;
  const reported = [refused, unanswered, midstream, udp].map((flow) => ({ flow, conversation: conv() }));
  const s = tcp.finish(reported);
  assert.deepEqual([s.connections, s.refused, s.synUnanswered, s.noHandshake, s.resets, s.handshakeRtt], [3, 1, 1, 1, 1, null]);
  assert.deepEqual(
    reported.map((r) => (r.conversation as { tcp?: { state: string } }).tcp?.state),
    ['refused', 'syn-unanswered', 'no-handshake', undefined],
  );
});

test('DnsTracker: query/response pairing, names, rcodes, latency; a copy at another capture point counts once', () => {
  const dns = new DnsTracker(new CopyDetector(true), 20);
  const p = new PacketContext();
  const at0 = new Flow(0, 17);
  const at1 = new Flow(1, 17);
  at1.cp = 1;
  const feed = (f: Flow, cp: number, query: boolean, t: number, msg: Buffer) => {
    load(p, query ? frame(CLIENT, SERVER, 17, 40000, 53, msg) : frame(SERVER, CLIENT, 17, 53, 40000, msg), t, cp);
    p.flow = f;
    p.ab = query;
    dns.onPacket(p);
  };
  feed(at0, 0, true, 1.0, dnsMessage(7, false, 'api.shop.svc'));
  feed(at1, 1, true, 1.001, dnsMessage(7, false, 'api.shop.svc')); // copy
  feed(at1, 1, false, 1.02, dnsMessage(7, true, 'api.shop.svc', 0, 2));
  feed(at0, 0, false, 1.021, dnsMessage(7, true, 'api.shop.svc', 0, 2)); // copy
  feed(at0, 0, true, 2.0, dnsMessage(8, false, 'nope.example'));
  feed(at0, 0, false, 2.003, dnsMessage(8, true, 'nope.example', 3));
  feed(at0, 0, true, 3.0, dnsMessage(9, false, 'lost.example'));
  const s = dns.finish();
  assert.deepEqual([s.queries, s.responses, s.answers, s.unanswered], [3, 2, 2, 1]);
  assert.deepEqual(s.rcodes, { NOERROR: 1, NXDOMAIN: 1 });
  assert.equal(s.latency?.count, 2);
  assert.equal(s.latency?.maxMs, 19);
  assert.deepEqual(s.names[0], { name: 'api.shop.svc', qtype: 'A', queries: 1, responses: 1, rcodes: { NOERROR: 1 } });
});

test('HttpTracker: request/response pairing per connection, statuses, endpoints; retransmissions ignored', () => {
  const http = new HttpTracker(new CopyDetector(true), 20);
  const p = new PacketContext();
  const f = new Flow(0, 6);
  const feed = (fromClient: boolean, t: number, seq: number, text: string, retransmission = false) => {
    const payload = Buffer.from(text, 'latin1');
    load(p, fromClient ? frame(CLIENT, SERVER, 6, 40000, 80, payload, { seq, ack: 1, flags: PSH | ACK }) : frame(SERVER, CLIENT, 6, 80, 40000, payload, { seq, ack: 1, flags: PSH | ACK }), t);
    p.flow = f;
    p.ab = fromClient;
    p.retransmission = retransmission;
    http.onPacket(p);
  };
  feed(true, 1.0, 100, 'GET /items HTTP/1.1\r\nHost: x\r\n\r\n');
  feed(true, 1.2, 100, 'GET /items HTTP/1.1\r\nHost: x\r\n\r\n', true); // retransmitted: not a new request
  feed(false, 1.05, 500, 'HTTP/1.1 200 OK\r\n\r\n');
  feed(true, 2.0, 200, 'POST /items HTTP/1.1\r\nHost: x\r\n\r\n');
  feed(false, 2.1, 600, 'HTTP/1.1 503 Service Unavailable\r\n\r\n');
  feed(false, 2.2, 700, 'not http at all, just bytes');
  const s = http.finish();
  assert.deepEqual([s.requests, s.responses], [2, 2]);
  assert.deepEqual(s.methods, { GET: 1, POST: 1 });
  assert.deepEqual(s.statuses, { '200': 1, '503': 1 });
  assert.equal(s.latency?.count, 2);
  assert.deepEqual(
    s.endpoints.map((e) => [e.method, e.path, e.requests, e.statuses]),
    [
      ['GET', '/items', 1, { '200': 1 }],
      ['POST', '/items', 1, { '503': 1 }],
    ],
  );
});
