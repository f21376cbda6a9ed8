// HTTP/2 frame parser, TCP reassembly and the connection decoder on byte streams built here
// (real-traffic checks against tshark are in test/grpc.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, FrameType } from './frames.js';
import { ReassemblyDirection, MAX_PENDING_BYTES } from './reassembly.js';
import { H2Connection, PREFACE, type H2Transaction } from './connection.js';
import { GrpcMessageCounter, splitGrpcPath } from '../grpc/grpc.js';

/** HPACK literal without indexing, new name, no Huffman (enough for tests). */
function hpackLiteral(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [n, v] of fields) parts.push(Buffer.from([0x00, n.length]), Buffer.from(n), Buffer.from([v.length]), Buffer.from(v));
  return Buffer.concat(parts);
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

function grpcMsg(body: string, compressed = false): Buffer {
  const h = Buffer.alloc(5);
  h[0] = compressed ? 1 : 0;
  h.writeUInt32BE(body.length, 1);
  return Buffer.concat([h, Buffer.from(body)]);
}

const SETTINGS = frame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 1, 0, 0, 0x10, 0]));

describe('HTTP/2 frame parser', () => {
  const stream = Buffer.concat([
    SETTINGS,
    frame(FrameType.HEADERS, 0x4, 1, hpackLiteral([[':method', 'GET']])),
    frame(FrameType.DATA, 0x8 | 0x1, 1, Buffer.concat([Buffer.from([3]), Buffer.from('hello'), Buffer.alloc(3)])), // padded
    frame(FrameType.PING, 0, 0, Buffer.alloc(8)),
    frame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 1, 0])),
    frame(FrameType.SETTINGS, 1, 0, Buffer.alloc(0)),
  ]);
  const collect = (chunks: Buffer[]) => {
    const out: string[] = [];
    let data = '';
    const r = new FrameReader({
      frame: (type, flags, s, p, off, len) => out.push(`${type}/${flags}/${s}/${len}`),
      data: (_s, b, off, len) => (data += Buffer.from(b.subarray(off, off + len)).toString()),
      dataEnd: (s, flags) => out.push(`data-end/${s}/${flags & 1}`),
    });
    for (const c of chunks) r.feed(c, 0, c.length, 0);
    return { out, data, counts: r.counts };
  };

  it('parses whole and byte-by-byte the same way; DATA padding removed', () => {
    const whole = collect([stream]);
    const bytes = collect([...stream].map((x) => Buffer.from([x])));
    assert.deepEqual(bytes, whole);
    assert.equal(whole.data, 'hello');
    assert.deepEqual(whole.out, ['4/0/0/6', '1/4/1/13', 'data-end/1/1', '6/0/0/8', '8/0/0/4', '4/1/0/0']);
    assert.equal(whole.counts[FrameType.SETTINGS], 2);
  });
});

describe('TCP reassembly', () => {
  const run = (segs: [number, string][], syn = 999) => {
    const r = new ReassemblyDirection();
    r.syn(syn);
    let out = '';
    for (const [seq, s] of segs) r.segment(seq, Buffer.from(s), 0, s.length, (b, o, l) => (out += Buffer.from(b.subarray(o, o + l)).toString()));
    return { r, out };
  };

  it('drops retransmissions and overlaps, reorders', () => {
    const { r, out } = run([
      [1000, 'abc'],
      [1000, 'abc'], // retransmission
      [1006, 'ghi'], // ahead
      [1003, 'def'], // fills the gap
      [1004, 'efgh'], // overlap, nothing new
      [1009, 'jk'],
    ]);
    assert.equal(out, 'abcdefghijk');
    assert.equal(r.gap, false);
    assert.equal(r.duplicateBytes, 7);
  });

  it('a gap that is never filled marks the stream broken; nothing after it is delivered', () => {
    const { r, out } = run([
      [1000, 'abc'],
      [1010, 'xyz'],
    ]);
    assert.equal(out, 'abc');
    r.end();
    assert.equal(r.gap, true);
    let more = '';
    r.segment(1003, Buffer.from('defghij'), 0, 7, (b, o, l) => (more += String(l)));
    assert.equal(more, '', 'delivers nothing once broken');
  });

  it('too many bytes waiting for a gap is a gap', () => {
    const r = new ReassemblyDirection();
    r.syn(0);
    const big = Buffer.alloc(MAX_PENDING_BYTES);
    r.segment(10, big, 0, big.length, () => assert.fail('nothing is in order'));
    assert.equal(r.gap, false);
    r.segment(10 + big.length, big, 0, 1, () => assert.fail('nothing is in order'));
    assert.equal(r.gap, true);
  });

  it('sequence numbers wrap around 2^32', () => {
    const { out } = run(
      [
        [0xfffffffe, 'ab'],
        [0, 'cd'],
      ],
      0xfffffffd,
    );
    assert.equal(out, 'abcd');
  });
});

