import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PacketCapture, PacketCaptureStatus } from '../api/packetcapture.js';
import { ANNOTATION_SCHEDULED_AT, LABEL_SCHEDULE, type PacketCaptureSchedule, type PacketCaptureScheduleSpec, type PacketCaptureScheduleStatus } from '../api/packetcaptureschedule.js';
import { captureNameFor, decideSchedule, isoSeconds, MAX_MISSED_TIMES, type ScheduleDecision } from './schedule-decide.js';
import { parseSchedule, parseStartAt, ScheduleSpecError } from './schedule-cron.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const MIN = 60_000;
const template = { spec: { targetPod: 'web', captureSeconds: 30 } };

function sched(spec: Partial<PacketCaptureScheduleSpec>, status?: PacketCaptureScheduleStatus, created = T0): PacketCaptureSchedule {
  return {
    apiVersion: 'pcapper.dev/v1alpha1',
    kind: 'PacketCaptureSchedule',
    metadata: { name: 'nightly', namespace: 'team', uid: 'su', generation: 1, creationTimestamp: new Date(created).toISOString() },
    spec: { captureTemplate: template, ...spec },
    status,
  };
}
function cap(at: number, progress?: PacketCaptureStatus['progress'], completion?: number): PacketCapture {
  return {
    apiVersion: 'pcapper.dev/v1alpha1',
    kind: 'PacketCapture',
    metadata: { name: captureNameFor('nightly', at), namespace: 'team', uid: `u${at}`, annotations: { [ANNOTATION_SCHEDULED_AT]: isoSeconds(at) }, creationTimestamp: isoSeconds(at) },
    spec: template.spec,
    status: progress ? { progress, ...(completion ? { completionTime: isoSeconds(completion) } : {}) } : undefined,
  };
}
const reasons = (d: ScheduleDecision): string[] => d.events.map((e) => e.reason);

test('nothing due before the first run: requeue exactly at it, nextScheduleTime set', () => {
  const d = decideSchedule(sched({ schedule: '*/5 * * * *' }), [], T0 + 2 * MIN);
  assert.equal(d.create, undefined);
  assert.equal(d.requeueAfterMs, 3 * MIN);
  assert.equal(d.status.nextScheduleTime, '2026-01-01T00:05:00Z');
  assert.equal(d.status.conditions?.find((c) => c.type === 'Invalid')?.status, 'False');
});

test('a due run creates <schedule>-<unix minutes> with the template, label and annotation', () => {
  const now = T0 + 5 * MIN + 1500;
  const d = decideSchedule(sched({ schedule: '*/5 * * * *', captureTemplate: { metadata: { labels: { team: 'a' }, annotations: { note: 'x' } }, spec: template.spec } }), [], now);
  assert.ok(d.create);
  assert.equal(d.create.name, `nightly-${(T0 + 5 * MIN) / MIN}`);
  assert.deepEqual(d.create.labels, { team: 'a', [LABEL_SCHEDULE]: 'nightly' });
  assert.deepEqual(d.create.annotations, { note: 'x', [ANNOTATION_SCHEDULED_AT]: '2026-01-01T00:05:00Z' });
  assert.deepEqual(d.create.spec, template.spec);
  assert.equal(d.status.lastScheduleTime, '2026-01-01T00:05:00Z');
  assert.equal(d.status.nextScheduleTime, '2026-01-01T00:10:00Z');
  assert.equal(d.requeueAfterMs, T0 + 10 * MIN - now);
  assert.deepEqual(reasons(d), ['SuccessfulCreate']);
});

test('idempotent: the run whose capture exists is not created again', () => {
  const now = T0 + 5 * MIN + 1500;
  const d = decideSchedule(sched({ schedule: '*/5 * * * *' }), [cap(T0 + 5 * MIN)], now);
  assert.equal(d.create, undefined);
  assert.deepEqual(d.status.active?.map((a) => a.name), [captureNameFor('nightly', T0 + 5 * MIN)]);
  assert.equal(d.status.activeCount, 1);
});

test('missed runs: one catch-up run (the most recent), not one per missed time', () => {
  const last = T0 + 5 * MIN;
  const now = T0 + 23 * MIN;
  const d = decideSchedule(sched({ schedule: '*/5 * * * *' }, { lastScheduleTime: isoSeconds(last) }), [cap(last, 'finished', last + MIN)], now);
  assert.equal(d.create?.scheduledTime, T0 + 20 * MIN);
  assert.deepEqual(reasons(d), ['SuccessfulCreate']);
  assert.equal(d.status.lastSuccessfulTime, isoSeconds(last + MIN));
});

