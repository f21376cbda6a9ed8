/**
 * The PacketCapture API (group pcapper.dev, version v1alpha1): the single source of truth for the
 * TypeScript types (`PacketCaptureSpec`, `PacketCaptureStatus`, ...) and for the CRD's
 * openAPIV3Schema (generated into deploy/crd.yaml by `npm run gen`; a test fails on drift).
 *
 * Seed 002's field names and value formats are kept verbatim (targetNamespace, targetPod,
 * targetNode, targetInterface, captureSeconds, captureFilter, maxFileSize, fileCount; strings such
 * as "600", "100M", "10" or plain integers), so its two examples work with only the apiVersion
 * changed. Seed 003 adds podSelector (its podLabel), interfaceName and packetCount; seed 004 adds
 * targetDeployment, duration and jobId.
 *
 * ## Status ownership (many writers, nobody loses an update)
 * All status writes are server-side apply (SSA) to the status subresource.
 * - `status.targets` is a list-map keyed by `name` (see targetKey()). Each entry has two owners:
 *   - the controller (field manager `pcapper-controller`) owns the identity fields it plans:
 *     name, kind, namespace, pod, podUID, node, interface;
 *   - the agent of the entry's node (field manager `pcapper-agent-<node>`) owns what it observes:
 *     phase, reason, message, files, fileLocation, bytes, packets, drops, startTime, finishTime,
 *     lastUpdateTime. An agent only ever applies entries whose `node` is its own node.
 *   The one exception: the controller may fail a target that no agent has taken (phase unset,
 *   Pending or Scheduled) — deadline passed, node missing, pod gone before start. It applies
 *   phase/reason/message for that entry; if an agent reports later it force-applies and becomes
 *   the owner again, so the newest observation wins and neither side clobbers other entries.
 * - `status.nodes` is a list-map keyed by `node`: the agent of each node owns its entry (files and
 *   bytes on disk, whether the capture's directory was removed after deletion). The controller
 *   reads it to release the finalizer.
 * - Everything else (progress, node, fileLocation, counters, conditions, observedGeneration,
 *   startTime, completionTime) is owned by the controller alone, computed from the entries above.
 */
import { AGE_RECIPIENT_PATTERN, MAX_RECIPIENTS } from './age-recipient.js';
import { s, type CelRule, type Infer } from './dsl.js';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN, FILE_NAME, INTERFACE_NAME, MAX_FILE_NAME_LENGTH } from './names.js';
import { firingSchema, triggerSchema, TRIGGER_LIMITS } from './trigger-schema.js';

/** A pattern without its anchors, to build a larger one. */
const inner = (p: string): string => p.slice(1, -1);

export const GROUP = 'pcapper.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'PacketCapture';
export const PLURAL = 'packetcaptures';
export const SINGULAR = 'packetcapture';
export const SHORT_NAMES = ['pcap'] as const;
export const FINALIZER = 'pcapper.dev/cleanup';
export const CONTROLLER_FIELD_MANAGER = 'pcapper-controller';
export const agentFieldManager = (node: string): string => `pcapper-agent-${node}`;

/** Labels put on everything pcapper creates on behalf of a capture (seed 004). */
export const LABEL_CAPTURE = 'pcapper.dev/capture';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';

// ---- value formats (admission patterns; the controller re-validates with src/api/validate.ts) ----

// Name formats (DNS-1123 label and subdomain, interface and file names): src/api/names.ts.
export { DNS1123_LABEL, DNS1123_SUBDOMAIN, FILE_NAME, INTERFACE_NAME, MAX_FILE_NAME_LENGTH } from './names.js';
/** Whole seconds as a string ("600"), or a duration with a unit ("30s", "5m", "1h", "1h30m"). */
export const SECONDS_STRING = '^([0-9]{1,6}|([0-9]{1,5}h)?([0-9]{1,5}m)?([0-9]{1,6}s)?)$';
/**
 * A size: a bare number means megabytes, as tcpdump's -C counts them (1,000,000 bytes; "100"),
 * or a Kubernetes quantity with a unit: k, M, G (powers of 1000) or Ki, Mi, Gi (powers of 1024).
 */
