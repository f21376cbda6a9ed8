/**
 * pcapper installed from deploy/pcapper.yaml (the chart with default values) on a real apiserver,
 * with its components run the way the chart runs them, minus the kubelet:
 * - the controller: the Deployment's args, a TokenRequest token of the chart's own
 *   `pcapper-controller` ServiceAccount, uid 65532 with no capabilities and no_new_privs (the
 *   Deployment's securityContext);
 * - one agent per simulated node: the DaemonSet's env, a token of the chart's `pcapper-agent`
 *   ServiceAccount, uid 0 limited to the DaemonSet's capabilities with no_new_privs, and the
 *   Secret pcapper-agent-tls (made with the test PKI, as docs/install.md makes it) at the paths the
 *   DaemonSet mounts it.
 * Nothing here holds an admin token except the test's own setup (nodes, pods, namespaces).
 *
 * A user bound to pcapper-capture-user in her namespace (alice) captures a Deployment's HTTP
 * traffic across two nodes with kubectl and deletes the capture (finalizer, node cleanup); she
 * cannot capture elsewhere. The agents serve the files (they hold the requests) over mutual TLS to
 * the pcapper server's certificate only (the test presents it, from pcapper-server-tls); alice's
 * bearer token, a client without a certificate and a certificate with another name get nothing.
 * The components log no authorization failure on the way: the chart's RBAC is sufficient.
 * Users' downloads through the API server (APIService -> pcapper server -> agents) are the data
 * API's end-to-end tests; here the chart's agent wiring is what is under test.
 */
import { randomBytes } from 'node:crypto';
import { startProcess, type LoggedProcess } from './harness/process.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import type { PacketCapture } from '../src/api/packetcapture.js';
import { getPacketCapture } from '../src/k8s/client.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { AGENT_DNS, makeClientCert, makePcapperPki, type PcapperPki } from './harness/pki.js';
import { SimKubelet, type SimPod } from './harness/kubelet.js';
import { assertRoot } from './harness/netns.js';
import { repoRoot } from './harness/paths.js';
import { httpGet, startHttpServer, type ServerHandle } from './harness/traffic.js';
import { findManifest, parseManifests, readRepoFile, type Manifest } from './tools/helm.js';
import { eventually } from './harness/eventually.js';

const SYSTEM_NS = 'pcapper';
const NS = 'team-a';
const OTHER_NS = 'team-b';
const CONTROLLER_UID = 65532;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface RenderedContainer {
  args: string[];
  env: EnvVar[];
  securityContext: { capabilities?: { add?: string[] }; allowPrivilegeEscalation?: boolean; runAsUser?: number };
}
const containerOf = (m: Manifest): RenderedContainer => {
  const c = (m as unknown as { spec: { template: { spec: { containers: RenderedContainer[] } } } }).spec.template.spec.containers[0];
  if (!c) throw new Error(`${m.kind}/${m.metadata.name} has no container`);
  return c;
};

/** The container's env as a process would get it from the kubelet (fieldRefs resolved by `fields`). */
function envOf(c: RenderedContainer, fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) {
      const v = fields[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`no value for fieldRef ${e.valueFrom.fieldRef.fieldPath} (${e.name})`);
      out[e.name] = v;
    } else throw new Error(`env ${e.name}: unsupported source`);
  }
  return out;
}

/** The mount path of the Secret `secretName` in a workload's container. */
function tlsMountOf(m: Manifest, secretName: string): string {
  const spec = (m as unknown as { spec: { template: { spec: { volumes: { name: string; secret?: { secretName: string } }[]; containers: { volumeMounts: { name: string; mountPath: string }[] }[] } } } }).spec.template.spec;
  const vol = spec.volumes.find((v) => v.secret?.secretName === secretName);
  const mount = spec.containers[0]?.volumeMounts.find((v) => v.name === vol?.name)?.mountPath;
  if (!mount) throw new Error(`${m.kind}/${m.metadata.name} does not mount the Secret ${secretName}`);
  return mount;
}

