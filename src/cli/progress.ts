/**
 * Progress of a capture (pure rendering + a thin writer): on a terminal a per-target table that is
 * redrawn in place; otherwise plain lines, one per change of a target's phase.
 */
import type { PacketCapture, TargetStatus } from '../api/packetcapture.js';
import { captureState, formatBytes, formatTable, targetLabel } from './printers.js';

/** Seconds left of a time-limited capture, or undefined. */
export function secondsLeft(pc: PacketCapture, now: Date): number | undefined {
  const st = pc.status;
  const d = pc.spec.captureSeconds ?? pc.spec.duration;
  if (d === undefined || !st?.startTime || st.completionTime) return undefined;
  const secs = typeof d === 'number' ? d : /^[0-9]+$/.test(d) ? Number(d) : parseUnits(d);
  const left = Math.ceil((Date.parse(st.startTime) + secs * 1000 - now.getTime()) / 1000);
  return Math.max(0, left);
}

function parseUnits(d: string): number {
  const m = /^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$/.exec(d);
  return m ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : 0;
}

/** One header line: `capture shop/web-x7k2p: running  2 targets  1.2 MB  120 packets  0 drops  4s left`. */
export function progressHeader(pc: PacketCapture, now: Date, elapsedMs?: number): string {
  const st = pc.status;
  const parts = [`capture ${pc.metadata.namespace ?? ''}/${pc.metadata.name ?? ''}: ${captureState(pc)}`];
  parts.push(`${st?.targetsTotal ?? st?.targets?.length ?? 0} target(s)`);
  parts.push(`${st?.packets ?? 0} packets`, formatBytes(st?.bytes), `${st?.drops ?? 0} drops`);
  const left = secondsLeft(pc, now);
  if (left !== undefined) parts.push(`${left}s left`);
  else if (elapsedMs !== undefined) parts.push(`${Math.floor(elapsedMs / 1000)}s`);
  return parts.join('  ');
}

/** The per-target table (state, packets, bytes, drops) as lines. */
export function progressTable(pc: PacketCapture): string[] {
  const targets = pc.status?.targets ?? [];
  if (targets.length === 0) return ['  (waiting for the controller to plan targets)'];
  const rows = targets.map((t) => [targetLabel(t), t.node ?? '', t.phase ?? 'Pending', String(t.packets ?? 0), formatBytes(t.bytes), String(t.drops ?? 0), t.reason ?? '']);
  return formatTable(['TARGET', 'NODE', 'STATE', 'PACKETS', 'BYTES', 'DROPS', 'REASON'], rows)
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`);
}

/** Renders the whole TTY frame. Lines are cut to `columns` so the redraw stays in place. */
export function renderFrame(pc: PacketCapture, now: Date, columns = 120, elapsedMs?: number): string[] {
  return [progressHeader(pc, now, elapsedMs), ...progressTable(pc)].map((l) => (l.length > columns ? l.slice(0, Math.max(1, columns - 1)) : l));
}

function targetLine(t: TargetStatus): string {
  const bits = [`${targetLabel(t)}${t.node ? ` on ${t.node}` : ''}: ${t.phase ?? 'Pending'}`];
  if (t.phase === 'Finished' || t.phase === 'Failed' || (t.packets ?? 0) > 0) {
    bits.push(`${t.packets ?? 0} packets, ${formatBytes(t.bytes)}, ${t.drops ?? 0} drops`);
  }
  if (t.reason) bits.push(`(${t.reason}${t.message ? `: ${t.message}` : ''})`);
  return bits.join(' ');
}

/**
 * Plain-mode lines for the change from `prev` to `next`: one per target whose phase changed
 * (or that appeared), and one when the capture's state changed.
 */
export function progressChanges(prev: PacketCapture | undefined, next: PacketCapture): string[] {
  const out: string[] = [];
  const before = new Map((prev?.status?.targets ?? []).map((t) => [t.name, t]));
  for (const t of next.status?.targets ?? []) {
    const p = before.get(t.name);
    if (!p || (p.phase ?? 'Pending') !== (t.phase ?? 'Pending') || p.node !== t.node) out.push(targetLine(t));
  }
  const s0 = prev ? captureState(prev) : undefined;
  const s1 = captureState(next);
  if (s0 !== s1) {
    const st = next.status;
    out.push(`capture ${next.metadata.namespace ?? ''}/${next.metadata.name ?? ''}: ${s1}${s1 === 'finished' || s1 === 'failure' ? ` (${st?.packets ?? 0} packets, ${formatBytes(st?.bytes)}, ${st?.drops ?? 0} drops)` : ''}`);
  }
  return out;
}

/** Writes progress to a stream: redraws a frame on a TTY, plain change lines otherwise. */
export class ProgressWriter {
  private lastLines = 0;
  private prev: PacketCapture | undefined;
  private readonly started = Date.now();

  constructor(
    private readonly out: { write(s: string): unknown; isTTY?: boolean; columns?: number },
    private readonly tty: boolean = out.isTTY === true,
    private readonly now: () => Date = () => new Date(),
  ) {}

  update(pc: PacketCapture): void {
    if (this.tty) {
      // a pty may report 0 columns (no window size set): assume a usual width then
      const cols = this.out.columns !== undefined && this.out.columns > 0 ? this.out.columns : 120;
      const lines = renderFrame(pc, this.now(), cols, Date.now() - this.started);
      this.out.write(`${this.lastLines > 0 ? `\x1b[${this.lastLines}A` : ''}\r\x1b[J${lines.join('\n')}\n`);
      this.lastLines = lines.length;
    } else {
      for (const l of progressChanges(this.prev, pc)) this.out.write(`${l}\n`);
    }
    this.prev = pc;
  }

  /** Redraw only (clock tick on a TTY). */
  tick(): void {
    if (this.tty && this.prev) this.update(this.prev);
  }
}
