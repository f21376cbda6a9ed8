// Key rotation of the Secret pcapper-encryption-keys (docs/storage.md, "Key rotation"): pure
// decisions over the Secret's data (entry name -> base64 value, as the API returns it). The
// `kubectl pcap keys` command is the thin shell that reads and writes the Secret.
import { checkKeyId, KEY_SIZE } from './format.js';
import { parseKeyring } from './keyring.js';

export type SecretData = Readonly<Record<string, string>>;

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

/** The key ids in the Secret and the active one (errors name what is wrong in the Secret). */
export function describeKeys(data: SecretData): { active: string; ids: string[] } {
  const ring = parseKeyring(new Map(Object.entries(data).map(([k, v]) => [k, b64(v)])), 'Secret pcapper/pcapper-encryption-keys');
  return { active: ring.active.id, ids: [...ring.keys.keys()].sort() };
}

/** A key id for a new key from the time: "k20261127-2153" (sortable, valid, unique per minute). */
export function keyIdFor(now: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `k${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}`;
}

/** The Secret's data with `key` added as `id` and made active; the old keys stay (files still need them). */
export function addActiveKey(data: SecretData, id: string, key: Buffer): Record<string, string> {
  checkKeyId(id);
  if (key.length !== KEY_SIZE) throw new Error(`a key-encryption key is ${KEY_SIZE} bytes, not ${key.length}`);
  describeKeys(data); // the Secret is usable as it is
  if (data[`${id}.key`] !== undefined) throw new Error(`the Secret already has a key ${JSON.stringify(id)}: choose another --id`);
  return { ...data, [`${id}.key`]: key.toString('base64'), active: Buffer.from(id).toString('base64') };
}

/** The Secret's data without key `id` (never the active one). */
export function removeKey(data: SecretData, id: string): Record<string, string> {
  const { active, ids } = describeKeys(data);
  if (!ids.includes(id)) throw new Error(`the Secret has no key ${JSON.stringify(id)} (keys: ${ids.join(', ')})`);
  if (id === active) throw new Error(`key ${JSON.stringify(id)} is the active key: rotate first (kubectl pcap keys rotate), re-wrap, then retire it`);
  const out = { ...data };
  delete out[`${id}.key`];
  return out;
}

/** One capture's file list from the data API, as `keys retire` reads it (the items of a capture with a store). */
export interface StoredFiles {
  /** `<namespace>/<name>` */
  readonly capture: string;
  /** Why the capture's store could not be read (the data API's `store.error`, or the request's error). */
  readonly error?: string;
  readonly items: readonly { path: string; kind?: string; location?: string; storeKeyIds?: string[] }[];
}

/**
 * Which objects in stores still need key `id` (pure). Objects in a store are not re-wrapped by the
 * agents' sweep (docs/storage.md, key rotation), so retiring a key one of them needs would make it
 * unreadable. `unknown`: captures whose store, or an object's header, could not be read: retiring
 * is refused for them too (nothing is assumed safe that was not seen).
 */
export function objectsNeedingKey(id: string, lists: readonly StoredFiles[]): { needing: { capture: string; path: string }[]; unknown: { capture: string; why: string }[] } {
  const needing: { capture: string; path: string }[] = [];
  const unknown: { capture: string; why: string }[] = [];
  for (const l of lists) {
    if (l.error !== undefined) {
      unknown.push({ capture: l.capture, why: l.error });
      continue;
    }
    for (const i of l.items) {
      if (i.location !== 'store' && i.location !== 'both') continue;
      if (i.storeKeyIds === undefined) {
        if (i.kind === 'pcap') unknown.push({ capture: l.capture, why: `the header of ${i.path} could not be read from the store` });
      } else if (i.storeKeyIds.includes(id)) needing.push({ capture: l.capture, path: i.path });
    }
  }
  return { needing, unknown };
}

/** The refusal of `keys retire ID` while objects in a store need the key (pure); undefined: nothing in a store needs it. */
export function retireRefusal(id: string, r: ReturnType<typeof objectsNeedingKey>): string | undefined {
  if (r.needing.length === 0 && r.unknown.length === 0) return undefined;
  const lines: string[] = [];
  const byCapture = new Map<string, string[]>();
  for (const n of r.needing) byCapture.set(n.capture, [...(byCapture.get(n.capture) ?? []), n.path]);
  if (r.needing.length > 0) {
    lines.push(`key ${JSON.stringify(id)} still wraps ${r.needing.length} object${r.needing.length === 1 ? '' : 's'} in a store, of ${byCapture.size} capture${byCapture.size === 1 ? '' : 's'}:`);
    for (const [c, paths] of byCapture) lines.push(`  ${c}: ${paths.slice(0, 3).join(', ')}${paths.length > 3 ? `, and ${paths.length - 3} more` : ''}`);
  }
  if (r.unknown.length > 0) {
    lines.push(`could not check ${r.unknown.length} capture${r.unknown.length === 1 ? '' : 's'} with a store:`);
    for (const u of r.unknown.slice(0, 5)) lines.push(`  ${u.capture}: ${u.why}`);
  }
  lines.push(
    'Objects already in a store are not re-wrapped by the agents (docs/storage.md, key rotation), so without this key they could not be read. ' +
      'Keep the key until those captures are deleted (kubectl pcap delete NAME -n NAMESPACE, or their ttlSecondsAfterFinished: their objects are deleted with them), ' +
      'downloading first what you want to keep; then retire it. --force retires it anyway and leaves those objects unreadable.',
  );
  return lines.join('\n');
}
