/**
 * Support for the agent's real-cluster tests and benchmarks: install the CRD and the agent's RBAC
 * (exactly the rules docs/agent.md documents), run agents as child processes with NODE_NAME set and
 * their own data directory, find their tcpdumps, and plan status.targets entries the way the
 * controller does (server-side apply as `pcapper-controller`, the documented ownership contract)
 * for tests that must not depend on the controller's own timing.
 */
import { eventually } from './harness/eventually.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EncryptedFileReader } from '../src/crypto/reader.js';
import { loadKeyringDir } from '../src/crypto/secret-dir.js';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { CONTROLLER_FIELD_MANAGER, targetKey, type PacketCapture, type TargetStatus } from '../src/api/packetcapture.js';
import { getPacketCapture } from '../src/k8s/client.js';
import { applyStatus } from '../src/k8s/status.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { SimKubelet, type SimPod } from './harness/kubelet.js';
import { runController, type ControllerHandle } from '../src/controller/controller.js';
import { repoRoot } from './harness/paths.js';
import { AGENT_DNS, makePcapperPki, type CertPair, type PcapperPki } from './harness/pki.js';

export const SYSTEM_NAMESPACE = 'pcapper';
export const AGENT_SA = 'pcapper-agent';

/** The agent's ClusterRole: the chart's rules (charts/pcapper/templates/rbac-agent.yaml without the TokenReview/SAR rules this version drops), as docs/agent.md documents. */
export const AGENT_RBAC = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pcapper-agent-test}
rules:
- {apiGroups: [pcapper.dev], resources: [packetcaptures], verbs: [list, watch]}
- {apiGroups: [pcapper.dev], resources: [packetcaptures/status], verbs: [patch]}
- {apiGroups: [""], resources: [pods], verbs: [list, watch]}
- {apiGroups: [""], resources: [events], verbs: [create, patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: pcapper-agent-test}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pcapper-agent-test}
subjects:
- {kind: ServiceAccount, name: ${AGENT_SA}, namespace: ${SYSTEM_NAMESPACE}}
`;

/** A Role that lets its subjects download the captures of one namespace. */
export function downloaderRbac(namespace: string, user: string): string {
  return `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pcap-downloader, namespace: ${namespace}}
