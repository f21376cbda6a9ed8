/**
 * Helpers for the pcap library's tests: where the third-party capture files are, and how to run
 * Wireshark's command-line tools on them. Not used by production code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: $PCAPPER_REPO_ROOT, or the nearest ancestor with a package.json. */
export function repoRoot(): string {
  const env = process.env['PCAPPER_REPO_ROOT'];
  if (env) return env;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (no package.json above this file)');
    dir = up;
  }
}

/** ../shared/testdata/pcaps next to the repository. */
export function testdataDir(): string {
  return join(repoRoot(), '..', 'shared', 'testdata', 'pcaps');
}

/** Every capture file in the test-data directory, sorted. */
export function testdataFiles(): string[] {
  return readdirSync(testdataDir())
    .filter((f) => /\.(pcap|pcapng)$/.test(f))
    .sort()
    .map((f) => join(testdataDir(), f));
}

/** The file that every tool rejects (pcap version 1.4). */
export const INVALID_VERSION_FILE = 'libpcap__pcap-invalid-version-1.pcap';

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (argv, no shell) and returns its output; throws if it cannot be started. */
export function runTool(cmd: string, args: string[]): ToolResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`, { cause: r.error });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
