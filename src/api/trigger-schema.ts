/**
 * The trigger part of the PacketCapture API (docs/triggers.md): `spec.trigger` arms a capture —
 * the agent keeps only a rolling in-memory window per target — and `status.firings` records each
 * time a trigger fired, which turns the window plus the next `after` seconds into ring files.
 *
 * Kept in its own file so the schema stays readable; src/api/packetcapture.ts imports it (one
 * schema, one CRD). Semantic checks beyond OpenAPI/CEL: src/api/trigger.ts (resolveTrigger).
 */
import { s, type CelRule, type Infer } from './dsl.js';
import { SECONDS_STRING, SIZE_STRING_TRIGGER } from './trigger-formats.js';

/** What can fire a trigger (issue 15 item 2). `Traffic` is decided by the agent from its live analysis (src/agent/traffic-trigger.ts). */
export const TRIGGER_TYPES = ['ContainerRestart', 'OOMKilled', 'NotReady', 'Event', 'Webhook', 'Traffic'] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];
/** Kinds that watch the target pods (pod targets only). */
export const POD_TRIGGER_TYPES: readonly TriggerType[] = ['ContainerRestart', 'OOMKilled', 'NotReady'];
/**
 * Traffic conditions (the live analysis' records of a target): TCP resets (RST segments, refused
 * connections included), DNS answers with rcode SERVFAIL, HTTP/1.x and HTTP/2 responses with a
 * 5xx status, gRPC calls that ended with a non-OK grpc-status.
 */
export const TRAFFIC_METRICS = ['TcpResets', 'DnsServfail', 'Http5xx', 'GrpcError'] as const;
export type TrafficMetric = (typeof TRAFFIC_METRICS)[number];

export const TRIGGER_LIMITS = {
  minLookBackSeconds: 1,
  maxLookBackSeconds: 600,
  defaultLookBackSeconds: 30,
  /** per target, in the agent's memory */
  minLookBackBytes: 64 * 1024,
  maxLookBackBytes: 1024 * 1024 * 1024,
  defaultLookBackBytes: 64 * 1024 * 1024,
  maxAfterSeconds: 3600,
  defaultAfterSeconds: 30,
  maxTriggers: 16,
  maxFirings: 16,
  /** Traffic triggers: the sliding window the threshold counts in (default 1 s: a rate per second). */
  minTrafficWindowSeconds: 1,
  maxTrafficWindowSeconds: 300,
  defaultTrafficWindowSeconds: 1,
  maxTrafficThreshold: 1_000_000,
} as const;

const lookBackRule: CelRule = {
  rule: `type(self) == int ? (self >= 1 && self <= ${TRIGGER_LIMITS.maxLookBackSeconds}) : (!self.matches('${SECONDS_STRING}') || (self.matches('^[0-9]+$') ? (int(self) >= 1 && int(self) <= ${TRIGGER_LIMITS.maxLookBackSeconds}) : (duration(self) >= duration('1s') && duration(self) <= duration('${TRIGGER_LIMITS.maxLookBackSeconds}s'))))`,
  message: `trigger.lookBack must be between 1 second and ${TRIGGER_LIMITS.maxLookBackSeconds / 60} minutes, e.g. "30s"`,
};
const afterRule: CelRule = {
  rule: `type(self) == int ? (self >= 0 && self <= ${TRIGGER_LIMITS.maxAfterSeconds}) : (!self.matches('${SECONDS_STRING}') || (self.matches('^[0-9]+$') ? (int(self) <= ${TRIGGER_LIMITS.maxAfterSeconds}) : (duration(self) <= duration('${TRIGGER_LIMITS.maxAfterSeconds}s'))))`,
  message: `trigger.after must be between 0 seconds and ${TRIGGER_LIMITS.maxAfterSeconds / 60} minutes, e.g. "30s"`,
};
const trafficWindowRule: CelRule = {
  rule: `type(self) == int ? (self >= 1 && self <= ${TRIGGER_LIMITS.maxTrafficWindowSeconds}) : (!self.matches('${SECONDS_STRING}') || (self.matches('^[0-9]+$') ? (int(self) >= 1 && int(self) <= ${TRIGGER_LIMITS.maxTrafficWindowSeconds}) : (duration(self) >= duration('1s') && duration(self) <= duration('${TRIGGER_LIMITS.maxTrafficWindowSeconds}s'))))`,
  message: `trigger.when[].traffic.window must be between 1 second and ${TRIGGER_LIMITS.maxTrafficWindowSeconds / 60} minutes, e.g. "1s" (a rate per second) or "60s"`,
};
const lookBackBytesRule: CelRule = {
  rule: `!self.matches('${SIZE_STRING_TRIGGER}') || (quantity(self).compareTo(quantity('64Ki')) >= 0 && quantity(self).compareTo(quantity('1Gi')) <= 0)`,
  message: 'trigger.lookBackBytes must be between 64Ki and 1Gi per target (kept in the agent\'s memory), e.g. "64Mi"',
};

