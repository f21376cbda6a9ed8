/**
 * A list-watch informer with a local cache that never gives up: it lists (paginated), then
 * watches from the list's resourceVersion with bookmarks; when the watch ends normally it
 * re-watches, on 410 Gone it re-lists, and on ANY other error (transport, 5xx, 403, malformed
 * data) it retries with capped exponential backoff — client-node's own informer stops after
 * errors other than 410, which is why this wrapper exists. The clock is injectable.
 *
 * The cache functions (applyList, applyEvent) are pure module functions, exported for tests.
 */
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from '../telemetry/log.js';
import { silentLogger } from '../telemetry/log.js';
import { backoffDelay, sleep, systemClock, type Clock } from './clock.js';
import { clientFor, KubeApiError, type KubeClient, type KubeList, type WatchEvent } from './client.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    [k: string]: unknown;
  };
}

/** Cache key: "namespace/name" for namespaced objects, "name" otherwise. */
export function objectKey(o: KubeObject): string {
  const m = o.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name ?? ''}` : (m.name ?? '');
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface Change<T> {
  type: ChangeType;
  key: string;
  object: T;
  /** The previous cached object for MODIFIED and DELETED. */
  old?: T;
}

/** Replaces the cache content with a fresh list; returns the changes (pure apart from `cache`). */
export function applyList<T extends KubeObject>(cache: Map<string, T>, items: readonly T[]): Change<T>[] {
  const changes: Change<T>[] = [];
  const seen = new Set<string>();
  for (const obj of items) {
    const key = objectKey(obj);
    seen.add(key);
    const old = cache.get(key);
    cache.set(key, obj);
    if (!old) changes.push({ type: 'ADDED', key, object: obj });
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) changes.push({ type: 'MODIFIED', key, object: obj, old });
  }
  for (const [key, old] of cache) {
    if (!seen.has(key)) {
      cache.delete(key);
      changes.push({ type: 'DELETED', key, object: old, old });
    }
  }
  return changes;
}

/** Applies one watch event to the cache; returns the change (or undefined for no-ops). */
export function applyEvent<T extends KubeObject>(cache: Map<string, T>, type: ChangeType, obj: T): Change<T> | undefined {
  const key = objectKey(obj);
  const old = cache.get(key);
  if (type === 'DELETED') {
    if (!old) return undefined;
    cache.delete(key);
    return { type, key, object: obj, old };
  }
  cache.set(key, obj);
  if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion) return undefined;
  return old ? { type: 'MODIFIED', key, object: obj, old } : { type: 'ADDED', key, object: obj };
}

export interface InformerOptions {
  /** A KubeConfig (its shared client is used) or a KubeClient. */
  kc: k8s.KubeConfig | KubeClient;
  /** Collection path, e.g. /api/v1/pods, /api/v1/namespaces/x/pods, /apis/apps/v1/deployments. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  clock?: Clock;
  log?: Logger;
  /** Backoff after errors: initial and maximum delay (default 200 ms .. 30 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** List page size (default 500). */
  pageSize?: number;
  /** Server-side watch timeout, after which the watch is re-opened (default 300 s). */
  watchTimeoutSeconds?: number;
  /**
   * Trims each object before it is cached (like client-go's SetTransform), e.g. keep only the
   * fields a controller reads: big caches (thousands of pods) then cost a fraction of the memory.
   */
  transform?: (obj: KubeObject) => KubeObject;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly listeners: ((c: Change<T>) => void)[] = [];
  private readonly errorListeners: ((e: unknown) => void)[] = [];
  private readonly client: KubeClient;
  private readonly clock: Clock;
  private readonly log: Logger;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private resourceVersion = '';
  /** Number of (re)lists and of errors, for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, errors: 0 };

  constructor(private readonly opts: InformerOptions) {
    this.client = clientFor(opts.kc);
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.log ?? silentLogger).child({ informer: opts.path });
  }

  /** The cached object by key ("namespace/name" or "name"). */
  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(filter?: (o: T) => boolean): T[] {
    const out: T[] = [];
    for (const o of this.cache.values()) if (!filter || filter(o)) out.push(o);
    return out;
  }

  /**
   * Puts an object the caller just received from a write into the cache (a "mutation cache"), so
   * the next reconcile does not act on a stale copy before the watch delivers it. Ignored when
   * the cached copy is newer. Resource versions are compared as integers, which holds for etcd.
   */
  mutate(obj: T): void {
    const key = objectKey(obj);
    const cur = this.cache.get(key);
    const a = Number(cur?.metadata?.resourceVersion ?? 0);
    const b = Number(obj.metadata?.resourceVersion ?? 0);
    if (cur && Number.isFinite(a) && Number.isFinite(b) && b > a) this.cache.set(key, obj);
  }

  get size(): number {
    return this.cache.size;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Registers a change listener; returns a function that removes it. */
  onChange(cb: (c: Change<T>) => void): () => void {
    this.listeners.push(cb);
    return () => {
      const i = this.listeners.indexOf(cb);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Called on every list/watch error (the informer retries by itself). */
  onError(cb: (e: unknown) => void): void {
    this.errorListeners.push(cb);
  }

  /** Starts listing and watching in the background. */
  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  /** Resolves once the first list has been applied to the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.abort?.abort(new Error('informer stopped'));
    const l = this.loop;
    this.loop = undefined;
    await l;
  }

  private emit(changes: Change<T>[]): void {
    for (const c of changes)
      for (const l of [...this.listeners]) {
        try {
          l(c);
        } catch (e) {
          this.log.error('change listener threw', { err: e });
        }
      }
  }

  private query(): Record<string, string | undefined> {
    return { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page: KubeList<T> = await this.client.request<KubeList<T>>({
        path: this.opts.path,
        query: { ...this.query(), limit: this.opts.pageSize ?? 500, continue: cont },
        signal,
      });
      const tf = this.opts.transform;
      for (const i of page.items) items.push(tf ? (tf(i) as T) : i);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? '';
    } while (cont);
    this.stats.lists++;
    this.resourceVersion = rv;
    const changes = applyList(this.cache, items);
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    this.emit(changes);
  }

  private async run(signal: AbortSignal): Promise<void> {
    const backoff = this.opts.backoff ?? { initialMs: 200, maxMs: 30_000 };
    let attempt = 0;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist(signal);
          needList = false;
        }
        this.stats.watches++;
        let gotEvent = false;
        await this.client.watch<T & { code?: number; message?: string }>(
          this.opts.path,
          { ...this.query(), resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(this.opts.watchTimeoutSeconds ?? 300) },
          (ev: WatchEvent<T & { code?: number; message?: string }>) => {
            gotEvent = true;
            if (ev.type === 'ERROR') {
              const st = ev.object as { code?: number; message?: string; reason?: string };
              throw new KubeApiError({ status: st.code ?? 500, reason: st.reason, message: st.message ?? 'watch error', method: 'WATCH', path: this.opts.path });
            }
            const rv = ev.object.metadata?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            if (ev.type === 'BOOKMARK') return;
            const c = applyEvent(this.cache, ev.type, (this.opts.transform ? this.opts.transform(ev.object) : ev.object) as T);
            if (c) this.emit([c]);
          },
          signal,
          // bookmarks arrive about once a minute; the server ends the watch after timeoutSeconds
          ((this.opts.watchTimeoutSeconds ?? 300) + 90) * 1000,
        );
        if (gotEvent || !needList) attempt = 0;
      } catch (e) {
        if (signal.aborted) break;
        this.stats.errors++;
        for (const l of this.errorListeners) l(e);
        if (e instanceof KubeApiError && e.status === 410) {
          // resourceVersion too old: re-list right away (no backoff: this is normal)
          this.log.debug('watch expired, re-listing');
          needList = true;
          continue;
        }
        // any other error: back off, then re-list (the cache may have missed events)
        needList = true;
        const delay = backoffDelay(attempt++, backoff.initialMs, backoff.maxMs);
        this.log.warn('list/watch failed, retrying', { err: e, delayMs: delay });
        try {
          await sleep(this.clock, delay, signal);
        } catch {
          break;
        }
      }
    }
  }
}

/** Starts several informers and waits until all have synced. */
export async function startAndSync(informers: Informer<KubeObject>[]): Promise<void> {
  for (const i of informers) i.start();
  await Promise.all(informers.map((i) => i.waitForSync()));
}
