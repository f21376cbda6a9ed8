/**
 * Finding a pod's sandbox network namespace by its pod UID, before any app container has started
 * (issue 15 item 3: capture a pod from its first packet).
 *
 * A runtime creates the pod's sandbox first (the network namespace, held by the pause/infra
 * process), and starts the app containers in it later; the pod status shows container IDs only
 * once they run. Every runtime places the sandbox process in a cgroup below the pod's cgroup,
 * whose path holds the pod UID:
 *
 * | runtime    | driver   | sandbox (pause) process cgroup                                                            |
 * |------------|----------|---------------------------------------------------------------------------------------------|
 * | containerd | systemd  | `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/cri-containerd-<sandbox>.scope` |
 * | containerd | cgroupfs | `/kubepods/besteffort/pod<uid>/<sandbox>`                                                   |
 * | CRI-O      | systemd  | `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/crio-<sandbox>.scope` |
 * | CRI-O      | cgroupfs | `/kubepods/burstable/pod<uid>/crio-<sandbox>`                                               |
 * | Docker (cri-dockerd) | systemd | `/kubepods.slice/.../kubepods-besteffort-pod<uid_>.slice/docker-<sandbox>.scope` |
 * | Docker (cri-dockerd) | cgroupfs | `/kubepods/besteffort/pod<uid>/<sandbox>`                                        |
 * | any, Guaranteed QoS | systemd / cgroupfs | `/kubepods.slice/kubepods-pod<uid_>.slice/...` / `/kubepods/pod<uid>/...` |
 *
 * (`<uid_>`: the UID with `-` turned into `_`, as systemd slice names cannot hold `-` per level.)
 * Nested hierarchies (kind: `/../../kubepods...`, `/system.slice/docker-<node>.scope/kubepods/...`)
 * work because the UID is matched per path segment. CRI-O's `crio-conmon-<id>.scope` sits in the
 * pod slice too on some versions, but conmon runs in the HOST network namespace: it is refused.
 *
 * Found that way, the namespace is pinned (netns.ts pinContainerNetns, same checks: start time,
 * still in the pod's cgroup, inode) and checked again once the status shows container IDs
 * (sameNetns()): the app containers must be in the namespace being captured.
 */
import { join } from 'node:path';
import { containerIdOfSegment, NetnsNotFoundError, parseProcCgroup, realProcFs, type NetnsLocation, type ProcFs } from './netns.js';

const UID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A pod UID as Kubernetes writes it (RFC 4122, lower case), or undefined. Pure. */
export function normalisePodUid(uid: string | undefined | null): string | undefined {
  const u = (uid ?? '').trim().toLowerCase();
  return UID_RE.test(u) ? u : undefined;
}

/**
 * The pod UID a cgroup path segment stands for, or undefined. Recognises the cgroupfs driver's
 * `pod<uid>` and the systemd driver's `kubepods-pod<uid_>.slice` / `kubepods-<qos>-pod<uid_>.slice`.
 * Pure.
 */
export function podUidOfSegment(segment: string): string | undefined {
  let m = /^pod([0-9a-fA-F-]{36})$/.exec(segment);
  if (m) return normalisePodUid(m[1]);
  m = /^(?:[a-z0-9]+-)*kubepods(?:-(?:besteffort|burstable|guaranteed))?-pod([0-9a-fA-F_]{36})\.slice$/.exec(segment);
  if (m) return normalisePodUid((m[1] ?? '').replace(/_/g, '-'));
  return undefined;
}

/** Where one /proc/<pid>/cgroup places a process relative to pods. Pure. */
export interface PodCgroupPlace {
  /** pod UIDs named by any line */
  podUids: Set<string>;
  /** the process is conmon (CRI-O's monitor: host network namespace), never a pod's */
  conmon: boolean;
}

/** Pod UIDs named by any line of a /proc/<pid>/cgroup content, and whether it is conmon. Pure. */
export function podPlaceOfCgroup(content: string): PodCgroupPlace {
  const podUids = new Set<string>();
  let conmon = false;
  for (const l of parseProcCgroup(content)) {
    for (const seg of l.path.split('/')) {
      const uid = podUidOfSegment(seg);
      if (uid !== undefined) podUids.add(uid);
      if (/^(crio-)?conmon-[0-9a-f]{64}(\.scope)?$/.test(seg)) conmon = true;
    }
  }
  return { podUids, conmon };
}

