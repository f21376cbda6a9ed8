/**
 * `npm run gen` (node dist/tools/gen-env-docs.js [--check]): writes the configuration tables of
 * the docs from the config code, between markers:
 *
 *   <!-- env:agent:begin -->       docs/agent.md     src/config/agent.ts AGENT_ENV
 *   <!-- env:server:begin -->      docs/data-api.md  src/config/server.ts SERVER_ENV
 *   <!-- env:controller:begin -->  docs/api.md       src/controller/config.ts CONTROLLER_OPTIONS
 *
 * With --check it only compares and exits 1 on drift (src/config/env-docs.test.ts runs the check).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_ENV } from '../src/config/agent.js';
import { envMarkdownTable } from '../src/config/env.js';
import { SERVER_ENV } from '../src/config/server.js';
import { controllerOptionsMarkdown } from '../src/controller/config.js';
import { repoRoot } from './gen-crd.js';

export const ENV_REGENERATE_COMMAND = 'npm run gen   (or: npx tsc -p tsconfig.json && node dist/tools/gen-env-docs.js)';

export interface GeneratedTable {
  /** Marker name: <!-- env:NAME:begin --> … <!-- env:NAME:end --> */
  readonly name: string;
  /** File, relative to the repository root. */
  readonly file: string;
  readonly source: string;
  readonly render: () => string;
}

export const ENV_TABLES: readonly GeneratedTable[] = [
  { name: 'agent', file: 'docs/agent.md', source: 'src/config/agent.ts', render: () => envMarkdownTable(AGENT_ENV) },
  { name: 'server', file: 'docs/data-api.md', source: 'src/config/server.ts', render: () => envMarkdownTable(SERVER_ENV) },
  { name: 'controller', file: 'docs/api.md', source: 'src/controller/config.ts', render: () => controllerOptionsMarkdown() },
];

/** Why a document cannot take its table: a marker is missing or out of order. */
export class MarkerError extends Error {
  override readonly name = 'MarkerError';
}

/** `doc` with the text between the markers of `t` replaced by the generated table. */
export function fillTable(doc: string, t: GeneratedTable): string {
  const begin = `<!-- env:${t.name}:begin -->`;
  const end = `<!-- env:${t.name}:end -->`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new MarkerError(`${t.file}: needs the markers ${begin} and ${end} (in that order) where the table of ${t.source} goes`);
  const note = `<!-- Generated from ${t.source} by tools/gen-env-docs.ts: edit the code, then run ${ENV_REGENERATE_COMMAND} -->`;
  return `${doc.slice(0, i + begin.length)}\n${note}\n${t.render()}\n${doc.slice(j)}`;
}

/** The files whose tables differ from the code (relative paths). */
export function driftedFiles(root = repoRoot()): string[] {
  const out: string[] = [];
  for (const t of ENV_TABLES) {
    const doc = readFileSync(join(root, t.file), 'utf8');
    if (fillTable(doc, t) !== doc) out.push(t.file);
  }
  return out;
}

function main(argv: string[]): number {
  const root = repoRoot();
  if (argv.includes('--check')) {
    const drifted = driftedFiles(root);
    for (const f of drifted) process.stderr.write(`${f}: its configuration table is out of date; regenerate it with: ${ENV_REGENERATE_COMMAND}\n`);
    return drifted.length ? 1 : 0;
  }
  for (const t of ENV_TABLES) {
    const file = join(root, t.file);
    const doc = readFileSync(file, 'utf8');
    const next = fillTable(doc, t);
    if (next !== doc) {
      writeFileSync(file, next);
      process.stdout.write(`wrote the ${t.name} table of ${t.file}\n`);
    }
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof MarkerError)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 1;
  }
}
