/**
 * Pure HTTP helpers of the agent's file server: routing and Range parsing (the Prometheus text
 * format comes from prom-client, src/agent/metrics.ts).
 */
import { isDns1123Label, isDns1123Subdomain, isPlainName } from '../api/names.js';

export type Route =
  | { kind: 'healthz' }
  | { kind: 'metrics' }
  | { kind: 'list'; namespace: string; name: string }
  | { kind: 'file'; namespace: string; name: string; target: string; file: string }
  | { kind: 'stream'; namespace: string; name: string }
  /** A data path whose names break Kubernetes' rules: 400 with `message` (never a 500). */
  | { kind: 'badName'; message: string }
  | { kind: 'notFound' };

// Names: one definition (src/api/names.ts). Path segments, targets (`pod.<ns>.<pod>`, `node.<if>`)
// and file names are plain names (file names at most NAME_MAX).
const isSegment = (s: string): boolean => isPlainName(s, Number.MAX_SAFE_INTEGER);

/** Why a namespace/capture name is not one Kubernetes accepts, or undefined when it is. */
function badNames(namespace: string, name: string): string | undefined {
  if (!isDns1123Label(namespace)) return `namespace "${namespace.slice(0, 80)}" is not a Kubernetes namespace name (DNS-1123 label: lower case letters, digits and '-', at most 63)`;
  if (!isDns1123Subdomain(name)) return `capture name "${name.slice(0, 80)}" is not a Kubernetes object name (DNS-1123 subdomain: lower case letters, digits, '-' and '.', at most 253)`;
  return undefined;
}

/**
 * URL paths (all GET/HEAD):
 *   /healthz, /metrics
 *   /v1/captures/<namespace>/<capture>/files                     JSON list of this node's files
 *   /v1/captures/<namespace>/<capture>/files/<target>/<file>     one file (HTTP Range)
 *   /v1/captures/<namespace>/<capture>/stream[?target=<target>]  live pcap of a running target
 * Segments must be plain names (no '..', no '/', no leading '.' or '-').
 */
export function route(pathname: string): Route {
  if (pathname === '/healthz') return { kind: 'healthz' };
  if (pathname === '/metrics') return { kind: 'metrics' };
  const parts = pathname.split('/');
  if (parts[0] !== '' || parts[1] !== 'v1' || parts[2] !== 'captures') return { kind: 'notFound' };
  let segs: string[];
  try {
    segs = parts.slice(3).map((p) => decodeURIComponent(p));
  } catch {
    return { kind: 'notFound' };
  }
  if (segs.some((s) => !isSegment(s))) return { kind: 'notFound' };
  const [namespace, name, what, target, file] = segs;
  if (namespace === undefined || name === undefined) return { kind: 'notFound' };
  const shapeOk = (what === 'files' && (segs.length === 3 || segs.length === 5)) || (what === 'stream' && segs.length === 3);
  if (!shapeOk) return { kind: 'notFound' };
  const bad = badNames(namespace, name);
  if (bad) return { kind: 'badName', message: bad };
  if (what === 'files' && segs.length === 3) return { kind: 'list', namespace, name };
  if (what === 'files' && target !== undefined && file !== undefined) {
    if (!isPlainName(target) || !isPlainName(file)) return { kind: 'notFound' };
    return { kind: 'file', namespace, name, target, file };
  }
  return { kind: 'stream', namespace, name };
}

export type RangeResult = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * One byte range of a file of `size` bytes (RFC 9110): `bytes=a-b`, `bytes=a-`, `bytes=-n`.
 * Anything else (no header, other units, several ranges, garbage) serves the whole file.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'full' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return { kind: 'full' };
  const a = m[1] ?? '';
  const b = m[2] ?? '';
  if (a === '' && b === '') return { kind: 'full' };
  if (a === '') {
    const n = Number(b);
    if (n === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}
