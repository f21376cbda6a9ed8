/**
 * A whole local pcapper installation with a real cluster's topology, for the demo and the
 * end-to-end tests (startStack below):
 *
 *   - kube-apiserver on the simulated pod/node fabric (startCluster): the host, where the tests,
 *     kubectl and `kubectl pcap` run, reaches ONLY the API server;
 *   - the install from deploy/pcapper.yaml; the workloads (DaemonSet pcapper-agent, Deployment
 *     pcapper-server) are run by the harness as pods with real processes (SimKubelet.runPod), in
 *     the pod network, with their TLS Secrets and ServiceAccount tokens;
 *   - the controller as a host process (it needs only the API);
 *   - a simulated endpoints controller, so kube-apiserver reaches the aggregated API (the pcapper
 *     server) through the Service's EndpointSlices, as in a cluster.
 *
 * `runDemo()` is `npm run demo`: demo pods labelled app=demo talk HTTP and DNS across two nodes
 * while `kubectl-pcap capture -l app=demo --duration 5s -w demo.pcapng` runs as its own process,
 * like a user would run it. Everything but demo.pcapng is removed afterwards, also on failure or
 * Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { ensureNamespace, startCluster, type Cluster } from './cluster.js';
import { EndpointsController } from './endpoints.js';
import { SimKubelet, type EnvValue, type ProcessPod, type RunPodSpec, type SimPod } from './kubelet.js';
import { repoRoot } from './paths.js';
import { makePcapperPki, type CertPair, type PcapperPki } from './pki.js';
import { dnsQuery, httpGet, startDnsServer, startHttpServer, type ServerHandle } from './traffic.js';

export const SYSTEM_NAMESPACE = 'pcapper';
/** Workloads of deploy/pcapper.yaml: the harness plays their controllers (see startStack). */
const WORKLOAD_KINDS = new Set(['DaemonSet', 'Deployment']);
const TLS_DIR = '/etc/pcapper/tls';
const DATA_GROUP = 'data.pcapper.dev';
const APISERVICE = `v1alpha1.${DATA_GROUP}`;
const PCAPPER_JS = (): string => join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js');

export interface StackOptions {
  /** Node names (default node-a, node-b). */
  nodes?: string[];
  /** Where logs, PKI and agent data go (default: a temp dir removed by stop()). */
  dir?: string;
  /** Progress messages (default: stderr). */
  log?: (msg: string) => void;
  /** Replicas of pcapper-server (default 2, as the chart). */
  serverReplicas?: number;
  /** The server's argv (default `node dist/src/bin/pcapper.js server`, as the chart's Deployment runs it). */
  serverArgv?: string[];
  /** Extra env for the agents (e.g. test knobs); applied last. */
  agentEnv?: Record<string, string>;
  /** Extra env for the servers; applied last. */
  serverEnv?: Record<string, string>;
  /** Wait for the APIService to be Available (default true). */
  waitApiService?: boolean;
}

/** One node's agent: a DaemonSet pod running `pcapper agent` inside the pod network. */
export interface StackAgent {
  readonly node: string;
  /** the current pod (replaced by restart()) */
  pod: ProcessPod;
  /** the node's data directory (hostPath /var/pcapper): survives restarts */
  readonly dataDir: string;
  /** https://<pod IP>:<port>: reachable only from inside the fabric (and by kube-apiserver) */
  readonly endpoint: string;
  readonly logFile: string;
  /** DaemonSet rollout of this node's pod: kill, delete, new pod (new name and IP); waits until Ready. */
  restart(): Promise<ProcessPod>;
}

/** The controller: Deployment `pcapper-controller`'s pod (one replica, leader-elected as the chart runs it). */
export interface StackController {
  /** the current pod (replaced by restart()) */
  pod: ProcessPod;
  readonly logFile: string;
  /** A rollout: delete the pod, start a new one (it reads the Secrets anew); waits until Ready. */
  restart(): Promise<ProcessPod>;
}

