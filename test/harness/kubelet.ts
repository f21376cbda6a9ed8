// A simulated kubelet for tests and the demo. There is no kubelet, scheduler or controller-manager:
// SimKubelet registers Node objects, creates Pod objects already bound to a node, gives each pod a
// real sandbox (network namespace + veth, one real process per container in a cgroup whose path
// holds the container ID, laid out like containerd/CRI-O do), and writes the status a kubelet
// would: phase Running, podIP(s), hostIP(s), conditions, containerStatuses[].containerID.
// Workload helpers create Deployment -> ReplicaSet -> Pods (and StatefulSet / DaemonSet) chains
// directly, with the owner references the real controllers would set.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { kubeconfigYaml, type Cluster } from './cluster.js';
import { NodeProber } from './prober.js';
import { ContainerCgroup, newContainerId, type CgroupLayout } from './cgroup.js';
import { HarnessRun, PodNetwork, spawnInNetns, waitInNetns, type NodeNet, type PodNet, type SpawnedProcess } from './netns.js';

// ---------------------------------------------------------------------------------------------
// the kernel side of a pod (usable without an apiserver)

export interface SandboxContainer {
  name: string;
  /** 64 hex */
  id: string;
  pid: number;
  cgroup: ContainerCgroup;
  process: SpawnedProcess;
}

export interface PodSandboxSpec {
  /** unique label, e.g. `namespace/name` */
  key: string;
  podUid: string;
  node: string;
  containers?: readonly string[];
  layout?: CgroupLayout;
  /**
   * Sandbox first, as a real runtime does: a pause-like process (`sleep infinity`) in the pod's
   * cgroup `.../pod<uid>/<sandbox id>` holds the netns before any app container; `onSandbox` runs
   * then (the kubelet writes Pending), and the app containers start `appDelayMs` later.
   */
  pause?: boolean;
  onSandbox?: (net: PodNet) => Promise<void>;
  appDelayMs?: number;
  /** what a container runs (default `sleep infinity`), by container name; a function is called once the pod has its IP */
  commands?: Readonly<Record<string, ContainerCommand>> | ((net: PodNet) => Readonly<Record<string, ContainerCommand>>);
}

/** A real process as a container's main process. */
export interface ContainerCommand {
  argv: readonly string[];
  /** the whole environment */
  env: Record<string, string>;
  cwd?: string;
  /** stdout and stderr go here (appended) */
  logFile?: string;
}

/** A pod's network namespace plus one real `sleep` process per container, each in its own cgroup. */
export class PodSandbox {
  private stopped = false;

  /** the sandbox's pause process (with `pause`), in the pod's cgroup; it holds the netns */
  pause: SandboxContainer | undefined;

  private constructor(
    private readonly network: PodNetwork,
    readonly net: PodNet,
    readonly containers: readonly SandboxContainer[],
  ) {}

  static async start(network: PodNetwork, spec: PodSandboxSpec): Promise<PodSandbox> {
    const run = network.run;
    const net = await network.addPod(spec.node, spec.key);
    const containers: SandboxContainer[] = [];
    const sandbox = new PodSandbox(network, net, containers);
    try {
      if (spec.pause) {
        const id = newContainerId();
        const cgroup = ContainerCgroup.create({ containerId: id, podUid: spec.podUid, root: run.cgroupRoot, ...(spec.layout ? { layout: spec.layout } : {}) }, { recorder: run });
        const proc = spawnInNetns(net, ['sleep', 'infinity'], { run, what: `sandbox ${spec.key} ${id}` });
        sandbox.pause = { name: 'POD', id, pid: proc.pid, cgroup, process: proc };
        await waitInNetns(proc.pid, net.netnsPath);
        cgroup.addProcess(proc.pid);
        await spec.onSandbox?.(net);
        if (spec.appDelayMs) await sleep(spec.appDelayMs);
      }
      const commands = typeof spec.commands === 'function' ? spec.commands(net) : spec.commands;
      for (const name of spec.containers ?? ['app']) {
        const id = newContainerId();
        const cgroup = ContainerCgroup.create(
          { containerId: id, podUid: spec.podUid, root: run.cgroupRoot, ...(spec.layout ? { layout: spec.layout } : {}) },
          { recorder: run },
        );
        const cmd = commands?.[name];
        const proc = cmd
          ? spawnInNetns(net, cmd.argv, {
              run,
              what: `container ${spec.key}/${name} ${id}`,
              env: cmd.env,
              ...(cmd.cwd ? { cwd: cmd.cwd } : {}),
              ...(cmd.logFile ? { logFile: cmd.logFile } : {}),
            })
          : spawnInNetns(net, ['sleep', 'infinity'], { run, what: `container ${spec.key}/${name} ${id}` });
        containers.push({ name, id, pid: proc.pid, cgroup, process: proc });
        // only a process already inside the pod netns may carry the container ID
        await waitInNetns(proc.pid, net.netnsPath);
        cgroup.addProcess(proc.pid);
      }
    } catch (err) {
      await sandbox.stop().catch(() => undefined);
      throw new Error(`cannot start the sandbox of pod ${spec.key}`, { cause: err });
    }
    return sandbox;
  }

  get ip(): string {
    return this.net.ip;
  }
  get netnsPath(): string {
    return this.net.netnsPath;
  }

  /** Kills the container processes (and anything else in their cgroups), removes the cgroups and the netns. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const all = [...this.containers, ...(this.pause ? [this.pause] : [])];
    for (const c of all) c.process.kill('SIGKILL');
    await Promise.all(all.map((c) => c.process.exited));
    for (const c of all) c.cgroup.remove();
    await this.network.removePod(this.net);
  }
}

// ---------------------------------------------------------------------------------------------
// the API side

export interface SimNode {
  name: string;
  /** InternalIP: the node netns's IP, or a placeholder address when created with network:false */
  ip: string;
  net: NodeNet | undefined;
}