describe('HTTP/2 connection', () => {
  const reqHeaders = (path: string, ct = 'application/grpc') =>
    hpackLiteral([
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', path],
      [':authority', 'svc:50051'],
      ['content-type', ct],
    ]);
  const client = Buffer.concat([
    PREFACE,
    SETTINGS,
    frame(FrameType.HEADERS, 0x4, 1, reqHeaders('/demo.Echo/Say')),
    frame(FrameType.DATA, 0x1, 1, Buffer.concat([grpcMsg('hi'), grpcMsg('there', true)])),
    frame(FrameType.HEADERS, 0x4, 3, reqHeaders('/demo.Echo/Fail')),
    frame(FrameType.DATA, 0x1, 3, grpcMsg('x')),
    frame(FrameType.HEADERS, 0x4 | 0x1, 5, reqHeaders('/plain', 'text/plain')),
  ]);
  const server = Buffer.concat([
    SETTINGS,
    frame(FrameType.HEADERS, 0x4, 1, hpackLiteral([[':status', '200'], ['content-type', 'application/grpc']])),
    frame(FrameType.DATA, 0, 1, grpcMsg('hello back')),
    frame(FrameType.HEADERS, 0x4 | 0x1, 1, hpackLiteral([['grpc-status', '0']])),
    // trailers-only error response
    frame(FrameType.HEADERS, 0x4 | 0x1, 3, hpackLiteral([[':status', '200'], ['grpc-status', '5'], ['grpc-message', 'no%20such%20thing']])),
    frame(FrameType.RST_STREAM, 0, 5, Buffer.from([0, 0, 0, 8])),
  ]);

  it('decodes gRPC calls (prior knowledge, server speaks first, split at every byte)', () => {
    for (const step of [1, 7, 1 << 20]) {
      const txs: H2Transaction[] = [];
      const c = new H2Connection((t) => txs.push(t));
      // server SETTINGS first, then the client, interleaved in chunks of `step`
      c.onData(1, server, 0, Math.min(9 + 6, server.length), 1);
      for (let i = 0; i < client.length; i += step) c.onData(0, client, i, Math.min(step, client.length - i), 2);
      for (let i = 15; i < server.length; i += step) c.onData(1, server, i, Math.min(step, server.length - i), 3);
      c.finish();
      assert.equal(c.mode, 'h2', `step ${step}`);
      assert.equal(txs.length, 3);
      const [a, b, d] = [...txs].sort((x, y) => x.streamId - y.streamId);
      assert.deepEqual(a!.grpc, { service: 'demo.Echo', method: 'Say', status: 0, message: null, requestMessages: 2, responseMessages: 1, compressedMessages: 1 });
      assert.equal(a!.status, 200);
      assert.equal(a!.end, 'complete');
      assert.equal(a!.latencyMs, 1000);
      assert.equal(a!.authority, 'svc:50051');
      assert.equal(b!.grpc!.status, 5);
      assert.equal(b!.grpc!.message, 'no such thing');
      assert.equal(d!.grpc, null);
      assert.equal(d!.end, 'reset');
      assert.equal(d!.resetCode, 8);
      assert.equal(d!.resetBy, 'server');
    }
  });

  it('h2c via Upgrade: the HTTP/1.1 request is stream 1', () => {
    const txs: H2Transaction[] = [];
    const c = new H2Connection((t) => txs.push(t));
    const req = Buffer.from('GET /up HTTP/1.1\r\nHost: web:8080\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n');
    c.onData(0, req, 0, req.length, 1);
    const resp = Buffer.concat([
      Buffer.from('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'),
      SETTINGS,
      frame(FrameType.HEADERS, 0x4, 1, hpackLiteral([[':status', '404']])),
      frame(FrameType.DATA, 0x1, 1, Buffer.from('not found')),
    ]);
    c.onData(1, resp, 0, resp.length - 5, 2);
    const cl = Buffer.concat([PREFACE, SETTINGS]);
    c.onData(0, cl, 0, cl.length, 2.5);
    c.onData(1, resp, resp.length - 5, 5, 3);
    assert.equal(txs.length, 1);
    assert.equal(txs[0]!.upgraded, true);
    assert.equal(txs[0]!.path, '/up');
    assert.equal(txs[0]!.authority, 'web:8080');
    assert.equal(txs[0]!.status, 404);
    assert.equal(txs[0]!.responseBytes, 9);
    assert.equal(txs[0]!.latencyMs, 2000);
  });

  it('an HTTP/1.1 exchange without Upgrade, or a declined Upgrade, is not HTTP/2', () => {
    const c = new H2Connection(() => assert.fail('no transaction'));
    const req = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    c.onData(0, req, 0, req.length, 1);
    assert.equal(c.mode, 'not-h2');
    const d = new H2Connection(() => assert.fail('no transaction'));
    const up = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n');
    d.onData(0, up, 0, up.length, 1);
    const no = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    d.onData(1, no, 0, no.length, 2);
    assert.equal(d.mode, 'not-h2');
    const e = new H2Connection(() => assert.fail('no transaction'));
    e.onData(0, Buffer.from('\x16\x03\x01\x02\x00'), 0, 5, 1); // TLS
    assert.equal(e.mode, 'not-h2');
  });

  it('a gap ends open streams as "gap"; a corrupt header block as "undecodable"', () => {
    const txs: H2Transaction[] = [];
    const c = new H2Connection((t) => txs.push(t));
    const start = Buffer.concat([PREFACE, frame(FrameType.HEADERS, 0x4, 1, reqHeaders('/a.B/C'))]);
    c.onData(0, start, 0, start.length, 1);
    c.onGap(1, 2);
    assert.equal(txs[0]!.end, 'gap');
    assert.equal(c.mode, 'broken');
    const u: H2Transaction[] = [];
    const d = new H2Connection((t) => u.push(t));
    const bad = Buffer.concat([PREFACE, frame(FrameType.HEADERS, 0x4, 1, reqHeaders('/a.B/C')), frame(FrameType.HEADERS, 0x4, 3, Buffer.from([0xff, 0xff]))]);
    d.onData(0, bad, 0, bad.length, 1);
    assert.equal(u[0]!.end, 'undecodable');
    assert.match(d.problem, /HPACK/);
  });
});