export const SIZE_STRING = '^[0-9]{1,7}(k|M|G|Ki|Mi|Gi)?$';
export const COUNT_STRING = '^[0-9]{1,10}$';
/** A BPF filter: printable text, not starting with '-' (never parsed as a tcpdump flag). */
export const FILTER_PATTERN = '^[^-\\x00-\\x1f\\x7f][^\\x00-\\x08\\x0a-\\x1f\\x7f]*$';
export const MAX_FILTER_LENGTH = 1024;
/** Key of a status.targets entry (targetKey()): pod/<namespace>/<pod> or node/<node>/<interface>. */
export const TARGET_KEY = `^(pod/${inner(DNS1123_LABEL)}/${inner(DNS1123_SUBDOMAIN)}|node/${inner(DNS1123_SUBDOMAIN)}/${inner(INTERFACE_NAME)})$`;
/** A pod UID as the apiserver issues it. */
export const UID_PATTERN = '^[0-9a-fA-F-]{1,64}$';

export const LIMITS = {
  maxCaptureSeconds: 7 * 24 * 3600,
  maxFileCount: 1000,
  maxPacketCount: 1_000_000_000,
  maxSnapLength: 262144,
  /** per ring file */
  minFileSizeBytes: 1_000_000,
  maxFileSizeBytes: 100_000_000_000,
  /** maxFileSize × fileCount per target (1 TB) */
  maxBytesPerTarget: 1_000_000_000_000,
  maxTtlSeconds: 365 * 24 * 3600,
} as const;

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export const PROGRESS = ['scheduled', 'running', 'finished', 'failure'] as const;
export type Progress = (typeof PROGRESS)[number];

export const TARGET_PHASES = ['Pending', 'Scheduled', 'Running', 'Finished', 'Failed'] as const;
export type TargetPhase = (typeof TARGET_PHASES)[number];

const labelSelectorRequirement = s.object(
  {
    key: s.string({ maxLength: 317 }),
    operator: s.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: s.array(s.string({ maxLength: 63 }), { maxItems: 64 }),
  },
  { required: ['key', 'operator'] },
);

const labelSelector = s.object(
  {
    matchLabels: s.map(s.string({ maxLength: 63 }), { maxProperties: 64 }),
    matchExpressions: s.array(labelSelectorRequirement, { maxItems: 64 }),
  },
  { description: 'A standard Kubernetes label selector (seed 003 podLabel). An empty selector is refused.' },
);

/** CEL bounds for the int-or-string fields (the string form's syntax is checked by `pattern`). */
const secondsRule = (field: string): CelRule => ({
  rule:
    `type(self) == int ? (self >= 1 && self <= ${LIMITS.maxCaptureSeconds}) : ` +
    `(self != '' && (!self.matches('${SECONDS_STRING}') || (self.matches('^[0-9]+$') ? ` +
    `(int(self) >= 1 && int(self) <= ${LIMITS.maxCaptureSeconds}) : ` +
    `(duration(self) >= duration('1s') && duration(self) <= duration('${LIMITS.maxCaptureSeconds / 3600}h')))))`,
  message: `${field} must be between 1 second and ${LIMITS.maxCaptureSeconds / 86400} days: seconds ("600", 600) or a duration ("30s", "5m", "1h30m")`,
});
const countRule = (field: string, max: number): CelRule => ({
  rule: `type(self) == int ? (self >= 1 && self <= ${max}) : (!self.matches('${COUNT_STRING}') || (int(self) >= 1 && int(self) <= ${max}))`,
  message: `${field} must be a whole number between 1 and ${max}`,
});
const sizeRule: CelRule = {
  rule:
    "type(self) == int ? (self >= 1 && self <= " + LIMITS.maxFileSizeBytes / 1e6 + ") : (!self.matches('" + SIZE_STRING + "') || (self.matches('^[0-9]+$') ? (int(self) >= 1 && int(self) <= " + LIMITS.maxFileSizeBytes / 1e6 + ") : (quantity(self).compareTo(quantity('1M')) >= 0 && quantity(self).compareTo(quantity('100G')) <= 0)))",
  message: 'maxFileSize must be between 1M and 100G per ring file (e.g. "100M", "1Gi"; a bare number counts megabytes as tcpdump -C does)',
};

