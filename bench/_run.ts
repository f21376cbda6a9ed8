/** Helpers shared by the benchmarks: timing of child processes, machine description. */
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Timed {
  seconds: number;
  stdout: string;
  stderr: string;
  status: number | null;
}

/** Runs argv (no shell unless argv[0] is "sh") and returns the wall time. */
export function timed(cmd: string, args: readonly string[]): Timed {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`, { cause: r.error });
  return { seconds, stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** Runs this benchmark's compiled file again as a child in `--child` mode; parses its last JSON line. */
export function runChild<T>(benchFile: string, args: readonly string[]): { seconds: number; result: T } {
  const t = timed(process.execPath, [fileURLToPath(benchFile), '--child', ...args]);
  if (t.status !== 0) throw new Error(`child failed (${t.status}): ${t.stderr}`);
  const last = t.stdout.trim().split('\n').pop() ?? '';
  return { seconds: t.seconds, result: JSON.parse(last) as T };
}

/** Machine line for BENCHMARKS.md. */
export function machine(): string {
  return `nproc=${cpus().length} cpu="${cpus()[0]?.model ?? '?'}" mem=${(totalmem() / 2 ** 30).toFixed(1)}GiB node=${process.version}`;
}

/** Peak RSS of this process in MB (resourceUsage().maxRSS is in KiB). */
export function maxRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
