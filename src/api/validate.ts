/**
 * Controller-side (and agent-side) validation of a PacketCapture spec: parses the seed 002 value
 * formats ("600", 600, "5m"; "100M", "1Gi", a bare number of megabytes; "10"), checks every rule
 * the CRD checks at admission again (the controller may run against an older CRD, or objects may
 * predate a rule), plus what admission cannot see, and returns one resolved, read-only spec with
 * every default applied. Pure: no I/O, no clock.
 */
import { ageRecipientError, MAX_RECIPIENTS } from './age-recipient.js';
import {
  COUNT_STRING,
  DNS1123_LABEL,
  DNS1123_SUBDOMAIN,
  FILTER_PATTERN,
  INTERFACE_NAME,
  LIMITS,
  MAX_FILTER_LENGTH,
  SECONDS_STRING,
  SIZE_STRING,
  WORKLOAD_KINDS,
  type LabelSelector,
  type PacketCaptureSpec,
  type WorkloadKind,
} from './packetcapture.js';
import { BYTE_UNITS } from '../util/units.js';
import { isLabelName, isLabelValue } from './names.js';
import { resolveTrigger, type ResolvedTrigger } from './trigger.js';

/**
 * Spec defaults. A target reserves maxFileSize × fileCount on its node (the disk guard), so the
 * default ring (100M × 5 = 500 MB) lets the agent's default PCAPPER_MAX_CAPTURES (16) targets
 * run together under the default MAX_TOTAL_FILESIZE (10G) with room for finished files (issue 16
 * item 3: 100M × 10 let only 9 default captures start on a node).
 */
export const DEFAULTS = {
  captureSeconds: 60,
  maxFileSizeBytes: 100_000_000,
  fileCount: 5,
  snapLength: 262144,
  interfaceName: 'any',
} as const;

export type ResolvedTarget =
  | { readonly kind: 'pod'; readonly namespace: string; readonly pod: string }
  | { readonly kind: 'selector'; readonly namespace: string; readonly selector: LabelSelector }
  | { readonly kind: 'workload'; readonly namespace: string; readonly workloadKind: WorkloadKind; readonly name: string }
  | { readonly kind: 'node'; readonly node: string; readonly interface: string };

export interface ResolvedCaptureSpec {
  readonly target: ResolvedTarget;
  /** Seconds to capture; undefined = no time limit (only when packetCount is set). */
  readonly captureSeconds: number | undefined;
  /** Stop each target after this many packets (tcpdump -c); undefined = no packet limit. */
  readonly packetCount: number | undefined;
  /** BPF expression; '' = every packet. Compiled by the agent (tcpdump -d) before capturing. */
  readonly captureFilter: string;
  /** Size of one ring file in bytes. */
  readonly maxFileSizeBytes: number;
  /** Size of one ring file as tcpdump -C counts it (units of 1,000,000 bytes, rounded up, >= 1). */
  readonly maxFileSizeMillions: number;
  /** Ring files kept per target (tcpdump -W). */
  readonly fileCount: number;
  /** Bytes kept per packet (tcpdump -s); never 0 (0 resolves to 262144). */
  readonly snapLength: number;
  /** Interface inside each target pod (pod targets) — 'any' by default; for node targets = target.interface. */
  readonly interfaceName: string;
  readonly ttlSecondsAfterFinished: number | undefined;
  readonly jobId: string | undefined;
  /** podSelector/workload targets: fail after the resolve grace when no pod matches, instead of waiting. */
  readonly failIfNoTargets: boolean;
  /** tcpdump --immediate-mode: low latency for live streams, lower lossless rate */
  readonly immediate: boolean;
  /** Armed capture (docs/triggers.md); undefined = capture right away. */
  readonly trigger?: ResolvedTrigger | undefined;
  /** End-to-end mode: age X25519 recipients that every file's data key is wrapped to (and no cluster key). */
  readonly recipients?: readonly string[];
}

/** One reason a spec is refused. `field` is a JSON path under the object, e.g. "spec.maxFileSize". */
export interface SpecProblem {
  readonly field: string;
  /** CamelCase reason, stable: used in conditions and Events. */
  readonly reason: string;
  readonly message: string;
}

export type ResolveResult = { ok: true; spec: ResolvedCaptureSpec } | { ok: false; problems: SpecProblem[] };

export class SpecError extends Error {
  readonly problems: readonly SpecProblem[];
  constructor(problems: readonly SpecProblem[]) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
    this.name = 'SpecError';
    this.problems = problems;
  }
}

