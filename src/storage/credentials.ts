// A store's credentials from the mounted Secret pcapper/pcapper-store-credentials (docs/storage.md:
// the agent reads files the kubelet mounts, never the Secrets API). Re-read before each upload, so
// a rotated Secret is used without a restart.
import { readSecretDir } from '../crypto/secret-dir.js';
import type { Credentials } from './sigv4.js';

export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
}

export interface CredentialEntries {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Pure: the credentials out of the Secret's entries. */
export function pickCredentials(entries: ReadonlyMap<string, Buffer>, names: CredentialEntries, source: string): Credentials {
  const get = (what: string, name: string): string => {
    const v = entries.get(name)?.toString('utf8').trim();
    if (!v) {
      throw new CredentialsError(`${source} has no entry "${name}" (the store's ${what}): add it, or fix the store's credentials.${what} entry name`);
    }
    return v;
  };
  const out: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = {
    accessKeyId: get('accessKeyId', names.accessKeyId),
    secretAccessKey: get('secretAccessKey', names.secretAccessKey),
  };
  if (names.sessionToken) out.sessionToken = get('sessionToken', names.sessionToken);
  return out;
}

export async function loadCredentials(dir: string, names: CredentialEntries): Promise<Credentials> {
  return pickCredentials(await readSecretDir(dir), names, `the store credentials Secret mounted at ${dir}`);
}