const oneTargetKind =
  "(has(self.targetPod) ? 1 : 0) + (has(self.podSelector) ? 1 : 0) + (has(self.targetDeployment) ? 1 : 0) + (has(self.workloadRef) ? 1 : 0) + (has(self.targetNode) ? 1 : 0) == 1";

export const specSchema = s.object(
  {
    targetNamespace: s.string({
      maxLength: 63,
      pattern: DNS1123_LABEL,
      description: 'Namespace of the target pods. Defaults to the PacketCapture\'s own namespace.',
    }),
    targetPod: s.string({ maxLength: 253, pattern: DNS1123_SUBDOMAIN, description: 'Capture one pod by name.' }),
    podSelector: labelSelector,
    targetDeployment: s.string({
      maxLength: 253,
      pattern: DNS1123_SUBDOMAIN,
      description: 'Capture every pod of this Deployment (seed 004); same as workloadRef {kind: Deployment}.',
    }),
    workloadRef: s.object(
      {
        kind: s.enum(WORKLOAD_KINDS),
        name: s.string({ maxLength: 253, pattern: DNS1123_SUBDOMAIN }),
      },
      { required: ['kind', 'name'], description: 'Capture every pod selected by this workload.' },
    ),
    targetNode: s.string({
      maxLength: 253,
      pattern: DNS1123_SUBDOMAIN,
      description: 'Capture a host interface of this node (with targetInterface). System namespace only.',
    }),
    targetInterface: s.string({
      maxLength: 15,
      pattern: INTERFACE_NAME,
      description: 'Host interface on targetNode, e.g. eth0 or any.',
    }),
    interfaceName: s.string({
      maxLength: 15,
      pattern: INTERFACE_NAME,
      description: 'Interface inside each target pod (seed 003). Default: any.',
    }),
    captureSeconds: s.intOrString({
      pattern: SECONDS_STRING,
      maxLength: 20,
      description: 'How long to capture: seconds ("600", 600) or a duration ("5m"). Default 60 unless packetCount is set.',
      validations: [secondsRule('captureSeconds')],
    }),
    duration: s.intOrString({
      pattern: SECONDS_STRING,
      maxLength: 20,
      description: 'Seed 004\'s name for captureSeconds; set at most one of the two.',
      validations: [secondsRule('duration')],
    }),
    captureFilter: s.string({
      maxLength: MAX_FILTER_LENGTH,
      pattern: FILTER_PATTERN,
      description: 'A BPF filter expression (tcpdump syntax), compiled by the agent before capturing.',
    }),
    maxFileSize: s.intOrString({
      pattern: SIZE_STRING,
      maxLength: 10,
      description: 'Size of one ring file: "100M", "1Gi", or a number of megabytes as tcpdump -C counts them. Default 100M.',
      validations: [sizeRule],
    }),
    fileCount: s.intOrString({
      pattern: COUNT_STRING,
      maxLength: 10,
      description: 'Number of ring files kept per target (tcpdump -W). Default 10.',
      validations: [countRule('fileCount', LIMITS.maxFileCount)],
    }),
    packetCount: s.intOrString({
      pattern: COUNT_STRING,
      maxLength: 10,
      description: 'Stop each target after this many packets (tcpdump -c, seed 003).',
      validations: [countRule('packetCount', LIMITS.maxPacketCount)],
    }),
    snapLength: s.int({ minimum: 0, maximum: LIMITS.maxSnapLength, description: 'Bytes kept per packet (tcpdump -s); 0 = whole packet (262144).' }),
    ttlSecondsAfterFinished: s.int({
      minimum: 0,
      maximum: LIMITS.maxTtlSeconds,
      description: 'Delete the PacketCapture (and its files) this long after it finished or failed.',
    }),
    jobId: s.string({ maxLength: 8, pattern: '^[a-z0-9]+$', description: 'Seed 004\'s run identifier; recorded, not interpreted.' }),
    failIfNoTargets: s.bool({
      description:
        'podSelector and workload captures only: fail (reason NoPodsMatched) when no pod matches within the resolve grace period, instead of waiting for matching pods until the capture window ends. Default false.',
    }),
    store: s.string({
      maxLength: 253,
      pattern: DNS1123_SUBDOMAIN,
      description:
        'The PacketCaptureStore (cluster-scoped, set up by the admin) that the ring files are uploaded to, encrypted (docs/storage.md). Default: the store marked default, else none (files stay on the nodes). The store must allow this namespace.',
    }),
    sink: s.string({
      maxLength: 253,
      pattern: DNS1123_SUBDOMAIN,
      description:
        'The PacketCaptureSink (cluster-scoped, set up by the admin) the agents publish this capture\'s live analysis records to (docs/kafka.md). Unset: no analysis, no publishing. The sink must allow this namespace.',
    }),
    encryption: s.object(
      {
        recipients: s.array(s.string({ maxLength: 62, pattern: AGE_RECIPIENT_PATTERN }), {
          maxItems: MAX_RECIPIENTS,
          description: 'age X25519 public keys ("age1..." from age-keygen); every file\'s data key is wrapped to these and to no cluster key.',
        }),
      },
      {
        required: ['recipients'],
        validations: [{ rule: 'size(self.recipients) >= 1', message: 'encryption.recipients must list at least one age X25519 recipient ("age1...", from age-keygen)' }],
        description:
          'End-to-end encryption (docs/storage.md): only the holders of the matching age identities can read the files (kubectl pcap download --identity FILE). The server then serves the files as stored, and summary, UI and live views of the capture are refused.',
      },
    ),
    immediate: s.bool({
      description:
        'Deliver each packet to live streams as it arrives (tcpdump --immediate-mode) instead of in the kernel\'s blocks (up to 1 s late). Lowers the lossless capture rate; `kubectl pcap live` sets it. Default false.',
    }),
    trigger: triggerSchema,
  },
  {
    description: 'What to capture. Exactly one kind of target: targetPod, podSelector, targetDeployment, workloadRef or targetNode.',
    validations: [
      {
        rule: oneTargetKind,
        message:
          'exactly one kind of target is required: targetPod, podSelector, targetDeployment, workloadRef, or targetNode with targetInterface',
      },
      {
        rule: 'has(self.targetNode) == has(self.targetInterface)',
        message: 'targetNode and targetInterface go together: set both to capture a node interface, or neither',
      },
      {
        rule: '!(has(self.targetNode) && has(self.targetNamespace))',
        message: 'targetNamespace does not apply to a node interface capture (targetNode/targetInterface)',
      },
      {
        rule: '!(has(self.targetNode) && has(self.interfaceName))',
        message: 'interfaceName is the interface inside a pod; for a node capture use targetInterface',
      },
      { rule: '!(has(self.captureSeconds) && has(self.duration))', message: 'set captureSeconds or duration, not both' },
      {
        rule: "!has(self.podSelector) || (has(self.podSelector.matchLabels) && size(self.podSelector.matchLabels) > 0) || (has(self.podSelector.matchExpressions) && size(self.podSelector.matchExpressions) > 0)",
        message: 'podSelector must not be empty: an empty selector would capture every pod of the namespace',
      },
      {
        rule: "!has(self.trigger) || !has(self.targetNode) || self.trigger.when.all(o, o.type == 'Event' || o.type == 'Webhook' || o.type == 'Traffic')",
        message: 'a node interface capture has no target pod: its triggers can only be Event, Webhook or Traffic',
      },
      { rule: '!(has(self.trigger) && has(self.packetCount))', message: 'packetCount does not apply to a triggered capture (tcpdump would stop while armed); use trigger.after' },
      {
        rule: 'self == oldSelf',
        message: 'spec is immutable: delete the PacketCapture and create a new one',
      },
    ],
  },
);

