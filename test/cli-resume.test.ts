// kubectl-pcap download against a local HTTPS server that stands in for kube-apiserver (real TLS
// from test/harness/pki.ts, the user's bearer token checked on every request). It serves only what
// the CLI may use: the PacketCapture object and the data API (docs/data-api.md) — there is nothing
// else to reach, so a passing download proves the CLI needs only the API server.
//
// The stand-in injects the faults a real path has: kube-apiserver cutting a request at its
// --request-timeout (a body that ends short of its Content-Length), a 503 while the pcapper server
// has no ready replica, and a restart (every connection dropped and the port closed until the CLI
// has seen the refusal). The CLI runs as a separate process, as a user runs it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCa, makeLeaf } from './harness/pki.js';
import { kp, kpApiOnly, spawnCli } from './cli-support.js';
import { assertRoot } from './harness/netns.js';
import { eventually } from './harness/eventually.js';

const TOKEN = 'user-token-xyz';
const NS = 'shop';

/** A classic pcap file (Ethernet) with `n` records of varying size, deterministic per seed. */
function pcapBytes(seed: number, n: number): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(262144, 16);
  h.writeUInt32LE(1, 20);
  parts.push(h);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const len = 60 + (x % 1400);
    const r = Buffer.alloc(16 + len);
    r.writeUInt32LE(1_800_000_000 + i, 0);
    r.writeUInt32LE((seed * 1000 + i) % 1_000_000, 4);
    r.writeUInt32LE(len, 8);
    r.writeUInt32LE(len, 12);
    for (let j = 0; j < len; j++) r[16 + j] = (x + j * 7) & 0xff;
    parts.push(r);
  }
  return Buffer.concat(parts);
}

type Fault = { cut: number } | { status: 503 } | { restart: true };

interface FakeApi {
  port: number;
  files: Map<string, Buffer>;
  /** node -> error in the file list. */
  nodeErrors: Map<string, string>;
  /** Extra raw list items (unsafe names). */
  extraItems: unknown[];
  /** `node/target/file` -> faults, one per request, in order. */
  faults: Map<string, Fault[]>;
  /** Requests seen: `METHOD path range`. */
  log: string[];
  /** Requests without the user's token. */
  unauthenticated: number;
  /** Resolves the restart: the port listens again. */
  relisten: (() => Promise<void>) | undefined;
  stop(): Promise<void>;
}

const capture = {
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCapture',
  metadata: { name: 'cap', namespace: NS, resourceVersion: '7' },
  spec: { targetDeployment: 'web', captureSeconds: '10s' },
  status: { progress: 'finished', packets: 1, targets: [] },
};