export interface Stack {
  readonly cluster: Cluster;
  readonly kubelet: SimKubelet;
  readonly endpoints: EndpointsController;
  /** pcapper CA, server and agent certificates (also in Secrets pcapper-server-tls / pcapper-agent-tls) */
  readonly pki: PcapperPki;
  readonly agents: Record<string, StackAgent>;
  /** the pcapper-controller Deployment's one pod */
  readonly controller: StackController;
  /** the pcapper-server replicas' current pods */
  readonly servers: ProcessPod[];
  /** replaces server replica `i` (a deleted Deployment pod); waits until Ready */
  restartServer(i: number): Promise<ProcessPod>;
  /** Every server replica killed at once (as a crash or a bad rollout would) and replaced; resolves when all are Ready. */
  restartServers(): Promise<void>;
  readonly dir: string;
  /** Paths of the controller's, agents' and servers' logs (current pods first). */
  readonly logs: string[];
  stop(): Promise<void>;
}

async function kubectlOk(cluster: Cluster, args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

type Obj = { kind: string; metadata?: { name?: string; namespace?: string }; [k: string]: unknown };

function manifestObjects(): Obj[] {
  const text = readFileSync(join(repoRoot(), 'deploy', 'pcapper.yaml'), 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => !!o && typeof o.kind === 'string');
}

/** deploy/pcapper.yaml without the workloads (DaemonSet, Deployment) that the harness runs itself. */
export function installManifest(): string {
  return manifestObjects()
    .filter((o) => !WORKLOAD_KINDS.has(o.kind))
    .map((o) => stringify(o))
    .join('---\n');
}

function workload<T>(kind: string, name: string): T | undefined {
  return manifestObjects().find((o) => o.kind === kind && o.metadata?.name === name) as T | undefined;
}

function envOf(c: k8s.V1Container | undefined): Record<string, EnvValue> {
  const out: Record<string, EnvValue> = {};
  for (const e of c?.env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) out[e.name] = { fieldRef: e.valueFrom.fieldRef.fieldPath as Extract<EnvValue, object>['fieldRef'] };
  }
  return out;
}

function secretMountsOf(spec: k8s.V1PodSpec | undefined, c: k8s.V1Container | undefined): { secretName: string; mountPath: string; optional?: boolean }[] {
  const out: { secretName: string; mountPath: string; optional?: boolean }[] = [];
  for (const m of c?.volumeMounts ?? []) {
    const v = spec?.volumes?.find((x) => x.name === m.name);
    if (v?.secret?.secretName) out.push({ secretName: v.secret.secretName, mountPath: m.mountPath, ...(v.secret.optional ? { optional: true } : {}) });
  }
  return out;
}

async function tlsSecret(core: k8s.CoreV1Api, name: string, pair: CertPair, caPem: string): Promise<void> {
  await core.createNamespacedSecret({
    namespace: SYSTEM_NAMESPACE,
    body: {
      metadata: { name },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': readFileSync(pair.cert, 'utf8'), 'tls.key': readFileSync(pair.key, 'utf8'), 'ca.crt': caPem },
    },
  });
}

