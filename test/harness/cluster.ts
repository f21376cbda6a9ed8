/**
 * A real local Kubernetes control plane for tests, benchmarks and the demo: kube-apiserver v1.34
 * with etcd embedded in the same process (test/controlplane, built once from Go modules and cached
 * outside the repo by scripts/controlplane.mjs). RBAC authorization, static-token users, service
 * account token signing, and the aggregation layer (front-proxy CA and client certificate,
 * --enable-aggregator-routing) as kubeadm sets it up.
 *
 * Topology, like a real cluster seen from a laptop:
 *   - kube-apiserver runs inside the control-plane network namespace (test/harness/netns.ts),
 *     on the simulated node/pod fabric at https://10.244.0.254:6443 (CONTROL_PLANE_IP). Pods and
 *     nodes reach it there, and it reaches aggregated API servers at their pod IPs.
 *   - The host network namespace (where tests, kubectl and `kubectl pcap` run) has no route into
 *     the fabric. It reaches the apiserver at https://127.0.0.1:<free port>, through two
 *     forwarders joined by a Unix socket (test/harness/forwarder.ts).
 *   - clientNetns is a stricter "laptop": loopback only, with a forwarder on the same
 *     127.0.0.1:<port>; a process there can reach the API server and nothing else (this machine's
 *     default route may lead to a proxy that accepts any TCP connection).
 * The serving certificate is ours (pki.ts), valid for 127.0.0.1, the fabric IP and the
 * `kubernetes` Service names; Cluster.caData is its CA.
 *
 * There is no kube-controller-manager, scheduler or kubelet: test/harness/kubelet.ts creates the
 * objects a test needs and plays the kubelet's part; test/harness/endpoints.ts plays the
 * EndpointSlice/Endpoints controllers.
 */
