/**
 * `capture TARGET` and its flags -> a PacketCapture object (pure). The object is validated with the
 * same resolveSpec() the controller uses, so bad values are refused before anything is sent.
 */
import { randomBytes } from 'node:crypto';
import {
  API_VERSION,
  KIND,
  LABEL_MANAGED_BY,
  type LabelSelector,
  type PacketCapture,
  type PacketCaptureSpec,
  type WorkloadKind,
} from '../api/packetcapture.js';
import { parseDuration, parseSize, resolveSpec } from '../api/validate.js';
import { parseSelector, SelectorError } from './selector.js';
import { isDns1123Label, isDns1123Subdomain, isInterfaceName } from '../api/names.js';


/** Refuses a namespace that the apiserver would refuse (DNS-1123 label, at most 63 characters). */
export function checkNamespace(flag: string, ns: string): void {
  if (!isDns1123Label(ns)) {
    throw new TargetError(`invalid ${flag} "${ns}": a namespace has at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit`);
  }
}

/** Namespace where node/interface captures (and cross-namespace captures) must live. */
export { SYSTEM_NAMESPACE } from '../api/names.js';

export type Target =
  | { kind: 'pod'; name: string }
  | { kind: 'workload'; workloadKind: WorkloadKind; name: string }
  | { kind: 'selector'; selector: LabelSelector; text: string }
  | { kind: 'node'; name: string };

export class TargetError extends Error {
  override readonly name = 'TargetError';
}

const KIND_ALIASES: Record<string, 'pod' | 'node' | WorkloadKind> = {
  pod: 'pod',
  pods: 'pod',
  po: 'pod',
  node: 'node',
  nodes: 'node',
  no: 'node',
  deploy: 'Deployment',
  deployment: 'Deployment',
  deployments: 'Deployment',
  'deployment.apps': 'Deployment',
  sts: 'StatefulSet',
  statefulset: 'StatefulSet',
  statefulsets: 'StatefulSet',
  'statefulset.apps': 'StatefulSet',
  ds: 'DaemonSet',
  daemonset: 'DaemonSet',
  daemonsets: 'DaemonSet',
  'daemonset.apps': 'DaemonSet',
  rs: 'ReplicaSet',
  replicaset: 'ReplicaSet',
  replicasets: 'ReplicaSet',
  'replicaset.apps': 'ReplicaSet',
};


/**
 * Parses TARGET (`pod/NAME`, `deploy/NAME`, `sts/NAME`, `ds/NAME`, `rs/NAME`, `node/NAME`, or a bare
 * pod NAME) and/or a `-l` selector. Exactly one of the two must be given.
 */
export function parseTarget(arg: string | undefined, selector: string | undefined): Target {
  if (arg !== undefined && selector !== undefined) {
    throw new TargetError(`give either TARGET ("${arg}") or -l SELECTOR, not both`);
  }
  if (selector !== undefined) {
    try {
      return { kind: 'selector', selector: parseSelector(selector), text: selector };
    } catch (e) {
      if (e instanceof SelectorError) throw new TargetError(e.message);
      throw e;
    }
  }
  if (arg === undefined || arg === '') {
    throw new TargetError('a target is required: pod/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME, node/NAME --interface IFACE, or -l SELECTOR');
  }
  const slash = arg.indexOf('/');
  const kindText = slash >= 0 ? arg.slice(0, slash).toLowerCase() : 'pod';
  const name = slash >= 0 ? arg.slice(slash + 1) : arg;
  const kind = KIND_ALIASES[kindText];
  if (kind === undefined) {
    throw new TargetError(`unknown target kind "${kindText}" in "${arg}": use pod, deploy, sts, ds, rs or node`);
  }
  if (!isDns1123Subdomain(name)) {
    throw new TargetError(`"${name}" in "${arg}" is not a valid ${kind === 'pod' || kind === 'node' ? kind : kind} name (lowercase letters, digits, "-" and ".")`);
  }
  if (kind === 'pod') return { kind: 'pod', name };
  if (kind === 'node') return { kind: 'node', name };
  return { kind: 'workload', workloadKind: kind, name };
}

/** Short display of a target: `pod/web`, `deploy/web`, `-l app=web`, `node/n1:eth0`. */
export function targetDisplay(spec: PacketCaptureSpec): string {
  if (spec.targetPod) return `pod/${spec.targetPod}`;
  if (spec.targetDeployment) return `deploy/${spec.targetDeployment}`;
  if (spec.workloadRef) {
    const short: Record<string, string> = { Deployment: 'deploy', StatefulSet: 'sts', DaemonSet: 'ds', ReplicaSet: 'rs' };
    return `${short[spec.workloadRef.kind] ?? spec.workloadRef.kind}/${spec.workloadRef.name}`;
  }
  if (spec.podSelector) {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(spec.podSelector.matchLabels ?? {})) parts.push(`${k}=${v}`);
    for (const e of spec.podSelector.matchExpressions ?? []) {
      const vals = e.values ?? [];
      if (e.operator === 'Exists') parts.push(e.key);
      else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
      else parts.push(`${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${vals.join(',')})`);
    }
    return `-l ${parts.join(',')}`;
  }
  if (spec.targetNode) return `node/${spec.targetNode}:${spec.targetInterface ?? ''}`;
  return '?';
}

