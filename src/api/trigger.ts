/**
 * Semantic checks of `spec.trigger` beyond admission (the controller and the agent both resolve
 * it; a capture refused here gets the Invalid condition with these messages). Pure.
 */
import { POD_TRIGGER_TYPES, TRAFFIC_METRICS, TRIGGER_LIMITS, TRIGGER_TYPES, type TrafficMetric, type TriggerOn, type TriggerType } from './trigger-schema.js';

/** A Traffic trigger, resolved: `threshold` events of `metric` on one target within `windowSeconds` (packet time). */
export interface TrafficCondition {
  readonly metric: TrafficMetric;
  readonly threshold: number;
  readonly windowSeconds: number;
}

export interface ResolvedTrigger {
  readonly lookBackSeconds: number;
  readonly lookBackBytes: number;
  readonly afterSeconds: number;
  readonly when: readonly TriggerOn[];
  /** The Traffic triggers of `when` (the agent decides them from its live analysis). */
  readonly traffic: readonly TrafficCondition[];
}

export interface TriggerProblem {
  readonly field: string;
  readonly reason: string;
  readonly message: string;
}

export interface TriggerParsers {
  duration(v: unknown): number | Error;
  size(v: unknown): number | Error;
}

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/**
 * Resolves `trigger` (anything, as stored) with defaults. `podTargets`: the capture targets pods
 * (pod-watching trigger types need them); `ringBytes`: maxFileSize × fileCount (the window must fit).
 */