const re = (p: string): RegExp => new RegExp(p);
const RE = {
  label: re(DNS1123_LABEL),
  subdomain: re(DNS1123_SUBDOMAIN),
  iface: re(INTERFACE_NAME),
  seconds: re(SECONDS_STRING),
  size: re(SIZE_STRING),
  count: re(COUNT_STRING),
  filter: re(FILTER_PATTERN),
};

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * Parses a capture duration: an integer number of seconds (600), a string of digits ("600") or a
 * duration with units ("30s", "5m", "1h30m"). Returns seconds, or an Error saying why not.
 */
export function parseDuration(v: unknown): number | Error {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) return new Error(`${describe(v)} is not a whole number of seconds`);
    return v;
  }
  if (typeof v !== 'string') return new Error(`${describe(v)} is not a duration`);
  const t = v.trim();
  if (t === '' || !RE.seconds.test(t)) {
    return new Error(`${describe(v)} is not a duration: use seconds ("600") or a duration such as "30s", "5m", "1h30m"`);
  }
  if (/^[0-9]+$/.test(t)) return Number(t);
  const m = /^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$/.exec(t);
  if (!m) return new Error(`${describe(v)} is not a duration`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** The CRD's size units (no T: a ring file is at most 100G); a bare number is megabytes, as tcpdump -C counts. */
const SIZE_UNITS: Record<string, number | undefined> = { '': 1_000_000, ...Object.fromEntries(['k', 'M', 'G', 'Ki', 'Mi', 'Gi'].map((u) => [u, BYTE_UNITS[u]])) };

/**
 * Parses a ring-file size: a bare number (integer or digits string) means megabytes, as tcpdump's
 * -C counts them ("100" = 100,000,000 bytes); with a unit it is a Kubernetes-style quantity:
 * k, M, G (powers of 1000) or Ki, Mi, Gi (powers of 1024). Returns bytes.
 */
export function parseSize(v: unknown): number | Error {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) return new Error(`${describe(v)} is not a whole number of megabytes`);
    return v * 1_000_000;
  }
  if (typeof v !== 'string') return new Error(`${describe(v)} is not a size`);
  const m = /^([0-9]+)([A-Za-z]*)$/.exec(v.trim());
  if (!m || !RE.size.test(v.trim())) {
    return new Error(`${describe(v)} is not a size: use e.g. "100M", "1G", "512Mi", "1Gi" or a number of megabytes`);
  }
  const unit = SIZE_UNITS[m[2] ?? ''];
  if (unit === undefined) return new Error(`${describe(v)} has an unknown unit`);
  return Number(m[1]) * unit;
}

/** Parses a count: an integer or a string of digits. */
export function parseCount(v: unknown): number | Error {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) return new Error(`${describe(v)} is not a whole number`);
    return v;
  }
  if (typeof v !== 'string' || !RE.count.test(v.trim())) return new Error(`${describe(v)} is not a whole number`);
  return Number(v.trim());
}

/** Validates a label selector's syntax (keys, values, operators). Returns problems (empty = valid). */
export function validateSelector(sel: unknown, field: string): SpecProblem[] {
  const out: SpecProblem[] = [];
  const bad = (message: string, f = field): void => {
    out.push({ field: f, reason: 'InvalidSelector', message });
  };
  if (sel === null || typeof sel !== 'object' || Array.isArray(sel)) {
    bad('must be a label selector object with matchLabels and/or matchExpressions');
    return out;
  }
  const { matchLabels, matchExpressions } = sel as Record<string, unknown>;
  let n = 0;
  if (matchLabels !== undefined) {
    if (matchLabels === null || typeof matchLabels !== 'object' || Array.isArray(matchLabels)) bad('matchLabels must be a map', `${field}.matchLabels`);
    else
      for (const [k, v] of Object.entries(matchLabels as Record<string, unknown>)) {
        n++;
        if (!validLabelKey(k)) bad(`label key ${describe(k)} is not a valid label key`, `${field}.matchLabels`);
        if (typeof v !== 'string' || !isLabelValue(v)) bad(`label value ${describe(v)} for ${k} is not a valid label value`, `${field}.matchLabels`);
      }
  }
  if (matchExpressions !== undefined) {
    if (!Array.isArray(matchExpressions)) bad('matchExpressions must be a list', `${field}.matchExpressions`);
    else
      matchExpressions.forEach((e: unknown, i) => {
        n++;
        const f = `${field}.matchExpressions[${i}]`;
        if (e === null || typeof e !== 'object') return bad('must be {key, operator, values}', f);
        const { key, operator, values } = e as Record<string, unknown>;
        if (typeof key !== 'string' || !validLabelKey(key)) bad(`key ${describe(key)} is not a valid label key`, f);
        const vals = values === undefined ? [] : values;
        if (!Array.isArray(vals) || vals.some((x) => typeof x !== 'string' || !isLabelValue(x))) {
          return bad('values must be a list of valid label values', f);
        }
        if (operator === 'In' || operator === 'NotIn') {
          if (vals.length === 0) bad(`operator ${operator} needs at least one value`, f);
        } else if (operator === 'Exists' || operator === 'DoesNotExist') {
          if (vals.length > 0) bad(`operator ${operator} takes no values`, f);
        } else bad(`operator ${describe(operator)} is not one of In, NotIn, Exists, DoesNotExist`, f);
      });
  }
  if (n === 0 && out.length === 0) {
    out.push({ field, reason: 'EmptySelector', message: 'must not be empty: an empty selector would capture every pod of the namespace' });
  }
  return out;
}

