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