rules:
- {apiGroups: [pcapper.dev], resources: [packetcaptures, packetcaptures/files], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pcap-downloader, namespace: ${namespace}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pcap-downloader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: ${user}}
`;
}

async function kubectlOk(cluster: Cluster, args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Installs deploy/crd.yaml and the agent's RBAC; returns a kubeconfig file for the agent's ServiceAccount. */
export async function installForAgents(cluster: Cluster): Promise<string> {
  await kubectlOk(cluster, ['apply', '--server-side', '-f', join(repoRoot(), 'deploy', 'crd.yaml')]);
  await kubectlOk(cluster, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/packetcaptures.pcapper.dev']);
  await kubectlOk(cluster, ['apply', '-f', '-'], AGENT_RBAC);
  const kc = await cluster.serviceAccountKubeConfig(SYSTEM_NAMESPACE, AGENT_SA, 24 * 3600);
  const token = kc.getCurrentUser()?.token;
  if (!token) throw new Error('no service account token');
  return cluster.writeKubeconfig('pcapper-agent', token);
}

export async function applyYaml(cluster: Cluster, yaml: string): Promise<void> {
  await kubectlOk(cluster, ['apply', '-f', '-'], yaml);
}

export function tokenOf(kc: k8s.KubeConfig): string {
  const t = kc.getCurrentUser()?.token;
  if (!t) throw new Error('kubeconfig has no token');
  return t;
}

/** {@link eventually} with the positional arguments the agent tests use (one polling loop: test/harness/eventually.ts). */
export function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  return eventually(fn, { what, timeoutMs, everyMs });
}

export interface AgentProcessOptions {
  node: string;
  dataDir: string;
  kubeconfig: string;
  logFile: string;
  /**
   * The pcapper CA and certificates (test/harness/pki.ts): the agent serves with pki.agent and
   * trusts pki.ca. Default: a new PKI next to the data directory (callers that talk to the agent pass theirs).
   */
  pki?: PcapperPki;
  /** The encryption keys (a mounted-Secret-like dir); default: a new one with one random key. */
  keysDir?: string;
  env?: Record<string, string>;
}

/**
 * The plaintext of a capture file on the node as the agent's file server would serve it: an
 * encrypted ring file is decrypted (live view: what is sealed so far) with the keys in `keysDir`.
 */
export async function plaintextOf(file: string, keysDir: string): Promise<Buffer> {
  const raw = readFileSync(file);
  if (!raw.subarray(0, 8).equals(Buffer.from('PCAPENC\n', 'latin1'))) return raw;
  const r = await EncryptedFileReader.open(file, await loadKeyringDir(keysDir));
  try {
    const info = await r.info({ live: true });
    return await r.read(0, info.size, { live: true });
  } finally {
    await r.close();
  }
}

/** Records in a pcap's bytes (a record cut short at the end is not counted). */
export function pcapRecordCount(b: Buffer): number {
  let n = 0;
  let off = 24;
  while (off + 16 <= b.length) {
    const len = b.readUInt32LE(off + 8);
    if (off + 16 + len > b.length) break;
    off += 16 + len;
    n++;
  }
  return n;
}

/** A directory shaped like the mounted Secret pcapper-encryption-keys: `active` and one random `<id>.key` (0600). */
export function makeKeysDir(dir: string, id = 'k1'): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(dir, 'active'))) {
    writeFileSync(join(dir, `${id}.key`), randomBytes(32), { mode: 0o600 });
    writeFileSync(join(dir, 'active'), id, { mode: 0o600 });
  }
  return dir;
}

/** The agent's TLS environment from a test PKI (what the chart mounts from Secret pcapper-agent-tls). */
export function agentTlsEnv(pki: PcapperPki): Record<string, string> {
  return { PCAPPER_TLS_CERT: pki.agent.cert, PCAPPER_TLS_KEY: pki.agent.key, PCAPPER_CA: pki.ca.cert };
}

export { makePcapperPki, type PcapperPki };

/** `pcapper agent` as a child process, through the shipped entry point (node dist/src/bin/pcapper.js agent). */
export class AgentProcess {
  child: ChildProcess | undefined;
  /** https://127.0.0.1:<port> (the agents of these tests listen on loopback in the host's netns). */
  endpoint = '';
  readonly pki: PcapperPki;

  constructor(readonly o: AgentProcessOptions) {
    this.pki = o.pki ?? makePcapperPki(join(o.dataDir, '..', `pki-${o.node}`));
    this.keysDir = o.keysDir ?? makeKeysDir(join(o.dataDir, '..', `keys-${o.node}`));
  }

  /** The encryption keys dir (layout of the mounted Secret pcapper-encryption-keys). */
  readonly keysDir: string;

  async start(timeoutMs = 30_000): Promise<void> {
    mkdirSync(this.o.dataDir, { recursive: true, mode: 0o700 });
    const log = createWriteStream(this.o.logFile, { flags: 'a' });
    const script = join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js');
    const child = spawn(process.execPath, ['--enable-source-maps', script, 'agent'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        NODE_NAME: this.o.node,
        KUBECONFIG: this.o.kubeconfig,
        PCAPPER_DATA_DIR: this.o.dataDir,
        PCAPPER_LISTEN: '127.0.0.1:0',
        PCAPPER_LOG_FORMAT: 'text',
        PCAPPER_STATUS_INTERVAL: '0.5s',
        PCAPPER_DISK_CHECK_INTERVAL: '0.3s',
        MIN_FREE_DISK: '1G',
        ...agentTlsEnv(this.pki),
        PCAPPER_KEYRING_DIR: this.keysDir,
        ...this.o.env,
      },
    });
    this.child = child;
    child.stdout?.pipe(log, { end: false });
    let buf = '';
    this.endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent ${this.o.node} did not start within ${timeoutMs} ms; see ${this.o.logFile}`)), timeoutMs);
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (c: string) => {
        log.write(c);
        if (this.endpoint) return;
        buf += c;
        const m = /agent started .*listen=(\S+)/.exec(buf);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(`https://${m[1]}`);
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`agent ${this.o.node} exited (${code ?? sig}) during start; see ${this.o.logFile}:\n${buf.slice(-2000)}`));
      });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Sends `signal` and waits for the process to exit. */
  /** Sends `signal`, waits for the exit (SIGKILL after timeoutMs); resolves with the exit code or signal. */
  async kill(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | NodeJS.Signals | null> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? c?.signalCode ?? null;
    const exited = new Promise<number | NodeJS.Signals | null>((r) => c.once('exit', (code, sig) => r(code ?? sig)));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    const how = await exited;
    clearTimeout(t);
    return how;
  }
}