test('more than 100 missed times: TooManyMissedTimes Warning, still only the latest run', () => {
  const now = T0 + (MAX_MISSED_TIMES + 5) * MIN + 10_000;
  const d = decideSchedule(sched({ schedule: '* * * * *' }), [], now);
  assert.ok(reasons(d).includes('TooManyMissedTimes'));
  assert.equal(d.create?.scheduledTime, T0 + (MAX_MISSED_TIMES + 5) * MIN);
});

test('a month of missed every-minute runs: one catch-up run, found without walking every minute', () => {
  const now = T0 + 31 * 24 * 60 * MIN + 30_000;
  const d = decideSchedule(sched({ schedule: '* * * * *' }), [], now);
  assert.equal(d.create?.scheduledTime, now - 30_000);
  assert.equal(d.status.nextScheduleTime, isoSeconds(now + 30_000));
  assert.ok(reasons(d).includes('TooManyMissedTimes'));
  const yearly = decideSchedule(sched({ schedule: '@yearly' }, undefined, Date.parse('2020-06-01T00:00:00Z')), [], T0 + MIN);
  assert.equal(yearly.create?.scheduledTime, T0, 'the most recent of 6 missed yearly runs');
});

test('startingDeadlineSeconds: a run later than its deadline is skipped with MissedSchedule', () => {
  // controller was down: the 00:05 run is seen at 00:07 with a 60 s deadline
  const now = T0 + 7 * MIN;
  const d = decideSchedule(sched({ schedule: '*/5 * * * *', startingDeadlineSeconds: 60 }), [], now);
  assert.equal(d.create, undefined);
  // times older than the deadline are not even looked at: nothing to report, wait for 00:10
  assert.equal(d.requeueAfterMs, 3 * MIN);
  const d2 = decideSchedule(sched({ schedule: '*/5 * * * *', startingDeadlineSeconds: 120 }), [], T0 + 5 * MIN + 121_000);
  assert.equal(d2.create, undefined);
  assert.deepEqual(reasons(d2), ['MissedSchedule']);
  const d3 = decideSchedule(sched({ schedule: '*/5 * * * *', startingDeadlineSeconds: 120 }), [], T0 + 5 * MIN + 90_000);
  assert.equal(d3.create?.scheduledTime, T0 + 5 * MIN, 'within its deadline the run starts late');
});

test('Forbid (the default): skips while one runs, starts late when it ends, records the skip at the deadline', () => {
  const running = cap(T0 + 5 * MIN, 'running');
  const s = sched({ schedule: '*/5 * * * *' }, { lastScheduleTime: isoSeconds(T0 + 5 * MIN) });
  const d = decideSchedule(s, [running], T0 + 10 * MIN);
  assert.equal(d.create, undefined);
  assert.deepEqual(reasons(d), ['AlreadyActive']);
  assert.equal(d.status.lastScheduleTime, isoSeconds(T0 + 5 * MIN), 'a skipped run is not recorded as scheduled');
  // the running capture finished at 00:11: the 00:10 run starts late (no deadline)
  const d2 = decideSchedule(s, [cap(T0 + 5 * MIN, 'finished', T0 + 11 * MIN)], T0 + 11 * MIN);
  assert.equal(d2.create?.scheduledTime, T0 + 10 * MIN);
  // with a deadline: requeued after it, then MissedSchedule
  const sd = sched({ schedule: '*/5 * * * *', startingDeadlineSeconds: 30 }, { lastScheduleTime: isoSeconds(T0 + 5 * MIN) });
  const d3 = decideSchedule(sd, [running], T0 + 10 * MIN);
  assert.equal(d3.requeueAfterMs, 31_000, 'woken after the deadline to record the skip');
  assert.equal(d3.status.nextScheduleTime, isoSeconds(T0 + 15 * MIN), 'nextScheduleTime stays the next run');
  const d4 = decideSchedule(sd, [running], T0 + 10 * MIN + 31_000);
  assert.deepEqual(reasons(d4), ['MissedSchedule']);
  assert.equal(d4.create, undefined);
});

test('Allow: creates alongside a running capture', () => {
  const d = decideSchedule(sched({ schedule: '*/5 * * * *', concurrencyPolicy: 'Allow' }, { lastScheduleTime: isoSeconds(T0 + 5 * MIN) }), [cap(T0 + 5 * MIN, 'running')], T0 + 10 * MIN);
  assert.equal(d.create?.scheduledTime, T0 + 10 * MIN);
  assert.deepEqual(d.deleteActive, []);
  assert.equal(d.status.activeCount, 2);
});

