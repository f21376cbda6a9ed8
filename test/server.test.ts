// The pcapper server (`pcapper server`, the aggregated API data.pcapper.dev) against a real
// kube-apiserver (SubjectAccessReview with real RBAC, the front-proxy ConfigMap, PacketCaptures,
// the agent DaemonSet and its pods) with real TLS everywhere (test/harness/pki.ts).
//
// The test plays kube-apiserver's front proxy: it connects with a front-proxy client certificate
// and sends X-Remote-User/-Group like the aggregator does (the apiserver of this harness may not
// have --requestheader-* flags yet, so the test writes the requestheader keys of the ConfigMap
// kube-system/extension-apiserver-authentication itself; the apiserver's own controller merges,
// never drops, them).
//
// The "agent" here is a small HTTPS server that STANDS IN for the node agent (whose own tests run
// separately in test/agent*.test.ts): it demands a client certificate from the pcapper CA with CN
// pcapper-server, and serves a file list, one file with HTTP Range, and a live stream it holds
// open until the test releases it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { parseRange } from '../src/agent/http.js';
import { clientFor, KubeApiError, type KubeClient } from '../src/k8s/client.js';
import { PcapperServer } from '../src/server/server.js';
import { silentLogger } from '../src/telemetry/log.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { makeCa, makeLeaf, makePcapperPki, SERVER_DNS, type CertPair, type PcapperPki } from './harness/pki.js';
import { ensureNamespace, installCRD } from './controller-helpers.js';
import { eventually } from './harness/eventually.js';

const SYS = 'pcapper';
const CM_PATH = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';
const BASE = '/apis/data.pcapper.dev/v1alpha1/namespaces';
const TARGET = 'pod.shop.web-0';
const FILE = 'web.pcap0';
const FILE_BYTES = randomBytes(100_000);
const PCAP_HEADER = Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex');

interface Resp {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Stand-in agent: mTLS (pcapper CA, client CN pcapper-server), files, Range, a held-open stream. */
class FakeAgent {
  server!: https.Server;
  port = 0;
  requests: string[] = [];
  refusedClients: string[] = [];
  private releaseStream: (() => void) | undefined;
  streamOpen = false;
  streamClosedEarly = false;
  /** Each record written to the live stream is answered by the test; used for the latency diagnostic. */
  onRecord: ((res: http.ServerResponse) => void) | undefined;

  constructor(
    private readonly pki: PcapperPki,
    private readonly serving: CertPair,
  ) {}

