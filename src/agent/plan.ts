/**
 * What the agent should do about one PacketCapture, decided from current state only (the capture
 * as cached, this node's pods, and what this agent process is doing): a pure function, so every
 * case is unit-tested without a cluster.
 */
import type { PacketCapture, TargetPhase, TargetStatus } from '../api/packetcapture.js';

export interface LocalTarget {
  /** The phase this agent process last observed for the target. */
  phase: TargetPhase;
  /** A tcpdump is being started or is running for it. */
  active: boolean;
}

export interface PodLike {
  metadata?: { uid?: string; deletionTimestamp?: unknown; name?: string; namespace?: string };
  status?: { phase?: string };
}

export type Action =
  /** The capture is being deleted (or is gone): stop everything, remove files, report clean. */
  | { kind: 'cleanup'; gone: boolean }
  /** Start capturing this target. */
  | { kind: 'start'; entry: TargetStatus }
  /** The status says Running but this process runs no tcpdump for it: the agent restarted. */
  | { kind: 'interrupted'; entry: TargetStatus }
  /** A finished/failed entry from a previous life of the agent: keep reporting it as it is. */
  | { kind: 'adopt'; entry: TargetStatus }
  /** Stop a running target: its pod is gone or replaced, or the controller removed the entry. */
  | { kind: 'stop'; target: string; reason: 'PodDeleted' | 'TargetRemoved'; message: string };

/** status.targets entries of this node. */
export function nodeTargets(pc: PacketCapture, node: string): TargetStatus[] {
  return (pc.status?.targets ?? []).filter((t) => t.node === node && typeof t.name === 'string');
}

/** Pod target: is the pod the entry was planned for gone (deleted, being deleted, or replaced)? */
export function podGoneReason(entry: TargetStatus, pod: PodLike | undefined): string | undefined {
  if (entry.kind !== 'pod') return undefined;
  const who = `pod ${entry.namespace ?? ''}/${entry.pod ?? ''}`;
  if (!pod) return `${who} was deleted`;
  if (pod.metadata?.deletionTimestamp) return `${who} is being deleted`;
  if (entry.podUID && pod.metadata?.uid && entry.podUID !== pod.metadata.uid) return `${who} was replaced by a new pod with the same name (uid ${pod.metadata.uid})`;
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return `${who} terminated (phase ${pod.status.phase})`;
  return undefined;
}

export function planCapture(input: {
  capture: PacketCapture | undefined;
  node: string;
  local: ReadonlyMap<string, LocalTarget>;
  pod: (namespace: string, name: string) => PodLike | undefined;
}): Action[] {
  const { capture, node, local } = input;
  if (!capture || capture.metadata.deletionTimestamp) return [{ kind: 'cleanup', gone: !capture }];
  const actions: Action[] = [];
  const mine = nodeTargets(capture, node);
  const names = new Set(mine.map((t) => t.name));
  for (const entry of mine) {
    const l = local.get(entry.name);
    if (l?.active) {
      // a target still waiting for its pod (Scheduled) is the start loop's business
      if (l.phase !== 'Running') continue;
      const gone = podGoneReason(entry, entry.kind === 'pod' ? input.pod(entry.namespace ?? '', entry.pod ?? '') : undefined);
      if (gone) actions.push({ kind: 'stop', target: entry.name, reason: 'PodDeleted', message: `${gone} during the capture; files up to then are kept` });
      continue;
    }
    if (l) continue; // this process already decided this target (finished, failed, or waiting to retry)
    const phase = entry.phase;
    if (phase === undefined || phase === 'Pending' || phase === 'Scheduled') actions.push({ kind: 'start', entry });
    else if (phase === 'Running') actions.push({ kind: 'interrupted', entry });
    else actions.push({ kind: 'adopt', entry });
  }
  for (const [name, l] of local) {
    if (l.active && !names.has(name)) actions.push({ kind: 'stop', target: name, reason: 'TargetRemoved', message: 'the controller no longer plans this target on this node' });
  }
  return actions;
}