export interface CaptureOptions {
  /** Namespace of the PacketCapture (and of the target pods). */
  namespace: string;
  /** `--target-namespace`: capture pods of another namespace (needs the system namespace). */
  targetNamespace?: string;
  name?: string;
  /** `--interface`: host interface for node targets, interface inside the pods otherwise. */
  interface?: string;
  duration?: string;
  count?: number;
  filter?: string;
  snaplen?: number;
  maxFileSize?: string;
  fileCount?: number;
  ttl?: string;
  /** A PacketCaptureStore name (`--store`): the ring files are uploaded there, encrypted. */
  store?: string;
  /** Random suffix source for generated names (tests pass a fixed one). */
  suffix?: () => string;
  /**
   * Skip the resolveSpec() check (`--dry-run=server`): the apiserver's schema and CEL rules judge
   * the values. Values that cannot be written into a spec at all are still refused here.
   */
  serverValidates?: boolean;
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const b = randomBytes(5);
  return Array.from(b, (x) => alphabet[x % alphabet.length]).join('');
}

/** A generated capture name: `<target name>-<5 random chars>`, at most 63 characters. */
export function generateName(target: Target, suffix: () => string = randomSuffix): string {
  let base: string;
  if (target.kind === 'selector') {
    const first = Object.values(target.selector.matchLabels ?? {})[0] ?? target.selector.matchExpressions?.[0]?.key ?? 'pods';
    base = first;
  } else base = target.name;
  base = base.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'capture';
  return `${base.slice(0, 50).replace(/-+$/, '')}-${suffix()}`;
}

/** Whole seconds as the spec stores them: digits -> a number, "5m" stays a string. */
function durationValue(flag: string, v: string): number | string {
  const parsed = parseDuration(v);
  if (parsed instanceof Error) throw new TargetError(`invalid ${flag} "${v}": ${parsed.message}`);
  return /^[0-9]+$/.test(v) ? Number(v) : v;
}

/**
 * Builds the PacketCapture for `target` and `opts`, validated with resolveSpec(). Node targets
 * need `--interface`; they live in the system namespace.
 */
export function buildPacketCapture(target: Target, opts: CaptureOptions): PacketCapture {
  // what the apiserver would refuse: a namespace is a DNS-1123 label (issue 16 item 10)
  checkNamespace('-n', opts.namespace);
  if (opts.targetNamespace !== undefined) checkNamespace('--target-namespace', opts.targetNamespace);
  const spec: PacketCaptureSpec = {};
  switch (target.kind) {
    case 'pod':
      spec.targetPod = target.name;
      break;
    case 'selector':
      spec.podSelector = target.selector;
      break;
    case 'workload':
      if (target.workloadKind === 'Deployment') spec.targetDeployment = target.name;
      else spec.workloadRef = { kind: target.workloadKind, name: target.name };
      break;
    case 'node':
      if (!opts.interface) throw new TargetError(`node/${target.name} needs --interface IFACE (e.g. eth0, or any)`);
      spec.targetNode = target.name;
      spec.targetInterface = opts.interface;
      break;
  }
  if (target.kind !== 'node') {
    if (opts.targetNamespace !== undefined && opts.targetNamespace !== opts.namespace) spec.targetNamespace = opts.targetNamespace;
    if (opts.interface !== undefined) spec.interfaceName = opts.interface;
  } else if (opts.targetNamespace !== undefined) {
    throw new TargetError('--target-namespace does not apply to a node target');
  }
  if (opts.interface !== undefined && !isInterfaceName(opts.interface)) {
    throw new TargetError(`invalid --interface "${opts.interface}": an interface name has at most 15 characters (letters, digits, "_", ".", ":", "@", "-") and does not start with "-" or "."`);
  }
  if (opts.duration !== undefined) spec.captureSeconds = durationValue('--duration', opts.duration);
  if (opts.count !== undefined) spec.packetCount = opts.count;
  if (opts.filter !== undefined && opts.filter.trim() !== '') spec.captureFilter = opts.filter.trim();
  if (opts.snaplen !== undefined) spec.snapLength = opts.snaplen;
  if (opts.maxFileSize !== undefined) {
    const parsed = parseSize(opts.maxFileSize);
    if (parsed instanceof Error) throw new TargetError(`invalid --max-file-size "${opts.maxFileSize}": ${parsed.message}`);
    spec.maxFileSize = opts.maxFileSize;
  }
  if (opts.fileCount !== undefined) spec.fileCount = opts.fileCount;
  if (opts.ttl !== undefined) {
    const parsed = parseDuration(opts.ttl);
    if (parsed instanceof Error) throw new TargetError(`invalid --ttl "${opts.ttl}": ${parsed.message}`);
    spec.ttlSecondsAfterFinished = parsed;
  }
  if (opts.store !== undefined) {
    if (opts.store.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(opts.store)) {
      throw new TargetError(`invalid --store "${opts.store}": a store name is lowercase letters, digits, "-" and "." (kubectl get pcapstore lists the stores)`);
    }
    spec.store = opts.store;
  }
  const name = opts.name ?? generateName(target, opts.suffix);
  if (!isDns1123Label(name)) {
    throw new TargetError(`invalid --name "${name}": use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit`);
  }
  const r = opts.serverValidates ? { ok: true as const } : resolveSpec(spec, opts.namespace);
  if (!r.ok) {
    const p = r.problems[0];
    const flagOf: Record<string, string> = {
      'spec.captureSeconds': '--duration',
      'spec.packetCount': '--count',
      'spec.captureFilter': '--filter',
      'spec.snapLength': '--snaplen',
      'spec.maxFileSize': '--max-file-size',
      'spec.fileCount': '--file-count',
      'spec.ttlSecondsAfterFinished': '--ttl',
      'spec.interfaceName': '--interface',
      'spec.targetInterface': '--interface',
    };
    const where = p ? (flagOf[p.field] ?? p.field) : 'spec';
    throw new TargetError(`invalid ${where}: ${p?.message ?? 'invalid spec'}`);
  }
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: opts.namespace, labels: { [LABEL_MANAGED_BY]: 'kubectl-pcap' } },
    spec,
  };
}
