/**
 * The start state machine of one target: check the spec and the target, the node's capture cap,
 * disk admission (a reservation of the promised bytes), then wait for the pod's container and
 * start tcpdump through the capture backend.
 *
 * Waiting for the pod is driven by the pod informer: the machine sleeps until the pod changes
 * (a container starts, the pod is deleted), the target is stopped, or the wait deadline passes.
 * One poll remains, on the injected clock: after the backend's transient "container process not
 * found" (the kubelet reports a container before its process is visible in /proc, and no API
 * event says when it becomes visible), the backend is asked again after SETUP_RETRY_MS.
 */
import type { PacketCapture, TargetStatus } from '../api/packetcapture.js';
import { resolveSpec } from '../api/validate.js';
import { CaptureSetupError, type PreparedCapture } from '../capture/backend.js';
import { parseContainerId } from '../capture/netns.js';
import { podLookup } from '../capture/sandbox.js';
import { promisedBytes, targetDirName, type TargetRef, type TcpdumpOptions } from '../capture/tcpdump.js';
import { markDirty, type AgentContext } from './context.js';
import { began, failTarget, finishObservation, stopSession } from './session.js';
import { activeCount, allSessions, observe, type CaptureState, type Pod, type Session } from './state.js';

/** Retry of the backend after a transient setup error (container process not visible yet). */
export const SETUP_RETRY_MS = 200;
/**
 * The same retry while a pod's sandbox is looked for by pod UID (no container yet): the app starts
 * ~100 ms after its sandbox and no API event says when the sandbox's process has joined the pod's
 * cgroup, so the /proc scan (~1 ms, sandbox.ts) runs this often until it is found
 * (bench/pod-start.ts: with 200 ms, sandbox -> netns found was p50 219 / p90 572 ms).
 */
export const SANDBOX_RETRY_MS = 10;
/**
 * A target started from the agent's own plan (src/agent/plan.ts ownTargets) that the controller
 * has not planned into status this long after tcpdump started is stopped (TargetRemoved): the
 * controller decides in the end. Normally its entry comes within a second.
 */
export const UNPLANNED_GRACE_MS = 30_000;

/** The tcpdump options of a target, or why it cannot be captured. Pure. */
export function targetOptions(
  pc: PacketCapture,
  namespace: string,
  entry: TargetStatus,
  packetBuffered: boolean,
): { ok: true; target: TargetRef; opts: TcpdumpOptions; dirName: string; recipients?: readonly string[] } | { ok: false; reason: string; message: string } {
  const resolved = resolveSpec(pc.spec, namespace);
  if (!resolved.ok) return { ok: false, reason: 'InvalidSpec', message: resolved.problems.map((p) => `${p.field}: ${p.message}`).join('; ') };
  const spec = resolved.spec;
  let target: TargetRef;
  if (entry.kind === 'node') target = { kind: 'node', interface: entry.interface ?? spec.interfaceName };
  else if (entry.kind === 'pod' && entry.namespace && entry.pod) target = { kind: 'pod', namespace: entry.namespace, pod: entry.pod };
  else return { ok: false, reason: 'InvalidTarget', message: `status target ${entry.name} has no kind/namespace/pod or kind/interface` };
  const opts: TcpdumpOptions = {
    interface: target.kind === 'node' ? target.interface : (entry.interface ?? spec.interfaceName),
    filter: spec.captureFilter,
    snapLength: spec.snapLength,
    packetCount: spec.packetCount,
    maxFileSizeBytes: spec.maxFileSizeBytes,
    fileCount: spec.fileCount,
    bufferKiB: 4096,
    packetBuffered,
    // live captures: packets leave the kernel at once (bench/live-latency), at some capture rate
    immediateMode: spec.immediate,
    ...(spec.trigger ? { lookBack: { seconds: spec.trigger.lookBackSeconds, bytes: spec.trigger.lookBackBytes } } : {}),
  };
  try {
    return { ok: true, target, opts, dirName: targetDirName(target), ...(spec.recipients ? { recipients: spec.recipients } : {}) };
  } catch (e) {
    return { ok: false, reason: 'InvalidTarget', message: (e as Error).message };
  }
}