/** Deployment pcapper-controller of deploy/pcapper.yaml as a process pod (runPod) on `node`. */
async function startControllerPod(kubelet: SimKubelet, apps: k8s.AppsV1Api, node: string, dir: string): Promise<StackController> {
  const manifest = workload<k8s.V1Deployment>('Deployment', 'pcapper-controller');
  const tpl = manifest?.spec?.template;
  if (!manifest?.spec || !tpl?.spec) throw new Error('deploy/pcapper.yaml has no Deployment pcapper-controller: run npm run gen');
  const c = tpl.spec.containers.find((x) => x.name === 'controller') ?? tpl.spec.containers[0];
  const { status: _status, ...body } = manifest;
  const dep = await apps.createNamespacedDeployment({ namespace: SYSTEM_NAMESPACE, body: { ...body, spec: { ...manifest.spec, replicas: 1 } } });
  const owner: k8s.V1OwnerReference = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'pcapper-controller', uid: dep.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true };
  const metrics = c?.ports?.find((p) => p.name === 'metrics') ?? { name: 'metrics', containerPort: 8080 };
  const probe = c?.readinessProbe?.httpGet;
  const pod = await kubelet.runPod({
    namespace: SYSTEM_NAMESPACE,
    name: `pcapper-controller-${randSuffix()}`,
    node,
    labels: { ...tpl.metadata?.labels, 'pod-template-hash': randomBytes(5).toString('hex') },
    ownerReferences: [owner],
    serviceAccountName: tpl.spec.serviceAccountName ?? 'pcapper-controller',
    container: {
      name: c?.name ?? 'controller',
      // the chart's arguments, plus the test speed the host process had (text logs, 3 s resolve grace)
      argv: [process.execPath, '--enable-source-maps', PCAPPER_JS(), ...(c?.args ?? ['controller']), '--log-format', 'text', '--resolve-grace', '3'],
      env: envOf(c),
      ports: (c?.ports ?? [metrics]).map((p) => ({ containerPort: p.containerPort, ...(p.name ? { name: p.name } : {}), protocol: p.protocol ?? 'TCP' })),
    },
    secretMounts: secretMountsOf(tpl.spec, c),
    readinessProbe: { scheme: 'HTTP', path: probe?.path ?? '/readyz', port: metrics.containerPort, periodMs: 300 },
    logFile: join(dir, 'controller.log'),
  });
  const ctl: StackController = {
    pod,
    get logFile() {
      return this.pod.logFile;
    },
    async restart() {
      const next = await kubelet.replacePod(SYSTEM_NAMESPACE, this.pod.name);
      this.pod = next;
      await kubelet.waitPodReady(next);
      return next;
    },
  };
  return ctl;
}

