/**
 * The sweep (seed 002 "cleaning up /hostmount"): remove the directories of captures that no
 * longer exist and every file older than DELETE_OLDER_THAN. planSweep() decides; sweep() walks
 * the data directory and deletes.
 */
import { lstat, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isDns1123Subdomain } from '../api/names.js';

export interface SweepInput {
  /** `<data>/<namespace>/<capture>` directories found on disk. */
  captureDirs: ReadonlyArray<{ namespace: string; capture: string; path: string }>;
  /** Regular files under the data directory. */
  files: ReadonlyArray<{ path: string; mtimeMs: number }>;
  /** Does a PacketCapture namespace/name exist (from the informer cache)? */
  exists: (namespace: string, capture: string) => boolean;
  /** Target directories tcpdump is writing to right now: never touched. */
  activeDirs: ReadonlySet<string>;
  nowMs: number;
  maxAgeMs: number;
  /** Files never removed by age (a capture with a store: its files leave the node only once verified there). */
  keep?: (path: string) => boolean;
}

export interface SweepPlan {
  removeDirs: string[];
  removeFiles: string[];
}

export function planSweep(i: SweepInput): SweepPlan {
  const removeDirs: string[] = [];
  const active = [...i.activeDirs];
  const isActive = (p: string): boolean => active.some((a) => p === a || p.startsWith(a + '/') || a.startsWith(p + '/'));
  for (const d of i.captureDirs) {
    if (!i.exists(d.namespace, d.capture) && !isActive(d.path)) removeDirs.push(d.path);
  }
  const removed = (p: string): boolean => removeDirs.some((d) => p.startsWith(d + '/'));
  const removeFiles = i.files
    .filter((f) => !removed(f.path) && i.nowMs - f.mtimeMs > i.maxAgeMs && !active.some((a) => f.path.startsWith(a + '/')) && !(i.keep?.(f.path) ?? false))
    .map((f) => f.path);
  return { removeDirs, removeFiles };
}

/** Namespace and capture directory names (DNS-1123, src/api/names.ts); anything else is not ours. */
const NAME = { test: isDns1123Subdomain };

/** Lists what planSweep needs under `dataDir` (only entries named like namespaces/captures). */
export async function scanDataDir(dataDir: string): Promise<Pick<SweepInput, 'captureDirs' | 'files'>> {
  const captureDirs: Array<{ namespace: string; capture: string; path: string }> = [];
  const files: Array<{ path: string; mtimeMs: number }> = [];
  const ls = async (d: string): Promise<string[]> => {
    try {
      return await readdir(d);
    } catch {
      return [];
    }
  };
  const walkFiles = async (d: string): Promise<void> => {
    for (const n of await ls(d)) {
      const p = join(d, n);
      try {
        const st = await lstat(p);
        if (st.isDirectory()) await walkFiles(p);
        else if (st.isFile()) files.push({ path: p, mtimeMs: st.mtimeMs });
      } catch {
        /* gone meanwhile */
      }
    }
  };
  for (const ns of await ls(dataDir)) {
    const nsPath = join(dataDir, ns);
    if (!NAME.test(ns)) continue;
    try {
      if (!(await lstat(nsPath)).isDirectory()) continue;
    } catch {
      continue;
    }
    for (const cap of await ls(nsPath)) {
      const p = join(nsPath, cap);
      try {
        if (!NAME.test(cap) || !(await lstat(p)).isDirectory()) continue;
      } catch {
        continue;
      }
      captureDirs.push({ namespace: ns, capture: cap, path: p });
      await walkFiles(p);
    }
  }
  return { captureDirs, files };
}

/** Applies a plan; then removes namespace directories left empty. Returns what was removed. */
export async function applySweep(dataDir: string, plan: SweepPlan): Promise<number> {
  let n = 0;
  for (const d of plan.removeDirs) {
    await rm(d, { recursive: true, force: true });
    n++;
  }
  for (const f of plan.removeFiles) {
    await rm(f, { force: true });
    n++;
  }
  for (const ns of await readdir(dataDir).catch(() => [] as string[])) {
    if (!NAME.test(ns)) continue;
    await rmdir(join(dataDir, ns)).catch(() => undefined); // only succeeds when empty
  }
  return n;
}
