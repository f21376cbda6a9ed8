/**
 * Stores in the controller's decisions (pure; docs/storage.md sections 1, 4 and 8): which
 * PacketCaptureStore a capture uses and whether its namespace may, the capture's `Uploaded`
 * condition from the agents' per-file upload states, the store's `Ready` condition from a probe.
 */
import { CONDITIONS, type Condition, type PacketCapture } from '../api/packetcapture.js';
import { STORE_READY_REASONS, type PacketCaptureStore } from '../api/packetcapturestore.js';
import { matchesSelector } from '../k8s/selector.js';
import { uploadedCondition, type FileUpload, type UploadState } from '../storage/status.js';
import { condition } from './aggregate.js';

/** What the store decisions look up; the shell backs it with informer caches. */
export interface StoreWorld {
  store(name: string): PacketCaptureStore | undefined;
  stores(): readonly PacketCaptureStore[];
  /** Labels of a namespace, undefined when the namespace is not (yet) known. */
  namespaceLabels(namespace: string): Record<string, string> | undefined;
}

export type StoreResolution =
  | { readonly kind: 'none' }
  | { readonly kind: 'store'; readonly store: PacketCaptureStore }
  | { readonly kind: 'refused'; readonly reason: 'StoreNotFound' | 'StoreNotAllowed'; readonly message: string };

/** Default stores, by name (more than one is an admin's mistake: see defaultStore()). */
export function defaultStores(stores: readonly PacketCaptureStore[]): PacketCaptureStore[] {
  return stores.filter((s) => s.spec.default === true && !s.metadata.deletionTimestamp).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
}

/** Whether captures in `namespace` may name `store`. The system namespace always may. */
export function namespaceAllowed(store: PacketCaptureStore, namespace: string, labels: Record<string, string> | undefined, systemNamespace: string): boolean {
  if (namespace === systemNamespace) return true;
  const a = store.spec.allowedNamespaces;
  if (!a) return false;
  if (a.names?.includes(namespace)) return true;
  const sel = a.selector;
  const nonEmpty = !!sel && (Object.keys(sel.matchLabels ?? {}).length > 0 || (sel.matchExpressions?.length ?? 0) > 0);
  return nonEmpty && labels !== undefined && matchesSelector(sel, labels);
}

/**
 * The store a capture uses: `spec.store`, else the one default store (a default that does not
 * allow the namespace is simply not used: files stay on the nodes), else none.
 */
export function resolveStore(pc: PacketCapture, world: StoreWorld, systemNamespace: string): StoreResolution {
  const ns = pc.metadata.namespace ?? '';
  const name = pc.spec.store;
  if (name !== undefined) {
    const st = world.store(name);
    if (!st || st.metadata.deletionTimestamp) {
      const known = world.stores().filter((s) => namespaceAllowed(s, ns, world.namespaceLabels(ns), systemNamespace)).map((s) => s.metadata.name ?? '');
      return {
        kind: 'refused',
        reason: 'StoreNotFound',
        message: `PacketCaptureStore "${name}" does not exist${known.length ? `; stores this namespace may use: ${known.join(', ')}` : '; no store allows this namespace (kubectl get pcapstore lists them)'}: fix spec.store, or ask the cluster admin to create the store`,
      };
    }
    if (!namespaceAllowed(st, ns, world.namespaceLabels(ns), systemNamespace)) {
      return {
        kind: 'refused',
        reason: 'StoreNotAllowed',
        message: `PacketCaptureStore "${name}" does not allow namespace "${ns}": the cluster admin must add "${ns}" to its spec.allowedNamespaces (names or selector), or name another store`,
      };
    }
    return { kind: 'store', store: st };
  }
  const defaults = defaultStores(world.stores());
  const d = defaults[0];
  if (defaults.length === 1 && d && namespaceAllowed(d, ns, world.namespaceLabels(ns), systemNamespace)) return { kind: 'store', store: d };
  return { kind: 'none' };
}

/** The store whose objects a deleted capture may have: spec.store, else the single default store. */
export function storeOfDeleted(pc: PacketCapture, world: StoreWorld): PacketCaptureStore | undefined {
  if (pc.spec.store !== undefined) return world.store(pc.spec.store);
  const defaults = defaultStores(world.stores());
  return defaults.length === 1 ? defaults[0] : undefined;
}

/** Every file of the capture with its upload state, as the agents reported it. */
export function uploadFiles(pc: PacketCapture): FileUpload[] {
  const out: FileUpload[] = [];
  for (const t of pc.status?.targets ?? []) {
    for (const f of t.files ?? []) {
      const u = f.upload;
      const state: UploadState = u?.state ?? 'Pending';
      out.push({ node: t.node ?? '', target: t.name, file: f.name, state, ...(u?.reason ? { reason: u.reason } : {}), ...(u?.message ? { message: u.message } : {}) });
    }
  }
  return out;
}

/** The `Uploaded` condition of a capture with a store (undefined without one). */
export function uploadedFor(pc: PacketCapture, hasStore: boolean, finished: boolean, nodeExists: (n: string) => boolean, nowIso: string): Condition | undefined {
  const files = uploadFiles(pc);
  const goneNodes = [...new Set(files.map((f) => f.node))].filter((n) => n !== '' && !nodeExists(n));
  const c = uploadedCondition({ hasStore, finished, files, goneNodes });
  if (!c) return undefined;
  return condition(pc.status?.conditions, CONDITIONS.Uploaded, c.status, c.reason, c.message, nowIso, pc.metadata.generation);
}

/** The result of one probe of a store (signed list of at most one key of its bucket). */
export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly code?: string; readonly message: string };

/** The store's Ready condition from its probe and the default-store check. */
export function storeReady(store: PacketCaptureStore, all: readonly PacketCaptureStore[], probe: ProbeResult): { status: 'True' | 'False'; reason: string; message: string } {
  const defaults = defaultStores(all);
  if (store.spec.default === true && defaults.length > 1) {
    return {
      status: 'False',
      reason: STORE_READY_REASONS.MultipleDefaults,
      message: `${defaults.length} stores are marked default (${defaults.map((s) => s.metadata.name).join(', ')}): set spec.default on one of them only; until then captures without spec.store use none`,
    };
  }
  if (probe.ok) return { status: 'True', reason: STORE_READY_REASONS.BucketReachable, message: `bucket "${store.spec.s3.bucket}" at ${store.spec.s3.endpoint} answered a signed request` };
  return { status: 'False', reason: probe.code && /^[A-Za-z][A-Za-z0-9]*$/.test(probe.code) ? probe.code : STORE_READY_REASONS.Unreachable, message: probe.message };
}
