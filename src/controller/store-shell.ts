/**
 * The controller's side effects on stores (docs/storage.md sections 1 and 8): probe each
 * PacketCaptureStore (a signed ListObjectsV2 of at most one key: unlike HEAD bucket, its error
 * answer has a body, so the Ready reason is the store's own code such as InvalidAccessKeyId or
 * NoSuchBucket) and apply its Ready condition; delete a deleted capture's objects by prefix and
 * record StoreCleanedUp. Decisions are in stores.ts.
 */
import { CONDITIONS, type PacketCapture } from '../api/packetcapture.js';
import { GROUP, VERSION } from '../api/packetcapture.js';
import { STORE_KIND, STORE_PLURAL, type PacketCaptureStore } from '../api/packetcapturestore.js';
import { CONTENT_TYPE, KubeClient, packetCapturePath } from '../k8s/client.js';
import { StoreError } from '../storage/errors.js';
import { capturePrefix } from '../storage/keys.js';
import { deletePrefix } from '../storage/prefix.js';
import { condition } from './aggregate.js';
import { storeReady, type ProbeResult } from './stores.js';
import { withStoreClient, type StoreClientOptions } from './store-client.js';

/** Field manager of the store-side conditions (StoreCleanedUp on captures, Ready on stores). */
export const STORE_FIELD_MANAGER = 'pcapper-controller-store';

export interface StoreShellOptions extends StoreClientOptions {
  /** Re-probe every store this often (default 60 s). */
  readonly probeIntervalMs?: number;
  /** First retry of a refused cleanup after this long, doubling up to 5 min (default 2 s). */
  readonly cleanupRetryBaseMs?: number;
}

/** What a failed store call says: the store's code when it gave one, and its message. */
export function probeFailure(e: unknown): ProbeResult {
  if (e instanceof StoreError) return { ok: false, ...(e.code && !/^E[A-Z]+$/.test(e.code) ? { code: e.code } : {}), message: e.message };
  const err = e as Error & { name?: string };
  if (err?.name === 'CredentialsError') return { ok: false, code: 'CredentialsMissing', message: err.message };
  return { ok: false, message: err instanceof Error ? err.message : String(e) };
}

export async function probeStore(store: PacketCaptureStore, o: StoreClientOptions): Promise<ProbeResult> {
  try {
    await withStoreClient(store, o, (c) => c.call({ method: 'GET', query: [['list-type', '2'], ['max-keys', '1']] }, `probe bucket ${store.spec.s3.bucket}`));
    return { ok: true };
  } catch (e) {
    return probeFailure(e);
  }
}

const storePath = (name: string, sub = ''): string => `/apis/${GROUP}/${VERSION}/${STORE_PLURAL}/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;

/** Probes a store and applies its Ready condition. */
export async function probeAndRecord(client: KubeClient, store: PacketCaptureStore, all: readonly PacketCaptureStore[], o: StoreClientOptions, now: Date): Promise<ProbeResult> {
  const probe = await probeStore(store, o);
  const r = storeReady(store, all, probe);
  const nowIso = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const c = condition(store.status?.conditions, 'Ready', r.status, r.reason, r.message, nowIso, store.metadata.generation);
  await client.request({
    method: 'PATCH',
    path: storePath(store.metadata.name ?? '', 'status'),
    query: { fieldManager: STORE_FIELD_MANAGER, force: 'true' },
    contentType: CONTENT_TYPE.apply,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: STORE_KIND,
      metadata: { name: store.metadata.name },
      status: { observedGeneration: store.metadata.generation, lastProbeTime: nowIso, conditions: [c] },
    },
  });
  return probe;
}

/** Deletes a capture's objects; applies StoreCleanedUp True (with the count) or False (with the store's error). */
export async function cleanupCaptureObjects(
  client: KubeClient,
  pc: PacketCapture,
  store: PacketCaptureStore,
  o: StoreClientOptions,
  now: Date,
): Promise<{ ok: true; deleted: number } | { ok: false; message: string }> {
  const ns = pc.metadata.namespace ?? '';
  const name = pc.metadata.name ?? '';
  const prefix = capturePrefix(store.spec.s3.prefix ?? '', ns, name);
  let result: { ok: true; deleted: number } | { ok: false; message: string };
  try {
    const deleted = await withStoreClient(store, o, (c) => deletePrefix(c, prefix));
    result = { ok: true, deleted };
  } catch (e) {
    result = { ok: false, message: `store "${store.metadata.name}" refused to delete ${prefix}: ${e instanceof Error ? e.message : String(e)}; retrying with backoff (to give up, remove the finalizer by hand: the objects are then orphaned)` };
  }
  const nowIso = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const c = result.ok
    ? condition(pc.status?.conditions, CONDITIONS.StoreCleanedUp, 'True', 'ObjectsDeleted', `${result.deleted} object(s) under ${prefix} deleted from store "${store.metadata.name}"`, nowIso, pc.metadata.generation)
    : condition(pc.status?.conditions, CONDITIONS.StoreCleanedUp, 'False', 'StoreRefused', result.message, nowIso, pc.metadata.generation);
  await client.request({
    method: 'PATCH',
    path: packetCapturePath(ns, name, 'status'),
    query: { fieldManager: STORE_FIELD_MANAGER, force: 'true' },
    contentType: CONTENT_TYPE.apply,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'PacketCapture', metadata: { name, namespace: ns }, status: { conditions: [c] } },
  });
  return result;
}

export const storesPath = (): string => `/apis/${GROUP}/${VERSION}/${STORE_PLURAL}`;
