/**
 * Reads from the store (docs/storage.md section 7): the store's objects of a capture as file list
 * items, and a download of one object decrypted with the keyring so users get plaintext, a Range
 * mapped to the encrypted file's chunks (only the chunks of the range, plus the last one for the
 * size, are fetched and authenticated). The store's credentials come from the mounted Secret, the
 * keyring from the mounted encryption Secret, both re-read per request (rotation without restart).
 * The user's token never reaches the store: the server has authorized the user already.
 */
import type { PacketCapture } from '../api/packetcapture.js';
import type { PacketCaptureStore } from '../api/packetcapturestore.js';
import { ALG_AGE, HEADER_SIZE, MAGIC, parseHeader } from '../crypto/format.js';
import { loadKeyringDir } from '../crypto/secret-dir.js';
import { EncryptedFileReader, type RandomAccessSource } from '../crypto/reader.js';
import { storeClient, type StoreClientOptions } from '../controller/store-client.js';
import { defaultStores } from '../controller/stores.js';
import type { S3Client } from '../storage/client.js';
import { capturePrefix, objectKey, parseObjectKey } from '../storage/keys.js';
import { objectSource } from '../storage/object-source.js';
import { mapLimit, type FileItem } from './filelist.js';
import { plainNameError, subdomainError } from './routes.js';

export interface StoreReadOptions extends StoreClientOptions {
  /** Directory of the mounted Secret pcapper-encryption-keys. */
  readonly keyringDir: string;
}

/** What the data routes need from the store side (DataServerDeps.store). */
export interface StoreReads {
  /** The capture's store (spec.store, else the single default store), or undefined for none. */
  storeFor(pc: PacketCapture): Promise<PacketCaptureStore | undefined>;
  /** The store's files of the capture (rejects with the store's error). */
  list(pc: PacketCapture, store: PacketCaptureStore): Promise<FileItem[]>;
  /** An object opened for plaintext reads, or undefined when the store has no such object. */
  open(pc: PacketCapture, store: PacketCaptureStore, node: string, target: string, file: string): Promise<PlainObject | undefined>;
}

/** A file in the store, readable as plaintext (or as stored, for an object that is not encrypted, e.g. a sidecar written plain). */
export interface PlainObject {
  readonly size: number;
  read(start: number, endExclusive: number): AsyncGenerator<Buffer>;
  close(): Promise<void>;
}

const kindOf = (n: string): string => (/\.pcap[0-9]*$/.test(n) ? 'pcap' : n.endsWith('.json') ? 'metadata' : 'other');

/** Plaintext size of an encrypted object from its ciphertext size and chunk size (pure). */
export function plaintextSize(objectSize: number, chunkSize: number): number {
  const body = objectSize - 296;
  if (body <= 0) return 0;
  const chunks = Math.ceil(body / (chunkSize + 24));
  return Math.max(0, body - chunks * 24);
}

/**
 * What the listing tells of an object from its first bytes (pure): the plaintext size and the ids
 * of the cluster keys that wrap its data key (`kubectl pcap keys retire` refuses to remove a key
 * an object still needs). End-to-end (age) and plain objects: stored size, no cluster key ([]).
 * Throws on an encrypted header it cannot parse (the caller leaves storeKeyIds unknown).
 */
export function objectHeader(head: Buffer, objectSize: number): { size: number; keyIds: string[] } {
  if (head.length < 16 || !head.subarray(0, MAGIC.length).equals(MAGIC) || head[MAGIC.length + 1] === ALG_AGE) return { size: objectSize, keyIds: [] };
  const keyIds = parseHeader(head.subarray(0, HEADER_SIZE)).slots.flatMap((slot) => (slot ? [slot.keyId] : []));
  return { size: plaintextSize(objectSize, head.readUInt32BE(12)), keyIds };
}