/** Upload state of one ring file (captures with a store; docs/storage.md section 4). */
export const UPLOAD_STATES = ['Pending', 'Uploading', 'Uploaded', 'Failed'] as const;

const uploadSchema = s.object({
  state: s.enum(UPLOAD_STATES),
  parts: s.int({ minimum: 0, description: 'Parts of the multipart upload (1 for a single PUT).' }),
  partsDone: s.int({ minimum: 0 }),
  reason: s.string({ maxLength: 128, description: 'CamelCase reason when not Uploaded, e.g. StoreUnavailable, InvalidAccessKeyId, NoSuchBucket.' }),
  message: s.string({ maxLength: 2048 }),
  lastAttemptTime: s.string({ format: 'date-time' }),
});

const fileSchema = s.object(
  {
    name: s.string({ maxLength: MAX_FILE_NAME_LENGTH, pattern: FILE_NAME }),
    size: s.int({ minimum: 0 }),
    upload: uploadSchema,
  },
  { required: ['name'] },
);

const conditionSchema = s.object(
  {
    type: s.string({ maxLength: 316 }),
    status: s.enum(['True', 'False', 'Unknown']),
    reason: s.string({ maxLength: 1024 }),
    message: s.string({ maxLength: 32768 }),
    lastTransitionTime: s.string({ format: 'date-time' }),
    observedGeneration: s.int({ minimum: 0 }),
  },
  { required: ['type', 'status'] },
);