/**
 * A local pcapper installation with a real cluster's topology (test/harness/cluster.ts):
 *   1. control plane (kube-apiserver on the fabric, host reaches only it) + endpoints controller;
 *   2. PKI (makePcapperPki) -> Secrets pcapper-server-tls and pcapper-agent-tls, as an admin does
 *      before applying the static manifest (docs/install.md);
 *   3. deploy/pcapper.yaml minus DaemonSet/Deployment; the APIService's caBundle set to the CA;
 *   4. simulated nodes; Deployment `pcapper-controller` as one pod on the first node (in the pod
 *      network like the chart's: it reaches the API and the stores, never the host);
 *   5. on each node one agent pod of DaemonSet `pcapper-agent` (runPod: inside
 *      the pod network, TLS from its Secret, in-cluster kubeconfig, HTTPS readiness);
 *   6. Deployment `pcapper-server` with `serverReplicas` pods; waits until the APIService is Available.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'pcapper-stack-'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
    cleanups.length = 0;
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    log('starting the local control plane (kube-apiserver v1.34 + etcd, on the simulated pod network)...');
    const cluster = await startCluster();
    cleanups.push(() => cluster.stop());
    log(`  apiserver at ${cluster.server} -> ${cluster.inClusterServer} (state in ${cluster.dir}; logs in ${dir})`);
    const endpoints = new EndpointsController(cluster.kubeConfig).start();
    cleanups.push(() => endpoints.stop());
    const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
    const reg = cluster.kubeConfig.makeApiClient(k8s.ApiregistrationV1Api);

    log('certificates (pcapper CA, server, agent) -> Secrets pcapper-server-tls, pcapper-agent-tls...');
    const pki = makePcapperPki(join(dir, 'pki'));
    await ensureNamespace(core, SYSTEM_NAMESPACE);
    await tlsSecret(core, 'pcapper-server-tls', pki.server, pki.caPem);
    await tlsSecret(core, 'pcapper-agent-tls', pki.agent, pki.caPem);
    // Encryption at rest (docs/storage.md section 5): the chart creates this Secret with a random key.
    await core
      .createNamespacedSecret({ namespace: SYSTEM_NAMESPACE, body: { metadata: { name: 'pcapper-encryption-keys' }, data: { active: Buffer.from('k1').toString('base64'), 'k1.key': randomBytes(32).toString('base64') } } })
      .catch((e: unknown) => {
        if ((e as { code?: number }).code !== 409) throw e;
      });
    // the object stores' credentials (docs/storage.md section 1): empty until an admin (a test) fills it
    await core.createNamespacedSecret({ namespace: SYSTEM_NAMESPACE, body: { metadata: { name: 'pcapper-store-credentials' }, data: {} } }).catch((e: unknown) => {
      if ((e as { code?: number }).code !== 409) throw e;
    });

    log('installing deploy/pcapper.yaml (CRD, RBAC, Services, APIService; workloads run by the harness)...');
    await kubectlOk(cluster, ['apply', '--server-side', '-f', '-'], installManifest());
    await kubectlOk(cluster, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/packetcaptures.pcapper.dev']);
    if (!manifestObjects().some((o) => o.kind === 'APIService')) throw new Error(`deploy/pcapper.yaml has no APIService: run npm run gen`);
    await reg.patchAPIService(
      { name: APISERVICE, body: { spec: { caBundle: Buffer.from(pki.caPem).toString('base64') } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );

    const kubelet = new SimKubelet(cluster.kubeConfig, { cluster });
    log(`  simulated nodes and pods: harness run ${kubelet.run.id} (network namespaces ${kubelet.run.netnsName('*')})`);
    cleanups.push(async () => {
      const errs = await kubelet.close();
      for (const e of errs) log(`kubelet cleanup: ${e}`);
    });

    const nodes = opts.nodes ?? ['node-a', 'node-b'];
    for (const node of nodes) await kubelet.addNode(node);

    // ---- Deployment pcapper-controller: a pod on the first node, as the chart runs it (its Secret
    // mounts, env and ServiceAccount), so it reaches the API and the object stores over the pod network
    log('starting the controller...');
    const controller = await startControllerPod(kubelet, apps, nodes[0] ?? 'node-a', dir);
    await kubelet.waitPodReady(controller.pod);

    // ---- DaemonSet pcapper-agent
    const dsManifest = workload<k8s.V1DaemonSet>('DaemonSet', 'pcapper-agent');
    if (!dsManifest?.spec?.template.spec) throw new Error('deploy/pcapper.yaml has no DaemonSet pcapper-agent');
    const { status: _dsStatus, ...dsBody } = dsManifest;
    const ds = await apps.createNamespacedDaemonSet({ namespace: SYSTEM_NAMESPACE, body: dsBody });
    const agentTpl = dsManifest.spec.template;
    const agentC = agentTpl.spec?.containers.find((c) => c.name === 'agent') ?? agentTpl.spec?.containers[0];
    const agentPort = agentC?.ports?.find((p) => p.name === 'https') ?? agentC?.ports?.[0] ?? { name: 'https', containerPort: 9443 };
    const agentMounts = secretMountsOf(agentTpl.spec, agentC);
    if (agentMounts.length === 0) agentMounts.push({ secretName: 'pcapper-agent-tls', mountPath: TLS_DIR });
    // the chart mounts the encryption keys and the store credentials (templates/_helpers.tpl): no agent starts without them
    for (const s of ['pcapper-encryption-keys', 'pcapper-store-credentials']) {
      if (!agentMounts.some((m) => m.secretName === s)) throw new Error(`the chart's agent DaemonSet mounts no Secret ${s}: the agent would not start`);
    }
    const revision = randomBytes(5).toString('hex');
    const dsOwner: k8s.V1OwnerReference = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'pcapper-agent', uid: ds.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true };
    const agents: Record<string, StackAgent> = {};
    const agentSpec = (node: string): RunPodSpec => {
      const data = join(dir, node, 'data');
      mkdirSync(data, { recursive: true, mode: 0o700 });
      const net = kubelet.node(node)?.net;
      return {
        namespace: SYSTEM_NAMESPACE,
        name: `pcapper-agent-${randSuffix()}`,
        node,
        labels: { ...agentTpl.metadata?.labels, 'controller-revision-hash': revision, 'pod-template-generation': '1' },
        ...(agentTpl.metadata?.annotations ? { annotations: agentTpl.metadata.annotations } : {}),
        ownerReferences: [dsOwner],
        serviceAccountName: agentTpl.spec?.serviceAccountName ?? 'pcapper-agent',
        container: {
          name: agentC?.name ?? 'agent',
          argv: [process.execPath, '--enable-source-maps', PCAPPER_JS(), ...(agentC?.args ?? ['agent'])],
          env: {
            ...envOf(agentC),
            NODE_NAME: { fieldRef: 'spec.nodeName' },
            POD_IP: { fieldRef: 'status.podIP' },
            PCAPPER_TLS_CERT: `${TLS_DIR}/tls.crt`,
            PCAPPER_TLS_KEY: `${TLS_DIR}/tls.key`,
            PCAPPER_CA: `${TLS_DIR}/ca.crt`,
            PCAPPER_CLIENT_NAMES: 'pcapper-server',
            PCAPPER_LISTEN: `0.0.0.0:${agentPort.containerPort}`,
            // the node's hostPath and network namespace (the chart: /hostmount, /proc/1/ns/net)
            PCAPPER_DATA_DIR: data,
            PCAPPER_HOST_DATA_DIR: data,
            ...(net ? { PCAPPER_HOST_NETNS: net.netnsPath } : {}),
            // test speed, as AgentProcess sets them
            PCAPPER_LOG_FORMAT: 'text',
            PCAPPER_STATUS_INTERVAL: '0.5s',
            PCAPPER_DISK_CHECK_INTERVAL: '0.3s',
            MIN_FREE_DISK: '1G',
            ...opts.agentEnv,
          },
          ports: (agentC?.ports ?? [agentPort]).map((p) => ({ containerPort: p.containerPort, ...(p.name ? { name: p.name } : {}), protocol: p.protocol ?? 'TCP' })),
        },
        secretMounts: agentMounts,
        // the contract requires TLS on the agent: probe over HTTPS whatever the manifest's scheme
        readinessProbe: { scheme: 'HTTPS', path: agentC?.readinessProbe?.httpGet?.path ?? '/healthz', port: agentPort.containerPort, periodMs: 300 },
        logFile: join(dir, `${node}-agent.log`),
      };
    };
    for (const node of nodes) {
      const pod = await kubelet.runPod(agentSpec(node));
      const a: StackAgent = {
        node,
        pod,
        dataDir: join(dir, node, 'data'),
        get endpoint() {
          return `https://${this.pod.ip}:${agentPort.containerPort}`;
        },
        get logFile() {
          return this.pod.logFile;
        },
        async restart() {
          const next = await kubelet.replacePod(SYSTEM_NAMESPACE, this.pod.name);
          this.pod = next;
          await kubelet.waitPodReady(next);
          return next;
        },
      };
      agents[node] = a;
    }
    for (const a of Object.values(agents)) {
      await kubelet.waitPodReady(a.pod);
      log(`  node ${a.node} (${kubelet.node(a.node)?.ip}) with agent pod ${a.pod.name} at ${a.endpoint}`);
    }
    const n = nodes.length;
    await apps.patchNamespacedDaemonSetStatus(
      {
        name: 'pcapper-agent',
        namespace: SYSTEM_NAMESPACE,
        body: { status: { currentNumberScheduled: n, desiredNumberScheduled: n, numberAvailable: n, numberReady: n, updatedNumberScheduled: n, numberMisscheduled: 0, observedGeneration: 1 } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );

    // ---- Deployment pcapper-server
    const depManifest = workload<k8s.V1Deployment>('Deployment', 'pcapper-server');
    const replicas = opts.serverReplicas ?? 2;
    if (!depManifest?.spec) throw new Error('deploy/pcapper.yaml has no Deployment pcapper-server: run npm run gen');
    const serverTpl: k8s.V1PodTemplateSpec = depManifest.spec.template;
    const serverC = serverTpl.spec?.containers.find((c) => c.name === 'server') ?? serverTpl.spec?.containers[0];
    const serverPort = serverC?.ports?.find((p) => p.name === 'https') ?? { name: 'https', containerPort: 8443 };
    const hash = randomBytes(5).toString('hex');
    const podLabels = { ...serverTpl.metadata?.labels, 'pod-template-hash': hash };
    const dep = await apps.createNamespacedDeployment({
      namespace: SYSTEM_NAMESPACE,
      body: { ...depManifest, status: undefined, spec: { ...depManifest.spec, replicas } },
    });
    const rs = await apps.createNamespacedReplicaSet({
      namespace: SYSTEM_NAMESPACE,
      body: {
        metadata: {
          name: `pcapper-server-${hash}`,
          labels: podLabels,
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'pcapper-server', uid: dep.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true }],
        },
        spec: { replicas, selector: { matchLabels: podLabels }, template: { ...serverTpl, metadata: { ...serverTpl.metadata, labels: podLabels } } },
      },
    });
    const rsOwner: k8s.V1OwnerReference = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata?.name ?? '', uid: rs.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true };
    const serverMounts = secretMountsOf(serverTpl.spec, serverC);
    if (serverMounts.length === 0) serverMounts.push({ secretName: 'pcapper-server-tls', mountPath: TLS_DIR });
    const serverArgv =
      opts.serverArgv ??
      [process.execPath, '--enable-source-maps', PCAPPER_JS(), ...(serverC?.args ?? ['server'])];
    const serverSpec = (i: number): RunPodSpec => ({
      namespace: SYSTEM_NAMESPACE,
      name: `${rs.metadata?.name ?? 'pcapper-server'}-${randSuffix()}`,
      node: nodes[i % nodes.length] ?? '',
      labels: podLabels,
      ownerReferences: [rsOwner],
      serviceAccountName: serverTpl.spec?.serviceAccountName ?? 'pcapper-server',
      container: {
        name: serverC?.name ?? 'server',
        argv: serverArgv,
        env: {
          ...envOf(serverC),
          PCAPPER_TLS_CERT: `${TLS_DIR}/tls.crt`,
          PCAPPER_TLS_KEY: `${TLS_DIR}/tls.key`,
          PCAPPER_CA: `${TLS_DIR}/ca.crt`,
          PCAPPER_LISTEN: `0.0.0.0:${serverPort.containerPort}`,
          PCAPPER_SYSTEM_NAMESPACE: SYSTEM_NAMESPACE,
          PCAPPER_LOG_FORMAT: 'text',
          ...opts.serverEnv,
        },
        ports: (serverC?.ports ?? [serverPort]).map((p) => ({ containerPort: p.containerPort, ...(p.name ? { name: p.name } : {}), protocol: p.protocol ?? 'TCP' })),
      },
      secretMounts: serverMounts,
      readinessProbe: {
        scheme: 'HTTPS',
        path: serverC?.readinessProbe?.httpGet?.path ?? '/readyz',
        port: serverPort.containerPort,
        periodMs: 300,
      },
      logFile: join(dir, `server-${i}.log`),
    });
    const servers: ProcessPod[] = [];
    for (let i = 0; i < replicas; i++) servers.push(await kubelet.runPod(serverSpec(i)));
    for (const s of servers) {
      await kubelet.waitPodReady(s);
      log(`  pcapper-server pod ${s.name} on ${s.node} at https://${s.ip}:${serverPort.containerPort}`);
    }
    const counts = { replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 1 };
    await apps.patchNamespacedReplicaSetStatus(
      { name: rs.metadata?.name ?? '', namespace: SYSTEM_NAMESPACE, body: { status: { ...counts, fullyLabeledReplicas: replicas } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await apps.patchNamespacedDeploymentStatus(
      { name: 'pcapper-server', namespace: SYSTEM_NAMESPACE, body: { status: { ...counts, updatedReplicas: replicas } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );

    if (opts.waitApiService !== false) {
      log(`waiting for APIService ${APISERVICE} to be Available...`);
      await waitApiServiceAvailable(reg, 60_000);
    }

    const stack: Stack = {
      cluster,
      kubelet,
      endpoints,
      pki,
      agents,
      controller,
      servers,
      async restartServer(i) {
        const old = servers[i];
        if (!old) throw new Error(`no server replica ${i} (there are ${servers.length})`);
        const next = await kubelet.replacePod(SYSTEM_NAMESPACE, old.name);
        servers[i] = next;
        await kubelet.waitPodReady(next);
        return next;
      },
      async restartServers() {
        await Promise.all(servers.map((_, i) => stack.restartServer(i)));
      },
      dir,
      get logs() {
        return [controller.logFile, ...Object.values(agents).map((a) => a.logFile), ...servers.map((s) => s.logFile)];
      },
      stop,
    };
    return stack;
  } catch (e) {
    await stop();
    throw e;
  }
}

async function waitApiServiceAvailable(reg: k8s.ApiregistrationV1Api, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const a = await reg.readAPIService({ name: APISERVICE });
      const c = a.status?.conditions?.find((x) => x.type === 'Available');
      if (c?.status === 'True') return;
      last = `${c?.reason ?? ''}: ${c?.message ?? ''}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`APIService ${APISERVICE} not Available after ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function randSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from(randomBytes(5), (b) => alphabet[b % alphabet.length]).join('');
}

export interface DemoPods {
  web: SimPod;
  api: SimPod;
  dns: SimPod;
  servers: ServerHandle[];
}

/** Demo pods (app=demo): web on node-a, api and dns on node-b. */
export async function startDemoPods(stack: Stack, namespace = 'default'): Promise<DemoPods> {
  const [nodeA, nodeB] = Object.keys(stack.agents);
  if (!nodeA || !nodeB) throw new Error('the demo needs two nodes');
  const web = await stack.kubelet.createPod({ namespace, name: 'demo-web', node: nodeA, labels: { app: 'demo', tier: 'web' } });
  const api = await stack.kubelet.createPod({ namespace, name: 'demo-api', node: nodeB, labels: { app: 'demo', tier: 'api' } });
  const dns = await stack.kubelet.createPod({ namespace, name: 'demo-dns', node: nodeB, labels: { app: 'demo', tier: 'dns' } });
  const ep = (p: SimPod) => ({ netnsPath: p.netnsPath, ip: p.ip, ...(p.cgroup ? { cgroup: p.cgroup } : {}) });
  const servers = [
    await startHttpServer(ep(web), 8080, { run: stack.kubelet.run }),
    await startHttpServer(ep(api), 8080, { run: stack.kubelet.run }),
    await startDnsServer(ep(dns), 53, { 'web.demo.svc': web.ip, 'api.demo.svc': api.ip }, { run: stack.kubelet.run }),
  ];
  return { web, api, dns, servers };
}