function validLabelKey(k: string): boolean {
  const parts = k.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1] ?? '';
  if (!isLabelName(name)) return false;
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix.length === 0 || prefix.length > 253 || !RE.subdomain.test(prefix)) return false;
  }
  return true;
}

const TARGET_FIELDS = ['targetPod', 'podSelector', 'targetDeployment', 'workloadRef', 'targetNode'] as const;
const KNOWN_FIELDS = new Set([
  ...TARGET_FIELDS,
  'targetNamespace',
  'targetInterface',
  'interfaceName',
  'captureSeconds',
  'duration',
  'captureFilter',
  'maxFileSize',
  'fileCount',
  'packetCount',
  'snapLength',
  'ttlSecondsAfterFinished',
  'jobId',
  'failIfNoTargets',
  'immediate',
  'trigger', // src/api/trigger.ts
  'encryption',
  'store', // resolved by the controller against PacketCaptureStores (src/controller/stores.ts)
  'sink', // resolved by the controller against PacketCaptureSinks (src/controller/sinks.ts)
]);

/**
 * Validates `spec` (as stored in the PacketCapture; may be anything) of a capture living in
 * `captureNamespace`, and resolves it with defaults applied. Tenancy (which namespaces a capture
 * may target) is not checked here: see checkTenancy() in src/controller/tenancy.ts.
 */
