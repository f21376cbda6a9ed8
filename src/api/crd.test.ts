import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { renderCRD, renderCrdFile, repoRoot, REGENERATE_COMMAND } from '../../tools/gen-crd.js';
import { CRDS, packetCaptureCRD } from './crd.js';

for (const src of CRDS) {
  test(`${src.file} is generated from the schema (no drift)`, () => {
    let current = '';
    try {
      current = readFileSync(join(repoRoot(), src.file), 'utf8');
    } catch {
      /* missing */
    }
    assert.ok(current === renderCrdFile(src), `${src.file} is out of date with ${src.schemaFile}; regenerate it with: ${REGENERATE_COMMAND}`);
  });
}

test('every CRD file is deploy/crd.yaml or deploy/crd-<plural>.yaml (the chart copies deploy/crd*.yaml)', () => {
  for (const src of CRDS) assert.match(src.file, /^deploy\/crd(-[a-z0-9]+)?\.yaml$/);
  assert.equal(new Set(CRDS.map((c) => c.file)).size, CRDS.length);
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
