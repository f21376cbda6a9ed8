// Real cgroups for simulated containers, laid out the way container runtimes lay them out, so the
// agent's "container ID -> /proc/<pid>/cgroup -> pid" lookup is exercised against the real kernel.
// Test harness only: the product's parser lives in src/agent.
//
// Every directory lives under a per-run root (`pcapper-harness-<runid>/...`) by default, the way a kubelet
// in a nested container (kind, a Docker-in-Docker node) sees `/system.slice/docker-<x>.scope/kubepods...`:
// the container ID is still in the path, and cleanup can never touch a real kubelet's tree.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, mkdirSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export type CgroupLayout =
  | 'containerd-systemd' // kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/cri-containerd-<id>.scope
  | 'containerd-cgroupfs' // kubepods/besteffort/pod<uid>/<id>
  | 'crio-systemd' // .../kubepods-besteffort-pod<uid_>.slice/crio-<id>.scope
  | 'crio-cgroupfs' // kubepods/besteffort/pod<uid>/crio-<id>
  | 'docker-systemd' // .../kubepods-besteffort-pod<uid_>.slice/docker-<id>.scope (dockershim, systemd driver)
  | 'docker-cgroupfs' // kubepods/besteffort/pod<uid>/<id> (dockershim, cgroupfs driver)
  | 'docker-plain' // docker/<id> (a container started by `docker run`)
  | 'docker-plain-systemd'; // system.slice/docker-<id>.scope

export const CGROUP_LAYOUTS: readonly CgroupLayout[] = [
  'containerd-systemd',
  'containerd-cgroupfs',
  'crio-systemd',
  'crio-cgroupfs',
  'docker-systemd',
  'docker-cgroupfs',
  'docker-plain',
  'docker-plain-systemd',
];

export type QosClass = 'besteffort' | 'burstable' | 'guaranteed';

export interface ContainerCgroupSpec {
  /** 64 lowercase hex characters. */
  containerId: string;
  /** The pod's metadata.uid (dashes; the systemd layouts turn them into underscores). */
  podUid: string;
  qos?: QosClass;
  layout?: CgroupLayout;
  /** Path prefix under each hierarchy's root, e.g. `pcapper-harness-<runid>`; '' for none. */
  root: string;
}

/** Relative cgroup path (no leading slash) for a container: a pure function of the spec. */
export function containerCgroupPath(spec: ContainerCgroupSpec): string {
  const { containerId: id, podUid } = spec;
  const qos = spec.qos ?? 'besteffort';
  const layout = spec.layout ?? 'containerd-systemd';
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`container ID must be 64 lowercase hex characters, got ${JSON.stringify(id)}`);
  const uidU = podUid.replace(/-/g, '_');
  const systemdPod =
    qos === 'guaranteed'
      ? `kubepods.slice/kubepods-pod${uidU}.slice`
      : `kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${uidU}.slice`;
  const cgroupfsPod = qos === 'guaranteed' ? `kubepods/pod${podUid}` : `kubepods/${qos}/pod${podUid}`;
  let rel: string;
  switch (layout) {
    case 'containerd-systemd':
      rel = `${systemdPod}/cri-containerd-${id}.scope`;
      break;
    case 'containerd-cgroupfs':
    case 'docker-cgroupfs':
      rel = `${cgroupfsPod}/${id}`;
      break;
    case 'crio-systemd':
      rel = `${systemdPod}/crio-${id}.scope`;
      break;
    case 'crio-cgroupfs':
      rel = `${cgroupfsPod}/crio-${id}`;
      break;
    case 'docker-systemd':
      rel = `${systemdPod}/docker-${id}.scope`;
      break;
    case 'docker-plain':
      rel = `docker/${id}`;
      break;
    case 'docker-plain-systemd':
      rel = `system.slice/docker-${id}.scope`;
      break;
  }
  return spec.root ? `${spec.root.replace(/^\/+|\/+$/g, '')}/${rel}` : rel;
}

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

export interface CgroupMounts {
  /** v1 hierarchy name (`pids`, `name=systemd`, `cpu,cpuacct`, ...) -> mount point */
  v1: Map<string, string>;
  /** cgroup2 mount point (`/sys/fs/cgroup` on v2-only hosts, `/sys/fs/cgroup/unified` on hybrid) */
  v2: string | undefined;
}

/** Parses /proc/self/mountinfo text (pure). */
export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = left[4];
    const fstype = right[0];
    if (mountPoint === undefined) continue;
    if (fstype === 'cgroup2') v2 ??= mountPoint;
    else if (fstype === 'cgroup') {
      const opts = (right[2] ?? '').split(',');
      const known = new Set(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc']);
      const names = opts.filter((o) => known.has(o) || o.startsWith('name='));
      if (names.length > 0) v1.set(names.join(','), mountPoint);
    }
  }
  return { v1, v2 };
}

