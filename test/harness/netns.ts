// Real network plumbing for simulated nodes and pods, plus the per-run bookkeeping that lets
// every namespace, cgroup and process the harness creates be removed again, also after a crash.
//
// Topology (everything lives in network namespaces this module creates; nothing is added to the
// host's own namespace, nothing routes to the host's network):
//
//   pcp-<run>-fabric           bridge br0 ── p<run>n<N> (one port per node)
//        │ veth
//   pcp-<run>-n<N>  (a node)   eth0 (uplink) + p<run>v<M> (one per pod) enslaved to bridge cbr0,
//        │ veth                node IP 10.244.0.<N>/16 on cbr0
//   pcp-<run>-p<N>x<M> (a pod) eth0, pod IP 10.244.<N>.<M>/16
//
//   pcp-<run>-cp   (control plane) eth0 10.244.0.254/16, veth into the fabric bridge: kube-apiserver
//        runs here, so pods and nodes reach it over the fabric exactly as they reach a real one
//   pcp-<run>-client  (the "laptop") lo only: an apiserver forwarder on 127.0.0.1, nothing else
//
// One flat L2 segment (10.244.0.0/16): pods on every node reach each other and every node IP.
// A node-interface capture runs in the node's namespace (on cbr0, eth0 or a pod's host veth).
//
// Bookkeeping: a HarnessRun writes a JSON state file under os.tmpdir()/pcapper-harness/<runid>.json
// *before* it creates anything; cleanupRun(runid) and cleanupStale() use it (plus name-prefix
// sweeps) to remove leftovers. Every command is run with an argv array, never through a shell.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, lstatSync, openSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { allHierarchyRoots, removeCgroupTree, type CgroupRecorder } from './cgroup.js';

// ---------------------------------------------------------------------------------------------
// commands

export class CommandError extends Error {
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly stderr: string,
    readonly stdout: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  /** written to the command's stdin */
  input?: string;
  timeoutMs?: number;
}

/** Runs a command (argv, no shell); resolves with stdout, rejects with a CommandError carrying stderr. */
export function runCommand(file: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const msg = `${[file, ...args].join(' ')} failed: ${stderr.trim() || err.message}`;
        reject(new CommandError(msg, [file, ...args], stderr, stdout, { cause: err }));
      } else resolve(stdout);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

function runSyncQuiet(file: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString();
  } catch {
    return undefined;
  }
}

/** Fails with a clear message when not root: the tests must fail (never skip) without privileges. */
export function assertRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('pcapper test harness: network namespaces, veths, cgroups and tcpdump need root: run the tests as root (sudo npm test)');
  }
}

// ---------------------------------------------------------------------------------------------
// processes

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), to tell a pid from a reused one. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function killAndWait(pids: Iterable<number>, deadlineMs = 3000): number[] {
  const killed: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + deadlineMs;
  while (killed.some(processAlive) && Date.now() < deadline) sleepSync(10);
  return killed;
}

// ---------------------------------------------------------------------------------------------
// run state

export const STATE_DIR = join(tmpdir(), 'pcapper-harness');
export const NETNS_PREFIX = 'pcp-';
export const CGROUP_PREFIX = 'pcapper-harness-';

export interface RecordedProcess {
  pid: number;
  start: string;
  what: string;
}

export interface RunState {
  runId: string;
  ownerPid: number;
  ownerStart: string;
  createdAt: string;
  netns: string[];
  cgroups: string[];
  processes: RecordedProcess[];
}

export interface CleanupReport {
  runId: string;
  killed: number[];
  netns: string[];
  cgroups: string[];
  errors: string[];
}

function newRunId(): string {
  // 6 base-36 chars: short enough for 15-char interface names, never mistaken for a container ID
  const b = randomBytes(6);
  return Array.from(b, (x) => '0123456789abcdefghijklmnopqrstuvwxyz'[x % 36]).join('');
}

function stateFile(runId: string): string {
  return join(STATE_DIR, `${runId}.json`);
}

function readState(runId: string): RunState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(runId), 'utf8')) as RunState;
  } catch {
    return undefined;
  }
}

