/**
 * Finding a pod's network namespace from its container ID, without a container-runtime socket:
 * container ID (pod status `containerStatuses[].containerID`, e.g. `containerd://<64 hex>`)
 * -> a process whose `/proc/<pid>/cgroup` names that container -> `/proc/<pid>/ns/net`.
 *
 * The pure part parses cgroup files and recognises the container's cgroup in every shape the
 * common runtimes produce:
 *
 * | runtime    | cgroup driver | path (v1: per controller line; v2: the `0::` line)                                   |
 * |------------|---------------|---------------------------------------------------------------------------------------|
 * | containerd | cgroupfs      | `/kubepods/besteffort/pod<uid>/<id>`                                                  |
 * | containerd | systemd       | `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/cri-containerd-<id>.scope` |
 * | CRI-O      | cgroupfs      | `/kubepods/burstable/pod<uid>/crio-<id>`                                              |
 * | CRI-O      | systemd       | `/kubepods.slice/.../crio-<id>.scope` (NOT `crio-conmon-<id>.scope`: that is conmon, outside the pod's netns) |
 * | Docker     | cgroupfs      | `/docker/<id>` or `/kubepods/.../pod<uid>/<id>` (dockershim / cri-dockerd)            |
 * | Docker     | systemd       | `/system.slice/docker-<id>.scope`                                                     |
 *
 * Nested hierarchies (kind, a node inside a container: `/../../kubepods-...`, or the path under
 * `/system.slice/containerd.service/`) work because the ID is matched per path segment. A segment
 * below the container's (e.g. systemd's `.../cri-containerd-<id>.scope/init`) also matches.
 *
 * Before the pod's containers start, sandbox.ts finds the sandbox (pause) process by the pod UID
 * in the same cgroup paths; pinContainerNetns() pins either.
 */
import { constants, readdirSync, readFileSync } from 'node:fs';
import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { cgroupInPod } from './sandbox.js';

export interface CgroupLine {
  /** Hierarchy ID; 0 is the cgroup v2 unified hierarchy. */
  hierarchy: number;
  /** Controllers (v1) such as ["cpu","cpuacct"], or [] for v2; named hierarchies keep "name=systemd". */
  controllers: string[];
  path: string;
}

/** Parses the content of /proc/<pid>/cgroup (`hierarchy-ID:controller-list:cgroup-path` lines). */
export function parseProcCgroup(content: string): CgroupLine[] {
  const out: CgroupLine[] = [];
  for (const line of content.split('\n')) {
    if (line.trim() === '') continue;
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const hierarchy = Number(line.slice(0, a));
    if (!Number.isInteger(hierarchy)) continue;
    const ctl = line.slice(a + 1, b);
    out.push({ hierarchy, controllers: ctl === '' ? [] : ctl.split(','), path: line.slice(b + 1) });
  }
  return out;
}

export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker' | 'unknown';

export interface ContainerRef {
  runtime: ContainerRuntime;
  /** The container ID: lower-case hex (64 characters for every runtime above). */
  id: string;
}

const ID_RE = /^[0-9a-f]{12,128}$/;

/**
 * Parses a pod status containerID (`containerd://<id>`, `cri-o://<id>`, `docker://<id>`); undefined
 * for an empty/absent value (container not started) or a malformed one.
 */
export function parseContainerId(containerID: string | undefined | null): ContainerRef | undefined {
  if (!containerID) return undefined;
  const m = /^([a-z0-9-]+):\/\/(.+)$/.exec(containerID.trim());
  if (!m) return undefined;
  const id = (m[2] ?? '').toLowerCase();
  if (!ID_RE.test(id)) return undefined;
  const scheme = m[1] ?? '';
  const runtime: ContainerRuntime = scheme === 'containerd' ? 'containerd' : scheme === 'cri-o' ? 'cri-o' : scheme === 'docker' ? 'docker' : 'unknown';
  return { runtime, id };
}