/** What the pod cache says about a pod target now. Pure. */
export function podReadiness(
  target: Extract<TargetRef, { kind: 'pod' }>,
  entry: TargetStatus,
  cached: Pod | undefined,
  node: string,
  sandboxLookup = false,
): { pod: Pod | undefined; containerIds: string[]; podUid?: string; terminated?: string; waiting?: string } {
  const pod = cached && entry.podUID && cached.metadata?.uid !== entry.podUID ? undefined : cached;
  const who = `pod ${target.namespace}/${target.pod}`;
  const containerIds = (pod?.status?.containerStatuses ?? []).map((c) => parseContainerId(c.containerID)?.id).filter((x): x is string => x !== undefined);
  if (pod?.status?.phase === 'Succeeded' || pod?.status?.phase === 'Failed') return { pod, containerIds, terminated: `${who} has terminated (phase ${pod.status.phase})` };
  // no container yet: the sandbox by pod UID when the backend can (issue 15 item 3), else wait
  const lookup = pod ? podLookup(containerIds, pod.metadata?.uid ?? entry.podUID, sandboxLookup) : { by: 'wait' as const };
  if (lookup.by === 'sandbox') return { pod, containerIds, podUid: lookup.podUid };
  if (containerIds.length === 0) return { pod, containerIds, waiting: pod ? `${who} has no started container yet` : `${who} is not (yet) on node ${node}` };
  return { pod, containerIds };
}

/** Starts one target (runs in the background; every outcome ends in the target's status). */
export async function startTarget(ctx: AgentContext, st: CaptureState, pc: PacketCapture, entry: TargetStatus, podWaitMs: number): Promise<void> {
  const node = ctx.config.nodeName;
  // wall-clock marks of the start path, logged once capturing (bench/pod-start.ts reads them)
  const learnedAt = Date.now();
  // started from the agent's own plan, before the controller's status entry (plan.ts ownTargets)
  const own = st.unplanned.has(entry.name);
  let netnsAt = 0;
  let setupTries = 0;
  const t = targetOptions(pc, st.namespace, entry, ctx.config.packetBuffered);
  if (!t.ok) {
    failTarget(ctx, st, entry, t.reason, t.message);
    return;
  }
  const { target, opts, dirName, recipients } = t;
  // node cap (this target is already counted as active)
  if (activeCount(ctx.states.values()) > ctx.config.maxConcurrentCaptures) {
    failTarget(ctx, st, entry, 'NodeCaptureLimit', `node ${node} already runs ${ctx.config.maxConcurrentCaptures} captures (PCAPPER_MAX_CAPTURES); delete finished captures or retry later`);
    return;
  }
  const request = promisedBytes(opts);
  const session: Session = {
    key: st.key,
    uid: st.uid,
    target: entry.name,
    dirName,
    entry,
    opts,
    promised: request,
    running: undefined,
    exited: false,
    stopReason: undefined,
    timers: [],
    startedAt: undefined,
    wake: undefined,
  };
  // disk guard, counting what the other targets were promised; atomic per node (issue 16 item 2)
  const verdict = await ctx.disk.admit(
    () => [...allSessions(ctx.states.values())].map((s) => ({ promisedBytes: s.promised, writtenBytes: ctx.states.get(s.key)?.obs.get(s.target)?.bytes ?? 0 })),
    request,
    () => st.sessions.set(entry.name, session),
  );
  if (!verdict.ok) {
    failTarget(ctx, st, entry, verdict.reason, verdict.message);
    return;
  }
  // find the pod's containers and start, waiting for a pod that is still starting
  const deadline = ctx.clock.now() + podWaitMs;
  let reportedWaiting = false;
  for (;;) {
    if (session.stopReason || ctx.stopping()) {
      st.sessions.delete(entry.name);
      finishObservation(ctx, st, session, undefined);
      return;
    }
    let containerIds: string[] = [];
    let podUid: string | undefined;
    let pod: Pod | undefined;
    let problem: string | undefined;
    let retrySetup = false;
    if (target.kind === 'pod') {
      const r = podReadiness(target, entry, ctx.pods.get(`${target.namespace}/${target.pod}`), node, ctx.backend.sandboxLookup === true);
      if (r.terminated) {
        st.sessions.delete(entry.name);
        failTarget(ctx, st, entry, 'PodNotRunning', r.terminated);
        return;
      }
      ({ pod, containerIds, podUid } = r);
      problem = r.waiting;
    }
    let prepared: PreparedCapture | undefined;
    if (problem === undefined) {
      try {
        setupTries++;
        prepared = await ctx.backend.setup({ captureNamespace: st.namespace, captureName: st.name, target, containerIds, podUid, options: opts, recipients, now: new Date(ctx.clock.now()) });
      } catch (e) {
        // transient: the container's process is not visible yet; anything else fails the target
        if (e instanceof CaptureSetupError && e.transient) {
          problem = e.message;
          retrySetup = true;
        } else {
          st.sessions.delete(entry.name);
          failTarget(ctx, st, entry, e instanceof CaptureSetupError ? e.reason : 'CaptureFailed', (e as Error).message);
          return;
        }
      }
    }
    if (prepared) {
      netnsAt = Date.now();
      try {
        session.running = await ctx.backend.capture(prepared);
      } catch (e) {
        st.sessions.delete(entry.name);
        failTarget(ctx, st, entry, e instanceof CaptureSetupError ? e.reason : 'CaptureFailed', (e as Error).message);
        return;
      }
      if (session.stopReason || ctx.stopping()) {
        // deleted or stopped while tcpdump was starting
        const exit = await session.running.stop(300);
        session.exited = true;
        st.sessions.delete(entry.name);
        finishObservation(ctx, st, session, exit);
        return;
      }
      const listeningAt = Date.now();
      await began(ctx, st, session, pod, new Date(ctx.clock.now()));
      ctx.log.info('start timing', { capture: st.key, target: entry.name, learnedAt, netnsAt, listeningAt, setupTries, bySandbox: podUid !== undefined, own });
      if (st.unplanned.has(entry.name)) {
        session.timers.push(
          ctx.clock.setTimer(() => {
            if (!st.unplanned.has(entry.name)) return;
            const message = `the controller did not plan this target within ${UNPLANNED_GRACE_MS / 1000} s of its start from this agent's own plan; files up to then are kept`;
            ctx.track(stopSession(ctx, st, session, { phase: 'Failed', reason: 'TargetRemoved', message }));
          }, UNPLANNED_GRACE_MS),
        );
      }
      if (target.kind === 'pod' && podUid !== undefined) void verifySandbox(ctx, st, session, target, entry, prepared, podWaitMs);
      return;
    }
    const left = deadline - ctx.clock.now();
    if (left <= 0) {
      st.sessions.delete(entry.name);
      failTarget(ctx, st, entry, 'PodNotRunning', `${problem ?? 'pod not running'} (waited ${Math.round(podWaitMs / 1000)} s)`);
      return;
    }
    if (!reportedWaiting) {
      reportedWaiting = true;
      observe(st, entry.name, { phase: 'Scheduled', reason: 'WaitingForPod', message: problem ?? '' });
      markDirty(ctx, st, true);
    }
    if (session.stopReason || ctx.stopping()) continue; // stopped while the backend was asked
    const podKey = target.kind === 'pod' ? `${target.namespace}/${target.pod}` : '';
    await ctx.podChanged.next(podKey, retrySetup ? Math.min(podUid !== undefined ? SANDBOX_RETRY_MS : SETUP_RETRY_MS, left) : left, (wake) => (session.wake = wake));
  }
}

