import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCa, makeClientCert, makeLeaf, makePcapperPki, SERVER_CN, type CertPair, type PcapperPki } from '../../test/harness/pki.js';
import { silentLogger } from '../telemetry/log.js';
import { AgentMetrics } from './metrics.js';
import { AgentServer, listCaptureFiles } from './server.js';

interface Res {
  status: number;
  body: Buffer;
  headers: Record<string, unknown>;
}

describe('agent file server (mutual TLS with real certificates, temp data dir)', () => {
  let dir: string;
  let server: AgentServer;
  let base: string;
  let pki: PcapperPki;
  let foreign: CertPair;
  let stranger: CertPair;
  const content = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));

  /** GET as `client` (a certificate pair; null = none; default the pcapper server's), verifying the agent as the server does. */
  function get(url: string, headers: Record<string, string> = {}, client: CertPair | null = pki.server): Promise<Res> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          headers,
          method: 'GET',
          ca: pki.caPem,
          servername: 'pcapper-agent.pcapper.svc',
          ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcapper-server-'));
    const data = join(dir, 'data');
    mkdirSync(join(data, 'ns', 'cap', 'pod.ns.web'), { recursive: true });
    writeFileSync(join(data, 'ns', 'cap', 'pod.ns.web', 'n1.cap.1.pcap0'), content);
    writeFileSync(join(data, 'ns', 'cap', 'pod.ns.web', 'capture-meta.json'), '{}');
    writeFileSync(join(dir, 'secret'), 'secret');
    symlinkSync(join(dir, 'secret'), join(data, 'ns', 'cap', 'pod.ns.web', 'link.pcap0'));
    // a target directory that is a symlink to somewhere else (issue 16 item 6)
    mkdirSync(join(dir, 'elsewhere'));
    writeFileSync(join(dir, 'elsewhere', 'n1.cap.1.pcap0'), 'not capture data');
    symlinkSync(join(dir, 'elsewhere'), join(data, 'ns', 'cap', 'pod.ns.evil'));
    // a capture directory that is a symlink
    mkdirSync(join(dir, 'elsewhere2', 'pod.ns.web'), { recursive: true });
    writeFileSync(join(dir, 'elsewhere2', 'pod.ns.web', 'n1.cap2.1.pcap0'), 'not capture data');
    symlinkSync(join(dir, 'elsewhere2'), join(data, 'ns', 'cap2'));
    pki = makePcapperPki(join(dir, 'pki'));
    const otherCa = makeCa(join(dir, 'other'), 'other-ca');
    foreign = makeLeaf(join(dir, 'other'), otherCa, { name: 'fake-server', cn: SERVER_CN, usage: 'both' });
    stranger = makeClientCert(join(dir, 'pki'), pki.ca, 'mallory', 'mallory');
    server = new AgentServer(
      {
        nodeName: 'n1',
        dataDir: data,
        metrics: () => {
          const m = new AgentMetrics('n1', { defaultMetrics: false });
          m.bindSnapshot(() => ({ capturesRunning: 0, diskUsedBytes: 1, diskFreeBytes: 2, targets: [] }));
          return m.render();
        },
        streams: () => [],
        onAuthDenied: () => undefined,
      },
      silentLogger,
      { certFile: pki.agent.cert, keyFile: pki.agent.key, caFile: pki.ca.cert, clientNames: ['pcapper-server'] },
    );
    const port = await server.listen('127.0.0.1', 0);
    base = `https://127.0.0.1:${port}`;
  });

  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves healthz and metrics without a client certificate', async () => {
    assert.equal((await get(`${base}/healthz`, {}, null)).status, 200);
    const m = await get(`${base}/metrics`, {}, null);
    assert.match(m.body.toString(), /pcapper_agent_disk_free_bytes\{node="n1"\} 2/);
  });

  it('serves data only to the pcapper server: no certificate 401; the agent cert, another CA, another CN, a bearer token 401/403', async () => {
    const list = `${base}/v1/captures/ns/cap/files`;
    const none = await get(list, {}, null);
    assert.equal(none.status, 401);
    assert.match(none.body.toString(), /a client certificate is required/);
    assert.equal((await get(list, { Authorization: 'Bearer some-user-token' }, null)).status, 401, 'a user token alone is not accepted');
    const asAgent = await get(list, {}, pki.agent);
    assert.equal(asAgent.status, 403, "the agents' own certificate is not a client identity");
    const fromOtherCa = await get(list, {}, foreign);
    assert.equal(fromOtherCa.status, 403, 'CN pcapper-server from another CA');
    assert.match(fromOtherCa.body.toString(), /not issued by the pcapper CA/);
    const wrongCn = await get(list, {}, stranger);
    assert.equal(wrongCn.status, 403);
    assert.match(wrongCn.body.toString(), /CN "mallory" may not read capture data/);
    assert.equal((await get(`${base}/v1/captures/ns/missing/files`, {}, null)).status, 401, 'nothing is revealed before authentication');
    const ok = await get(list);
    assert.equal(ok.status, 200);
    const parsed = JSON.parse(ok.body.toString()) as { files: { path: string; kind: string; size: number }[] };
    assert.deepEqual(parsed.files.map((f) => [f.path, f.kind, f.size]), [
      ['pod.ns.web/capture-meta.json', 'metadata', 2],
      ['pod.ns.web/n1.cap.1.pcap0', 'pcap', 1000],
    ], 'symlinks (files and a target directory) are not listed');
    assert.equal((await get(`${base}/v1/captures/ns/missing/files`)).status, 404);
  });

  it('a resumed TLS session keeps its verified identity (and an unauthenticated one stays refused)', async () => {
    for (const [client, want] of [[pki.server, 200], [null, 401]] as const) {
      const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 4 });
      for (let i = 0; i < 3; i++) {
        const r = await new Promise<{ status: number; resumed: boolean }>((resolve, reject) => {
          const req = https.get(
            `${base}/v1/captures/ns/cap/files`,
            { agent, ca: pki.caPem, servername: 'pcapper-agent.pcapper.svc', ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}) },
            (res) => {
              res.resume();
              res.on('end', () => resolve({ status: res.statusCode ?? 0, resumed: (res.socket as import('node:tls').TLSSocket).isSessionReused() }));
            },
          );
          req.on('error', reject);
        });
        assert.equal(r.status, want, `request ${i} (resumed: ${r.resumed})`);
      }
    }
  });

  it('answers names outside the Kubernetes rules with 400, never 500', async () => {
    const upper = await get(`${base}/v1/captures/Shop/cap/files`);
    assert.equal(upper.status, 400);
    assert.match(upper.body.toString(), /namespace "Shop" is not a Kubernetes namespace name/);
    assert.equal((await get(`${base}/v1/captures/ns/my_cap/files`)).status, 400);
    assert.equal((await get(`${base}/v1/captures/ns/my_cap/stream`)).status, 400);
    assert.equal((await get(`${base}/v1/captures/ns/${'a'.repeat(254)}/files`)).status, 400);
    assert.equal((await get(`${base}/v1/captures/ns/cap/files/pod.ns.web/${'x'.repeat(300)}`)).status, 404);
    assert.equal((await get(`${base}/v1/captures/ns/cap/files/POD_X/file`)).status, 404);
  });

  it('serves files with ranges and never follows symlinks or leaves the capture directory', async () => {
    const file = `${base}/v1/captures/ns/cap/files/pod.ns.web/n1.cap.1.pcap0`;
    const whole = await get(file, {});
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.body, content);
    const part = await get(file, { Range: 'bytes=10-19' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], 'bytes 10-19/1000');
    assert.deepEqual(part.body, content.subarray(10, 20));
    assert.equal((await get(file, { Range: 'bytes=5000-' })).status, 416);
    assert.equal((await get(`${base}/v1/captures/ns/cap/files/pod.ns.web/link.pcap0`, {})).status, 404);
    assert.equal((await get(`${base}/v1/captures/ns/cap/files/pod.ns.web/..%2F..%2F..%2Fsecret`, {})).status, 404);
    assert.equal((await get(`${base}/v1/captures/ns/cap/files/pod.ns.web`, {})).status, 404);
    assert.equal((await get(`${base}/v1/captures/ns/cap/stream`, {})).status, 404, 'no running target');
    // no symlink anywhere in the served path: a symlinked target directory or capture directory
    assert.equal((await get(`${base}/v1/captures/ns/cap/files/pod.ns.evil/n1.cap.1.pcap0`)).status, 404, 'symlinked target directory');
    assert.equal((await get(`${base}/v1/captures/ns/cap2/files/pod.ns.web/n1.cap2.1.pcap0`)).status, 404, 'symlinked capture directory');
    assert.equal((await get(`${base}/v1/captures/ns/cap2/files`)).status, 404, 'a symlinked capture directory is not listed');
    const listed = await listCaptureFiles(join(dir, 'data'), 'ns', 'cap');
    assert.equal(listed?.length, 2);
  });
});
