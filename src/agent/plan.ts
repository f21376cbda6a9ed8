/**
 * What the agent should do about one PacketCapture, decided from current state only (the capture
 * as cached, this node's pods, and what this agent process is doing): a pure function, so every
 * case is unit-tested without a cluster.
 *
 * Two sources of targets: the controller's `status.targets[]` entries of this node, and — for a
 * running selector capture — the agent's own plan of the pods of its node (ownTargets), made with
 * the controller's own pure functions (tenancy, planTargets, the hostNetwork refusal), so that a
 * pod that starts matching is captured from its sandbox at once instead of after the controller
 * wrote its entry (issue 15 item 3). The controller's entry, when it comes, adopts the running
 * target; until then the target is observed but not reported (CaptureState.unplanned).
 */
import { CONDITIONS, type PacketCapture, type TargetPhase, type TargetStatus, type WorkloadKind } from '../api/packetcapture.js';
import { resolveSpec } from '../api/validate.js';
import { joinWindowOpen, planTargets, terminalProgress } from '../controller/plan.js';
import { checkHostNetwork, checkTenancy } from '../controller/tenancy.js';
import { arrayWorld, type Pod as PlannerPod } from '../controller/types.js';

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
  /** Start capturing this target (`own`: from the agent's own plan, not in status yet). */
  | { kind: 'start'; entry: TargetStatus; own?: true }
  /** The controller planned a target this agent started from its own plan: adopt it (report it from now on). */
  | { kind: 'planned'; target: string }
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

/**
 * The agent's own plan: targets on `node` that a running selector capture takes now and that the
 * controller has not planned yet. It is the controller's decision, made with the controller's pure
 * functions over the pods this agent sees (its node's): only a capture the controller accepted
 * (Invalid=False: spec, tenancy, store and sink checked) and started (status.startTime), inside
 * its capture window (joinWindowOpen), the tenancy rule again (checkTenancy: a tenant's capture
 * never takes another namespace's pod), planTargets' own matching (scheduled, not terminated, not
 * being deleted, matching the selector), and never a hostNetwork pod for a tenant
 * (checkHostNetwork). A workload capture takes the pods that are evidently the workload's from
 * the pod alone (evidentlyOfWorkload: the agent watches no workloads or ReplicaSets); the
 * controller's podOfWorkload decides for good, as for every own-plan target (adopted when its
 * entry comes, stopped when it does not). Pure.
 */
export function ownTargets(input: { capture: PacketCapture | undefined; node: string; systemNamespace: string; pods: readonly PlannerPod[]; now: number }): TargetStatus[] {
  const pc = input.capture;
  if (!pc || pc.metadata.deletionTimestamp) return [];
  const ns = pc.metadata.namespace ?? '';
  const status = pc.status ?? {};
  if (status.conditions?.find((c) => c.type === CONDITIONS.Invalid)?.status !== 'False') return [];
  const startMs = status.startTime ? Date.parse(status.startTime) : NaN;
  if (Number.isNaN(startMs)) return [];
  const resolved = resolveSpec(pc.spec, ns);
  if (!resolved.ok) return [];
  const spec = resolved.spec;
  const target = spec.target;
  if (target.kind !== 'selector' && target.kind !== 'workload') return [];
  if (checkTenancy(ns, target, input.systemNamespace)) return [];
  const windowEnd = spec.captureSeconds !== undefined ? startMs + spec.captureSeconds * 1000 : undefined;
  if (!joinWindowOpen(status.progress, windowEnd, input.now)) return [];
  // a workload's pods as a selector over the pods evidently its own (planTargets' matching and
  // identity rules unchanged); the agent cannot run the workload branch, which needs the workload
  const world = arrayWorld({
    pods: target.kind === 'workload' ? input.pods.filter((p) => p.metadata?.namespace === target.namespace && evidentlyOfWorkload(p, target.workloadKind, target.name)) : [...input.pods],
    nodes: [input.node],
  });
  const planned = target.kind === 'workload' ? ({ kind: 'selector', namespace: target.namespace, selector: {} } as const) : target;
  const existing = status.targets ?? [];
  const known = new Set(existing.map((e) => e.name));
  const out: TargetStatus[] = [];
  for (const t of planTargets(planned, existing, world, true).targets) {
    if (known.has(t.name) || t.kind !== 'pod' || t.node !== input.node || !t.namespace || !t.pod) continue;
    const p = world.pod(t.namespace, t.pod);
    if (!p || checkHostNetwork(ns, p, input.systemNamespace)) continue;
    out.push({ name: t.name, kind: 'pod', namespace: t.namespace, pod: t.pod, ...(t.podUID ? { podUID: t.podUID } : {}), node: input.node });
  }
  return out;
}

