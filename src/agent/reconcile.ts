/**
 * Reconcile one capture key (namespace/name) on this node: read the capture from the cache,
 * let planCapture() (pure, src/agent/plan.ts) decide from current state, and carry out its
 * actions: start targets (in the background), record targets interrupted by an agent restart,
 * adopt finished ones, stop targets whose pod went away, clean up a deleted capture.
 *
 * An error thrown from here (e.g. the capture's files cannot be removed) goes back to the work
 * queue, which retries the key with backoff; a terminal API error is recorded and not retried.
 */
import type { PacketCapture } from '../api/packetcapture.js';
import { captureDirOf, targetDirName, type TargetRef } from '../capture/tcpdump.js';
import { stat } from 'node:fs/promises';
import { isoAt, markDirty, type AgentContext } from './context.js';
import { ownTargets, planCapture } from './plan.js';
import { agentKeyring, filesOnDisk, stopSession } from './session.js';
import { requeueFiles } from './store-hooks.js';
import { join } from 'node:path';
import type { FileUpload, TargetStatus } from '../api/packetcapture.js';
import { startTarget } from './start.js';
import { applyFirings, noteRearm, rearmable } from './lookback.js';
import { newCaptureState, observationOf, observe, type CaptureState } from './state.js';

export async function reconcile(ctx: AgentContext, key: string, podWaitMs: number): Promise<void> {
  const node = ctx.config.nodeName;
  const pc = ctx.captures.get(key);
  let st = ctx.states.get(key);
  if (st && pc && pc.metadata.uid !== st.uid) {
    // same name, new object: the old one is gone
    await cleanup(ctx, st, undefined);
    st = undefined;
  }
  if (!st) {
    if (!pc) return;
    st = newCaptureState(pc, node);
    ctx.states.set(key, st);
  }
  const state = st;
  // the agent's own plan of its node's pods (a running selector capture): new pods start at once
  const own = ownTargets({ capture: pc, node, systemNamespace: ctx.config.systemNamespace, pods: ctx.pods.list(), now: ctx.clock.now() });
  const actions = planCapture({ capture: pc, node, local: state.local, pod: (ns, n) => ctx.pods.get(`${ns}/${n}`), own, unplanned: state.unplanned });
  for (const a of actions) {
    switch (a.kind) {
      case 'cleanup':
        await cleanup(ctx, state, pc);
        break;
      case 'start':
        state.local.set(a.entry.name, { phase: 'Scheduled', active: true });
        if (a.own) state.unplanned.set(a.entry.name, a.entry);
        ctx.track(startTarget(ctx, state, pc as PacketCapture, a.entry, podWaitMs));
        break;
      case 'planned':
        // the controller's entry arrived: the running target is adopted and reported from now on
        state.unplanned.delete(a.target);
        markDirty(ctx, state, true);
        break;
      case 'interrupted': {
        if (pc && rearmable(pc, a.entry)) {
          // armed and not fired: nothing was written, the window lived in the old process's memory; a fresh one (docs/triggers.md)
          noteRearm(state, a.entry, ctx.clock.now());
          state.local.set(a.entry.name, { phase: 'Scheduled', active: true });
          ctx.events.record(state.subject, 'Warning', 'Rearmed', `node ${node}: target ${a.entry.name} was armed when the agent restarted: re-armed with a fresh look-back window; the packets before ${isoAt(ctx.clock)} were not kept`);
          ctx.track(startTarget(ctx, state, pc, a.entry, podWaitMs));
          break;
        }
        const files = await filesOnDisk(ctx.config.dataDir, state, a.entry, agentKeyring(ctx), ctx.log);
        const onDisk = files.files.map((f) => f.name);
        // files already uploaded (and removed from the node) stay listed with their upload state
        for (const f of a.entry.files ?? []) {
          if (f.upload) state.uploads.set(a.entry.name, (state.uploads.get(a.entry.name) ?? new Map<string, FileUpload>()).set(f.name, f.upload));
          if (f.upload?.state === 'Uploaded' && !files.files.some((x) => x.name === f.name)) {
            files.files.push({ name: f.name, size: f.size ?? 0 });
            files.bytes += f.size ?? 0;
          }
        }
        files.files.sort((x, y) => x.name.localeCompare(y.name, 'en', { numeric: true }));
        requeue(ctx, state, a.entry, onDisk);
        observe(state, a.entry.name, {
          ...observationOf(a.entry),
          phase: 'Failed',
          reason: 'AgentRestarted',
          message: 'the agent on this node restarted during the capture; the files written until then are kept and can be downloaded',
          ...files,
          finishTime: isoAt(ctx.clock),
        });
        state.local.set(a.entry.name, { phase: 'Failed', active: false });
        ctx.metrics.targetFailed();
        ctx.events.record(state.subject, 'Warning', 'AgentRestarted', `node ${node}: target ${a.entry.name} was interrupted by an agent restart; its files are kept`);
        markDirty(ctx, state, true);
        break;
      }
      case 'adopt': {
        state.obs.set(a.entry.name, observationOf(a.entry));
        state.local.set(a.entry.name, { phase: a.entry.phase ?? 'Finished', active: false });
        // after a restart: files of an ended target not yet in the store are queued again (journals resume)
        for (const f of a.entry.files ?? []) if (f.upload) state.uploads.set(a.entry.name, (state.uploads.get(a.entry.name) ?? new Map<string, FileUpload>()).set(f.name, f.upload));
        const pending = (a.entry.files ?? []).filter((f) => f.upload?.state !== 'Uploaded').map((f) => f.name);
        requeue(ctx, state, a.entry, pending);
        break;
      }
      case 'stop': {
        const s = state.sessions.get(a.target);
        if (s) ctx.track(stopSession(ctx, state, s, { phase: a.reason === 'PodDeleted' ? 'Finished' : 'Failed', reason: a.reason, message: a.message }));
        break;
      }
    }
  }
  if (pc) applyFirings(ctx, state, pc); // triggered captures: a firing freezes the armed windows
  // A capture with nothing on this node (anymore) and no files: forget it.
  if (!pc && state.sessions.size === 0) ctx.states.delete(key);
}

