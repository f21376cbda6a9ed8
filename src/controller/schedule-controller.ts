/**
 * The PacketCaptureSchedule controller's thin shell: informers on schedules and on the captures
 * they own (label pcapper.dev/schedule) feed a work queue of schedule keys; each key is decided by
 * the pure decideSchedule() and carried out: deletes (Replace, history limits), at most one create,
 * one status apply, Events, and a timer for the next run.
 *
 * `clock` is the schedule clock: decideSchedule's `now` and the next-run timers. Tests inject a
 * FakeClock and advance it (no waiting a minute); the informers' backoff and the queue's retry
 * backoff use real time, so a fake schedule clock never stalls the plumbing.
 *
 * Ownership: each capture gets an ownerReference (controller: true, blockOwnerDeletion: true) to
 * its schedule, so the garbage collector deletes the captures (and, through their finalizer, their
 * files) when the schedule is deleted, as it deletes a CronJob's Jobs.
 */
import { API_VERSION, CONTROLLER_FIELD_MANAGER, KIND, type PacketCapture } from '../api/packetcapture.js';
import { ANNOTATION_SCHEDULED_AT, LABEL_SCHEDULE, SCHEDULE_KIND, SCHEDULE_PLURAL, type PacketCaptureSchedule } from '../api/packetcaptureschedule.js';
import { systemClock, type Clock, type Timer } from '../k8s/clock.js';
import { CONTENT_TYPE, deletePacketCapture, KubeApiError, packetCapturePath, PACKETCAPTURE_BASE, type KubeClient } from '../k8s/client.js';
import type { EventRecorder } from '../k8s/events.js';
import { Informer, type KubeObject } from '../k8s/informer.js';
import { WorkQueue } from '../k8s/workqueue.js';
import type { Logger } from '../telemetry/log.js';
import { silentLogger } from '../telemetry/log.js';
import { decideSchedule, type ScheduleDecision } from './schedule-decide.js';
import type { OwnerReference } from './types.js';

type Sched = PacketCaptureSchedule & KubeObject;
type Cap = PacketCapture & KubeObject & { metadata: { ownerReferences?: OwnerReference[] } };

