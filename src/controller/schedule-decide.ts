/**
 * The pure decision for one PacketCaptureSchedule, CronJob's algorithm applied to captures:
 * given the schedule, the PacketCaptures it owns and the time, say which capture to create (at
 * most one per reconcile), which to delete (Replace, history limits), the status to apply, the
 * Events to record and when to look again. No I/O, no clock: `now` is passed in.
 *
 * Runs and missed runs (as kube-controller-manager's CronJob controller v2):
 * - the run considered is the most recent scheduled time in (lastScheduleTime or creation, now];
 *   older missed ones are not started (at most one catch-up run); more than 100 missed times
 *   record a TooManyMissedTimes Warning;
 * - with startingDeadlineSeconds, a run later than its deadline is skipped (MissedSchedule) and only
 *   times within the deadline are looked at;
 * - Forbid with a capture still running skips the run without recording it as scheduled, so it
 *   starts late once the running capture ends — unless the deadline passed first (CronJob does
 *   the same);
 * - the capture's name is `<schedule>-<scheduled unix minutes>`: a second reconcile of the same
 *   run (or a second controller) collides on the name instead of capturing twice.
 */
import type { PacketCapture, Progress } from '../api/packetcapture.js';
import {
  ANNOTATION_SCHEDULED_AT,
  LABEL_SCHEDULE,
  SCHEDULE_CONDITIONS,
  SCHEDULE_DEFAULTS,
  type PacketCaptureSchedule,
  type PacketCaptureScheduleStatus,
} from '../api/packetcaptureschedule.js';
import { parseSchedule, parseStartAt, ScheduleSpecError, type ParsedSchedule } from './schedule-cron.js';

/** CronJob's bound: more missed times than this and the schedule is reported as unhealthy. */
export const MAX_MISSED_TIMES = 100;
/** A Forbid run waiting on a running capture is looked at again this long after its deadline, to record the skip. */
const DEADLINE_SLACK_MS = 1000;

export interface ScheduleEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface CaptureToCreate {
  name: string;
  /** The scheduled time (ms since epoch) this capture is for. */
  scheduledTime: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: PacketCapture['spec'];
}

export interface ScheduleDecision {
  create?: CaptureToCreate;
  /** Running captures to delete before `create` (concurrencyPolicy Replace). */
  deleteActive: string[];
  /** Finished or failed captures beyond the history limits, oldest first. */
  deleteOld: string[];
  /** The whole controller-owned status (applied only when it differs from the current one). */
  status: PacketCaptureScheduleStatus;
  events: ScheduleEvent[];
  /** Reconcile again after this many ms (the next run); undefined = only on a change. */
  requeueAfterMs?: number;
}

export const isoSeconds = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
const ms = (v: string | Date | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const t = v instanceof Date ? v.getTime() : Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
};
const terminal = (p: Progress | undefined): boolean => p === 'finished' || p === 'failure';

/** The capture name for a run: `<schedule>-<unix minutes>`. */
export function captureNameFor(scheduleName: string, scheduledTime: number): string {
  return `${scheduleName}-${Math.floor(scheduledTime / 60_000)}`;
}

/** When a capture ran for: its scheduled-at annotation, else its creation time. */
function scheduledTimeOf(pc: PacketCapture): number {
  return ms(pc.metadata.annotations?.[ANNOTATION_SCHEDULED_AT]) ?? ms(pc.metadata.creationTimestamp) ?? 0;
}
function finishedTimeOf(pc: PacketCapture): number {
  return ms(pc.status?.completionTime) ?? scheduledTimeOf(pc);
}

interface Runs {
  /** The most recent scheduled time in the window, if any. */
  latest?: number;
  /** How many scheduled times fell in the window (capped at MAX_MISSED_TIMES + 1). */
  count: number;
  next?: number;
}

/** Scheduled times in (from, now], and the first after now. */
function runsBetween(p: ParsedSchedule, from: number, now: number): Runs {
  let count = 0;
  let latest: number | undefined;
  let t = p.nextAfter(from);
  while (t !== undefined && t <= now) {
    latest = t;
    count++;
    if (count > MAX_MISSED_TIMES) return { ...latestBefore(p, from, now), count };
    t = p.nextAfter(t);
  }
  return { latest, count, next: t };
}

/**
 * The last scheduled time in (from, now] without walking every missed time (an every-minute
 * schedule after a month's outage): look back from now over windows that double until one holds a
 * run, then walk forward inside that window only.
 */
