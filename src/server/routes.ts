/**
 * Pure request routing and validation of the data API (docs/data-api.md): which route a path
 * and query name, with every path segment and query value checked as Kubernetes defines it.
 * Nothing here does I/O; the HTTP shell (http.ts) acts on the returned Route.
 */
import { isDns1123Label, isDns1123Subdomain, isPlainName, NAME_RULES } from '../api/names.js';

export const DATA_GROUP = 'data.pcapper.dev';
export const DATA_VERSION = 'v1alpha1';
export const DATA_GROUP_VERSION = `${DATA_GROUP}/${DATA_VERSION}`;
const BASE = `/apis/${DATA_GROUP}/${DATA_VERSION}`;

export type Route =
  | { kind: 'health'; check: 'healthz' | 'livez' | 'readyz' }
  | { kind: 'apis' }
  | { kind: 'group' }
  | { kind: 'resources' }
  | { kind: 'list'; namespace: string; name: string }
  | { kind: 'file'; namespace: string; name: string; node: string; target: string; file: string }
  | { kind: 'log'; namespace: string; name: string; node: string; target: string | undefined }
  /** POST: fire an armed capture (docs/triggers.md; Alertmanager webhook body) */
  | { kind: 'trigger'; namespace: string; name: string }
  | { kind: 'badRequest'; message: string }
  | { kind: 'notFound'; message: string };


/** Why `v` is not a namespace name, or undefined when it is one. */
export function namespaceError(v: string): string | undefined {
  if (!isDns1123Label(v)) return `namespace "${show(v)}" is not ${NAME_RULES.label}`;
  return undefined;
}

/** Why `v` is not a valid object/node name (DNS-1123 subdomain), or undefined. */
export function subdomainError(what: string, v: string): string | undefined {
  if (!isDns1123Subdomain(v)) return `${what} "${show(v)}" is not ${NAME_RULES.subdomain}`;
  return undefined;
}

/** Why `v` is not a plain target/file name, or undefined. */
export function plainNameError(what: string, v: string): string | undefined {
  if (!isPlainName(v, 253) || v.includes('..')) {
    return `${what} "${show(v)}" is not a plain name (letters, digits and "_.:@-", starting with a letter or digit, no "..", at most 253 characters)`;
  }
  return undefined;
}

/** A value safe to echo in a one-line message (control characters escaped, length capped). */
function show(v: string): string {
  const s = JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v);
  return s.slice(1, -1);
}

function decode(seg: string): string | undefined {
  try {
    return decodeURIComponent(seg);
  } catch {
    return undefined;
  }
}

/** Routes a request path and query (both as received). */
export function route(pathname: string, query: URLSearchParams): Route {
  if (pathname === '/healthz' || pathname === '/livez' || pathname === '/readyz') return { kind: 'health', check: pathname.slice(1) as 'healthz' | 'livez' | 'readyz' };
  const p = pathname.length > 1 ? pathname.replace(/\/$/, '') : pathname;
  if (p === '/apis') return { kind: 'apis' };
  if (p === `/apis/${DATA_GROUP}`) return { kind: 'group' };
  if (p === BASE) return { kind: 'resources' };
  if (!p.startsWith(`${BASE}/`)) return { kind: 'notFound', message: `the server could not find the requested resource (${show(p)})` };
  const raw = p.slice(BASE.length + 1).split('/');
  const segs: string[] = [];
  for (const r of raw) {
    const d = decode(r);
    if (d === undefined) return { kind: 'badRequest', message: `path segment "${show(r)}" is not valid percent-encoding` };
    segs.push(d);
  }
  const [nsWord, namespace, pcWord, name, sub, ...rest] = segs;
  if (nsWord !== 'namespaces' || pcWord !== 'packetcaptures' || namespace === undefined || name === undefined || sub === undefined) {
    return { kind: 'notFound', message: `the server could not find the requested resource: use ${BASE}/namespaces/{namespace}/packetcaptures/{name}/files or .../log` };
  }
  const nsErr = namespaceError(namespace);
  if (nsErr) return { kind: 'badRequest', message: nsErr };
  const nameErr = subdomainError('capture name', name);
  if (nameErr) return { kind: 'badRequest', message: nameErr };
  if (sub === 'files') {
    if (rest.length === 0) return { kind: 'list', namespace, name };
    if (rest.length !== 3) return { kind: 'notFound', message: `a file path is files/{node}/{target}/{file}` };
    const [node, target, file] = rest as [string, string, string];
    const err = subdomainError('node name', node) ?? plainNameError('target', target) ?? plainNameError('file name', file);
    if (err) return { kind: 'badRequest', message: err };
    return { kind: 'file', namespace, name, node, target, file };
  }
  if (sub === 'log' && rest.length === 0) {
    for (const k of query.keys()) {
      // client-go adds ?timeout= when the caller set a request timeout.
      if (k !== 'node' && k !== 'target' && k !== 'timeout') return { kind: 'badRequest', message: `unknown query parameter "${show(k)}" (use node= and target=)` };
    }
    const nodes = query.getAll('node');
    const targets = query.getAll('target');
    if (nodes.length !== 1 || nodes[0] === '') return { kind: 'badRequest', message: 'the live stream needs exactly one node: log?node={node}&target={target}' };
    if (targets.length > 1) return { kind: 'badRequest', message: 'give at most one target= (one live stream per request)' };
    const node = nodes[0] as string;
    const target = targets[0] === '' ? undefined : targets[0];
    const err = subdomainError('node name', node) ?? (target === undefined ? undefined : plainNameError('target', target));
    if (err) return { kind: 'badRequest', message: err };
    return { kind: 'log', namespace, name, node, target };
  }
  if (sub === 'trigger' && rest.length === 0) return { kind: 'trigger', namespace, name };
  return { kind: 'notFound', message: `packetcaptures has no subresource "${show(sub)}" here (files, log or trigger)` };
}

// ---- Kubernetes documents ----------------------------------------------------------------------

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string };
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  500: 'InternalError',
  502: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** A metav1.Status failure (what kubectl and client-go print as the error). */
export function status(code: number, message: string, details?: KubeStatus['details']): KubeStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'Unknown', code, ...(details ? { details } : {}) };
}

const GROUP_DOC = {
  name: DATA_GROUP,
  versions: [{ groupVersion: DATA_GROUP_VERSION, version: DATA_VERSION }],
  preferredVersion: { groupVersion: DATA_GROUP_VERSION, version: DATA_VERSION },
};

/**
 * `/apis`: a legacy APIGroupList. The aggregator first asks for aggregated discovery
 * (application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList); any answer other than
 * 200 with that content type (or 503) makes it fall back to GET /apis/<group>/<version>
 * (kube-aggregator handler_discovery.go), so a plain APIGroupList as application/json is right.
 */
export function apiGroupList(): unknown {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [GROUP_DOC] };
}

export function apiGroup(): unknown {
  return { kind: 'APIGroup', apiVersion: 'v1', ...GROUP_DOC };
}

/** `/apis/data.pcapper.dev/v1alpha1`: the aggregator's availability check GETs this (2xx = Available). */
export function apiResourceList(): unknown {
  const sub = (name: string, kind: string): unknown => ({ name, singularName: '', namespaced: true, kind, verbs: ['get'] });
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: DATA_GROUP_VERSION,
    resources: [sub('packetcaptures/files', 'PacketCaptureFileList'), sub('packetcaptures/log', 'PacketCaptureLog'), { name: 'packetcaptures/trigger', singularName: '', namespaced: true, kind: 'PacketCaptureTrigger', verbs: ['create'] }],
  };
}
