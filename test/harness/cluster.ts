/**
 * A real local Kubernetes control plane for tests, benchmarks and the demo: kube-apiserver v1.34
 * with etcd embedded in the same process (test/controlplane, built once from Go modules and cached
 * outside the repo by scripts/controlplane.mjs). RBAC authorization, static-token users, service
 * account token signing; listens on 127.0.0.1 only, on free ports.
 *
 * There is no kube-controller-manager, scheduler or kubelet: test/harness/kubelet.ts creates the
 * objects a test needs and plays the kubelet's part.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { repoRoot } from './paths.js';

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
}

export interface Cluster {
  /** https://127.0.0.1:PORT */
  readonly server: string;
  readonly dir: string;
  /** An admin kubeconfig file (user in system:masters). */
  readonly kubeconfigPath: string;
  /** The same admin identity as a client-node KubeConfig. */
  readonly kubeConfig: k8s.KubeConfig;
  /** The apiserver's serving CA (self-signed by the apiserver). */
  readonly caData: string;
  readonly pid: number;
  /** Kubeconfig for a static-token user (see STATIC_USERS); file path via userKubeconfigPath(). */
  userKubeConfig(user: StaticUser): k8s.KubeConfig;
  userKubeconfigPath(user: StaticUser): string;
  /** Creates the ServiceAccount if needed and returns a KubeConfig carrying a TokenRequest token. */
  serviceAccountKubeConfig(namespace: string, name: string, expirationSeconds?: number): Promise<k8s.KubeConfig>;
  /** A kubeconfig file for a token (e.g. a service account's); returns its path. */
  writeKubeconfig(name: string, token: string): string;
  /** Runs the machine's kubectl against this cluster as admin (argv, never a shell). */
  kubectl(args: string[], opts?: { input?: string; kubeconfig?: string }): Promise<{ stdout: string; stderr: string; code: number }>;
  stop(): Promise<void>;
}

/**
 * `n` distinct free loopback ports. All sockets stay open until every port is chosen, so the
 * kernel cannot hand the same port out twice; another process may still take one before the
 * apiserver binds it, which startCluster() handles by retrying.
 */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const srv = createServer();
          srv.unref();
          srv.on('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((srv) => {
    const addr = srv.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  });
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  return ports;
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

function kubeconfigYaml(server: string, caData: string, user: string, token: string): string {
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

async function waitReady(server: string, token: string, ca: () => string | undefined, proc: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const { request } = await import('node:https');
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-20).join('\n') : '';
      throw new Error(`kube-apiserver exited (${proc.exitCode ?? proc.signalCode}) before it was ready:\n${log}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const caPem = ca();
      const req = request(
        `${server}/readyz`,
        { method: 'GET', headers: { Authorization: `Bearer ${token}` }, ca: caPem, rejectUnauthorized: !!caPem, timeout: 2000 },
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

export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  const bin = await controlPlaneBinary();
  // A port chosen free can be taken by another process before the apiserver binds it: retry then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(bin, opts);
    } catch (e) {
      if (attempt >= 3 || !(e instanceof Error) || !/address already in use/.test(e.message)) throw e;
    }
  }
}

async function startClusterOnce(bin: string, opts: StartClusterOptions): Promise<Cluster> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'pcapper-cluster-'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certDir = join(dir, 'certs');
  mkdirSync(certDir, { recursive: true, mode: 0o700 });

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

  const [apiPort, etcdPort, etcdPeerPort] = (await freePorts(3)) as [number, number, number];
  const server = `https://127.0.0.1:${apiPort}`;
  const logFile = opts.logFile ?? join(dir, 'apiserver.log');
  const logFd = openSync(logFile, 'a', 0o600);
  const args = [
    '--etcd-dir', join(dir, 'etcd'),
    '--etcd-port', String(etcdPort),
    '--etcd-peer-port', String(etcdPeerPort),
    '--',
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--cert-dir=${certDir}`,
    `--secure-port=${apiPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--authorization-mode=RBAC',
    `--token-auth-file=${tokenFile}`,
    '--service-account-issuer=https://pcapper.local',
    `--service-account-key-file=${saPub}`,
    `--service-account-signing-key-file=${saKey}`,
    '--endpoint-reconciler-type=none',
    '--enable-priority-and-fairness=false',
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    '--v=0',
  ];
  const proc = spawn(bin, args, { stdio: ['ignore', logFd, logFd], detached: false });
  closeSync(logFd);

  const caPath = join(certDir, 'apiserver.crt');
  const readCa = (): string | undefined => (existsSync(caPath) ? readFileSync(caPath, 'utf8') : undefined);
  const adminToken = tokens.get('admin') ?? '';
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const exited = await Promise.race([
        new Promise<boolean>((r) => proc.once('exit', () => r(true))),
        sleep(10_000).then(() => false),
      ]);
      if (!exited) {
        proc.kill('SIGKILL');
        await new Promise((r) => proc.once('exit', r));
      }
    }
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(server, adminToken, readCa, proc, logFile, opts.readyTimeoutMs ?? 120_000);
  } catch (e) {
    await stop();
    throw e;
  }
  const caData = readCa() ?? '';

  const writeKubeconfig = (name: string, token: string): string => {
    const p = join(dir, `kubeconfig-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
    writeFileSync(p, kubeconfigYaml(server, caData, name, token), { mode: 0o600 });
    return p;
  };
  const kubeconfigPath = writeKubeconfig('admin', adminToken);
  const userPaths = new Map<StaticUser, string>();
  for (const [user, token] of tokens) userPaths.set(user, user === 'admin' ? kubeconfigPath : writeKubeconfig(user, token));
  const kubeConfig = loadKubeConfig(kubeconfigPath);

  const cluster: Cluster = {
    server,
    dir,
    kubeconfigPath,
    kubeConfig,
    caData,
    pid: proc.pid ?? -1,
    userKubeConfig: (user) => loadKubeConfig(userPaths.get(user) ?? ''),
    userKubeconfigPath: (user) => userPaths.get(user) ?? '',
    writeKubeconfig,
    async serviceAccountKubeConfig(namespace, name, expirationSeconds = 3600) {
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
        body: { spec: { audiences: [], expirationSeconds } },
      });
      const token = tr.status?.token;
      if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
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
    stop,
  };
  return cluster;
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