/** The env's paths under `mount` (PCAPPER_TLS_CERT, PCAPPER_TLS_KEY, PCAPPER_CA) moved to `dir`; each must name a key of the Secret. */
function rerooted(env: Record<string, string>, mount: string, dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['PCAPPER_TLS_CERT', 'PCAPPER_TLS_KEY', 'PCAPPER_CA']) {
    const v = env[name] ?? '';
    if (!v.startsWith(`${mount}/`)) throw new Error(`${name}=${v} is not under the Secret's mount ${mount}`);
    const file = join(dir, v.slice(mount.length + 1));
    if (!existsSync(file)) throw new Error(`${name}: the Secret has no key ${v.slice(mount.length + 1)}`);
    out[name] = file;
  }
  return out;
}

/** A client of an agent's mTLS port, as the pcapper server is one (or an impostor, with other credentials). */
interface AgentClient {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
}

function get(url: string, client: AgentClient): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const opts = { ca: client.ca, cert: client.cert, key: client.key, servername: AGENT_DNS, headers: client.token ? { Authorization: `Bearer ${client.token}` } : {}, timeout: 30_000 };
    const req = https.get(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}


const tokenOf = (kc: k8s.KubeConfig): string => {
  const t = kc.getCurrentUser()?.token;
  if (!t) throw new Error('no token in kubeconfig');
  return t;
};

