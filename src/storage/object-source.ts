// An object in the store as a random-access source for the encrypted file reader: the size from
// HeadObject, bytes by ranged GetObject. A download of a plaintext range then fetches and
// authenticates only the chunks it needs (docs/storage.md, reads from the store).
import type { RandomAccessSource } from '../crypto/reader.js';
import { StoreError } from './errors.js';
import type { S3Client } from './client.js';

export async function objectSource(client: S3Client, key: string): Promise<RandomAccessSource> {
  const head = await client.headObject(key);
  if (!head) throw new StoreError(`read ${key}: the object is not in bucket "${client.config.bucket}"`, false, 404, 'NoSuchKey');
  const size = head.size;
  return {
    size: () => Promise.resolve(size),
    readAt: async (offset, length) => {
      if (offset >= size || length <= 0) return Buffer.alloc(0);
      const end = Math.min(size, offset + length) - 1;
      // If-Match: every range comes from the same object, even if it is replaced meanwhile.
      const body = await client.getObject(key, { start: offset, end }, head.etag || undefined);
      if (body.length !== end - offset + 1) {
        throw new StoreError(`read ${key}: asked bytes ${offset}-${end}, the store sent ${body.length} bytes`, true);
      }
      return body;
    },
    close: () => Promise.resolve(),
  };
}