/** True if the cgroup content places a process (not conmon) in (or below) pod `uid`'s cgroup. Pure. */
export function cgroupInPod(content: string, uid: string): boolean {
  const p = podPlaceOfCgroup(content);
  return !p.conmon && p.podUids.has(uid.toLowerCase());
}

/** The container/sandbox ID of the deepest segment naming one, or '' (a process directly in the pod slice). Pure. */
export function sandboxIdOfCgroup(content: string): string {
  let id = '';
  for (const l of parseProcCgroup(content)) for (const seg of l.path.split('/')) id = containerIdOfSegment(seg) ?? id;
  return id;
}

/**
 * How the agent should find a pod target's network namespace now. Pure.
 * - `containers`: the status shows container IDs: by container ID (the long-standing path);
 * - `sandbox`: no container ID yet, but the pod is on this node and not terminated, and the
 *   backend can look sandboxes up: by pod UID, before the app starts;
 * - `wait`: neither (no pod yet, no UID, or a backend without sandbox lookup): wait for the pod.
 */
export type PodLookup = { by: 'containers'; containerIds: string[] } | { by: 'sandbox'; podUid: string } | { by: 'wait' };

export function podLookup(containerIds: readonly string[], podUid: string | undefined, sandboxLookup: boolean): PodLookup {
  if (containerIds.length > 0) return { by: 'containers', containerIds: [...containerIds] };
  const uid = normalisePodUid(podUid);
  if (sandboxLookup && uid !== undefined) return { by: 'sandbox', podUid: uid };
  return { by: 'wait' };
}

// ---- shell: scan /proc ----

/** cgroup files read in parallel per step of the /proc scan. */
const SCAN_BATCH = 256;

/**
 * Scans `<procRoot>/<pid>/cgroup` for a process in pod `podUid`'s cgroup (the sandbox's pause
 * process, or any container of the pod: they share one network namespace) and returns the lowest
 * such pid. Throws NetnsNotFoundError while the sandbox does not exist yet (transient).
 */
export async function findSandboxNetns(podUid: string, procRoot = '/proc', fs: ProcFs = realProcFs): Promise<NetnsLocation> {
  const uid = normalisePodUid(podUid);
  if (uid === undefined) throw new NetnsNotFoundError(`pod UID ${JSON.stringify(podUid)} is not a UID`);
  const pids = (fs.readdirNow ? fs.readdirNow(procRoot) : await fs.readdir(procRoot)).filter((n) => /^[0-9]+$/.test(n)).map(Number).sort((a, b) => a - b);
  // Read the cgroup files SCAN_BATCH at a time, synchronously when the ProcFs can (netns.ts
  // readFileNow): one promise read at a time, a scan of ~100 processes took 20-100 ms here under
  // load, time in which a starting app sends its first packets; synchronously it takes ~1 ms.
  for (let i = 0; i < pids.length; i += SCAN_BATCH) {
    const batch = pids.slice(i, i + SCAN_BATCH);
    const read = (pid: number): Promise<string | undefined> => {
      const path = join(procRoot, String(pid), 'cgroup');
      return fs.readFileNow ? Promise.resolve(fs.readFileNow(path)) : fs.readFile(path).catch(() => undefined);
    };
    if (i > 0) await new Promise<void>((r) => setImmediate(r)); // let the agent's other work in between batches
    const contents = await Promise.all(batch.map(read)); // undefined: exited while we scanned
    for (let j = 0; j < batch.length; j++) {
      const content = contents[j];
      const pid = batch[j] ?? 0;
      if (content === undefined || !cgroupInPod(content, uid)) continue;
      const netnsPath = join(procRoot, String(pid), 'ns', 'net');
      if (!(await fs.exists(netnsPath))) continue;
      return { pid, netnsPath, containerId: sandboxIdOfCgroup(content), podUid: uid, inode: await fs.inode?.(netnsPath) };
    }
  }
  throw new NetnsNotFoundError(`no process of pod ${uid} (sandbox not created yet) found under ${procRoot}/*/cgroup`);
}