const liveRuns = new Set<HarnessRun>();
let handlersInstalled = false;
let staleSwept = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const r of liveRuns) r.cleanup();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const handler = (): void => {
      for (const r of liveRuns) r.cleanup();
      process.removeListener(sig, handler);
      process.kill(process.pid, sig); // default action (or the next handler) now applies
    };
    process.on(sig, handler);
  }
}

/**
 * One harness run: a unique id used as a name prefix, and a state file listing everything created.
 * `HarnessRun.current()` is the process-wide default every harness object uses unless given another.
 */
export class HarnessRun implements CgroupRecorder {
  static #current: HarnessRun | undefined;

  static current(): HarnessRun {
    if (!HarnessRun.#current || HarnessRun.#current.closed) HarnessRun.#current = new HarnessRun();
    return HarnessRun.#current;
  }

  readonly id: string;
  private state: RunState;
  private closed = false;

  constructor(id: string = newRunId()) {
    assertRoot();
    if (!/^[a-z0-9]{1,8}$/.test(id)) throw new Error(`run id must be 1-8 lowercase alphanumerics, got ${JSON.stringify(id)}`);
    this.id = id;
    this.state = {
      runId: id,
      ownerPid: process.pid,
      ownerStart: procStartTime(process.pid) ?? '',
      createdAt: new Date().toISOString(),
      netns: [],
      cgroups: [],
      processes: [],
    };
    this.persist();
    liveRuns.add(this);
    installExitHandlers();
    if (!staleSwept) {
      // the first run of a process removes what crashed earlier runs left behind
      staleSwept = true;
      cleanupStale();
    }
  }

  get stateFile(): string {
    return stateFile(this.id);
  }

  /** `pcp-<run>-<suffix>` */
  netnsName(suffix: string): string {
    return `${NETNS_PREFIX}${this.id}-${suffix}`;
  }

  /** `p<run><suffix>`, at most 15 characters (IFNAMSIZ - 1). */
  ifName(suffix: string): string {
    const n = `p${this.id}${suffix}`;
    if (n.length > 15) throw new Error(`interface name ${n} is longer than 15 characters`);
    return n;
  }

  /** Per-run cgroup root (`pcapper-harness-<run>`), relative to each hierarchy's mount point. */
  get cgroupRoot(): string {
    return `${CGROUP_PREFIX}${this.id}`;
  }

  snapshot(): Readonly<RunState> {
    return structuredClone(this.state);
  }

  recordNetns(name: string): void {
    if (!this.state.netns.includes(name)) this.state.netns.push(name);
    this.persist();
  }
  forgetNetns(name: string): void {
    this.state.netns = this.state.netns.filter((n) => n !== name);
    this.persist();
  }
  recordCgroup(dir: string): void {
    if (!this.state.cgroups.includes(dir)) this.state.cgroups.push(dir);
    this.persist();
  }
  forgetCgroup(dir: string): void {
    this.state.cgroups = this.state.cgroups.filter((d) => d !== dir);
    this.persist();
  }
  recordProcess(pid: number, what: string): void {
    this.state.processes.push({ pid, start: procStartTime(pid) ?? '', what });
    this.persist();
  }
  forgetProcess(pid: number): void {
    this.state.processes = this.state.processes.filter((p) => p.pid !== pid);
    this.persist();
  }

  /** Synchronous (usable from an 'exit' handler): removes everything of this run. Idempotent. */
  cleanup(): CleanupReport {
    const report = cleanupRun(this.id, this.state);
    this.state = { ...this.state, netns: [], cgroups: [], processes: [] };
    this.closed = true;
    liveRuns.delete(this);
    return report;
  }

  private persist(): void {
    if (this.closed) {
      this.closed = false;
      liveRuns.add(this);
    }
    mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
    const st = lstatSync(STATE_DIR);
    if (!st.isDirectory() || st.uid !== process.getuid?.()) {
      throw new Error(`${STATE_DIR} is not a directory owned by uid ${process.getuid?.()}: refusing to write harness state there`);
    }
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 2));
    renameSync(tmp, this.stateFile);
  }
}