function status(res: ServerResponse, code: number, message: string): void {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason: code === 503 ? 'ServiceUnavailable' : 'NotFound', code });
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function startFakeApi(dir: string): Promise<FakeApi> {
  const ca = makeCa(dir, 'ca');
  const leaf = makeLeaf(dir, ca, { name: 'apiserver', cn: 'kube-apiserver', ips: ['127.0.0.1'], usage: 'server' });
  const sockets = new Set<Socket>();
  const api: FakeApi = { port: 0, files: new Map(), nodeErrors: new Map(), extraItems: [], faults: new Map(), log: [], unauthenticated: 0, relisten: undefined, stop: () => Promise.resolve() };
  const base = `/apis/data.pcapper.dev/v1alpha1/namespaces/${NS}/packetcaptures/cap/files`;
  const server: Server = createServer({ cert: readFileSync(leaf.cert), key: readFileSync(leaf.key) }, (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://x');
    api.log.push(`${req.method ?? ''} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      api.unauthenticated++;
      status(res, 401, 'Unauthorized');
      return;
    }
    if (url.pathname === `/apis/pcapper.dev/v1alpha1/namespaces/${NS}/packetcaptures/cap`) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(capture));
      return;
    }
    if (url.pathname === base) {
      const nodes = new Set([...api.files.keys()].map((k) => k.split('/')[0] as string));
      const list = {
        kind: 'PacketCaptureFileList',
        apiVersion: 'data.pcapper.dev/v1alpha1',
        metadata: { namespace: NS, name: 'cap' },
        nodes: [...[...nodes].map((node) => ({ node, live: [] })), ...[...api.nodeErrors].map(([node, error]) => ({ node, error }))],
        items: [
          ...[...api.files].map(([k, b]) => {
            const [node, target, name] = k.split('/') as [string, string, string];
            return { node, target, name, path: k, size: b.length, modified: '2026-11-27T10:00:00.000Z', kind: 'pcap' };
          }),
          ...api.extraItems,
        ],
      };
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(list));
      return;
    }
    if (url.pathname.startsWith(`${base}/`)) {
      const key = url.pathname.slice(base.length + 1).split('/').map(decodeURIComponent).join('/');
      const body = api.files.get(key);
      if (!body) return status(res, 404, `file ${key} not found`);
      const fault = api.faults.get(key)?.shift();
      if (fault && 'status' in fault) return status(res, 503, 'the pcapper server is not available');
      if (fault && 'restart' in fault) {
        // the server goes away: every connection dropped, the port closed until relisten()
        server.close();
        for (const s of sockets) s.destroy();
        api.relisten = () => new Promise<void>((r) => server.listen(api.port, '127.0.0.1', () => r()));
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
        res.end();
        return;
      }
      const head: Record<string, string | number> = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', 'Content-Length': body.length - start };
      if (m) head['Content-Range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
      res.writeHead(m ? 206 : 200, head);
      if (fault && 'cut' in fault) {
        // like kube-apiserver at its request timeout: part of the body, then the connection ends
        res.write(body.subarray(start, start + fault.cut), () => req.socket.destroy());
        return;
      }
      res.end(body.subarray(start));
      return;
    }
    status(res, 404, 'the server could not find the requested resource');
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  api.port = (server.address() as { port: number }).port;
  api.stop = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return api;
}

describe('kubectl-pcap download through a stand-in API server: resume, restarts, unsafe names, error nodes', () => {
  let dir: string;
  let api: FakeApi;
  let kubeconfig: string;
  const originals = new Map<string, Buffer>();

  before(async () => {
    dir = mkdtempSync('/tmp/pcapper-cli-resume-');
    api = await startFakeApi(join(dir, 'pki'));
    // a relative certificate-authority: resolved against the kubeconfig's directory
    kubeconfig = join(dir, 'pki', 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: fake\n  cluster: {server: "https://127.0.0.1:${api.port}", certificate-authority: ca.crt}`,
        'users:',
        `- name: alice\n  user: {token: ${TOKEN}}`,
        'contexts:',
        `- name: fake\n  context: {cluster: fake, user: alice, namespace: ${NS}}`,
        'current-context: fake',
        '',
      ].join('\n'),
    );
    originals.set('node-a/pod.shop.web-0/cap.pcap0', pcapBytes(1, 2500));
    originals.set('node-a/pod.shop.web-0/cap.pcap1', pcapBytes(2, 900));
    originals.set('node-b/pod.shop.web-1/cap.pcap0', pcapBytes(3, 1800));
  });

  after(async () => {
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const reset = (): void => {
    api.files = new Map(originals);
    api.nodeErrors = new Map([['node-c', 'the agent on node node-c is not ready']]);
    api.extraItems = [];
    api.faults = new Map();
    api.log = [];
  };
  const rawEqualsOriginals = (raw: string): void => {
    for (const [k, b] of originals) assert.ok(readFileSync(join(raw, ...k.split('/'))).equals(b), `${k} is byte-identical`);
  };

  it('without faults: every node\'s files, the error node as one warning line, exit 0; only the API server with the user\'s token', async () => {
    reset();
    const r = await kp(['download', 'cap', '--raw', join(dir, 'clean'), '-w', join(dir, 'clean.pcapng')], { kubeconfig, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    rawEqualsOriginals(join(dir, 'clean'));
    assert.match(r.stderr, /^warning: node node-c: the agent on node node-c is not ready$/m);
    assert.equal(r.stderr.split('\n').filter((l) => l.includes('node-c')).length, 1, `one line for node-c:\n${r.stderr}`);
    assert.match(r.stderr, /downloaded 2 file\(s\) from node node-a/);
    assert.equal(api.unauthenticated, 0);
    assert.ok(api.log.every((l) => l.startsWith('GET /apis/')), api.log.join('\n'));
  });

  it('from a network namespace whose only reachable address is the API server (no other route), the download is identical', async () => {
    assertRoot();
    reset();
    const r = await kpApiOnly(['download', 'cap', '-w', join(dir, 'api-only.pcapng')], `https://127.0.0.1:${api.port}`, { kubeconfig, cwd: dir, dir });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.relayed > 0, 'the CLI went through the relay to the API server');
    assert.ok(readFileSync(join(dir, 'api-only.pcapng')).equals(readFileSync(join(dir, 'clean.pcapng'))));
    // and nothing else is reachable from there: a listener on the host's loopback is refused
    const { createServer: tcpServer } = await import('node:net');
    const hostOnly = tcpServer((c) => c.destroy());
    await new Promise<void>((r) => hostOnly.listen(0, '127.0.0.1', () => r()));
    const hostPort = (hostOnly.address() as { port: number }).port;
    const other = join(dir, 'pki', 'other-kubeconfig');
    writeFileSync(other, readFileSync(kubeconfig, 'utf8').replace(`https://127.0.0.1:${api.port}`, `https://127.0.0.1:${hostPort}`));
    const blocked = await kpApiOnly(['download', 'cap', '-w', join(dir, 'x.pcapng')], `https://127.0.0.1:${api.port}`, { kubeconfig: other, cwd: dir, dir });
    hostOnly.close();
    assert.equal(blocked.code, 1, blocked.stderr);
    assert.equal(blocked.stderr, `error: cannot reach the cluster at https://127.0.0.1:${hostPort}: connect ECONNREFUSED 127.0.0.1:${hostPort}\n`);
  });

  it('cut bodies, a 503 and a server restart mid-file are resumed with Range: the raw files and the merged file are identical to a download without faults', async () => {
    reset();
    const a0 = 'node-a/pod.shop.web-0/cap.pcap0';
    const size = originals.get(a0)?.length ?? 0;
    api.faults.set(a0, [{ cut: 300_000 }, { status: 503 }, { cut: 400_000 }, { restart: true }]);
    api.faults.set('node-b/pod.shop.web-1/cap.pcap0', [{ cut: 123_457 }]);
    const child = spawnCli(['download', 'cap', '--raw', join(dir, 'faulty'), '-w', join(dir, 'faulty.pcapng')], { kubeconfig, cwd: dir });
    child.stdin?.end();
    let err = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => (err += c));
    const closed = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    // the server stays down until the CLI has been refused at least once, then comes back
    await eventually(() => /note: resuming node-a\/pod\.shop\.web-0\/cap\.pcap0 at byte \d+ \(.*ECONNREFUSED/.test(err), { what: 'the CLI to retry against the stopped server', timeoutMs: 60_000, everyMs: 50, describe: () => err });
    await api.relisten?.();
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const code = await closed;
    clearTimeout(timer);
    assert.equal(code, 0, err);
    rawEqualsOriginals(join(dir, 'faulty'));
    assert.ok(readFileSync(join(dir, 'faulty.pcapng')).equals(readFileSync(join(dir, 'clean.pcapng'))), 'merged file identical to the clean download');
    // the bytes that arrived before each cut are kept: every retry asks for the rest, further on
    // (a cut may lose bytes in flight, so the exact offsets are not known in advance)
    const offsets = api.log.filter((l) => l.includes(`/files/${a0} bytes=`)).map((l) => Number(/bytes=(\d+)-$/.exec(l)?.[1]));
    assert.ok(offsets.length >= 4, `one resume per fault:\n${api.log.join('\n')}`);
    assert.ok(offsets.every((o, i) => o > 0 && o < size && (i === 0 || o >= (offsets[i - 1] ?? 0))), `resumed further on each time: ${offsets.join(', ')}`);
    assert.ok(new Set(offsets).size >= 2, 'progress between the cuts');
    assert.ok(api.log.some((l) => /files\/node-b\/pod\.shop\.web-1\/cap\.pcap0 bytes=[1-9]\d*-$/.test(l)), 'node-b resumed too');
    assert.match(err, /note: resuming node-a\/pod\.shop\.web-0\/cap\.pcap0 at byte [1-9]\d* \(the connection broke/);
    assert.ok(size > 700_000);
  });

  it('unsafe names in the file list are refused with one line naming the node; nothing is written outside the directory', async () => {
    reset();
    api.extraItems = [
      { node: 'node-d', target: '..', name: 'escape.pcap0', size: 10, kind: 'pcap' },
      // listed, then rotated away before its download: a warning, the node's other files still come
      { node: 'node-a', target: 'pod.shop.web-0', name: 'cap.pcap00', size: 10, kind: 'pcap' },
    ];
    const r = await kp(['download', 'cap', '--raw', join(dir, 'unsafe'), '-w', join(dir, 'unsafe.pcapng')], { kubeconfig, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^warning: node node-a: node-a\/pod\.shop\.web-0\/cap\.pcap00 is gone \(rotated or removed since the list\): /m);
    rawEqualsOriginals(join(dir, 'unsafe'));
    assert.match(r.stderr, /^warning: node node-d: unsafe target or file name "\.\.\/escape\.pcap0" in the file list \(contains '\.\.'\); none of this node's files were downloaded$/m);
    assert.ok(!api.log.some((l) => l.includes('escape')), 'never requested');
    api.extraItems = [{ node: '../../etc', target: 'pod.shop.x', name: 'f.pcap0', size: 10, kind: 'pcap' }];
    const bad = await kp(['download', 'cap', '-w', join(dir, 'bad.pcapng')], { kubeconfig, cwd: dir });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr.trim(), /^error: refusing the file list from the data API for shop\/cap: unsafe node name "\.\.\/\.\.\/etc"/);
  });

  it('when no node has usable files the command fails with the first reason; retries are bounded for a server that stays unavailable', async () => {
    reset();
    api.files = new Map();
    const none = await kp(['download', 'cap', '-w', join(dir, 'none.pcapng')], { kubeconfig, cwd: dir });
    assert.equal(none.code, 1, none.stderr);
    assert.match(none.stderr, /^error: capture shop\/cap has nothing to download: node node-c: the agent on node node-c is not ready$/m);
    reset();
    api.nodeErrors = new Map();
    api.files = new Map([['node-b/pod.shop.web-1/cap.pcap0', originals.get('node-b/pod.shop.web-1/cap.pcap0') as Buffer]]);
    api.faults.set('node-b/pod.shop.web-1/cap.pcap0', Array.from({ length: 50 }, () => ({ status: 503 as const })));
    const r = await kp(['download', 'cap', '-w', join(dir, 'never.pcapng')], { kubeconfig, cwd: dir, timeoutMs: 90_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: capture shop\/cap has nothing to download: node node-b: downloading node-b\/pod\.shop\.web-1\/cap\.pcap0: giving up after 6 attempt\(s\): .*not available/m);
    const attempts = api.log.filter((l) => l.includes('/files/node-b/')).length;
    assert.equal(attempts, 6, 'bounded: 6 attempts without progress');
  });
});
