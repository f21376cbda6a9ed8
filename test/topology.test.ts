// The harness's topology is a real cluster's (issue 10 item 7): the host ("the user's laptop",
// where kubectl and the tests run) reaches only kube-apiserver; kube-apiserver lives on the
// simulated pod/node fabric and reaches aggregated API servers at their pod IPs through
// EndpointSlices, with its front-proxy client certificate. Real control plane; needs root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startCluster, type Cluster } from './harness/cluster.js';
import { decideEndpoints, EndpointsController, SERVICE_NAME_LABEL } from './harness/endpoints.js';
import { SimKubelet, type ProcessPod, type SimPod } from './harness/kubelet.js';
import { CONTROL_PLANE_IP, listNetns, processAlive, runCommand } from './harness/netns.js';
import { startStack, type Stack } from './harness/demo.js';
import { repoRoot } from './harness/paths.js';
import { makeLeaf, makePcapperPki, type CertPair, type PcapperPki } from './harness/pki.js';
import { httpGet, startHttpServer } from './harness/traffic.js';
import { eventually } from './harness/eventually.js';

const NS = 'topo';
const GROUP = 'standin.pcapper.dev';


function logTail(file: string, n = 30): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n');
  } catch {
    return '(none)';
  }
}

/** GET from the host (bounded): the body, or `<status> <body>` for https, or why it failed. */
function hostHttpBody(url: string, ca?: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { timeout: timeoutMs, ...(ca ? { ca } : {}) }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (c: string) => (b += c));
      res.on('end', () => resolve(ca ? `${res.statusCode} ${b}` : b));
      res.on('error', (e) => resolve(`error ${e.message}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`error ${e.message}`));
  });
}

describe('harness topology: the host reaches only the API server (needs root)', () => {
  let cluster: Cluster;
  let kubelet: SimKubelet;
  let endpoints: EndpointsController;
  let pki: PcapperPki;
  let dir: string;
  let plain: SimPod;
  let standin: ProcessPod;
  let core: k8s.CoreV1Api;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcapper-topology-'));
    cluster = await startCluster();
    kubelet = new SimKubelet(cluster.kubeConfig, { cluster });
    endpoints = new EndpointsController(cluster.kubeConfig).start();
    core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await kubelet.addNode('node-a');
    await kubelet.addNode('node-b');
    pki = makePcapperPki(join(dir, 'pki'));
    plain = await kubelet.createPod({ namespace: NS, name: 'plain', node: 'node-b', labels: { app: 'plain' } });
  });

  after(async () => {
    await endpoints?.stop();
    await kubelet?.close();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the host reaches the apiserver on 127.0.0.1 only; pod and node IPs are unreachable from it but reachable inside the fabric', async () => {
    assert.match(cluster.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(cluster.inClusterServer, `https://${CONTROL_PLANE_IP}:6443`);
    const r = await cluster.kubectl(['get', '--raw', '/readyz']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok');

    // This machine's default route sends 10.244.0.0/16 to its gateway, which may well accept any
    // TCP connection (a transparent proxy): so the proof is by content, not by connect().
    const token = `pod-says-${randomBytes(8).toString('hex')}`;
    const http = await startHttpServer({ netnsPath: plain.netnsPath, ip: plain.ip }, 8080, { run: kubelet.run, body: token });
    try {
      const nodeA = kubelet.node('node-a')?.net;
      assert.ok(nodeA);
      // positive control: inside the fabric (node-a's netns) the pod and the apiserver answer
      assert.equal((await httpGet(nodeA, `http://${plain.ip}:8080/`, { timeoutMs: 5000 })).body, token);
      // the host: the pod's server never answers it, the apiserver's fabric address neither
      assert.notEqual(await hostHttpBody(`http://${plain.ip}:8080/`), token, `the host reached pod ${plain.ip}`);
      assert.doesNotMatch(await hostHttpBody(`${cluster.inClusterServer}/version`, cluster.caData), /^200 /, 'the host reached the apiserver on the fabric');
      // and no interface of the fabric is in the host's namespace
      const links = await runCommand('ip', ['-o', 'link', 'show']);
      assert.doesNotMatch(links, new RegExp(`\\bp${kubelet.run.id}`), 'a fabric veth in the host netns');
      const addrs = await runCommand('ip', ['-o', '-4', 'addr', 'show']);
      assert.doesNotMatch(addrs, /\b10\.244\./, 'a 10.244.0.0/16 address in the host netns');
    } finally {
      await http.stop();
    }
  });

  it('in the client netns ("the laptop") kubectl reaches the apiserver, and any other destination is unreachable', async () => {
    const [file, args] = cluster.clientCommand(['kubectl', '--kubeconfig', cluster.kubeconfigPath, 'get', '--raw', '/readyz']);
    assert.equal((await runCommand(file, args)).trim(), 'ok');
    for (const [host, port] of [[plain.ip, 8080], [CONTROL_PLANE_IP, 6443], ['192.0.2.1', 443], ['127.0.0.1', 1]] as const) {
      const script = `const s=require('net').connect(${port},'${host}');s.on('connect',()=>{console.log('connected');s.destroy()});s.on('error',e=>console.log(e.code))`;
      const [f, a] = cluster.clientCommand([process.execPath, '-e', script]);
      assert.match((await runCommand(f, a, { timeoutMs: 10_000 })).trim(), /^(ENETUNREACH|ECONNREFUSED)$/, `${host}:${port} from the client netns`);
    }
  });

  it('inside a pod, https://10.244.0.254:6443 answers with a certificate for that IP signed by Cluster.caData', async () => {
    const caFile = join(dir, 'apiserver-ca.crt');
    writeFileSync(caFile, cluster.caData, { mode: 0o600 });
    const script = `require('https').get(${JSON.stringify(`${cluster.inClusterServer}/version`)},{ca:require('fs').readFileSync(${JSON.stringify(caFile)})},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>console.log(r.statusCode+' '+JSON.parse(b).gitVersion))}).on('error',e=>console.log('error '+e.message))`;
    const out = (await runCommand('nsenter', [`--net=${plain.netnsPath}`, '--', process.execPath, '-e', script])).trim();
    assert.match(out, /^200 v1\.34\.\d+$/);
  });

  it('kube-apiserver publishes the requestheader (front-proxy) configuration in kube-system/extension-apiserver-authentication', async () => {
    const cm = await core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'extension-apiserver-authentication' });
    const d = cm.data ?? {};
    const fpCa = readFileSync(cluster.pki.frontProxyCa.cert, 'utf8');
    assert.equal(d['requestheader-client-ca-file']?.trim(), fpCa.trim());
    assert.deepEqual(JSON.parse(d['requestheader-allowed-names'] ?? 'null'), ['front-proxy-client']);
    assert.deepEqual(JSON.parse(d['requestheader-username-headers'] ?? 'null'), ['X-Remote-User']);
    assert.deepEqual(JSON.parse(d['requestheader-group-headers'] ?? 'null'), ['X-Remote-Group']);
    assert.deepEqual(JSON.parse(d['requestheader-extra-headers-prefix'] ?? 'null'), ['X-Remote-Extra-']);
  });

  it('an APIService backed by a pod becomes Available; kubectl get --raw from the host reaches it through kube-apiserver with X-Remote-User', async () => {
    // STAND-IN: test/harness/standin-server.ts plays the aggregated API server (pcapper server is
    // written in parallel); it checks the front-proxy client certificate like the real one must.
    await kubelet.ensureNamespace(NS);
    // kube-apiserver verifies the serving certificate for <service>.<namespace>.svc
    const standinCert: CertPair = makeLeaf(pki.dir, pki.ca, { name: 'standin', cn: 'standin', dns: [`standin.${NS}.svc`], usage: 'server' });
    await core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: 'standin-tls' },
        type: 'kubernetes.io/tls',
        stringData: {
          'tls.crt': readFileSync(standinCert.cert, 'utf8'),
          'tls.key': readFileSync(standinCert.key, 'utf8'),
          'ca.crt': pki.caPem,
        },
      },
    });
    const rbac = cluster.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRoleBinding({
      namespace: 'kube-system',
      body: {
        metadata: { name: 'standin-auth-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'standin', namespace: NS }],
      },
    });
    await core.createNamespacedService({
      namespace: NS,
      body: {
        metadata: { name: 'standin' },
        spec: { selector: { app: 'standin' }, ports: [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }] },
      },
    });
    standin = await kubelet.runPod({
      namespace: NS,
      name: 'standin-abcde',
      node: 'node-a',
      labels: { app: 'standin' },
      serviceAccountName: 'standin',
      container: {
        name: 'server',
        argv: [process.execPath, join(repoRoot(), 'dist', 'test', 'harness', 'standin-server.js')],
        env: {
          PCAPPER_TLS_CERT: '/etc/pcapper/tls/tls.crt',
          PCAPPER_TLS_KEY: '/etc/pcapper/tls/tls.key',
          PCAPPER_LISTEN: '0.0.0.0:8443',
          STANDIN_GROUP: GROUP,
          STANDIN_VERSION: 'v1alpha1',
          MY_POD_IP: { fieldRef: 'status.podIP' },
        },
        ports: [{ name: 'https', containerPort: 8443, protocol: 'TCP' }],
      },
      secretMounts: [{ secretName: 'standin-tls', mountPath: '/etc/pcapper/tls' }],
      readinessProbe: { path: '/healthz', port: 'https', periodMs: 200 },
    });
    await kubelet.waitPodReady(standin);
    const reg = cluster.kubeConfig.makeApiClient(k8s.ApiregistrationV1Api);
    await reg.createAPIService({
      body: {
        metadata: { name: `v1alpha1.${GROUP}` },
        spec: {
          group: GROUP,
          version: 'v1alpha1',
          service: { namespace: NS, name: 'standin', port: 443 },
          caBundle: Buffer.from(pki.caPem).toString('base64'),
          groupPriorityMinimum: 1000,
          versionPriority: 15,
        },
      },
    });
    await eventually(async () => {
      const a = await reg.readAPIService({ name: `v1alpha1.${GROUP}` });
      const c = a.status?.conditions?.find((x) => x.type === 'Available');
      return c?.status === 'True' ? c : undefined;
    }, { what: 'the APIService to be Available' });
    const r = await cluster.kubectl(['get', '--raw', `/apis/${GROUP}/v1alpha1/whoami`]);
    assert.equal(r.code, 0, `${r.stderr}\napiserver log:\n${logTail(cluster.logFile)}\nstand-in log:\n${logTail(standin.logFile)}`);
    const who = JSON.parse(r.stdout) as { user: string; groups: string[]; proxyCN: string };
    assert.equal(who.user, 'admin');
    assert.ok(who.groups.includes('system:masters'), JSON.stringify(who));
    assert.equal(who.proxyCN, 'front-proxy-client');
    // kube-apiserver authorizes first: mallory never reaches the stand-in
    const denied = await cluster.kubectl(['get', '--raw', `/apis/${GROUP}/v1alpha1/whoami`], { kubeconfig: cluster.userKubeconfigPath('mallory') });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /forbidden/i);
    // and nothing reaches it without the front-proxy certificate, even from inside the fabric
    const nodeB = kubelet.node('node-b')?.net;
    assert.ok(nodeB);
    const script = `require('https').get('https://${standin.ip}:8443/apis/${GROUP}/v1alpha1/whoami',{rejectUnauthorized:false,headers:{'X-Remote-User':'admin'}},r=>{console.log(r.statusCode);r.resume()}).on('error',e=>console.log(e.message))`;
    assert.equal((await runCommand('nsenter', [`--net=${nodeB.netnsPath}`, '--', process.execPath, '-e', script])).trim(), '401');
  });

  it('the endpoints controller follows pod readiness (EndpointSlice and Endpoints), and a replaced pod gets a new IP', async () => {
    assert.ok(standin, 'needs the previous test');
    const discovery = cluster.kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
    const sliceState = async (): Promise<Map<string, boolean>> => {
      const l = await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: `${SERVICE_NAME_LABEL}=standin` });
      const m = new Map<string, boolean>();
      for (const s of l.items) {
        assert.deepEqual(
          s.ports?.map((p) => [p.name, p.port]),
          [['https', 8443]],
          'targetPort name resolved from the container port',
        );
        for (const e of s.endpoints) m.set(e.addresses[0] ?? '', e.conditions?.ready ?? true);
      }
      return m;
    };
    const epState = async (): Promise<{ ready: string[]; notReady: string[] }> => {
      const e = await core.readNamespacedEndpoints({ namespace: NS, name: 'standin' });
      return {
        ready: (e.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)),
        notReady: (e.subsets ?? []).flatMap((s) => (s.notReadyAddresses ?? []).map((a) => a.ip)),
      };
    };
    await eventually(async () => (await sliceState()).get(standin.ip) === true && (await epState()).ready.includes(standin.ip), { what: 'a ready endpoint' });
    // the plain pod (app=plain) is not selected
    assert.equal((await sliceState()).has(plain.ip), false);

    // the process dies: the kubelet marks the pod not Ready, the controllers follow
    standin.sandbox?.containers[0]?.process.kill('SIGKILL');
    await eventually(async () => (await sliceState()).get(standin.ip) === false, { what: 'the endpoint to turn not ready' });
    await eventually(async () => {
      const s = await epState();
      return s.notReady.includes(standin.ip) && !s.ready.includes(standin.ip);
    }, { what: 'Endpoints notReadyAddresses' });

    // replaced (as a Deployment/DaemonSet controller would): new pod, new IP, old endpoint gone
    const oldIp = standin.ip;
    standin = await kubelet.replacePod(NS, standin.name);
    assert.notEqual(standin.ip, oldIp);
    assert.notEqual(standin.name, 'standin-abcde');
    await kubelet.waitPodReady(standin);
    await eventually(async () => {
      const m = await sliceState();
      return m.get(standin.ip) === true && !m.has(oldIp);
    }, { what: 'the new endpoint only' });
    const r = await eventually(async () => {
      const x = await cluster.kubectl(['get', '--raw', `/apis/${GROUP}/v1alpha1/whoami`]);
      return x.code === 0 ? x : undefined;
    }, { what: 'the APIService to answer again' });
    assert.equal((JSON.parse(r.stdout) as { user: string }).user, 'admin');
  });
});

