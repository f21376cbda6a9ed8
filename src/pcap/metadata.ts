/**
 * Capture metadata: what the node agent knew when it started a capture, written as a JSON sidecar
 * next to the capture files so that `summary` can name endpoints by pod and `merge` can name each
 * interface `<node>/<namespace>/<pod>`.
 *
 * ## Where the sidecar lives
 *
 * - Per file: `<pcapfile>.meta.json` (e.g. `web-7d9c.pcap0.meta.json` next to `web-7d9c.pcap0`).
 * - Per directory: `capture-meta.json`, which applies to every capture file in that directory that
 *   has no per-file sidecar (convenient for tcpdump ring files `-C/-W`, which all share one target).
 *
 * Readers look for the per-file sidecar first, then the directory one ({@link findCaptureMetadata}).
 * The agent should write the sidecar before tcpdump writes its first packet
 * ({@link writeCaptureMetadata} writes atomically, mode 0600).
 *
 * ## Format (version 1)
 *
 * ```json
 * {
 *   "version": 1,
 *   "captureName": "web-debug",
 *   "captureNamespace": "shop",
 *   "nodeName": "node-a",
 *   "nodeIPs": ["10.0.0.11"],
 *   "targetKind": "pod",
 *   "pod": { "name": "web-7d9c", "namespace": "shop", "uid": "6f0c...", "ips": ["10.244.1.7"] },
 *   "interfaces": ["eth0"],
 *   "linkType": 1,
 *   "startTime": "2026-11-22T01:43:26.123Z",
 *   "filter": "tcp port 80",
 *   "snapLength": 262144,
 *   "endpoints": {
 *     "10.244.1.7": { "pod": "web-7d9c", "namespace": "shop", "node": "node-a" },
 *     "10.244.2.3": { "pod": "db-0", "namespace": "shop", "node": "node-b" }
 *   }
 * }
 * ```
 *
 * `pod` is required when `targetKind` is `"pod"` and must be absent or null for `"node"`. Unknown
 * top-level fields are ignored (forward compatible within a major version); a different `version`
 * is rejected.
 */
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isIP } from 'node:net';

/** Version written by this code and the only one {@link parseCaptureMetadata} accepts. */
export const CAPTURE_METADATA_VERSION = 1;

/** File name of the per-directory sidecar. */
export const DIRECTORY_METADATA_FILE = 'capture-meta.json';

/** Suffix of the per-file sidecar. */
export const METADATA_SUFFIX = '.meta.json';

/** Who owned an IP address when the capture started. */
export interface EndpointInfo {
  /** Pod name; absent for node IPs and other known hosts. */
  pod?: string;
  namespace?: string;
  node?: string;
  /** The pod's owning workload as `Kind/name` (a Deployment via its ReplicaSet), when the agent knows it. */
  workload?: string;
}

export interface PodInfo {
  name: string;
  namespace: string;
  uid: string;
  ips: string[];
}

/** Capture metadata, format version {@link CAPTURE_METADATA_VERSION}. */
export interface CaptureMetadata {
  version: typeof CAPTURE_METADATA_VERSION;
  /** Name of the PacketCapture object. */
  captureName: string;
  /** Namespace of the PacketCapture object. */
  captureNamespace: string;
  /** Node that ran tcpdump. */
  nodeName: string;
  nodeIPs: string[];
  /** What was captured: a pod's network namespace or a node interface. */
  targetKind: 'pod' | 'node';
  /** The target pod (required when targetKind is "pod"). */
  pod: PodInfo | null;
  /** Interface name(s) tcpdump captured on (inside the pod's netns for pods). */
  interfaces: string[];
  /** LINKTYPE_* of the capture files (1 = Ethernet, 276 = Linux SLL2 for `-i any`). */
  linkType: number;
  /** RFC 3339 time the capture started. */
  startTime: string;
  /** tcpdump filter expression ("" = none). */
  filter: string;
  snapLength: number;
  /** IP -> owner, for every endpoint known at capture time (pods and nodes). */
  endpoints: Record<string, EndpointInfo>;
}

/** The metadata document is invalid; `path` is the JSON path of the offending field. */
export class CaptureMetadataError extends Error {
  override readonly name = 'CaptureMetadataError';
  constructor(
    readonly path: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`capture metadata: ${path}: ${problem}`, options);
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, key: string, path: string, allowEmpty = false): string {
  const v = o[key];
  if (typeof v !== 'string') throw new CaptureMetadataError(`${path}.${key}`, `must be a string, got ${describe(v)}`);
  if (!allowEmpty && v.length === 0) throw new CaptureMetadataError(`${path}.${key}`, 'must not be empty');
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v === 'string' ? `"${v.slice(0, 40)}"` : typeof v;
}

