/**
 * What the file server sends: the plaintext of a capture file. An encrypted ring file (magic
 * "PCAPENC\n", src/crypto/format.ts) is decrypted with the keyring: its size is the plaintext
 * size, a Range is mapped to the chunks it covers, and every chunk is authenticated. A file still
 * being written (or whose writer died) is read in the live view: everything sealed so far. A file
 * encrypted end to end (age recipients, format algorithm 2) cannot be opened here: it is served as
 * it is, for the identity holder to decrypt (kubectl pcap download --identity). Other
 * files (the metadata sidecar, files written with encryption off) are served as they are.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Keyring } from '../crypto/format.js';
import { ALG_AGE, MAGIC } from '../crypto/format.js';
import { EncryptedFileReader, handleSource } from '../crypto/reader.js';

export { handleSource };

export interface PlainView {
  /** Plaintext bytes. */
  readonly size: number;
  readonly encrypted: boolean;
  /** Encrypted end to end: served as stored (ciphertext), size = bytes on disk. */
  readonly endToEnd?: boolean;
  /** Plaintext [start, end] (inclusive, as HTTP ranges). */
  stream(start: number, end: number): AsyncIterable<Buffer>;
  close(): Promise<void>;
}


/** Is the file an encrypted capture file? (reads its first 8 bytes) */
export async function isEncrypted(fh: FileHandle): Promise<boolean> {
  const b = Buffer.alloc(MAGIC.length);
  const { bytesRead } = await fh.read(b, 0, b.length, 0);
  return bytesRead === MAGIC.length && b.equals(MAGIC);
}

/** Is the file encrypted end to end (age recipients; the cluster holds no key for it)? */
export async function isEndToEnd(fh: FileHandle): Promise<boolean> {
  const b = Buffer.alloc(MAGIC.length + 2);
  const { bytesRead } = await fh.read(b, 0, b.length, 0);
  return bytesRead === b.length && b.subarray(0, MAGIC.length).equals(MAGIC) && b[MAGIC.length + 1] === ALG_AGE;
}

/** The plaintext view of an open file; takes ownership of `fh` (close() closes it). */
export async function plainView(fh: FileHandle, size: number, keyring: () => Promise<Keyring>): Promise<PlainView> {
  const e2e = await isEndToEnd(fh);
  if (e2e || !(await isEncrypted(fh))) {
    return {
      size,
      encrypted: e2e,
      endToEnd: e2e,
      stream: (start, end) => fh.createReadStream({ start, end, autoClose: false }) as AsyncIterable<Buffer>,
      close: () => fh.close(),
    };
  }
  const r = await EncryptedFileReader.fromSource(handleSource(fh), await keyring());
  try {
    const info = await r.info({ live: true });
    return {
      size: info.size,
      encrypted: true,
      stream: (start, end) => r.stream(start, end + 1, { live: true }),
      close: () => r.close(),
    };
  } catch (e) {
    await r.close();
    throw e;
  }
}

/** The plaintext size of an open file (encrypted: from its last sealed chunk). Does not close fh. */
export async function plainSize(fh: FileHandle, size: number, keyring: () => Promise<Keyring>): Promise<number> {
  if (!(await isEncrypted(fh)) || (await isEndToEnd(fh))) return size;
  const src = handleSource(fh);
  const r = await EncryptedFileReader.fromSource({ ...src, close: () => Promise.resolve() }, await keyring());
  return (await r.info({ live: true })).size;
}
