/**
 * Should a triggered capture fire now? Pure: from the capture, the target pods and the Events of
 * the target namespace as the controller's caches hold them (docs/triggers.md).
 *
 * Stateless by design: a pod-side trigger fires when the pod's status shows the change happened
 * at or after the capture was created (the container's lastState.terminated.finishedAt, the Ready
 * condition's lastTransitionTime), an Event when its last timestamp is at or after it. So a
 * restart from before the capture never fires it, and a controller restart does not lose or
 * repeat a firing (status.firings is the record; a capture fires once).
 * Kubernetes timestamps have whole seconds: a change in the same second as the creation counts.
 */
import type { PacketCapture, TargetStatus } from '../api/packetcapture.js';
import { resolveSpec } from '../api/validate.js';
import type { Firing, TriggerOn } from '../api/trigger-schema.js';

export interface TerminatedState {
  reason?: string;
  exitCode?: number;
  finishedAt?: string | Date;
}
export interface TriggerPod {
  metadata?: { name?: string; namespace?: string; uid?: string };
  status?: {
    containerStatuses?: { name?: string; restartCount?: number; state?: { terminated?: TerminatedState }; lastState?: { terminated?: TerminatedState } }[];
    conditions?: { type?: string; status?: string; reason?: string; lastTransitionTime?: string | Date }[];
  };
}
export interface TriggerEvent {
  metadata?: { name?: string; namespace?: string; uid?: string; creationTimestamp?: string | Date };
  reason?: string;
  message?: string;
  involvedObject?: { kind?: string; name?: string; namespace?: string };
  lastTimestamp?: string | Date | null;
  eventTime?: string | Date | null;
  firstTimestamp?: string | Date | null;
  series?: { lastObservedTime?: string | Date } | null;
}

export interface TriggerWorld {
  pod(namespace: string, name: string): TriggerPod | undefined;
  events(namespace: string): readonly TriggerEvent[];
}

export interface Observed {
  on: TriggerOn;
  /** When it happened (ms), as the object says. */
  atMs: number;
  cause: string;
}

const ms = (v: string | Date | null | undefined): number | undefined => {
  if (v === undefined || v === null) return undefined;
  const n = v instanceof Date ? v.getTime() : Date.parse(v);
  return Number.isFinite(n) ? n : undefined;
};

/** Pod-side observations for one target pod since `sinceMs`. */
export function podObservations(on: TriggerOn, pod: TriggerPod, entry: TargetStatus, sinceMs: number): Observed[] {
  if (entry.podUID && pod.metadata?.uid !== entry.podUID) return []; // a new pod of the same name is another target
  const who = `pod ${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
  const out: Observed[] = [];
  if (on.type === 'ContainerRestart' || on.type === 'OOMKilled') {
    for (const c of pod.status?.containerStatuses ?? []) {
      for (const t of [c.lastState?.terminated, c.state?.terminated]) {
        const at = ms(t?.finishedAt);
        if (!t || at === undefined || at < sinceMs) continue;
        if (on.type === 'OOMKilled' && t.reason !== 'OOMKilled') continue;
        if (on.type === 'ContainerRestart' && t === c.state?.terminated) continue; // terminated, not (yet) restarted
        out.push({
          on,
          atMs: at,
          cause: on.type === 'OOMKilled' ? `${who} container ${c.name ?? '?'} was OOMKilled` : `${who} container ${c.name ?? '?'} restarted (${t.reason ?? 'exit'}${t.exitCode !== undefined ? ` ${t.exitCode}` : ''}, restart ${c.restartCount ?? '?'})`,
        });
      }
    }
  } else if (on.type === 'NotReady') {
    const ready = (pod.status?.conditions ?? []).find((c) => c.type === 'Ready');
    const at = ms(ready?.lastTransitionTime);
    if (ready && ready.status === 'False' && at !== undefined && at >= sinceMs) out.push({ on, atMs: at, cause: `${who} turned not Ready${ready.reason ? ` (${ready.reason})` : ''}` });
  }
  return out;
}

/** Event observations in the target namespace since `sinceMs` (never Events about PacketCaptures: pcapper's own). */
export function eventObservations(on: TriggerOn, events: readonly TriggerEvent[], sinceMs: number): Observed[] {
  if (on.type !== 'Event') return [];
  const out: Observed[] = [];
  for (const e of events) {
    if (e.reason !== on.reason || e.involvedObject?.kind === 'PacketCapture') continue;
    if (on.involvedObjectName !== undefined && e.involvedObject?.name !== on.involvedObjectName) continue;
    const at = ms(e.series?.lastObservedTime) ?? ms(e.lastTimestamp) ?? ms(e.eventTime) ?? ms(e.firstTimestamp) ?? ms(e.metadata?.creationTimestamp);
    if (at === undefined || at < sinceMs) continue;
    const obj = `${e.involvedObject?.kind ?? 'object'} ${e.involvedObject?.namespace ?? ''}/${e.involvedObject?.name ?? ''}`;
    out.push({ on, atMs: at, cause: `Event ${e.reason} on ${obj}: ${(e.message ?? '').slice(0, 300)}` });
  }
  return out;
}

export type TriggerDecision =
  | { kind: 'none' }
  /** Fire now: write this firing (the controller's clock is its time: the window ends when we saw it). */
  | { kind: 'fire'; firing: Firing };

/** The capture's first firing, if one of its controller-watched triggers happened. Pure. */
export function decideTrigger(pc: PacketCapture, world: TriggerWorld, nowMs: number, id: string): TriggerDecision {
  if (pc.metadata.deletionTimestamp || (pc.status?.firings?.length ?? 0) > 0) return { kind: 'none' };
  if (pc.status?.progress === 'finished' || pc.status?.progress === 'failure') return { kind: 'none' };
  const r = resolveSpec(pc.spec, pc.metadata.namespace ?? '');
  if (!r.ok || !r.spec.trigger) return { kind: 'none' };
  const tr = r.spec.trigger;
  const sinceMs = ms(pc.metadata.creationTimestamp) ?? nowMs;
  const targetNs = r.spec.target.kind === 'node' ? (pc.metadata.namespace ?? '') : r.spec.target.namespace;
  const seen: Observed[] = [];
  for (const on of tr.when) {
    if (on.type === 'Event') seen.push(...eventObservations(on, world.events(targetNs), sinceMs));
    else if (on.type === 'ContainerRestart' || on.type === 'OOMKilled' || on.type === 'NotReady') {
      for (const t of pc.status?.targets ?? []) {
        if (t.kind !== 'pod' || !t.namespace || !t.pod) continue;
        const pod = world.pod(t.namespace, t.pod);
        if (pod) seen.push(...podObservations(on, pod, t, sinceMs));
      }
    }
  }
  if (seen.length === 0) return { kind: 'none' };
  seen.sort((a, b) => a.atMs - b.atMs);
  const first = seen[0] as Observed;
  // the window ends when the controller saw it (the packets up to now are what led to it)
  return { kind: 'fire', firing: firingAt(first.on.type, nowMs, first.cause, 'controller', tr.lookBackSeconds, tr.afterSeconds, id) };
}

/** A firing record with its window. Pure. */
export function firingAt(type: Firing['type'], atMs: number, cause: string, source: Firing['source'], lookBackSeconds: number, afterSeconds: number, id: string): Firing {
  return {
    id,
    type,
    time: new Date(atMs).toISOString(),
    cause: cause.slice(0, 1024),
    source,
    windowStart: new Date(atMs - lookBackSeconds * 1000).toISOString(),
    windowEnd: new Date(atMs + afterSeconds * 1000).toISOString(),
  };
}