/** Names of all network namespaces (`ip netns list`). */
export function listNetns(): string[] {
  const out = runSyncQuiet('ip', ['netns', 'list']) ?? '';
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Pids of processes inside a named network namespace. */
export function netnsPids(name: string): number[] {
  return (runSyncQuiet('ip', ['netns', 'pids', name]) ?? '')
    .split('\n')
    .filter((l) => /^\d+$/.test(l.trim()))
    .map(Number);
}

/**
 * Removes everything a run created: its recorded processes (pid + start time must still match),
 * every process inside its namespaces or cgroups, its cgroup directories, its network namespaces
 * (and with them every veth and bridge inside), and its state file. Synchronous, idempotent,
 * best effort: failures are collected in `errors`, never thrown.
 */
export function cleanupRun(runId: string, known?: RunState): CleanupReport {
  const state = known ?? readState(runId);
  const report: CleanupReport = { runId, killed: [], netns: [], cgroups: [], errors: [] };
  const netnsPrefix = `${NETNS_PREFIX}${runId}-`;
  const netns = new Set([...(state?.netns ?? []), ...listNetns().filter((n) => n.startsWith(netnsPrefix))]);

  // 1. processes: recorded ones, and whatever runs inside our namespaces (servers, tcpdump, ...)
  const victims = new Set<number>();
  for (const p of state?.processes ?? []) if (procStartTime(p.pid) === p.start && p.start !== '') victims.add(p.pid);
  for (const n of netns) for (const pid of netnsPids(n)) victims.add(pid);
  victims.delete(process.pid);
  report.killed.push(...killAndWait(victims));

  // 2. cgroups: recorded leaves, then the per-run root in every hierarchy (kills what is left inside)
  const roots = allHierarchyRoots();
  const recorded = [...(state?.cgroups ?? [])].sort((a, b) => b.length - a.length);
  const cgroupDirs = [...recorded, ...roots.map((root) => join(root, `${CGROUP_PREFIX}${runId}`))];
  for (const dir of cgroupDirs) {
    if (!existsSync(dir)) continue;
    try {
      report.killed.push(...removeCgroupTree(dir));
      report.cgroups.push(dir);
    } catch (err) {
      report.errors.push(`${dir}: ${String((err as Error).cause ?? err)}`);
    }
  }
  // parents of recorded leaves that are now empty (e.g. kubepods.slice/...), up to the hierarchy root
  for (const leaf of recorded) {
    const root = roots.find((r) => leaf.startsWith(`${r}/`));
    if (!root) continue;
    for (let d = dirname(leaf); d.startsWith(`${root}/`); d = dirname(d)) {
      try {
        rmdirSync(d);
      } catch {
        break; // not empty (another container or run still uses it) or already gone
      }
    }
  }

  // 3. network namespaces (deleting one destroys its veth ends; the peer end goes with it)
  for (const n of netns) {
    if (runSyncQuiet('ip', ['netns', 'delete', n]) !== undefined || !listNetns().includes(n)) report.netns.push(n);
    else report.errors.push(`ip netns delete ${n} failed`);
  }

  rmSync(stateFile(runId), { force: true });
  return report;
}

function ownerAlive(st: RunState): boolean {
  return procStartTime(st.ownerPid) === st.ownerStart && processAlive(st.ownerPid);
}

/** Cleans up every run whose owning process is gone (crashed or killed test), plus unowned leftovers. */
export function cleanupStale(): CleanupReport[] {
  const reports: CleanupReport[] = [];
  const live = new Set<string>();
  let files: string[] = [];
  try {
    files = readdirSync(STATE_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    /* no state dir: nothing recorded */
  }
  for (const f of files) {
    const runId = f.slice(0, -'.json'.length);
    const st = readState(runId);
    if (st && ownerAlive(st)) live.add(runId);
    else reports.push(cleanupRun(runId, st));
  }
  // leftovers with our naming but no state file (e.g. the state dir was wiped)
  const orphanIds = new Set<string>();
  for (const n of listNetns()) {
    const m = /^pcp-([a-z0-9]{6})-(?:fabric|cp|client|n\d+|p\d+x\d+)$/.exec(n); // only names PodNetwork makes
    if (m?.[1] && !live.has(m[1])) orphanIds.add(m[1]);
  }
  for (const root of allHierarchyRoots()) {
    let entries: string[] = [];
    try {
      entries = readdirSync(root);
    } catch {
      continue;
    }
    for (const e of entries) {
      const m = /^pcapper-harness-([a-z0-9]{6})$/.exec(e);
      if (m?.[1] && !live.has(m[1])) orphanIds.add(m[1]);
    }
  }
  for (const id of orphanIds) {
    if (reports.some((r) => r.runId === id)) continue;
    const st = readState(id); // a run may have started since we listed the state files
    if (st && ownerAlive(st)) continue;
    reports.push(cleanupRun(id, st));
  }
  return reports;
}

// ---------------------------------------------------------------------------------------------
// pod network

export const POD_NETWORK_CIDR = '10.244.0.0/16';
/** The control plane's address on the fabric (kube-apiserver listens on :6443 there). */
export const CONTROL_PLANE_IP = '10.244.0.254';
/** Node indexes stop at 253 so that no node address can ever be CONTROL_PLANE_IP. */
const MAX_NODES = 253;
const MAX_PODS_PER_NODE = 254;

/** Something with a network namespace: a simulated node or pod. */
export interface NetnsTarget {
  /** netns name (`ip netns` / `ip -n`) */
  netns: string;
  /** /run/netns/<name>, for `nsenter --net=` */
  netnsPath: string;
  ip: string;
}

export interface NodeNet extends NetnsTarget {
  name: string;
  index: number;
  /** bridge holding the node IP, the uplink and every pod's host-side veth */
  bridge: string;
  /** the node's uplink veth towards the fabric */
  uplink: string;
}

export interface PodNet extends NetnsTarget {
  /** caller's label for the pod (e.g. `ns/name`) */
  name: string;
  node: string;
  index: number;
  /** interface inside the pod */
  ifname: string;
  /** host-side veth, in the node's netns */
  hostVeth: string;
}

/**
 * Pure address plan: node N (1..253) is 10.244.0.N, its pod M (1..254) is 10.244.N.M, all in one
 * /16; 10.244.0.254 is the control plane (CONTROL_PLANE_IP).
 */
export function nodeAddress(nodeIndex: number): string {
  if (!Number.isInteger(nodeIndex) || nodeIndex < 1 || nodeIndex > MAX_NODES) throw new RangeError(`node index ${nodeIndex} out of 1..${MAX_NODES}`);
  return `10.244.0.${nodeIndex}`;
}
export function podAddress(nodeIndex: number, podIndex: number): string {
  nodeAddress(nodeIndex);
  if (!Number.isInteger(podIndex) || podIndex < 1 || podIndex > MAX_PODS_PER_NODE) throw new RangeError(`pod index ${podIndex} out of 1..${MAX_PODS_PER_NODE}`);
  return `10.244.${nodeIndex}.${podIndex}`;
}

async function ipBatch(netns: string, lines: readonly string[]): Promise<void> {
  // `ip -batch` takes whitespace-separated words per line: our names and addresses have no spaces.
  await runCommand('ip', ['-n', netns, '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/**
 * Waits until every named interface in a netns is operationally UP. The kernel applies carrier
 * changes (and attaches the device's qdisc) from its rate-limited linkwatch worker, up to ~1 s
 * late; until then packets are dropped, so a first ARP request would be lost and retried 1 s later.
 */
export async function waitLinksUp(netns: string, ifnames: readonly string[], timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await runCommand('ip', ['-n', netns, '-o', 'link', 'show']);
    const up = new Set<string>();
    for (const line of out.split('\n')) {
      const m = /^\d+:\s+([^:@\s]+)[^:]*:.*\bstate UP\b/.exec(line);
      if (m?.[1]) up.add(m[1]);
    }
    const missing = ifnames.filter((n) => !up.has(n));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`interfaces ${missing.join(', ')} in netns ${netns} not up after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function disableIpv6(netnsPath: string): Promise<void> {
  // no router solicitations / DAD noise in captures
  await runCommand('nsenter', [`--net=${netnsPath}`, '--', 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
}

export class PodNetwork {
  readonly fabric: string;
  private fabricReady: Promise<void> | undefined;
  private readonly nodes = new Map<string, NodeNet>();
  private readonly pods = new Map<string, PodNet>();
  private readonly usedPodIdx = new Map<string, Set<number>>();
  private cp: NetnsTarget | undefined;
  private client: NetnsTarget | undefined;
  private readonly lastPodIdx = new Map<string, number>();

  constructor(readonly run: HarnessRun = HarnessRun.current()) {
    this.fabric = run.netnsName('fabric');
  }

  private async addNetns(name: string): Promise<void> {
    this.run.recordNetns(name); // before creating: a crash in between still gets it cleaned up
    await runCommand('ip', ['netns', 'add', name]);
    await disableIpv6(`/run/netns/${name}`);
  }

  private ensureFabric(): Promise<void> {
    this.fabricReady ??= (async () => {
      await this.addNetns(this.fabric);
      await ipBatch(this.fabric, ['link set lo up', 'link add br0 type bridge', 'link set br0 up']);
    })();
    return this.fabricReady;
  }

  node(name: string): NodeNet | undefined {
    return this.nodes.get(name);
  }

  /**
   * The "laptop": a network namespace with only a loopback interface and no route anywhere.
   * cluster.ts puts an apiserver forwarder on its 127.0.0.1, so a process run inside can open TCP
   * connections to the API server's port and to nothing else (not even this machine's gateway).
   */
  async addClientNetns(): Promise<NetnsTarget> {
    if (this.client) return this.client;
    const netns = this.run.netnsName('client');
    await this.addNetns(netns);
    await ipBatch(netns, ['link set lo up']);
    this.client = { netns, netnsPath: `/run/netns/${netns}`, ip: '127.0.0.1' };
    return this.client;
  }

  /** The control-plane namespace, once addControlPlane() created it. */
  get controlPlane(): NetnsTarget | undefined {
    return this.cp;
  }

  /**
   * Creates the control-plane namespace `pcp-<run>-cp`: eth0 with CONTROL_PLANE_IP/16, its veth
   * peer a port of the fabric bridge. It is attached like a node, but no pod lives behind it.
   */
  async addControlPlane(): Promise<NetnsTarget> {
    if (this.cp) return this.cp;
    const netns = this.run.netnsName('cp');
    const cp: NetnsTarget = { netns, netnsPath: `/run/netns/${netns}`, ip: CONTROL_PLANE_IP };
    try {
      await this.ensureFabric();
      await this.addNetns(netns);
      const fabricPort = this.run.ifName('cp');
      await ipBatch(netns, [
        'link set lo up',
        `link add eth0 type veth peer name ${fabricPort} netns ${this.fabric}`,
        `addr add ${CONTROL_PLANE_IP}/16 dev eth0`,
        'link set eth0 up',
      ]);
      await ipBatch(this.fabric, [`link set ${fabricPort} master br0`, `link set ${fabricPort} up`]);
      await Promise.all([waitLinksUp(netns, ['eth0']), waitLinksUp(this.fabric, [fabricPort])]);
    } catch (err) {
      await this.deleteNetns(netns).catch(() => undefined);
      throw new Error('cannot create the control-plane network namespace', { cause: err });
    }
    this.cp = cp;
    return cp;
  }

  listNodes(): NodeNet[] {
    return [...this.nodes.values()];
  }

  listPods(): PodNet[] {
    return [...this.pods.values()];
  }

  /** Creates a node namespace with bridge `cbr0` (node IP) and uplink `eth0` into the fabric. */
  async addNode(name: string): Promise<NodeNet> {
    if (this.nodes.has(name)) throw new Error(`node ${name} already has a network`);
    const used = new Set([...this.nodes.values()].map((n) => n.index));
    let index = 1;
    while (used.has(index)) index++;
    const ip = nodeAddress(index);
    const netns = this.run.netnsName(`n${index}`);
    const node: NodeNet = { name, index, netns, netnsPath: `/run/netns/${netns}`, ip, bridge: 'cbr0', uplink: 'eth0' };
    this.nodes.set(name, node);
    this.usedPodIdx.set(name, new Set());
    try {
      await this.ensureFabric();
      await this.addNetns(netns);
      const fabricPort = this.run.ifName(`n${index}`);
      await ipBatch(netns, [
        'link set lo up',
        'link add cbr0 type bridge',
        `addr add ${ip}/16 dev cbr0`,
        'link set cbr0 up',
        `link add eth0 type veth peer name ${fabricPort} netns ${this.fabric}`,
        'link set eth0 master cbr0',
        'link set eth0 up',
      ]);
      await ipBatch(this.fabric, [`link set ${fabricPort} master br0`, `link set ${fabricPort} up`]);
      await Promise.all([waitLinksUp(netns, ['eth0', 'cbr0']), waitLinksUp(this.fabric, [fabricPort])]);
    } catch (err) {
      await this.removeNode(name).catch(() => undefined);
      throw new Error(`cannot create the network of node ${name}`, { cause: err });
    }
    return node;
  }

  /** Creates a pod namespace with `eth0` (pod IP), its veth peer enslaved to the node's bridge. */
  async addPod(nodeName: string, podName: string): Promise<PodNet> {
    const node = this.nodes.get(nodeName);
    const used = this.usedPodIdx.get(nodeName);
    if (!node || !used) throw new Error(`node ${nodeName} has no network: call addNode first`);
    if (this.pods.has(podName)) throw new Error(`pod ${podName} already has a network`);
    // like a real IPAM, hand out the next free address after the last one, so that a replaced
    // pod (DaemonSet rollout, restart) gets a new IP instead of its predecessor's
    const start = (this.lastPodIdx.get(nodeName) ?? 0) % MAX_PODS_PER_NODE;
    let index = 0;
    for (let i = 1; i <= MAX_PODS_PER_NODE; i++) {
      const cand = ((start + i - 1) % MAX_PODS_PER_NODE) + 1;
      if (!used.has(cand)) {
        index = cand;
        break;
      }
    }
    if (index === 0) throw new Error(`node ${nodeName} has no free pod address left`);
    this.lastPodIdx.set(nodeName, index);
    const ip = podAddress(node.index, index);
    used.add(index);
    const netns = this.run.netnsName(`p${node.index}x${index}`);
    const hostVeth = this.run.ifName(`v${index}`);
    const pod: PodNet = { name: podName, node: nodeName, index, netns, netnsPath: `/run/netns/${netns}`, ip, ifname: 'eth0', hostVeth };
    this.pods.set(podName, pod);
    try {
      await this.addNetns(netns);
      await ipBatch(netns, [
        'link set lo up',
        `link add eth0 type veth peer name ${hostVeth} netns ${node.netns}`,
        `addr add ${ip}/16 dev eth0`,
        'link set eth0 up',
      ]);
      await ipBatch(node.netns, [`link set ${hostVeth} master cbr0`, `link set ${hostVeth} up`]);
      await Promise.all([waitLinksUp(netns, ['eth0']), waitLinksUp(node.netns, [hostVeth])]);
    } catch (err) {
      await this.removePod(pod).catch(() => undefined);
      throw new Error(`cannot create the network of pod ${podName} on node ${nodeName}`, { cause: err });
    }
    return pod;
  }

  /** Kills whatever still runs in the pod's netns and deletes it (its veth pair goes with it). */
  async removePod(pod: PodNet): Promise<void> {
    await this.deleteNetns(pod.netns);
    this.pods.delete(pod.name);
    this.usedPodIdx.get(pod.node)?.delete(pod.index);
  }

  async removeNode(name: string): Promise<void> {
    const node = this.nodes.get(name);
    if (!node) return;
    for (const p of [...this.pods.values()]) if (p.node === name) await this.removePod(p);
    await this.deleteNetns(node.netns);
    this.nodes.delete(name);
    this.usedPodIdx.delete(name);
  }

  /** Removes every pod, node and the fabric. */
  async close(): Promise<void> {
    for (const n of [...this.nodes.keys()]) await this.removeNode(n);
    for (const ns of [this.cp, this.client]) if (ns) await this.deleteNetns(ns.netns);
    this.cp = undefined;
    this.client = undefined;
    if (this.fabricReady) {
      await this.fabricReady.catch(() => undefined);
      await this.deleteNetns(this.fabric);
      this.fabricReady = undefined;
    }
  }

  private async deleteNetns(name: string): Promise<void> {
    killAndWait(netnsPids(name));
    if (listNetns().includes(name)) await runCommand('ip', ['netns', 'delete', name]);
    this.run.forgetNetns(name);
  }
}

// ---------------------------------------------------------------------------------------------
// processes inside a namespace

/**
 * Waits (bounded) until a process has entered a network namespace: between fork and nsenter's
 * setns+exec the pid still lives in the caller's namespace.
 */
export async function waitInNetns(pid: number, netnsPath: string, timeoutMs = 5_000): Promise<void> {
  const want = statSync(netnsPath).ino;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (statSync(`/proc/${pid}/ns/net`).ino === want) return;
    } catch (err) {
      throw new Error(`process ${pid} exited before entering ${netnsPath}`, { cause: err });
    }
    if (Date.now() > deadline) throw new Error(`process ${pid} did not enter ${netnsPath} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** argv prefix that runs a command inside a target's network namespace. */
export function inNetns(target: Pick<NetnsTarget, 'netnsPath'>, argv: readonly string[]): [string, string[]] {
  return ['nsenter', [`--net=${target.netnsPath}`, '--', ...argv]];
}

export interface SpawnedProcess {
  pid: number;
  /** resolves with the exit code (or signal name) once the process is gone */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts a long-running process inside a netns (nsenter execs, so the pid is the command's own),
 * records it in the run so cleanup kills it, and forgets it when it exits.
 */
export function spawnInNetns(
  target: Pick<NetnsTarget, 'netnsPath'>,
  argv: readonly string[],
  opts: {
    run?: HarnessRun;
    what?: string;
    onStdout?: (chunk: string) => void;
    onStderr?: (chunk: string) => void;
    /** the process's whole environment (default: inherit the test's) */
    env?: Record<string, string>;
    cwd?: string;
    /** append stdout and stderr (those without a callback) to this file */
    logFile?: string;
    /** keep the test's event loop alive while the process runs (default: only with pipes) */
    ref?: boolean;
  } = {},
): SpawnedProcess {
  const run = opts.run ?? HarnessRun.current();
  const [file, args] = inNetns(target, argv);
  const logFd = opts.logFile ? openSync(opts.logFile, 'a', 0o600) : undefined;
  const out = logFd ?? 'ignore';
  let child;
  try {
    child = spawn(file, args, {
      stdio: ['ignore', opts.onStdout ? 'pipe' : out, opts.onStderr ? 'pipe' : out],
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
  } finally {
    if (logFd !== undefined) closeSync(logFd);
  }
  if (child.pid === undefined) throw new Error(`cannot start ${argv.join(' ')} in ${target.netnsPath}`);
  const pid = child.pid;
  run.recordProcess(pid, opts.what ?? argv.join(' ').slice(0, 120));
  child.stdout?.setEncoding('utf8').on('data', (c: string) => opts.onStdout?.(c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => opts.onStderr?.(c));
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      run.forgetProcess(pid);
      resolve(code ?? signal ?? -1);
    });
  });
  child.on('error', () => undefined);
  // A process without pipes must not keep the test's event loop alive: cleanup kills it.
  if (!opts.onStdout && !opts.onStderr && !opts.ref) child.unref();
  return {
    pid,
    exited,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => {
      child.ref(); // whoever kills usually awaits `exited`: keep the loop alive until it fires
      try {
        process.kill(pid, signal);
      } catch {
        /* gone */
      }
    },
  };
}
