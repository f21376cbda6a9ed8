// The live multiplexer against a local HTTP server standing in for kube-apiserver's
// `packetcaptures/log` (no TLS needed here: what is tested is the stream handling). The server sends
// one packet and then waits until that packet has reached the output before it sends the next:
// if the CLI buffered anything between the API response and stdout, this lock-step would stall
// and the bounded wait would fail. That is the "no extra buffering" property, tested by state.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import type { PacketCapture, TargetStatus } from '../../api/packetcapture.js';
import type { CliIo } from '../io.js';
import { KubeClient } from '../kube.js';
import { LiveMux } from './live.js';

function globalHeader(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(65535, 16);
  h.writeUInt32LE(1, 20);
  return h;
}

function record(i: number, payload: string): Buffer {
  const data = Buffer.concat([Buffer.alloc(14), Buffer.from(payload)]);
  const r = Buffer.alloc(16 + data.length);
  r.writeUInt32LE(1_800_000_000 + i, 0);
  r.writeUInt32LE(i, 4);
  r.writeUInt32LE(data.length, 8);
  r.writeUInt32LE(data.length, 12);
  data.copy(r, 16);
  return r;
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const target = (pod: string, node: string): TargetStatus => ({ name: `pod/shop/${pod}`, kind: 'pod', namespace: 'shop', pod, node, phase: 'Running' });

describe('live: each running target streamed through packetcaptures/log, every batch written at once', () => {
  it('lock-step packets reach the output one by one; a target that starts later joins with its own interface', async () => {
    const streams = new Map<string, ServerResponse>();
    const requests: string[] = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.includes('/files/')) {
        // the target's metadata sidecar: this stand-in has none (the stream goes on without pod names)
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound', message: 'no such file' }));
        return;
      }
      requests.push(`${url.pathname}?${url.searchParams.toString()}`);
      res.writeHead(200, { 'Content-Type': 'application/vnd.tcpdump.pcap' });
      res.write(globalHeader());
      streams.set(url.searchParams.get('target') ?? '', res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const client = new KubeClient(kc, `http://127.0.0.1:${port}`);
    const out = new PassThrough();
    let written = Buffer.alloc(0);
    out.on('data', (c: Buffer) => (written = Buffer.concat([written, c])));
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const ac = new AbortController();
    const pc: PacketCapture = { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name: 'cap', namespace: 'shop' }, spec: {}, status: { targets: [target('web-0', 'node-a')] } };
    const io = { stderr, stdout: out, env: {}, cwd: '/', signal: ac.signal } as unknown as CliIo;
    const mux = new LiveMux(out, pc, client, io, ac.signal);
    try {
      mux.update(pc);
      await until('stream of web-0', () => streams.has('pod.shop.web-0') || (err !== '' && assert.fail(err)));
      assert.deepEqual(requests, ['/apis/data.pcapper.dev/v1alpha1/namespaces/shop/packetcaptures/cap/log?node=node-a&target=pod.shop.web-0']);
      const a = streams.get('pod.shop.web-0') as ServerResponse;
      for (let i = 0; i < 5; i++) {
        a.write(record(i, `MARK-A-${i}`));
        await until(`packet ${i} on the output`, () => written.includes(`MARK-A-${i}`));
      }
      // a second target starts running: it joins the same stream
      const later: PacketCapture = { ...pc, status: { targets: [target('web-0', 'node-a'), target('web-1', 'node-b')] } };
      mux.update(later);
      mux.update(later); // idempotent: one stream per target
      await until('stream of web-1', () => streams.has('pod.shop.web-1'));
      const b = streams.get('pod.shop.web-1') as ServerResponse;
      b.write(record(10, 'MARK-B-0'));
      await until('web-1 packet', () => written.includes('MARK-B-0'));
      a.write(record(5, 'MARK-A-5'));
      await until('web-0 packet after web-1 joined', () => written.includes('MARK-A-5'));
      assert.ok(written.includes('node-a/shop/web-0') && written.includes('node-b/shop/web-1'), 'one named interface per target');
      assert.equal(requests.length, 2);
      // a record split across chunks is held only until it is complete
      const split = record(6, 'MARK-A-SPLIT');
      a.write(split.subarray(0, 9));
      await new Promise<void>((r) => setImmediate(r));
      assert.ok(!written.includes('MARK-A-SPLIT'));
      a.write(split.subarray(9));
      await until('the split packet', () => written.includes('MARK-A-SPLIT'));
      // the connection is lost while the target runs (a server replica restarting): the stream is
      // reopened at the next status update and continues on the same interface
      a.socket?.destroy();
      await until('the interruption note', () => /note: live stream of shop\/web-0 interrupted .*; reopening/.test(err));
      mux.update(later);
      await until('the reopened stream', () => requests.length === 3);
      const a2 = streams.get('pod.shop.web-0') as ServerResponse;
      a2.write(record(7, 'MARK-A-AGAIN'));
      await until('a packet after the reconnect', () => written.includes('MARK-A-AGAIN'));
      const occurrences = (needle: string): number => written.toString('latin1').split(needle).length - 1;
      assert.equal(occurrences('node-a/shop/web-0'), 1, 'one interface for web-0 across the reconnect');
      a2.end();
      b.end();
      await mux.settle(10_000);
      assert.equal(mux.packets, 9);
      assert.match(err, /streaming shop\/web-0 from node node-a\n[\s\S]*streaming shop\/web-1 from node node-b\n/);
    } finally {
      ac.abort();
      client.close();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    }
  });
});