  async start(): Promise<void> {
    this.server = https.createServer(
      { cert: readFileSync(this.serving.cert), key: readFileSync(this.serving.key), ca: this.pki.caPem, requestCert: true, rejectUnauthorized: true },
      (req, res) => this.handle(req, res),
    );
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  release(): void {
    this.releaseStream?.();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const sock = req.socket as TLSSocket;
    const cn = sock.getPeerCertificate().subject?.CN;
    if (!sock.authorized || cn !== 'pcapper-server') {
      this.refusedClients.push(String(cn));
      res.writeHead(403).end('client not allowed\n');
      return;
    }
    this.requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'https://agent');
    if (url.pathname === '/v1/captures/shop/web/files') {
      const body = JSON.stringify({
        node: 'node-a',
        namespace: 'shop',
        name: 'web',
        live: [TARGET],
        files: [{ path: `${TARGET}/${FILE}`, target: TARGET, name: FILE, size: FILE_BYTES.length, modified: '2026-11-27T10:00:00.000Z', kind: 'pcap' }],
      });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
      return;
    }
    if (url.pathname === `/v1/captures/shop/web/files/${TARGET}/${FILE}`) {
      const size = FILE_BYTES.length;
      const r = parseRange(req.headers.range, size);
      const h = { 'Content-Type': 'application/vnd.tcpdump.pcap', 'Accept-Ranges': 'bytes' };
      if (r.kind === 'unsatisfiable') return void res.writeHead(416, { ...h, 'Content-Range': `bytes */${size}`, 'Content-Length': 0 }).end();
      if (r.kind === 'partial') {
        return void res.writeHead(206, { ...h, 'Content-Range': `bytes ${r.start}-${r.end}/${size}`, 'Content-Length': r.end - r.start + 1 }).end(FILE_BYTES.subarray(r.start, r.end + 1));
      }
      return void res.writeHead(200, { ...h, 'Content-Length': size }).end(FILE_BYTES);
    }
    if (url.pathname === '/v1/captures/shop/web/stream') {
      if (url.searchParams.get('target') !== TARGET) return void res.writeHead(404).end('no such running target\n');
      res.writeHead(200, { 'Content-Type': 'application/vnd.tcpdump.pcap', 'X-Pcapper-Target': TARGET });
      this.streamOpen = true;
      this.streamClosedEarly = false;
      res.on('close', () => {
        if (this.streamOpen) this.streamClosedEarly = true;
        this.streamOpen = false;
      });
      res.write(PCAP_HEADER);
      this.onRecord?.(res);
      this.releaseStream = () => {
        this.streamOpen = false;
        res.end(Buffer.from('end-of-stream'));
      };
      return;
    }
    res.writeHead(404).end('not found\n');
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('pcapper server (aggregated API) with a real kube-apiserver and real TLS', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let admin: KubeClient;
  let dir: string;
  let pki: PcapperPki;
  let proxy: CertPair; // front-proxy-client, signed by the front-proxy CA
  let otherCaProxy: CertPair; // CN front-proxy-client, signed by another CA
  let intruder: CertPair; // signed by the front-proxy CA, CN not allowed
  let pcapperSigned: CertPair; // the pcapper server cert itself, not a front-proxy cert
  let frontProxyCa: CertPair;
  let agent: FakeAgent;
  let impostor: FakeAgent;
  let server: PcapperServer;

  function get(path: string, o: { cert?: CertPair; user?: string; groups?: string[]; headers?: Record<string, string>; newConnection?: boolean } = {}): Promise<Resp> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | string[]> = { ...(o.headers ?? {}) };
      if (o.user !== undefined) headers['X-Remote-User'] = o.user;
      if (o.groups) headers['X-Remote-Group'] = o.groups;
      const req = https.request(
        {
          host: '127.0.0.1',
          port: server.port,
          path,
          headers,
          ca: pki.caPem,
          servername: SERVER_DNS,
          agent: false,
          ...(o.cert ? { cert: readFileSync(o.cert.cert), key: readFileSync(o.cert.key) } : {}),
        },
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
  const asAlice = { cert: undefined as CertPair | undefined, user: 'alice', groups: ['pcapper:users', 'system:authenticated'] };
  const json = (r: Resp): Record<string, unknown> => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
  function assertStatus(r: Resp, code: number, re: RegExp): void {
    assert.equal(r.status, code, r.body.toString());
    const st = json(r);
    assert.equal(st.kind, 'Status');
    assert.equal(st.code, code);
    assert.match(String(st.message), re);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcapper-server-test-'));
    pki = makePcapperPki(join(dir, 'pki'));
    frontProxyCa = makeCa(join(dir, 'fp'), 'front-proxy-ca');
    proxy = makeLeaf(join(dir, 'fp'), frontProxyCa, { name: 'front-proxy-client', cn: 'front-proxy-client', usage: 'client' });
    intruder = makeLeaf(join(dir, 'fp'), frontProxyCa, { name: 'intruder', cn: 'intruder', usage: 'client' });
    const otherCa = makeCa(join(dir, 'other'), 'other-ca');
    otherCaProxy = makeLeaf(join(dir, 'other'), otherCa, { name: 'front-proxy-client', cn: 'front-proxy-client', usage: 'client' });
    pcapperSigned = pki.server;
    asAlice.cert = proxy;
    // An agent certificate from the right CA but for another name: the server must not accept it.
    const wrongName = makeLeaf(join(dir, 'pki'), pki.ca, { name: 'wrong-name', cn: 'pcapper-agent', dns: ['evil.example'], usage: 'server' });

    cluster = await startCluster();
    admin = clientFor(cluster.kubeConfig);
    await installCRD(admin);
    for (const ns of [SYS, 'shop', 'other']) await ensureNamespace(admin, ns);

    // Front-proxy settings: add ours to whatever the apiserver published.
    let cm: { metadata: { resourceVersion?: string }; data?: Record<string, string> } | undefined;
    try {
      cm = await admin.request({ path: CM_PATH });
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 404)) throw e;
    }
    const data = cm?.data ?? {};
    const names = new Set<string>(JSON.parse(data['requestheader-allowed-names'] || '[]') as string[]);
    names.add('front-proxy-client');
    const fpData = {
      ...data,
      'requestheader-client-ca-file': (data['requestheader-client-ca-file'] ?? '') + readFileSync(frontProxyCa.cert, 'utf8'),
      'requestheader-allowed-names': JSON.stringify([...names]),
      'requestheader-username-headers': data['requestheader-username-headers'] ?? '["X-Remote-User"]',
      'requestheader-group-headers': data['requestheader-group-headers'] ?? '["X-Remote-Group"]',
      'requestheader-extra-headers-prefix': data['requestheader-extra-headers-prefix'] ?? '["X-Remote-Extra-"]',
    };
    if (cm) await admin.request({ method: 'PUT', path: CM_PATH, body: { ...cm, data: fpData } });
    else await admin.request({ method: 'POST', path: '/api/v1/namespaces/kube-system/configmaps', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'extension-apiserver-authentication', namespace: 'kube-system' }, data: fpData } });