/** Encrypted with the cluster keyring (served decrypted); end-to-end files (age) are served as stored. */
async function isEncrypted(src: RandomAccessSource): Promise<{ encrypted: boolean; chunkSize: number }> {
  const head = await src.readAt(0, 16);
  const encrypted = head.length >= 16 && head.subarray(0, MAGIC.length).equals(MAGIC) && head[MAGIC.length + 1] !== ALG_AGE;
  return { encrypted, chunkSize: encrypted ? head.readUInt32BE(12) : 0 };
}

export class StoreReader implements StoreReads {
  constructor(
    private readonly o: StoreReadOptions,
    private readonly getStore: (name: string) => Promise<PacketCaptureStore | undefined>,
    private readonly listStores: () => Promise<PacketCaptureStore[]>,
  ) {}

  async storeFor(pc: PacketCapture): Promise<PacketCaptureStore | undefined> {
    if (pc.spec.store !== undefined) return this.getStore(pc.spec.store);
    const d = defaultStores(await this.listStores());
    return d.length === 1 ? d[0] : undefined;
  }

  private async withClient<T>(store: PacketCaptureStore, f: (c: S3Client) => Promise<T>): Promise<T> {
    const c = await storeClient(store, this.o);
    try {
      return await f(c);
    } finally {
      c.close();
    }
  }

  async list(pc: PacketCapture, store: PacketCaptureStore): Promise<FileItem[]> {
    const ns = pc.metadata.namespace ?? '';
    const name = pc.metadata.name ?? '';
    const prefix = store.spec.s3.prefix ?? '';
    return this.withClient(store, async (c) => {
      const objs = await c.listObjects(capturePrefix(prefix, ns, name));
      const parsed = objs
        .map((o) => ({ o, p: parseObjectKey(prefix, ns, name, o.key) }))
        .filter((x): x is { o: { key: string; size: number }; p: { node: string; target: string; file: string } } => x.p !== undefined)
        .filter(({ p }) => !subdomainError('node', p.node) && !plainNameError('target', p.target) && !plainNameError('file', p.file));
      // the plaintext size needs the chunk size, and key retirement the key ids, from each
      // object's header: one ranged GET of its 296 bytes per object
      return mapLimit(parsed, 8, async ({ o, p }): Promise<FileItem> => {
        let size = o.size;
        let storeKeyIds: string[] | undefined;
        try {
          const h = await c.getObject(o.key, { start: 0, end: Math.min(HEADER_SIZE - 1, o.size - 1) });
          const head = objectHeader(h, o.size);
          size = head.size;
          storeKeyIds = head.keyIds;
        } catch {
          // the listing still shows the object (its stored size); storeKeyIds stays unknown
        }
        return { node: p.node, target: p.target, name: p.file, path: `${p.node}/${p.target}/${p.file}`, size, modified: '', kind: kindOf(p.file), ...(storeKeyIds ? { storeKeyIds } : {}) };
      });
    });
  }

  async open(pc: PacketCapture, store: PacketCaptureStore, node: string, target: string, file: string): Promise<PlainObject | undefined> {
    const key = objectKey({ prefix: store.spec.s3.prefix ?? '', namespace: pc.metadata.namespace ?? '', capture: pc.metadata.name ?? '', node, target, file });
    const c = await storeClient(store, this.o);
    let src: RandomAccessSource;
    try {
      const head = await c.headObject(key);
      if (!head) {
        c.close();
        return undefined;
      }
      src = await objectSource(c, key);
    } catch (e) {
      c.close();
      throw e;
    }
    const closeAll = async (): Promise<void> => {
      await src.close().catch(() => undefined);
      c.close();
    };
    try {
      const enc = await isEncrypted(src);
      if (!enc.encrypted) {
        const size = await src.size();
        return {
          size,
          async *read(start, end) {
            for (let off = start; off < end; off += 1 << 20) yield await src.readAt(off, Math.min(1 << 20, end - off));
          },
          close: closeAll,
        };
      }
      const ring = await loadKeyringDir(this.o.keyringDir);
      const reader = await EncryptedFileReader.fromSource(src, ring);
      const info = await reader.info();
      return { size: info.size, read: (start, end) => reader.stream(start, end), close: closeAll };
    } catch (e) {
      await closeAll();
      throw e;
    }
  }
}