test('Replace: deletes the running capture and creates the new one', () => {
  const old = cap(T0 + 5 * MIN, 'running');
  const d = decideSchedule(sched({ schedule: '*/5 * * * *', concurrencyPolicy: 'Replace' }, { lastScheduleTime: isoSeconds(T0 + 5 * MIN) }), [old], T0 + 10 * MIN);
  assert.deepEqual(d.deleteActive, [old.metadata.name]);
  assert.equal(d.create?.scheduledTime, T0 + 10 * MIN);
  assert.deepEqual(reasons(d), ['Replaced', 'SuccessfulCreate']);
  assert.deepEqual(d.status.active?.map((a) => a.name), [d.create?.name]);
});

test('suspend: no new capture, no nextScheduleTime, running ones untouched; resuming starts one catch-up run', () => {
  const s = sched({ schedule: '*/5 * * * *', suspend: true }, { lastScheduleTime: isoSeconds(T0 + 5 * MIN) });
  const d = decideSchedule(s, [cap(T0 + 5 * MIN, 'running')], T0 + 30 * MIN);
  assert.equal(d.create, undefined);
  assert.deepEqual(d.deleteActive, []);
  assert.equal(d.status.nextScheduleTime, undefined);
  assert.equal(d.requeueAfterMs, undefined);
  const r = decideSchedule({ ...s, spec: { ...s.spec, suspend: false } }, [cap(T0 + 5 * MIN, 'finished', T0 + 6 * MIN)], T0 + 30 * MIN);
  assert.equal(r.create?.scheduledTime, T0 + 30 * MIN);
});

test('history limits: the oldest finished and failed captures beyond the limits are deleted', () => {
  const caps = [
    cap(T0 + 1 * MIN, 'finished', T0 + 2 * MIN),
    cap(T0 + 2 * MIN, 'failure', T0 + 3 * MIN),
    cap(T0 + 3 * MIN, 'finished', T0 + 4 * MIN),
    cap(T0 + 4 * MIN, 'failure', T0 + 5 * MIN),
    cap(T0 + 5 * MIN, 'finished', T0 + 6 * MIN),
    cap(T0 + 6 * MIN, 'running'),
  ];
  const d = decideSchedule(sched({ schedule: '0 * * * *', successfulHistoryLimit: 1, failedHistoryLimit: 1 }, { lastScheduleTime: isoSeconds(T0 + 6 * MIN) }), caps, T0 + 7 * MIN);
  assert.deepEqual(d.deleteOld, [caps[0]!, caps[2]!, caps[1]!].map((c) => c.metadata.name));
  const d0 = decideSchedule(sched({ schedule: '0 * * * *', successfulHistoryLimit: 0, failedHistoryLimit: 0 }), caps, T0 + 7 * MIN);
  assert.equal(d0.deleteOld.length, 5, 'limit 0 keeps none; the running one is never pruned');
  const dd = decideSchedule(sched({ schedule: '0 * * * *' }), caps, T0 + 7 * MIN);
  assert.deepEqual(dd.deleteOld, [caps[1]!.metadata.name], 'defaults: 3 finished, 1 failed');
});

test('captures being deleted count neither as active nor as history', () => {
  const gone = { ...cap(T0 + 5 * MIN, 'running'), metadata: { ...cap(T0 + 5 * MIN).metadata, deletionTimestamp: isoSeconds(T0 + 6 * MIN) } };
  const d = decideSchedule(sched({ schedule: '*/5 * * * *' }, { lastScheduleTime: isoSeconds(T0 + 5 * MIN) }), [gone], T0 + 10 * MIN);
  assert.equal(d.create?.scheduledTime, T0 + 10 * MIN);
});

test('time zone: 09:00 Europe/Paris is 08:00Z in winter and 07:00Z in summer', () => {
  const w = decideSchedule(sched({ schedule: '0 9 * * *', timeZone: 'Europe/Paris' }), [], T0);
  assert.equal(w.status.nextScheduleTime, '2026-01-01T08:00:00Z');
  const summer = Date.parse('2026-07-01T00:00:00Z');
  const s = decideSchedule(sched({ schedule: '0 9 * * *', timeZone: 'Europe/Paris' }, undefined, summer), [], summer);
  assert.equal(s.status.nextScheduleTime, '2026-07-01T07:00:00Z');
});

