import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../telemetry/log.js';
import type { AuthDecision, Authorizer } from './auth.js';
import { AgentServer, listCaptureFiles } from './server.js';

/** Tokens: "good" may read namespace "ns", "other" is authenticated but not allowed. */
const fakeAuth: Authorizer = {
  authorize(token, namespace): Promise<AuthDecision> {
    if (!token || (token !== 'good' && token !== 'other')) return Promise.resolve({ ok: false, status: 401, message: 'no' });
    if (token === 'good' && namespace === 'ns') return Promise.resolve({ ok: true, user: 'u' });
    return Promise.resolve({ ok: false, status: 403, message: 'forbidden' });
  },
};

function get(url: string, headers: Record<string, string> = {}, ca?: string): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { headers, ca, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('agent file server (HTTPS, fake authorizer, temp data dir)', () => {
  let dir: string;
  let server: AgentServer;
  let base: string;
  let ca: string;
  const content = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcapper-server-'));
    const data = join(dir, 'data');
    mkdirSync(join(data, 'ns', 'cap', 'pod.ns.web'), { recursive: true });
    writeFileSync(join(data, 'ns', 'cap', 'pod.ns.web', 'n1.cap.1.pcap0'), content);
    writeFileSync(join(data, 'ns', 'cap', 'pod.ns.web', 'capture-meta.json'), '{}');
    writeFileSync(join(dir, 'secret'), 'secret');
    symlinkSync(join(dir, 'secret'), join(data, 'ns', 'cap', 'pod.ns.web', 'link.pcap0'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    ca = spawnSync('cat', [cert], { encoding: 'utf8' }).stdout;
    server = new AgentServer(
      {
        nodeName: 'n1',
        dataDir: data,
        metrics: () => Promise.resolve({ node: 'n1', capturesRunning: 0, diskUsedBytes: 1, diskFreeBytes: 2, targets: [], startsTotal: 0, failuresTotal: 0, authDenied: 0 }),
        streams: () => [],
        onAuthDenied: () => undefined,
      },
      fakeAuth,
      silentLogger,
      { certFile: cert, keyFile: key },
    );
    const port = await server.listen('127.0.0.1', 0);
    base = `https://127.0.0.1:${port}`;
  });

  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves healthz and metrics over TLS without a token', async () => {
    assert.equal((await get(`${base}/healthz`, {}, ca)).status, 200);
    const m = await get(`${base}/metrics`, {}, ca);
    assert.match(m.body.toString(), /pcapper_agent_disk_free_bytes\{node="n1"\} 2/);
  });

  it('maps the authorizer to 401/403 and serves authorized requests', async () => {
    const list = `${base}/v1/captures/ns/cap/files`;
    assert.equal((await get(list, {}, ca)).status, 401);
    assert.equal((await get(list, { Authorization: 'Bearer other' }, ca)).status, 403);
    const ok = await get(list, { Authorization: 'Bearer good' }, ca);
    assert.equal(ok.status, 200);
    const parsed = JSON.parse(ok.body.toString()) as { files: { path: string; kind: string; size: number }[] };
    assert.deepEqual(parsed.files.map((f) => [f.path, f.kind, f.size]), [
      ['pod.ns.web/capture-meta.json', 'metadata', 2],
      ['pod.ns.web/n1.cap.1.pcap0', 'pcap', 1000],
    ], 'symlinks are not listed');
    assert.equal((await get(`${base}/v1/captures/ns/missing/files`, { 'X-Pcapper-Token': 'good' }, ca)).status, 404);
  });

  it('serves files with ranges and never follows symlinks or leaves the capture directory', async () => {
    const file = `${base}/v1/captures/ns/cap/files/pod.ns.web/n1.cap.1.pcap0`;
    const whole = await get(file, { 'X-Pcapper-Token': 'good' }, ca);
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.body, content);
    const part = await get(file, { 'X-Pcapper-Token': 'good', Range: 'bytes=10-19' }, ca);
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], 'bytes 10-19/1000');
    assert.deepEqual(part.body, content.subarray(10, 20));
    assert.equal((await get(file, { 'X-Pcapper-Token': 'good', Range: 'bytes=5000-' }, ca)).status, 416);
    assert.equal((await get(`${base}/v1/captures/ns/cap/files/pod.ns.web/link.pcap0`, { 'X-Pcapper-Token': 'good' }, ca)).status, 404);
    assert.equal((await get(`${base}/v1/captures/ns/cap/files/pod.ns.web/..%2F..%2F..%2Fsecret`, { 'X-Pcapper-Token': 'good' }, ca)).status, 404);
    assert.equal((await get(`${base}/v1/captures/ns/cap/files/pod.ns.web`, { 'X-Pcapper-Token': 'good' }, ca)).status, 404);
    assert.equal((await get(`${base}/v1/captures/ns/cap/stream`, { 'X-Pcapper-Token': 'good' }, ca)).status, 404, 'no running target');
    const listed = await listCaptureFiles(join(dir, 'data'), 'ns', 'cap');
    assert.equal(listed?.length, 2);
  });
});