    // RBAC: the server's ServiceAccount gets exactly the documented server RBAC (BRIEF "Server RBAC").
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    const post = (path: string, body: unknown): Promise<unknown> => admin.request({ method: 'POST', path, body });
    const subj = { kind: 'ServiceAccount', name: 'pcapper-server', namespace: SYS };
    const serverKc = await cluster.serviceAccountKubeConfig(SYS, 'pcapper-server');
    await post(`${rbac}/clusterrolebindings`, { metadata: { name: 'pcapper-server-auth-delegator' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' }, subjects: [subj] });
    await post(`${rbac}/namespaces/kube-system/rolebindings`, { metadata: { name: 'pcapper-server-auth-reader' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' }, subjects: [subj] });
    await post(`${rbac}/clusterroles`, { metadata: { name: 'pcapper-server' }, rules: [{ apiGroups: ['pcapper.dev'], resources: ['packetcaptures'], verbs: ['get', 'list', 'watch'] }] });
    await post(`${rbac}/clusterrolebindings`, { metadata: { name: 'pcapper-server' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'pcapper-server' }, subjects: [subj] });
    await post(`${rbac}/namespaces/${SYS}/roles`, { metadata: { name: 'pcapper-server' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }, { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['get'] }] });
    await post(`${rbac}/namespaces/${SYS}/rolebindings`, { metadata: { name: 'pcapper-server' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pcapper-server' }, subjects: [subj] });
    // Users: alice (by name) and the group net-readers may read captures in "shop" only; mallory nothing.
    await post(`${rbac}/clusterroles`, { metadata: { name: 'capture-reader' }, rules: [{ apiGroups: ['pcapper.dev'], resources: ['packetcaptures/files'], verbs: ['get'] }] });
    await post(`${rbac}/namespaces/shop/rolebindings`, {
      metadata: { name: 'readers' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'capture-reader' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }, { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'net-readers' }],
    });

    // Agents: node-a the stand-in agent, node-b a closed port, node-c no pod, node-d an agent with the wrong certificate name.
    agent = new FakeAgent(pki, pki.agent);
    await agent.start();
    impostor = new FakeAgent(pki, wrongName);
    await impostor.start();
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
    const agentPod = async (name: string, node: string, port: number): Promise<void> => {
      await admin.request({
        method: 'POST',
        path: `/api/v1/namespaces/${SYS}/pods`,
        body: {
          metadata: {
            name,
            labels: { 'app.kubernetes.io/name': 'pcapper', 'app.kubernetes.io/component': 'agent' },
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'pcapper-agent', uid: ds.metadata.uid, controller: true }],
          },
          spec: { nodeName: node, containers: [{ name: 'agent', image: 'pcapper:test', ports: [{ name: 'https', containerPort: port }] }] },
        },
      });
      await admin.request({
        method: 'PATCH',
        path: `/api/v1/namespaces/${SYS}/pods/${name}/status`,
        contentType: 'application/merge-patch+json',
        body: { status: { phase: 'Running', podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }], conditions: [{ type: 'Ready', status: 'True' }] } },
      });
    };
    await agentPod('agent-a', 'node-a', agent.port);
    await agentPod('agent-b', 'node-b', await freePort());
    await agentPod('agent-d', 'node-d', impostor.port);
    // An impostor pod on node-a that is not controlled by the DaemonSet: must be ignored.
    await admin.request({
      method: 'POST',
      path: `/api/v1/namespaces/${SYS}/pods`,
      body: { metadata: { name: 'fake-agent-a', labels: { 'app.kubernetes.io/component': 'agent' } }, spec: { nodeName: 'node-a', containers: [{ name: 'x', image: 'x', ports: [{ name: 'https', containerPort: 1 }] }] } },
    });

    // Captures: shop/web on nodes a-d, other/secret on node-a.
    for (const [ns, name] of [['shop', 'web'], ['other', 'secret']] as const) {
      await admin.request({ method: 'POST', path: `/apis/pcapper.dev/v1alpha1/namespaces/${ns}/packetcaptures`, body: { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name }, spec: { targetPod: 'web-0' } } });
      await admin.request({
        method: 'PATCH',
        path: `/apis/pcapper.dev/v1alpha1/namespaces/${ns}/packetcaptures/${name}/status`,
        contentType: 'application/merge-patch+json',
        body: { status: { nodes: [{ node: 'node-a' }, { node: 'node-b' }], targets: [{ name: 'pod/shop/web-0', node: 'node-a' }, { name: 'pod/shop/x', node: 'node-c' }, { name: 'pod/shop/y', node: 'node-d' }] } },
      });
    }

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
    });
    await server.start();
  });

  after(async () => {
    await server?.stop();
    await agent?.stop();
    await impostor?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('health needs no client certificate; /readyz is 200 once the certificates and the front-proxy CA are loaded', async () => {
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/livez')).status, 200);
    const r = await get('/readyz');
    assert.equal(r.status, 200, r.body.toString());
  });

  it('no client certificate, another CA, a CN not allowed, or a non-front-proxy cert: 401 and the identity headers are ignored', async () => {
    const before = agent.requests.length;
    const path = `${BASE}/shop/packetcaptures/web/files`;
    const admins = { user: 'admin', groups: ['system:masters'] };
    assertStatus(await get(path, admins), 401, /no client certificate/);
    assertStatus(await get(path, { ...admins, cert: otherCaProxy }), 401, /not signed by the front-proxy CA/);
    assertStatus(await get(path, { ...admins, cert: intruder }), 401, /CN "intruder" is not in requestheader-allowed-names/);
    assertStatus(await get(path, { ...admins, cert: pcapperSigned }), 401, /not signed by the front-proxy CA/);
    assertStatus(await get('/apis/data.pcapper.dev/v1alpha1', admins), 401, /no client certificate/);
    // A valid proxy certificate without a user header is not an identity either.
    assertStatus(await get(path, { cert: proxy }), 401, /no user in X-Remote-User/);
    assert.equal(agent.requests.length, before, 'no refused request reached an agent');
  });

  it('discovery: APIResourceList (the aggregator availability check) and a legacy /apis for aggregated discovery fallback', async () => {
    const r = await get('/apis/data.pcapper.dev/v1alpha1', { cert: proxy, user: 'system:kube-aggregator', groups: ['system:masters'] });
    assert.equal(r.status, 200);
    const l = json(r) as { kind: string; groupVersion: string; resources: { name: string }[] };
    assert.equal(l.kind, 'APIResourceList');
    assert.deepEqual(l.resources.map((x) => x.name), ['packetcaptures/files', 'packetcaptures/log', 'packetcaptures/trigger']);
    const apis = await get('/apis', { cert: proxy, user: 'system:kube-aggregator', headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList' } });
    assert.equal(apis.status, 200);
    // Not the v2 content type: the aggregator then falls back to /apis/<group>/<version>.
    assert.equal(apis.headers['content-type'], 'application/json');
    assert.equal(json(apis).kind, 'APIGroupList');
  });

  it('alice lists the files of her capture across nodes, with one error entry per unusable node', async () => {
    const r = await get(`${BASE}/shop/packetcaptures/web/files`, asAlice);
    assert.equal(r.status, 200, r.body.toString());
    const l = json(r) as { kind: string; nodes: { node: string; live?: string[]; error?: string }[]; items: { node: string; path: string; size: number }[] };
    assert.equal(l.kind, 'PacketCaptureFileList');
    assert.deepEqual(l.nodes.map((n) => n.node), ['node-a', 'node-b', 'node-c', 'node-d']);
    assert.deepEqual(l.nodes[0], { node: 'node-a', live: [TARGET] });
    assert.match(l.nodes[1]?.error ?? '', /agent on node node-b is unreachable/);
    assert.match(l.nodes[2]?.error ?? '', /no agent pod of DaemonSet pcapper-agent on node node-c/);
    assert.match(l.nodes[3]?.error ?? '', /agent on node node-d is unreachable: .*pcapper-agent\.pcapper\.svc/);
    assert.deepEqual(l.items.map((i) => [i.node, i.path, i.size]), [['node-a', `node-a/${TARGET}/${FILE}`, FILE_BYTES.length]]);
    // The group is forwarded too: a user known only through the group net-readers may read.
    assert.equal((await get(`${BASE}/shop/packetcaptures/web/files`, { cert: proxy, user: 'carol', groups: ['net-readers'] })).status, 200);
  });

  it('403 from the SubjectAccessReview before anything tells whether the capture exists', async () => {
    const before = agent.requests.length;
    assertStatus(await get(`${BASE}/other/packetcaptures/secret/files`, asAlice), 403, /user "alice" cannot get packetcaptures\/files .* namespace "other"/);
    assertStatus(await get(`${BASE}/other/packetcaptures/does-not-exist/files`, asAlice), 403, /cannot get/);
    assertStatus(await get(`${BASE}/shop/packetcaptures/web/files`, { cert: proxy, user: 'mallory', groups: ['system:authenticated'] }), 403, /user "mallory"/);
    assertStatus(await get(`${BASE}/shop/packetcaptures/web/files/node-a/${TARGET}/${FILE}`, { cert: proxy, user: 'mallory' }), 403, /mallory/);
    assertStatus(await get(`${BASE}/shop/packetcaptures/web/log?node=node-a&target=${TARGET}`, { cert: proxy, user: 'mallory' }), 403, /mallory/);
    assert.equal(agent.requests.length, before, 'no denied request reached an agent');
    // Allowed, but no such capture / node / file: 404.
    assertStatus(await get(`${BASE}/shop/packetcaptures/nope/files`, asAlice), 404, /packetcaptures.pcapper.dev "nope" not found/);
    assertStatus(await get(`${BASE}/shop/packetcaptures/web/files/node-z/${TARGET}/${FILE}`, asAlice), 404, /has no node "node-z"/);
    assertStatus(await get(`${BASE}/shop/packetcaptures/web/files/node-a/${TARGET}/missing.pcap0`, asAlice), 404, /missing\.pcap0 .* not found on node node-a/);
  });

  it('downloads relay 200, 206 and 416 byte-exact with the range headers', async () => {
    const path = `${BASE}/shop/packetcaptures/web/files/node-a/${TARGET}/${FILE}`;
    const full = await get(path, asAlice);
    assert.equal(full.status, 200);
    assert.ok(full.body.equals(FILE_BYTES));
    assert.equal(full.headers['content-length'], String(FILE_BYTES.length));
    assert.equal(full.headers['accept-ranges'], 'bytes');
    assert.equal(full.headers['content-type'], 'application/vnd.tcpdump.pcap');
    const part = await get(path, { ...asAlice, headers: { Range: 'bytes=1000-1999' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 1000-1999/${FILE_BYTES.length}`);
    assert.equal(part.headers['content-length'], '1000');
    assert.ok(part.body.equals(FILE_BYTES.subarray(1000, 2000)));
    const tail = await get(path, { ...asAlice, headers: { Range: 'bytes=-10' } });
    assert.equal(tail.status, 206);
    assert.ok(tail.body.equals(FILE_BYTES.subarray(FILE_BYTES.length - 10)));
    const from = await get(path, { ...asAlice, headers: { Range: 'bytes=99990-' } });
    assert.ok(from.body.equals(FILE_BYTES.subarray(99_990)));
    const bad = await get(path, { ...asAlice, headers: { Range: `bytes=${FILE_BYTES.length}-` } });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers['content-range'], `bytes */${FILE_BYTES.length}`);
    assert.equal(bad.body.length, 0);
  });

  it('bad names: 400 Status saying what is wrong', async () => {
    const cases: [string, RegExp][] = [
      [`${BASE}/Shop/packetcaptures/web/files`, /namespace "Shop" is not a DNS-1123 label/],
      [`${BASE}/shop/packetcaptures/web_1/files`, /capture name "web_1"/],
      [`${BASE}/shop/packetcaptures/web/files/node-a/..%2F..%2Fetc/passwd`, /target "..\/..\/etc" is not a plain name/],
      [`${BASE}/shop/packetcaptures/web/files/node-a/${TARGET}/..`, /file name "\.\."/],
      [`${BASE}/shop/packetcaptures/web/files/NODE/${TARGET}/${FILE}`, /node name "NODE"/],
      [`${BASE}/shop/packetcaptures/web/log?node=node-a&target=a%2Fb`, /target "a\/b"/],
      [`${BASE}/shop/packetcaptures/web/log`, /exactly one node/],
    ];
    for (const [path, re] of cases) assertStatus(await get(path, asAlice), 400, re);
  });

  it('an unreachable agent or one with the wrong certificate name: 503 naming the node', async () => {
    assertStatus(await get(`${BASE}/shop/packetcaptures/web/files/node-b/${TARGET}/${FILE}`, asAlice), 503, /agent on node node-b \(pod agent-b\) is unreachable/);
    assertStatus(await get(`${BASE}/shop/packetcaptures/web/log?node=node-b&target=${TARGET}`, asAlice), 503, /node-b/);
    assertStatus(await get(`${BASE}/shop/packetcaptures/web/files/node-c/${TARGET}/${FILE}`, asAlice), 503, /no agent pod of DaemonSet pcapper-agent on node node-c/);
    const before = impostor.requests.length;
    assertStatus(await get(`${BASE}/shop/packetcaptures/web/files/node-d/${TARGET}/${FILE}`, asAlice), 503, /node-d .*unreachable/);
    assert.equal(impostor.requests.length, before, 'nothing was sent to an agent whose certificate is not for pcapper-agent.pcapper.svc');
    assert.deepEqual(agent.refusedClients, [], 'the server always presented its pcapper-server client certificate');
  });

  it('live stream: headers and first bytes arrive while the agent still streams; the end is relayed; a client that leaves aborts the agent stream', async (t) => {
    const path = `${BASE}/shop/packetcaptures/web/log?node=node-a&target=${TARGET}`;
    // Latency diagnostic: the agent writes a record whenever the previous one reached the client.
    const marks: number[] = [];
    let sentAt = 0;
    let rounds = 0;
    const RECORDS = 20;
    const record = Buffer.alloc(64, 7);
    let agentRes: http.ServerResponse | undefined;
    agent.onRecord = (res) => {
      agentRes = res;
    };
    const received: Buffer[] = [];
    let total = 0;
    const done = new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: server.port, path, headers: { 'X-Remote-User': 'alice' }, ca: pki.caPem, servername: SERVER_DNS, agent: false, cert: readFileSync(proxy.cert), key: readFileSync(proxy.key) },
        (res) => {
          res.on('data', (c: Buffer) => {
            received.push(c);
            total += c.length;
            if (total > PCAP_HEADER.length && rounds < RECORDS && total === PCAP_HEADER.length + (rounds + 1) * record.length) {
              marks.push(performance.now() - sentAt);
              rounds++;
              if (rounds < RECORDS) {
                sentAt = performance.now();
                agentRes?.write(record);
              }
            }
            if (total === PCAP_HEADER.length) {
              sentAt = performance.now();
              agentRes?.write(record);
            }
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
    await eventually(() => rounds === RECORDS, { what: 'all records relayed while the agent stream is open', timeoutMs: 30_000 });
    assert.equal(agent.streamOpen, true, 'the agent has not ended the stream yet');
    agent.release();
    const res = await done;
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/vnd.tcpdump.pcap');
    assert.equal(res.headers['content-length'], undefined);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    const all = Buffer.concat(received);
    assert.ok(all.equals(Buffer.concat([PCAP_HEADER, ...Array.from({ length: RECORDS }, () => record), Buffer.from('end-of-stream')])));
    const sorted = [...marks].sort((a, b) => a - b);
    t.diagnostic(`agent write -> client data through the server: p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(2)} ms, max ${sorted[sorted.length - 1]?.toFixed(2)} ms over ${marks.length} records`);

    // A client that goes away: the server aborts its request to the agent.
    agent.onRecord = undefined;
    let clientReq: http.ClientRequest | undefined;
    await new Promise<void>((resolve, reject) => {
      clientReq = https.request(
        { host: '127.0.0.1', port: server.port, path, headers: { 'X-Remote-User': 'alice' }, ca: pki.caPem, servername: SERVER_DNS, agent: false, cert: readFileSync(proxy.cert), key: readFileSync(proxy.key) },
        (r) => r.once('data', () => resolve()),
      );
      clientReq.on('error', () => undefined);
      clientReq.on('close', () => reject(new Error('closed before data')));
      clientReq.end();
    });
    assert.equal(agent.streamOpen, true);
    clientReq?.destroy();
    await eventually(() => agent.streamClosedEarly, { what: 'the agent stream closed after the client left', timeoutMs: 10_000 });
  });

  it('without read access to the front-proxy ConfigMap: /readyz 503 with the reason, and every data request 401', async () => {
    const blind = new PcapperServer({
      config: {
        certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca.cert, listenHost: '127.0.0.1', listenPort: 0,
        systemNamespace: SYS, agentDaemonSet: 'pcapper-agent', agentServerName: 'pcapper-agent.pcapper.svc', authRefreshMs: 60_000,
      },
      kc: cluster.userKubeConfig('mallory'),
      log: silentLogger,
    });
    const port = await blind.start();
    const saved = server.port;
    try {
      server.port = port; // get() dials server.port
      const ready = await get('/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body.toString(), /front-proxy CA not read .*forbidden|front-proxy CA not read .*403/i);
      assertStatus(await get(`${BASE}/shop/packetcaptures/web/files`, asAlice), 401, /front-proxy CA .* is not loaded yet/);
    } finally {
      server.port = saved;
      await blind.stop();
    }
  });

  it('picks up a rotated front-proxy CA from the ConfigMap for new connections', async () => {
    const ca2 = makeCa(join(dir, 'fp2'), 'front-proxy-ca-2');
    const proxy2 = makeLeaf(join(dir, 'fp2'), ca2, { name: 'front-proxy-client', cn: 'front-proxy-client', usage: 'client' });
    const path = `${BASE}/shop/packetcaptures/web/files`;
    assertStatus(await get(path, { ...asAlice, cert: proxy2 }), 401, /not signed by the front-proxy CA/);
    const cm = await admin.request<{ data: Record<string, string> }>({ path: CM_PATH });
    // A bundle of two CAs (the apiserver publishes bundles while it rotates).
    cm.data['requestheader-client-ca-file'] = readFileSync(ca2.cert, 'utf8') + readFileSync(frontProxyCa.cert, 'utf8');
    await admin.request({ method: 'PUT', path: CM_PATH, body: cm });
    // The apiserver's own trust controller may merge its CAs back in; ours must be there.
    await server.refreshTrust();
    assert.equal((await get(path, { ...asAlice, cert: proxy2 })).status, 200);
    assert.equal((await get(path, asAlice)).status, 200);
    assertStatus(await get(path, { ...asAlice, cert: otherCaProxy }), 401, /not signed by the front-proxy CA/);
  });
});
