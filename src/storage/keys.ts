// Object key layout in a store (pure):
//   <prefix>/<namespace>/<capture>/<node>/<target>/<file>
// The tail `<node>/<target>/<file>` is the data API's file path (docs/data-api.md:
// `.../packetcaptures/{name}/files/{node}/{target}/{file}`), so the pcapper server maps a download
// to an object without a lookup table, and `<prefix>/<namespace>/<capture>/` lists or deletes
// every object of one capture (capture delete, TTL).

export class ObjectKeyError extends Error {
  override readonly name = 'ObjectKeyError';
}

export interface ObjectKeyParts {
  readonly prefix: string;
  readonly namespace: string;
  readonly capture: string;
  readonly node: string;
  readonly target: string;
  readonly file: string;
}

function segment(what: string, v: string): string {
  if (v === '' || v === '.' || v === '..' || v.includes('/') || v.includes('\0')) {
    throw new ObjectKeyError(`${what} ${JSON.stringify(v)} cannot be an object key segment: it must be a non-empty plain name without '/'`);
  }
  return v;
}

/** The prefix normalised: no leading or trailing '/', '' for none; each segment a plain name. */
export function normalisePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  if (p === '') return '';
  for (const s of p.split('/')) segment('store prefix segment', s);
  return p;
}

function join(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/** Everything of one capture: ends with '/', so capture "web" never matches capture "web-2". */
export function capturePrefix(prefix: string, namespace: string, capture: string): string {
  return `${join(normalisePrefix(prefix), segment('namespace', namespace), segment('capture', capture))}/`;
}

export function objectKey(p: ObjectKeyParts): string {
  return `${capturePrefix(p.prefix, p.namespace, p.capture)}${join(segment('node', p.node), segment('target', p.target), segment('file', p.file))}`;
}

/** The parts of a key under `capturePrefix(...)`, or undefined for a key of another shape. */
export function parseObjectKey(prefix: string, namespace: string, capture: string, key: string): { node: string; target: string; file: string } | undefined {
  const base = capturePrefix(prefix, namespace, capture);
  if (!key.startsWith(base)) return undefined;
  const rest = key.slice(base.length).split('/');
  if (rest.length !== 3 || rest.some((s) => s === '')) return undefined;
  const [node, target, file] = rest as [string, string, string];
  return { node, target, file };
}
