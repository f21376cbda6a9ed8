/**
 * `npm run gen` (node dist/tools/gen-crd.js [--check]): writes deploy/crd.yaml from the schema.
 * With --check it only compares and exits 1 on drift.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { packetCaptureCRD } from '../src/api/crd.js';

export const CRD_FILE = 'deploy/crd.yaml';
export const REGENERATE_COMMAND = 'npm run gen   (or: npx tsc -p tsconfig.json && node dist/tools/gen-crd.js)';

export function renderCRD(): string {
  return (
    '# Generated from src/api/packetcapture.ts by tools/gen-crd.ts. Do not edit.\n' +
    `# Regenerate: ${REGENERATE_COMMAND}\n` +
    stringify(packetCaptureCRD(), { lineWidth: 0 })
  );
}

/** Repository root: dist/tools/gen-crd.js -> ../.. */
export function repoRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

function main(argv: string[]): number {
  const file = join(repoRoot(), CRD_FILE);
  const text = renderCRD();
  if (argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      /* missing = drift */
    }
    if (current !== text) {
      process.stderr.write(`${CRD_FILE} is out of date; regenerate it with: ${REGENERATE_COMMAND}\n`);
      return 1;
    }
    return 0;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  process.stdout.write(`wrote ${CRD_FILE}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