describe('pcapper from deploy/pcapper.yaml: controller and agents with the chart ServiceAccounts, capabilities and users (needs root)', () => {
  let cluster: Cluster;
  let kubelet: SimKubelet;
  let tmp: string;
  let controller: LoggedProcess;
  const agents: Record<string, LoggedProcess> = {};
  /** https://127.0.0.1:PORT of each node's agent (the server finds it from the pod; here, from the log). */
  const endpoints: Record<string, string> = {};
  let pki: PcapperPki;
  let asServer: AgentClient;
  const servers: ServerHandle[] = [];
  let web: SimPod[] = [];
  let client: SimPod;
  let manifests: Manifest[];

  before(async () => {
    assertRoot();
    tmp = mkdtempSync(join(tmpdir(), 'pcapper-e2e-'));
    chmodSync(tmp, 0o755);
    cluster = await startCluster();
    const text = readRepoFile('deploy/pcapper.yaml');
    manifests = parseManifests(text);
    const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=pcapper-install', '-f', '-'], { input: text });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/packetcaptures.pcapper.dev'])).code, 0);

    kubelet = new SimKubelet(cluster.kubeConfig);
    await kubelet.addNode('node-a');
    await kubelet.addNode('node-b');
    const dep = await kubelet.makeDeployment(NS, 'web', 2, { app: 'web' }, ['node-a', 'node-b']);
    web = dep.pods;
    client = await kubelet.createPod({ namespace: NS, name: 'client', node: 'node-b', labels: { app: 'client' } });
    await kubelet.ensureNamespace(OTHER_NS);
    for (const p of web) servers.push(await startHttpServer(p, 8080));

    // alice may capture in team-a, through the chart's user role.
    const rb = await cluster.kubectl(['create', 'rolebinding', 'alice-pcap', '-n', NS, '--clusterrole=pcapper-capture-user', '--user=alice']);
    assert.equal(rb.code, 0, rb.stderr);

    // ---- controller: Deployment args, the chart's ServiceAccount, non-root without capabilities
    const ctl = containerOf(findManifest(manifests, 'Deployment', 'pcapper-controller'));
    const ctlKc = await cluster.serviceAccountKubeConfig(SYSTEM_NS, 'pcapper-controller');
    const ctlDir = join(tmp, 'controller');
    mkdirSync(ctlDir, { mode: 0o700 });
    const ctlKubeconfig = join(ctlDir, 'kubeconfig');
    writeFileSync(ctlKubeconfig, ctlKc.exportConfig(), { mode: 0o600 });
    chownSync(ctlDir, CONTROLLER_UID, CONTROLLER_UID);
    chownSync(ctlKubeconfig, CONTROLLER_UID, CONTROLLER_UID);
    assert.equal(ctl.securityContext.allowPrivilegeEscalation, false);
    controller = startProcess(
      'controller',
      [
        'setpriv', `--reuid=${CONTROLLER_UID}`, `--regid=${CONTROLLER_UID}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--',
        process.execPath, '--enable-source-maps', join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js'), ...ctl.args, '--kubeconfig', ctlKubeconfig,
      ],
      {
        env: { ...envOf(ctl, { 'metadata.name': 'pcapper-controller-e2e', 'metadata.namespace': SYSTEM_NS }), PCAPPER_LOG_FORMAT: 'text', HOME: ctlDir, PCAPPER_METRICS_ADDR: '127.0.0.1:0' /* the chart's :8080 is the pod's own port; on this shared host: loopback, any free port */ },
        logFile: join(tmp, 'controller.log'),
      },
    );

    // ---- the two Secrets, as docs/install.md has the user create them (test PKI, same names)
    pki = makePcapperPki(join(tmp, 'pki'));
    for (const [secret, pair] of [['pcapper-server-tls', pki.server], ['pcapper-agent-tls', pki.agent]] as const) {
      const r = await cluster.kubectl(['create', 'secret', 'generic', secret, '--namespace', SYSTEM_NS, '--type', 'kubernetes.io/tls', '--from-file', `tls.crt=${pair.cert}`, '--from-file', `tls.key=${pair.key}`, '--from-file', `ca.crt=${pki.ca.cert}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    asServer = { ca: readFileSync(pki.ca.cert), cert: readFileSync(pki.server.cert), key: readFileSync(pki.server.key) };

    // ---- agents: DaemonSet env, the chart's ServiceAccount, root limited to the chart's capabilities
    const dsManifest = findManifest(manifests, 'DaemonSet', 'pcapper-agent');
    const ag = containerOf(dsManifest);
    // The Secret pcapper-agent-tls where the kubelet would put it: its keys as files in one directory.
    const agentSecretDir = join(tmp, 'agent-tls-secret');
    mkdirSync(agentSecretDir, { mode: 0o700 });
    const secretJson = await cluster.kubectl(['get', 'secret', 'pcapper-agent-tls', '-n', SYSTEM_NS, '-o', 'json']);
    for (const [k, v] of Object.entries((JSON.parse(secretJson.stdout) as { data: Record<string, string> }).data)) writeFileSync(join(agentSecretDir, k), Buffer.from(v, 'base64'), { mode: 0o600 });
    // The Secret pcapper-encryption-keys (docs/install.md: with the static manifest the user creates
    // it, like the TLS Secrets) and the store credentials (none here), where the kubelet would mount
    // them: encryption at rest is on, and an agent without its keys does not start.
    const keysDir = join(tmp, 'encryption-keys-secret');
    mkdirSync(keysDir, { mode: 0o700 });
    writeFileSync(join(keysDir, 'active'), 'e2e', { mode: 0o600 });
    writeFileSync(join(keysDir, 'e2e.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
    const storeCredsDir = join(tmp, 'store-credentials-secret');
    mkdirSync(storeCredsDir, { mode: 0o700 });
    const agentMount = tlsMountOf(dsManifest, 'pcapper-agent-tls');
    const caps = ag.securityContext.capabilities?.add ?? [];
    const agentKc = await cluster.serviceAccountKubeConfig(SYSTEM_NS, 'pcapper-agent');
    const agentKubeconfig = join(tmp, 'agent-kubeconfig');
    writeFileSync(agentKubeconfig, agentKc.exportConfig(), { mode: 0o600 });
    for (const node of ['node-a', 'node-b']) {
      const nodeNet = kubelet.node(node)?.net;
      assert.ok(nodeNet);
      const dataDir = join(tmp, node, 'hostmount');
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const env = envOf(ag, { 'spec.nodeName': node });
      agents[node] = startProcess(
        `agent ${node}`,
        [
          'setpriv', '--no-new-privs', '--inh-caps=-all', `--bounding-set=${['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',')}`, '--',
          process.execPath, '--enable-source-maps', join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js'), ...ag.args, '--kubeconfig', agentKubeconfig,
        ],
        {
          env: {
          ...env,
          // What differs from a pod: no /hostmount mount, no pod IP to listen on, and the simulated
          // node is not pid 1 (the DaemonSet's PCAPPER_HOST_NETNS=/proc/1/ns/net).
          PCAPPER_DATA_DIR: dataDir,
          PCAPPER_LISTEN: '127.0.0.1:0',
          PCAPPER_HOST_NETNS: nodeNet.netnsPath,
          // The TLS files at the Secret's mount, re-rooted where this test put the Secret's keys.
          ...rerooted(env, agentMount, agentSecretDir),
          PCAPPER_KEYRING_DIR: keysDir,
          PCAPPER_STORE_CREDENTIALS_DIR: storeCredsDir,
          PCAPPER_LOG_FORMAT: 'text',
          HOME: tmp,
          },
          logFile: join(tmp, `agent-${node}.log`),
        },
      );
    }
    for (const node of ['node-a', 'node-b']) {
      const m = (await agents[node]?.waitLog(/agent started .*?(?:listen=|endpoint=https?:\/\/)(127\.0\.0\.1:\d+)/))?.[1] ?? '';
      endpoints[node] = `https://${m}`;
    }
  });

  after(async () => {
    await controller?.stop();
    for (const a of Object.values(agents)) await a.stop();
    for (const s of servers) await s.stop().catch(() => undefined);
    await kubelet?.close();
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the controller (non-root, no capabilities) takes the leader Lease with its ServiceAccount token', async () => {
    const lease = await eventually(async () => {
      const r = await cluster.kubectl(['get', 'lease', 'pcapper-controller', '-n', SYSTEM_NS, '-o', 'jsonpath={.spec.holderIdentity}']);
      return r.code === 0 && r.stdout.startsWith('pcapper-controller-e2e') ? r.stdout : undefined;
    }, { what: 'the controller Lease' });
    assert.match(lease, /^pcapper-controller-e2e/);
    const status = readFileSync(`/proc/${controller.child.pid ?? 0}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${CONTROLLER_UID}\\s`, 'm'));
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
  });

  it("alice (pcapper-capture-user in team-a) captures a Deployment's HTTP traffic on two nodes; the agents serve the files to the pcapper server's certificate only (not to user tokens or other certificates)", async () => {
    const alice = cluster.userKubeconfigPath('alice');
    const aliceToken = tokenOf(cluster.userKubeConfig('alice'));
    const malloryToken = tokenOf(cluster.userKubeConfig('mallory'));
    const yaml = `apiVersion: pcapper.dev/v1alpha1
kind: PacketCapture
metadata: {name: web, namespace: ${NS}}
spec: {targetDeployment: web, captureSeconds: "6", maxFileSize: "2M", fileCount: "2"}
`;
    const created = await cluster.kubectl(['create', '-f', '-'], { input: yaml, kubeconfig: alice });
    assert.equal(created.code, 0, created.stderr);
    const running = await eventually(async () => {
      const pc = await getPacketCapture(cluster.kubeConfig, NS, 'web');
      const ts = pc.status?.targets ?? [];
      return ts.length === 2 && ts.every((t) => t.phase === 'Running') ? pc : undefined;
    }, { what: 'both targets Running' });
    assert.deepEqual(running.status?.targets?.map((t) => t.node).sort(), ['node-a', 'node-b']);
    for (const p of web) {
      const r = await httpGet(client, `http://${p.ip}:8080/from-client-to-${p.name}`);
      assert.equal(r.status, 200);
    }
    const done: PacketCapture = await eventually(
      async () => {
        const pc = await getPacketCapture(cluster.kubeConfig, NS, 'web');
        return pc.status?.progress === 'finished' ? pc : undefined;
      },
      { what: 'capture finished', timeoutMs: 40_000 },
    );
    for (const t of done.status?.targets ?? []) assert.ok((t.packets ?? 0) > 0, `${t.name}: ${JSON.stringify(t)}`);

    // alice reads her capture with kubectl.
    const got = await cluster.kubectl(['get', 'packetcaptures', 'web', '-n', NS, '-o', 'jsonpath={.status.progress}'], { kubeconfig: alice });
    assert.equal(got.stdout, 'finished', got.stderr);
    // The agents serve the files to the pcapper server's certificate (what the server does for her
    // through the data API), and to nobody else.
    const impostorDir = join(tmp, 'impostors');
    const otherCa = makePcapperPki(join(impostorDir, 'other-ca'));
    const otherName = makeClientCert(impostorDir, pki.ca, 'someone', 'someone-else');
    const ca = readFileSync(pki.ca.cert);
    const refused: [string, AgentClient][] = [
      ["alice's bearer token, no certificate", { ca, token: aliceToken }],
      ["mallory's bearer token, no certificate", { ca, token: malloryToken }],
      ['the agent certificate (CN pcapper-agent)', { ca, cert: readFileSync(pki.agent.cert), key: readFileSync(pki.agent.key) }],
      ['CN someone-else from the pcapper CA', { ca, cert: readFileSync(otherName.cert), key: readFileSync(otherName.key) }],
      ['CN pcapper-server from another CA', { ca, cert: readFileSync(otherCa.server.cert), key: readFileSync(otherCa.server.key) }],
    ];
    for (const p of web) {
      const endpoint = endpoints[p.node] ?? '';
      const listUrl = `${endpoint}/v1/captures/${NS}/web/files`;
      const list = await get(listUrl, asServer);
      assert.equal(list.status, 200, list.body.toString());
      const files = (JSON.parse(list.body.toString()) as { files: { path: string; kind: string; target: string }[] }).files.filter((f) => f.kind === 'pcap' && f.target === `pod.${NS}.${p.name}`);
      assert.ok(files.length >= 1, `${p.name} has pcap files on ${p.node}`);
      const uris = new Set<string>();
      for (const f of files) {
        const fileUrl = `${endpoint}/v1/captures/${NS}/web/files/${f.path}`;
        const body = await get(fileUrl, asServer);
        assert.equal(body.status, 200);
        const local = join(tmp, `${p.name}-${f.path.replace(/\//g, '_')}`);
        writeFileSync(local, body.body);
        const ts = spawnSync('tshark', ['-r', local, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'], { encoding: 'utf8' });
        assert.equal(ts.status, 0, ts.stderr);
        for (const l of ts.stdout.split('\n')) if (l.trim()) uris.add(l.trim());
        for (const [who, client] of refused) {
          // Refused with a status, or already in the TLS handshake (a certificate from another CA).
          const r = await get(fileUrl, client).catch((e: Error) => ({ status: 0, body: Buffer.from(e.message) }));
          assert.ok(r.status === 401 || r.status === 403 || r.status === 0, `${who}: ${r.status} ${r.body.toString().slice(0, 200)}`);
          assert.ok(!r.body.subarray(0, 4).equals(body.body.subarray(0, 4)) || r.status === 0, `${who} got no pcap`);
        }
      }
      assert.deepEqual([...uris], [`/from-client-to-${p.name}`], `${p.name}'s capture holds the request it served`);
      for (const [who, client] of refused) {
        const r = await get(listUrl, client).catch(() => ({ status: 0, body: Buffer.alloc(0) }));
        assert.ok(r.status === 401 || r.status === 403 || r.status === 0, `${who} may not list: ${r.status}`);
      }
    }
  });

  it('alice can capture in team-a only: not in team-b, not in the system namespace', async () => {
    const alice = cluster.userKubeconfigPath('alice');
    for (const ns of [OTHER_NS, SYSTEM_NS]) {
      const yaml = `apiVersion: pcapper.dev/v1alpha1
kind: PacketCapture
metadata: {name: elsewhere, namespace: ${ns}}
spec: {podSelector: {matchLabels: {app: web}}, targetNamespace: ${NS}, captureSeconds: "5"}
`;
      const r = await cluster.kubectl(['create', '-f', '-'], { input: yaml, kubeconfig: alice });
      assert.notEqual(r.code, 0, `alice must not create captures in ${ns}`);
      assert.match(r.stderr, /forbidden: User "alice" cannot create resource "packetcaptures" in API group "pcapper.dev" in the namespace/);
      const l = await cluster.kubectl(['get', 'packetcaptures', '-n', ns], { kubeconfig: alice });
      assert.match(l.stderr, /forbidden/);
    }
  });

  it('alice deletes her capture: the agents remove the files, the controller drops the finalizer', async () => {
    const alice = cluster.userKubeconfigPath('alice');
    const before = ['node-a', 'node-b'].map((n) => join(tmp, n, 'hostmount', NS, 'web'));
    for (const d of before) assert.ok(existsSync(d) && readdirSync(d).length > 0, `${d} has files`);
    const r = await cluster.kubectl(['delete', 'packetcapture', 'web', '-n', NS, '--wait=false'], { kubeconfig: alice });
    assert.equal(r.code, 0, r.stderr);
    await eventually(async () => {
      const g = await cluster.kubectl(['get', 'packetcapture', 'web', '-n', NS]);
      return g.code !== 0 && /NotFound/.test(g.stderr) ? true : undefined;
    }, { what: 'capture gone' });
    for (const d of before) assert.ok(!existsSync(d), `${d} removed`);
  });

  it('the agents serve /healthz (the probes\' path, HTTPS on port https) without a client certificate, and no plain HTTP', async () => {
    const ds = findManifest(manifests, 'DaemonSet', 'pcapper-agent') as unknown as { spec: { template: { spec: { containers: { readinessProbe: { httpGet: { path: string; port: string; scheme: string } } }[] } } } };
    const probe = ds.spec.template.spec.containers[0]?.readinessProbe.httpGet;
    assert.deepEqual(probe && { port: probe.port, scheme: probe.scheme }, { port: 'https', scheme: 'HTTPS' });
    for (const endpoint of Object.values(endpoints)) {
      const r = await get(`${endpoint}${probe?.path ?? ''}`, { ca: readFileSync(pki.ca.cert) });
      assert.equal(r.status, 200);
      // Plain HTTP on the TLS port gets no answer from the application (the handshake fails).
      const plain = await new Promise<number | Error>((resolve) => {
        const req = http.get(`${endpoint.replace('https:', 'http:')}/healthz`, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', (e) => resolve(e));
        req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      });
      assert.ok(plain instanceof Error || plain === 400, `plain HTTP: ${String(plain)}`);
    }
  });

  it('no component was ever refused by the apiserver (the chart RBAC covers every call they made)', () => {
    for (const c of [controller, ...Object.values(agents)]) {
      // The agents' own refusals of the impostors above ("request refused ...") are their file
      // server at work, not the apiserver refusing the agent.
      const refused = c.log().split('\n').filter((l) => /\b403\b|forbidden/i.test(l) && !/request refused/.test(l));
      assert.deepEqual(refused, [], `${c.name} was refused by the apiserver`);
      assert.ok(c.log().length > 0, `${c.name} logged`);
      assert.equal(c.child.exitCode, null, `${c.name} is still running`);
    }
  });
});
