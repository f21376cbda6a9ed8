/**
 * A whole local pcapper installation for the demo and the CLI's end-to-end tests:
 *
 *   - a real kube-apiserver (startCluster) with the CRD and RBAC from deploy/pcapper.yaml (the
 *     Helm-rendered install, minus the DaemonSet/Deployment/Service that a kubelet would run);
 *   - the controller as a child process (`pcapper controller`) under its ServiceAccount;
 *   - one node agent per simulated node as a child process (NODE_NAME set, own data directory)
 *     under the agent's ServiceAccount;
 *   - simulated nodes and pods with real network namespaces (SimKubelet) and real traffic.
 *
 * `runDemo()` is `npm run demo`: demo pods labelled app=demo talk HTTP and DNS across two nodes
 * while `kubectl-pcap capture -l app=demo --duration 5s -w demo.pcapng` runs as its own process,
 * like a user would run it. Everything but demo.pcapng is removed afterwards, also on failure or
 * Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { startCluster, type Cluster } from './cluster.js';
import { SimKubelet, type SimPod } from './kubelet.js';
import { repoRoot } from './paths.js';
import { dnsQuery, httpGet, startDnsServer, startHttpServer, type ServerHandle } from './traffic.js';
import { AgentProcess } from '../agent-support.js';

export const SYSTEM_NAMESPACE = 'pcapper';
/** Kinds from deploy/pcapper.yaml that need a kubelet and image: run as local processes instead. */
const SKIPPED_KINDS = new Set(['DaemonSet', 'Deployment', 'Service']);

export interface StackOptions {
  /** Node names (default node-a, node-b). */
  nodes?: string[];
  /** Where logs go (default: a temp dir removed by stop() unless keepLogs). */
  dir?: string;
  /** Progress messages (default: stderr). */
  log?: (msg: string) => void;
}

export interface Stack {
  readonly cluster: Cluster;
  readonly kubelet: SimKubelet;
  readonly agents: Record<string, AgentProcess>;
  readonly dir: string;
  /** Paths of the controller's and agents' logs. */
  readonly logs: string[];
  stop(): Promise<void>;
}

async function kubectlOk(cluster: Cluster, args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** deploy/pcapper.yaml without the objects that need a kubelet (DaemonSet, Deployment, Service). */
export function installManifest(): string {
  const text = readFileSync(join(repoRoot(), 'deploy', 'pcapper.yaml'), 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJS() as { kind?: string } | null)
    .filter((o): o is { kind: string } => !!o && typeof o.kind === 'string' && !SKIPPED_KINDS.has(o.kind))
    .map((o) => stringify(o))
    .join('---\n');
}

class ControllerProcess {
  child: ChildProcess | undefined;
  constructor(
    readonly kubeconfig: string,
    readonly logFile: string,
  ) {}

  async start(): Promise<void> {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, ['--enable-source-maps', join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js'), 'controller', '--kubeconfig', this.kubeconfig, '--log-format', 'text', '--resolve-grace', '3'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', POD_NAME: 'pcapper-controller-local' },
    });
    this.child = child;
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    // started = alive after a moment (it logs JSON/text; no readiness endpoint needed here)
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, 1000);
      child.once('exit', (code, sig) => {
        clearTimeout(t);
        reject(new Error(`the controller exited (${code ?? sig}) during start; see ${this.logFile}`));
      });
    });
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}

/** Starts cluster, install, controller, simulated nodes and their agents. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'pcapper-stack-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
    cleanups.length = 0;
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    log('starting the local control plane (kube-apiserver v1.34 + etcd)...');
    const cluster = await startCluster();
    cleanups.push(() => cluster.stop());
    log(`  apiserver at ${cluster.server} (state in ${cluster.dir}; logs in ${dir})`);
    log('installing the CRD and RBAC (deploy/pcapper.yaml)...');
    await kubectlOk(cluster, ['apply', '--server-side', '-f', '-'], installManifest());
    await kubectlOk(cluster, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/packetcaptures.pcapper.dev']);
    const ctlKc = await cluster.serviceAccountKubeConfig(SYSTEM_NAMESPACE, 'pcapper-controller', 24 * 3600);
    const agentKc = await cluster.serviceAccountKubeConfig(SYSTEM_NAMESPACE, 'pcapper-agent', 24 * 3600);
    const tokenOf = (kc: typeof ctlKc): string => {
      const t = kc.getCurrentUser()?.token;
      if (!t) throw new Error('no service account token');
      return t;
    };
    const ctlPath = cluster.writeKubeconfig('pcapper-controller', tokenOf(ctlKc));
    const agentPath = cluster.writeKubeconfig('pcapper-agent', tokenOf(agentKc));

    const kubelet = new SimKubelet(cluster.kubeConfig);
    log(`  simulated nodes and pods: harness run ${kubelet.run.id} (network namespaces ${kubelet.run.netnsName('*')})`);
    cleanups.push(async () => {
      const errs = await kubelet.close();
      for (const e of errs) log(`kubelet cleanup: ${e}`);
    });
    const logs: string[] = [];
    log('starting the controller...');
    const ctl = new ControllerProcess(ctlPath, join(dir, 'controller.log'));
    logs.push(ctl.logFile);
    cleanups.push(() => ctl.stop());
    await ctl.start();

    const agents: Record<string, AgentProcess> = {};
    for (const node of opts.nodes ?? ['node-a', 'node-b']) {
      const n = await kubelet.addNode(node);
      const a = new AgentProcess({
        node,
        dataDir: join(dir, node, 'data'),
        kubeconfig: agentPath,
        logFile: join(dir, `${node}-agent.log`),
        env: { ...(n.net ? { PCAPPER_HOST_NETNS: n.net.netnsPath } : {}), PCAPPER_LOG_FORMAT: 'text' },
      });
      logs.push(a.o.logFile);
      cleanups.push(() => a.kill('SIGTERM'));
      await a.start();
      agents[node] = a;
      log(`  node ${node} (${n.ip}) with its agent at ${a.endpoint}`);
    }
    return { cluster, kubelet, agents, dir, logs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
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

/** Runs kubectl-pcap as its own process (like a user), output passed through. */
export function runKubectlPcap(args: string[], opts: { cwd: string; kubeconfig: string; stdio?: 'inherit' | 'pipe' }): { child: ChildProcess; done: Promise<RunResult> } {
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'src', 'bin', 'kubectl-pcap.js'), ...args], {
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
    cli = runKubectlPcap(args, { cwd: opts.cwd, kubeconfig: stack.cluster.kubeconfigPath });
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
