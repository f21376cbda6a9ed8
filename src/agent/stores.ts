/**
 * Which object store a capture's files go to, as the agent sees it (docs/storage.md section 1):
 * `spec.store` names a cluster-scoped PacketCaptureStore (pcapper.dev/v1alpha1,
 * packetcapturestores); without it, the store marked `default: true` (exactly one), else none.
 * The store's S3 settings come from the object; its credentials from the mounted Secret
 * pcapper-store-credentials (PCAPPER_STORE_CREDENTIALS_DIR), re-read before every upload attempt
 * (src/storage/credentials.ts), never through the API: the agent has no RBAC on Secrets.
 *
 * Whether the capture's namespace may use the store is the controller's decision (it refuses the
 * capture with StoreNotAllowed before any target is planned); the agent does not repeat it.
 */
import type { CredentialEntries } from '../storage/credentials.js';

/** A store's settings, resolved from its PacketCaptureStore (credentials: entry names, not values). */
export interface StoreConfigRef {
  readonly name: string;
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly pathStyle: boolean;
  readonly caBundle: string | undefined;
  readonly credentials: CredentialEntries;
  /** Bytes per part (S3 minimum 5 MiB); undefined: the uploader's default (16 MiB). */
  readonly partSize: number | undefined;
  /** Parts in flight per file. */
  readonly concurrency: number | undefined;
}

export interface StoreResolver {
  /** The store named `name` (undefined: no such store, or it is being deleted). */
  resolve(name: string): StoreConfigRef | undefined;
  /** The default store's name, if exactly one store is the default. */
  defaultStore(): string | undefined;
}

/** The minimal shape of a PacketCaptureStore object the agent reads. */
export interface StoreObject {
  metadata?: { name?: string; deletionTimestamp?: string | Date | undefined };
  spec?: {
    s3?: {
      endpoint?: string;
      region?: string;
      bucket?: string;
      prefix?: string;
      pathStyle?: boolean;
      caBundle?: string;
      credentials?: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string };
    };
    upload?: { partSize?: string | number; concurrency?: number };
    default?: boolean;
  };
}

const SIZE = /^([0-9]+)(k|M|G|Ki|Mi|Gi)?$/;
const MULT: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** "16Mi" / 16777216 -> bytes; undefined when absent or malformed (the CRD refuses malformed ones). */
export function parsePartSize(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  const m = SIZE.exec(v.trim());
  return m ? Number(m[1]) * (MULT[m[2] ?? ''] ?? 1) : undefined;
}

/** A StoreObject -> StoreConfigRef (undefined when a required field is missing). Pure. */
export function storeConfigOf(o: StoreObject): StoreConfigRef | undefined {
  const s3 = o.spec?.s3;
  const name = o.metadata?.name;
  if (!name || !s3?.endpoint || !s3.bucket || !s3.credentials?.accessKeyId || !s3.credentials.secretAccessKey) return undefined;
  return {
    name,
    endpoint: s3.endpoint,
    region: s3.region ?? 'us-east-1',
    bucket: s3.bucket,
    prefix: s3.prefix ?? '',
    pathStyle: s3.pathStyle ?? false,
    caBundle: s3.caBundle ? s3.caBundle : undefined,
    credentials: {
      accessKeyId: s3.credentials.accessKeyId,
      secretAccessKey: s3.credentials.secretAccessKey,
      ...(s3.credentials.sessionToken ? { sessionToken: s3.credentials.sessionToken } : {}),
    },
    partSize: parsePartSize(o.spec?.upload?.partSize),
    concurrency: o.spec?.upload?.concurrency,
  };
}

/** A resolver over a cache of PacketCaptureStore objects (an informer in the agent, a list in tests). */
export function cacheResolver(list: () => readonly StoreObject[]): StoreResolver {
  return {
    resolve: (name) => {
      const o = list().find((x) => x.metadata?.name === name && !x.metadata.deletionTimestamp);
      return o ? storeConfigOf(o) : undefined;
    },
    defaultStore: () => {
      const d = list().filter((x) => x.spec?.default === true && !x.metadata?.deletionTimestamp);
      return d.length === 1 ? d[0]?.metadata?.name : undefined;
    },
  };
}

/** The store a capture uses: spec.store, else the one default store, else none. Pure. */
export function storeOfCapture(spec: { store?: string | undefined } | undefined, resolver: StoreResolver): string | undefined {
  return spec?.store ?? resolver.defaultStore();
}

export const STORE_API_PATH = '/apis/pcapper.dev/v1alpha1/packetcapturestores';