/**
 * The container ID a cgroup path segment stands for, or undefined. Recognises `<id>`,
 * `cri-containerd-<id>.scope`, `crio-<id>[.scope]`, `docker-<id>.scope`, `libpod-<id>.scope`
 * and refuses `crio-conmon-<id>`.
 */
export function containerIdOfSegment(segment: string): string | undefined {
  let s = segment;
  if (s.endsWith('.scope')) s = s.slice(0, -'.scope'.length);
  if (s.startsWith('crio-conmon-') || s.startsWith('conmon-')) return undefined;
  for (const prefix of ['cri-containerd-', 'crio-', 'docker-', 'libpod-', 'containerd-']) {
    if (s.startsWith(prefix)) {
      s = s.slice(prefix.length);
      break;
    }
  }
  return /^[0-9a-f]{64}$/.test(s) ? s : undefined;
}

/** Every container ID named by any line of a /proc/<pid>/cgroup content. */
export function containerIdsInCgroup(content: string): Set<string> {
  const ids = new Set<string>();
  for (const l of parseProcCgroup(content)) {
    for (const seg of l.path.split('/')) {
      const id = containerIdOfSegment(seg);
      if (id !== undefined) ids.add(id);
    }
  }
  return ids;
}

/** True if the cgroup content places the process in (or below) the cgroup of container `id`. */
export function cgroupMatchesContainer(content: string, id: string): boolean {
  return containerIdsInCgroup(content).has(id.toLowerCase());
}

// ---- shell: scan /proc ----

export interface NetnsLocation {
  pid: number;
  /** `<procRoot>/<pid>/ns/net`, to pass to `nsenter --net=`. */
  netnsPath: string;
  containerId: string;
  /** Set when found by pod UID (sandbox.ts): the process must stay in this pod's cgroup. */
  podUid?: string | undefined;
  /** Inode of the network namespace at lookup (undefined when the ProcFs cannot stat). */
  inode?: number | undefined;
}

export class NetnsNotFoundError extends Error {
  override readonly name = 'NetnsNotFoundError';
}

export interface ProcFs {
  readdir(dir: string): Promise<string[]>;
  readFile(path: string): Promise<string>;
  exists(path: string): Promise<boolean>;
  /** Inode of `path` (followed), if the ProcFs can tell. */
  inode?(path: string): Promise<number | undefined>;
  /**
   * Synchronous read, undefined if unreadable: /proc files are in memory, and under load one
   * synchronous read costs ~10 us where a promise read waits for the thread pool (a scan of 100
   * processes: 1 ms against 30-100 ms measured here). Scanners yield between batches.
   */
  readFileNow?(path: string): string | undefined;
  /** Synchronous readdir (same reason). */
  readdirNow?(dir: string): string[];
}

export const realProcFs: ProcFs = {
  readdir: (d) => readdir(d),
  readdirNow: (d) => readdirSync(d),
  readFileNow: (p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  },
  readFile: (p) => readFile(p, 'utf8'),
  exists: async (p) => {
    try {
      await stat(p);
      return true;
    } catch {
      return false;
    }
  },
  inode: async (p) => {
    try {
      return (await stat(p)).ino;
    } catch {
      return undefined;
    }
  },
};

/**
 * Scans `<procRoot>/<pid>/cgroup` for a process of one of the containers (any container of the
 * pod shares its network namespace) and returns the lowest such pid and its netns path. With a
 * `cache` (container ID -> pid), a pid found before is verified and reused without a scan.
 * Throws NetnsNotFoundError (transient while the container starts; permanent once it is gone).
 */
