/**
 * The PacketCaptureSink API (group pcapper.dev, version v1alpha1, cluster-scoped, short name
 * `pcapsink`): a Kafka destination the cluster admin sets up, which captures name in `spec.sink`
 * (docs/kafka.md). The agents of the capture's targets analyse its packets live and publish the
 * records (src/pcap/records) to `topic`, and optionally the raw packets to `rawTopic`. One definition
 * gives the TypeScript types and the CRD's schema (deploy/crd-packetcapturesinks.yaml, `npm run gen`).
 *
 * Secret material (TLS client key, SASL password) is never in the object: the `*Entry` fields name
 * entries of Secret `pcapper-sink-credentials` in the system namespace, mounted into the agents.
 * Whether a capture's namespace may use the sink (`allowedNamespaces`, as for stores) is the
 * controller's decision (reasons SinkNotFound / SinkNotAllowed).
 */
import { s, toOpenAPI, type Infer } from './dsl.js';
import { DNS1123_LABEL, GROUP, VERSION, type ObjectMeta } from './packetcapture.js';
import { SECRET_KEY_NAME } from './packetcapturestore.js';

export const SINK_KIND = 'PacketCaptureSink';
export const SINK_PLURAL = 'packetcapturesinks';
export const SINK_SINGULAR = 'packetcapturesink';
export const SINK_SHORT_NAMES = ['pcapsink'] as const;
export const SINK_CRD_NAME = `${SINK_PLURAL}.${GROUP}`;
/** Secret (system namespace) whose entries the `*Entry` fields name; mounted read-only into the agents. */
export const SINK_CREDENTIALS_SECRET = 'pcapper-sink-credentials';

/** host:port or [v6]:port. */
export const BROKER_PATTERN = '^([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\]):[0-9]{1,5}$';
/** Kafka's topic naming rule. */
export const TOPIC_PATTERN = '^[a-zA-Z0-9._-]{1,249}$';

const entry = (what: string) => s.string({ maxLength: 253, pattern: SECRET_KEY_NAME, description: `Entry of Secret pcapper/${SINK_CREDENTIALS_SECRET} holding the ${what}.` });

export const sinkSpecSchema = s.object(
  {
    kafka: s.object(
      {
        brokers: s.array(s.string({ maxLength: 261, pattern: BROKER_PATTERN }), { maxItems: 64, description: 'Bootstrap brokers, host:port (at least one).', validations: [{ rule: 'size(self) >= 1', message: 'brokers needs at least one host:port' }] }),
        topic: s.string({ maxLength: 249, pattern: TOPIC_PATTERN, description: 'Topic of the records, keyed <namespace>/<capture>/<pod>: up to recordsPerMessage records of one key per message, newline-delimited JSON with header pcapper-envelope: ndjson/1 (docs/kafka.md). It must exist.' }),
        recordsPerMessage: s.int({ minimum: 1, maximum: 10000, description: 'Records of one key packed into one message (default 100). 1: one JSON record per message and no envelope headers, for consumers that expect that.' }),
        rawTopic: s.string({ maxLength: 249, pattern: TOPIC_PATTERN, description: 'Raw packets as pcapng messages (docs/kafka.md, raw mode). Unset: no raw packets.' }),
        compression: s.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd'], { description: 'Default lz4.' }),
        clientId: s.string({ maxLength: 128, pattern: '^[A-Za-z0-9._-]+$', description: 'Default pcapper-agent.' }),
        bufferMaxRecords: s.int({ minimum: 1, maximum: 10000000, description: 'Records held per agent while the broker is slow or away; beyond, records are dropped and counted (recordsDropped). Default 200000.' }),
        tls: s.object(
          {
            caEntry: entry('PEM CA bundle'),
            certEntry: entry('PEM client certificate'),
            keyEntry: entry('PEM client key'),
            servername: s.string({ maxLength: 253 }),
          },
          { required: [], description: 'TLS to the brokers; {} = TLS with the system roots.', validations: [{ rule: 'has(self.certEntry) == has(self.keyEntry)', message: 'certEntry and keyEntry go together (a client certificate needs its key)' }] },
        ),
        sasl: s.object(
          {
            mechanism: s.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']),
            usernameEntry: entry('SASL user name'),
            passwordEntry: entry('SASL password'),
          },
          { required: ['mechanism', 'usernameEntry', 'passwordEntry'] },
        ),
      },
      {
        required: ['brokers', 'topic'],
        validations: [{ rule: '!has(self.sasl) || has(self.tls)', message: 'sasl needs tls: the credentials (and the captured metadata) would cross the network in clear text' }],
      },
    ),
    allowedNamespaces: s.object(
      {
        names: s.array(s.string({ maxLength: 63, pattern: DNS1123_LABEL }), { maxItems: 1000 }),
      },
      { required: [], description: 'Namespaces whose captures may name this sink. The system namespace always may. Unset: only the system namespace.' },
    ),
  },
  { required: ['kafka'], description: 'Where captures that name this sink publish their analysis records.' },
);

export type PacketCaptureSinkSpec = Infer<typeof sinkSpecSchema>;

export interface PacketCaptureSink {
  apiVersion: `${typeof GROUP}/${typeof VERSION}`;
  kind: typeof SINK_KIND;
  metadata: ObjectMeta;
  spec: PacketCaptureSinkSpec;
}

export function packetCaptureSinkCRD(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: SINK_CRD_NAME, labels: { 'app.kubernetes.io/name': 'pcapper', 'app.kubernetes.io/part-of': 'pcapper' } },
    spec: {
      group: GROUP,
      scope: 'Cluster',
      names: { plural: SINK_PLURAL, singular: SINK_SINGULAR, kind: SINK_KIND, listKind: `${SINK_KIND}List`, shortNames: [...SINK_SHORT_NAMES], categories: ['pcapper'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: [
            { name: 'Topic', type: 'string', jsonPath: '.spec.kafka.topic' },
            { name: 'Raw Topic', type: 'string', jsonPath: '.spec.kafka.rawTopic', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'PacketCaptureSink: a Kafka destination for the live analysis records of the captures that name it (docs/kafka.md).',
              required: ['spec'],
              properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: toOpenAPI(sinkSpecSchema) },
            },
          },
        },
      ],
    },
  };
}
