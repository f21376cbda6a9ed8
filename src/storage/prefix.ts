// Listing and deleting every object under a prefix: a capture's objects when it is deleted or its
// TTL expires (through the finalizer), and the store side of `kubectl pcap list`/download.
import type { S3Client } from './client.js';

export async function listPrefix(client: S3Client, prefix: string): Promise<{ key: string; size: number }[]> {
  return client.listObjects(prefix);
}

/** Deletes every object under `prefix`, returning how many; lists again until none is left. */
export async function deletePrefix(client: S3Client, prefix: string): Promise<number> {
  if (prefix === '' || !prefix.endsWith('/')) {
    throw new Error(`refusing to delete by prefix ${JSON.stringify(prefix)}: a capture's prefix ends with '/' (keys.ts capturePrefix)`);
  }
  let total = 0;
  for (let round = 0; round < 10; round++) {
    const keys = (await client.listObjects(prefix)).map((o) => o.key);
    if (keys.length === 0) return total;
    total += await client.deleteObjects(keys);
  }
  const left = await client.listObjects(prefix);
  if (left.length === 0) return total;
  throw new Error(`${left.length} objects under ${prefix} are still listed after 10 rounds of deletes (first: ${left[0]?.key}); the store did not delete them`);
}
