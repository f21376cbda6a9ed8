/**
 * End-to-end captures (spec.encryption.recipients) on the user's machine: the server sends their
 * ring files as stored (the cluster holds no key for them); `--identity FILE` (an age identity
 * file) opens them here, in place, before the merge. Every chunk is authenticated.
 */
import { createWriteStream } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseIdentityFile } from '../crypto/age.js';
import { ALG_AGE, EncryptedFileError, MAGIC } from '../crypto/format.js';
import { EncryptedFileReader } from '../crypto/reader.js';
import { CliError } from './errors.js';

/** The identities of an age identity file (AGE-SECRET-KEY-1... lines), with a clear error. */
export async function loadIdentities(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new CliError(`--identity ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give the age identity file made by age-keygen -o FILE`, { cause: e });
  }
  try {
    return parseIdentityFile(text, `--identity ${path}`);
  } catch (e) {
    throw new CliError((e as Error).message, { cause: e });
  }
}

/** Is the local file encrypted end to end? (its first 10 bytes) */
export async function isEndToEndFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(MAGIC.length + 2);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    return bytesRead === b.length && b.subarray(0, MAGIC.length).equals(MAGIC) && b[MAGIC.length + 1] === ALG_AGE;
  } finally {
    await fh.close();
  }
}

/**
 * Decrypts, in place, every end-to-end file among `paths`; returns how many. Without identities,
 * the first such file is an error that names --identity. A file of a capture still running (or
 * whose writer died) gives everything sealed so far.
 */
export async function decryptEndToEnd(paths: readonly string[], identities: readonly string[] | undefined, what: string, name = 'NAME'): Promise<number> {
  let n = 0;
  for (const p of paths) {
    if (!(await isEndToEndFile(p))) continue;
    if (!identities) {
      throw new CliError(
        `${what} is encrypted end to end (spec.encryption.recipients): the cluster cannot decrypt it, only the holder of a matching age identity can. Download it with: kubectl pcap download ${name} --identity FILE (the age identity file, AGE-SECRET-KEY-1...), then read the file locally`,
      );
    }
    let r: EncryptedFileReader;
    try {
      r = await EncryptedFileReader.open(p, { ageIdentities: identities });
    } catch (e) {
      if (e instanceof EncryptedFileError) throw new CliError(`${p}: ${e.message}`, { cause: e });
      throw e;
    }
    const tmp = `${p}.decrypting`;
    try {
      await pipeline(Readable.from(r.stream(0, undefined, { live: true })), createWriteStream(tmp, { mode: 0o600, flags: 'wx' }));
      await rename(tmp, p);
    } catch (e) {
      await rm(tmp, { force: true });
      if (e instanceof EncryptedFileError) throw new CliError(`${p}: ${e.message}`, { cause: e });
      throw e;
    } finally {
      await r.close();
    }
    n++;
  }
  return n;
}