/**
 * Whether a change of a pod in `namespace` may change the agent's own plan of `pc` (a running
 * selector capture that takes that namespace's pods): the quick filter that queues the capture on
 * pod events; ownTargets decides. Pure.
 */
export function takesPodsOf(pc: PacketCapture, namespace: string): boolean {
  const sp = pc.spec;
  if ((sp?.podSelector === undefined && sp?.targetDeployment === undefined && sp?.workloadRef === undefined) || pc.metadata.deletionTimestamp || !pc.status?.startTime || terminalProgress(pc.status.progress)) return false;
  const r = resolveSpec(pc.spec, pc.metadata.namespace ?? '');
  return r.ok && (r.spec.target.kind === 'selector' || r.spec.target.kind === 'workload') && r.spec.target.namespace === namespace;
}

/**
 * Whether pod `p` is evidently a pod of workload `kind/name` from the pod alone: its controller
 * owner is the workload (StatefulSet, DaemonSet, ReplicaSet), or, for a Deployment, the
 * ReplicaSet the Deployment names `<deployment>-<pod-template-hash>` with the pod's own hash
 * label (a ReplicaSet of another Deployment cannot have that name: hashes hold no '-'). Pure.
 */
export function evidentlyOfWorkload(p: PlannerPod, kind: WorkloadKind, name: string): boolean {
  const owner = p.metadata?.ownerReferences?.find((r) => r.controller);
  if (!owner) return false;
  if (kind !== 'Deployment') return owner.kind === kind && owner.name === name;
  const hash = p.metadata?.labels?.['pod-template-hash'];
  return owner.kind === 'ReplicaSet' && !!hash && !hash.includes('-') && owner.name === `${name}-${hash}`;
}

export function planCapture(input: {
  capture: PacketCapture | undefined;
  node: string;
  local: ReadonlyMap<string, LocalTarget>;
  pod: (namespace: string, name: string) => PodLike | undefined;
  /** The agent's own plan (ownTargets); none: act on the controller's entries only. */
  own?: readonly TargetStatus[];
  /** Targets started from the agent's own plan that the controller has not planned yet (name -> the agent's entry). */
  unplanned?: ReadonlyMap<string, TargetStatus>;
}): Action[] {
  const { capture, node, local } = input;
  if (!capture || capture.metadata.deletionTimestamp) return [{ kind: 'cleanup', gone: !capture }];
  const actions: Action[] = [];
  const mine = nodeTargets(capture, node);
  const names = new Set(mine.map((t) => t.name));
  const unplanned = input.unplanned ?? new Map<string, TargetStatus>();
  const own = input.own ?? [];
  for (const entry of mine) {
    const l = local.get(entry.name);
    if (unplanned.has(entry.name)) {
      // the controller planned a target this agent already started: adopted, never restarted
      actions.push({ kind: 'planned', target: entry.name });
      // ... unless the controller failed it before it knew it had started (a verdict: e.g. PodGone)
      if (l?.active && (entry.phase === 'Failed' || entry.phase === 'Finished')) {
        actions.push({ kind: 'stop', target: entry.name, reason: 'TargetRemoved', message: `the controller ended this target (${entry.reason ?? entry.phase}: ${entry.message ?? ''}); files up to then are kept` });
      }
      continue;
    }
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
  for (const entry of own) {
    if (names.has(entry.name) || local.has(entry.name)) continue;
    actions.push({ kind: 'start', entry, own: true });
  }
  const ownNames = new Set(own.map((t) => t.name));
  for (const [name, l] of local) {
    if (!l.active || names.has(name)) continue;
    const early = unplanned.get(name);
    if (early) {
      // started from the agent's own plan: kept while that plan still takes it (the controller's entry is on its way)
      if (ownNames.has(name)) continue;
      const gone = podGoneReason(early, input.pod(early.namespace ?? '', early.pod ?? ''));
      if (gone) actions.push({ kind: 'stop', target: name, reason: 'PodDeleted', message: `${gone} during the capture; files up to then are kept` });
      else actions.push({ kind: 'stop', target: name, reason: 'TargetRemoved', message: 'the capture no longer takes this pod (it stopped matching, or the capture window closed) and the controller never planned it' });
      continue;
    }
    actions.push({ kind: 'stop', target: name, reason: 'TargetRemoved', message: 'the controller no longer plans this target on this node' });
  }
  return actions;
}
