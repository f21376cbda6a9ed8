/**
 * The disk guard (seed 002: MAX_TOTAL_FILESIZE and MIN_FREE_DISK on the data directory).
 *
 * Pure decisions, given what the data directory holds, what the file system has free and what the
 * running captures were promised (maxFileSize x fileCount each):
 * - admit(): before a target starts, its promise plus every running capture's not-yet-written
 *   remainder must fit under MAX_TOTAL_FILESIZE and leave MIN_FREE_DISK free.
 * - checkRunning(): while capturing, the data directory must stay under MAX_TOTAL_FILESIZE and the
 *   file system above MIN_FREE_DISK (other writers can eat the disk).
 * The shell below measures: statfs for free space, a walk of the data directory for its size.
 */
import { lstat, readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';

export interface DiskLimits {
  maxTotalFileSize: number;
  minFreeDisk: number;
}

export interface DiskState {
  /** Bytes in the data directory (sum of file sizes). */
  usedBytes: number;
  /** Bytes available to the agent on the data directory's file system. */
  freeBytes: number;
}

export interface Promised {
  /** maxFileSize x fileCount */
  promisedBytes: number;
  /** bytes already written by that capture (counted in usedBytes) */
  writtenBytes: number;
}

export type DiskDecision = { ok: true } | { ok: false; reason: 'DiskQuotaExceeded' | 'DiskFull'; message: string };

/** Human bytes (powers of 1000, as tcpdump -C and seed 002 count): one definition, src/util/units.ts. */
export { formatBytes } from '../util/units.js';
import { formatBytes } from '../util/units.js';

function outstanding(running: readonly Promised[]): number {
  return running.reduce((a, r) => a + Math.max(0, r.promisedBytes - r.writtenBytes), 0);
}

/** May a new target that may write up to `requestBytes` start? */
export function admit(limits: DiskLimits, state: DiskState, running: readonly Promised[], requestBytes: number): DiskDecision {
  const owed = outstanding(running);
  const total = state.usedBytes + owed + requestBytes;
  if (total > limits.maxTotalFileSize) {
    return {
      ok: false,
      reason: 'DiskQuotaExceeded',
      message:
        `MAX_TOTAL_FILESIZE ${formatBytes(limits.maxTotalFileSize)} would be exceeded: ${formatBytes(state.usedBytes)} already on disk` +
        ` + ${formatBytes(owed)} promised to ${running.length} running capture(s) + ${formatBytes(requestBytes)} for this one (maxFileSize x fileCount)`,
    };
  }
  const freeAfter = state.freeBytes - owed - requestBytes;
  if (freeAfter < limits.minFreeDisk) {
    return {
      ok: false,
      reason: 'DiskFull',
      message:
        `MIN_FREE_DISK ${formatBytes(limits.minFreeDisk)} would not be left free: ${formatBytes(state.freeBytes)} free` +
        ` - ${formatBytes(owed)} promised to running captures - ${formatBytes(requestBytes)} for this one (maxFileSize x fileCount)`,
    };
  }
  return { ok: true };
}

/** Must running captures stop? */
export function checkRunning(limits: DiskLimits, state: DiskState): DiskDecision {
  if (state.usedBytes > limits.maxTotalFileSize) {
    return {
      ok: false,
      reason: 'DiskQuotaExceeded',
      message: `stopped: the data directory holds ${formatBytes(state.usedBytes)}, over MAX_TOTAL_FILESIZE ${formatBytes(limits.maxTotalFileSize)}`,
    };
  }
  if (state.freeBytes < limits.minFreeDisk) {
    return {
      ok: false,
      reason: 'DiskFull',
      message: `stopped: only ${formatBytes(state.freeBytes)} free on the data directory's file system, under MIN_FREE_DISK ${formatBytes(limits.minFreeDisk)}`,
    };
  }
  return { ok: true };
}

// ---- shell ----

/** Bytes available to unprivileged writers on the file system of `dir` (df's "Avail"). */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Sum of the sizes of all regular files under `dir` (symlinks are not followed); 0 if it does not exist. */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  for (const n of names) {
    const p = join(dir, n);
    try {
      const st = await lstat(p);
      if (st.isDirectory()) total += await directoryBytes(p);
      else if (st.isFile()) total += st.size;
    } catch {
      // removed while we walked: not counted
    }
  }
  return total;
}

export async function measureDisk(dir: string): Promise<DiskState> {
  const [usedBytes, free] = await Promise.all([directoryBytes(dir), freeBytes(dir)]);
  return { usedBytes, freeBytes: free };
}