export const targetStatusSchema = s.object(
  {
    // controller-owned identity
    // Names a client turns into paths are checked at admission (no '/', '..', leading '-').
    name: s.string({ maxLength: 330, pattern: TARGET_KEY, description: 'Key of the target: pod/<namespace>/<pod> or node/<node>/<interface>.' }),
    kind: s.enum(['pod', 'node']),
    namespace: s.string({ maxLength: 63, pattern: DNS1123_LABEL }),
    pod: s.string({ maxLength: 253, pattern: DNS1123_SUBDOMAIN }),
    podUID: s.string({ maxLength: 64, pattern: UID_PATTERN }),
    node: s.string({ maxLength: 253, pattern: DNS1123_SUBDOMAIN }),
    interface: s.string({ maxLength: 15, pattern: INTERFACE_NAME }),
    // agent-owned observation
    phase: s.enum(TARGET_PHASES),
    reason: s.string({ description: 'CamelCase reason for the phase, e.g. Capturing, PacketCountReached, BadFilter, DiskFull.' }),
    message: s.string(),
    fileLocation: s.string({ description: 'Directory of this target\'s files on the node (under /var/pcapper).' }),
    files: s.array(fileSchema, { maxItems: 1000 }),
    bytes: s.int({ minimum: 0 }),
    packets: s.int({ minimum: 0 }),
    drops: s.int({ minimum: 0, description: 'Packets dropped by the kernel (tcpdump\'s "dropped by kernel").' }),
    recordsPublished: s.int({ minimum: 0, description: 'Analysis records of this target acknowledged by the Kafka sink\'s broker (docs/kafka.md).' }),
    recordsDropped: s.int({ minimum: 0, description: 'Analysis records of this target the Kafka sink dropped (buffer full while the broker was away, or left at the end): never silent.' }),
    sinkError: s.string({ description: 'Why this node\'s agent cannot publish this target\'s records to the sink the capture names (e.g. a credentials entry missing from Secret pcapper-sink-credentials); the capture runs on and nothing is published for this target. A Warning Event SinkUnavailable says the same.' }),
    startTime: s.string({ format: 'date-time' }),
    finishTime: s.string({ format: 'date-time' }),
    lastUpdateTime: s.string({ format: 'date-time' }),
    // agent-owned, triggered captures (docs/triggers.md)
    triggeredTime: s.string({ format: 'date-time', description: 'When the agent froze this target\'s look-back window (a firing reached it).' }),
    windowStart: s.string({ format: 'date-time', description: 'Time of the oldest packet kept from the look-back window.' }),
    windowPackets: s.int({ minimum: 0, description: 'Packets taken from the look-back window into the ring files.' }),
  },
  { required: ['name'] },
);