import { spawn, execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { assertRoot, CONTROL_PLANE_IP, HarnessRun, inNetns, PodNetwork, spawnInNetns, type NetnsTarget } from './netns.js';
import { repoRoot } from './paths.js';
import { FRONT_PROXY_CN, makeControlPlanePki, type ControlPlanePki } from './pki.js';

/** kube-apiserver's port inside the control-plane netns (https://10.244.0.254:6443 from pods). */
export const APISERVER_PORT = 6443;
export const SERVICE_CIDR = '10.0.0.0/24';
/** ClusterIP of default/kubernetes (first address of SERVICE_CIDR); in the serving cert's SANs. */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';

const execFileP = promisify(execFile);

/** Static users known to the token authenticator (besides service accounts). */
export const STATIC_USERS = {
  admin: { groups: ['system:masters'] },
  alice: { groups: ['pcapper:users'] },
  bob: { groups: ['pcapper:users'] },
  mallory: { groups: [] as string[] },
} as const;
export type StaticUser = keyof typeof STATIC_USERS;

export interface StartClusterOptions {
  /** Directory for all state; a fresh temp dir by default (removed by stop()). */
  dir?: string;
  /** Keep the directory on stop (for dev-cluster). */
  keepDir?: boolean;
  /** Log the apiserver's output to this file (default: <dir>/apiserver.log). */
  logFile?: string;
  /** Readiness timeout in ms (default 120 s). */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags (appended last, so they override ours). */
  apiserverArgs?: string[];
  /** Harness run for the control-plane netns and processes (default: a new one, cleaned up by stop()). */
  run?: HarnessRun;
  /**
   * Also run Kubernetes' garbage collector (kube-controller-manager's, built into the control-plane
   * binary: `controlplane gc`) as kube-controller-manager runs it with service-account credentials:
   * ServiceAccount kube-system/generic-garbage-collector bound to the bootstrap ClusterRole
   * system:controller:generic-garbage-collector. Off by default: tests that create objects with
   * ownerReferences to owners that do not exist would see them collected.
   */
  garbageCollector?: boolean;
}

export interface Cluster {
  /** https://127.0.0.1:PORT: the host's (the "laptop's") only way in, through the forwarder */
  readonly server: string;
  /** https://10.244.0.254:6443: the apiserver as pods and nodes on the fabric reach it */
  readonly inClusterServer: string;
  readonly dir: string;
  /** An admin kubeconfig file (user in system:masters), server = `server`. */
  readonly kubeconfigPath: string;
  /** The same admin identity as a client-node KubeConfig. */
  readonly kubeConfig: k8s.KubeConfig;
  /** PEM of the CA that signed the apiserver's serving certificate. */
  readonly caData: string;
  /** The control plane's certificates (serving, front-proxy CA and client). */
  readonly pki: ControlPlanePki;
  /** pid of kube-apiserver (inside the control-plane netns) */
  readonly pid: number;
  /** The harness run that records the control plane's netns and processes. */
  readonly run: HarnessRun;
  /**
   * The simulated fabric the apiserver is attached to. Give it to SimKubelet
   * (`new SimKubelet(kc, { network: cluster.network })`) for pods that must reach the apiserver
   * or be reached by it (aggregated API servers, agents).
   */
  readonly network: PodNetwork;
  /** The control-plane network namespace. */
  readonly controlPlane: NetnsTarget;
  /**
   * A network namespace with only loopback, where 127.0.0.1:<port of `server`> is the apiserver
   * (a forwarder) and nothing else is reachable: run the CLI there to prove it needs only the
   * API server. Every host kubeconfig works there unchanged.
   */
  readonly clientNetns: NetnsTarget;
  /** [file, args] that run argv inside clientNetns (nsenter; argv, never a shell). */
  clientCommand(argv: readonly string[]): [string, string[]];
  /** kube-apiserver's log */
  readonly logFile: string;
  /** Kubeconfig for a static-token user (see STATIC_USERS); file path via userKubeconfigPath(). */
  userKubeConfig(user: StaticUser): k8s.KubeConfig;
  userKubeconfigPath(user: StaticUser): string;
  userToken(user: StaticUser): string;
  /** Creates the ServiceAccount if needed and returns a TokenRequest token (optionally bound to an object, e.g. its Pod). */
  serviceAccountToken(
    namespace: string,
    name: string,
    opts?: { expirationSeconds?: number; boundObjectRef?: { kind: string; apiVersion?: string; name: string; uid?: string } },
  ): Promise<string>;
  /** Creates the ServiceAccount if needed and returns a KubeConfig carrying a TokenRequest token (host: `server`). */
  serviceAccountKubeConfig(namespace: string, name: string, expirationSeconds?: number): Promise<k8s.KubeConfig>;
  /** A kubeconfig file for a token, server = `server` (host); returns its path. */
  writeKubeconfig(name: string, token: string): string;
  /** A kubeconfig file for a token, server = `inClusterServer` (for processes in pods/nodes); returns its path. */
  writeInClusterKubeconfig(name: string, token: string): string;
  /** Runs the machine's kubectl against this cluster as admin (argv, never a shell). */
  kubectl(args: string[], opts?: { input?: string; kubeconfig?: string }): Promise<{ stdout: string; stderr: string; code: number }>;
  /** The same, for a command that must succeed: its stdout, or an error naming the command and its stderr. */
  kubectlOk(args: string[], opts?: { input?: string; kubeconfig?: string }): Promise<string>;
  /** Stops forwarders and apiserver, removes the control-plane netns (and the fabric) and, unless keepDir, the directory. */
  stop(): Promise<void>;
}

/** Builds the control plane if needed (first run only) and returns the binary path. */
export async function controlPlaneBinary(): Promise<string> {
  const script = join(repoRoot(), 'scripts', 'controlplane.mjs');
  try {
    const { stdout } = await execFileP(process.execPath, [script], { maxBuffer: 16 * 1024 * 1024, timeout: 60 * 60 * 1000 });
    const path = stdout.trim().split('\n').pop() ?? '';
    if (!path || !existsSync(path)) throw new Error(`scripts/controlplane.mjs printed no binary path (got "${stdout.trim()}")`);
    return path;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`cannot build the local control plane: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
  }
}

/** A kubeconfig with one cluster, user (token) and context. */
export function kubeconfigYaml(server: string, caData: string, user: string, token: string): string {
  const ca = Buffer.from(caData).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: pcapper-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: pcapper-local',
    '  context:',
    '    cluster: pcapper-local',
    `    user: ${user}`,
    'current-context: pcapper-local',
    '',
  ].join('\n');
}

function loadKubeConfig(path: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

async function waitReady(server: string, token: string, caPem: string, exited: () => number | string | undefined, logFile: string, timeoutMs: number): Promise<void> {
  const { request } = await import('node:https');
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const code = exited();
    if (code !== undefined) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-20).join('\n') : '';
      throw new Error(`kube-apiserver exited (${code}) before it was ready:\n${log}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const req = request(
        `${server}/readyz`,
        { method: 'GET', headers: { Authorization: `Bearer ${token}` }, ca: caPem, timeout: 2000 },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => {
            last = `${res.statusCode}: ${body.slice(0, 200)}`;
            resolve(res.statusCode === 200);
          });
        },
      );
      req.on('error', (e) => {
        last = e.message;
        resolve(false);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`kube-apiserver not ready after ${timeoutMs} ms (last /readyz: ${last})`);
}

/** A forwarder child process (test/harness/forwarder.ts); it exits when its stdin pipe closes. */
export interface Forwarder {
  pid: number;
  address: string;
  stop(): Promise<void>;
}

export async function startForwarder(run: HarnessRun, args: string[], netnsPath: string | undefined, what: string): Promise<Forwarder> {
  const script = fileURLToPath(new URL('./forwarder.js', import.meta.url));
  const argv = [process.execPath, script, ...args];
  const [file, fargs] = netnsPath ? inNetns({ netnsPath }, argv) : [argv[0] ?? '', argv.slice(1)];
  const child = spawn(file, fargs, { stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`cannot start the ${what}`);
  const pid = child.pid;
  run.recordProcess(pid, what);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  void exited.then(() => run.forgetProcess(pid));
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`the ${what} did not start within 10 s: ${err.trim()}`)), 10_000);
    child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /^listening (\S+)\n/.exec(out);
      if (m?.[1]) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(t);
      reject(new Error(`the ${what} exited (${code ?? sig}) during start: ${err.trim()}`));
    });
  });
  // Nothing more is read: don't let the pipes keep the test's event loop alive.
  child.stdout?.removeAllListeners('data');
  child.stdout?.resume();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  child.unref();
  return {
    pid,
    address,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.ref(); // keep the loop alive until 'exit' fires
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  assertRoot();
  const bin = await controlPlaneBinary();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'pcapper-cluster-'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const run = opts.run ?? new HarnessRun();
  const network = new PodNetwork(run);
  const cleanups: (() => Promise<unknown>)[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await network.close().catch(() => undefined);
    if (!opts.run) run.cleanup();
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    return await startClusterIn(bin, dir, run, network, cleanups, stop, opts);
  } catch (e) {
    await stop();
    throw e;
  }
}