/**
 * A target captured from its sandbox (found by pod UID before any container ran): once the pod
 * status shows container IDs (a pod informer event), the containers must run in the namespace
 * being captured, else the target fails (NetnsMismatch) rather than capture the wrong traffic.
 * Waits on pod events; re-asks the backend on the clock only while the containers' process is not
 * visible yet (as the start machine does), bounded by the pod wait.
 */
async function verifySandbox(
  ctx: AgentContext,
  st: CaptureState,
  session: Session,
  target: Extract<TargetRef, { kind: 'pod' }>,
  entry: TargetStatus,
  prepared: PreparedCapture,
  podWaitMs: number,
): Promise<void> {
  const same = ctx.backend.sameNetns?.bind(ctx.backend);
  if (!same) return;
  const podKey = `${target.namespace}/${target.pod}`;
  const deadline = ctx.clock.now() + podWaitMs;
  for (;;) {
    if (session.stopReason || session.exited || ctx.stopping()) return;
    const r = podReadiness(target, entry, ctx.pods.get(podKey), ctx.config.nodeName);
    let retry = false;
    if (r.terminated || !r.pod) return; // the session's own exit handling reports these
    if (r.containerIds.length > 0) {
      try {
        const v = await same(prepared, r.containerIds);
        if (v.same) return;
        await stopSession(ctx, st, session, { phase: 'Failed', reason: 'NetnsMismatch', message: v.message });
        return;
      } catch (e) {
        if (!(e instanceof CaptureSetupError && e.transient)) {
          await stopSession(ctx, st, session, { phase: 'Failed', reason: 'NetnsMismatch', message: `cannot check the containers' network namespace: ${(e as Error).message}` });
          return;
        }
        retry = true;
      }
    }
    const left = deadline - ctx.clock.now();
    if (left <= 0) return; // containers never showed up: the capture goes on in the sandbox it pinned
    await ctx.podChanged.next(podKey, retry ? Math.min(SETUP_RETRY_MS, left) : left, (wake) => (session.wake = wake));
  }
}
