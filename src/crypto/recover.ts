// Finishing a file whose writer died (agent SIGKILLed, node rebooted): everything sealed before
// the crash is kept, a final chunk is written after it, and a torn last record is cut off. After
// this, strict reads accept the file and it can be uploaded like any finished ring file.
import { randomInt } from 'node:crypto';
import { open } from 'node:fs/promises';
import { chunkOffset, HEADER_SIZE, openChunk, openDataKey, parseHeader, RECORD_HEADER_SIZE, sealChunk, TAG_SIZE, type Keyring } from './format.js';
import { EncryptedFileReader } from './reader.js';

export interface FinishResult {
  /** False when the file already had its final chunk. */
  readonly changed: boolean;
  /** Plaintext bytes kept. */
  readonly size: number;
  /** Encrypted bytes cut off (a record torn by the crash). */
  readonly droppedBytes: number;
}

/**
 * Seal numbers of recovery seals come from the upper half (2^31 + random): the writer counts from
 * 0 and never gets there, and a torn record may have used any small number, so no nonce is reused.
 */
function recoverySeal(): number {
  return 0x80000000 + randomInt(0, 0x7fffffff);
}

export async function finishFile(path: string, ring: Keyring): Promise<FinishResult> {
  const r = await EncryptedFileReader.open(path, ring);
  let size: number;
  let fileSize: number;
  try {
    const info = await r.info({ live: true });
    if (info.complete) return { changed: false, size: info.size, droppedBytes: 0 };
    size = info.size;
    fileSize = info.fileSize;
  } finally {
    await r.close();
  }
  const fh = await open(path, 'r+');
  try {
    const hb = Buffer.alloc(HEADER_SIZE);
    await fh.read(hb, 0, HEADER_SIZE, 0);
    const header = parseHeader(hb);
    const { dek } = openDataKey(header, ring);
    const cs = header.fixed.chunkSize;
    const full = Math.floor(size / cs);
    const rem = size - full * cs;
    let plaintext: Buffer = Buffer.alloc(0);
    if (rem > 0) {
      // The last readable chunk is short: read it back and seal it again as the final one.
      const rec = Buffer.alloc(RECORD_HEADER_SIZE + rem + TAG_SIZE);
      await fh.read(rec, 0, rec.length, chunkOffset(cs, full));
      plaintext = openChunk(header.fixed, dek, full, rec).plaintext;
    }
    const finalRec = sealChunk(header.fixed, dek, full, recoverySeal(), plaintext, true);
    const at = chunkOffset(cs, full);
    await fh.write(finalRec, 0, finalRec.length, at);
    const end = at + finalRec.length;
    await fh.truncate(end);
    await fh.sync();
    return { changed: true, size, droppedBytes: Math.max(0, fileSize - (at + (rem > 0 ? RECORD_HEADER_SIZE + rem + TAG_SIZE : 0))) };
  } finally {
    await fh.close();
  }
}
