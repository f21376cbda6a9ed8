#!/usr/bin/env node
// `npm run dev-cluster -- up|down|status`: compile, then run test/harness/dev-cluster.ts.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePrerequisites } from './prereqs.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
ensurePrerequisites({ forTests: false });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(1);
const r = spawnSync(process.execPath, [join(root, 'dist/test/harness/dev-cluster.js'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, PCAPPER_REPO_ROOT: root },
});
process.exit(r.status ?? 1);
