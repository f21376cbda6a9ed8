// Reads from the store through the pcapper server (docs/storage.md section 7), against a real
// kube-apiserver (SubjectAccessReview, real RBAC with the chart's server rules for stores) and a
// real S3 server (versitygw) in the simulated control plane's network namespace. Objects are put
// there as the agent does: an encrypted ring file (src/crypto writer, the keyring of the mounted
// encryption Secret) uploaded with src/storage's uploader.
//
// What stands in, and why: as in test/server.test.ts, the test plays kube-apiserver's front proxy
// (front-proxy client certificate + X-Remote-User) and a small HTTPS server stands in for the node
// agent (mTLS, pcapper CA). The store's endpoint is the in-cluster Service name
// http://pcapper-store.pcapper.svc:7070, which the harness cannot resolve (no cluster DNS), so the
// server's resolveEndpoint maps it to the harness's forwarder of the real server. The full path
// kubectl (client netns) -> kube-apiserver aggregator -> server -> store is NOT covered here: the
// stack harness (test/harness/demo.ts) does not run a store yet.
// Needs root (network namespaces).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { parseRange } from '../src/agent/http.js';
import { EncryptedFileWriter } from '../src/crypto/writer.js';
import { parseKeyring } from '../src/crypto/keyring.js';
import { clientFor, KubeApiError, type KubeClient } from '../src/k8s/client.js';
import { PcapperServer } from '../src/server/server.js';
import { objectKey } from '../src/storage/keys.js';
import { uploadFile } from '../src/storage/uploader.js';
import { silentLogger } from '../src/telemetry/log.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { CONTROL_PLANE_IP } from './harness/netns.js';
import { makeCa, makeLeaf, makePcapperPki, SERVER_DNS, type CertPair, type PcapperPki } from './harness/pki.js';
import { S3Server } from './harness/s3.js';
import { ensureNamespace, installCRD } from './controller-helpers.js';
import { createStore, installStoreCRD, writeCredentialsDir } from './store-control-support.js';