function ipList(o: Record<string, unknown>, key: string, path: string): string[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new CaptureMetadataError(`${path}.${key}`, `must be an array of IP addresses, got ${describe(v)}`);
  return v.map((ip, i) => {
    if (typeof ip !== 'string' || isIP(ip) === 0) throw new CaptureMetadataError(`${path}.${key}[${i}]`, `is not an IP address: ${describe(ip)}`);
    return ip;
  });
}

function nonNegInt(o: Record<string, unknown>, key: string, path: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new CaptureMetadataError(`${path}.${key}`, `must be a non-negative integer, got ${describe(v)}`);
  return v;
}

/** Validates a parsed JSON document and returns it as {@link CaptureMetadata}. */
export function parseCaptureMetadata(json: unknown): CaptureMetadata {
  if (!isObj(json)) throw new CaptureMetadataError('$', `must be an object, got ${describe(json)}`);
  const version = json['version'];
  if (version !== CAPTURE_METADATA_VERSION) {
    throw new CaptureMetadataError('$.version', `unsupported version ${describe(version)} (this build reads version ${CAPTURE_METADATA_VERSION})`);
  }
  const targetKind = json['targetKind'];
  if (targetKind !== 'pod' && targetKind !== 'node') throw new CaptureMetadataError('$.targetKind', `must be "pod" or "node", got ${describe(targetKind)}`);
  let pod: PodInfo | null = null;
  const rawPod = json['pod'];
  if (targetKind === 'pod') {
    if (!isObj(rawPod)) throw new CaptureMetadataError('$.pod', `is required for targetKind "pod", got ${describe(rawPod)}`);
    pod = {
      name: str(rawPod, 'name', '$.pod'),
      namespace: str(rawPod, 'namespace', '$.pod'),
      uid: str(rawPod, 'uid', '$.pod', true),
      ips: ipList(rawPod, 'ips', '$.pod'),
    };
  } else if (rawPod !== undefined && rawPod !== null) {
    throw new CaptureMetadataError('$.pod', 'must be absent or null for targetKind "node"');
  }
  const ifs = json['interfaces'];
  if (!Array.isArray(ifs) || ifs.some((i) => typeof i !== 'string' || i.length === 0)) {
    throw new CaptureMetadataError('$.interfaces', `must be an array of interface names, got ${describe(ifs)}`);
  }
  const startTime = str(json, 'startTime', '$');
  if (Number.isNaN(Date.parse(startTime))) throw new CaptureMetadataError('$.startTime', `is not an RFC 3339 time: "${startTime}"`);
  const rawEp = json['endpoints'] ?? {};
  if (!isObj(rawEp)) throw new CaptureMetadataError('$.endpoints', `must be an object mapping IP -> {pod, namespace, node}, got ${describe(rawEp)}`);
  const endpoints: Record<string, EndpointInfo> = {};
  for (const [ip, info] of Object.entries(rawEp)) {
    const p = `$.endpoints["${ip}"]`;
    if (isIP(ip) === 0) throw new CaptureMetadataError(p, 'key is not an IP address');
    if (!isObj(info)) throw new CaptureMetadataError(p, `must be an object, got ${describe(info)}`);
    const e: EndpointInfo = {};
    for (const k of ['pod', 'namespace', 'node', 'workload'] as const) {
      const v = info[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string' || v.length === 0) throw new CaptureMetadataError(`${p}.${k}`, `must be a non-empty string, got ${describe(v)}`);
      e[k] = v;
    }
    endpoints[ip] = e;
  }
  return {
    version: CAPTURE_METADATA_VERSION,
    captureName: str(json, 'captureName', '$'),
    captureNamespace: str(json, 'captureNamespace', '$'),
    nodeName: str(json, 'nodeName', '$'),
    nodeIPs: ipList(json, 'nodeIPs', '$'),
    targetKind,
    pod,
    interfaces: ifs as string[],
    linkType: nonNegInt(json, 'linkType', '$'),
    startTime,
    filter: str(json, 'filter', '$', true),
    snapLength: nonNegInt(json, 'snapLength', '$'),
    endpoints,
  };
}

/** Serialises metadata (validated first) as pretty JSON with a trailing newline. */
export function formatCaptureMetadata(meta: CaptureMetadata): string {
  return `${JSON.stringify(parseCaptureMetadata(meta), null, 2)}\n`;
}

/** Path of the per-file sidecar of a capture file. */
export function metadataPathFor(capturePath: string): string {
  return `${capturePath}${METADATA_SUFFIX}`;
}

/**
 * Writes the sidecar of `capturePath` atomically (temp file + rename), mode 0600. Pass
 * `{ perDirectory: true }` to write `capture-meta.json` in the file's directory instead.
 */
export async function writeCaptureMetadata(capturePath: string, meta: CaptureMetadata, opts: { perDirectory?: boolean } = {}): Promise<string> {
  const target = opts.perDirectory ? join(dirname(capturePath), DIRECTORY_METADATA_FILE) : metadataPathFor(capturePath);
  const tmp = `${target}.tmp-${process.pid}`;
  await writeFile(tmp, formatCaptureMetadata(meta), { mode: 0o600 });
  await rename(tmp, target);
  return target;
}

/** Reads and validates a metadata file; errors name the file. */
export async function readCaptureMetadata(path: string): Promise<CaptureMetadata> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CaptureMetadataError(path, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CaptureMetadataError(path, `not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseCaptureMetadata(json);
  } catch (err) {
    if (err instanceof CaptureMetadataError) throw new CaptureMetadataError(`${path}: ${err.path}`, err.message.replace(/^capture metadata: [^:]*: /, ''), { cause: err });
    throw err;
  }
}

/**
 * Finds the sidecar for a capture file: `<file>.meta.json`, else `capture-meta.json` in its
 * directory. Returns undefined when neither exists; throws {@link CaptureMetadataError} when one
 * exists but is invalid.
 */
export async function findCaptureMetadata(capturePath: string): Promise<{ path: string; metadata: CaptureMetadata } | undefined> {
  for (const p of [metadataPathFor(capturePath), join(dirname(capturePath), DIRECTORY_METADATA_FILE)]) {
    if (p === capturePath) continue;
    try {
      if (!(await stat(p)).isFile()) continue;
    } catch {
      continue; // no sidecar here
    }
    return { path: p, metadata: await readCaptureMetadata(p) };
  }
  return undefined;
}

/** Interface name for merged output: `<node>/<namespace>/<pod>`, or `<node>/<iface>` for node captures. */
export function interfaceNameFor(meta: CaptureMetadata, iface?: string): string {
  if (meta.targetKind === 'pod' && meta.pod) return `${meta.nodeName}/${meta.pod.namespace}/${meta.pod.name}`;
  return `${meta.nodeName}/${iface ?? meta.interfaces[0] ?? 'any'}`;
}

/** IDB comments describing the capture (one `key=value` per comment). */
export function interfaceCommentsFor(meta: CaptureMetadata, sourceFile?: string): string[] {
  const c = [`pcapper.capture=${meta.captureNamespace}/${meta.captureName}`, `pcapper.node=${meta.nodeName}`];
  if (meta.nodeIPs.length > 0) c.push(`pcapper.node.ips=${meta.nodeIPs.join(',')}`);
  c.push(`pcapper.target=${meta.targetKind}`);
  if (meta.pod) {
    c.push(`pcapper.pod=${meta.pod.namespace}/${meta.pod.name}`);
    if (meta.pod.uid) c.push(`pcapper.pod.uid=${meta.pod.uid}`);
    if (meta.pod.ips.length > 0) c.push(`pcapper.pod.ips=${meta.pod.ips.join(',')}`);
  }
  c.push(`pcapper.interfaces=${meta.interfaces.join(',')}`);
  c.push(`pcapper.start=${meta.startTime}`);
  if (meta.filter) c.push(`pcapper.filter=${meta.filter}`);
  if (sourceFile !== undefined) c.push(`pcapper.file=${basename(sourceFile)}`);
  return c;
}

/**
 * IP -> endpoint map from one or more metadata documents: each capture's `endpoints`, plus its own
 * pod IPs and node IPs. Earlier documents win on conflicts.
 */
export function endpointMap(metas: readonly CaptureMetadata[]): Map<string, EndpointInfo> {
  const m = new Map<string, EndpointInfo>();
  const add = (ip: string, e: EndpointInfo) => {
    if (!m.has(ip)) m.set(ip, e);
  };
  for (const meta of metas) {
    if (meta.pod) for (const ip of meta.pod.ips) add(ip, { pod: meta.pod.name, namespace: meta.pod.namespace, node: meta.nodeName });
    for (const [ip, e] of Object.entries(meta.endpoints)) add(ip, e);
    for (const ip of meta.nodeIPs) add(ip, { node: meta.nodeName });
  }
  return m;
}

/** Display name of an endpoint: `namespace/pod`, `node:NAME`, or undefined if unknown. */
export function endpointLabel(e: EndpointInfo | undefined): string | undefined {
  if (!e) return undefined;
  if (e.pod) return e.namespace ? `${e.namespace}/${e.pod}` : e.pod;
  if (e.node) return `node:${e.node}`;
  return undefined;
}

/** Prefix of the interface comment in which `kubectl pcap export` carries a capture's metadata (`pcapper.meta=<JSON>`). */
export const META_COMMENT_PREFIX = 'pcapper.meta=';

/** The metadata carried in an interface comment `pcapper.meta=<JSON>`, if valid. */
export function metadataFromComments(comments: readonly string[]): CaptureMetadata | undefined {
  const c = comments.find((x) => x.startsWith(META_COMMENT_PREFIX));
  if (!c) return undefined;
  try {
    return parseCaptureMetadata(JSON.parse(c.slice(META_COMMENT_PREFIX.length)));
  } catch {
    return undefined;
  }
}