/**
 * Demo traffic until `signal` aborts: web resolves api by DNS and calls it over HTTP, api does the
 * same towards web — every call crosses nodes.
 */
export async function demoTraffic(pods: DemoPods, signal: AbortSignal, everyMs = 400): Promise<{ calls: number; errors: number }> {
  let calls = 0;
  let errors = 0;
  let i = 0;
  while (!signal.aborted) {
    const [from, toName] = i++ % 2 === 0 ? [pods.web, 'api.demo.svc'] : [pods.api, 'web.demo.svc'];
    try {
      const r = await dnsQuery(from, pods.dns.ip, toName, { timeoutMs: 3000 });
      const ip = r.answers[0];
      if (ip) {
        await httpGet(from, `http://${ip}:8080/demo/${i}`, { timeoutMs: 3000 });
        calls++;
      }
    } catch {
      errors++;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return { calls, errors };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Runs kubectl-pcap as its own process (like a user), output passed through. With `laptop` (a
 * Cluster) it runs inside the cluster's client netns, where only the API server is reachable.
 */
export function runKubectlPcap(
  args: string[],
  opts: { cwd: string; kubeconfig: string; stdio?: 'inherit' | 'pipe'; laptop?: Pick<Cluster, 'clientCommand'> },
): { child: ChildProcess; done: Promise<RunResult> } {
  const argv = [process.execPath, join(repoRoot(), 'dist', 'src', 'bin', 'kubectl-pcap.js'), ...args];
  const [file, fargs] = opts.laptop ? opts.laptop.clientCommand(argv) : [process.execPath, argv.slice(1)];
  const child = spawn(file, fargs, {
    cwd: opts.cwd,
    stdio: opts.stdio === 'pipe' ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', KUBECONFIG: opts.kubeconfig },
  });
  const done = new Promise<RunResult>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, done };
}

/** `npm run demo`. Returns the exit code. */
export async function runDemo(opts: { cwd: string; log?: (m: string) => void; signal?: AbortSignal } = { cwd: process.cwd() }): Promise<number> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  let stack: Stack | undefined;
  const trafficStop = new AbortController();
  let traffic: Promise<{ calls: number; errors: number }> | undefined;
  let cli: ReturnType<typeof runKubectlPcap> | undefined;
  const onAbort = (): void => {
    log('demo: interrupted, cleaning up...');
    cli?.child.kill('SIGINT');
    trafficStop.abort();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    stack = await startStack({ log });
    if (opts.signal?.aborted) return 130;
    log('starting demo pods (app=demo): demo-web on node-a; demo-api and demo-dns on node-b...');
    const pods = await startDemoPods(stack);
    log(`  demo-web ${pods.web.ip}, demo-api ${pods.api.ip}, demo-dns ${pods.dns.ip}; they talk DNS + HTTP across the nodes`);
    traffic = demoTraffic(pods, trafficStop.signal);
    const args = ['capture', '-l', 'app=demo', '--duration', '5s', '-w', 'demo.pcapng'];
    log(`\n$ kubectl pcap ${args.join(' ')}`);
    // like a user's laptop: the CLI's process can reach the API server and nothing else
    cli = runKubectlPcap(args, { cwd: opts.cwd, kubeconfig: stack.cluster.kubeconfigPath, laptop: stack.cluster });
    const r = await cli.done;
    trafficStop.abort();
    const t = await traffic;
    log(`\ndemo traffic: ${t.calls} DNS+HTTP exchanges across nodes${t.errors ? `, ${t.errors} failed` : ''}`);
    if (r.code !== 0) {
      log(`demo: kubectl-pcap exited with ${r.code ?? r.signal ?? '?'}; logs of the controller and agents:`);
      for (const l of stack.logs) {
        try {
          log(`--- ${l} (last lines)\n${readFileSync(l, 'utf8').trim().split('\n').slice(-15).join('\n')}`);
        } catch {
          // no log
        }
      }
      return r.code ?? 1;
    }
    log(`\ndemo: wrote ${join(opts.cwd, 'demo.pcapng')} — open it with: wireshark demo.pcapng  (or tshark -r demo.pcapng)`);
    return 0;
  } finally {
    trafficStop.abort();
    await traffic?.catch(() => undefined);
    opts.signal?.removeEventListener('abort', onAbort);
    if (stack) {
      log('demo: cleaning up (agents, controller, pods, network namespaces, control plane)...');
      await stack.stop();
    }
  }
}