async function startClusterIn(
  bin: string,
  dir: string,
  run: HarnessRun,
  network: PodNetwork,
  cleanups: (() => Promise<unknown>)[],
  stop: () => Promise<void>,
  opts: StartClusterOptions,
): Promise<Cluster> {
  const certDir = join(dir, 'certs');
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
  const cp = await network.addControlPlane();

  const pki = makeControlPlanePki(join(dir, 'pki'), {
    ips: ['127.0.0.1', CONTROL_PLANE_IP, KUBERNETES_SERVICE_IP],
    dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost'],
  });

  // Service-account signing keys.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  writeFileSync(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o600 });

  // Static tokens: token,user,uid,"group1,group2"
  const tokens = new Map<StaticUser, string>();
  const lines: string[] = [];
  for (const [user, { groups }] of Object.entries(STATIC_USERS) as [StaticUser, { groups: readonly string[] }][]) {
    const token = randomBytes(24).toString('hex');
    tokens.set(user, token);
    lines.push(`${token},${user},${user}-uid${groups.length ? `,"${groups.join(',')}"` : ''}`);
  }
  const tokenFile = join(dir, 'tokens.csv');
  writeFileSync(tokenFile, lines.join('\n') + '\n', { mode: 0o600 });

  // Inside its own network namespace the apiserver and etcd own their ports: no port races.
  const logFile = opts.logFile ?? join(dir, 'apiserver.log');
  const args = [
    '--etcd-dir', join(dir, 'etcd'),
    '--etcd-port', '2379',
    '--etcd-peer-port', '2380',
    '--',
    '--etcd-servers=http://127.0.0.1:2379',
    `--cert-dir=${certDir}`,
    `--tls-cert-file=${pki.serving.cert}`,
    `--tls-private-key-file=${pki.serving.key}`,
    `--secure-port=${APISERVER_PORT}`,
    '--bind-address=0.0.0.0',
    `--advertise-address=${CONTROL_PLANE_IP}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--authorization-mode=RBAC',
    `--token-auth-file=${tokenFile}`,
    '--service-account-issuer=https://pcapper.local',
    `--service-account-key-file=${saPub}`,
    `--service-account-signing-key-file=${saKey}`,
    '--endpoint-reconciler-type=none',
    '--enable-priority-and-fairness=false',
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    // the aggregation layer, as kubeadm configures it
    `--requestheader-client-ca-file=${pki.frontProxyCa.cert}`,
    `--requestheader-allowed-names=${FRONT_PROXY_CN}`,
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${pki.frontProxyClient.cert}`,
    `--proxy-client-key-file=${pki.frontProxyClient.key}`,
    // route to the Service's endpoints (pod IPs), not its ClusterIP: there is no kube-proxy
    '--enable-aggregator-routing=true',
    '--v=0',
    ...(opts.apiserverArgs ?? []),
  ];
  // ref: like any child process, a running apiserver keeps the test's event loop alive until stop()
  const proc = spawnInNetns(cp, [bin, ...args], { run, logFile, what: 'kube-apiserver', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, ref: true });
  let procExit: number | string | undefined;
  void proc.exited.then((c) => (procExit = c));
  cleanups.push(async () => {
    if (procExit !== undefined) return;
    proc.kill('SIGTERM');
    const exited = await Promise.race([proc.exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!exited) {
      proc.kill('SIGKILL');
      await proc.exited;
    }
  });

  // host 127.0.0.1:<free> -> Unix socket -> (cp netns) 127.0.0.1:6443
  const socket = join(dir, 'apiserver.sock');
  const inner = await startForwarder(run, ['unix-to-tcp', socket, '127.0.0.1', String(APISERVER_PORT)], cp.netnsPath, 'apiserver forwarder (control-plane netns)');
  cleanups.push(() => inner.stop());
  const outer = await startForwarder(run, ['tcp-to-unix', '127.0.0.1', '0', socket], undefined, 'apiserver forwarder (host)');
  cleanups.push(() => outer.stop());
  const server = `https://${outer.address}`;
  // the "laptop" netns: the same 127.0.0.1:<port>, and no other destination at all
  const clientNetns = await network.addClientNetns();
  const port = outer.address.slice(outer.address.lastIndexOf(':') + 1);
  const clientFwd = await startForwarder(run, ['tcp-to-unix', '127.0.0.1', port, socket], clientNetns.netnsPath, 'apiserver forwarder (client netns)');
  cleanups.push(() => clientFwd.stop());

  const caData = pki.caPem;
  const adminToken = tokens.get('admin') ?? '';
  await waitReady(server, adminToken, caData, () => procExit, logFile, opts.readyTimeoutMs ?? 120_000);

  const writeKc = (name: string, token: string, url: string, prefix: string): string => {
    const p = join(dir, `${prefix}${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
    writeFileSync(p, kubeconfigYaml(url, caData, name, token), { mode: 0o600 });
    return p;
  };
  const writeKubeconfig = (name: string, token: string): string => writeKc(name, token, server, 'kubeconfig-');
  const kubeconfigPath = writeKubeconfig('admin', adminToken);
  const userPaths = new Map<StaticUser, string>();
  for (const [user, token] of tokens) userPaths.set(user, user === 'admin' ? kubeconfigPath : writeKubeconfig(user, token));
  const kubeConfig = loadKubeConfig(kubeconfigPath);
  const inClusterServer = `https://${CONTROL_PLANE_IP}:${APISERVER_PORT}`;

  if (opts.garbageCollector) {
    const gcLog = join(dir, 'garbage-collector.log');
    const gcKubeconfig = await garbageCollectorKubeconfig(kubeConfig, (token) => writeKc('generic-garbage-collector', token, `https://127.0.0.1:${APISERVER_PORT}`, 'gc-kubeconfig-'));
    const gc = spawnInNetns(cp, [bin, 'gc', '--kubeconfig', gcKubeconfig], { run, logFile: gcLog, what: 'garbage collector', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, ref: true });
    let gcExit: number | string | undefined;
    void gc.exited.then((c) => (gcExit = c));
    cleanups.push(async () => {
      if (gcExit !== undefined) return;
      gc.kill('SIGTERM');
      const exited = await Promise.race([gc.exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!exited) {
        gc.kill('SIGKILL');
        await gc.exited;
      }
    });
  }

  const cluster: Cluster = {
    server,
    inClusterServer,
    dir,
    kubeconfigPath,
    kubeConfig,
    caData,
    pki,
    pid: proc.pid,
    run,
    network,
    controlPlane: cp,
    clientNetns,
    clientCommand: (argv) => inNetns(clientNetns, argv),
    logFile,
    userKubeConfig: (user) => loadKubeConfig(userPaths.get(user) ?? ''),
    userKubeconfigPath: (user) => userPaths.get(user) ?? '',
    userToken: (user) => tokens.get(user) ?? '',
    writeKubeconfig,
    writeInClusterKubeconfig: (name, token) => writeKc(name, token, inClusterServer, 'incluster-kubeconfig-'),
    async serviceAccountToken(namespace, name, o = {}) {
      const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
      await ensureNamespace(core, namespace);
      try {
        await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
      } catch (e) {
        if (statusCode(e) !== 409) throw e;
      }
      const tr = await core.createNamespacedServiceAccountToken({
        name,
        namespace,
        body: { spec: { audiences: [], expirationSeconds: o.expirationSeconds ?? 3600, ...(o.boundObjectRef ? { boundObjectRef: o.boundObjectRef } : {}) } },
      });
      const token = tr.status?.token;
      if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
      return token;
    },
    async serviceAccountKubeConfig(namespace, name, expirationSeconds = 3600) {
      const token = await cluster.serviceAccountToken(namespace, name, { expirationSeconds });
      return loadKubeConfig(writeKubeconfig(`sa-${namespace}-${name}`, token));
    },
    async kubectl(args, o = {}) {
      return new Promise((resolve) => {
        const child = execFile(
          'kubectl',
          ['--kubeconfig', o.kubeconfig ?? kubeconfigPath, ...args],
          { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
          (err, stdout, stderr) => {
            const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
            resolve({ stdout, stderr, code });
          },
        );
        if (o.input !== undefined) child.stdin?.end(o.input);
        else child.stdin?.end();
      });
    },
    async kubectlOk(args, o = {}) {
      const r = await cluster.kubectl(args, o);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    stop,
  };
  return cluster;
}

/** kube-controller-manager's identity for its garbage collector (--use-service-account-credentials): returns a kubeconfig path. */
async function garbageCollectorKubeconfig(kc: k8s.KubeConfig, write: (token: string) => string): Promise<string> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const name = 'generic-garbage-collector';
  await core.createNamespacedServiceAccount({ namespace: 'kube-system', body: { metadata: { name } } }).catch((e: unknown) => {
    if (statusCode(e) !== 409) throw e;
  });
  await rbac
    .createClusterRoleBinding({
      body: {
        metadata: { name: `pcapper-harness:${name}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `system:controller:${name}` },
        subjects: [{ kind: 'ServiceAccount', name, namespace: 'kube-system' }],
      },
    })
    .catch((e: unknown) => {
      if (statusCode(e) !== 409) throw e;
    });
  const tr = await core.createNamespacedServiceAccountToken({ name, namespace: 'kube-system', body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } } });
  const token = tr.status?.token;
  if (!token) throw new Error('TokenRequest for kube-system/generic-garbage-collector returned no token');
  return write(token);
}

/** HTTP status of a client-node ApiException (or undefined). */
export function statusCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

export async function ensureNamespace(core: k8s.CoreV1Api, name: string): Promise<void> {
  try {
    await core.createNamespace({ body: { metadata: { name } } });
  } catch (e) {
    if (statusCode(e) !== 409) throw e;
  }
}