describe('HTTP/2 connection: CONTINUATION, PUSH_PROMISE, GOAWAY, 1xx', () => {
  it('assembles header blocks split over CONTINUATION frames', () => {
    const txs: H2Transaction[] = [];
    const c = new H2Connection((t) => txs.push(t));
    const block = hpackLiteral([
      [':method', 'GET'],
      [':path', '/split/across/frames'],
      [':scheme', 'http'],
      [':authority', 'a'],
    ]);
    const cl = Buffer.concat([PREFACE, frame(FrameType.HEADERS, 0x1, 1, block.subarray(0, 5)), frame(FrameType.CONTINUATION, 0, 1, block.subarray(5, 20)), frame(FrameType.CONTINUATION, 0x4, 1, block.subarray(20))]);
    c.onData(0, cl, 0, cl.length, 1);
    // 103 Early Hints first, then the final 200; a server push promised on stream 2
    const push = Buffer.concat([Buffer.from([0, 0, 0, 2]), hpackLiteral([[':method', 'GET'], [':path', '/pushed.css']])]);
    const sv = Buffer.concat([
      frame(FrameType.HEADERS, 0x4, 1, hpackLiteral([[':status', '103']])),
      frame(FrameType.PUSH_PROMISE, 0x4, 1, push),
      frame(FrameType.HEADERS, 0x4 | 0x1, 1, hpackLiteral([[':status', '200']])),
      frame(FrameType.HEADERS, 0x4 | 0x1, 2, hpackLiteral([[':status', '200']])),
    ]);
    c.onData(1, sv, 0, sv.length, 2);
    assert.deepEqual(
      txs.map((t) => [t.streamId, t.method, t.path, t.status, t.end]),
      [
        [1, 'GET', '/split/across/frames', 200, 'complete'],
        [2, 'GET', '/pushed.css', 200, 'complete'],
      ],
    );
  });

  it('a frame other than CONTINUATION inside a header block makes the connection undecodable', () => {
    const txs: H2Transaction[] = [];
    const c = new H2Connection((t) => txs.push(t));
    const cl = Buffer.concat([PREFACE, frame(FrameType.HEADERS, 0x4, 1, hpackLiteral([[':path', '/a']])), frame(FrameType.HEADERS, 0, 3, hpackLiteral([[':path', '/b']])), frame(FrameType.PING, 0, 0, Buffer.alloc(8))]);
    c.onData(0, cl, 0, cl.length, 1);
    assert.equal(c.mode, 'broken');
    assert.match(c.problem, /CONTINUATION expected/);
    assert.deepEqual(txs.map((t) => t.end), ['undecodable']);
  });

  it('GOAWAY ends the streams above its last stream id', () => {
    const txs: H2Transaction[] = [];
    const c = new H2Connection((t) => txs.push(t));
    const cl = Buffer.concat([PREFACE, frame(FrameType.HEADERS, 0x5, 1, hpackLiteral([[':path', '/1']])), frame(FrameType.HEADERS, 0x5, 3, hpackLiteral([[':path', '/3']]))]);
    c.onData(0, cl, 0, cl.length, 1);
    const sv = frame(FrameType.GOAWAY, 0, 0, Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]));
    c.onData(1, sv, 0, sv.length, 2);
    c.finish();
    assert.deepEqual(
      txs.map((t) => [t.streamId, t.end]),
      [
        [3, 'goaway'],
        [1, 'incomplete'],
      ],
    );
  });
});

describe('gRPC helpers', () => {
  it('counts length-prefixed messages across chunks', () => {
    const c = new GrpcMessageCounter();
    const b = Buffer.concat([grpcMsg('abc'), grpcMsg(''), grpcMsg('defg', true)]);
    for (const x of b) c.feed(Buffer.from([x]), 0, 1);
    assert.equal(c.messages, 3);
    assert.equal(c.compressed, 1);
    assert.equal(c.partial, false);
  });
  it('splits service and method', () => {
    assert.deepEqual(splitGrpcPath('/grpc.health.v1.Health/Check'), { service: 'grpc.health.v1.Health', method: 'Check' });
  });
});
