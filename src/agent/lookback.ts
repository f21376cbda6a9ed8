/**
 * The agent's side of triggered captures (docs/triggers.md). A target of a capture with
 * spec.trigger runs tcpdump as usual, but the backend keeps only a look-back window in memory
 * (src/capture/lookback.ts): the target reports phase Running, reason Armed. When the capture's
 * status.firings gets its first firing (written by the controller or the trigger webhook; the
 * agent watches captures already), every armed target of this node releases its window at the
 * firing's time — the window and what follows go into the ring files — and stops `after` seconds
 * after the firing (reason TriggerWindowEnded). A capture whose captureSeconds pass without a
 * firing ends Finished/NotTriggered with no files.
 */
import type { PacketCapture, TargetStatus } from '../api/packetcapture.js';
import { resolveSpec } from '../api/validate.js';
import type { ResolvedTrigger } from '../api/trigger.js';
import { REASON_ARMED, REASON_TRIGGERED, type Firing } from '../api/trigger-schema.js';
import type { Timer } from '../k8s/clock.js';
import { isoAt, markDirty, type AgentContext } from './context.js';
import { stopSession } from './session.js';
import { observe, type CaptureState, type Session } from './state.js';

interface Armed {
  trigger: ResolvedTrigger;
  armTimer: Timer | undefined;
  firedId: string | undefined;
}

const armed = new WeakMap<Session, Armed>();

/** The firing that counts: the earliest (two writers may race; the first observed wins). Pure. */
export function firstFiring(pc: Pick<PacketCapture, 'status'> | undefined): Firing | undefined {
  const fs = (pc?.status?.firings ?? []).filter((f) => f.time && Number.isFinite(Date.parse(f.time)));
  return fs.sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || a.id.localeCompare(b.id))[0];
}

/**
 * After an agent restart, may the target that was Running be armed again instead of ending
 * AgentRestarted? Yes when the capture is triggered and has not fired: nothing was written (the
 * window lived in the old process's memory), so a fresh window loses only the gap. Pure.
 */
export function rearmable(pc: PacketCapture, entry: TargetStatus): boolean {
  if (entry.phase !== 'Running' || entry.reason === REASON_TRIGGERED || firstFiring(pc) !== undefined) return false;
  if (pc.metadata.deletionTimestamp) return false;
  const r = resolveSpec(pc.spec, pc.metadata.namespace ?? '');
  return r.ok && r.spec.trigger !== undefined;
}

/** Targets re-armed after a restart: when, and their first start (captureSeconds counts from it). */
const rearms = new WeakMap<CaptureState, Map<string, { atMs: number; firstStartMs: number | undefined }>>();

/** Records that `entry` is being armed again after an agent restart at `nowMs` (armSession reports the gap). */
export function noteRearm(st: CaptureState, entry: TargetStatus, nowMs: number): void {
  const pc = entry.startTime ? Date.parse(entry.startTime) : NaN;
  const m = rearms.get(st) ?? new Map<string, { atMs: number; firstStartMs: number | undefined }>();
  m.set(entry.name, { atMs: nowMs, firstStartMs: Number.isFinite(pc) ? pc : undefined });
  rearms.set(st, m);
}

/** tcpdump runs for an armed target: report Armed, stay armed for captureSeconds at most. */
export function armSession(ctx: AgentContext, st: CaptureState, s: Session, trigger: ResolvedTrigger, armSeconds: number | undefined): void {
  const re = rearms.get(st)?.get(s.target);
  rearms.get(st)?.delete(s.target);
  // re-armed: captureSeconds counts from the first start, not from the restart
  if (re?.firstStartMs !== undefined && armSeconds !== undefined) armSeconds = Math.max(0, Math.ceil((re.firstStartMs + armSeconds * 1000 - ctx.clock.now()) / 1000));
  const a: Armed = { trigger, armTimer: undefined, firedId: undefined };
  armed.set(s, a);
  if (!s.running?.release) {
    // a backend without a window (tcpdump writing its own files) cannot hold back: refuse rather than record everything
    ctx.track(stopSession(ctx, st, s, { phase: 'Failed', reason: 'TriggerUnsupported', message: 'this agent writes tcpdump\'s own files (no pipe): a look-back window needs the agent\'s ring (tcpdump -w - into a pipe)' }));
    return;
  }
  observe(st, s.target, {
    reason: REASON_ARMED,
    message: `armed: keeping the last ${trigger.lookBackSeconds} s (at most ${trigger.lookBackBytes} bytes) in memory; nothing is written until a trigger fires${
      re ? `; re-armed after an agent restart at ${new Date(re.atMs).toISOString()}: the window starts again then (the packets kept before the restart are lost)` : ''
    }`,
  });
  markDirty(ctx, st, true);
  if (armSeconds !== undefined) {
    a.armTimer = ctx.clock.setTimer(() => {
      if (a.firedId === undefined) ctx.track(stopSession(ctx, st, s, { phase: 'Finished', reason: 'NotTriggered', message: `armed for ${armSeconds} s and no trigger fired: nothing was kept` }));
    }, armSeconds * 1000);
    s.timers.push(a.armTimer);
  }
  // a firing before this target started (a pod that came later): release at once
  const f = firstFiring(ctx.captures.get(st.key));
  if (f) fire(ctx, st, s, a, f);
}

/** A capture changed: release the windows of this node's armed targets when it has a firing. */
export function applyFirings(ctx: AgentContext, st: CaptureState, pc: PacketCapture): void {
  const f = firstFiring(pc);
  if (!f) return;
  for (const s of st.sessions.values()) {
    const a = armed.get(s);
    if (a && a.firedId === undefined && s.running && !s.exited && !s.stopReason) fire(ctx, st, s, a, f);
  }
}

function fire(ctx: AgentContext, st: CaptureState, s: Session, a: Armed, f: Firing): void {
  const release = s.running?.release;
  if (!release || a.firedId !== undefined) return;
  a.firedId = f.id;
  a.armTimer?.cancel();
  const firedAt = Date.parse(f.time);
  const r = release(firedAt);
  const frozen = isoAt(ctx.clock);
  const endMs = firedAt + a.trigger.afterSeconds * 1000;
  const left = Math.max(0, endMs - ctx.clock.now());
  s.timers.push(
    ctx.clock.setTimer(() => {
      ctx.track(stopSession(ctx, st, s, { phase: 'Finished', reason: 'TriggerWindowEnded', message: `triggered (${f.type}): kept ${r.packets} packets from the look-back window and captured ${a.trigger.afterSeconds} s after the trigger` }));
    }, left),
  );
  observe(st, s.target, {
    reason: REASON_TRIGGERED,
    message: `triggered by ${f.type}${f.cause ? ` (${f.cause})` : ''}: ${r.packets} packets from the look-back window are in the ring files; capturing until ${new Date(endMs).toISOString()}`,
    triggeredTime: frozen,
    windowPackets: r.packets,
    ...(r.oldestMs !== undefined ? { windowStart: new Date(r.oldestMs).toISOString() } : {}),
  });
  markDirty(ctx, st, true);
  s.running?.flush();
  ctx.events.record(st.subject, 'Normal', 'Triggered', `node ${ctx.config.nodeName}: target ${s.target}: window frozen (${r.packets} packets, ${r.bytes} bytes) by ${f.type}`);
  ctx.log.info('look-back window released', { capture: st.key, target: s.target, firing: f.id, packets: r.packets, bytes: r.bytes, evicted: r.evicted, lagMs: ctx.clock.now() - firedAt });
}