describe('startStack: pcapper installed like in a cluster (needs root)', () => {
  let stack: Stack | undefined;
  const lines: string[] = [];

  after(async () => {
    await stack?.stop();
  });

  it('runs agents as DaemonSet pods and the server replicas behind an Available APIService; the host reaches them only through kube-apiserver', async () => {
    stack = await startStack({ log: (m) => lines.push(m) });
    const s = stack;
    const core = s.cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    // agents: one Ready pod per node, owned by DaemonSet pcapper-agent, on the pod network
    const pods = await core.listNamespacedPod({ namespace: 'pcapper', labelSelector: 'app.kubernetes.io/component=agent' });
    assert.deepEqual(pods.items.map((p) => p.spec?.nodeName).sort(), ['node-a', 'node-b']);
    for (const p of pods.items) {
      assert.equal(p.metadata?.ownerReferences?.[0]?.kind, 'DaemonSet');
      assert.equal(p.metadata?.ownerReferences?.[0]?.name, 'pcapper-agent');
      assert.equal(p.metadata?.ownerReferences?.[0]?.controller, true);
      assert.equal(p.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
      assert.match(p.status?.podIP ?? '', /^10\.244\.[1-9]\d*\.\d+$/);
      assert.equal(p.spec?.serviceAccountName, 'pcapper-agent');
    }
    // the agents serve TLS with the agent certificate: checked from inside the fabric
    const agentA = s.agents['node-a'];
    assert.ok(agentA);
    const caFile = join(s.dir, 'pki', 'pcapper-ca.crt');
    const probe = (url: string): string =>
      `require('https').get(${JSON.stringify(url)},{ca:require('fs').readFileSync(${JSON.stringify(caFile)}),servername:'pcapper-agent.pcapper.svc'},r=>{console.log(r.statusCode);r.resume()}).on('error',e=>console.log(e.message))`;
    const nodeB = s.kubelet.node('node-b')?.net;
    assert.ok(nodeB);
    assert.equal((await runCommand('nsenter', [`--net=${nodeB.netnsPath}`, '--', process.execPath, '-e', probe(`${agentA.endpoint}/healthz`)])).trim(), '200');

    // servers: 2 Ready replicas, both in the Service's EndpointSlice
    assert.equal(s.servers.length, 2);
    const discovery = s.cluster.kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
    const slices = await eventually(async () => {
      const l = await discovery.listNamespacedEndpointSlice({ namespace: 'pcapper', labelSelector: `${SERVICE_NAME_LABEL}=pcapper-server` });
      const ready = l.items.flatMap((x) => x.endpoints.filter((e) => e.conditions?.ready).map((e) => e.addresses[0]));
      return ready.length === 2 ? ready.sort() : undefined;
    }, { what: 'both servers in the EndpointSlice' });
    assert.deepEqual(slices, s.servers.map((p) => p.ip).sort());

    // the data API through kube-apiserver, from the host
    const r = await s.cluster.kubectl(['get', '--raw', '/apis/data.pcapper.dev/v1alpha1']);
    assert.equal(r.code, 0, r.stderr);
    const resources = (JSON.parse(r.stdout) as { resources: { name: string }[] }).resources.map((x) => x.name).sort();
    assert.deepEqual(resources, ['packetcaptures/files', 'packetcaptures/log', 'packetcaptures/trigger']);

    // an agent restart is a DaemonSet rollout: new pod, new IP, Ready again; the data dir stays
    const oldName = agentA.pod.name;
    const oldIp = agentA.pod.ip;
    await agentA.restart();
    assert.notEqual(agentA.pod.name, oldName);
    assert.notEqual(agentA.pod.ip, oldIp);
    assert.equal(agentA.pod.ready, true);
    await s.kubelet.waitPodGone('pcapper', oldName);
    // a server restart keeps the APIService serving
    await s.restartServer(0);
    const r2 = await eventually(async () => {
      const x = await s.cluster.kubectl(['get', '--raw', '/apis/data.pcapper.dev/v1alpha1']);
      return x.code === 0 ? x : undefined;
    }, { what: 'the data API after a server restart' });
    assert.equal(r2.code, 0);
  });

  it('stop() removes every process, network namespace and directory of the stack', async () => {
    assert.ok(stack, 'needs the previous test');
    const runId = stack.kubelet.run.id;
    const dirs = [stack.dir, stack.cluster.dir];
    const pids = [stack.cluster.pid, ...Object.values(stack.agents).map((a) => a.pod.pid), ...stack.servers.map((p) => p.pid)].filter((p): p is number => p !== undefined);
    await stack.stop();
    stack = undefined;
    assert.deepEqual(listNetns().filter((n) => n.startsWith(`pcp-${runId}-`)), []);
    for (const d of dirs) assert.equal(existsSync(d), false, `${d} removed`);
    for (const pid of pids) assert.equal(processAlive(pid), false, `pid ${pid} gone`);
  });
});

describe('decideEndpoints (the simulated endpoints controller, pure)', () => {
  const svc: k8s.V1Service = {
    metadata: { name: 'web', namespace: 'shop', uid: 'svc-uid' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }, { name: 'metrics', port: 9090, targetPort: 9100 }] },
  };
  const pod = (name: string, ip: string, ready: boolean, port = 8443, labels: Record<string, string> = { app: 'web' }, ns = 'shop'): k8s.V1Pod => ({
    metadata: { name, namespace: ns, uid: `${name}-uid`, labels },
    spec: { nodeName: 'node-a', containers: [{ name: 'c', ports: [{ name: 'https', containerPort: port }] }] },
    status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });

  it('lists matching pods with their readiness and resolves a named targetPort per pod', () => {
    const d = decideEndpoints(svc, [
      pod('a', '10.244.1.1', true),
      pod('b', '10.244.1.2', false),
      pod('c', '10.244.2.1', true, 9443),
      pod('other', '10.244.2.2', true, 8443, { app: 'db' }),
      pod('elsewhere', '10.244.2.3', true, 8443, { app: 'web' }, 'default'),
    ]);
    assert.equal(d.slices.length, 2, 'one slice per distinct port mapping');
    const byPort = new Map(d.slices.map((s) => [s.ports?.find((p) => p.name === 'https')?.port, s]));
    const s8443 = byPort.get(8443);
    assert.ok(s8443);
    assert.deepEqual(s8443.endpoints.map((e) => [e.addresses[0], e.conditions?.ready]), [['10.244.1.1', true], ['10.244.1.2', false]]);
    assert.deepEqual(s8443.ports?.map((p) => [p.name, p.port]), [['https', 8443], ['metrics', 9100]]);
    assert.equal(s8443.metadata?.labels?.[SERVICE_NAME_LABEL], 'web');
    assert.equal(s8443.metadata?.ownerReferences?.[0]?.uid, 'svc-uid');
    assert.deepEqual(byPort.get(9443)?.endpoints.map((e) => e.addresses[0]), ['10.244.2.1']);
    const sub = d.endpoints.subsets ?? [];
    assert.deepEqual(sub.flatMap((x) => (x.addresses ?? []).map((a) => a.ip)).sort(), ['10.244.1.1', '10.244.2.1']);
    assert.deepEqual(sub.flatMap((x) => (x.notReadyAddresses ?? []).map((a) => a.ip)), ['10.244.1.2']);
  });

  it('leaves out pods without an IP, terminating or finished pods, and pods without the named port', () => {
    const noIp = pod('n', '', true);
    const gone = { ...pod('g', '10.244.1.5', true), metadata: { ...pod('g', '10.244.1.5', true).metadata, deletionTimestamp: new Date() } };
    const done = { ...pod('d', '10.244.1.6', true), status: { ...pod('d', '10.244.1.6', true).status, phase: 'Succeeded' } };
    const noPort: k8s.V1Pod = { ...pod('x', '10.244.1.7', true), spec: { containers: [{ name: 'c' }] } };
    const d = decideEndpoints({ ...svc, spec: { ...svc.spec, ports: [svc.spec?.ports?.[0] ?? { port: 443 }] } }, [noIp, gone, done, noPort]);
    assert.deepEqual(d.slices, []);
    assert.deepEqual(d.endpoints.subsets, []);
  });
});
