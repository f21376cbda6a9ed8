/**
 * Schedules from the CLI: `kubectl pcap capture --schedule CRON [--time-zone ZONE]` or
 * `--start-at TIME` turn the PacketCapture the flags describe into a PacketCaptureSchedule whose
 * captureTemplate is that capture. Cron and zone are checked here with the controller's own code
 * (src/controller/schedule-cron.ts), so a typo is refused before anything is sent.
 */
import { API_VERSION, type PacketCapture } from '../api/packetcapture.js';
import {
  CONCURRENCY_POLICIES,
  MAX_SCHEDULE_NAME_LENGTH,
  SCHEDULE_KIND,
  SCHEDULE_PLURAL,
  type ConcurrencyPolicy,
  type PacketCaptureSchedule,
} from '../api/packetcaptureschedule.js';
import { parseSchedule, parseStartAt, ScheduleSpecError } from '../controller/schedule-cron.js';
import type { FlagSpec } from './args.js';

/** The flags `capture` and `init` take for a schedule. */
export const SCHEDULE_FLAGS: readonly FlagSpec[] = [
  { name: 'schedule', type: 'string', value: 'CRON', help: 'Create a PacketCaptureSchedule that captures on this cron schedule ("*/5 * * * *", "0 9 * * 1-5", @hourly, @daily) instead of capturing now' },
  { name: 'time-zone', type: 'string', value: 'ZONE', help: 'IANA time zone of --schedule (e.g. Europe/Paris)', defaultText: 'UTC' },
  { name: 'start-at', type: 'string', value: 'TIME', help: 'Create a PacketCaptureSchedule that captures once at this RFC 3339 time (2026-12-01T09:00:00Z) instead of now' },
  { name: 'concurrency-policy', type: 'string', value: 'POLICY', help: 'With --schedule: Forbid (skip a run while the previous capture runs), Allow or Replace', defaultText: 'Forbid' },
];

export class ScheduleFlagError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'ScheduleFlagError';
  }
}

export interface ScheduleFlags {
  schedule?: string;
  timeZone?: string;
  startAt?: string;
  concurrencyPolicy?: string;
}

export const wantsSchedule = (f: ScheduleFlags): boolean => f.schedule !== undefined || f.startAt !== undefined;

/** A schedule name from the capture's: at most 52 characters (its captures add -<unix minutes>). */
export function scheduleName(captureName: string): string {
  if (captureName.length <= MAX_SCHEDULE_NAME_LENGTH) return captureName;
  const m = /^(.*)-([a-z0-9]{5})$/.exec(captureName);
  if (!m) return captureName.slice(0, MAX_SCHEDULE_NAME_LENGTH).replace(/-+$/, '');
  return `${m[1]!.slice(0, MAX_SCHEDULE_NAME_LENGTH - 6).replace(/-+$/, '')}-${m[2]!}`;
}

/**
 * Checks the flags and builds the schedule around `pc` (its metadata name/namespace, its spec as
 * the template). `nameExplicit`: --name was given (then a too-long name is an error, not cut).
 */
export function buildSchedule(pc: PacketCapture, f: ScheduleFlags, nameExplicit: boolean): PacketCaptureSchedule {
  if (f.schedule !== undefined && f.startAt !== undefined) throw new ScheduleFlagError('--schedule and --start-at do not go together: --schedule repeats, --start-at captures once');
  if (f.timeZone !== undefined && f.schedule === undefined) throw new ScheduleFlagError('--time-zone applies to --schedule; write --start-at with its UTC offset (2026-12-01T10:00:00+01:00)');
  if (f.concurrencyPolicy !== undefined && f.schedule === undefined) throw new ScheduleFlagError('--concurrency-policy applies to --schedule');
  if (f.concurrencyPolicy !== undefined && !(CONCURRENCY_POLICIES as readonly string[]).includes(f.concurrencyPolicy)) {
    throw new ScheduleFlagError(`invalid --concurrency-policy "${f.concurrencyPolicy}": must be one of ${CONCURRENCY_POLICIES.join(', ')}`);
  }
  try {
    if (f.schedule !== undefined) parseSchedule(f.schedule, f.timeZone);
    if (f.startAt !== undefined) parseStartAt(f.startAt);
  } catch (e) {
    if (e instanceof ScheduleSpecError) {
      const msg = e.message.replace(/^schedule /, '--schedule ').replace(/^timeZone /, '--time-zone ').replace(/^startAt /, '--start-at ');
      throw new ScheduleFlagError(msg, { cause: e });
    }
    throw e;
  }
  const base = pc.metadata.name ?? 'capture';
  if (nameExplicit && base.length > MAX_SCHEDULE_NAME_LENGTH) {
    throw new ScheduleFlagError(`--name "${base}" is too long for a schedule: at most ${MAX_SCHEDULE_NAME_LENGTH} characters (its captures are named <name>-<unix minutes>)`);
  }
  return {
    apiVersion: API_VERSION,
    kind: SCHEDULE_KIND,
    metadata: { name: scheduleName(base), namespace: pc.metadata.namespace },
    spec: {
      ...(f.schedule !== undefined ? { schedule: f.schedule.trim() } : {}),
      ...(f.timeZone !== undefined ? { timeZone: f.timeZone } : {}),
      ...(f.startAt !== undefined ? { startAt: f.startAt } : {}),
      ...(f.concurrencyPolicy !== undefined ? { concurrencyPolicy: f.concurrencyPolicy as ConcurrencyPolicy } : {}),
      captureTemplate: { spec: pc.spec },
    },
  };
}

/** API path of PacketCaptureSchedules in a namespace (or one of them). */
export function schedulesPath(namespace: string, name?: string): string {
  const base = `/apis/${API_VERSION}/namespaces/${encodeURIComponent(namespace)}/${SCHEDULE_PLURAL}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}