export const nodeStatusSchema = s.object(
  {
    node: s.string({ maxLength: 253, pattern: DNS1123_SUBDOMAIN }),
    files: s.int({ minimum: 0 }),
    bytes: s.int({ minimum: 0 }),
    cleanedUp: s.bool({ description: 'The agent removed this capture\'s files from the node after deletion.' }),
  },
  { required: ['node'] },
);

export const statusSchema = s.object({
  progress: s.enum(PROGRESS, { description: 'Seed 002: scheduled, running, finished or failure.' }),
  node: s.string({ description: 'Seed 002: the node of the capture (comma-separated when targets span nodes).' }),
  fileLocation: s.string({ description: 'Seed 002: where the files are on the node(s): /var/pcapper/<namespace>/<capture>.' }),
  observedGeneration: s.int({ minimum: 0 }),
  targetsTotal: s.int({ minimum: 0 }),
  targetsRunning: s.int({ minimum: 0 }),
  targetsFinished: s.int({ minimum: 0 }),
  targetsFailed: s.int({ minimum: 0 }),
  packets: s.int({ minimum: 0 }),
  bytes: s.int({ minimum: 0 }),
  drops: s.int({ minimum: 0 }),
  recordsPublished: s.int({ minimum: 0, description: 'Sum of the targets\' recordsPublished (Kafka sink).' }),
  recordsDropped: s.int({ minimum: 0, description: 'Sum of the targets\' recordsDropped (Kafka sink).' }),
  startTime: s.string({ format: 'date-time' }),
  completionTime: s.string({ format: 'date-time' }),
  targets: s.array(targetStatusSchema, { listMapKeys: ['name'], maxItems: 10000 }),
  nodes: s.array(nodeStatusSchema, { listMapKeys: ['node'], maxItems: 5000 }),
  conditions: s.array(conditionSchema, { listMapKeys: ['type'], maxItems: 16 }),
  firings: s.array(firingSchema, { listMapKeys: ['id'], maxItems: TRIGGER_LIMITS.maxFirings, description: 'Triggered captures: each time a trigger fired (docs/triggers.md).' }),
});

export type PacketCaptureSpec = Infer<typeof specSchema>;
export type TargetStatus = Infer<typeof targetStatusSchema>;
export type NodeStatus = Infer<typeof nodeStatusSchema>;
export type PacketCaptureStatus = Infer<typeof statusSchema>;
export type Condition = Infer<typeof conditionSchema>;
export type FileUpload = Infer<typeof uploadSchema>;
export type LabelSelector = Infer<typeof labelSelector>;

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Server-side apply bookkeeping: who owns which field (see ownedTargetFields() in src/k8s/status.ts). */
  managedFields?: unknown[];
}

export interface PacketCapture {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: PacketCaptureSpec;
  status?: PacketCaptureStatus;
}

/** Condition types set by the controller. */
export const CONDITIONS = {
  /** True once every target is planned and none is missing. */
  TargetsResolved: 'TargetsResolved',
  /** True while at least one target captures. */
  Capturing: 'Capturing',
  /** True when some (not all) targets failed: the capture goes on, the failures are visible. */
  PartialFailure: 'PartialFailure',
  /** True when spec is invalid in a way admission could not see (reason says what). */
  Invalid: 'Invalid',
  /** True once every node reported its files removed (deletion in progress). */
  CleanedUp: 'CleanedUp',
  /** Captures with a store: True when every file is verified in the store (reasons: docs/storage.md section 4). */
  Uploaded: 'Uploaded',
  /** Deletion of a capture with a store: True once its objects are deleted from the store. */
  StoreCleanedUp: 'StoreCleanedUp',
  /** Triggered captures: True while the targets keep a look-back window and no trigger fired yet. */
  Armed: 'Armed',
  /** Triggered captures: True once a trigger fired (reason: the trigger type). */
  Triggered: 'Triggered',
} as const;

/** Key of a status.targets entry. */
export function targetKey(t: { kind: 'pod'; namespace: string; pod: string } | { kind: 'node'; node: string; interface: string }): string {
  return t.kind === 'pod' ? `pod/${t.namespace}/${t.pod}` : `node/${t.node}/${t.interface}`;
}
