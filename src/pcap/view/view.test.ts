/**
 * The view engine on captures written here byte by byte (so growing files, cut records and
 * corrupt indexes can be made exactly): the index file (0600, reused, rebuilt when stale or
 * corrupt, memory-only when it cannot be written), refresh() on a growing file, several files in
 * timestamp order, capture points and pod names from metadata, detail field ranges, follow.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCaptureView } from './view.js';
import { INDEX_SUFFIX } from './packetindex.js';
import { META_COMMENT_PREFIX, writeCaptureMetadata } from '../metadata.js';
import { fileSink, PcapngWriter } from '../writer.js';
import { sampleMetadata } from '../../../test/harness/pcap.js';
import type { FieldNode } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'pcapper-view-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ip4 = (s: string): number[] => s.split('.').map(Number);
function sum16(b: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 + TCP (flags, seq, ack, payload). */
function tcpFrame(src: string, dst: string, sport: number, dport: number, flags: number, seq: number, ack: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(dport, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(ack >>> 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(64240, 14);
  return ipFrame(src, dst, 6, Buffer.concat([tcp, payload]));
}

function udpFrame(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return ipFrame(src, dst, 17, Buffer.concat([udp, payload]));
}

function ipFrame(src: string, dst: string, proto: number, l4: Buffer): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + l4.length, 2);
  ip[8] = 64;
  ip[9] = proto;
  Buffer.from(ip4(src)).copy(ip, 12);
  Buffer.from(ip4(dst)).copy(ip, 16);
  ip.writeUInt16BE(sum16(ip), 10);
  const eth = Buffer.from([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00]);
  return Buffer.concat([eth, ip, l4]);
}

function dnsQuery(id: number, name: string, response = false, rcode = 0): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE((response ? 0x8180 : 0x0100) | rcode, 2);
  h.writeUInt16BE(1, 4);
  const labels = Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
  return Buffer.concat([h, labels]);
}

const PCAP_HEADER = (() => {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(262144, 16);
  h.writeUInt32LE(1, 20);
  return h;
})();

function record(sec: number, usec: number, frame: Buffer): Buffer {
  const r = Buffer.alloc(16);
  r.writeUInt32LE(sec, 0);
  r.writeUInt32LE(usec, 4);
  r.writeUInt32LE(frame.length, 8);
  r.writeUInt32LE(frame.length, 12);
  return Buffer.concat([r, frame]);
}

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;

/** A small HTTP exchange between 10.244.1.7:40000 and 10.244.2.3:80, with one retransmission, plus DNS. */
function httpExchange(t0: number): Buffer[] {
  const c = '10.244.1.7';
  const s = '10.244.2.3';
  const req = Buffer.from('GET /index.html HTTP/1.1\r\nHost: db-0\r\nUser-Agent: test\r\n\r\n');
  const body1 = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\n01234');
  const body2 = Buffer.from('56789');
  return [
    record(t0, 0, udpFrame(c, '10.96.0.10', 5353, 53, dnsQuery(0x1234, 'db-0.shop.svc.cluster.local'))),
    record(t0, 100, udpFrame('10.96.0.10', c, 53, 5353, dnsQuery(0x1234, 'db-0.shop.svc.cluster.local', true, 3))),
    record(t0, 1000, tcpFrame(c, s, 40000, 80, SYN, 1000, 0)),
    record(t0, 2000, tcpFrame(s, c, 80, 40000, SYN | ACK, 5000, 1001)),
    record(t0, 3000, tcpFrame(c, s, 40000, 80, ACK, 1001, 5001)),
    record(t0, 4000, tcpFrame(c, s, 40000, 80, PSH | ACK, 1001, 5001, req)),
    record(t0, 5000, tcpFrame(s, c, 80, 40000, PSH | ACK, 5001, 1001 + req.length, body1)),
    record(t0, 6000, tcpFrame(s, c, 80, 40000, PSH | ACK, 5001, 1001 + req.length, body1)), // retransmission
    record(t0, 7000, tcpFrame(s, c, 80, 40000, PSH | ACK | FIN, 5001 + body1.length, 1001 + req.length, body2)),
    record(t0, 8000, tcpFrame(c, s, 40000, 80, FIN | ACK, 1001 + req.length, 5001 + body1.length + body2.length + 1)),
  ];
}

function writePcap(name: string, records: Buffer[]): string {
  const p = join(dir, name);
  writeFileSync(p, Buffer.concat([PCAP_HEADER, ...records]));
  return p;
}

function find(nodes: FieldNode[] | undefined, field: string): FieldNode | undefined {
  for (const n of nodes ?? []) {
    if (n.field === field) return n;
    const c = find(n.children, field);
    if (c) return c;
  }
  return undefined;
}

