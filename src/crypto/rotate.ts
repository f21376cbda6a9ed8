// Key rotation: re-wrap a file's data key with the keyring's active key, without re-encrypting
// the file. Crash-safe through the two key slots: the new wrap goes into the free slot and is
// fsynced before the old slot is cleared, so at every instant one slot opens the file.
import { open } from 'node:fs/promises';
import {
  encodeSlot,
  FIXED_HEADER_SIZE,
  HEADER_SIZE,
  openDataKey,
  parseHeader,
  SLOT_SIZE,
  wrapDataKey,
  type Keyring,
} from './format.js';

export interface RewrapResult {
  readonly changed: boolean;
  readonly from: string;
  readonly to: string;
}

/** Re-wraps `path` (a closed, finished file) with `ring.active`; a no-op when it already is. */
export async function rewrapFile(path: string, ring: Keyring, random?: (n: number) => Buffer): Promise<RewrapResult> {
  const fh = await open(path, 'r+');
  try {
    const buf = Buffer.alloc(HEADER_SIZE);
    const { bytesRead } = await fh.read(buf, 0, HEADER_SIZE, 0);
    const header = parseHeader(buf.subarray(0, bytesRead));
    const { dek, slot, keyId } = openDataKey(header, ring);
    const other = slot === 0 ? 1 : 0;
    if (keyId === ring.active.id) {
      // Already wrapped by the active key: clear a leftover slot of a retired key, if any.
      if (header.slots[other]) {
        await fh.write(encodeSlot(undefined), 0, SLOT_SIZE, FIXED_HEADER_SIZE + other * SLOT_SIZE);
        await fh.sync();
      }
      return { changed: false, from: keyId, to: keyId };
    }
    const fresh = wrapDataKey(header.fixed, dek, ring.active, random);
    await fh.write(encodeSlot(fresh), 0, SLOT_SIZE, FIXED_HEADER_SIZE + other * SLOT_SIZE);
    await fh.sync();
    await fh.write(encodeSlot(undefined), 0, SLOT_SIZE, FIXED_HEADER_SIZE + slot * SLOT_SIZE);
    await fh.sync();
    return { changed: true, from: keyId, to: ring.active.id };
  } finally {
    await fh.close();
  }
}
