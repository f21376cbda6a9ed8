/**
 * `npm run gen` (node dist/tools/gen-crd.js [--check]): writes every CRD of src/api/crd.ts CRDS
 * (deploy/crd.yaml, deploy/crd-<plural>.yaml) from its schema. With --check it only compares and
 * exits 1 on drift.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { CRDS, packetCaptureCRD, type CrdSource } from '../src/api/crd.js';

export const CRD_FILE = 'deploy/crd.yaml';
export const REGENERATE_COMMAND = 'npm run gen   (or: npx tsc -p tsconfig.json && node dist/tools/gen-crd.js)';

/** The YAML of one CRD, as committed. */
export function renderCrdFile(src: CrdSource): string {
  return `# Generated from ${src.schemaFile} by tools/gen-crd.ts. Do not edit.\n` + `# Regenerate: ${REGENERATE_COMMAND}\n` + stringify(src.build(), { lineWidth: 0 });
}

/** deploy/crd.yaml: the PacketCapture CRD. */
export function renderCRD(): string {
  return renderCrdFile(CRDS.find((c) => c.build === packetCaptureCRD)!);
}

/** Repository root: dist/tools/gen-crd.js -> ../.. */
export function repoRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

function main(argv: string[]): number {
  let code = 0;
  for (const src of CRDS) {
    const file = join(repoRoot(), src.file);
    const text = renderCrdFile(src);
    if (argv.includes('--check')) {
      let current = '';
      try {
        current = readFileSync(file, 'utf8');
      } catch {
        /* missing = drift */
      }
      if (current !== text) {
        process.stderr.write(`${src.file} is out of date; regenerate it with: ${REGENERATE_COMMAND}\n`);
        code = 1;
      }
      continue;
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    process.stdout.write(`wrote ${src.file}\n`);
  }
  return code;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