export const triggerOnSchema = s.object(
  {
    type: s.enum(TRIGGER_TYPES, {
      description:
        'ContainerRestart / OOMKilled / NotReady: a target pod\'s container restarts, is OOMKilled, or the pod\'s Ready condition turns False. Event: a Kubernetes Event with `reason` in the target namespace. Webhook: an Alertmanager notification POSTed to the trigger subresource (docs/triggers.md). Traffic: a condition of the agent\'s live analysis of a target\'s packets (traffic.metric reaches traffic.threshold within traffic.window).',
    }),
    reason: s.string({ maxLength: 128, pattern: '^[A-Za-z][A-Za-z0-9]*$', description: 'Event only: the Event reason to match (e.g. BackOff, Unhealthy, FailedMount).' }),
    involvedObjectName: s.string({ maxLength: 253, description: 'Event only: match only Events about the object of this name (default: any object in the target namespace except PacketCaptures).' }),
    alertName: s.string({ maxLength: 253, description: 'Webhook only: fire only for alerts with this alertname label (default: any firing alert).' }),
    traffic: s.object(
      {
        metric: s.enum(TRAFFIC_METRICS, {
          description: 'TcpResets: RST segments (refused connections included). DnsServfail: DNS answers with rcode SERVFAIL. Http5xx: HTTP/1.x and HTTP/2 responses with a 5xx status. GrpcError: gRPC calls that ended with a grpc-status other than OK.',
        }),
        threshold: s.int({ minimum: 1, maximum: TRIGGER_LIMITS.maxTrafficThreshold, description: 'Fire when this many happened on one target within window.' }),
        window: s.intOrString({
          pattern: SECONDS_STRING,
          maxLength: 20,
          description: `The sliding window (packet time) the threshold counts in: seconds or a duration, ${TRIGGER_LIMITS.minTrafficWindowSeconds}s to ${TRIGGER_LIMITS.maxTrafficWindowSeconds / 60}m. Default ${TRIGGER_LIMITS.defaultTrafficWindowSeconds}s (threshold is then a rate per second).`,
          validations: [trafficWindowRule],
        }),
      },
      { required: ['metric', 'threshold'], description: 'Traffic only: fire when metric reaches threshold on one target within window (decided by the agent that captures the target).' },
    ),
  },
  {
    required: ['type'],
    validations: [
      { rule: "self.type == 'Event' ? has(self.reason) : !has(self.reason)", message: 'an Event trigger needs reason (e.g. {type: Event, reason: BackOff}); reason applies only to type Event' },
      { rule: "!has(self.involvedObjectName) || self.type == 'Event'", message: 'involvedObjectName applies only to type Event' },
      { rule: "!has(self.alertName) || self.type == 'Webhook'", message: 'alertName applies only to type Webhook' },
      { rule: "self.type == 'Traffic' ? has(self.traffic) : !has(self.traffic)", message: 'a Traffic trigger needs traffic {metric, threshold}; traffic applies only to type Traffic' },
    ],
  },
);

export const triggerSchema = s.object(
  {
    lookBack: s.intOrString({
      pattern: SECONDS_STRING,
      maxLength: 20,
      description: `How much traffic before the trigger to keep, per target, in memory: seconds or a duration. Default ${TRIGGER_LIMITS.defaultLookBackSeconds}s.`,
      validations: [lookBackRule],
    }),
    lookBackBytes: s.string({
      pattern: SIZE_STRING_TRIGGER,
      maxLength: 10,
      description: 'Bound of the window in memory per target (a quantity: "64Mi", "256M"). Default 64Mi. The oldest packets leave the window first.',
      validations: [lookBackBytesRule],
    }),
    after: s.intOrString({
      pattern: SECONDS_STRING,
      maxLength: 20,
      description: `How long to go on capturing after the trigger fired. Default ${TRIGGER_LIMITS.defaultAfterSeconds}s.`,
      validations: [afterRule],
    }),
    when: s.array(triggerOnSchema, { maxItems: TRIGGER_LIMITS.maxTriggers, description: 'What fires the trigger (any of them; the first firing wins).' }),
  },
  {
    required: ['when'],
    description:
      'Arms the capture instead of recording right away: each target keeps only a rolling window of its last lookBack seconds in the agent\'s memory (never on disk) until a trigger fires; then the window plus the next `after` seconds becomes ring files like any capture. captureSeconds is how long the capture stays armed. docs/triggers.md.',
    validations: [{ rule: 'size(self.when) >= 1', message: 'trigger.when needs at least one trigger, e.g. [{type: ContainerRestart}]' }],
  },
);

export const FIRING_SOURCES = ['controller', 'webhook', 'agent'] as const;

export const firingSchema = s.object(
  {
    id: s.string({ maxLength: 64, pattern: '^[a-z0-9-]+$', description: 'Unique id of the firing.' }),
    type: s.enum(TRIGGER_TYPES),
    time: s.string({ format: 'date-time', description: 'When the trigger was observed (the window ends here; capture goes on for `after`).' }),
    cause: s.string({ maxLength: 1024, description: 'What fired, e.g. "pod shop/web-0 container app restarted (OOMKilled)".' }),
    source: s.enum(FIRING_SOURCES),
    windowStart: s.string({ format: 'date-time', description: 'time - lookBack: the oldest packet kept (less when lookBackBytes filled first).' }),
    windowEnd: s.string({ format: 'date-time', description: 'time + after: when the targets stop.' }),
  },
  { required: ['id', 'type', 'time'] },
);

export type TriggerSpec = Infer<typeof triggerSchema>;
export type TriggerOn = Infer<typeof triggerOnSchema>;
export type Firing = Infer<typeof firingSchema>;

/** Field managers of firings (each firing entry keeps its writer; the controller's status apply never drops them). */
export const TRIGGER_FIELD_MANAGER = 'pcapper-trigger';
export const WEBHOOK_FIELD_MANAGER = 'pcapper-trigger-webhook';
/**
 * The field manager of a node's agent for the Traffic firings it decides: not the agent's status
 * manager (pcapper-agent-<node>), whose every apply states all its fields and would drop a firing
 * it does not repeat. Applied once per firing, never again, so the entry stays.
 */
export const agentTriggerFieldManager = (node: string): string => `pcapper-agent-trigger-${node}`;

/** Target reasons while armed and after firing (phase stays Running). */
export const REASON_ARMED = 'Armed';
export const REASON_TRIGGERED = 'Triggered';