export function resolveSpec(spec: unknown, captureNamespace: string): ResolveResult {
  const problems: SpecProblem[] = [];
  const bad = (field: string, reason: string, message: string): void => {
    problems.push({ field: `spec.${field}`, reason, message });
  };
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    return { ok: false, problems: [{ field: 'spec', reason: 'InvalidSpec', message: 'spec must be an object' }] };
  }
  const sp = spec as Record<string, unknown>;
  for (const k of Object.keys(sp)) if (!KNOWN_FIELDS.has(k)) bad(k, 'UnknownField', `unknown field ${describe(k)}`);

  const str = (field: string, pattern: RegExp, maxLength: number, what: string): string | undefined => {
    const v = sp[field];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > maxLength || !pattern.test(v)) {
      bad(field, 'InvalidValue', `${describe(v)} is not ${what}`);
      return undefined;
    }
    return v;
  };
  const targetNamespace = str('targetNamespace', RE.label, 63, 'a namespace name (DNS-1123 label)');
  const targetPod = str('targetPod', RE.subdomain, 253, 'a pod name (DNS-1123 subdomain)');
  const targetDeployment = str('targetDeployment', RE.subdomain, 253, 'a Deployment name (DNS-1123 subdomain)');
  const targetNode = str('targetNode', RE.subdomain, 253, 'a node name (DNS-1123 subdomain)');
  const ifaceWhat = 'an interface name (at most 15 characters: letters, digits, "_", ".", ":", "@", "-"; no "/", not starting with "-" or ".")';
  const targetInterface = str('targetInterface', RE.iface, 15, ifaceWhat);
  const interfaceName = str('interfaceName', RE.iface, 15, ifaceWhat);
  const jobId = str('jobId', /^[a-z0-9]+$/, 8, 'a job id (at most 8 lowercase letters and digits)');

  // exactly one kind of target
  const kinds = TARGET_FIELDS.filter((k) => sp[k] !== undefined);
  if (kinds.length === 0) {
    bad('', 'NoTarget', 'no target: set exactly one of targetPod, podSelector, targetDeployment, workloadRef, or targetNode with targetInterface');
  } else if (kinds.length > 1) {
    bad('', 'MultipleTargets', `exactly one kind of target is allowed, got ${kinds.join(' and ')}`);
  }
  if ((sp.targetNode === undefined) !== (sp.targetInterface === undefined)) {
    bad(sp.targetNode === undefined ? 'targetInterface' : 'targetNode', 'IncompleteNodeTarget', 'targetNode and targetInterface go together: set both to capture a node interface, or neither');
  }
  if (sp.targetNode !== undefined && sp.targetNamespace !== undefined) {
    bad('targetNamespace', 'InvalidValue', 'targetNamespace does not apply to a node interface capture (targetNode/targetInterface)');
  }
  if (sp.targetNode !== undefined && sp.interfaceName !== undefined) {
    bad('interfaceName', 'InvalidValue', 'interfaceName is the interface inside a pod; for a node capture use targetInterface');
  }

  let workload: { kind: WorkloadKind; name: string } | undefined;
  if (sp.workloadRef !== undefined) {
    const w = sp.workloadRef as Record<string, unknown> | null;
    if (w === null || typeof w !== 'object') bad('workloadRef', 'InvalidValue', 'must be {kind, name}');
    else {
      if (typeof w.kind !== 'string' || !(WORKLOAD_KINDS as readonly string[]).includes(w.kind)) {
        bad('workloadRef.kind', 'UnknownWorkloadKind', `${describe(w.kind)} is not a supported workload kind (${WORKLOAD_KINDS.join(', ')})`);
      } else if (typeof w.name !== 'string' || w.name.length > 253 || !RE.subdomain.test(w.name)) {
        bad('workloadRef.name', 'InvalidValue', `${describe(w.name)} is not a workload name (DNS-1123 subdomain)`);
      } else workload = { kind: w.kind as WorkloadKind, name: w.name };
    }
  }
  if (sp.podSelector !== undefined) {
    for (const p of validateSelector(sp.podSelector, 'spec.podSelector')) problems.push(p);
  }

  // durations and counts
  const bounded = (field: string, parsed: number | Error, min: number, max: number, unit: string): number | undefined => {
    if (parsed instanceof Error) {
      bad(field, 'InvalidValue', parsed.message);
      return undefined;
    }
    if (parsed < min || parsed > max) {
      bad(field, 'OutOfRange', `${describe(sp[field])} is out of range: must be between ${min} and ${max} ${unit}`);
      return undefined;
    }
    return parsed;
  };
  if (sp.captureSeconds !== undefined && sp.duration !== undefined) bad('duration', 'InvalidValue', 'set captureSeconds or duration, not both');
  const durField = sp.captureSeconds !== undefined ? 'captureSeconds' : sp.duration !== undefined ? 'duration' : undefined;
  const seconds = durField ? bounded(durField, parseDuration(sp[durField]), 1, LIMITS.maxCaptureSeconds, 'seconds') : undefined;
  const packetCount = sp.packetCount !== undefined ? bounded('packetCount', parseCount(sp.packetCount), 1, LIMITS.maxPacketCount, 'packets') : undefined;
  const fileCount = sp.fileCount !== undefined ? bounded('fileCount', parseCount(sp.fileCount), 1, LIMITS.maxFileCount, 'files') : DEFAULTS.fileCount;
  const maxFileSizeBytes =
    sp.maxFileSize !== undefined
      ? bounded('maxFileSize', parseSize(sp.maxFileSize), LIMITS.minFileSizeBytes, LIMITS.maxFileSizeBytes, 'bytes (1M to 100G)')
      : DEFAULTS.maxFileSizeBytes;
  if (maxFileSizeBytes !== undefined && fileCount !== undefined && maxFileSizeBytes * fileCount > LIMITS.maxBytesPerTarget) {
    bad('maxFileSize', 'OutOfRange', `maxFileSize × fileCount = ${maxFileSizeBytes * fileCount} bytes per target exceeds ${LIMITS.maxBytesPerTarget} bytes`);
  }
  let snapLength: number = DEFAULTS.snapLength;
  if (sp.snapLength !== undefined) {
    const v = sp.snapLength;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > LIMITS.maxSnapLength) {
      bad('snapLength', 'OutOfRange', `${describe(v)} is not a snap length between 0 and ${LIMITS.maxSnapLength}`);
    } else snapLength = v === 0 ? DEFAULTS.snapLength : v;
  }
  let ttl: number | undefined;
  if (sp.ttlSecondsAfterFinished !== undefined) {
    const v = sp.ttlSecondsAfterFinished;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > LIMITS.maxTtlSeconds) {
      bad('ttlSecondsAfterFinished', 'OutOfRange', `${describe(v)} is not between 0 and ${LIMITS.maxTtlSeconds} seconds`);
    } else ttl = v;
  }
  let captureFilter = '';
  if (sp.captureFilter !== undefined) {
    const f = sp.captureFilter;
    if (typeof f !== 'string') bad('captureFilter', 'InvalidFilter', 'must be a string');
    else if (f.length > MAX_FILTER_LENGTH) bad('captureFilter', 'InvalidFilter', `is ${f.length} characters long; at most ${MAX_FILTER_LENGTH} are allowed`);
    else if (f.trim() !== '' && !RE.filter.test(f.trim())) {
      bad('captureFilter', 'InvalidFilter', `${describe(f)} is not a BPF expression: it must be printable text and must not start with "-" (it is never parsed as a tcpdump option)`);
    } else captureFilter = f.trim();
  }

  const failIfNoTargets = sp.failIfNoTargets ?? false;
  if (typeof failIfNoTargets !== 'boolean') bad('failIfNoTargets', 'InvalidValue', `${describe(failIfNoTargets)} is not true or false`);
  const immediate = sp.immediate ?? false;
  if (typeof immediate !== 'boolean') bad('immediate', 'InvalidValue', `${describe(immediate)} is not true or false`);

  let recipients: string[] | undefined;
  if (sp.encryption !== undefined) {
    const e = sp.encryption as Record<string, unknown> | null;
    const rs = e !== null && typeof e === 'object' ? e.recipients : undefined;
    if (!Array.isArray(rs) || rs.length === 0) bad('encryption.recipients', 'InvalidValue', 'must list at least one age X25519 recipient ("age1...", from age-keygen)');
    else if (rs.length > MAX_RECIPIENTS) bad('encryption.recipients', 'InvalidValue', `lists ${rs.length} recipients; at most ${MAX_RECIPIENTS} are allowed`);
    else {
      rs.forEach((r, i) => {
        const why = ageRecipientError(r);
        if (why) bad(`encryption.recipients[${i}]`, 'InvalidRecipient', why);
      });
      recipients = rs as string[];
    }
  }

  if (problems.length > 0) return { ok: false, problems };

  const ns = targetNamespace ?? captureNamespace;
  let target: ResolvedTarget;
  if (targetPod !== undefined) target = { kind: 'pod', namespace: ns, pod: targetPod };
  else if (sp.podSelector !== undefined) target = { kind: 'selector', namespace: ns, selector: sp.podSelector as LabelSelector };
  else if (targetDeployment !== undefined) target = { kind: 'workload', namespace: ns, workloadKind: 'Deployment', name: targetDeployment };
  else if (workload !== undefined) target = { kind: 'workload', namespace: ns, workloadKind: workload.kind, name: workload.name };
  else target = { kind: 'node', node: targetNode as string, interface: targetInterface as string };

  const captureSeconds = seconds ?? (packetCount !== undefined ? undefined : DEFAULTS.captureSeconds);
  const size = maxFileSizeBytes as number;
  let trigger: ResolvedTrigger | undefined;
  if (sp.trigger !== undefined) {
    const tr = resolveTrigger(sp.trigger, { duration: parseDuration, size: parseSize }, target.kind !== 'node', size * (fileCount as number));
    if (!tr.ok) return { ok: false, problems: [...tr.problems] };
    if (packetCount !== undefined) return { ok: false, problems: [{ field: 'spec.packetCount', reason: 'InvalidValue', message: 'packetCount does not apply to a triggered capture (tcpdump would stop while armed); use trigger.after' }] };
    trigger = tr.trigger;
  }
  const resolved: ResolvedCaptureSpec = {
    target,
    captureSeconds,
    packetCount,
    captureFilter,
    maxFileSizeBytes: size,
    maxFileSizeMillions: Math.max(1, Math.ceil(size / 1_000_000)),
    fileCount: fileCount as number,
    snapLength,
    interfaceName: target.kind === 'node' ? target.interface : (interfaceName ?? DEFAULTS.interfaceName),
    ttlSecondsAfterFinished: ttl,
    jobId,
    failIfNoTargets: failIfNoTargets === true,
    immediate: immediate === true,
    ...(trigger ? { trigger } : {}),
    ...(recipients ? { recipients: Object.freeze([...recipients]) } : {}),
  };
  return { ok: true, spec: Object.freeze(resolved) };
}

/** Like resolveSpec(), but throws SpecError (with every problem) instead of returning them. */
export function resolveSpecOrThrow(spec: PacketCaptureSpec | Record<string, unknown>, captureNamespace: string): ResolvedCaptureSpec {
  const r = resolveSpec(spec, captureNamespace);
  if (!r.ok) throw new SpecError(r.problems);
  return r.spec;
}
