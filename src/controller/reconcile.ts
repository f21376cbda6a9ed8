/**
 * The reconciler's decision, pure: from a PacketCapture (as cached), a view of the cluster and
 * the time, decide what the controller wants — the status it owns, finalizer changes, Events,
 * deletion, and when to look again. The shell (controller.ts) performs the decision.
 *
 * Ownership (see src/api/packetcapture.ts): the controller applies, as `pcapper-controller`, the
 * identity fields of every target, the aggregate fields, and — the one exception — phase/reason/
 * message of targets it fails itself ("verdicts"): never-started targets past their deadline or
 * whose pod/node is gone, and Running targets whose node is gone or whose agent stopped
 * reporting long after the deadline. A verdict on an entry whose phase an agent owns needs
 * `force`; the shell re-reads the object before forcing (see Decision.needsForce).
 */
import {
  CONDITIONS,
  FINALIZER,
  type Condition,
  type NodeStatus,
  type PacketCapture,
  type PacketCaptureStatus,
  type TargetStatus,
} from '../api/packetcapture.js';
import { resolveSpec, type ResolvedCaptureSpec, type SpecProblem } from '../api/validate.js';
import { aggregate, condition, describeFailures, progressOf } from './aggregate.js';
import { joinWindowOpen, planTargets, terminalProgress as terminal, type PlanProblem, type PlannedTarget } from './plan.js';
import { checkHostNetwork, checkTenancy } from './tenancy.js';
import { resolveStore, storeOfDeleted, uploadedFor } from './stores.js';
import { resolveSink } from './sinks.js';
import type { PacketCaptureStore } from '../api/packetcapturestore.js';
import type { World } from './types.js';
import { SYSTEM_NAMESPACE } from '../api/names.js';

export interface ReconcileConfig {
  systemNamespace: string;
  /** How long a capture may wait for its pod/workload/node to appear before it fails. */
  resolveGraceMs: number;
  /** Added to captureSeconds: targets not started (or still Running without a report) after that fail. */
  deadlineGraceMs: number;
  /** After deletion, how long to wait for agents to report their files removed before releasing the finalizer anyway. */
  cleanupTimeoutMs: number;
  /** Directory of capture files on the nodes (seed 002: /var/pcapper). */
  fileRoot: string;
}

export const DEFAULT_RECONCILE_CONFIG: ReconcileConfig = {
  systemNamespace: SYSTEM_NAMESPACE,
  resolveGraceMs: 10_000,
  deadlineGraceMs: 30_000,
  cleanupTimeoutMs: 10 * 60_000,
  fileRoot: '/var/pcapper',
};

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Decision {
  /** Add or remove the cleanup finalizer (metadata write; done first). */
  finalizer?: 'add' | 'remove';
  /** The complete set of status fields the controller owns (SSA body), or undefined to leave status alone. */
  status?: PacketCaptureStatus;
  /** The status apply takes a phase an agent owns: re-read, re-decide, then apply with force. */
  needsForce: boolean;
  /** Events to record once `status` has been applied (or right away when status is undefined). */
  events: PlannedEvent[];
  /** Delete the capture (ttlSecondsAfterFinished passed). */
  deleteCapture: boolean;
  /** Reconcile again after this many ms (deadlines, grace periods, TTL). */
  requeueAfterMs?: number;
  /** Deletion: delete the capture's objects from this store first (the shell records StoreCleanedUp, then reconciles again). */
  cleanStore?: PacketCaptureStore;
}

const ms = (iso: string | undefined): number | undefined => {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
};
const iso = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

type Verdict = { phase: 'Failed'; reason: string; message: string };

/** Nodes that (may) hold files of the capture: agents' status.nodes entries and nodes of started targets. */
export function nodesWithFiles(status: PacketCaptureStatus | undefined): string[] {
  const s = new Set<string>();
  for (const n of status?.nodes ?? []) if (n.node) s.add(n.node);
  for (const t of status?.targets ?? []) if (t.node && (t.startTime || (t.files?.length ?? 0) > 0 || t.phase === 'Running' || t.phase === 'Finished')) s.add(t.node);
  return [...s].sort();
}

