/**
 * An encrypted ring file whose writer died with the previous agent (SIGKILL, node reboot): keep
 * everything sealed, cut a pcap record torn by the crash, and seal the file's final chunk, so that
 * strict readers (downloads, uploads, tshark) accept it.
 *
 * src/crypto/recover.ts finishFile() works at the chunk level: it keeps every authenticated chunk.
 * The ring's chunks do not end at record boundaries, so the last sealed chunk may end inside a
 * record; then the file is rewritten (encrypted, a fresh data key, temp file + rename) with the
 * plaintext up to the last whole record. At most that torn record is lost, and it is counted.
 */
import { rename, rm } from 'node:fs/promises';
import type { Keyring } from '../crypto/format.js';
import { EncryptedFileReader } from '../crypto/reader.js';
import { finishFile } from '../crypto/recover.js';
import { EncryptedFileWriter } from '../crypto/writer.js';
import { PcapSplitter } from '../capture/ring.js';

export interface RecoverResult {
  readonly changed: boolean;
  /** Plaintext bytes kept. */
  readonly size: number;
  /** Plaintext bytes of a torn last record that were cut off. */
  readonly tornBytes: number;
}

export async function recoverRingFile(path: string, ring: Keyring): Promise<RecoverResult> {
  const r = await EncryptedFileReader.open(path, ring);
  let plain: Buffer;
  let complete: boolean;
  try {
    const info = await r.info({ live: true });
    complete = info.complete;
    plain = complete ? Buffer.alloc(0) : await r.read(0, info.size, { live: true });
  } finally {
    await r.close();
  }
  if (complete) {
    const f = await finishFile(path, ring);
    return { changed: false, size: f.size, tornBytes: 0 };
  }
  const sp = new PcapSplitter();
  sp.push(plain);
  const keep = sp.header ? plain.length - sp.pending : 0;
  if (keep === plain.length) {
    const f = await finishFile(path, ring);
    return { changed: f.changed, size: f.size, tornBytes: 0 };
  }
  const tmp = `${path}.tmp-recover`;
  await rm(tmp, { force: true });
  const w = await EncryptedFileWriter.create(tmp, ring);
  try {
    await w.write(plain.subarray(0, keep));
    await w.close();
  } catch (e) {
    await w.abandon().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await rename(tmp, path);
  return { changed: true, size: keep, tornBytes: plain.length - keep };
}