export function schedulePath(namespace?: string, name?: string, subresource?: 'status'): string {
  if (!namespace) return `${PACKETCAPTURE_BASE}/${SCHEDULE_PLURAL}`;
  const base = `${PACKETCAPTURE_BASE}/namespaces/${encodeURIComponent(namespace)}/${SCHEDULE_PLURAL}`;
  if (!name) return base;
  return `${base}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
}

export interface ScheduleControllerOptions {
  client: KubeClient;
  /** The schedule clock (decideSchedule's now, next-run timers). Default: the system clock. */
  clock?: Clock;
  log?: Logger;
  recorder: EventRecorder;
  /** Parallel reconciles of different schedules (default 2). */
  concurrency?: number;
}

export interface ScheduleController {
  /** Resolves once both informers have listed. */
  readonly ready: Promise<void>;
  readonly stats: { reconciles: number; creates: number; deletes: number; statusApplies: number };
  /** Runs the workers until `signal` aborts (call when leading). */
  run(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

export function startScheduleController(opts: ScheduleControllerOptions): ScheduleController {
  const { client, recorder } = opts;
  const clock = opts.clock ?? systemClock;
  const log = (opts.log ?? silentLogger).child({ loop: 'schedules' });
  const stats = { reconciles: 0, creates: 0, deletes: 0, statusApplies: 0 };
  const iopts = { kc: client, clock: systemClock, log };
  const schedules = new Informer<Sched>({ ...iopts, path: schedulePath() });
  const captures = new Informer<Cap>({ ...iopts, path: packetCapturePath(), labelSelector: LABEL_SCHEDULE });
  const queue = new WorkQueue({ clock: systemClock, minIntervalMs: 0 });
  const timers = new Map<string, Timer>();
  const lastApplied = new Map<string, string>();
  /**
   * Events of the previous reconcile per schedule: the same Event is not recorded again while
   * nothing changed (a Forbid run waiting on a capture is reconciled at every status update of it).
   */
  const lastEvents = new Map<string, Set<string>>();

  schedules.onChange((c) => {
    if (c.type === 'DELETED') {
      lastApplied.delete(c.key);
      lastEvents.delete(c.key);
      timers.get(c.key)?.cancel();
      timers.delete(c.key);
    }
    queue.add(c.key);
  });
  captures.onChange((c) => {
    const owner = c.object.metadata.labels?.[LABEL_SCHEDULE];
    if (owner) queue.add(`${c.object.metadata.namespace}/${owner}`);
  });

  const subject = (s: PacketCaptureSchedule) => ({ apiVersion: API_VERSION, kind: SCHEDULE_KIND, metadata: s.metadata });

  function ownedBy(s: Sched): Cap[] {
    const uid = s.metadata.uid;
    return captures.list((pc) => pc.metadata.namespace === s.metadata.namespace && (pc.metadata.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true));
  }

  async function carryOut(key: string, s: Sched, d: ScheduleDecision): Promise<void> {
    const ns = s.metadata.namespace ?? '';
    // Replace: the running captures go first (their finalizer still lets agents clean up)
    for (const name of d.deleteActive) {
      if (await deletePacketCapture(client, ns, name)) stats.deletes++;
    }
    let created: Cap | undefined;
    if (d.create) {
      const c = d.create;
      const body = {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: {
          name: c.name,
          namespace: ns,
          labels: c.labels,
          annotations: c.annotations,
          ownerReferences: [{ apiVersion: API_VERSION, kind: SCHEDULE_KIND, name: s.metadata.name, uid: s.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: c.spec,
      };
      try {
        created = await client.request<Cap>({ method: 'POST', path: packetCapturePath(ns), body });
        stats.creates++;
        captures.mutate(created);
      } catch (e) {
        // 409: this run's capture exists already (a previous attempt, another replica): nothing lost,
        // unless it belongs to someone else (e.g. a deleted schedule of the same name where no
        // garbage collector removed its captures): say so, the run is not captured
        if (e instanceof KubeApiError && e.status === 409) {
          const other = await client.request<Cap>({ path: packetCapturePath(ns, c.name) }).catch(() => undefined);
          if (other && !(other.metadata.ownerReferences ?? []).some((r) => r.uid === s.metadata.uid)) {
            recorder.record(subject(s), 'Warning', 'FailedCreate', `run of ${c.annotations[ANNOTATION_SCHEDULED_AT] ?? ''} not captured: capture ${c.name} already exists and is not owned by this schedule (delete it, or rename the schedule)`);
          }
        } else {
          const why = e instanceof KubeApiError ? `${e.status} ${e.reason ?? ''}: ${e.message}` : String(e);
          recorder.record(subject(s), 'Warning', 'FailedCreate', `cannot create capture ${c.name}: ${why}`);
          throw e;
        }
      }
    }
    for (const name of d.deleteOld) {
      if (await deletePacketCapture(client, ns, name)) stats.deletes++;
    }
    const status = d.status;
    if (created?.metadata.uid) status.active = (status.active ?? []).map((a) => (a.name === created.metadata.name ? { ...a, uid: created.metadata.uid } : a));
    const sig = `${s.metadata.uid}|${JSON.stringify(status)}`;
    if (lastApplied.get(key) !== sig) {
      const res = await client.request<Sched>({
        method: 'PATCH',
        path: schedulePath(ns, s.metadata.name, 'status'),
        query: { fieldManager: CONTROLLER_FIELD_MANAGER, force: 'true' },
        contentType: CONTENT_TYPE.apply,
        body: { apiVersion: API_VERSION, kind: SCHEDULE_KIND, metadata: { name: s.metadata.name, namespace: ns }, status },
      });
      stats.statusApplies++;
      schedules.mutate(res);
      lastApplied.set(key, sig);
    }
    const seen = lastEvents.get(key) ?? new Set<string>();
    const now = new Set<string>();
    for (const e of d.events) {
      const sig = `${e.type}|${e.reason}|${e.message}`;
      now.add(sig);
      if (!seen.has(sig)) recorder.record(subject(s), e.type, e.reason, e.message);
    }
    lastEvents.set(key, now);
  }

  async function reconcile(key: string): Promise<void> {
    timers.get(key)?.cancel();
    timers.delete(key);
    const s = schedules.get(key);
    if (!s || s.metadata.deletionTimestamp) {
      queue.forget(key);
      return;
    }
    stats.reconciles++;
    const d = decideSchedule(s, ownedBy(s), clock.now());
    try {
      await carryOut(key, s, d);
      queue.forget(key);
      if (d.requeueAfterMs !== undefined) {
        // the next run, on the schedule clock
        timers.set(key, clock.setTimer(() => {
          timers.delete(key);
          queue.add(key);
        }, d.requeueAfterMs));
      }
    } catch (e) {
      lastApplied.delete(key);
      const f = queue.fail(key, e);
      if (f.kind === 'transient') log.warn('schedule reconcile failed, retrying', { schedule: key, reason: f.reason, err: e, delayMs: f.delayMs });
      else if (f.first) log.warn('schedule reconcile failed, not retrying until it changes', { schedule: key, reason: f.reason, err: e });
    }
  }

  schedules.start();
  captures.start();
  const ready = Promise.all([schedules.waitForSync(), captures.waitForSync()]).then(() => undefined);

  return {
    ready,
    stats,
    async run(signal) {
      // informers never sync while the schedule CRD is missing: stopping must not wait for them
      const aborted = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
      await Promise.race([ready, aborted]);
      if (signal.aborted) return;
      for (const s of schedules.list()) queue.add(`${s.metadata.namespace}/${s.metadata.name}`);
      await queue.run(reconcile, opts.concurrency ?? 2, signal);
    },
    async stop() {
      queue.shutdown();
      for (const t of timers.values()) t.cancel();
      timers.clear();
      await Promise.all([schedules.stop(), captures.stop()]);
    },
  };
}
