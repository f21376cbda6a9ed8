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

/** Opens a ring file; `recipients`: the capture is end to end (spec.encryption.recipients). */
export type OpenSink = (path: string, recipients?: readonly string[]) => Promise<RingSink>;

/** End-to-end captures: the data key wrapped to the age recipients only (no cluster key), 0600. */
async function endToEnd(path: string, recipients: readonly string[], chunkSize?: number): Promise<RingSink> {
  const w = await EncryptedFileWriter.createForRecipients(path, recipients, chunkSize !== undefined ? { chunkSize } : {});
  return { write: (b) => w.write(b), flush: () => w.flush(), close: () => w.close() };
}

/** Each file encrypted with a fresh data key wrapped by the keyring's active key (0600); end to end when the capture names recipients. */
export function encryptedSink(keyring: () => Promise<Keyring>, chunkSize?: number): OpenSink {
  return async (path, recipients) => {
    if (recipients && recipients.length > 0) return endToEnd(path, recipients, chunkSize);
    const w = await EncryptedFileWriter.create(path, await keyring(), chunkSize !== undefined ? { chunkSize } : {});
    return { write: (b) => w.write(b), flush: () => w.flush(), close: () => w.close() };
  };
}

/** Plain pcap files (encryption at rest turned off by the admin), 0600; an end-to-end capture is still encrypted to its recipients. */
export function plainSink(): OpenSink {
  return async (path, recipients) => {
    if (recipients && recipients.length > 0) return endToEnd(path, recipients);
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