export interface ContainerSpec {
  name: string;
  image?: string;
  ports?: { containerPort: number; name?: string; protocol?: string }[];
}

export interface CreatePodSpec {
  namespace: string;
  name: string;
  node: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: k8s.V1OwnerReference[];
  containers?: ContainerSpec[];
  /** false: API objects only (no netns, no process, no cgroup); for scale benchmarks. Default true. */
  network?: boolean;
  /** cgroup layout of the containers (default: the kubelet's, containerd-systemd) */
  cgroupLayout?: CgroupLayout;
  /** per pod: see SimKubeletOptions.sandboxFirst / appStartDelayMs / sandboxDelayMs */
  sandboxFirst?: boolean;
  appStartDelayMs?: number;
  sandboxDelayMs?: number;
}

/** A pod as the test sees it: API identity, node, IP, container IDs and (with a network) its sandbox. */
export interface SimPod {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  ip: string;
  hostIP: string;
  /** first container's ID (64 hex, without the `containerd://` prefix) */
  containerId: string;
  containerIds: string[];
  /** pid of the first container's process (undefined with network:false) */
  pid: number | undefined;
  /** `/run/netns/<name>` ('' with network:false) */
  netnsPath: string;
  netns: string;
  /** first container's cgroup, so traffic helpers can place servers in the container */
  cgroup: ContainerCgroup | undefined;
  sandbox: PodSandbox | undefined;
  /** sandboxFirst: Date.now() when the sandbox (netns + pause process) was complete */
  sandboxAt?: number;
  object: k8s.V1Pod;
}

export interface SimKubeletOptions {
  /** bookkeeping run; default: a new one that close() cleans up entirely */
  run?: HarnessRun;
  /** default: a new PodNetwork on the run, closed by close() */
  network?: PodNetwork;
  cgroupLayout?: CgroupLayout;
  /** containerd:// (default), cri-o://, docker:// */
  runtimeScheme?: string;
  /**
   * Start pods as a real runtime does (default false: sandbox and containers at once, then Running):
   * the sandbox first (netns + veth + a pause process in `.../pod<uid>/<sandbox id>`), the pod
   * written Pending with its IP and no container statuses, the app containers `appStartDelayMs`
   * later (default 100), then Running with container IDs.
   */
  sandboxFirst?: boolean;
  appStartDelayMs?: number;
  /** with sandboxFirst: the Pod object exists this long before its sandbox (a slow CNI); default 0 */
  sandboxDelayMs?: number;
  /**
   * The cluster whose fabric the pods join (so they reach the apiserver at 10.244.0.254 and it
   * reaches them); needed by runPod(). Its network is used unless `network` is given.
   */
  cluster?: KubeletCluster;
}

/** What the kubelet needs of the cluster (test/harness/cluster.ts Cluster). */
export type KubeletCluster = Pick<Cluster, 'inClusterServer' | 'caData' | 'serviceAccountToken' | 'network'>;

export interface ReadinessProbe {
  scheme?: 'HTTP' | 'HTTPS';
  path: string;
  /** number or container port name */
  port: number | string;
  /** default 500 ms */
  periodMs?: number;
  /** default 1000 ms */
  timeoutMs?: number;
}

export type EnvValue = string | { fieldRef: 'spec.nodeName' | 'status.podIP' | 'status.hostIP' | 'metadata.name' | 'metadata.namespace' | 'metadata.uid' | 'spec.serviceAccountName' };

export interface RunPodSpec {
  namespace: string;
  name: string;
  node: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: k8s.V1OwnerReference[];
  serviceAccountName?: string;
  container: {
    name: string;
    image?: string;
    /** the process (argv, never a shell); words under a Secret's mountPath are rewritten */
    argv: readonly string[];
    env?: Record<string, EnvValue>;
    ports?: { containerPort: number; name?: string; protocol?: string }[];
  };
  /** Secrets "mounted" read-only at mountPath (files in a 0700 temp dir; see runPod) */
  secretMounts?: { secretName: string; mountPath: string; /** a missing Secret mounts as an empty directory (the kubelet's `optional: true`) */ optional?: boolean }[];
  readinessProbe?: ReadinessProbe;
  /** the process's stdout+stderr (default <pod dir>/<container>.log) */
  logFile?: string;
  /** keep the pod's temp dir (secrets, kubeconfig) after deletion; default false */
  keepDir?: boolean;
  /** with sandboxFirst: awaited after the Pending write and before the app starts (a test waits for a state there) */
  beforeAppStart?: (pod: SimPod) => Promise<void>;
  /** per pod: see SimKubeletOptions.sandboxFirst / appStartDelayMs / sandboxDelayMs */
  sandboxFirst?: boolean;
  appStartDelayMs?: number;
  sandboxDelayMs?: number;
}

