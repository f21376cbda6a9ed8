// Reading a Secret mounted as a volume (the kubelet's layout: `<key> -> ..data/<key>`,
// `..data -> ..<timestamp>/`, swapped atomically on update). The thin I/O shell under the
// keyring and the store credentials: entries are re-read on each call, so a rotated Secret is
// picked up without a restart.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseKeyring } from './keyring.js';
import type { Keyring } from './format.js';

/** The entries of a mounted Secret (names starting with ".." are the kubelet's, skipped). */
export async function readSecretDir(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of await readdir(dir)) {
    if (name.startsWith('..')) continue;
    out.set(name, await readFile(join(dir, name)));
  }
  return out;
}

/** The keyring from the encryption Secret mounted at `dir`. */
export async function loadKeyringDir(dir: string): Promise<Keyring> {
  return parseKeyring(await readSecretDir(dir), `the encryption keys Secret mounted at ${dir}`);
}