const SYS = 'pcapper';
const CM_PATH = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';
const BASE = '/apis/data.pcapper.dev/v1alpha1/namespaces';
const SVC = 'http://pcapper-store.pcapper.svc:7070';
const BUCKET = 'captures';
const TARGET = 'pod.shop.web-0';
const NODE_ONLY = 'web.pcap0';
const STORE_ONLY = 'web.pcap1';
const BOTH = 'web.pcap2';
const NODE_BYTES = randomBytes(50_000);
// 3 chunks of 64 KiB and a bit: a range crosses chunk boundaries
const STORE_BYTES = Buffer.concat([Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex'), randomBytes(200_000)]);

interface Resp {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Stand-in agent: mTLS; it has NODE_ONLY and BOTH; the node lost STORE_ONLY (404). */
class StandInAgent {
  server!: https.Server;
  port = 0;
  requests: string[] = [];
  constructor(
    private readonly pki: PcapperPki,
    private readonly serving: CertPair,
  ) {}
  async start(): Promise<void> {
    this.server = https.createServer({ cert: readFileSync(this.serving.cert), key: readFileSync(this.serving.key), ca: this.pki.caPem, requestCert: true, rejectUnauthorized: true }, (req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }
  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
    if (cn !== 'pcapper-server') return void res.writeHead(403).end();
    this.requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'https://agent');
    if (url.pathname === '/v1/captures/shop/web/files') {
      const files = [NODE_ONLY, BOTH].map((name) => ({ path: `${TARGET}/${name}`, target: TARGET, name, size: NODE_BYTES.length, modified: '2026-11-27T10:00:00.000Z', kind: 'pcap' }));
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ node: 'node-a', live: [], files }));
    }
    const m = /^\/v1\/captures\/shop\/web\/files\/pod\.shop\.web-0\/(.+)$/.exec(url.pathname);
    if (m && (m[1] === NODE_ONLY || m[1] === BOTH)) {
      const r = parseRange(req.headers.range, NODE_BYTES.length);
      if (r.kind === 'partial') return void res.writeHead(206, { 'Content-Range': `bytes ${r.start}-${r.end}/${NODE_BYTES.length}`, 'Content-Length': r.end - r.start + 1 }).end(NODE_BYTES.subarray(r.start, r.end + 1));
      return void res.writeHead(200, { 'Content-Type': 'application/vnd.tcpdump.pcap', 'Content-Length': NODE_BYTES.length }).end(NODE_BYTES);
    }
    res.writeHead(404).end('not found\n');
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe('pcapper server reads from the store (real apiserver, real versitygw, encrypted objects)', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let admin: KubeClient;
  let dir: string;
  let pki: PcapperPki;
  let proxy: CertPair;
  let agent: StandInAgent;
  let s3: S3Server;
  let server: PcapperServer;
  let keyDir: string;

  function get(path: string, o: { user?: string; headers?: Record<string, string> } = {}): Promise<Resp> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | string[]> = { ...(o.headers ?? {}), 'X-Remote-User': o.user ?? 'alice', 'X-Remote-Group': ['system:authenticated'] };
      const req = https.request(
        { host: '127.0.0.1', port: server.port, path, headers, ca: pki.caPem, servername: SERVER_DNS, agent: false, cert: readFileSync(proxy.cert), key: readFileSync(proxy.key) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
  const fileUrl = (f: string) => `${BASE}/shop/packetcaptures/web/files/node-a/${TARGET}/${f}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcapper-server-store-'));
    pki = makePcapperPki(join(dir, 'pki'));
    const frontProxyCa = makeCa(join(dir, 'fp'), 'front-proxy-ca');
    proxy = makeLeaf(join(dir, 'fp'), frontProxyCa, { name: 'front-proxy-client', cn: 'front-proxy-client', usage: 'client' });

    cluster = await startCluster();
    admin = clientFor(cluster.kubeConfig);
    await installCRD(admin);
    await installStoreCRD(admin);
    for (const ns of [SYS, 'shop']) await ensureNamespace(admin, ns);
    let cm: { metadata: { resourceVersion?: string }; data?: Record<string, string> } | undefined;
    try {
      cm = await admin.request({ path: CM_PATH });
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 404)) throw e;
    }
    const data = cm?.data ?? {};
    const fpData = {
      ...data,
      'requestheader-client-ca-file': (data['requestheader-client-ca-file'] ?? '') + readFileSync(frontProxyCa.cert, 'utf8'),
      'requestheader-allowed-names': JSON.stringify([...new Set([...(JSON.parse(data['requestheader-allowed-names'] || '[]') as string[]), 'front-proxy-client'])]),
      'requestheader-username-headers': data['requestheader-username-headers'] ?? '["X-Remote-User"]',
      'requestheader-group-headers': data['requestheader-group-headers'] ?? '["X-Remote-Group"]',
      'requestheader-extra-headers-prefix': data['requestheader-extra-headers-prefix'] ?? '["X-Remote-Extra-"]',
    };
    if (cm) await admin.request({ method: 'PUT', path: CM_PATH, body: { ...cm, data: fpData } });
    else await admin.request({ method: 'POST', path: '/api/v1/namespaces/kube-system/configmaps', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'extension-apiserver-authentication', namespace: 'kube-system' }, data: fpData } });

    // The server's RBAC as the chart renders it (charts/pcapper/templates/rbac-server.yaml), stores included.
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    const post = (path: string, body: unknown): Promise<unknown> => admin.request({ method: 'POST', path, body });
    const subj = { kind: 'ServiceAccount', name: 'pcapper-server', namespace: SYS };
    const serverKc = await cluster.serviceAccountKubeConfig(SYS, 'pcapper-server');
    await post(`${rbac}/clusterrolebindings`, { metadata: { name: 'pcapper-server-auth-delegator' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' }, subjects: [subj] });
    await post(`${rbac}/namespaces/kube-system/rolebindings`, { metadata: { name: 'pcapper-server-auth-reader' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' }, subjects: [subj] });
    await post(`${rbac}/clusterroles`, {
      metadata: { name: 'pcapper-server' },
      rules: [
        { apiGroups: ['pcapper.dev'], resources: ['packetcaptures'], verbs: ['get'] },
        { apiGroups: ['pcapper.dev'], resources: ['packetcapturestores'], verbs: ['get', 'list'] },
      ],
    });
    await post(`${rbac}/clusterrolebindings`, { metadata: { name: 'pcapper-server' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'pcapper-server' }, subjects: [subj] });
    await post(`${rbac}/namespaces/${SYS}/roles`, { metadata: { name: 'pcapper-server' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }, { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: ['pcapper-agent'], verbs: ['get'] }] });
    await post(`${rbac}/namespaces/${SYS}/rolebindings`, { metadata: { name: 'pcapper-server' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pcapper-server' }, subjects: [subj] });
    await post(`${rbac}/clusterroles`, { metadata: { name: 'capture-reader' }, rules: [{ apiGroups: ['pcapper.dev'], resources: ['packetcaptures/files'], verbs: ['get'] }] });
    await post(`${rbac}/namespaces/shop/rolebindings`, { metadata: { name: 'readers' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'capture-reader' }, subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }] });

    agent = new StandInAgent(pki, pki.agent);
    await agent.start();
    const ds = await admin.request<{ metadata: { uid: string } }>({
      method: 'POST',
      path: `/apis/apps/v1/namespaces/${SYS}/daemonsets`,
      body: {
        metadata: { name: 'pcapper-agent' },
        spec: {
          selector: { matchLabels: { 'app.kubernetes.io/name': 'pcapper', 'app.kubernetes.io/component': 'agent' } },
          template: { metadata: { labels: { 'app.kubernetes.io/name': 'pcapper', 'app.kubernetes.io/component': 'agent' } }, spec: { containers: [{ name: 'agent', image: 'pcapper:test' }] } },
        },
      },
    });
    await admin.request({
      method: 'POST',
      path: `/api/v1/namespaces/${SYS}/pods`,
      body: {
        metadata: { name: 'agent-a', labels: { 'app.kubernetes.io/name': 'pcapper', 'app.kubernetes.io/component': 'agent' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'pcapper-agent', uid: ds.metadata.uid, controller: true }] },
        spec: { nodeName: 'node-a', containers: [{ name: 'agent', image: 'pcapper:test', ports: [{ name: 'https', containerPort: agent.port }] }] },
      },
    });
    await admin.request({
      method: 'PATCH',
      path: `/api/v1/namespaces/${SYS}/pods/agent-a/status`,
      contentType: 'application/merge-patch+json',
      body: { status: { phase: 'Running', podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }], conditions: [{ type: 'Ready', status: 'True' }] } },
    });

    // The store, its credentials and the keyring as the kubelet mounts them.
    s3 = await S3Server.start({ buckets: [BUCKET], placement: { netns: cluster.controlPlane, host: CONTROL_PLANE_IP, run: cluster.run } });
    const credDir = join(dir, 'store-credentials');
    writeCredentialsDir(credDir, { 'main.accessKeyId': s3.accessKeyId, 'main.secretAccessKey': s3.secretAccessKey });
    keyDir = join(dir, 'keys');
    const kek = randomBytes(32);
    writeCredentialsDir(keyDir, { active: 'k1', 'k1.key': kek.toString('base64') });
    await createStore(admin, 'main', { s3: { endpoint: SVC, region: 'us-east-1', bucket: BUCKET, pathStyle: true, credentials: { accessKeyId: 'main.accessKeyId', secretAccessKey: 'main.secretAccessKey' } }, allowedNamespaces: { names: ['shop'] } });

    // Encrypted files uploaded as the agent does: STORE_ONLY and BOTH (the node copy of BOTH differs: served from the node).
    const ring = parseKeyring({ active: Buffer.from('k1'), 'k1.key': kek });
    const c = s3.client(BUCKET);
    try {
      for (const f of [STORE_ONLY, BOTH]) {
        const path = join(dir, f);
        const w = await EncryptedFileWriter.create(path, ring);
        await w.write(STORE_BYTES);
        await w.close();
        const r = await uploadFile(c, { file: path, key: objectKey({ prefix: '', namespace: 'shop', capture: 'web', node: 'node-a', target: TARGET, file: f }) });
        assert.equal(r.verified, true);
      }
      // no plaintext in the object (a known 32-byte run of the payload)
      const obj = await c.getObject(objectKey({ prefix: '', namespace: 'shop', capture: 'web', node: 'node-a', target: TARGET, file: STORE_ONLY }));
      assert.equal(obj.indexOf(STORE_BYTES.subarray(1000, 1032)), -1, 'the object holds no plaintext');
    } finally {
      c.close();
    }

    await admin.request({ method: 'POST', path: `/apis/pcapper.dev/v1alpha1/namespaces/shop/packetcaptures`, body: { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name: 'web' }, spec: { targetPod: 'web-0', store: 'main' } } });
    await admin.request({
      method: 'PATCH',
      path: `/apis/pcapper.dev/v1alpha1/namespaces/shop/packetcaptures/web/status`,
      contentType: 'application/merge-patch+json',
      body: { status: { nodes: [{ node: 'node-a' }], targets: [{ name: 'pod/shop/web-0', node: 'node-a' }] } },
    });

    server = new PcapperServer({
      config: {
        certFile: pki.server.cert,
        keyFile: pki.server.key,
        caFile: pki.ca.cert,
        listenHost: '127.0.0.1',
        listenPort: 0,
        systemNamespace: SYS,
        agentDaemonSet: 'pcapper-agent',
        agentServerName: 'pcapper-agent.pcapper.svc',
        authRefreshMs: 60_000,
      },
      kc: serverKc,
      log: silentLogger,
      authCacheTtlMs: 0,
      stores: { credentialsDir: credDir, keyringDir: keyDir, resolveEndpoint: (e) => (e === SVC ? s3.hostEndpoint : e), retry: { attempts: 2, baseMs: 50, capMs: 200 } },
    });
    await server.start();
  });

  after(async () => {
    await server?.stop();
    await agent?.stop();
    await s3?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the union of the node\'s files and the store\'s objects with their location and plaintext size', async () => {
    const r = await get(`${BASE}/shop/packetcaptures/web/files`);
    assert.equal(r.status, 200, r.body.toString());
    const list = JSON.parse(r.body.toString()) as { items: { name: string; location: string; size: number }[]; store?: { name: string; error?: string } };
    assert.deepEqual(list.store, { name: 'main' });
    assert.deepEqual(list.items.map((i) => [i.name, i.location]), [
      [NODE_ONLY, 'node'],
      [STORE_ONLY, 'store'],
      [BOTH, 'both'],
    ]);
    assert.equal(list.items.find((i) => i.name === STORE_ONLY)?.size, STORE_BYTES.length, 'plaintext size, not the object\'s');
  });

  it('a file only in the store downloads as plaintext equal to the original', async () => {
    const r = await get(fileUrl(STORE_ONLY));
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers['x-pcapper-location'], 'store');
    assert.equal(Number(r.headers['content-length']), STORE_BYTES.length);
    assert.ok(r.body.equals(STORE_BYTES), 'plaintext equal to what was encrypted');
  });

  it('Range from the store: a range across chunk boundaries, a suffix range, and an unsatisfiable one', async () => {
    const a = await get(fileUrl(STORE_ONLY), { headers: { Range: 'bytes=60000-140000' } });
    assert.equal(a.status, 206);
    assert.equal(a.headers['content-range'], `bytes 60000-140000/${STORE_BYTES.length}`);
    assert.ok(a.body.equals(STORE_BYTES.subarray(60000, 140001)));
    const b = await get(fileUrl(STORE_ONLY), { headers: { Range: 'bytes=-100' } });
    assert.equal(b.status, 206);
    assert.ok(b.body.equals(STORE_BYTES.subarray(STORE_BYTES.length - 100)));
    const c = await get(fileUrl(STORE_ONLY), { headers: { Range: `bytes=${STORE_BYTES.length}-` } });
    assert.equal(c.status, 416);
    assert.equal(c.headers['content-range'], `bytes */${STORE_BYTES.length}`);
  });

  it('a file the node still has is served by the node', async () => {
    const r = await get(fileUrl(BOTH));
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-pcapper-location'], undefined);
    assert.ok(r.body.equals(NODE_BYTES));
  });

  it('a file in neither place: 404 saying both', async () => {
    const r = await get(fileUrl('web.pcap9'));
    assert.equal(r.status, 404);
    assert.match(String((JSON.parse(r.body.toString()) as { message: string }).message), /not on node node-a, and not in store "main"/);
  });

  it('a user without access to the namespace gets 403 before any store read', async () => {
    const r = await get(fileUrl(STORE_ONLY), { user: 'mallory' });
    assert.equal(r.status, 403);
  });

  it('a keyring without the file\'s key: a clear error, never bytes', async () => {
    mkdirSync(keyDir, { recursive: true });
    writeFileSync(join(keyDir, 'active'), 'k2', { mode: 0o600 });
    writeFileSync(join(keyDir, 'k2.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
    rmSync(join(keyDir, 'k1.key'));
    const r = await get(fileUrl(STORE_ONLY));
    assert.equal(r.status, 503);
    assert.match(String((JSON.parse(r.body.toString()) as { message: string }).message), /k1/);
  });
});