describe('packet index file', () => {
  it('is written beside the capture with mode 0600, reused while the file is unchanged, rebuilt when it changes', async () => {
    const f = writePcap('idx.pcap', httpExchange(1_700_000_000));
    let v = await openCaptureView([f]);
    assert.equal(v.packetCount, 10);
    assert.equal(v.info.files[0]?.indexHow, 'built');
    assert.equal(v.info.files[0]?.indexPath, `${f}${INDEX_SUFFIX}`);
    assert.equal(statSync(`${f}${INDEX_SUFFIX}`).mode & 0o777, 0o600);
    await v.close();
    v = await openCaptureView([f]);
    assert.equal(v.info.files[0]?.indexHow, 'loaded');
    assert.equal(v.packetCount, 10);
    await v.close();
    appendFileSync(f, Buffer.concat(httpExchange(1_700_000_100)));
    v = await openCaptureView([f]);
    assert.equal(v.info.files[0]?.indexHow, 'built');
    assert.match(v.info.files[0]?.indexReason ?? '', /stale/);
    assert.equal(v.packetCount, 20);
    await v.close();
  });

  it('is rebuilt when corrupt or truncated, with the same rows as before', async () => {
    const f = writePcap('corrupt.pcap', httpExchange(1_700_000_000));
    const v0 = await openCaptureView([f]);
    const rows0 = await v0.rows(0, 100);
    await v0.close();
    const idx = `${f}${INDEX_SUFFIX}`;
    const good = readFileSync(idx);
    const st = statSync(f);
    for (const [what, bytes] of [
      ['truncated', good.subarray(0, good.length - 7)],
      ['garbage', Buffer.from('not an index at all, just some bytes')],
      ['bad offsets', (() => {
        const b = Buffer.from(good);
        const h = b.readUInt32LE(12);
        b.writeDoubleLE(1e12, 16 + h); // first packet's offset far past the end of the file
        return b;
      })()],
    ] as const) {
      writeFileSync(idx, bytes);
      utimesSync(f, st.atime, st.mtime);
      const v = await openCaptureView([f]);
      assert.equal(v.info.files[0]?.indexHow, 'built', what);
      assert.match(v.info.files[0]?.indexReason ?? '', /unusable/, what);
      assert.deepEqual(await v.rows(0, 100), rows0, what);
      await v.close();
    }
  });

  it('stays in memory when no place for it is writable', async () => {
    const f = writePcap('mem.pcap', httpExchange(1_700_000_000));
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    const v = await openCaptureView([f], { indexDir: join(notADir, 'sub') });
    assert.equal(v.info.files[0]?.indexPath, undefined);
    assert.equal(v.packetCount, 10);
    await v.close();
  });
});