/** The TargetsResolved message and the WaitingForPods Event of a capture waiting for matching pods. */
function waitMessage(problemText: string, windowEnd: number | undefined): string {
  const until = windowEnd !== undefined ? `until ${iso(windowEnd)} (the end of the capture window)` : 'until one matches or the capture is deleted (no time limit: packetCount only)';
  return `waiting for pods: ${problemText}; pods that start matching are captured; waiting ${until}`;
}

/**
 * Decides what to do with one capture.
 * @param ownedPhases names of targets whose `phase` the controller owns now (from managedFields, see ownedTargetFields()).
 */
export function decide(pc: PacketCapture, world: World, cfg: ReconcileConfig, now: number, ownedPhases: ReadonlySet<string>): Decision {
  const ns = pc.metadata.namespace ?? '';
  const name = pc.metadata.name ?? '';
  const prev = pc.status ?? {};
  const nowIso = iso(now);
  const gen = pc.metadata.generation;
  const events: PlannedEvent[] = [];
  const finalizers = pc.metadata.finalizers ?? [];
  const d: Decision = { needsForce: false, events, deleteCapture: false };
  const wake: number[] = [];

  // ---- deletion: wait for agents to clean their files, then release the finalizer ----
  if (pc.metadata.deletionTimestamp) {
    if (!finalizers.includes(FINALIZER)) return d;
    // the store's objects go first; the finalizer stays while the store refuses (docs/storage.md section 8)
    const st = world.storeWorld ? storeOfDeleted(pc, world.storeWorld) : undefined;
    if (st && prev.conditions?.find((c) => c.type === CONDITIONS.StoreCleanedUp)?.status !== 'True') {
      d.cleanStore = st;
      return d;
    }
    const deletedAt = ms(String(pc.metadata.deletionTimestamp)) ?? now;
    const nodes = nodesWithFiles(prev);
    const byNode = new Map<string, NodeStatus>((prev.nodes ?? []).map((n) => [n.node, n]));
    const waiting = nodes.filter((n) => world.nodeExists(n) && byNode.get(n)?.cleanedUp !== true);
    if (waiting.length === 0) {
      d.finalizer = 'remove';
      events.push({ type: 'Normal', reason: 'CleanedUp', message: nodes.length ? `capture files removed from ${nodes.join(', ')}` : 'no capture files to remove' });
    } else if (now >= deletedAt + cfg.cleanupTimeoutMs) {
      d.finalizer = 'remove';
      events.push({
        type: 'Warning',
        reason: 'CleanupTimedOut',
        message: `nodes ${waiting.join(', ')} did not report their capture files removed within ${Math.round(cfg.cleanupTimeoutMs / 1000)} s; the agents remove leftover files by age (DELETE_OLDER_THAN)`,
      });
    } else {
      d.requeueAfterMs = deletedAt + cfg.cleanupTimeoutMs - now;
    }
    return d;
  }
  if (!finalizers.includes(FINALIZER)) d.finalizer = 'add';

  // ---- validation and tenancy: a refusal is terminal, recorded in status and an Event ----
  const resolved = resolveSpec(pc.spec, ns);
  let spec: ResolvedCaptureSpec | undefined;
  let refusal: { reason: string; message: string; invalid: SpecProblem[]; event?: string } | undefined;
  let hasStore = false;
  if (!resolved.ok) {
    refusal = {
      reason: resolved.problems[0]?.reason ?? 'InvalidSpec',
      message: resolved.problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      invalid: resolved.problems,
    };
  } else {
    const t = checkTenancy(ns, resolved.spec.target, cfg.systemNamespace);
    if (t) refusal = { reason: t.reason, message: t.message, invalid: [] };
    else spec = resolved.spec;
  }
  // the store: checked until the capture ends (a store deleted later does not fail a finished capture)
  if (!refusal && world.storeWorld) {
    const r = resolveStore(pc, world.storeWorld, cfg.systemNamespace);
    // a capture this check refused stays refused (its terminal status must not flip to Valid on the next pass)
    const refusedBefore = prev.conditions?.some((c) => c.type === CONDITIONS.Invalid && c.status === 'True' && r.kind === 'refused' && c.reason === r.reason);
    if (r.kind === 'refused' && (!terminal(prev.progress) || refusedBefore)) {
      refusal = { reason: r.reason, message: r.message, invalid: [], event: r.reason };
      spec = undefined;
    } else hasStore = r.kind === 'store' || (r.kind === 'refused' && pc.spec.store !== undefined);
  } else if (!refusal && pc.spec.store !== undefined) {
    refusal = { reason: 'StoreNotFound', message: `spec.store "${pc.spec.store}": this controller runs without store support (no PacketCaptureStore CRD or credentials mount); install the chart with stores`, invalid: [], event: 'StoreNotFound' };
    spec = undefined;
  }

  // the sink (spec.sink): it must exist and allow the namespace; a refusal stays (like the store's)
  if (!refusal && pc.spec.sink !== undefined) {
    const r = resolveSink(pc, world.sinkWorld, cfg.systemNamespace);
    const refusedBefore = r.kind === 'refused' && prev.conditions?.some((c) => c.type === CONDITIONS.Invalid && c.status === 'True' && c.reason === r.reason);
    if (r.kind === 'refused' && (!terminal(prev.progress) || refusedBefore)) {
      refusal = { reason: r.reason, message: r.message, invalid: [], event: r.reason };
      spec = undefined;
    }
  }

  const startMs = ms(prev.startTime) ?? now;
  const prevProgress = prev.progress;
  const windowEnd = spec?.captureSeconds !== undefined ? startMs + spec.captureSeconds * 1000 : undefined;
  const joinOpen = !!spec && joinWindowOpen(prevProgress, windowEnd, now);

  // ---- plan ----
  const existing = prev.targets ?? [];
  let planned: PlannedTarget[] = [];
  let problems: PlanProblem[] = [];
  if (spec) {
    const r = planTargets(spec.target, existing, world, joinOpen);
    planned = r.targets;
    problems = r.problems;
  } else {
    planned = existing.map((e) => ({ name: e.name, kind: e.kind ?? 'pod', namespace: e.namespace, pod: e.pod, podUID: e.podUID, node: e.node, interface: e.interface }));
  }
  const resolveDeadline = (ms(pc.metadata.creationTimestamp ? String(pc.metadata.creationTimestamp) : undefined) ?? startMs) + cfg.resolveGraceMs;
  // A podSelector/workload capture with no matching pod (yet) is not broken: it waits for pods
  // until its capture window ends (issue 16 item 8), unless spec.failIfNoTargets asks to fail
  // fast. A missing named pod, workload or node is more likely a typo: that fails after the grace.
  const waitingForPods = !!spec && !spec.failIfNoTargets && planned.length === 0 && problems.length > 0 && problems.every((p) => p.reason === 'NoPodsMatched');
  const giveUpAt = waitingForPods ? windowEnd : resolveDeadline;
  const unresolvable = !!spec && planned.length === 0 && problems.length > 0 && giveUpAt !== undefined && now >= giveUpAt;
  const waiting = waitingForPods && !unresolvable;
  if (spec && planned.length === 0 && problems.length > 0 && !unresolvable && giveUpAt !== undefined) wake.push(giveUpAt);

  // ---- verdicts on targets (the controller's exception to agent ownership) ----
  const current = new Map<string, TargetStatus>(existing.map((t) => [t.name, t]));
  const verdicts = new Map<string, Verdict>();
  const newVerdicts: string[] = [];
  for (const t of planned) {
    const cur = current.get(t.name);
    const phase = cur?.phase;
    if (phase && ownedPhases.has(t.name)) {
      // keep our earlier verdict (omitting it would delete it: SSA)
      verdicts.set(t.name, { phase: 'Failed', reason: cur?.reason ?? 'Failed', message: cur?.message ?? '' });
      continue;
    }
    if (phase === 'Finished' || phase === 'Failed') continue;
    const notStarted = phase === undefined || phase === 'Pending' || phase === 'Scheduled';
    let v: Verdict | undefined;
    const node = t.node ?? '';
    if (node && !world.nodeExists(node)) {
      v = { phase: 'Failed', reason: 'NodeNotFound', message: `node ${node} is gone` };
    } else if (notStarted && t.kind === 'pod') {
      const p = world.pod(t.namespace ?? '', t.pod ?? '');
      if (!p || (t.podUID && p.metadata?.uid !== t.podUID)) v = { phase: 'Failed', reason: 'PodGone', message: `pod ${t.namespace}/${t.pod} was deleted before the capture started` };
      else if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') v = { phase: 'Failed', reason: 'PodTerminated', message: `pod ${t.namespace}/${t.pod} is ${p.status.phase} before the capture started` };
      else {
        const h = checkHostNetwork(ns, p, cfg.systemNamespace);
        if (h) v = { phase: 'Failed', ...h };
      }
    }
    if (!v && spec) {
      if (notStarted && windowEnd !== undefined) {
        const deadline = windowEnd + cfg.deadlineGraceMs;
        if (now >= deadline) v = { phase: 'Failed', reason: 'NotStarted', message: `no agent started capturing on node ${node || '(none)'} within ${spec.captureSeconds} s + ${Math.round(cfg.deadlineGraceMs / 1000)} s grace` };
        else wake.push(deadline);
      } else if (phase === 'Running' && spec.captureSeconds !== undefined) {
        const began = ms(cur?.startTime) ?? startMs;
        const reported = ms(cur?.lastUpdateTime) ?? began;
        const deadline = Math.max(began + spec.captureSeconds * 1000, reported) + cfg.deadlineGraceMs;
        if (now >= deadline) v = { phase: 'Failed', reason: 'AgentNotReporting', message: `still Running ${Math.round((now - began) / 1000)} s after it started (capture ${spec.captureSeconds} s); the agent on node ${node} stopped reporting` };
        else wake.push(deadline);
      }
    }
    if (v) {
      verdicts.set(t.name, v);
      newVerdicts.push(t.name);
      if (phase !== undefined) d.needsForce = true; // an agent owns this phase (we checked ours above)
    }
  }

  // ---- the status the controller owns ----
  const targets: TargetStatus[] = planned.map((t) => {
    const e: TargetStatus = { name: t.name, kind: t.kind };
    if (t.namespace) e.namespace = t.namespace;
    if (t.pod) e.pod = t.pod;
    if (t.podUID) e.podUID = t.podUID;
    if (t.node) e.node = t.node;
    if (t.interface) e.interface = t.interface;
    const v = verdicts.get(t.name);
    if (v) Object.assign(e, v);
    return e;
  });
  // the effective view (agents' observations + our verdicts) for aggregation
  const effective: TargetStatus[] = targets.map((t) => {
    const cur = current.get(t.name);
    const v = verdicts.get(t.name);
    return { ...cur, ...t, ...(v ?? {}) };
  });
  const agg = aggregate(effective);
  // waiting for pods is visible as `scheduled` (the capture is accepted and will run when one comes)
  // A selector or workload capture with a time window whose targets all ended because their pods
  // went away keeps taking new pods until the window ends (a pod replaced mid-capture must not end
  // it). Targets that ended for any other reason (a bad filter, the agent's own end) end the capture
  // as before, and so do count-limited and triggered captures.
  const podLifecycleEnd = new Set(['PodDeleted', 'PodGone', 'PodTerminated']);
  const openForNewTargets =
    !!spec &&
    joinOpen &&
    windowEnd !== undefined &&
    (spec.target.kind === 'selector' || spec.target.kind === 'workload') &&
    spec.packetCount === undefined &&
    !spec.trigger &&
    effective.length > 0 &&
    effective.every((t) => (t.phase !== 'Finished' && t.phase !== 'Failed') || podLifecycleEnd.has(t.reason ?? ''));
  if (openForNewTargets && windowEnd !== undefined) wake.push(windowEnd);
  const progress = progressOf(agg, { refused: !!refusal, unresolvable, prev: prevProgress, openForNewTargets }) ?? (waiting ? 'scheduled' : undefined);

  const conditions: Condition[] = [];
  const problemText = problems.map((p) => p.message).join('; ');
  let resolvedMsg = problemText;
  conditions.push(
    refusal
      ? condition(prev.conditions, CONDITIONS.Invalid, 'True', refusal.reason, refusal.message, nowIso, gen)
      : condition(prev.conditions, CONDITIONS.Invalid, 'False', 'Valid', 'spec is valid and allowed', nowIso, gen),
  );
  if (refusal) conditions.push(condition(prev.conditions, CONDITIONS.TargetsResolved, 'False', 'Refused', 'no targets: the spec was refused', nowIso, gen));
  else if (problems.length === 0) conditions.push(condition(prev.conditions, CONDITIONS.TargetsResolved, 'True', 'Resolved', `${agg.total} target(s) planned`, nowIso, gen));
  else {
    const reason = waiting ? 'WaitingForPods' : (problems[0]?.reason ?? 'Unresolved');
    const waitedMs = waitingForPods ? (spec?.captureSeconds ?? 0) * 1000 : cfg.resolveGraceMs;
    resolvedMsg =
      planned.length > 0
        ? `${planned.length} target(s) planned; ${problemText}`
        : unresolvable
          ? `${problemText} (waited ${Math.round(waitedMs / 1000)} s${waitingForPods ? ', the whole capture window' : ''})`
          : waiting
            ? `${waitMessage(problemText, windowEnd)}`
            : `waiting: ${problemText}`;
    conditions.push(condition(prev.conditions, CONDITIONS.TargetsResolved, 'False', reason, resolvedMsg, nowIso, gen));
  }
  conditions.push(
    agg.running > 0
      ? condition(prev.conditions, CONDITIONS.Capturing, 'True', 'Capturing', `${agg.running} of ${agg.total} target(s) capturing`, nowIso, gen)
      : condition(prev.conditions, CONDITIONS.Capturing, 'False', terminal(progress) ? 'Completed' : 'NotCapturing', `${agg.running} of ${agg.total} target(s) capturing`, nowIso, gen),
  );
  conditions.push(
    agg.failed > 0 && agg.failed < agg.total
      ? condition(prev.conditions, CONDITIONS.PartialFailure, 'True', 'SomeTargetsFailed', `${agg.failed} of ${agg.total} target(s) failed: ${describeFailures(effective)}`, nowIso, gen)
      : agg.failed > 0
        ? condition(prev.conditions, CONDITIONS.PartialFailure, 'False', 'AllTargetsFailed', `all ${agg.total} target(s) failed: ${describeFailures(effective)}`, nowIso, gen)
        : condition(prev.conditions, CONDITIONS.PartialFailure, 'False', 'NoFailures', 'no target failed', nowIso, gen),
  );

  const uploaded = uploadedFor(pc, hasStore, terminal(progress), (n) => world.nodeExists(n), nowIso);
  if (uploaded) conditions.push(uploaded);

  const status: PacketCaptureStatus = {
    observedGeneration: gen,
    targetsTotal: agg.total,
    targetsRunning: agg.running,
    targetsFinished: agg.finished,
    targetsFailed: agg.failed,
    packets: agg.packets,
    bytes: agg.bytes,
    drops: agg.drops,
    ...(agg.recordsPublished !== undefined ? { recordsPublished: agg.recordsPublished } : {}),
    ...(agg.recordsDropped !== undefined ? { recordsDropped: agg.recordsDropped } : {}),
    fileLocation: `${cfg.fileRoot}/${ns}/${name}`,
    startTime: prev.startTime ?? nowIso,
    targets,
    conditions,
  };
  if (gen === undefined) delete status.observedGeneration;
  if (progress) status.progress = progress;
  if (agg.nodes.length > 0) status.node = agg.nodes.join(',');
  if (terminal(progress)) status.completionTime = prev.completionTime ?? nowIso;
  d.status = status;

  // ---- events: transitions and rejections (relative to the cached status) ----
  if (refusal && prev.conditions?.find((c) => c.type === CONDITIONS.Invalid)?.status !== 'True') {
    events.push({ type: 'Warning', reason: refusal.invalid.length > 0 ? 'InvalidSpec' : (refusal.event ?? 'Forbidden'), message: refusal.message });
  }
  const prevNames = new Set(existing.map((t) => t.name));
  const added = targets.filter((t) => !prevNames.has(t.name));
  if (added.length > 0 && prevProgress !== undefined) {
    events.push({ type: 'Normal', reason: 'TargetsAdded', message: `${added.length} target(s) joined: ${added.slice(0, 5).map((t) => t.name).join(', ')}${added.length > 5 ? ', ...' : ''}` });
  }
  for (const n of newVerdicts.slice(0, 10)) {
    const v = verdicts.get(n);
    if (v) events.push({ type: 'Warning', reason: 'TargetFailed', message: `${n}: ${v.reason}: ${v.message}` });
  }
  if (newVerdicts.length > 10) events.push({ type: 'Warning', reason: 'TargetFailed', message: `${newVerdicts.length - 10} more target(s) failed` });
  const prevResolved = prev.conditions?.find((c) => c.type === CONDITIONS.TargetsResolved);
  if (waiting && prevResolved?.reason !== 'WaitingForPods') events.push({ type: 'Normal', reason: 'WaitingForPods', message: waitMessage(problemText, windowEnd) });
  if (progress !== prevProgress && progress !== undefined && !(waiting && progress === 'scheduled')) {
    const where = agg.nodes.length ? ` on ${agg.nodes.length <= 5 ? agg.nodes.join(', ') : `${agg.nodes.length} nodes`}` : '';
    switch (progress) {
      case 'scheduled':
        events.push({ type: 'Normal', reason: 'Scheduled', message: `${agg.total} target(s) planned${where}` });
        break;
      case 'running':
        events.push({ type: 'Normal', reason: 'Running', message: `${agg.running} of ${agg.total} target(s) capturing${where}` });
        break;
      case 'finished':
        events.push(
          agg.failed > 0
            ? { type: 'Warning', reason: 'FinishedWithFailures', message: `${agg.finished} target(s) finished, ${agg.failed} failed: ${describeFailures(effective)}` }
            : { type: 'Normal', reason: 'Finished', message: `${agg.finished} target(s) finished: ${agg.packets} packets, ${agg.bytes} bytes${agg.drops ? `, ${agg.drops} dropped by the kernel` : ''}` },
        );
        break;
      case 'failure':
        events.push({
          type: 'Warning',
          reason: 'Failed',
          message: refusal ? refusal.message : agg.total === 0 ? resolvedMsg || 'no targets' : `all ${agg.total} target(s) failed: ${describeFailures(effective)}`,
        });
        break;
    }
  }

  // ---- TTL after finishing ----
  const ttl = spec?.ttlSecondsAfterFinished ?? (typeof pc.spec.ttlSecondsAfterFinished === 'number' ? pc.spec.ttlSecondsAfterFinished : undefined);
  const doneAt = ms(status.completionTime);
  if (ttl !== undefined && doneAt !== undefined) {
    const at = doneAt + ttl * 1000;
    if (now >= at) {
      d.deleteCapture = true;
      events.push({ type: 'Normal', reason: 'Expired', message: `deleted ${ttl} s after it finished (ttlSecondsAfterFinished)` });
    } else wake.push(at);
  }
  const next = wake.filter((t) => t > now).sort((a, b) => a - b)[0];
  if (next !== undefined) d.requeueAfterMs = next - now;
  return d;
}
