// The UI server over real HTTP on 127.0.0.1, without a cluster: the session (one-time URL token
// -> HttpOnly cookie), the headers on every answer (CSP, no CORS), the Host and Origin checks, and
// uploads (size limit before and while reading, a corrupt file refused with the reader's message,
// a good one imported into the store). The packet view engine is replaced by a stub here (it is
// another module's job and has its own tests); the browser tests in test/ui.test.ts use the real one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUiServer, type UiServer } from './server.js';
import { Sources } from './sources.js';
import { CONTENT_SECURITY_POLICY } from './security.js';
import type { CaptureView } from '../../pcap/view/types.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, path: string, o: { method?: string; headers?: Record<string, string>; body?: Buffer; chunked?: Buffer[] } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: { ...o.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    if (o.chunked) {
      for (const c of o.chunked) req.write(c);
      req.end();
    } else req.end(o.body);
  });
}

/** A classic pcap: header + one 60-byte Ethernet frame. */
function tinyPcap(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(65535, 16);
  h.writeUInt32LE(1, 20);
  const rec = Buffer.alloc(16);
  rec.writeUInt32LE(1_700_000_000, 0);
  rec.writeUInt32LE(60, 8);
  rec.writeUInt32LE(60, 12);
  return Buffer.concat([h, rec, Buffer.alloc(60, 0xab)]);
}

const stubView = (): CaptureView => ({
  packetCount: 1,
  refresh: () => Promise.resolve(1),
  rows: () => Promise.resolve([]),
  filter: (expression: string) => (expression === 'bad ==' ? Promise.reject(Object.assign(new Error('expected a value after =='), { name: 'DisplayFilterError', problem: { message: 'expected a value after ==', position: 4, length: 2 } })) : Promise.resolve({ expression, matches: new Uint32Array([1]), examined: 1 })),
  detail: () => Promise.reject(new Error('not in this test')),
  follow: () => Promise.reject(new Error('not in this test')),
  timeline: () => Promise.resolve({ start: 0, bucketSeconds: 1, series: [] }),
  close: () => Promise.resolve(),
});

