/**
 * Target planning, pure: which pods (or which node interface) a capture covers right now.
 * Targets already in status are never dropped (their files and counters stay visible); new ones
 * join only while `joinOpen` (the capture window is open and the capture is not finished).
 */
import { targetKey, type Progress, type TargetStatus } from '../api/packetcapture.js';
import type { ResolvedTarget } from '../api/validate.js';
import { matchesSelector } from '../k8s/selector.js';
import type { Pod, Workload, World } from './types.js';

/** The identity of a target: the fields the controller owns in status.targets[]. */
export interface PlannedTarget {
  name: string;
  kind: 'pod' | 'node';
  namespace?: string;
  pod?: string;
  podUID?: string;
  node?: string;
  interface?: string;
}

/** A reason the target set is incomplete. Terminal only when nothing is planned after the grace period. */
export interface PlanProblem {
  reason: 'PodNotFound' | 'PodNotScheduled' | 'PodTerminated' | 'NoPodsMatched' | 'WorkloadNotFound' | 'WorkloadWithoutSelector' | 'NodeNotFound';
  message: string;
}

export interface PlanResult {
  targets: PlannedTarget[];
  problems: PlanProblem[];
}

/** A capture that has ended (finished or failed) for good. */
export function terminalProgress(p: Progress | undefined): boolean {
  return p === 'finished' || p === 'failure';
}

/**
 * Whether new pods may still join a capture's targets: it has not ended and its capture window
 * (status.startTime + captureSeconds; none: packetCount only) is open. Pure; the controller's
 * decide() and the agent's own plan (src/agent/plan.ts ownTargets) both use it.
 */
export function joinWindowOpen(progress: Progress | undefined, windowEnd: number | undefined, now: number): boolean {
  return !terminalProgress(progress) && (windowEnd === undefined || now < windowEnd);
}

const TERMINAL_POD_PHASES = new Set(['Succeeded', 'Failed']);

/** A pod that can be captured: scheduled, not finished, not being deleted. */
export function capturable(p: Pod): boolean {
  return !!p.spec?.nodeName && !TERMINAL_POD_PHASES.has(p.status?.phase ?? '') && !p.metadata?.deletionTimestamp;
}

function podTarget(p: Pod): PlannedTarget {
  const ns = p.metadata?.namespace ?? '';
  const name = p.metadata?.name ?? '';
  return { name: targetKey({ kind: 'pod', namespace: ns, pod: name }), kind: 'pod', namespace: ns, pod: name, podUID: p.metadata?.uid, node: p.spec?.nodeName };
}

function controllerOf(o: { metadata?: { ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[] } }) {
  return o.metadata?.ownerReferences?.find((r) => r.controller);
}

/**
 * Whether pod `p` belongs to workload `w`: it matches the workload's selector and, when it has a
 * controller owner, that owner is the workload (or, for a Deployment, a ReplicaSet the Deployment
 * controls). Pods without a controller owner that match the selector count, as kubectl does.
 */
export function podOfWorkload(p: Pod, w: Workload, kind: string, world: World): boolean {
  const sel = w.spec?.selector;
  if (!sel || !matchesSelector(sel, p.metadata?.labels)) return false;
  const owner = controllerOf(p);
  if (!owner) return true;
  if (kind !== 'Deployment') return owner.uid === w.metadata?.uid;
  if (owner.kind !== 'ReplicaSet') return false;
  const rs = world.replicaSet(p.metadata?.namespace ?? '', owner.name);
  if (!rs || rs.metadata?.uid !== owner.uid) return false;
  return controllerOf(rs)?.uid === w.metadata?.uid;
}

/**
 * Plans the targets of a capture. `existing` are the current status.targets entries; they are
 * kept (identity refreshed for pods that were re-created or re-scheduled before starting).
 */
export function planTargets(target: ResolvedTarget, existing: readonly TargetStatus[], world: World, joinOpen: boolean): PlanResult {
  const problems: PlanProblem[] = [];
  const out = new Map<string, PlannedTarget>();
  for (const e of existing) {
    out.set(e.name, {
      name: e.name,
      kind: e.kind ?? (e.name.startsWith('node/') ? 'node' : 'pod'),
      namespace: e.namespace,
      pod: e.pod,
      podUID: e.podUID,
      node: e.node,
      interface: e.interface,
    });
  }
  const started = (name: string): boolean => {
    const e = existing.find((x) => x.name === name);
    return !!e && e.phase !== undefined && e.phase !== 'Pending';
  };
  const addPod = (p: Pod): void => {
    const t = podTarget(p);
    if (out.has(t.name)) {
      if (!started(t.name)) out.set(t.name, t); // refresh node/podUID until an agent took it
      return;
    }
    if (joinOpen) out.set(t.name, t);
  };

  switch (target.kind) {
    case 'node': {
      if (!world.nodeExists(target.node)) {
        problems.push({ reason: 'NodeNotFound', message: `node "${target.node}" does not exist` });
        break;
      }
      const name = targetKey({ kind: 'node', node: target.node, interface: target.interface });
      if (!out.has(name) && joinOpen) out.set(name, { name, kind: 'node', node: target.node, interface: target.interface });
      break;
    }
    case 'pod': {
      const p = world.pod(target.namespace, target.pod);
      if (!p) problems.push({ reason: 'PodNotFound', message: `pod "${target.pod}" does not exist in namespace "${target.namespace}"` });
      else if (!p.spec?.nodeName) problems.push({ reason: 'PodNotScheduled', message: `pod ${target.namespace}/${target.pod} is not scheduled to a node yet` });
      else if (!capturable(p)) problems.push({ reason: 'PodTerminated', message: `pod ${target.namespace}/${target.pod} is ${p.metadata?.deletionTimestamp ? 'being deleted' : (p.status?.phase ?? 'not running')}` });
      else addPod(p);
      break;
    }
    case 'selector': {
      let n = 0;
      for (const p of world.podsIn(target.namespace)) {
        if (!capturable(p) || !matchesSelector(target.selector, p.metadata?.labels)) continue;
        n++;
        addPod(p);
      }
      if (n === 0) problems.push({ reason: 'NoPodsMatched', message: `no running pod in namespace "${target.namespace}" matches the podSelector` });
      break;
    }
    case 'workload': {
      const w = world.workload(target.workloadKind, target.namespace, target.name);
      if (!w) {
        problems.push({ reason: 'WorkloadNotFound', message: `${target.workloadKind} "${target.name}" does not exist in namespace "${target.namespace}"` });
        break;
      }
      const sel = w.spec?.selector;
      if (!sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)) {
        problems.push({ reason: 'WorkloadWithoutSelector', message: `${target.workloadKind} ${target.namespace}/${target.name} has no pod selector` });
        break;
      }
      let n = 0;
      for (const p of world.podsIn(target.namespace)) {
        if (!capturable(p) || !podOfWorkload(p, w, target.workloadKind, world)) continue;
        n++;
        addPod(p);
      }
      if (n === 0) problems.push({ reason: 'NoPodsMatched', message: `${target.workloadKind} ${target.namespace}/${target.name} has no running pods` });
      break;
    }
  }
  const targets = [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { targets, problems };
}
