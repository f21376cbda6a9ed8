#!/usr/bin/env node
// `npm test`: compile, then run every *.test.js under dist/ with node's built-in test runner.
// Unit tests live next to the code (src/**/*.test.ts); real-cluster and real-kernel tests live
// under test/. Tests that need root (network namespaces, tcpdump) check for it and fail with the
// command to run, they are never silently skipped.
//
//   npm test                  everything
//   npm test -- unit          only src/ (fast, pure)
//   npm test -- PATTERN...    only test files whose path contains one of the patterns
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePrerequisites } from './prereqs.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);

ensurePrerequisites({ forTests: true });

// A clean dist/: a test file deleted from the sources must not keep running from an old build.
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) {
  console.error('test: TypeScript compilation failed (see above)');
  process.exit(1);
}

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

let files = [...walk(join(root, 'dist/src'), []), ...walk(join(root, 'dist/test'), [])].sort();
if (args.length === 1 && args[0] === 'unit') files = files.filter((f) => f.includes('/dist/src/'));
else if (args.length > 0) files = files.filter((f) => args.some((a) => relative(root, f).includes(a)));
if (files.length === 0) {
  console.error(`test: no test files match ${args.join(' ') || '(all)'}`);
  process.exit(1);
}

const res = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { stdio: 'inherit', cwd: root, env: { ...process.env, PCAPPER_REPO_ROOT: root } },
);
process.exit(res.status ?? 1);
