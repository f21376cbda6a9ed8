/**
 * Following a PacketCapture until it is done: a watch on the one object (re-established when the
 * server ends it), with a fresh GET after every interruption, so no update is lost and nothing
 * polls while the watch is healthy.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PacketCapture } from '../api/packetcapture.js';
import { CliError } from './errors.js';
import { capturesPath, KubeError, type KubeClient } from './kube.js';

export function isDone(pc: PacketCapture): boolean {
  const p = pc.status?.progress;
  return p === 'finished' || p === 'failure';
}

export class CaptureDeletedError extends CliError {}

/**
 * Calls `onUpdate` with every new state of the capture until `until(pc)` holds (default: finished
 * or failed) or `signal` aborts; returns the last state seen.
 */
export async function followCapture(
  client: KubeClient,
  namespace: string,
  name: string,
  onUpdate: (pc: PacketCapture) => void,
  signal: AbortSignal,
  until: (pc: PacketCapture) => boolean = isDone,
): Promise<PacketCapture> {
  let pc = await client.getCapture(namespace, name);
  onUpdate(pc);
  let failures = 0;
  while (!until(pc) && !signal.aborted) {
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const rv = pc.metadata.resourceVersion ?? '';
      const q = `?watch=1&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}&resourceVersion=${encodeURIComponent(rv)}&timeoutSeconds=30&allowWatchBookmarks=false`;
      let done = false;
      await client.watch<PacketCapture>(
        `${capturesPath(namespace)}${q}`,
        (ev) => {
          if (ev.type === 'DELETED') throw new CaptureDeletedError(`packetcapture "${name}" in namespace "${namespace}" was deleted while it was being followed`);
          if (ev.type === 'ERROR') return true; // e.g. 410 Gone: re-get below
          if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') return false;
          pc = ev.object;
          onUpdate(pc);
          done = until(pc);
          return done;
        },
        ac.signal,
      );
      failures = 0;
      if (done) break;
    } catch (e) {
      if (e instanceof CaptureDeletedError) throw e;
      if ((e as Error).name === 'AbortError' || signal.aborted) break;
      failures++;
      if (e instanceof KubeError && e.status !== 0 && e.status !== 410 && e.status < 500) throw e;
      if (failures > 20) throw e;
      await sleep(Math.min(5000, 250 * 2 ** Math.min(failures, 5)), undefined, { signal }).catch(() => undefined);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (signal.aborted) break;
    try {
      pc = await client.getCapture(namespace, name);
      onUpdate(pc);
    } catch (e) {
      if (e instanceof KubeError && e.status === 404 && e.reason === 'NotFound') {
        throw new CaptureDeletedError(`packetcapture "${name}" in namespace "${namespace}" was deleted while it was being followed`);
      }
      if (!(e instanceof KubeError && e.status === 0)) throw e;
      failures++;
      if (failures > 20) throw e;
    }
  }
  return pc;
}

export type CaptureEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * `get --watch`: lists the captures of `namespace` (all when undefined; only `name` when given),
 * calls `onEvent` with ADDED for each existing one, then with every change until `signal` aborts.
 * The watch is re-established when the server ends it; after a 410 Gone or a dropped connection the
 * collection is listed again and the differences are reported, so no change is lost.
 */
export async function watchCaptures(
  client: KubeClient,
  namespace: string | undefined,
  name: string | undefined,
  onEvent: (type: CaptureEventType, pc: PacketCapture) => void,
  signal: AbortSignal,
  /** Called once after the first list with the number of captures found. */
  onListed?: (count: number) => void,
): Promise<void> {
  const key = (pc: PacketCapture): string => `${pc.metadata.namespace ?? ''}/${pc.metadata.name ?? ''}`;
  const known = new Map<string, PacketCapture>();
  const sortKey = (a: PacketCapture, b: PacketCapture): number => key(a).localeCompare(key(b));
  const list = async (initial: boolean): Promise<string> => {
    let items: PacketCapture[];
    let rv: string | undefined;
    if (name !== undefined) {
      const l = await client.json<{ items: PacketCapture[]; metadata?: { resourceVersion?: string } }>(
        'GET',
        `${capturesPath(namespace)}?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`,
      );
      [items, rv] = [l.items, l.metadata?.resourceVersion];
      if (initial && items.length === 0) throw new KubeError(`packetcapture "${name}" not found in namespace "${namespace ?? ''}"`, 404, 'NotFound');
    } else ({ items, resourceVersion: rv } = await client.listCaptures(namespace));
    const seen = new Set<string>();
    for (const pc of items.sort(sortKey)) {
      seen.add(key(pc));
      const old = known.get(key(pc));
      known.set(key(pc), pc);
      if (!old) onEvent('ADDED', pc);
      else if (old.metadata.resourceVersion !== pc.metadata.resourceVersion) onEvent('MODIFIED', pc);
    }
    for (const [k, pc] of [...known]) {
      if (!seen.has(k)) {
        known.delete(k);
        onEvent('DELETED', pc);
      }
    }
    if (initial) onListed?.(items.length);
    return rv ?? '';
  };

  let rv = await list(true);
  let failures = 0;
  let relist = false;
  while (!signal.aborted) {
    if (relist) {
      try {
        rv = await list(false);
        relist = false;
      } catch (e) {
        if ((e as Error).name === 'AbortError' || signal.aborted) return;
        if (e instanceof KubeError && e.status !== 0 && e.status < 500) throw e;
        if (++failures > 20) throw e;
        await sleep(Math.min(5000, 250 * 2 ** Math.min(failures, 5)), undefined, { signal }).catch(() => undefined);
        continue;
      }
    }
    const q = [
      'watch=1',
      `resourceVersion=${encodeURIComponent(rv)}`,
      'allowWatchBookmarks=true',
      'timeoutSeconds=300',
      ...(name !== undefined ? [`fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`] : []),
    ].join('&');
    try {
      await client.watch<PacketCapture>(
        `${capturesPath(namespace)}?${q}`,
        (ev) => {
          if (ev.type === 'ERROR') {
            const st = ev.object as unknown as { code?: number; message?: string };
            if (st.code === 410) {
              relist = true;
              return true;
            }
            throw new KubeError(st.message ?? 'watch error', st.code ?? 500);
          }
          const pc = ev.object;
          if (pc.metadata.resourceVersion) rv = pc.metadata.resourceVersion;
          if (ev.type === 'BOOKMARK') return false;
          pc.apiVersion ??= 'pcapper.dev/v1alpha1';
          pc.kind ??= 'PacketCapture';
          if (ev.type === 'DELETED') known.delete(key(pc));
          else known.set(key(pc), pc);
          onEvent(ev.type, pc);
          return false;
        },
        signal,
      );
      failures = 0;
    } catch (e) {
      if ((e as Error).name === 'AbortError' || signal.aborted) return;
      if (e instanceof KubeError && e.status === 410) relist = true;
      else if (e instanceof KubeError && e.status !== 0 && e.status < 500) throw e;
      else {
        relist = true;
        if (++failures > 20) throw e;
        await sleep(Math.min(5000, 250 * 2 ** Math.min(failures, 5)), undefined, { signal }).catch(() => undefined);
      }
    }
  }
}
