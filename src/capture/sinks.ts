/**
 * Where ring files go: through the encrypted writer (src/crypto/writer.ts; the default, docs/storage.md
 * section 6), or as plain pcap files when the admin turned encryption off (PCAPPER_ENCRYPTION=off).
 * The keyring is read again for every new file, so a rotated Secret (new active key) applies to the
 * next ring file without a restart.
 */
import { open } from 'node:fs/promises';
import type { Keyring } from '../crypto/format.js';
import { EncryptedFileWriter } from '../crypto/writer.js';
import type { RingSink } from './ring.js';

export type OpenSink = (path: string) => Promise<RingSink>;

/** Each file encrypted with a fresh data key wrapped by the keyring's active key (0600). */
export function encryptedSink(keyring: () => Promise<Keyring>, chunkSize?: number): OpenSink {
  return async (path) => {
    const w = await EncryptedFileWriter.create(path, await keyring(), chunkSize !== undefined ? { chunkSize } : {});
    return { write: (b) => w.write(b), flush: () => w.flush(), close: () => w.close() };
  };
}

/** Plain pcap files (encryption turned off by the admin), 0600. */
export function plainSink(): OpenSink {
  return async (path) => {
    const fh = await open(path, 'wx', 0o600);
    let pos = 0;
    let closed = false;
    return {
      write: async (b) => {
        let off = 0;
        while (off < b.length) {
          const { bytesWritten } = await fh.write(b, off, b.length - off, pos);
          off += bytesWritten;
          pos += bytesWritten;
        }
      },
      flush: () => Promise.resolve(), // nothing buffered: every write went to the file
      close: async () => {
        if (closed) return;
        closed = true;
        await fh.close();
      },
    };
  };
}
