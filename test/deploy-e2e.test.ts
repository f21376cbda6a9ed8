/**
 * pcapper installed from deploy/pcapper.yaml (the chart with default values) on a real apiserver,
 * with its components run the way the chart runs them, minus the kubelet:
 * - the controller: the Deployment's args, a TokenRequest token of the chart's own
 *   `pcapper-controller` ServiceAccount, uid 65532 with no capabilities and no_new_privs (the
 *   Deployment's securityContext);
 * - one agent per simulated node: the DaemonSet's env, a token of the chart's `pcapper-agent`
 *   ServiceAccount, uid 0 limited to the DaemonSet's capabilities with no_new_privs.
 * Nothing here holds an admin token except the test's own setup (nodes, pods, namespaces).
 *
 * A user bound to pcapper-capture-user in her namespace (alice) captures a Deployment's HTTP
 * traffic across two nodes with kubectl, downloads the files (they hold the requests) directly and
 * with kubectl-pcap, and deletes the capture (finalizer, node cleanup). She cannot capture elsewhere; mallory cannot download.
 * The components log no authorization failure on the way: the chart's RBAC is sufficient.
 * With agent.tlsSecretName the agent serves HTTPS from the files the chart mounts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import type { PacketCapture } from '../src/api/packetcapture.js';
import { getPacketCapture } from '../src/k8s/client.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { SimKubelet, type SimPod } from './harness/kubelet.js';
import { assertRoot } from './harness/netns.js';
import { repoRoot } from './harness/paths.js';
import { httpGet, startHttpServer, type ServerHandle } from './harness/traffic.js';
import { findManifest, helmTemplate, parseManifests, readRepoFile, type Manifest } from './tools/helm.js';

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

class Component {
  readonly child: ChildProcess;
  log = '';
  constructor(
    readonly name: string,
    argv: string[],
    env: Record<string, string>,
    logFile: string,
  ) {
    const out = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(argv[0] ?? '', argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
    for (const s of [this.child.stdout, this.child.stderr]) {
      s?.setEncoding('utf8');
      s?.on('data', (c: string) => {
        this.log += c;
        out.write(c);
      });
    }
  }
  async waitLog(re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.log);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited (${this.child.exitCode}):\n${this.log.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: no ${re} in its log within ${timeoutMs} ms:\n${this.log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}

function get(url: string, token?: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: token ? { Authorization: `Bearer ${token}` } : {}, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
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
  let controller: Component;
  const agents: Record<string, Component> = {};
  const endpoints: Record<string, string> = {};
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
    controller = new Component(
      'controller',
      [
        'setpriv', `--reuid=${CONTROLLER_UID}`, `--regid=${CONTROLLER_UID}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--',
        process.execPath, '--enable-source-maps', join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js'), ...ctl.args, '--kubeconfig', ctlKubeconfig,
      ],
      { ...envOf(ctl, { 'metadata.name': 'pcapper-controller-e2e', 'metadata.namespace': SYSTEM_NS }), PCAPPER_LOG_FORMAT: 'text', HOME: ctlDir },
      join(tmp, 'controller.log'),
    );

    // ---- agents: DaemonSet env, the chart's ServiceAccount, root limited to the chart's capabilities
    const ag = containerOf(findManifest(manifests, 'DaemonSet', 'pcapper-agent'));
    const caps = ag.securityContext.capabilities?.add ?? [];
    const agentKc = await cluster.serviceAccountKubeConfig(SYSTEM_NS, 'pcapper-agent');
    const agentKubeconfig = join(tmp, 'agent-kubeconfig');
    writeFileSync(agentKubeconfig, agentKc.exportConfig(), { mode: 0o600 });
    for (const node of ['node-a', 'node-b']) {
      const nodeNet = kubelet.node(node)?.net;
      assert.ok(nodeNet);
      const dataDir = join(tmp, node, 'hostmount');
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const env = envOf(ag, { 'spec.nodeName': node, 'status.podIP': '127.0.0.1' });
      agents[node] = new Component(
        `agent ${node}`,
        [
          'setpriv', '--no-new-privs', '--inh-caps=-all', `--bounding-set=${['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',')}`, '--',
          process.execPath, '--enable-source-maps', join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js'), ...ag.args, '--kubeconfig', agentKubeconfig,
        ],
        {
          ...env,
          // What differs from a pod: no /hostmount mount, no pod IP to listen on, and the simulated
          // node is not pid 1 (the DaemonSet's PCAPPER_HOST_NETNS=/proc/1/ns/net).
          PCAPPER_DATA_DIR: dataDir,
          PCAPPER_LISTEN: '127.0.0.1:0',
          PCAPPER_HOST_NETNS: nodeNet.netnsPath,
          PCAPPER_LOG_FORMAT: 'text',
          HOME: tmp,
        },
        join(tmp, `agent-${node}.log`),
      );
    }
    for (const node of ['node-a', 'node-b']) endpoints[node] = (await agents[node]?.waitLog(/agent started .*endpoint=(\S+)/))?.[1] ?? '';
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
    const lease = await waitFor('the controller Lease', async () => {
      const r = await cluster.kubectl(['get', 'lease', 'pcapper-controller', '-n', SYSTEM_NS, '-o', 'jsonpath={.spec.holderIdentity}']);
      return r.code === 0 && r.stdout.startsWith('pcapper-controller-e2e') ? r.stdout : undefined;
    });
    assert.match(lease, /^pcapper-controller-e2e/);
    const status = readFileSync(`/proc/${controller.child.pid ?? 0}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${CONTROLLER_UID}\\s`, 'm'));
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
  });

  it("alice (pcapper-capture-user in team-a) captures a Deployment's HTTP traffic on two nodes and downloads it; mallory cannot", async () => {
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
    const running = await waitFor('both targets Running', async () => {
      const pc = await getPacketCapture(cluster.kubeConfig, NS, 'web');
      const ts = pc.status?.targets ?? [];
      return ts.length === 2 && ts.every((t) => t.phase === 'Running') ? pc : undefined;
    });
    assert.deepEqual(running.status?.targets?.map((t) => t.node).sort(), ['node-a', 'node-b']);
    for (const p of web) {
      const r = await httpGet(client, `http://${p.ip}:8080/from-client-to-${p.name}`);
      assert.equal(r.status, 200);
    }
    const done: PacketCapture = await waitFor(
      'capture finished',
      async () => {
        const pc = await getPacketCapture(cluster.kubeConfig, NS, 'web');
        return pc.status?.progress === 'finished' ? pc : undefined;
      },
      40_000,
    );
    for (const t of done.status?.targets ?? []) assert.ok((t.packets ?? 0) > 0, `${t.name}: ${JSON.stringify(t)}`);

    // alice reads her capture with kubectl, and downloads every node's files from its agent.
    const got = await cluster.kubectl(['get', 'packetcaptures', 'web', '-n', NS, '-o', 'jsonpath={.status.progress}'], { kubeconfig: alice });
    assert.equal(got.stdout, 'finished', got.stderr);
    for (const p of web) {
      const endpoint = done.status?.nodes?.find((n) => n.node === p.node)?.endpoint ?? '';
      assert.equal(endpoint, endpoints[p.node], `${p.node} publishes the endpoint its agent listens on`);
      const listUrl = `${endpoint}/v1/captures/${NS}/web/files`;
      const list = await get(listUrl, aliceToken);
      assert.equal(list.status, 200, list.body.toString());
      const files = (JSON.parse(list.body.toString()) as { files: { path: string; kind: string; target: string }[] }).files.filter((f) => f.kind === 'pcap' && f.target === `pod.${NS}.${p.name}`);
      assert.ok(files.length >= 1, `${p.name} has pcap files on ${p.node}`);
      const uris = new Set<string>();
      for (const f of files) {
        const fileUrl = `${endpoint}/v1/captures/${NS}/web/files/${f.path}`;
        const body = await get(fileUrl, aliceToken);
        assert.equal(body.status, 200);
        const local = join(tmp, `${p.name}-${f.path.replace(/\//g, '_')}`);
        writeFileSync(local, body.body);
        const ts = spawnSync('tshark', ['-r', local, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'], { encoding: 'utf8' });
        assert.equal(ts.status, 0, ts.stderr);
        for (const l of ts.stdout.split('\n')) if (l.trim()) uris.add(l.trim());
        // mallory (authenticated, no role) and an anonymous caller get nothing.
        assert.equal((await get(fileUrl, malloryToken)).status, 403, 'mallory may not download');
        assert.equal((await get(fileUrl)).status, 401, 'no token, no file');
      }
      assert.deepEqual([...uris], [`/from-client-to-${p.name}`], `${p.name}'s capture holds the request it served`);
      assert.equal((await get(listUrl, malloryToken)).status, 403, 'mallory may not list');
    }
  });

  it('kubectl-pcap with only pcapper-capture-user: alice describes and downloads the merged capture; mallory is refused', () => {
    const cli = join(repoRoot(), 'dist', 'src', 'bin', 'kubectl-pcap.js');
    const run = (user: 'alice' | 'mallory', args: string[]) =>
      spawnSync(process.execPath, [cli, ...args, '-n', NS, '--kubeconfig', cluster.userKubeconfigPath(user)], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp } });
    const desc = run('alice', ['describe', 'web']);
    assert.equal(desc.status, 0, desc.stderr);
    assert.match(desc.stdout, /CaptureStarted|Finished|finished/);
    const merged = join(tmp, 'web-merged.pcapng');
    const dl = run('alice', ['download', 'web', '-w', merged]);
    assert.equal(dl.status, 0, dl.stderr);
    const ts = spawnSync('tshark', ['-r', merged, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'], { encoding: 'utf8' });
    assert.equal(ts.status, 0, ts.stderr);
    assert.deepEqual(ts.stdout.split('\n').filter((l) => l.trim()).sort(), web.map((p) => `/from-client-to-${p.name}`).sort());
    const denied = run('mallory', ['download', 'web', '-w', join(tmp, 'mallory.pcapng')]);
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /forbidden|403/i);
    assert.ok(!existsSync(join(tmp, 'mallory.pcapng')) || readFileSync(join(tmp, 'mallory.pcapng')).length === 0, 'mallory got no packets');
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
    await waitFor('capture gone', async () => {
      const g = await cluster.kubectl(['get', 'packetcapture', 'web', '-n', NS]);
      return g.code !== 0 && /NotFound/.test(g.stderr) ? true : undefined;
    });
    for (const d of before) assert.ok(!existsSync(d), `${d} removed`);
  });

  it('agent.tlsSecretName: the agent serves HTTPS with the Secret\'s tls.crt/tls.key at the paths the chart mounts, probes use HTTPS', async () => {
    const ms = parseManifests(await helmTemplate(['--set', 'agent.tlsSecretName=pcapper-agent-tls']));
    const ds = findManifest(ms, 'DaemonSet', 'pcapper-agent') as unknown as {
      spec: { template: { spec: { containers: (RenderedContainer & { volumeMounts: { name: string; mountPath: string }[]; readinessProbe: { httpGet: { scheme: string; path: string } } })[]; volumes: { name: string; secret?: { secretName: string } }[] } } };
    };
    const c = ds.spec.template.spec.containers[0];
    assert.ok(c);
    const env = envOf(c, { 'spec.nodeName': 'node-a', 'status.podIP': '127.0.0.1' });
    const vol = ds.spec.template.spec.volumes.find((v) => v.secret?.secretName === 'pcapper-agent-tls');
    const mount = c.volumeMounts.find((m) => m.name === vol?.name)?.mountPath ?? '';
    assert.equal(env.PCAPPER_TLS_CERT, `${mount}/tls.crt`, 'the cert is the Secret key tls.crt under its mount');
    assert.equal(env.PCAPPER_TLS_KEY, `${mount}/tls.key`);
    assert.equal(c.readinessProbe.httpGet.scheme, 'HTTPS');
    // A kubernetes.io/tls Secret's two files, where the kubelet would put them (re-rooted in tmp).
    const secretDir = join(tmp, 'tls-secret');
    mkdirSync(secretDir, { recursive: true });
    const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=pcapper-agent', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(secretDir, 'tls.key'), '-out', join(secretDir, 'tls.crt')], { encoding: 'utf8' });
    assert.equal(ssl.status, 0, ssl.stderr);
    const agentKc = await cluster.serviceAccountKubeConfig(SYSTEM_NS, 'pcapper-agent');
    const kubeconfig = join(tmp, 'agent-tls-kubeconfig');
    writeFileSync(kubeconfig, agentKc.exportConfig(), { mode: 0o600 });
    const dataDir = join(tmp, 'tls', 'hostmount');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const agent = new Component(
      'agent tls',
      [process.execPath, join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js'), ...c.args, '--kubeconfig', kubeconfig],
      {
        ...env,
        PCAPPER_TLS_CERT: join(secretDir, env.PCAPPER_TLS_CERT?.slice(mount.length + 1) ?? ''),
        PCAPPER_TLS_KEY: join(secretDir, env.PCAPPER_TLS_KEY?.slice(mount.length + 1) ?? ''),
        PCAPPER_DATA_DIR: dataDir,
        PCAPPER_LISTEN: '127.0.0.1:0',
        PCAPPER_LOG_FORMAT: 'text',
        HOME: tmp,
      },
      join(tmp, 'agent-tls.log'),
    );
    try {
      const endpoint = (await agent.waitLog(/agent started .*endpoint=(\S+)/))[1] ?? '';
      assert.match(endpoint, /^https:\/\/127\.0\.0\.1:\d+$/, 'the agent advertises an https endpoint');
      const ca = readFileSync(join(secretDir, 'tls.crt'));
      const status = await new Promise<number>((resolve, reject) => {
        https.get(`${endpoint}${c.readinessProbe.httpGet.path}`, { ca }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        }).on('error', reject);
      });
      assert.equal(status, 200, 'the HTTPS readiness probe path answers');
      await assert.rejects(get(`${endpoint.replace('https:', 'http:')}/healthz`), 'no plain HTTP on the TLS port');
    } finally {
      await agent.stop();
    }
  });

  it('no component was ever refused by the apiserver (the chart RBAC covers every call they made)', () => {
    for (const c of [controller, ...Object.values(agents)]) {
      // The agents' own refusals of mallory ("request refused ... status=403") are their file
      // server at work, not the apiserver refusing the agent.
      const refused = c.log.split('\n').filter((l) => /\b403\b|forbidden/i.test(l) && !/request refused component=server/.test(l));
      assert.deepEqual(refused, [], `${c.name} was refused by the apiserver`);
      assert.ok(c.log.length > 0, `${c.name} logged`);
      assert.equal(c.child.exitCode, null, `${c.name} is still running`);
    }
  });
});
