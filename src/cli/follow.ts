/**
 * Following PacketCaptures with the shared informer (src/k8s/informer.ts: list, watch with
 * bookmarks, re-list after 410 Gone or an interruption, reporting the differences), so the CLI has
 * no watch loop of its own. What is CLI-specific here: errors that retrying cannot fix (403, 404
 * of the CRD, 401) end the command with one line instead of being retried forever, and so do
 * too many transport failures in a row.
 */
import type { PacketCapture } from '../api/packetcapture.js';
import { Informer, type Change, type KubeObject } from '../k8s/informer.js';
import { KubeApiError } from '../k8s/client.js';
import { CliError } from './errors.js';
import { capturesPath, KubeError, type KubeClient } from './kube.js';

export function isDone(pc: PacketCapture): boolean {
  const p = pc.status?.progress;
  return p === 'finished' || p === 'failure';
}

export class CaptureDeletedError extends CliError {}

type PC = PacketCapture & KubeObject;

/** Errors after which the informer keeps retrying but the CLI gives up (one line to the user). */
const MAX_FAILURES = 20;

function fatal(e: unknown, failures: number): boolean {
  if (e instanceof KubeApiError && e.status !== 0 && e.status !== 410 && e.status !== 429 && e.status < 500) return true;
  return failures > MAX_FAILURES;
}

/**
 * Runs an informer on PacketCaptures (one namespace or all; one name via a field selector), calls
 * `onChange` for every change, until `stop()` is called from a callback, `signal` aborts, or an
 * error that retrying cannot fix (rejects with a one-line KubeError).
 */
function runInformer(
  client: KubeClient,
  namespace: string | undefined,
  name: string | undefined,
  onChange: (c: Change<PC>, stop: () => void) => void,
  signal: AbortSignal,
  onSynced?: (inf: Informer<PC>, stop: () => void) => void,
): Promise<void> {
  const path = capturesPath(namespace);
  const inf = new Informer<PC>({
    kc: client.shared,
    path,
    ...(name !== undefined ? { fieldSelector: `metadata.name=${name}` } : {}),
    backoff: { initialMs: 250, maxMs: 5000 },
  });
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    let failures = 0;
    const finish = (err?: unknown): void => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      void inf.stop().then(() => (err === undefined ? resolve() : reject(err instanceof Error ? err : new Error('watch failed', { cause: err }))));
    };
    const stop = (): void => finish();
    const onAbort = (): void => finish();
    signal.addEventListener('abort', onAbort, { once: true });
    inf.onChange((c) => {
      failures = 0;
      if (finished) return;
      try {
        onChange(c, stop);
      } catch (e) {
        finish(e);
      }
    });
    inf.onError((e) => {
      if (fatal(e, ++failures)) finish(client.translate(e, path));
    });
    inf.start();
    void inf.waitForSync().then(() => {
      if (finished) return;
      try {
        onSynced?.(inf, stop);
      } catch (e) {
        finish(e);
      }
    });
    if (signal.aborted) finish();
  });
}

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
  // a GET first: a capture that does not exist is a clear "not found", not an empty watch
  let pc = await client.getCapture(namespace, name);
  onUpdate(pc);
  if (until(pc) || signal.aborted) return pc;
  const gone = (): CaptureDeletedError => new CaptureDeletedError(`packetcapture "${name}" in namespace "${namespace}" was deleted while it was being followed`);
  await runInformer(
    client,
    namespace,
    name,
    (c, stop) => {
      if (c.type === 'DELETED') throw gone();
      // the informer's first list repeats the object we already have
      if (c.object.metadata.resourceVersion === pc.metadata.resourceVersion) return;
      pc = c.object;
      onUpdate(pc);
      if (until(pc)) stop();
    },
    signal,
    (inf) => {
      if (inf.size === 0) throw gone();
    },
  );
  return pc;
}

export type CaptureEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * `get --watch`: lists the captures of `namespace` (all when undefined; only `name` when given),
 * calls `onEvent` with ADDED for each existing one, then with every change until `signal` aborts.
 * After a 410 Gone or a dropped connection the informer lists again and reports the differences,
 * so no change is lost.
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
  await runInformer(
    client,
    namespace,
    name,
    (c) => {
      const pc = c.object;
      pc.apiVersion ??= `pcapper.dev/v1alpha1`;
      pc.kind ??= 'PacketCapture';
      onEvent(c.type, pc);
    },
    signal,
    (inf) => {
      if (name !== undefined && inf.size === 0) throw new KubeError(`packetcapture "${name}" not found in namespace "${namespace ?? ''}"`, 404, 'NotFound');
      onListed?.(inf.size);
    },
  );
}
