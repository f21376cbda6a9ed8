/**
 * Aggregation, pure: the capture's overall progress (seed 002's scheduled|running|finished|failure),
 * counters and conditions from its per-target phases. Partial failures are never hidden: the
 * capture is `finished` when at least one target finished, with PartialFailure=True and the
 * failed targets' reasons in the condition message.
 */
import { CONDITIONS, type Condition, type Progress, type TargetStatus } from '../api/packetcapture.js';

export interface Aggregate {
  total: number;
  pending: number;
  running: number;
  finished: number;
  failed: number;
  packets: number;
  bytes: number;
  drops: number;
  /** Kafka sink records of the targets (absent when no target reported any). */
  recordsPublished: number | undefined;
  recordsDropped: number | undefined;
  /** Distinct nodes of the targets, sorted. */
  nodes: string[];
}

export function aggregate(targets: readonly TargetStatus[]): Aggregate {
  const a: Aggregate = { total: targets.length, pending: 0, running: 0, finished: 0, failed: 0, packets: 0, bytes: 0, drops: 0, recordsPublished: undefined, recordsDropped: undefined, nodes: [] };
  const nodes = new Set<string>();
  for (const t of targets) {
    if (t.node) nodes.add(t.node);
    switch (t.phase) {
      case 'Running':
        a.running++;
        break;
      case 'Finished':
        a.finished++;
        break;
      case 'Failed':
        a.failed++;
        break;
      default:
        a.pending++;
    }
    a.packets += t.packets ?? 0;
    a.bytes += t.bytes ?? 0;
    a.drops += t.drops ?? 0;
    if (t.recordsPublished !== undefined) a.recordsPublished = (a.recordsPublished ?? 0) + t.recordsPublished;
    if (t.recordsDropped !== undefined) a.recordsDropped = (a.recordsDropped ?? 0) + t.recordsDropped;
  }
  a.nodes = [...nodes].sort();
  return a;
}

/**
 * Overall progress. `refused` = invalid spec or tenancy refusal; `unresolvable` = no target could
 * be planned and the grace period is over. Once terminal (`prev` finished/failure) it stays so.
 * Undefined = nothing planned yet (seed 002: a new capture has no progress).
 */
export function progressOf(a: Aggregate, o: { refused: boolean; unresolvable: boolean; prev?: Progress | undefined; openForNewTargets?: boolean }): Progress | undefined {
  if (o.prev === 'finished' || o.prev === 'failure') return o.prev;
  if (o.refused) return 'failure';
  if (a.total === 0) return o.unresolvable ? 'failure' : undefined;
  // every target so far ended, but pods that come before the window ends still join: not over yet
  if (a.pending === 0 && a.running === 0 && o.openForNewTargets) return 'running';
  if (a.pending === 0 && a.running === 0) return a.finished > 0 ? 'finished' : 'failure';
  if (a.running > 0 || a.finished > 0 || a.failed > 0) return 'running';
  return 'scheduled';
}

/** Sets a condition, keeping lastTransitionTime when the status did not change. */
export function condition(
  prev: readonly Condition[] | undefined,
  type: string,
  status: 'True' | 'False' | 'Unknown',
  reason: string,
  message: string,
  nowIso: string,
  generation: number | undefined,
): Condition {
  const old = prev?.find((c) => c.type === type);
  const c: Condition = {
    type,
    status,
    reason,
    message: message.length > 32768 ? message.slice(0, 32765) + '...' : message,
    lastTransitionTime: old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : nowIso,
  };
  if (generation !== undefined) c.observedGeneration = generation;
  return c;
}

/** "pod/ns/a: Reason (message); ..." for at most `max` failed targets. */
export function describeFailures(targets: readonly TargetStatus[], max = 5): string {
  const failed = targets.filter((t) => t.phase === 'Failed');
  const parts = failed.slice(0, max).map((t) => `${t.name}: ${t.reason ?? 'Failed'}${t.message ? ` (${t.message})` : ''}`);
  if (failed.length > max) parts.push(`and ${failed.length - max} more`);
  return parts.join('; ');
}

export { CONDITIONS };
