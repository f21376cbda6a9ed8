import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { renderCRD, repoRoot, CRD_FILE, REGENERATE_COMMAND } from '../../tools/gen-crd.js';
import { packetCaptureCRD } from './crd.js';

test('deploy/crd.yaml is generated from the schema (no drift)', () => {
  let current = '';
  try {
    current = readFileSync(join(repoRoot(), CRD_FILE), 'utf8');
  } catch {
    /* missing */
  }
  assert.ok(current === renderCRD(), `${CRD_FILE} is out of date with src/api/packetcapture.ts; regenerate it with: ${REGENERATE_COMMAND}`);
});

test('CRD: names, status subresource, printer columns, list-map keys for status ownership', () => {
  /* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-explicit-any */
  const crd = parse(renderCRD()) as ReturnType<typeof packetCaptureCRD> & { spec: any };
  assert.equal(crd.spec.group, 'pcapper.dev');
  assert.deepEqual(crd.spec.names.shortNames, ['pcap']);
  const v = crd.spec.versions[0];
  assert.deepEqual(v.subresources, { status: {} });
  assert.deepEqual(
    v.additionalPrinterColumns.map((c: { name: string }) => c.name),
    ['Progress', 'Running', 'Targets', 'Packets', 'Node', 'Age'],
  );
  const status = v.schema.openAPIV3Schema.properties.status.properties;
  assert.deepEqual(status.targets['x-kubernetes-list-map-keys'], ['name']);
  assert.deepEqual(status.nodes['x-kubernetes-list-map-keys'], ['node']);
  assert.equal(v.schema.openAPIV3Schema.properties.spec.properties.captureSeconds['x-kubernetes-int-or-string'], true);
  /* eslint-enable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-explicit-any */
});
