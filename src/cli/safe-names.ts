/**
 * Names that the CLI turns into local paths (`<dir>/<node>/<target>/<file>`) come from the server
 * and from status, which a compromised node could write. Before any of them touches the file
 * system it must be a plain name: no '/', no '\', no '..', no control characters, not empty,
 * length-limited. Pure.
 */
import { join, relative, isAbsolute } from 'node:path';
import { DNS1123_SUBDOMAIN } from '../api/packetcapture.js';
import { CliError } from './errors.js';

/** Longest accepted name (a Kubernetes name is at most 253; NAME_MAX is 255). */
export const MAX_NAME_LENGTH = 253;

/** Target directory names (`pod.<ns>.<pod>`, `node.<iface>`) and file names. */
const PLAIN = /^[A-Za-z0-9][A-Za-z0-9_.:@+-]*$/;
const NODE = new RegExp(DNS1123_SUBDOMAIN);

export class UnsafeNameError extends CliError {}

export type NameKind = 'node' | 'target' | 'file';

/** Why `value` is not a safe `kind` name, or undefined when it is. */
export function unsafeReason(kind: NameKind, value: unknown): string | undefined {
  if (typeof value !== 'string') return 'not a string';
  if (value.length === 0) return 'empty';
  if (value.length > MAX_NAME_LENGTH) return `longer than ${MAX_NAME_LENGTH} characters`;
  if (value.includes('/') || value.includes('\\')) return 'contains a path separator';
  if (value.includes('..')) return "contains '..'";
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) return 'contains control characters';
  if (kind === 'node') return NODE.test(value) ? undefined : 'is not a valid node name (DNS-1123 subdomain)';
  return PLAIN.test(value) ? undefined : 'is not a plain name (letters, digits and _ . : @ + - only)';
}

/** A printable, bounded form of an untrusted value for error messages. */
export function shown(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const cut = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return JSON.stringify(cut);
}

/** Throws UnsafeNameError (one line) unless `value` is a safe `kind` name. */
export function checkName(kind: NameKind, value: unknown, from: string): string {
  const why = unsafeReason(kind, value);
  if (why !== undefined) throw new UnsafeNameError(`refusing ${kind} name ${shown(value)} from ${from}: it ${why.startsWith('is ') || why.startsWith('contains') ? why : `is ${why}`}`);
  return value as string;
}

/**
 * `<dir>/<node>/<target>/<file>` after checking every part, and checking that the result stays
 * under `dir` (defence in depth).
 */
export function safeLocalPath(dir: string, node: string, target: string, file: string, from: string): string {
  checkName('node', node, from);
  checkName('target', target, from);
  checkName('file', file, from);
  const p = join(dir, node, target, file);
  const rel = relative(dir, p);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new UnsafeNameError(`refusing a path outside ${dir} from ${from}`);
  return p;
}