/** A pod whose container is a real process (runPod). */
export interface ProcessPod extends SimPod {
  /** 0700 temp dir: Secret volumes, kubeconfig */
  readonly dir: string;
  readonly logFile: string;
  kubeconfigPath: string | undefined;
  readonly spec: RunPodSpec;
  /** the Ready condition the kubelet last wrote */
  ready: boolean;
  /** exit code or signal once the process is gone */
  exit: number | string | undefined;
  lastProbe?: { status?: number; error?: string };
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface WorkloadResult<T> {
  workload: T;
  pods: SimPod[];
}

const SIM_IMAGE = 'registry.local/pcapper/sim:latest';
/** Label on every Pod and Node a SimKubelet creates (value: its run id), for bulk deletion. */
export const SIM_KUBELET_LABEL = 'sim.pcapper.dev/kubelet';
const KUBELET_VERSION = 'v1.34.0';
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

function statusCodeOf(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

/** Kubernetes' rand.String alphabet (no vowels, no confusable digits). */
function randSuffix(n: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class SimKubelet {
  readonly run: HarnessRun;
  readonly network: PodNetwork;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  private readonly ownsRun: boolean;
  private readonly ownsNetwork: boolean;
  private readonly layout: CgroupLayout;
  private readonly scheme: string;
  private readonly nodes = new Map<string, SimNode>();
  private readonly pods = new Map<string, SimPod>();
  private readonly workloads: { kind: 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet'; namespace: string; name: string }[] = [];
  private readonly namespaces = new Set<string>();
  private fakeIp = 0;
  private readonly cluster: KubeletCluster | undefined;
  private readonly probers = new Map<string, NodeProber>();
  private readonly processPods = new Map<string, { stopped: boolean }>();
  private readonly startOpts: { sandboxFirst: boolean; appStartDelayMs: number; sandboxDelayMs: number };

  /** The PodSandbox.start options of the sandbox-first start (the Pending write included), or {} . */
  private async sandboxFirst(
    pod: SimPod,
    spec: { sandboxFirst?: boolean; appStartDelayMs?: number; sandboxDelayMs?: number; beforeAppStart?: (pod: SimPod) => Promise<void> },
  ): Promise<Pick<PodSandboxSpec, 'pause' | 'onSandbox' | 'appDelayMs'>> {
    if (!(spec.sandboxFirst ?? this.startOpts.sandboxFirst)) return {};
    const late = spec.sandboxDelayMs ?? this.startOpts.sandboxDelayMs;
    if (late > 0) await sleep(late);
    return {
      pause: true,
      appDelayMs: spec.appStartDelayMs ?? this.startOpts.appStartDelayMs,
      onSandbox: async (net) => {
        pod.sandboxAt = Date.now();
        pod.ip = net.ip;
        pod.object = await this.writePendingStatus(pod);
        await spec.beforeAppStart?.(pod);
      },
    };
  }

  /** The status a kubelet writes once the sandbox is up and before any container runs. */
  private async writePendingStatus(pod: SimPod): Promise<k8s.V1Pod> {
    const now = new Date();
    const status: k8s.V1PodStatus = {
      phase: 'Pending',
      hostIP: pod.hostIP,
      hostIPs: [{ ip: pod.hostIP }],
      podIP: pod.ip,
      podIPs: [{ ip: pod.ip }],
      startTime: now,
      qosClass: 'BestEffort',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastTransitionTime: now },
        { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: now },
        { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: now },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
      ],
    };
    return this.core.patchNamespacedPodStatus({ name: pod.name, namespace: pod.namespace, body: { status } }, MERGE);
  }

  constructor(kc: k8s.KubeConfig, opts: SimKubeletOptions = {}) {
    this.cluster = opts.cluster;
    const network = opts.network ?? opts.cluster?.network;
    this.ownsRun = !opts.run && !network;
    this.run = network?.run ?? opts.run ?? new HarnessRun();
    this.ownsNetwork = !network;
    this.network = network ?? new PodNetwork(this.run);
    // Note: client-node 1.4 opens a new TLS connection per request (~12 ms each here). A shared
    // keep-alive https.Agent would avoid that, but node-fetch 2.7 then reports false "Premature
    // close" errors on chunked responses over reused sockets (and crashes the process), so don't.
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.layout = opts.cgroupLayout ?? 'containerd-systemd';
    this.startOpts = { sandboxFirst: opts.sandboxFirst ?? false, appStartDelayMs: opts.appStartDelayMs ?? 100, sandboxDelayMs: opts.sandboxDelayMs ?? 0 };
    this.scheme = opts.runtimeScheme ?? 'containerd://';
  }

  node(name: string): SimNode | undefined {
    return this.nodes.get(name);
  }
  pod(namespace: string, name: string): SimPod | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }
  listPods(): SimPod[] {
    return [...this.pods.values()];
  }

  private nextFakeIp(base: string): string {
    const n = ++this.fakeIp;
    return `${base}.${(n >> 8) & 255}.${n & 255}`;
  }

  /** Creates the namespace if it does not exist. */
  async ensureNamespace(name: string): Promise<void> {
    if (this.namespaces.has(name)) return;
    try {
      await this.core.createNamespace({ body: { metadata: { name } } });
    } catch (e) {
      if (statusCodeOf(e) !== 409) throw e;
    }
    this.namespaces.add(name);
  }

  /** Registers a Ready Node (and by default gives it a network namespace; InternalIP = its IP). */
  async addNode(name: string, opts: { labels?: Record<string, string>; network?: boolean } = {}): Promise<SimNode> {
    if (this.nodes.has(name)) throw new Error(`node ${name} already added`);
    const net = opts.network === false ? undefined : await this.network.addNode(name);
    const ip = net?.ip ?? this.nextFakeIp('10.243');
    const node: SimNode = { name, ip, net };
    this.nodes.set(name, node);
    const now = new Date();
    await this.core.createNode({
      body: {
        metadata: {
          name,
          labels: {
            'kubernetes.io/hostname': name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            ...opts.labels,
            [SIM_KUBELET_LABEL]: this.run.id,
          },
        },
      },
    });
    const cond = (type: string, status: string, reason: string): k8s.V1NodeCondition => ({
      type,
      status,
      reason,
      message: `simulated kubelet: ${reason}`,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    await this.core.patchNodeStatus(
      {
        name,
        body: {
          status: {
            conditions: [
              cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
              cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
              cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
              cond('Ready', 'True', 'KubeletReady'),
            ],
            addresses: [
              { type: 'InternalIP', address: ip },
              { type: 'Hostname', address: name },
            ],
            capacity: { cpu: '8', memory: '16Gi', pods: '250', 'ephemeral-storage': '100Gi' },
            allocatable: { cpu: '8', memory: '16Gi', pods: '250', 'ephemeral-storage': '100Gi' },
            daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
            nodeInfo: {
              machineID: randomBytes(16).toString('hex'),
              systemUUID: randomBytes(16).toString('hex'),
              bootID: randomBytes(16).toString('hex'),
              kernelVersion: 'simulated',
              osImage: 'pcapper simulated node',
              containerRuntimeVersion: `${this.scheme}1.7.0`,
              kubeletVersion: KUBELET_VERSION,
              kubeProxyVersion: KUBELET_VERSION,
              operatingSystem: 'linux',
              architecture: 'amd64',
            },
          },
        },
      },
      MERGE,
    );
    return node;
  }

  /** Creates a Pod bound to `node`, starts its sandbox (unless network:false) and writes a Running status. */
  async createPod(spec: CreatePodSpec): Promise<SimPod> {
    const node = this.nodes.get(spec.node);
    if (!node) throw new Error(`createPod ${spec.namespace}/${spec.name}: node ${spec.node} was not added to this kubelet`);
    const key = `${spec.namespace}/${spec.name}`;
    if (this.pods.has(key)) throw new Error(`pod ${key} already exists`);
    await this.ensureNamespace(spec.namespace);
    const containers = spec.containers ?? [{ name: 'app' }];
    const created = await this.core.createNamespacedPod({
      namespace: spec.namespace,
      body: {
        metadata: {
          name: spec.name,
          namespace: spec.namespace,
          labels: { ...spec.labels, [SIM_KUBELET_LABEL]: this.run.id },
          ...(spec.annotations ? { annotations: spec.annotations } : {}),
          ...(spec.ownerReferences ? { ownerReferences: spec.ownerReferences } : {}),
        },
        spec: {
          nodeName: spec.node,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 0,
          containers: containers.map((c) => ({ name: c.name, image: c.image ?? SIM_IMAGE, ...(c.ports ? { ports: c.ports } : {}) })),
        },
      },
    });
    const uid = created.metadata?.uid ?? '';
    const pod: SimPod = unstartedPod(spec, uid, node.ip, created);
    this.pods.set(key, pod);
    try {
      if (spec.network !== false) {
        if (!node.net) throw new Error(`node ${spec.node} was added with network:false; its pods need network:false too`);
        const first = await this.sandboxFirst(pod, spec);
        const sandbox = await PodSandbox.start(this.network, {
          key,
          podUid: uid,
          node: spec.node,
          containers: containers.map((c) => c.name),
          layout: spec.cgroupLayout ?? this.layout,
          ...first,
        });
        pod.sandbox = sandbox;
        pod.ip = sandbox.ip;
        pod.netnsPath = sandbox.netnsPath;
        pod.netns = sandbox.net.netns;
        pod.containerIds = sandbox.containers.map((c) => c.id);
        pod.pid = sandbox.containers[0]?.pid;
        pod.cgroup = sandbox.containers[0]?.cgroup;
      } else {
        pod.ip = this.nextFakeIp('10.242');
        pod.containerIds = containers.map(() => newContainerId());
      }
      pod.containerId = pod.containerIds[0] ?? '';
      pod.object = await this.writeRunningStatus(pod, containers);
    } catch (err) {
      await this.deletePod(spec.namespace, spec.name).catch(() => undefined);
      throw new Error(`createPod ${key} failed`, { cause: err });
    }
    return pod;
  }

  private async writeRunningStatus(pod: SimPod, containers: ContainerSpec[], ready = true): Promise<k8s.V1Pod> {
    const now = new Date();
    const cond = (type: string): k8s.V1PodCondition => ({
      type,
      status: ready || (type !== 'Ready' && type !== 'ContainersReady') ? 'True' : 'False',
      lastTransitionTime: now,
    });
    const status: k8s.V1PodStatus = {
      phase: 'Running',
      hostIP: pod.hostIP,
      hostIPs: [{ ip: pod.hostIP }],
      podIP: pod.ip,
      podIPs: [{ ip: pod.ip }],
      startTime: now,
      qosClass: 'BestEffort',
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(cond),
      containerStatuses: containers.map((c, i) => ({
        name: c.name,
        image: c.image ?? SIM_IMAGE,
        imageID: `${c.image ?? SIM_IMAGE}@sha256:${'0'.repeat(64)}`,
        containerID: `${this.scheme}${pod.containerIds[i] ?? ''}`,
        ready,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: now } },
      })),
    };
    return this.core.patchNamespacedPodStatus({ name: pod.name, namespace: pod.namespace, body: { status } }, MERGE);
  }

  // -------------------------------------------------------------------------------------------
  // pods that run a real program (components: pcapper server, agent, stand-ins)

  private prober(node: SimNode): NodeProber {
    let p = this.probers.get(node.name);
    if (!p) {
      if (!node.net) throw new Error(`node ${node.name} has no network to probe from`);
      p = new NodeProber(node.net.netnsPath, this.run);
      this.probers.set(node.name, p);
    }
    return p;
  }

  /**
   * Runs a real process as a pod, as a kubelet would: creates the Pod object (owner references,
   * labels, serviceAccountName, container ports, env with fieldRefs, Secret volumes), gives it a
   * sandbox network namespace on its node and starts `container.argv` inside it with
   *   - the container's env (fieldRefs resolved: spec.nodeName, status.podIP, metadata.name, ...);
   *   - each Secret "mounted": its keys written as 0600 files in a 0700 temp dir; env values and
   *     argv words under the mountPath are rewritten to that dir (there is no mount namespace);
   *   - with serviceAccountName, KUBECONFIG: https://10.244.0.254:6443 (over the fabric), the
   *     cluster CA and a TokenRequest token bound to the Pod.
   * The pod is Ready once its readiness probe (HTTP(S) GET from the node's network namespace, 200-399)
   * answers, and stays probed every periodMs; when the process exits the pod turns not Ready with the
   * container terminated. Needs `cluster` in the SimKubelet options.
   */
  async runPod(spec: RunPodSpec): Promise<ProcessPod> {
    const cluster = this.cluster;
    if (!cluster) throw new Error(`runPod ${spec.namespace}/${spec.name}: create the SimKubelet with { cluster } to run processes as pods`);
    const node = this.nodes.get(spec.node);
    if (!node?.net) throw new Error(`runPod ${spec.namespace}/${spec.name}: node ${spec.node} was not added to this kubelet with a network`);
    const key = `${spec.namespace}/${spec.name}`;
    if (this.pods.has(key)) throw new Error(`pod ${key} already exists`);
    await this.ensureNamespace(spec.namespace);
    const c = spec.container;
    const mounts = (spec.secretMounts ?? []).map((m, i) => ({ ...m, volume: `secret-${i}` }));
    const env = Object.entries(c.env ?? {});
    const created = await this.core.createNamespacedPod({
      namespace: spec.namespace,
      body: {
        metadata: {
          name: spec.name,
          namespace: spec.namespace,
          labels: { ...spec.labels, [SIM_KUBELET_LABEL]: this.run.id },
          ...(spec.annotations ? { annotations: spec.annotations } : {}),
          ...(spec.ownerReferences ? { ownerReferences: spec.ownerReferences } : {}),
        },
        spec: {
          nodeName: spec.node,
          ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 0,
          containers: [
            {
              name: c.name,
              image: c.image ?? SIM_IMAGE,
              args: [...c.argv],
              ...(c.ports ? { ports: c.ports } : {}),
              env: env.map(([name, v]) => (typeof v === 'string' ? { name, value: v } : { name, valueFrom: { fieldRef: { fieldPath: v.fieldRef } } })),
              volumeMounts: mounts.map((m) => ({ name: m.volume, mountPath: m.mountPath, readOnly: true })),
              ...(spec.readinessProbe
                ? {
                    readinessProbe: {
                      httpGet: { path: spec.readinessProbe.path, port: spec.readinessProbe.port, scheme: spec.readinessProbe.scheme ?? 'HTTPS' },
                      periodSeconds: Math.max(1, Math.round((spec.readinessProbe.periodMs ?? 500) / 1000)),
                    },
                  }
                : {}),
            },
          ],
          volumes: mounts.map((m) => ({ name: m.volume, secret: { secretName: m.secretName, ...(m.optional ? { optional: true } : {}) } })),
        },
      },
    });
    const uid = created.metadata?.uid ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-pod-'));
    chmodSync(dir, 0o700);
    const logFile = spec.logFile ?? join(dir, `${c.name}.log`);
    const pod: ProcessPod = {
      ...unstartedPod(spec, uid, node.ip, created),
      dir,
      logFile,
      kubeconfigPath: undefined,
      spec,
      ready: false,
      exit: undefined,
    };
    this.pods.set(key, pod);
    const state = { stopped: false };
    this.processPods.set(key, state);
    try {
      // the kubelet's volume setup: Secrets as files
      const rewrite = new Map<string, string>();
      for (const m of mounts) {
        const sec: k8s.V1Secret = await this.core.readNamespacedSecret({ name: m.secretName, namespace: spec.namespace }).catch((e: unknown) => {
          if (m.optional && (e as { code?: number }).code === 404) return {};
          throw e;
        });
        const vdir = join(dir, m.volume);
        mkdirSync(vdir, { mode: 0o700 });
        for (const [k, v] of Object.entries(sec.data ?? {})) writeFileSync(join(vdir, k), Buffer.from(v, 'base64'), { mode: 0o600 });
        rewrite.set(m.mountPath.replace(/\/$/, ''), vdir);
      }
      const mapPath = (v: string): string => {
        for (const [from, to] of rewrite) if (v === from || v.startsWith(`${from}/`)) return to + v.slice(from.length);
        return v;
      };
      let kubeconfig: string | undefined;
      if (spec.serviceAccountName) {
        const token = await cluster.serviceAccountToken(spec.namespace, spec.serviceAccountName, {
          expirationSeconds: 24 * 3600,
          boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: spec.name, uid },
        });
        kubeconfig = join(dir, 'kubeconfig');
        writeFileSync(kubeconfig, kubeconfigYaml(cluster.inClusterServer, cluster.caData, `system:serviceaccount:${spec.namespace}:${spec.serviceAccountName}`, token), { mode: 0o600 });
        pod.kubeconfigPath = kubeconfig;
      }
      const field = (f: string, net: PodNet): string => {
        switch (f) {
          case 'spec.nodeName':
            return spec.node;
          case 'status.podIP':
            return net.ip;
          case 'status.hostIP':
            return node.ip;
          case 'metadata.name':
            return spec.name;
          case 'metadata.namespace':
            return spec.namespace;
          case 'metadata.uid':
            return uid;
          case 'spec.serviceAccountName':
            return spec.serviceAccountName ?? '';
          default:
            throw new Error(`runPod ${key}: unsupported fieldRef ${f}`);
        }
      };
      const first = await this.sandboxFirst(pod, spec);
      const sandbox = await PodSandbox.start(this.network, {
        key,
        podUid: uid,
        node: spec.node,
        containers: [c.name],
        layout: this.layout,
        ...first,
        commands: (net) => ({
          [c.name]: {
            argv: c.argv.map(mapPath),
            env: {
              PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
              HOSTNAME: spec.name,
              ...Object.fromEntries(env.map(([k, v]) => [k, typeof v === 'string' ? mapPath(v) : field(v.fieldRef, net)])),
              ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}),
            },
            cwd: dir,
            logFile,
          },
        }),
      });
      pod.sandbox = sandbox;
      pod.ip = sandbox.ip;
      pod.netnsPath = sandbox.netnsPath;
      pod.netns = sandbox.net.netns;
      pod.containerIds = sandbox.containers.map((x) => x.id);
      pod.containerId = pod.containerIds[0] ?? '';
      pod.pid = sandbox.containers[0]?.pid;
      pod.cgroup = sandbox.containers[0]?.cgroup;
      const containers: ContainerSpec[] = [{ name: c.name, ...(c.image ? { image: c.image } : {}) }];
      pod.object = await this.writeRunningStatus(pod, containers, !spec.readinessProbe);
      pod.ready = !spec.readinessProbe;
      const proc = sandbox.containers[0]?.process;
      void proc?.exited.then(async (code) => {
        pod.exit = code;
        pod.ready = false;
        if (state.stopped) return;
        await this.writeTerminated(pod, c, code).catch(() => undefined);
      });
      if (spec.readinessProbe) void this.probeLoop(pod, node, spec.readinessProbe, state);
    } catch (err) {
      await this.deletePod(spec.namespace, spec.name).catch(() => undefined);
      throw new Error(`runPod ${key} failed`, { cause: err });
    }
    return pod;
  }

  private async probeLoop(pod: ProcessPod, node: SimNode, probe: ReadinessProbe, state: { stopped: boolean }): Promise<void> {
    const port = typeof probe.port === 'number' ? probe.port : pod.spec.container.ports?.find((p) => p.name === probe.port)?.containerPort;
    if (port === undefined) throw new Error(`pod ${pod.namespace}/${pod.name}: readiness probe port ${probe.port} is not a container port`);
    const url = `${(probe.scheme ?? 'HTTPS').toLowerCase()}://${pod.ip}:${port}${probe.path}`;
    while (!state.stopped && pod.exit === undefined) {
      const r = await this.prober(node).probe(url, probe.timeoutMs ?? 1000);
      const ok = r.status !== undefined && r.status >= 200 && r.status < 400;
      pod.lastProbe = r;
      if (ok !== pod.ready && !state.stopped && pod.exit === undefined) {
        try {
          await this.patchReady(pod, ok);
          pod.ready = ok;
        } catch {
          // apiserver busy or gone: the next round retries
        }
      }
      await new Promise((res) => setTimeout(res, probe.periodMs ?? 500).unref());
    }
  }

  private async patchReady(pod: SimPod, ready: boolean): Promise<void> {
    const now = new Date();
    const cur = await this.core.readNamespacedPodStatus({ name: pod.name, namespace: pod.namespace });
    const status = cur.status ?? {};
    const v = ready ? 'True' : 'False';
    status.conditions = (status.conditions ?? []).map((c) =>
      (c.type === 'Ready' || c.type === 'ContainersReady') && c.status !== v ? { ...c, status: v, lastTransitionTime: now } : c,
    );
    status.containerStatuses = (status.containerStatuses ?? []).map((c) => ({ ...c, ready }));
    pod.object = await this.core.patchNamespacedPodStatus({ name: pod.name, namespace: pod.namespace, body: { status } }, MERGE);
  }

  private async writeTerminated(pod: ProcessPod, c: RunPodSpec['container'], code: number | string): Promise<void> {
    await this.patchReady(pod, false);
    const now = new Date();
    const exitCode = typeof code === 'number' ? code : 137;
    pod.object = await this.core.patchNamespacedPodStatus(
      {
        name: pod.name,
        namespace: pod.namespace,
        body: {
          status: {
            containerStatuses: [
              {
                name: c.name,
                image: c.image ?? SIM_IMAGE,
                imageID: `${c.image ?? SIM_IMAGE}@sha256:${'0'.repeat(64)}`,
                containerID: `${this.scheme}${pod.containerId}`,
                ready: false,
                started: false,
                restartCount: 0,
                state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: now, containerID: `${this.scheme}${pod.containerId}` } },
              },
            ],
          },
        },
      },
      MERGE,
    );
  }

  /** A process pod by namespace/name (undefined when it is not one). */
  processPod(namespace: string, name: string): ProcessPod | undefined {
    const p = this.pods.get(`${namespace}/${name}`);
    return p && 'spec' in p ? (p as ProcessPod) : undefined;
  }

  /**
   * Replaces a process pod as a DaemonSet rollout (or a deleted Deployment pod) does: kills the
   * process, deletes the Pod, and runs the same spec as a new pod (new name, uid and IP). The
   * new name replaces a trailing `-xxxxx` suffix by a fresh one.
   */
  async replacePod(namespace: string, name: string, newName?: string): Promise<ProcessPod> {
    const old = this.processPod(namespace, name);
    if (!old) throw new Error(`replacePod: ${namespace}/${name} is not a process pod of this kubelet`);
    await this.deletePod(namespace, name);
    const base = /-[a-z0-9]{5}$/.test(name) ? name.slice(0, -6) : name;
    const name2 = newName ?? `${base}-${randSuffix(5)}`;
    // a caller-chosen log file is kept per pod: the new one goes beside the old one
    const logFile = old.spec.logFile ? join(dirname(old.spec.logFile), `${name2}.log`) : undefined;
    const { logFile: _drop, ...rest } = old.spec;
    return this.runPod({ ...rest, name: name2, ...(logFile ? { logFile } : {}) });
  }

  /** Waits (bounded) until a process pod is Ready; the error names the last probe result and the log. */
  async waitPodReady(pod: ProcessPod, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pod.ready) {
      if (pod.exit !== undefined) throw new Error(`pod ${pod.namespace}/${pod.name} exited (${pod.exit}) before it was ready:\n${tail(pod.logFile)}`);
      if (Date.now() > deadline) {
        throw new Error(`pod ${pod.namespace}/${pod.name} not ready after ${timeoutMs} ms (last probe: ${JSON.stringify(pod.lastProbe ?? {})}):\n${tail(pod.logFile)}`);
      }
      await sleep(50);
    }
  }

  /**
   * Stops the pod's sandbox (processes, cgroups, netns + veth) and deletes the Pod object with
   * gracePeriodSeconds=0, which removes it from the API at once (no kubelet has to confirm).
   */
  async deletePod(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    const st = this.processPods.get(key);
    if (st) st.stopped = true;
    this.processPods.delete(key);
    await pod?.sandbox?.stop();
    if (pod && 'spec' in pod && !(pod as ProcessPod).spec.keepDir) rmSync((pod as ProcessPod).dir, { recursive: true, force: true });
    this.pods.delete(key);
    try {
      await this.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
    } catch (e) {
      if (statusCodeOf(e) !== 404) throw e;
    }
  }

  private ownerRef(kind: string, obj: { metadata?: k8s.V1ObjectMeta }): k8s.V1OwnerReference {
    return {
      apiVersion: 'apps/v1',
      kind,
      name: obj.metadata?.name ?? '',
      uid: obj.metadata?.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    };
  }

  private placement(nodes: readonly string[], what: string): void {
    if (nodes.length === 0) throw new Error(`${what}: no nodes to place pods on`);
  }

  /**
   * Creates a Deployment, its ReplicaSet (`<name>-<hash>`, controller owner ref -> Deployment) and
   * `replicas` pods (`<rs>-<suffix>`, controller owner ref -> ReplicaSet) spread round-robin over `nodes`.
   */
  async makeDeployment(
    namespace: string,
    name: string,
    replicas: number,
    labels: Record<string, string>,
    nodes: readonly string[],
    opts: { containers?: ContainerSpec[]; network?: boolean } = {},
  ): Promise<WorkloadResult<k8s.V1Deployment> & { replicaSet: k8s.V1ReplicaSet }> {
    this.placement(nodes, `deployment ${namespace}/${name}`);
    await this.ensureNamespace(namespace);
    const containers = (opts.containers ?? [{ name: 'app' }]).map((c) => ({ name: c.name, image: c.image ?? SIM_IMAGE }));
    const hash = randSuffix(10);
    const podLabels = { ...labels, 'pod-template-hash': hash };
    const deployment = await this.apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name, namespace, labels, annotations: { 'deployment.kubernetes.io/revision': '1' } },
        spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers } } },
      },
    });
    this.workloads.push({ kind: 'Deployment', namespace, name });
    const rsName = `${name}-${hash}`;
    const replicaSet = await this.apps.createNamespacedReplicaSet({
      namespace,
      body: {
        metadata: {
          name: rsName,
          namespace,
          labels: podLabels,
          annotations: { 'deployment.kubernetes.io/revision': '1', 'deployment.kubernetes.io/desired-replicas': String(replicas) },
          ownerReferences: [this.ownerRef('Deployment', deployment)],
        },
        spec: { replicas, selector: { matchLabels: podLabels }, template: { metadata: { labels: podLabels }, spec: { containers } } },
      },
    });
    this.workloads.push({ kind: 'ReplicaSet', namespace, name: rsName });
    const pods = await this.createOwnedPods(namespace, replicas, (i) => ({
      name: `${rsName}-${randSuffix(5)}`,
      labels: podLabels,
      owner: this.ownerRef('ReplicaSet', replicaSet),
      node: nodes[i % nodes.length] ?? '',
    }), opts);
    const counts = { replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 1 };
    await this.apps.patchNamespacedReplicaSetStatus(
      { name: rsName, namespace, body: { status: { ...counts, fullyLabeledReplicas: replicas } } },
      MERGE,
    );
    const dep = await this.apps.patchNamespacedDeploymentStatus(
      { name, namespace, body: { status: { ...counts, updatedReplicas: replicas } } },
      MERGE,
    );
    return { workload: dep, replicaSet, pods };
  }

  /** Creates a StatefulSet and pods `<name>-0..N-1` owned by it, spread round-robin over `nodes`. */
  async makeStatefulSet(
    namespace: string,
    name: string,
    replicas: number,
    labels: Record<string, string>,
    nodes: readonly string[],
    opts: { containers?: ContainerSpec[]; network?: boolean } = {},
  ): Promise<WorkloadResult<k8s.V1StatefulSet>> {
    this.placement(nodes, `statefulset ${namespace}/${name}`);
    await this.ensureNamespace(namespace);
    const containers = (opts.containers ?? [{ name: 'app' }]).map((c) => ({ name: c.name, image: c.image ?? SIM_IMAGE }));
    const sts = await this.apps.createNamespacedStatefulSet({
      namespace,
      body: {
        metadata: { name, namespace, labels },
        spec: { replicas, serviceName: name, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers } } },
      },
    });
    this.workloads.push({ kind: 'StatefulSet', namespace, name });
    const revision = `${name}-${randSuffix(10)}`;
    const pods = await this.createOwnedPods(namespace, replicas, (i) => ({
      name: `${name}-${i}`,
      labels: {
        ...labels,
        'controller-revision-hash': revision,
        'statefulset.kubernetes.io/pod-name': `${name}-${i}`,
        'apps.kubernetes.io/pod-index': String(i),
      },
      owner: this.ownerRef('StatefulSet', sts),
      node: nodes[i % nodes.length] ?? '',
    }), opts);
    const workload = await this.apps.patchNamespacedStatefulSetStatus(
      {
        name,
        namespace,
        body: {
          status: {
            replicas,
            readyReplicas: replicas,
            availableReplicas: replicas,
            currentReplicas: replicas,
            updatedReplicas: replicas,
            currentRevision: revision,
            updateRevision: revision,
            observedGeneration: 1,
          },
        },
      },
      MERGE,
    );
    return { workload, pods };
  }

  /** Creates a DaemonSet and one pod owned by it on each of `nodes`. */
  async makeDaemonSet(
    namespace: string,
    name: string,
    labels: Record<string, string>,
    nodes: readonly string[],
    opts: { containers?: ContainerSpec[]; network?: boolean } = {},
  ): Promise<WorkloadResult<k8s.V1DaemonSet>> {
    this.placement(nodes, `daemonset ${namespace}/${name}`);
    await this.ensureNamespace(namespace);
    const containers = (opts.containers ?? [{ name: 'app' }]).map((c) => ({ name: c.name, image: c.image ?? SIM_IMAGE }));
    const ds = await this.apps.createNamespacedDaemonSet({
      namespace,
      body: {
        metadata: { name, namespace, labels },
        spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers } } },
      },
    });
    this.workloads.push({ kind: 'DaemonSet', namespace, name });
    const revision = randSuffix(10);
    const pods = await this.createOwnedPods(namespace, nodes.length, (i) => ({
      name: `${name}-${randSuffix(5)}`,
      labels: { ...labels, 'controller-revision-hash': revision, 'pod-template-generation': '1' },
      owner: this.ownerRef('DaemonSet', ds),
      node: nodes[i] ?? '',
    }), opts);
    const n = nodes.length;
    const workload = await this.apps.patchNamespacedDaemonSetStatus(
      {
        name,
        namespace,
        body: {
          status: {
            currentNumberScheduled: n,
            desiredNumberScheduled: n,
            numberAvailable: n,
            numberReady: n,
            updatedNumberScheduled: n,
            numberMisscheduled: 0,
            observedGeneration: 1,
          },
        },
      },
      MERGE,
    );
    return { workload, pods };
  }

  private async createOwnedPods(
    namespace: string,
    count: number,
    make: (i: number) => { name: string; labels: Record<string, string>; owner: k8s.V1OwnerReference; node: string },
    opts: { containers?: ContainerSpec[]; network?: boolean },
  ): Promise<SimPod[]> {
    return Promise.all(
      Array.from({ length: count }, (_, i) => {
        const p = make(i);
        return this.createPod({
          namespace,
          name: p.name,
          node: p.node,
          labels: p.labels,
          ownerReferences: [p.owner],
          ...(opts.containers ? { containers: opts.containers } : {}),
          ...(opts.network === false ? { network: false } : {}),
        });
      }),
    );
  }

  /**
   * Removes everything this kubelet created: sandboxes first (kernel state must go even when the
   * apiserver is already down), then Pods, workloads and Nodes (best effort: errors are collected
   * and returned, not thrown), then the pod network and, if the kubelet owns it, the whole run.
   */
  async close(): Promise<string[]> {
    const errors: string[] = [];
    const note = (what: string, e: unknown): void => {
      if (statusCodeOf(e) !== 404) errors.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    };
    for (const st of this.processPods.values()) st.stopped = true;
    this.processPods.clear();
    for (const p of this.probers.values()) await p.stop();
    this.probers.clear();
    for (const p of this.pods.values()) await p.sandbox?.stop().catch((e: unknown) => note(`sandbox ${p.namespace}/${p.name}`, e));
    for (const p of this.pods.values()) if ('spec' in p && !(p as ProcessPod).spec.keepDir) rmSync((p as ProcessPod).dir, { recursive: true, force: true });
    if (this.ownsNetwork) await this.network.close().catch((e: unknown) => note('pod network', e));
    if (this.ownsRun) {
      const r = this.run.cleanup();
      errors.push(...r.errors);
    }
    const apiDeadline = Date.now() + 30_000;
    let skipped = 0;
    const api = async (what: string, f: () => Promise<unknown>): Promise<void> => {
      if (Date.now() > apiDeadline) {
        skipped++;
        return;
      }
      try {
        await f();
      } catch (e) {
        note(what, e);
      }
    };
    // one request per namespace (pods carry our label), then per pod for whatever is left
    const labelSelector = `${SIM_KUBELET_LABEL}=${this.run.id}`;
    const namespaces = new Set([...this.pods.values()].map((p) => p.namespace));
    const bulkFailed = new Set<string>();
    await Promise.all(
      [...namespaces].map(async (namespace) => {
        try {
          await this.core.deleteCollectionNamespacedPod({ namespace, labelSelector, gracePeriodSeconds: 0 });
        } catch {
          bulkFailed.add(namespace);
        }
      }),
    );
    await Promise.all(
      [...this.pods.values()]
        .filter((p) => bulkFailed.has(p.namespace))
        .map((p) =>
          api(`pod ${p.namespace}/${p.name}`, () => this.core.deleteNamespacedPod({ name: p.name, namespace: p.namespace, gracePeriodSeconds: 0 })),
        ),
    );
    this.pods.clear();
    for (const w of this.workloads.reverse()) {
      const args = { name: w.name, namespace: w.namespace };
      await api(`${w.kind} ${w.namespace}/${w.name}`, () => {
        switch (w.kind) {
          case 'Deployment':
            return this.apps.deleteNamespacedDeployment(args);
          case 'ReplicaSet':
            return this.apps.deleteNamespacedReplicaSet(args);
          case 'StatefulSet':
            return this.apps.deleteNamespacedStatefulSet(args);
          case 'DaemonSet':
            return this.apps.deleteNamespacedDaemonSet(args);
        }
      });
    }
    this.workloads.length = 0;
    if (this.nodes.size > 0) {
      try {
        await this.core.deleteCollectionNode({ labelSelector });
      } catch {
        await Promise.all([...this.nodes.keys()].map((n) => api(`node ${n}`, () => this.core.deleteNode({ name: n }))));
      }
    }
    this.nodes.clear();
    if (skipped > 0) errors.push(`API cleanup deadline passed: ${skipped} deletions skipped`);
    return errors;
  }

  /** Alias of close(). */
  cleanup(): Promise<string[]> {
    return this.close();
  }

  /** Waits (bounded) until the Pod object is gone from the API. */
  async waitPodGone(namespace: string, name: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.core.readNamespacedPod({ name, namespace });
      } catch (e) {
        if (statusCodeOf(e) === 404) return;
        throw e;
      }
      if (Date.now() > deadline) throw new Error(`pod ${namespace}/${name} still exists after ${timeoutMs} ms`);
      await sleep(50);
    }
  }
}

/** A pod's record before its sandbox exists (no IP, containers or netns yet). */
function unstartedPod(spec: { namespace: string; name: string; node: string }, uid: string, hostIP: string, object: k8s.V1Pod): SimPod {
  return {
    namespace: spec.namespace,
    name: spec.name,
    uid,
    node: spec.node,
    ip: '',
    hostIP,
    containerId: '',
    containerIds: [],
    pid: undefined,
    netnsPath: '',
    netns: '',
    cgroup: undefined,
    sandbox: undefined,
    object,
  };
}