test('DST in Europe/Paris: a nonexistent 02:30 runs at 03:00 local; a repeated 02:30 runs once', () => {
  const p = parseSchedule('30 2 * * *', 'Europe/Paris');
  // spring forward, 2026-03-29 02:00 -> 03:00 local (01:00Z)
  assert.equal(isoSeconds(p.nextAfter(Date.parse('2026-03-28T12:00:00Z'))!), '2026-03-29T01:00:00Z');
  assert.equal(isoSeconds(p.nextAfter(Date.parse('2026-03-29T01:00:00Z'))!), '2026-03-30T00:30:00Z');
  // fall back, 2026-10-25 03:00 -> 02:00 local: 02:30 happens at 00:30Z and 01:30Z; one run
  const first = p.nextAfter(Date.parse('2026-10-24T12:00:00Z'))!;
  assert.equal(isoSeconds(first), '2026-10-25T00:30:00Z');
  assert.equal(isoSeconds(p.nextAfter(first)!), '2026-10-26T01:30:00Z');
  // through decideSchedule: a run on the fall-back day is created once, the next requeue is the day after
  const s = sched({ schedule: '30 2 * * *', timeZone: 'Europe/Paris' }, { lastScheduleTime: '2026-10-24T00:30:00Z' }, Date.parse('2026-10-20T00:00:00Z'));
  const d = decideSchedule(s, [], Date.parse('2026-10-25T01:45:00Z'));
  assert.equal(d.create?.scheduledTime, first);
  assert.equal(d.status.nextScheduleTime, '2026-10-26T01:30:00Z');
});

test('nicknames: @hourly, @daily in a zone, @midnight', () => {
  assert.equal(isoSeconds(parseSchedule('@hourly').nextAfter(T0 + 1)!), '2026-01-01T01:00:00Z');
  assert.equal(isoSeconds(parseSchedule('@daily', 'America/New_York').nextAfter(T0)!), '2026-01-01T05:00:00Z');
  assert.equal(isoSeconds(parseSchedule('@midnight').nextAfter(T0)!), '2026-01-02T00:00:00Z');
});

test('bad cron values and unknown zones: Invalid condition with the reason, a Warning once, no requeue', () => {
  for (const [spec, reason, text] of [
    [{ schedule: '61 * * * *' }, 'InvalidSchedule', /minute/],
    [{ schedule: '* * * *' }, 'InvalidSchedule', /4 field\(s\); expected five/],
    [{ schedule: '* * * * * *' }, 'InvalidSchedule', /6 field\(s\)/],
    [{ schedule: '@fortnightly' }, 'InvalidSchedule', /unknown nickname/],
    [{ schedule: '0 0 30 2 *' }, 'InvalidSchedule', /never runs/],
    [{ schedule: '0 9 * * *', timeZone: 'Mars/Olympus' }, 'InvalidTimeZone', /not a known IANA time zone/],
    [{ startAt: 'tomorrow' }, 'InvalidStartAt', /RFC 3339/],
  ] as const) {
    const d = decideSchedule(sched(spec), [], T0 + 10 * MIN);
    const c = d.status.conditions?.find((x) => x.type === 'Invalid');
    assert.equal(c?.status, 'True', JSON.stringify(spec));
    assert.equal(c?.reason, reason);
    assert.match(c?.message ?? '', text);
    assert.equal(d.create, undefined);
    assert.equal(d.requeueAfterMs, undefined);
    assert.deepEqual(d.events.map((e) => [e.type, e.reason]), [['Warning', reason]]);
    // the same verdict again: no second Warning
    const again = decideSchedule(sched(spec, d.status), [], T0 + 11 * MIN);
    assert.deepEqual(again.events, []);
  }
});

test('startAt: waits, creates once at its time, then never again', () => {
  const at = T0 + 90 * MIN;
  const s = sched({ startAt: isoSeconds(at) });
  const before = decideSchedule(s, [], T0);
  assert.equal(before.create, undefined);
  assert.equal(before.requeueAfterMs, 90 * MIN);
  assert.equal(before.status.nextScheduleTime, isoSeconds(at));
  const due = decideSchedule(s, [], at);
  assert.equal(due.create?.name, captureNameFor('nightly', at));
  assert.equal(due.status.nextScheduleTime, undefined);
  const after = decideSchedule(sched({ startAt: isoSeconds(at) }, due.status), [cap(at, 'finished', at + MIN)], at + 5 * MIN);
  assert.equal(after.create, undefined);
  assert.equal(after.requeueAfterMs, undefined);
  // a startAt in the past at creation starts right away; with a deadline long passed it is missed
  assert.ok(decideSchedule(sched({ startAt: isoSeconds(T0 - MIN) }), [], T0).create);
  assert.deepEqual(reasons(decideSchedule(sched({ startAt: isoSeconds(T0 - 10 * MIN), startingDeadlineSeconds: 60 }), [], T0)), ['MissedSchedule']);
  assert.equal(parseStartAt('2026-12-01T10:00:00+01:00'), Date.parse('2026-12-01T09:00:00Z'));
  assert.throws(() => parseStartAt('2026-12-01T10:00:00'), ScheduleSpecError, 'a time without a zone is refused');
});