describe('a growing capture', () => {
  it('refresh() indexes appended packets, leaves a record cut short for later, keeps frame numbers', async () => {
    const recs = httpExchange(1_700_000_000);
    const f = writePcap('grow.pcap', recs.slice(0, 4));
    const v = await openCaptureView([f], { noIndexFiles: true });
    assert.equal(v.packetCount, 4);
    const first = await v.rows(0, 4);
    // half of record 5 arrives (tcpdump is in the middle of writing it)
    appendFileSync(f, recs[4]!.subarray(0, 20));
    assert.equal(await v.refresh(), 4);
    appendFileSync(f, Buffer.concat([recs[4]!.subarray(20), ...recs.slice(5)]));
    assert.equal(await v.refresh(), 10);
    assert.deepEqual(await v.rows(0, 4), first);
    const all = await v.rows(0, 100);
    assert.deepEqual(all.map((r) => r.number), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(all[5]?.info, 'GET /index.html HTTP/1.1');
    assert.deepEqual([...(await v.filter('tcp.flags.fin == 1')).matches], [9, 10]);
    assert.equal(await v.refresh(), 10);
    await v.close();
  });
});

describe('several files', () => {
  it('are shown in one timestamp order with each file\'s capture point', async () => {
    const a = writePcap('a.pcap', [record(100, 0, udpFrame('10.0.0.1', '10.0.0.2', 1, 2, Buffer.from('a1'))), record(102, 0, udpFrame('10.0.0.1', '10.0.0.2', 1, 2, Buffer.from('a2')))]);
    const b = writePcap('b.pcap', [record(101, 0, udpFrame('10.0.0.3', '10.0.0.4', 1, 2, Buffer.from('b1'))), record(102, 0, udpFrame('10.0.0.3', '10.0.0.4', 1, 2, Buffer.from('b2')))]);
    const v = await openCaptureView([a, b], { noIndexFiles: true });
    const rows = await v.rows(0, 10);
    assert.deepEqual(rows.map((r) => [r.source, r.capturePoint]), [
      ['10.0.0.1', 'a.pcap'],
      ['10.0.0.3', 'b.pcap'],
      ['10.0.0.1', 'a.pcap'],
      ['10.0.0.3', 'b.pcap'],
    ]);
    assert.deepEqual(rows.map((r) => r.relativeTime), [0, 1, 2, 2]);
    assert.deepEqual([...(await v.filter('ip.src == 10.0.0.3')).matches], [2, 4]);
    assert.deepEqual([...(await v.filter('capture_point == "a.pcap"')).matches], [1, 3]);
    await v.close();
  });
});

describe('rows, detail, follow and timeline with capture metadata', () => {
  it('names endpoints and the capture point by pod, and filters on them', async () => {
    const f = writePcap('web.pcap', httpExchange(1_700_000_000));
    await writeCaptureMetadata(f, sampleMetadata());
    const v = await openCaptureView([f], { noIndexFiles: true });
    const rows = await v.rows(0, 10);
    assert.equal(rows[2]?.capturePoint, 'shop/web-7d9c');
    assert.equal(rows[2]?.source, 'shop/web-7d9c');
    assert.equal(rows[2]?.destination, 'shop/db-0');
    assert.equal(rows[2]?.sourcePort, 40000);
    assert.equal(rows[0]?.protocol, 'DNS');
    assert.equal(rows[0]?.info, 'Standard query 0x1234 A db-0.shop.svc.cluster.local');
    assert.equal(rows[1]?.info, 'Standard query response 0x1234 No such name A db-0.shop.svc.cluster.local');
    assert.equal(rows[2]?.info, '40000 → 80 [SYN] Seq=1000 Win=64240 Len=0');
    assert.equal(rows[6]?.info, 'HTTP/1.1 200 OK');
    assert.deepEqual([...(await v.filter('pod.dst == "db-0"')).matches], [3, 5, 6, 10]);
    assert.deepEqual([...(await v.filter('pod == "db-0" && tcp.flags.syn == 1')).matches], [3, 4]);
    assert.equal((await v.filter('namespace == "shop"')).matches.length, 10, 'the capture point is in shop');
    assert.equal((await v.filter('node == "node-b"')).matches.length, 8);
    assert.deepEqual([...(await v.filter('dns.flags.rcode == 3')).matches], [2]);
    assert.deepEqual([...(await v.filter('http.request.method == "GET" && http.host == "db-0"')).matches], [6]);
    assert.deepEqual([...(await v.filter('tcp.stream == 0')).matches], [3, 4, 5, 6, 7, 8, 9, 10]);

    const d = await v.detail(6);
    assert.equal(d.row.number, 6);
    const bytes = Buffer.from(d.bytesBase64, 'base64');
    const src = find(d.layers, 'ip.src');
    assert.deepEqual([...bytes.subarray(src!.offset, src!.offset + src!.length)], [10, 244, 1, 7]);
    assert.match(src!.label, /10\.244\.1\.7 \(shop\/web-7d9c\)/);
    const dport = find(d.layers, 'tcp.dstport');
    assert.equal(bytes.readUInt16BE(dport!.offset), 80);
    const method = find(d.layers, 'http.request.method');
    assert.equal(bytes.toString('latin1', method!.offset, method!.offset + method!.length), 'GET');
    assert.ok(find(d.layers, 'tcp.flags.syn'));
    assert.equal(find(d.layers, 'http.host')?.label, 'Host: db-0');

    const fo = await v.follow(7);
    assert.equal(fo.stream, 0);
    assert.equal(fo.client, 'shop/web-7d9c:40000');
    assert.equal(fo.server, 'shop/db-0:80');
    assert.deepEqual(fo.packets, [3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(fo.chunks.map((c) => [c.fromClient, c.packet, Buffer.from(c.dataBase64, 'base64').toString()]), [
      [true, 6, 'GET /index.html HTTP/1.1\r\nHost: db-0\r\nUser-Agent: test\r\n\r\n'],
      [false, 7, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\n0123456789'],
    ]);
    assert.deepEqual(fo.http.map((h) => [h.packet, h.fromClient, h.startLine, h.bodyBytes]), [
      [6, true, 'GET /index.html HTTP/1.1', 0],
      [7, false, 'HTTP/1.1 200 OK', 10],
    ]);
    await assert.rejects(v.follow(1), /not a TCP segment/);
    await assert.rejects(v.detail(11), /frames 1\.\.10/);

    const tl = await v.timeline(4);
    assert.equal(tl.series.length, 1);
    assert.equal(tl.series[0]?.capturePoint, 'shop/web-7d9c');
    assert.equal(tl.series[0]?.packets.reduce((a, b) => a + b, 0), 10);
    assert.equal(tl.series[0]?.bytes.reduce((a, b) => a + b, 0), rows.reduce((a, r) => a + r.length, 0));
    await v.close();
  });

  it('rows within a filter result page through the matches', async () => {
    const f = writePcap('page.pcap', httpExchange(1_700_000_000));
    const v = await openCaptureView([f], { noIndexFiles: true });
    const m = await v.filter('tcp');
    assert.deepEqual((await v.rows(2, 3, m)).map((r) => r.number), [5, 6, 7]);
    await assert.rejects(v.filter('tcp.prot == 80'), (e: Error & { problem?: { position: number } }) => e.name === 'DisplayFilterError' && e.problem?.position === 0 && /did you mean tcp\.port\?/.test(e.message));
    await v.close();
  });
});

describe('an exported pcapng (metadata in interface comments)', () => {
  it('names each interface\'s capture point and the endpoints by pod without a sidecar', async () => {
    const f = join(dir, 'exported.pcapng');
    const w = new PcapngWriter(fileSink(f));
    const web = sampleMetadata();
    const db = sampleMetadata({ nodeName: 'node-b', pod: { name: 'db-0', namespace: 'shop', uid: 'u2', ips: ['10.244.2.3'] }, endpoints: { '10.244.1.7': { pod: 'web-7d9c', namespace: 'shop', node: 'node-a' } } });
    const nodeCap = sampleMetadata({ targetKind: 'node', pod: null, interfaces: ['eth0'], nodeName: 'node-c' });
    const ids = [web, db, nodeCap].map((m, i) => w.addInterface({ linkType: 1, name: `if${i}`, comments: [`${META_COMMENT_PREFIX}${JSON.stringify(m)}`], tsresol: 9 }));
    const frame = tcpFrame('10.244.1.7', '10.244.2.3', 40000, 80, SYN, 1, 0);
    w.writePacket(ids[0]!, 100, 0, frame);
    w.writePacket(ids[1]!, 100, 5, frame);
    w.writePacket(ids[2]!, 100, 9, frame);
    await w.end();
    const v = await openCaptureView([f], { noIndexFiles: true });
    const rows = await v.rows(0, 3);
    assert.deepEqual(rows.map((r) => [r.capturePoint, r.source, r.destination]), [
      ['shop/web-7d9c', 'shop/web-7d9c', 'shop/db-0'],
      ['shop/db-0', 'shop/web-7d9c', 'shop/db-0'],
      ['node:node-c/eth0', 'shop/web-7d9c', 'shop/db-0'],
    ]);
    assert.deepEqual([...(await v.filter('capture_point == "shop/db-0"')).matches], [2]);
    assert.deepEqual([...(await v.filter('node == "node-c"')).matches], [3]);
    await v.close();
  });
});

describe('a growing pcapng', () => {
  it('refresh() resumes after the last complete block, picks up a new interface, and re-reads from the start after that', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const w = new PcapngWriter(sink);
    const a = w.addInterface({ linkType: 1, name: 'eth0', tsresol: 9 });
    const recs = httpExchange(1_700_000_000).map((r) => r.subarray(16)); // the frames
    w.writePacket(a, 1, 0, recs[0]!);
    w.writePacket(a, 2, 0, recs[1]!);
    await w.end(false);
    const head = Buffer.concat(chunks.splice(0));
    const sink2 = new PassThrough();
    const more: Buffer[] = [];
    sink2.on('data', (c: Buffer) => more.push(c));
    const w2 = new PcapngWriter(sink2);
    const b = w2.addInterface({ linkType: 1, name: 'eth1', tsresol: 9 });
    w2.writePacket(b, 3, 0, recs[2]!);
    w2.writePacket(b, 4, 0, recs[3]!);
    await w2.end(false);
    // the second writer starts a new section (SHB + IDB): a file that grows by a new section
    const tail = Buffer.concat(more);
    const f = join(dir, 'grow.pcapng');
    writeFileSync(f, head);
    const v = await openCaptureView([f], { noIndexFiles: true });
    assert.equal(v.packetCount, 2);
    appendFileSync(f, tail.subarray(0, tail.length - 10)); // the last block is cut short
    assert.equal(await v.refresh(), 3);
    appendFileSync(f, tail.subarray(tail.length - 10));
    assert.equal(await v.refresh(), 4);
    const rows = await v.rows(0, 10);
    assert.deepEqual(rows.map((r) => r.capturePoint), ['eth0', 'eth0', 'eth1', 'eth1']);
    assert.deepEqual(rows.map((r) => r.info.slice(0, 14)), ['Standard query', 'Standard query', '40000 → 80 [SY', '80 → 40000 [SY']);
    appendFileSync(f, tail); // grows again: interfaces after the first packet, so it is re-read from the start
    assert.equal(await v.refresh(), 6);
    assert.deepEqual((await v.rows(4, 2)).map((r) => r.capturePoint), ['eth1', 'eth1']);
    await v.close();
  });
});