/** Queues the named files of a target directory again (captures with a store). */
function requeue(ctx: AgentContext, st: CaptureState, entry: TargetStatus, names: readonly string[]): void {
  let dir: string;
  try {
    const t: TargetRef = entry.kind === 'node' ? { kind: 'node', interface: entry.interface ?? 'any' } : { kind: 'pod', namespace: entry.namespace ?? '', pod: entry.pod ?? '' };
    dir = join(captureDirOf(ctx.config.dataDir, st.namespace, st.name), targetDirName(t));
  } catch {
    return;
  }
  requeueFiles(ctx, st, entry.name, dir, names);
}

/**
 * The capture is being deleted (pc set) or is gone (pc undefined): stop its tcpdumps, remove its
 * files (throws when they cannot be removed: the queue retries), report cleanedUp once.
 */
export async function cleanup(ctx: AgentContext, st: CaptureState, pc: PacketCapture | undefined): Promise<void> {
  const node = ctx.config.nodeName;
  const stops = [...st.sessions.values()].map((s) => stopSession(ctx, st, s, { phase: 'Failed', reason: 'CaptureDeleted', message: 'the PacketCapture was deleted' }, 500));
  await Promise.all(stops);
  const involved =
    st.obs.size > 0 ||
    (pc?.status?.targets ?? []).some((t) => t.node === node) ||
    (pc?.status?.nodes ?? []).some((n) => n.node === node) ||
    (await stat(captureDirOf(ctx.config.dataDir, st.namespace, st.name)).then(
      () => true,
      () => false,
    ));
  ctx.uploads?.forget(st.key);
  await ctx.backend.cleanup(st.namespace, st.name);
  if (!pc) {
    ctx.status.forget(st.key);
    ctx.states.delete(st.key);
    ctx.log.info('capture gone: files removed', { capture: st.key });
    return;
  }
  if (st.cleanedUp || !involved) return;
  st.cleanedUp = true;
  for (const o of st.obs.values()) {
    o.files = [];
    o.bytes = 0;
  }
  ctx.log.info('capture deleted: tcpdump stopped, files removed', { capture: st.key });
  ctx.events.record(st.subject, 'Normal', 'CleanedUp', `node ${node}: capture files removed`);
  markDirty(ctx, st, true);
}