export async function findContainerNetns(
  containerIds: readonly string[],
  procRoot = '/proc',
  fs: ProcFs = realProcFs,
  cache?: Map<string, number>,
): Promise<NetnsLocation> {
  const wanted = new Set(containerIds.map((i) => i.toLowerCase()));
  if (wanted.size === 0) throw new NetnsNotFoundError('the pod has no started container (no containerID in its status yet)');
  // A pid found before is re-checked (it may have exited, or been reused by another process).
  for (const id of wanted) {
    const pid = cache?.get(id);
    if (pid === undefined) continue;
    try {
      const content = await fs.readFile(join(procRoot, String(pid), 'cgroup'));
      const netnsPath = join(procRoot, String(pid), 'ns', 'net');
      if (containerIdsInCgroup(content).has(id) && (await fs.exists(netnsPath))) return { pid, netnsPath, containerId: id, inode: await fs.inode?.(netnsPath) };
    } catch {
      /* gone */
    }
    cache?.delete(id);
  }
  const pids = (await fs.readdir(procRoot)).filter((n) => /^[0-9]+$/.test(n)).map(Number).sort((a, b) => a - b);
  for (const pid of pids) {
    let content: string;
    try {
      content = await fs.readFile(join(procRoot, String(pid), 'cgroup'));
    } catch {
      continue; // the process exited while we scanned
    }
    for (const id of containerIdsInCgroup(content)) {
      if (!wanted.has(id)) continue;
      const netnsPath = join(procRoot, String(pid), 'ns', 'net');
      if (await fs.exists(netnsPath)) {
        cache?.set(id, pid);
        return { pid, netnsPath, containerId: id, inode: await fs.inode?.(netnsPath) };
      }
    }
  }
  throw new NetnsNotFoundError(
    `no process of container ${[...wanted].map((i) => i.slice(0, 12)).join(', ')} found under ${procRoot}/*/cgroup (container not running on this node?)`,
  );
}

// ---- pinning: the namespace found is the namespace entered ----

/** Field 22 (starttime, clock ticks since boot) of a /proc/<pid>/stat content; undefined if malformed. */
export function parseStartTime(statContent: string): string | undefined {
  const close = statContent.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = statContent.slice(close + 2).split(' ');
  const v = fields[19]; // fields[0] is field 3 (state)
  return v !== undefined && /^[0-9]+$/.test(v) ? v : undefined;
}

/** A network namespace held open by the agent: nsenter enters it through the fd, not a /proc/<pid> path. */
export interface PinnedNetns {
  readonly fh: FileHandle;
  readonly dev: number;
  readonly ino: number;
}

/**
 * Opens the network namespace found by findContainerNetns() and proves it is that container's:
 * the pid's start time is the same before the open and after it (so the pid was not recycled
 * in between), the process is still in the container's cgroup after the open, and the inode of
 * the opened namespace is the one seen at lookup. A recycled pid thus cannot redirect a capture:
 * the caller passes the fd to nsenter (`--net=/proc/self/fd/N`). Throws NetnsNotFoundError
 * (transient: the caller looks the container up again).
 */
export async function pinContainerNetns(loc: NetnsLocation, procRoot = '/proc'): Promise<PinnedNetns> {
  const statPath = join(procRoot, String(loc.pid), 'stat');
  const changed = (why: string): NetnsNotFoundError =>
    new NetnsNotFoundError(`process ${loc.pid} of ${loc.podUid ? `pod ${loc.podUid}` : `container ${loc.containerId.slice(0, 12)}`} changed between lookup and capture (${why}); looking again`);
  const before = await readFile(statPath, 'utf8').then(parseStartTime, () => undefined);
  if (before === undefined) throw changed('it exited');
  let fh: FileHandle;
  try {
    fh = await open(loc.netnsPath, constants.O_RDONLY);
  } catch {
    throw changed('its network namespace is gone');
  }
  try {
    const st = await fh.stat();
    if (loc.inode !== undefined && st.ino !== loc.inode) throw changed(`network namespace inode ${st.ino}, looked up ${loc.inode}`);
    const cgroup = await readFile(join(procRoot, String(loc.pid), 'cgroup'), 'utf8').catch(() => '');
    if (loc.podUid !== undefined ? !cgroupInPod(cgroup, loc.podUid) : !containerIdsInCgroup(cgroup).has(loc.containerId)) throw changed('it left the container');
    const after = await readFile(statPath, 'utf8').then(parseStartTime, () => undefined);
    if (after !== before) throw changed('the pid was reused');
    return { fh, dev: st.dev, ino: st.ino };
  } catch (e) {
    await fh.close();
    throw e;
  }
}