/** pids of tcpdump processes whose command line mentions `dir` (the agent's data directory). */
export function tcpdumpPids(dir: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(n)) continue;
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${n}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue; // zombie: already dead
    } catch {
      continue;
    }
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${n}/cwd`); // tcpdump -w - runs in its target directory
    } catch {
      // gone, or not ours to read
    }
    if (cmd.some((a) => a === 'tcpdump' || a.endsWith('/tcpdump')) && (cwd.startsWith(dir + '/') || cmd.some((a) => a.startsWith(dir + '/')))) out.push(Number(n));
  }
  return out;
}

export type PlannedTarget =
  | { kind: 'pod'; namespace: string; pod: string; podUID?: string; node: string; interface?: string }
  | { kind: 'node'; node: string; interface: string };

/**
 * Plans status.targets the way the controller does: server-side apply of the identity fields as
 * field manager `pcapper-controller` (src/api/packetcapture.ts ownership contract).
 */
export async function planTargets(kc: k8s.KubeConfig, namespace: string, name: string, targets: PlannedTarget[]): Promise<void> {
  const entries: TargetStatus[] = targets.map((t) => ({ name: targetKey(t.kind === 'pod' ? { kind: 'pod', namespace: t.namespace, pod: t.pod } : t), ...t }));
  await applyStatus(kc, namespace, name, { progress: 'scheduled', targets: entries }, CONTROLLER_FIELD_MANAGER, { force: true });
}

export async function getCapture(kc: k8s.KubeConfig, namespace: string, name: string): Promise<PacketCapture> {
  return getPacketCapture(kc, namespace, name);
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * TLS options of a client of an agent: verifies the agent's certificate against the pcapper CA
 * and its name (as the pcapper server does) and presents `client` (null: no certificate).
 */
export function agentTls(pki: PcapperPki, client: CertPair | null): https.RequestOptions {
  return { ca: pki.caPem, servername: AGENT_DNS, agent: false, ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}) };
}

/** GET over HTTPS with `tls` (agentTls()) and optional headers. */
export function httpRequest(url: string, tls: https.RequestOptions, headers: Record<string, string> = {}, method = 'GET'): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ...tls, method, headers, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

// ---- a whole environment for the benchmarks ------------------------------------------------

export interface AgentEnv {
  cluster: Cluster;
  kubelet: SimKubelet;
  agents: Map<string, AgentProcess>;
  tmp: string;
  pki: PcapperPki;
  controller: ControllerHandle | undefined;
  pods: Map<string, SimPod>;
  dataDir(node: string): string;
  stop(): Promise<void>;
}

/**
 * Control plane + simulated nodes + one agent process per node (+ the real controller
 * in-process when `controller` is set). Everything is removed by stop().
 */
export async function startAgentEnv(opts: {
  nodes: string[];
  pods: Array<{ namespace: string; name: string; node: string; labels?: Record<string, string> }>;
  controller: boolean;
  agentEnv?: Record<string, string>;
}): Promise<AgentEnv> {
  const tmp = mkdtempSync('/tmp/pcapper-agent-env-');
  const cluster = await startCluster();
  const stops: Array<() => Promise<unknown>> = [async () => cluster.stop()];
  const env: AgentEnv = {
    cluster,
    kubelet: new SimKubelet(cluster.kubeConfig),
    agents: new Map(),
    tmp,
    pki: makePcapperPki(join(tmp, 'pki')),
    controller: undefined,
    pods: new Map(),
    dataDir: (node) => join(tmp, node, 'data'),
    stop: async () => {
      for (const a of env.agents.values()) await a.kill('SIGTERM').catch(() => undefined);
      await env.controller?.stop().catch(() => undefined);
      await env.kubelet.close().catch(() => undefined);
      for (const s of stops.reverse()) await s().catch(() => undefined);
      for (const pid of tcpdumpPids(tmp)) process.kill(pid, 'SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    },
  };
  try {
    const kubeconfig = await installForAgents(cluster);
    for (const n of opts.nodes) await env.kubelet.addNode(n);
    for (const p of opts.pods) env.pods.set(`${p.namespace}/${p.name}`, await env.kubelet.createPod(p));
    if (opts.controller) {
      env.controller = runController({ kc: cluster.kubeConfig });
      await env.controller.ready;
    }
    for (const n of opts.nodes) {
      const a = new AgentProcess({
        node: n,
        dataDir: env.dataDir(n),
        kubeconfig,
        logFile: join(tmp, `${n}-agent.log`),
        pki: env.pki,
        env: { PCAPPER_HOST_NETNS: env.kubelet.node(n)?.net?.netnsPath ?? '', PCAPPER_MAX_CAPTURES: '100', ...opts.agentEnv },
      });
      env.agents.set(n, a);
      await a.start();
    }
  } catch (e) {
    await env.stop();
    throw e;
  }
  return env;
}

/** CPU seconds (user+system) and RSS bytes of a process, from /proc. */
export function procUsage(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuSeconds: ticks / 100, rssBytes: Number(rss?.[1] ?? 0) * 1024 };
}
