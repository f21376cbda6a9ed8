#!/usr/bin/env node
// Bundles the UI page (src/ui/web, preact + @tanstack/virtual-core + uPlot) with esbuild into
// dist/src/ui/web: app.js, app.css, index.html, favicon.svg. No CDN, nothing fetched at run time:
// the npm package ships this bundle (package.json "files": dist/src). Run by `npm run build` and
// by scripts/test.mjs after tsc. Type-checks the browser code first with its own tsconfig (DOM,
// no Node types), so browser code that imports a Node API fails the build.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = join(root, 'src', 'ui', 'web');
const out = join(root, 'dist', 'src', 'ui', 'web');

export async function buildUi({ typecheck = true } = {}) {
  if (typecheck) {
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(web, 'tsconfig.json')], { stdio: 'inherit' });
    if (tsc.status !== 0) throw new Error('build-ui: the browser code does not type-check (see above)');
  }
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: { app: join(web, 'main.tsx') },
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(web, 'tsconfig.json'),
    logLevel: 'warning',
    legalComments: 'linked',
  });
  for (const f of ['index.html', 'favicon.svg']) copyFileSync(join(web, f), join(out, f));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildUi().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
