// The key-encryption keys, from the Secret the chart creates (pcapper/pcapper-encryption-keys,
// mounted read-only into the agent and the pcapper server). Pure: the caller reads the mounted
// files into a map; this decides what they mean.
//
// Secret shape (docs/storage.md):
//   data:
//     active: "2026-11"            # the key id that wraps new files
//     2026-11.key: <32 bytes>      # one entry per key, raw 32 bytes or their base64 text
//     2026-05.key: <32 bytes>      # retired keys stay until every file is re-wrapped
import { checkKek, EncryptedFileError, KEY_SIZE, type Kek, type Keyring } from './format.js';

export class KeyringError extends Error {
  override readonly name = 'KeyringError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function keyBytes(id: string, raw: Buffer): Buffer {
  if (raw.length === KEY_SIZE) return raw;
  const text = raw.toString('latin1').trim();
  if (/^[A-Za-z0-9+/]+=*$/.test(text)) {
    const b = Buffer.from(text, 'base64');
    if (b.length === KEY_SIZE) return b;
  }
  throw new KeyringError(
    `key ${id}.key has ${raw.length} bytes: it must be ${KEY_SIZE} random bytes, or their base64 (make one with: openssl rand 32 > ${id}.key)`,
  );
}

/** A keyring from the Secret's entries (file name -> content). */
export function parseKeyring(entries: ReadonlyMap<string, Buffer> | Record<string, Buffer>, source = 'the encryption Secret'): Keyring {
  const map: ReadonlyMap<string, Buffer> = entries instanceof Map ? (entries as ReadonlyMap<string, Buffer>) : new Map(Object.entries(entries as Record<string, Buffer>));
  const keys = new Map<string, Kek>();
  for (const [name, value] of map) {
    if (!name.endsWith('.key')) continue;
    const id = name.slice(0, -'.key'.length);
    const kek = { id, key: keyBytes(id, value) };
    try {
      checkKek(kek);
    } catch (e) {
      throw new KeyringError(`${source}: ${(e as EncryptedFileError).message}`, { cause: e });
    }
    keys.set(id, kek);
  }
  const activeRaw = map.get('active');
  if (!activeRaw) {
    throw new KeyringError(`${source} has no "active" entry: set it to the id of the key that wraps new files (one of: ${[...keys.keys()].join(', ') || 'none yet'})`);
  }
  const activeId = activeRaw.toString('utf8').trim();
  const active = keys.get(activeId);
  if (!active) {
    throw new KeyringError(`${source}: the active key ${JSON.stringify(activeId)} has no entry ${activeId}.key (keys present: ${[...keys.keys()].join(', ') || 'none'})`);
  }
  return { active, keys };
}