export function resolveTrigger(
  trigger: unknown,
  p: TriggerParsers,
  podTargets: boolean,
  ringBytes: number | undefined,
): { ok: true; trigger: ResolvedTrigger } | { ok: false; problems: TriggerProblem[] } {
  const problems: TriggerProblem[] = [];
  const bad = (field: string, message: string, reason = 'InvalidTrigger'): void => {
    problems.push({ field: `spec.trigger${field}`, reason, message });
  };
  if (trigger === null || typeof trigger !== 'object' || Array.isArray(trigger)) {
    bad('', 'trigger must be an object {lookBack, lookBackBytes, after, when: [...]}');
    return { ok: false, problems };
  }
  const t = trigger as Record<string, unknown>;
  for (const k of Object.keys(t)) if (!['lookBack', 'lookBackBytes', 'after', 'when'].includes(k)) bad(`.${k}`, `unknown field ${show(k)} (trigger has lookBack, lookBackBytes, after, when)`, 'UnknownField');
  const secs = (field: 'lookBack' | 'after', def: number, min: number, max: number): number => {
    if (t[field] === undefined) return def;
    const v = p.duration(t[field]);
    if (v instanceof Error) {
      bad(`.${field}`, v.message);
      return def;
    }
    if (v < min || v > max) bad(`.${field}`, `${show(t[field])} is out of range: ${field} must be between ${min} and ${max} seconds`);
    return v;
  };
  const lookBackSeconds = secs('lookBack', TRIGGER_LIMITS.defaultLookBackSeconds, TRIGGER_LIMITS.minLookBackSeconds, TRIGGER_LIMITS.maxLookBackSeconds);
  const afterSeconds = secs('after', TRIGGER_LIMITS.defaultAfterSeconds, 0, TRIGGER_LIMITS.maxAfterSeconds);
  let lookBackBytes: number = TRIGGER_LIMITS.defaultLookBackBytes;
  if (t.lookBackBytes !== undefined) {
    const v = typeof t.lookBackBytes === 'string' && /^[0-9]+$/.test(t.lookBackBytes) ? new Error(`${show(t.lookBackBytes)} needs a unit: e.g. "64Mi" or "256M"`) : p.size(t.lookBackBytes);
    if (v instanceof Error) bad('.lookBackBytes', v.message);
    else if (v < TRIGGER_LIMITS.minLookBackBytes || v > TRIGGER_LIMITS.maxLookBackBytes) bad('.lookBackBytes', `${show(t.lookBackBytes)} is out of range: between 64Ki and 1Gi per target (the window lives in the agent's memory)`);
    else lookBackBytes = v;
  }
  if (ringBytes !== undefined && lookBackBytes > ringBytes) {
    bad('.lookBackBytes', `the window (${lookBackBytes} bytes) does not fit in the ring (maxFileSize × fileCount = ${ringBytes} bytes): raise fileCount or maxFileSize, or lower lookBackBytes`);
  }
  const on: TriggerOn[] = [];
  const traffic: TrafficCondition[] = [];
  if (!Array.isArray(t.when) || t.when.length === 0) bad('.when', 'trigger.when needs at least one trigger, e.g. [{type: ContainerRestart}]');
  else if (t.when.length > TRIGGER_LIMITS.maxTriggers) bad('.when', `at most ${TRIGGER_LIMITS.maxTriggers} triggers`);
  else {
    t.when.forEach((o: unknown, i) => {
      const f = `.when[${i}]`;
      if (o === null || typeof o !== 'object') return bad(f, 'each trigger is an object {type, ...}');
      const x = o as Record<string, unknown>;
      if (typeof x.type !== 'string' || !(TRIGGER_TYPES as readonly string[]).includes(x.type)) return bad(`${f}.type`, `${show(x.type)} is not a trigger type (${TRIGGER_TYPES.join(', ')})`);
      const type = x.type as TriggerType;
      if (type === 'Traffic') {
        const c = resolveTraffic(x.traffic, p, (field, message) => bad(`${f}.traffic${field}`, message));
        if (!c) return;
        traffic.push(c);
      } else if (x.traffic !== undefined) return bad(f, 'traffic applies only to type Traffic');
      if (type === 'Event' && (typeof x.reason !== 'string' || !/^[A-Za-z][A-Za-z0-9]*$/.test(x.reason))) return bad(`${f}.reason`, 'an Event trigger needs reason, a CamelCase Event reason such as BackOff');
      if (type !== 'Event' && (x.reason !== undefined || x.involvedObjectName !== undefined)) return bad(f, 'reason and involvedObjectName apply only to type Event');
      if (type !== 'Webhook' && x.alertName !== undefined) return bad(f, 'alertName applies only to type Webhook');
      if (!podTargets && POD_TRIGGER_TYPES.includes(type)) return bad(`${f}.type`, `${type} watches target pods; a node interface capture can only use Event, Webhook or Traffic`);
      on.push(x as unknown as TriggerOn);
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, trigger: Object.freeze({ lookBackSeconds, lookBackBytes, afterSeconds, when: Object.freeze(on), traffic: Object.freeze(traffic) }) };
}

/** `traffic` of a Traffic trigger: {metric, threshold, window}; undefined after reporting what is wrong. */
function resolveTraffic(v: unknown, p: TriggerParsers, bad: (field: string, message: string) => void): TrafficCondition | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    bad('', `a Traffic trigger needs traffic {metric, threshold, window}, e.g. {metric: TcpResets, threshold: 10, window: 1s}; metric is one of ${TRAFFIC_METRICS.join(', ')}`);
    return undefined;
  }
  const t = v as Record<string, unknown>;
  let ok = true;
  for (const k of Object.keys(t)) {
    if (!['metric', 'threshold', 'window'].includes(k)) {
      bad(`.${k}`, `unknown field ${show(k)} (traffic has metric, threshold, window)`);
      ok = false;
    }
  }
  if (typeof t.metric !== 'string' || !(TRAFFIC_METRICS as readonly string[]).includes(t.metric)) {
    bad('.metric', `${show(t.metric)} is not a traffic metric (${TRAFFIC_METRICS.join(', ')})`);
    ok = false;
  }
  const th = t.threshold;
  if (typeof th !== 'number' || !Number.isInteger(th) || th < 1 || th > TRIGGER_LIMITS.maxTrafficThreshold) {
    bad('.threshold', `${show(th)}: threshold must be a whole number from 1 to ${TRIGGER_LIMITS.maxTrafficThreshold} (events on one target within window)`);
    ok = false;
  }
  let windowSeconds: number = TRIGGER_LIMITS.defaultTrafficWindowSeconds;
  if (t.window !== undefined) {
    const w = p.duration(t.window);
    if (w instanceof Error) {
      bad('.window', w.message);
      ok = false;
    } else if (w < TRIGGER_LIMITS.minTrafficWindowSeconds || w > TRIGGER_LIMITS.maxTrafficWindowSeconds) {
      bad('.window', `${show(t.window)} is out of range: window must be between ${TRIGGER_LIMITS.minTrafficWindowSeconds} and ${TRIGGER_LIMITS.maxTrafficWindowSeconds} seconds`);
      ok = false;
    } else windowSeconds = w;
  }
  return ok ? Object.freeze({ metric: t.metric as TrafficMetric, threshold: th as number, windowSeconds }) : undefined;
}
