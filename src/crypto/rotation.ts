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