describe('UI server (no cluster)', () => {
  let dir: string;
  let store: string;
  let srv: UiServer;
  let cookie = '';
  const LIMIT = 4096;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ui-server-test-'));
    store = join(dir, 'store');
    const assets = join(dir, 'assets');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(assets);
    writeFileSync(join(assets, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(assets, 'app.js'), 'export {};');
    const cacheDir = join(dir, 'cache');
    mkdirSync(cacheDir, { mode: 0o700 });
    srv = await startUiServer({
      port: 0,
      assetsDir: assets,
      sources: new Sources({ files: [], store, cacheDir, openView: () => Promise.resolve(stubView()) }),
      clusterError: 'no kubeconfig found',
      store,
      cacheDir,
      maxUpload: LIMIT,
      version: 'test',
      token: 'the-url-token',
    });
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a loopback URL with the token', () => {
    assert.equal(srv.url, `http://127.0.0.1:${srv.port}/?token=the-url-token`);
  });

  it('refuses every request without the session, with the security headers and no CORS', async () => {
    for (const path of ['/', '/assets/app.js', '/api/info', '/api/sources', '/api/captures']) {
      const r = await call(srv.port, path, { headers: { Origin: 'http://evil.example' } });
      assert.equal(r.status, 401, path);
      assert.equal(r.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
      assert.equal(Object.keys(r.headers).filter((h) => h.startsWith('access-control-')).length, 0);
      assert.match(String(j(r).error), /kubectl pcap ui/);
    }
    const r = await call(srv.port, '/api/info?token=the-url-token');
    assert.equal(r.status, 401, 'the URL token does not open the API');
  });

  it('refuses a foreign Host (DNS rebinding) before anything else', async () => {
    const r = await call(srv.port, '/?token=the-url-token', { headers: { Host: `attacker.example:${srv.port}` } });
    assert.equal(r.status, 421);
  });

  it('exchanges the one-time URL token for an HttpOnly SameSite=Strict cookie, once', async () => {
    const r = await call(srv.port, '/?token=the-url-token');
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/');
    const set = String(r.headers['set-cookie']);
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    assert.doesNotMatch(set, /the-url-token/, 'the cookie is a separate secret');
    cookie = set.split(';')[0] as string;
    const again = await call(srv.port, '/?token=the-url-token');
    assert.equal(again.status, 401);
    assert.match(again.body, /already used/);
    const page = await call(srv.port, '/', { headers: { Cookie: cookie } });
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    const info = await call(srv.port, '/api/info', { headers: { Cookie: cookie } });
    assert.equal(info.status, 200);
    assert.equal(j(info).cluster, null);
    assert.equal(j(info).clusterError, 'no kubeconfig found');
  });

  it('without a cluster: cluster calls say so, local ones work (the form check too)', async () => {
    const r = await call(srv.port, '/api/captures', { headers: { Cookie: cookie } });
    assert.equal(r.status, 409);
    assert.match(String(j(r).error), /no cluster: no kubeconfig found; local files and imports still work/);
    const pv = await call(srv.port, '/api/captures/preview', { method: 'POST', headers: { Cookie: cookie, 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify({ kind: 'pod', target: 'web-0', namespace: 'shop', name: 'web-cap' })) });
    assert.equal(pv.status, 200);
    assert.match(String(j(pv).yaml), /targetPod: web-0/);
  });

  it('a download id works once: unknown ids are refused', async () => {
    const r = await call(srv.port, '/api/downloads/not-an-id', { headers: { Cookie: cookie } });
    assert.equal(r.status, 404);
    assert.match(String(j(r).error), /already fetched or has expired/);
    const p = await call(srv.port, '/api/captures/default/x/download', { method: 'POST', headers: { Cookie: cookie } });
    assert.equal(p.status, 409);
  });

  it('refuses a cross-origin POST even with the cookie', async () => {
    const r = await call(srv.port, '/api/import', { method: 'POST', headers: { Cookie: cookie, Origin: 'http://evil.example', 'X-Filename': 'a.pcap' }, body: tinyPcap() });
    assert.equal(r.status, 403);
    assert.equal(readdirSafe(store).length, 0);
  });

  it('refuses an upload over the limit, by its Content-Length and while reading a chunked body', async () => {
    const big = await call(srv.port, '/api/import', { method: 'POST', headers: { Cookie: cookie, 'X-Filename': 'big.pcap', 'Content-Length': String(LIMIT + 1) }, body: Buffer.alloc(LIMIT + 1) });
    assert.equal(big.status, 413);
    assert.match(String(j(big).error), /more than the upload limit of 4096 bytes .*--max-upload/);
    const chunked = await call(srv.port, '/api/import', { method: 'POST', headers: { Cookie: cookie, 'X-Filename': 'big.pcap', 'Transfer-Encoding': 'chunked' }, chunked: [tinyPcap(), Buffer.alloc(LIMIT)] });
    assert.equal(chunked.status, 413);
    assert.equal(readdirSafe(store).length, 0, 'nothing left in the store');
    assert.deepEqual(readdirSafe(join(dir, 'cache', 'uploads')), [], 'no partial upload left');
  });

  it('a corrupt upload gets the reader\'s one-line error naming the file; nothing else breaks', async () => {
    const r = await call(srv.port, '/api/import', { method: 'POST', headers: { Cookie: cookie, 'X-Filename': encodeURIComponent('broken capture.pcap') }, body: Buffer.from('this is not a capture file at all, just text\n') });
    assert.equal(r.status, 400);
    const msg = String(j(r).error);
    assert.match(msg, /^broken_capture\.pcap: not a pcap or pcapng file: /);
    assert.doesNotMatch(msg, /\n/);
    assert.doesNotMatch(msg, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no server path in the message');
    assert.equal(readdirSafe(store).length, 0);
    assert.equal((await call(srv.port, '/api/info', { headers: { Cookie: cookie } })).status, 200);
  });

  it('a good upload is imported into the store (0700 dir, 0600 files) and listed as a source', async () => {
    const r = await call(srv.port, '/api/import', { method: 'POST', headers: { Cookie: cookie, 'X-Filename': 'Web Traffic.pcap' }, body: tinyPcap() });
    assert.equal(r.status, 201, r.body);
    assert.equal(j(r).name, 'web-traffic');
    assert.equal(statSync(join(store, 'web-traffic')).mode & 0o777, 0o700);
    const l = await call(srv.port, '/api/sources', { headers: { Cookie: cookie } });
    const items = j(l).items as { id: string; files: number }[];
    assert.deepEqual(items.map((i) => [i.id, i.files]), [['store:web-traffic', 1]]);
  });

  it('analysis endpoints answer over the view; a bad display filter keeps its position', async () => {
    const id = encodeURIComponent('store:web-traffic');
    const s = await call(srv.port, `/api/sources/${id}`, { headers: { Cookie: cookie } });
    assert.equal(s.status, 200, s.body);
    assert.equal(j(s).packetCount, 1);
    const f = await call(srv.port, `/api/sources/${id}/filter?expr=${encodeURIComponent('bad ==')}`, { headers: { Cookie: cookie } });
    assert.equal(f.status, 400);
    assert.deepEqual(j(f), { error: 'expected a value after ==', position: 4, length: 2 });
    const missing = await call(srv.port, `/api/sources/${encodeURIComponent('store:nope')}`, { headers: { Cookie: cookie } });
    assert.equal(missing.status, 404);
    const badPacket = await call(srv.port, `/api/sources/${id}/packets/7`, { headers: { Cookie: cookie } });
    assert.equal(badPacket.status, 404);
    assert.match(String(j(badPacket).error), /no packet 7: this capture has 1 packets/);
  });
});

const j = (r: Reply): Record<string, unknown> => JSON.parse(r.body) as Record<string, unknown>;

function readdirSafe(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}