function latestBefore(p: ParsedSchedule, from: number, now: number): { latest?: number; next?: number } {
  for (let w = 60_000; ; w *= 2) {
    const start = Math.max(from, now - w);
    let t = p.nextAfter(start);
    if (t !== undefined && t <= now) {
      let latest = t;
      while ((t = p.nextAfter(latest)) !== undefined && t <= now) latest = t;
      return { latest, next: t };
    }
    if (start === from) return { next: t };
  }
}

function setCondition(status: PacketCaptureScheduleStatus, prev: PacketCaptureScheduleStatus, cond: { type: string; status: 'True' | 'False'; reason: string; message: string }, now: number, gen: number | undefined): void {
  const old = prev.conditions?.find((c) => c.type === cond.type);
  const same = old && old.status === cond.status;
  status.conditions = [
    ...(status.conditions ?? []).filter((c) => c.type !== cond.type),
    {
      ...cond,
      lastTransitionTime: same && old.lastTransitionTime ? old.lastTransitionTime : isoSeconds(now),
      ...(gen !== undefined ? { observedGeneration: gen } : {}),
    },
  ];
}

/**
 * Decides what to do with one schedule.
 * @param owned the PacketCaptures this schedule controls (by ownerReference uid), including ones being deleted.
 */
export function decideSchedule(sched: PacketCaptureSchedule, owned: readonly PacketCapture[], now: number): ScheduleDecision {
  const spec = sched.spec;
  const name = sched.metadata.name ?? '';
  const prev = sched.status ?? {};
  const gen = sched.metadata.generation;
  const events: ScheduleEvent[] = [];
  const d: ScheduleDecision = { deleteActive: [], deleteOld: [], events, status: {} };

  // ---- what exists: running, finished, failed ----
  const live = owned.filter((pc) => !pc.metadata.deletionTimestamp);
  const active = live.filter((pc) => !terminal(pc.status?.progress)).sort((a, b) => scheduledTimeOf(a) - scheduledTimeOf(b));
  const succeeded = live.filter((pc) => pc.status?.progress === 'finished').sort((a, b) => finishedTimeOf(a) - finishedTimeOf(b));
  const failed = live.filter((pc) => pc.status?.progress === 'failure').sort((a, b) => finishedTimeOf(a) - finishedTimeOf(b));

  // ---- history limits: delete the oldest finished captures (with their files) ----
  const keepOk = spec.successfulHistoryLimit ?? SCHEDULE_DEFAULTS.successfulHistoryLimit;
  const keepFailed = spec.failedHistoryLimit ?? SCHEDULE_DEFAULTS.failedHistoryLimit;
  const prune = (list: PacketCapture[], keep: number): string[] => list.slice(0, Math.max(0, list.length - keep)).map((pc) => pc.metadata.name ?? '');
  d.deleteOld = [...prune(succeeded, keepOk), ...prune(failed, keepFailed)];

  // ---- status carried over and derived ----
  const status = d.status;
  if (gen !== undefined) status.observedGeneration = gen;
  if (prev.lastScheduleTime) status.lastScheduleTime = prev.lastScheduleTime;
  const lastOk = Math.max(ms(prev.lastSuccessfulTime) ?? 0, ...succeeded.map(finishedTimeOf));
  if (lastOk > 0) status.lastSuccessfulTime = isoSeconds(lastOk);
  const setActive = (list: PacketCapture[]): void => {
    status.active = list.map((pc) => ({ name: pc.metadata.name ?? '', ...(pc.metadata.uid ? { uid: pc.metadata.uid } : {}) }));
    status.activeCount = list.length;
  };
  setActive(active);
  status.conditions = (prev.conditions ?? []).filter((c) => c.type !== SCHEDULE_CONDITIONS.Invalid);

  // ---- parse what admission could not check ----
  let parsed: ParsedSchedule | undefined;
  let startAt: number | undefined;
  try {
    if (spec.schedule !== undefined) parsed = parseSchedule(spec.schedule, spec.timeZone);
    else if (spec.startAt !== undefined) startAt = parseStartAt(spec.startAt);
    else throw new ScheduleSpecError('InvalidSchedule', 'set schedule or startAt');
  } catch (e) {
    const err = e instanceof ScheduleSpecError ? e : new ScheduleSpecError('InvalidSchedule', String(e));
    setCondition(status, prev, { type: SCHEDULE_CONDITIONS.Invalid, status: 'True', reason: err.reason, message: err.message }, now, gen);
    const wasInvalid = prev.conditions?.find((c) => c.type === SCHEDULE_CONDITIONS.Invalid && c.status === 'True' && c.message === err.message);
    if (!wasInvalid) events.push({ type: 'Warning', reason: err.reason, message: `${err.message}; no captures are created until the schedule is fixed` });
    return d; // terminal until the spec changes: no requeue
  }
  setCondition(status, prev, { type: SCHEDULE_CONDITIONS.Invalid, status: 'False', reason: 'Valid', message: 'schedule and time zone are valid' }, now, gen);

  const created = ms(sched.metadata.creationTimestamp) ?? now;
  const lastScheduled = ms(prev.lastScheduleTime);
  const deadlineMs = spec.startingDeadlineSeconds !== undefined ? spec.startingDeadlineSeconds * 1000 : undefined;
  const existing = new Set(owned.map((pc) => pc.metadata.name));

  // ---- which run is due now ----
  let due: number | undefined;
  let next: number | undefined;
  /** An earlier wake-up than `next` (a waiting Forbid run's deadline). */
  let wake: number | undefined;
  if (startAt !== undefined) {
    // one-shot: due once, never again after a capture was created for it
    const done = lastScheduled !== undefined || owned.length > 0;
    if (!done) {
      if (startAt <= now) due = startAt;
      else next = startAt;
    }
  } else {
    let from = lastScheduled ?? created;
    // with a deadline, times older than it cannot start anyway: do not count them as missed
    if (deadlineMs !== undefined) from = Math.max(from, now - deadlineMs - 2 * DEADLINE_SLACK_MS);
    const runs = runsBetween(parsed!, from, now);
    due = runs.latest;
    next = runs.next;
    if (runs.count > MAX_MISSED_TIMES) {
      events.push({
        type: 'Warning',
        reason: 'TooManyMissedTimes',
        message: `more than ${MAX_MISSED_TIMES} runs were missed since ${isoSeconds(from)} (controller down or clock skew); starting only the most recent one. Set startingDeadlineSeconds to bound catch-up.`,
      });
    }
  }

  if (spec.suspend === true) {
    // running captures go on; nothing new starts. Resuming later starts at most one catch-up run.
    delete status.nextScheduleTime;
    return d;
  }

  if (due !== undefined && !existing.has(captureNameFor(name, due))) {
    const late = now - due;
    if (deadlineMs !== undefined && late > deadlineMs) {
      events.push({
        type: 'Warning',
        reason: 'MissedSchedule',
        message: `missed the run of ${isoSeconds(due)}: ${Math.round(late / 1000)} s late, more than startingDeadlineSeconds (${spec.startingDeadlineSeconds})`,
      });
    } else if (active.length > 0 && (spec.concurrencyPolicy ?? SCHEDULE_DEFAULTS.concurrencyPolicy) === 'Forbid') {
      events.push({
        type: 'Normal',
        reason: 'AlreadyActive',
        message: `run of ${isoSeconds(due)} waits: concurrencyPolicy Forbid and ${active.map((a) => a.metadata.name).join(', ')} still running${deadlineMs !== undefined ? ` (skipped if it cannot start by ${isoSeconds(due + deadlineMs)})` : ''}`,
      });
      // requeue at the deadline so a skip is recorded; the running capture's end also wakes us
      if (deadlineMs !== undefined) wake = due + deadlineMs + DEADLINE_SLACK_MS;
    } else {
      if ((spec.concurrencyPolicy ?? SCHEDULE_DEFAULTS.concurrencyPolicy) === 'Replace' && active.length > 0) {
        d.deleteActive = active.map((pc) => pc.metadata.name ?? '');
        for (const a of d.deleteActive) events.push({ type: 'Normal', reason: 'Replaced', message: `deleted running capture ${a} (concurrencyPolicy Replace)` });
      }
      const tpl = spec.captureTemplate;
      const capName = captureNameFor(name, due);
      d.create = {
        name: capName,
        scheduledTime: due,
        labels: { ...(tpl.metadata?.labels ?? {}), [LABEL_SCHEDULE]: name },
        annotations: { ...(tpl.metadata?.annotations ?? {}), [ANNOTATION_SCHEDULED_AT]: isoSeconds(due) },
        spec: tpl.spec,
      };
      status.lastScheduleTime = isoSeconds(due);
      events.push({ type: 'Normal', reason: 'SuccessfulCreate', message: `created capture ${capName} for the run of ${isoSeconds(due)}${late >= 60_000 ? ` (${Math.round(late / 1000)} s late)` : ''}` });
      const stillActive = d.deleteActive.length > 0 ? [] : active;
      setActive([...stillActive, { metadata: { name: capName } } as PacketCapture]);
    }
  }

  if (next !== undefined) status.nextScheduleTime = isoSeconds(next);
  else delete status.nextScheduleTime;
  const at = Math.min(next ?? Infinity, wake ?? Infinity);
  if (at !== Infinity) d.requeueAfterMs = Math.max(0, at - now);
  return d;
}
