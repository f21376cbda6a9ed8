// Record builders: Zeek conn_state from the TCP state, originator orientation, endpoint naming.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connState, connectionRecord, recordEndpoint } from './build.js';
import { TcpConnection } from '../summary/tcp.js';
import { Flow } from '../summary/flow.js';
import type { Conversation } from '../summary/types.js';
import { mayStartH2 } from '../summary/h2.js';

function tcp(over: Partial<TcpConnection>): TcpConnection {
  return Object.assign(new TcpConnection(), over);
}

describe('record builders', () => {
  it('conn_state follows Zeek', () => {
    assert.equal(connState(tcp({})), 'OTH');
    assert.equal(connState(tcp({ synTime: 1 })), 'S0');
    assert.equal(connState(tcp({ synTime: 1, refused: true })), 'REJ');
    assert.equal(connState(tcp({ synTime: 1, finA: true })), 'SH');
    assert.equal(connState(tcp({ synTime: 1, synAckTime: 2 })), 'S1');
    assert.equal(connState(tcp({ synTime: 1, synAckTime: 2, finA: true, finB: true })), 'SF');
    assert.equal(connState(tcp({ synTime: 1, synAckTime: 2, finA: true })), 'S2');
    assert.equal(connState(tcp({ synTime: 1, synAckTime: 2, finB: true })), 'S3');
    assert.equal(connState(tcp({ synTime: 1, synAckTime: 2, rstA: true })), 'RSTO');
    // B sent the SYN: B is the originator, so A's reset is the responder's
    assert.equal(connState(tcp({ synTime: 1, synAckTime: 2, rstA: true, clientIsA: false })), 'RSTR');
  });

  it('orients a connection from its originator and names pods', () => {
    const f = new Flow(0, 6);
    f.aAddr = '10.0.0.2';
    f.aPort = 80;
    f.bAddr = '10.0.0.1';
    f.bPort = 5555;
    const conv = { protocol: 'tcp', firstTime: 10, durationSeconds: 2, packetsAtoB: 3, bytesAtoB: 300, packetsBtoA: 4, bytesBtoA: 400, capturePoints: 1 } as Conversation;
    const c = tcp({ synTime: 10, synAckTime: 10.1, clientIsA: false, finA: true, finB: true, rttMs: 0.5 });
    c.addHistory(0, false); // S from B
    c.addHistory(1, true); // H from A
    c.addHistory(3, false);
    const eps = new Map([['10.0.0.1', { pod: 'web-1', namespace: 'shop', node: 'n1' }]]);
    const r = connectionRecord(f, conv, c, eps);
    assert.equal(r.orig.ip, '10.0.0.1');
    assert.deepEqual(r.orig, { ip: '10.0.0.1', port: 5555, pod: 'web-1', namespace: 'shop', node: 'n1', workload: null, external: false });
    assert.equal(r.resp.external, true);
    assert.deepEqual([r.origPackets, r.origBytes, r.respPackets, r.respBytes], [4, 400, 3, 300]);
    assert.equal(r.history, 'ShD');
    assert.equal(r.state, 'SF');
    assert.equal(r.handshakeRttMs, 0.5);
    assert.equal(recordEndpoint('1.2.3.4', -1, undefined).port, null);
  });

  it('decides "not HTTP/2" from a first payload', () => {
    const yes = ['PRI * HTTP/2.0\r\n', 'PR', 'GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n'];
    const no = ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'HTTP/1.1 200 OK\r\n', 'PRIVMSG #x', '220 smtp ready', '\x16\x03\x01'];
    for (const s of yes) assert.equal(mayStartH2(Buffer.from(s, 'latin1'), 0, s.length), true, s);
    for (const s of no) assert.equal(mayStartH2(Buffer.from(s, 'latin1'), 0, s.length), false, s);
    const settings = Buffer.from([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]);
    assert.equal(mayStartH2(settings, 0, settings.length), true);
    const data = Buffer.from([0, 0, 6, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6]);
    assert.equal(mayStartH2(data, 0, data.length), false);
  });
});
