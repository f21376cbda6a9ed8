/**
 * Builds pcapper's CustomResourceDefinitions from the schemas in this folder. Each kind's YAML is
 * committed under deploy/ (the file named in {@link CRDS}; regenerate with `npm run gen`, i.e.
 * `node dist/tools/gen-crd.js`); src/api/crd.test.ts fails on drift, and `node scripts/helm.mjs
 * gen` copies every deploy/crd*.yaml into the chart (charts/pcapper/files/).
 */
import { toOpenAPI } from './dsl.js';
import { packetCaptureScheduleCRD } from './packetcaptureschedule.js';
import { packetCaptureSinkCRD } from './packetcapturesink.js';
import { GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION, specSchema, statusSchema } from './packetcapture.js';
import { STORE_CRD_NAME, STORE_KIND, STORE_PLURAL, STORE_SHORT_NAMES, STORE_SINGULAR, storeSpecSchema, storeStatusSchema } from './packetcapturestore.js';

export const CRD_NAME = `${PLURAL}.${GROUP}`;

export function packetCaptureCRD(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'pcapper', 'app.kubernetes.io/part-of': 'pcapper' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { plural: PLURAL, singular: SINGULAR, kind: KIND, listKind: `${KIND}List`, shortNames: [...SHORT_NAMES], categories: ['pcapper'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Progress', type: 'string', jsonPath: '.status.progress', description: 'scheduled, running, finished or failure' },
            { name: 'Running', type: 'integer', jsonPath: '.status.targetsRunning', description: 'Targets capturing now' },
            { name: 'Targets', type: 'integer', jsonPath: '.status.targetsTotal', description: 'Targets planned' },
            { name: 'Packets', type: 'integer', jsonPath: '.status.packets', description: 'Packets captured so far' },
            { name: 'Node', type: 'string', jsonPath: '.status.node', priority: 1, description: 'Node(s) of the targets' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'PacketCapture captures the traffic of pods or of a node interface into pcap files on the nodes.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: toOpenAPI(specSchema),
                status: toOpenAPI(statusSchema),
              },
            },
          },
        },
      ],
    },
  };
}

/** The PacketCaptureStore CRD (cluster-scoped; docs/storage.md section 1). */
export function packetCaptureStoreCRD(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: STORE_CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'pcapper', 'app.kubernetes.io/part-of': 'pcapper' },
    },
    spec: {
      group: GROUP,
      scope: 'Cluster',
      names: {
        plural: STORE_PLURAL,
        singular: STORE_SINGULAR,
        kind: STORE_KIND,
        listKind: `${STORE_KIND}List`,
        shortNames: [...STORE_SHORT_NAMES],
        categories: ['pcapper'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Endpoint', type: 'string', jsonPath: '.spec.s3.endpoint' },
            { name: 'Bucket', type: 'string', jsonPath: '.spec.s3.bucket' },
            { name: 'Default', type: 'boolean', jsonPath: '.spec.default' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
            { name: 'Prefix', type: 'string', jsonPath: '.spec.s3.prefix', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'PacketCaptureStore is an S3-compatible object store, set up by the cluster admin, that captures upload their encrypted files to.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: toOpenAPI(storeSpecSchema),
                status: toOpenAPI(storeStatusSchema),
              },
            },
          },
        },
      ],
    },
  };
}

/** One generated CRD: where its YAML lives (relative to the repository root) and how it is built. */
export interface CrdSource {
  /** deploy/crd.yaml for PacketCapture; deploy/crd-<plural>.yaml for every other kind. */
  readonly file: string;
  /** The file the schema lives in, for the drift message. */
  readonly schemaFile: string;
  build(): Record<string, unknown>;
}

/** Every CRD pcapper installs. A new kind adds one entry here (its file must match deploy/crd*.yaml). */
export const CRDS: readonly CrdSource[] = [
  { file: 'deploy/crd.yaml', schemaFile: 'src/api/packetcapture.ts', build: packetCaptureCRD },
  { file: 'deploy/crd-packetcapturestores.yaml', schemaFile: 'src/api/packetcapturestore.ts', build: packetCaptureStoreCRD },
  { file: 'deploy/crd-packetcaptureschedules.yaml', schemaFile: 'src/api/packetcaptureschedule.ts', build: packetCaptureScheduleCRD },
  { file: 'deploy/crd-packetcapturesinks.yaml', schemaFile: 'src/api/packetcapturesink.ts', build: packetCaptureSinkCRD },
];
