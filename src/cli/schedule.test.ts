import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PacketCapture } from '../api/packetcapture.js';
import { buildSchedule, ScheduleFlagError, scheduleName, wantsSchedule } from './schedule.js';

const pc = (name: string): PacketCapture => ({ apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name, namespace: 'shop' }, spec: { targetPod: 'web', captureSeconds: 30 } });

test('buildSchedule: the capture becomes the template; schedule, zone, policy carried over', () => {
  const s = buildSchedule(pc('web-abcde'), { schedule: ' */5 * * * * ', timeZone: 'Europe/Paris', concurrencyPolicy: 'Replace' }, false);
  assert.deepEqual(s, {
    apiVersion: 'pcapper.dev/v1alpha1',
    kind: 'PacketCaptureSchedule',
    metadata: { name: 'web-abcde', namespace: 'shop' },
    spec: { schedule: '*/5 * * * *', timeZone: 'Europe/Paris', concurrencyPolicy: 'Replace', captureTemplate: { spec: { targetPod: 'web', captureSeconds: 30 } } },
  });
  assert.deepEqual(buildSchedule(pc('x'), { startAt: '2030-01-01T00:00:00Z' }, false).spec, { startAt: '2030-01-01T00:00:00Z', captureTemplate: { spec: { targetPod: 'web', captureSeconds: 30 } } });
  assert.equal(wantsSchedule({}), false);
  assert.equal(wantsSchedule({ startAt: 'x' }), true);
});

test('buildSchedule: clear errors for every bad combination or value', () => {
  for (const [f, re] of [
    [{ schedule: '* * * * *', startAt: '2030-01-01T00:00:00Z' }, /do not go together/],
    [{ startAt: '2030-01-01T00:00:00Z', timeZone: 'UTC' }, /--time-zone applies to --schedule/],
    [{ startAt: '2030-01-01T00:00:00Z', concurrencyPolicy: 'Allow' }, /--concurrency-policy applies to --schedule/],
    [{ schedule: '* * * * *', concurrencyPolicy: 'Sometimes' }, /must be one of Allow, Forbid, Replace/],
    [{ schedule: '* * * * * *' }, /^--schedule "\* \* \* \* \* \*" has 6 field\(s\)/],
    [{ schedule: '0 25 * * *' }, /^--schedule "0 25 \* \* \*" is not a valid cron expression.*hour/],
    [{ schedule: 'CRON_TZ=UTC 0 9 * * *' }, /use timeZone \(--time-zone\)/],
    [{ schedule: '0 9 * * *', timeZone: 'Europe/Nowhere' }, /^--time-zone "Europe\/Nowhere" is not a known IANA time zone/],
    [{ startAt: '2030-01-01 09:00' }, /^--start-at "2030-01-01 09:00" is not an RFC 3339 time with a zone/],
  ] as const) {
    assert.throws(() => buildSchedule(pc('web-abcde'), f, false), (e: unknown) => e instanceof ScheduleFlagError && re.test(e.message), JSON.stringify(f));
  }
  assert.throws(() => buildSchedule(pc('n'.repeat(53)), { schedule: '@daily' }, true), /too long for a schedule: at most 52/);
});

test('scheduleName: a generated name is cut to 52 characters, keeping its random suffix', () => {
  assert.equal(scheduleName('web-abcde'), 'web-abcde');
  const long = `${'a'.repeat(50)}-xyz12`;
  const s = scheduleName(long);
  assert.ok(s.length <= 52);
  assert.match(s, /^a+-xyz12$/);
});
