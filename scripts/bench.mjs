#!/usr/bin/env node
// `npm run bench -- NAME`: compile, then run bench/NAME.ts. Each benchmark measures its baseline
// (bare tcpdump, tshark, mergecap, ...) in the same run and prints its figures as key=value pairs
// on its last line of stdout.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePrerequisites } from './prereqs.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const [name, ...rest] = process.argv.slice(2);
const available = () =>
  readdirSync(join(root, 'bench'))
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.test.ts'))
    .map((f) => f.replace(/\.ts$/, ''));
if (!name) {
  console.error(`usage: npm run bench -- NAME [ARGS]\navailable: ${available().join(', ')}`);
  process.exit(2);
}
if (!existsSync(join(root, 'bench', `${name}.ts`))) {
  console.error(`bench: no benchmark named "${name}"; available: ${available().join(', ')}`);
  process.exit(2);
}
ensurePrerequisites({ forTests: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(1);
const res = spawnSync(process.execPath, ['--enable-source-maps', join(root, 'dist/bench', `${name}.js`), ...rest], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, PCAPPER_REPO_ROOT: root },
});
process.exit(res.status ?? 1);