export function cgroupMounts(): CgroupMounts {
  return parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** v1 hierarchies a simulated container joins by default (cheap, never limit anything). */
export const DEFAULT_V1_HIERARCHIES = ['pids', 'name=systemd'];

/** The hierarchy roots a container's cgroup is created under: cgroup2 plus the chosen v1 hierarchies that are mounted. */
export function hierarchyRoots(v1Hierarchies: readonly string[] = DEFAULT_V1_HIERARCHIES): string[] {
  const m = cgroupMounts();
  const roots: string[] = [];
  if (m.v2) roots.push(m.v2);
  for (const h of v1Hierarchies) {
    const p = m.v1.get(h);
    if (p) roots.push(p);
  }
  if (roots.length === 0) throw new Error('no cgroup hierarchy is mounted (need cgroup2 or a v1 pids hierarchy under /sys/fs/cgroup)');
  return roots;
}

/** Every cgroup hierarchy root mounted on this machine (for cleanup sweeps). */
export function allHierarchyRoots(): string[] {
  const m = cgroupMounts();
  return [...(m.v2 ? [m.v2] : []), ...m.v1.values()];
}

export interface CgroupRecorder {
  recordCgroup(dir: string): void;
  forgetCgroup(dir: string): void;
}

export interface ContainerCgroupOptions {
  v1Hierarchies?: readonly string[];
  recorder?: CgroupRecorder;
}

export class ContainerCgroup {
  private constructor(
    readonly containerId: string,
    /** relative path, e.g. `pcapper-harness-ab12cd/kubepods.slice/.../cri-containerd-<id>.scope` */
    readonly relPath: string,
    /** absolute leaf directories, one per hierarchy */
    readonly dirs: readonly string[],
    private readonly recorder: CgroupRecorder | undefined,
  ) {}

  static create(spec: ContainerCgroupSpec, opts: ContainerCgroupOptions = {}): ContainerCgroup {
    const rel = containerCgroupPath(spec);
    const dirs = hierarchyRoots(opts.v1Hierarchies).map((r) => join(r, rel));
    const cg = new ContainerCgroup(spec.containerId, rel, dirs, opts.recorder);
    for (const d of dirs) {
      opts.recorder?.recordCgroup(d);
      mkdirWithRetry(d);
    }
    return cg;
  }

  /** Moves a process (all its threads) into the container's cgroup in every hierarchy. */
  addProcess(pid: number): void {
    for (const d of this.dirs) writeFileSync(join(d, 'cgroup.procs'), `${pid}\n`);
  }

  pids(): number[] {
    const out = new Set<number>();
    for (const d of this.dirs) for (const p of readProcs(d)) out.add(p);
    return [...out];
  }

  /** SIGKILLs every process in the cgroup, waits for them, removes the leaf and every now-empty parent up to the hierarchy root. */
  remove(): void {
    for (const d of this.dirs) {
      removeCgroupTree(d);
      pruneEmptyParents(d, this.relPath);
      this.recorder?.forgetCgroup(d);
    }
  }
}

function mkdirWithRetry(dir: string): void {
  // A concurrent run may rmdir a shared parent between our mkdir steps: retry a few times.
  for (let i = 0; ; i++) {
    try {
      mkdirSync(dir, { recursive: true });
      return;
    } catch (err) {
      if (i >= 5 || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot create cgroup ${dir}`, { cause: err });
    }
  }
}

function readProcs(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Removes a cgroup directory and all its descendants, SIGKILLing the processes inside first and
 * waiting (bounded) for the kernel to let go of them. Synchronous so it can run from an 'exit' handler.
 * Returns the pids it killed. A missing directory is not an error.
 */
export function removeCgroupTree(dir: string, deadlineMs = 5000): number[] {
  if (!existsSync(dir)) return [];
  const killed: number[] = [];
  let children: string[] = [];
  try {
    children = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  } catch {
    /* gone meanwhile */
  }
  for (const c of children) killed.push(...removeCgroupTree(c, deadlineMs));
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    for (const pid of readProcs(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        /* already gone */
      }
    }
    try {
      rmdirSync(dir);
      return killed;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return killed;
      if (Date.now() > deadline) throw new Error(`cannot remove cgroup ${dir}`, { cause: err });
      sleepSync(20);
    }
  }
}

/** rmdir the parents of `leaf` that `relPath` created, innermost first, stopping at the first non-empty one. */
function pruneEmptyParents(leaf: string, relPath: string): void {
  const depth = relPath.split('/').filter(Boolean).length;
  let d = leaf;
  for (let i = 1; i < depth; i++) {
    d = join(d, '..');
    try {
      rmdirSync(d);
    } catch {
      return; // still used by another container / run
    }
  }
}

/** Pids whose /proc/<pid>/cgroup mentions `containerId` (what an agent does; harness copy for tests). */
export function findPidsByContainerId(containerId: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/cgroup`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    if (text.includes(containerId)) out.push(Number(name));
  }
  return out.sort((a, b) => a - b);
}
