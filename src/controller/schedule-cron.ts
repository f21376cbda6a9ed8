/**
 * Cron and time-zone handling for PacketCaptureSchedules, pure and shared by the controller and the
 * CLI (the CLI validates `--schedule` / `--time-zone` with this same code before sending anything).
 *
 * Library: croner (pinned 11.0.0, no dependencies). It evaluates patterns in an IANA zone with the
 * runtime's Intl data, handles DST gaps and repeats, and has a strict 5-field mode. cron-parser
 * 5.10.5 would do as well but pulls in luxon for its zone arithmetic; croner needs nothing.
 */
import { Cron } from 'croner';
import { CRON_NICKNAMES } from '../api/packetcaptureschedule.js';

export class ScheduleSpecError extends Error {
  constructor(
    readonly reason: 'InvalidSchedule' | 'InvalidTimeZone' | 'InvalidStartAt',
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
    this.name = 'ScheduleSpecError';
  }
}

/** Throws ScheduleSpecError unless `tz` is an IANA zone this runtime knows. */
export function checkTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch (e) {
    throw new ScheduleSpecError('InvalidTimeZone', `timeZone ${JSON.stringify(tz)} is not a known IANA time zone (e.g. "Europe/Paris", "America/New_York", "UTC")`, { cause: e });
  }
}

export interface ParsedSchedule {
  /** The next run strictly after `afterMs` (ms since epoch), or undefined if there is none. */
  nextAfter(afterMs: number): number | undefined;
}

/**
 * Parses a 5-field cron expression or a nickname in `timeZone` (default UTC). Throws
 * ScheduleSpecError with a message saying what is wrong and what is expected.
 */
export function parseSchedule(schedule: string, timeZone?: string): ParsedSchedule {
  const expr = schedule.trim();
  if (timeZone !== undefined) checkTimeZone(timeZone);
  if (/TZ=/.test(expr)) throw new ScheduleSpecError('InvalidSchedule', 'CRON_TZ= / TZ= in schedule is not supported: use timeZone (--time-zone)');
  if (expr.startsWith('@')) {
    if (!(CRON_NICKNAMES as readonly string[]).includes(expr)) {
      throw new ScheduleSpecError('InvalidSchedule', `schedule ${JSON.stringify(schedule)}: unknown nickname; use one of ${CRON_NICKNAMES.join(', ')} or five fields`);
    }
  } else {
    const fields = expr.split(/\s+/).filter((f) => f !== '');
    if (fields.length !== 5) {
      throw new ScheduleSpecError(
        'InvalidSchedule',
        `schedule ${JSON.stringify(schedule)} has ${fields.length} field(s); expected five: minute hour day-of-month month day-of-week (e.g. "*/5 * * * *" or "0 9 * * 1-5")`,
      );
    }
  }
  let cron: Cron;
  try {
    cron = new Cron(expr === '@midnight' ? '@daily' : expr, { paused: true, timezone: timeZone ?? 'UTC', mode: '5-part' });
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/^CronPattern: /, '') : String(e);
    throw new ScheduleSpecError('InvalidSchedule', `schedule ${JSON.stringify(schedule)} is not a valid cron expression: ${why} (fields: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12, day-of-week 0-7)`, { cause: e });
  }
  if (cron.nextRun(new Date(0)) === null) {
    throw new ScheduleSpecError('InvalidSchedule', `schedule ${JSON.stringify(schedule)} never runs (e.g. February 30th)`);
  }
  return {
    nextAfter(afterMs) {
      const d = cron.nextRun(new Date(afterMs));
      return d === null ? undefined : d.getTime();
    },
  };
}

/** Parses an RFC 3339 time with an explicit zone (Z or ±hh:mm). */
export function parseStartAt(startAt: string): number {
  const ok = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/.test(startAt);
  const t = ok ? Date.parse(startAt) : NaN;
  if (!Number.isFinite(t)) {
    throw new ScheduleSpecError('InvalidStartAt', `startAt ${JSON.stringify(startAt)} is not an RFC 3339 time with a zone (e.g. "2026-12-01T09:00:00Z" or "2026-12-01T10:00:00+01:00")`);
  }
  return t;
}
