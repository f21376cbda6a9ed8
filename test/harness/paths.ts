/** Locations the tests and benchmarks share. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: $PCAPPER_REPO_ROOT, or the nearest directory above this file with a package.json. */
export function repoRoot(): string {
  const env = process.env.PCAPPER_REPO_ROOT;
  if (env) return resolve(env);
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (no package.json above the test files)');
    dir = up;
  }
  return dir;
}

/** test/data/pcaps: third-party captures vendored into the repository (origins and licenses in its SOURCES.md). */
export function testdataDir(): string {
  return join(repoRoot(), 'test', 'data', 'pcaps');
}
