/**
 * An S3Client for a PacketCaptureStore, with the credentials read from the mounted Secret
 * directory (pcapper-store-credentials; never the Secrets API) on every call, so a rotated
 * Secret is used without a restart. Shared by the controller (probe, deletes) and the pcapper
 * server (reads). `resolveEndpoint` maps the store's endpoint to a dialable URL: identity in a
 * cluster; the tests map an in-cluster Service name to the harness S3 server (no cluster DNS there).
 */
import { S3Client, type RetryPolicy, type StoreConfig } from '../storage/client.js';
import { loadCredentials } from '../storage/credentials.js';
import type { PacketCaptureStore } from '../api/packetcapturestore.js';

export interface StoreClientOptions {
  /** Directory of the mounted Secret pcapper-store-credentials (one file per entry). */
  readonly credentialsDir: string;
  readonly resolveEndpoint?: (endpoint: string) => string;
  readonly retry?: RetryPolicy;
  readonly requestTimeoutMs?: number;
}

/** Builds a client for one operation; the caller closes it. Throws CredentialsError when an entry is missing. */
export async function storeClient(store: PacketCaptureStore, o: StoreClientOptions): Promise<S3Client> {
  const s3 = store.spec.s3;
  const credentials = await loadCredentials(o.credentialsDir, {
    accessKeyId: s3.credentials.accessKeyId,
    secretAccessKey: s3.credentials.secretAccessKey,
    ...(s3.credentials.sessionToken ? { sessionToken: s3.credentials.sessionToken } : {}),
  });
  const endpoint = (o.resolveEndpoint ?? ((e: string) => e))(s3.endpoint.replace(/\/$/, ''));
  const cfg: StoreConfig = {
    endpoint,
    region: s3.region,
    bucket: s3.bucket,
    pathStyle: s3.pathStyle ?? false,
    credentials,
    ...(o.retry ? { retry: o.retry } : {}),
    ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    ...(s3.caBundle ? { ca: s3.caBundle } : {}),
  };
  return new S3Client(cfg);
}

/** Runs `f` with a fresh client and closes it. */
export async function withStoreClient<T>(store: PacketCaptureStore, o: StoreClientOptions, f: (c: S3Client) => Promise<T>): Promise<T> {
  const c = await storeClient(store, o);
  try {
    return await f(c);
  } finally {
    c.close();
  }
}
