/**
 * One target's capture once tcpdump runs: the Running report and metadata sidecar, periodic
 * counters (tcpdump's SIGUSR1 statistics, file sizes), the captureSeconds timer, stopping, and the
 * final report when tcpdump exits (Finished or Failed with a reason, final file sizes).
 */
import { open, readdir, stat } from 'node:fs/promises';
import { MAGIC, type Keyring } from '../crypto/format.js';
import { loadKeyringDir } from '../crypto/secret-dir.js';
import { recoverRingFile } from './recover.js';
import { join } from 'node:path';
import type { TargetPhase, TargetStatus } from '../api/packetcapture.js';
import { resolveSpec } from '../api/validate.js';
import { captureDirOf, isCaptureFileName, ringFiles, targetDirName, type TargetRef } from '../capture/tcpdump.js';
import type { TcpdumpExit } from '../capture/runner.js';
import { isoAt, markDirty, type AgentContext } from './context.js';
import { metadataFor } from './metadata.js';
import { podGoneReason } from './plan.js';
import { observe, type CaptureState, type Observation, type Pod, type Session, type StopReason } from './state.js';
import { every } from './timers.js';
import { endpointMap, TargetAnalysis } from './analysis.js';
import type { EndpointInfo } from '../pcap/metadata.js';
import { targetEnded } from './store-hooks.js';
import { armSession } from './lookback.js';
import { trafficConsumer } from './traffic-trigger.js';

type Files = Pick<Observation, 'files' | 'bytes'> & { files: { name: string; size: number }[]; bytes: number };

/** tcpdump is capturing: report Running, write the metadata, arm the timers, watch for its exit. */
export async function began(ctx: AgentContext, st: CaptureState, s: Session, pod: Pod | undefined, startedAt: Date): Promise<void> {
  const run = s.running;
  if (!run) return;
  const node = ctx.config.nodeName;
  s.startedAt = startedAt;
  ctx.metrics.started();
  st.local.set(s.target, { phase: 'Running', active: true });
  const paths = run.prepared.paths;
  // metadata sidecar: who is who on the wire
  try {
    const meta = metadataFor({
      capture: st,
      node,
      systemNamespace: ctx.config.systemNamespace,
      session: s,
      pod,
      pods: ctx.pods.list(),
      linkType: run.listening.linkType ?? 1,
      startedAt,
    });
    startAnalysis(ctx, st, s, meta.endpoints);
    await ctx.backend.collectMetadata(run.prepared, meta);
  } catch (e) {
    ctx.log.warn('cannot write capture metadata', { err: e, capture: st.key, target: s.target });
  }
  observe(st, s.target, {
    phase: 'Running',
    reason: 'Capturing',
    message: `tcpdump is capturing on ${run.listening.interface} (${run.listening.linkTypeName})`,
    fileLocation: paths.hostTargetDir,
    startTime: startedAt.toISOString(),
    packets: 0,
    drops: 0,
    bytes: 0,
    files: [],
    lastUpdateTime: isoAt(ctx.clock),
  });
  run.flush(); // the file header, right away
  markDirty(ctx, st, true);
  ctx.events.record(st.subject, 'Normal', 'CaptureStarted', `node ${node}: capturing ${s.target} on ${run.listening.interface} into ${paths.hostTargetDir}`);
  ctx.log.info('capturing', { capture: st.key, target: s.target, pid: run.pid, dir: paths.targetDir });
  const resolved = resolveSpec(ctx.captures.get(st.key)?.spec, st.namespace);
  const seconds = resolved.ok ? resolved.spec.captureSeconds : undefined;
  const trigger = resolved.ok ? resolved.spec.trigger : undefined;
  if (trigger) armSession(ctx, st, s, trigger, seconds); // docs/triggers.md: its own timers
  else if (seconds !== undefined) {
    s.timers.push(
      ctx.clock.setTimer(() => {
        ctx.track(stopSession(ctx, st, s, { phase: 'Finished', reason: 'CaptureSecondsElapsed', message: `captured for ${seconds} s` }));
      }, seconds * 1000),
    );
  }
  s.timers.push(every(ctx.clock, ctx.config.statusIntervalMs, () => ctx.track(refresh(ctx, st, s))));
  ctx.track(
    run.exited.then(async (exit) => {
      if (!s.stopReason && exit.code !== 0 && s.entry.kind === 'pod') {
        // tcpdump dies with the pod's interfaces; the pod's deletion may reach the watch a moment later
        const gone = await waitPodGone(ctx, s.entry, 3000);
        if (gone && !s.stopReason) s.stopReason = { phase: 'Finished', reason: 'PodDeleted', message: `${gone} during the capture; files up to then are kept` };
      }
      s.exited = true;
      for (const t of s.timers) t.cancel();
      st.sessions.delete(s.target);
      finishObservation(ctx, st, s, exit);
    }),
  );
}

/** Waits (on pod informer changes, at most `ms`) until the target's pod is gone; returns why, or undefined. */
async function waitPodGone(ctx: AgentContext, entry: TargetStatus, ms: number): Promise<string | undefined> {
  const key = `${entry.namespace ?? ''}/${entry.pod ?? ''}`;
  const deadline = ctx.clock.now() + ms;
  for (;;) {
    const why = podGoneReason(entry, ctx.pods.get(key));
    const left = deadline - ctx.clock.now();
    if (why || left <= 0 || ctx.stopping()) return why;
    await ctx.podChanged.next(key, left, () => undefined);
  }
}

/** Periodic: counters from tcpdump (SIGUSR1) and sizes from disk. */
export async function refresh(ctx: AgentContext, st: CaptureState, s: Session): Promise<void> {
  if (!s.running || s.exited) return;
  const stats = await s.running.requestStats();
  const files = await sessionFiles(s);
  const o = st.obs.get(s.target);
  if (!o || s.exited) return;
  // quiet since the last look: tcpdump is idle, have it write out what it buffered
  if (files.bytes === o.bytes) s.running.flush();
  // the ring's unsealed tail (a steady trickle never fills a chunk nor goes quiet): seal it now, so
  // downloads of the running capture see packets within a status interval
  else if (s.running.seal) await s.running.seal().catch((err: unknown) => ctx.log.warn('cannot seal the ring file', { err, capture: st.key, target: s.target }));
  if (stats) {
    o.packets = stats.captured;
    o.drops = stats.droppedByKernel;
  }
  const rc = s.analysis ? ctx.analysis?.counts(s.analysis.target) : undefined;
  if (rc) Object.assign(o, rc);
  o.files = files.files;
  o.bytes = files.bytes;
  o.lastUpdateTime = isoAt(ctx.clock);
  markDirty(ctx, st, false);
}

async function listFiles(dir: string, names: readonly string[]): Promise<Files> {
  const files: { name: string; size: number }[] = [];
  let bytes = 0;
  for (const name of names) {
    const size = await stat(join(dir, name)).then((x) => x.size, () => -1);
    if (size < 0) continue;
    files.push({ name, size });
    bytes += size;
  }
  return { files, bytes };
}

/** The ring files of a running (or just ended) session. */
export async function sessionFiles(s: Session): Promise<Files> {
  if (!s.running) return { files: [], bytes: 0 };
  const ring = s.running.ring;
  if (ring) {
    // the agent writes the ring itself: plaintext sizes from memory (encrypted files are larger on disk)
    const files = ring.files().map((f) => ({ name: f.name, size: f.size }));
    return { files, bytes: files.reduce((n, f) => n + f.size, 0) };
  }
  const { targetDir, fileBase } = s.running.prepared.paths;
  const names = await readdir(targetDir).catch(() => [] as string[]);
  return listFiles(
    targetDir,
    ringFiles(names, fileBase).map((f) => f.name),
  );
}

/**
 * Encrypted ring files whose writer died with the previous agent get their final chunk
 * (src/crypto/recover.ts finishFile: everything sealed is kept, a torn record is cut off); then
 * the plaintext sizes. Plain files: their size on disk.
 */
async function finishAndMeasure(dir: string, names: readonly string[], keyring: (() => Promise<Keyring>) | undefined, log?: AgentContext['log']): Promise<Files> {
  const files: { name: string; size: number }[] = [];
  let bytes = 0;
  for (const name of names) {
    const path = join(dir, name);
    let size = await stat(path).then((x) => x.size, () => -1);
    if (size < 0) continue;
    if (keyring && (await fileIsEncrypted(path))) {
      try {
        const r = await recoverRingFile(path, await keyring());
        if (r.changed) log?.info('finished an encrypted file interrupted by a restart', { file: path, plaintextBytes: r.size, tornRecordBytes: r.tornBytes });
        size = r.size;
      } catch (e) {
        log?.warn('cannot finish an interrupted encrypted file', { file: path, err: e });
      }
    }
    files.push({ name, size });
    bytes += size;
  }
  return { files, bytes };
}

async function fileIsEncrypted(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return false;
  try {
    const b = Buffer.alloc(MAGIC.length);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    return bytesRead === b.length && b.equals(MAGIC);
  } finally {
    await fh.close();
  }
}

/** Files of a target directory from any earlier run (after a restart); interrupted encrypted files are finished first. */
export async function filesOnDisk(dataDir: string, st: CaptureState, entry: TargetStatus, keyring?: () => Promise<Keyring>, log?: AgentContext['log']): Promise<Files> {
  let dir: string;
  try {
    const t: TargetRef = entry.kind === 'node' ? { kind: 'node', interface: entry.interface ?? 'any' } : { kind: 'pod', namespace: entry.namespace ?? '', pod: entry.pod ?? '' };
    dir = join(captureDirOf(dataDir, st.namespace, st.name), targetDirName(t));
  } catch {
    return { files: [], bytes: 0 };
  }
  const names = (await readdir(dir).catch(() => [] as string[])).filter(isCaptureFileName).sort();
  return finishAndMeasure(dir, names, keyring, log);
}

/**
 * Stops the session with `why` (the first reason wins). A session still starting is only marked:
 * the start state machine sees the mark (it is woken) and finishes it.
 */
export async function stopSession(ctx: AgentContext, st: CaptureState, s: Session, why: StopReason, graceMs = 800): Promise<void> {
  if (!s.stopReason) s.stopReason = why;
  for (const t of s.timers) t.cancel();
  s.wake?.();
  if (!s.running || s.exited) return;
  const exit = await s.running.stop(graceMs);
  s.exited = true;
  st.sessions.delete(s.target);
  finishObservation(ctx, st, s, exit);
}

/** The target's final phase from why it stopped or how tcpdump exited. Pure. */
export function finalPhase(s: Pick<Session, 'stopReason' | 'opts'>, exit: TcpdumpExit | undefined): { phase: TargetPhase; reason: string; message: string } {
  if (s.stopReason) return s.stopReason;
  if (exit && exit.code === 0) {
    const counted = s.opts.packetCount !== undefined;
    return { phase: 'Finished', reason: counted ? 'PacketCountReached' : 'CaptureEnded', message: counted ? `captured ${s.opts.packetCount} packets` : 'tcpdump ended' };
  }
  return { phase: 'Failed', reason: exit?.reason ?? 'CaptureFailed', message: exit?.error || `tcpdump exited with ${exit?.signal ?? `code ${exit?.code ?? '?'}`}` };
}

/** Records the target's end (once): phase, reason, counters, an Event, then its final file sizes. */
export function finishObservation(ctx: AgentContext, st: CaptureState, s: Session, exit: TcpdumpExit | undefined): void {
  const prev = st.local.get(s.target);
  if (prev && !prev.active) return; // already final
  const { phase, reason, message } = finalPhase(s, exit);
  const node = ctx.config.nodeName;
  st.local.set(s.target, { phase, active: false });
  const now = isoAt(ctx.clock);
  const o: Partial<Observation> = { phase, reason, message, finishTime: now, lastUpdateTime: now };
  if (exit?.stats) {
    o.packets = exit.stats.captured;
    o.drops = exit.stats.droppedByKernel;
  }
  observe(st, s.target, o);
  endAnalysis(ctx, st, s);
  if (phase === 'Failed') ctx.metrics.targetFailed();
  if (reason !== 'CaptureDeleted') {
    ctx.events.record(
      st.subject,
      phase === 'Finished' ? 'Normal' : 'Warning',
      phase === 'Finished' ? 'CaptureFinished' : reason,
      `node ${node}: target ${s.target} ${phase === 'Finished' ? 'finished' : 'failed'} (${reason}): ${message}; ${o.packets ?? 0} packets, ${o.drops ?? 0} dropped by the kernel`,
    );
  }
  ctx.log.info('target ended', { capture: st.key, target: s.target, phase, reason, packets: o.packets, drops: o.drops });
  // final sizes, then report; then the metadata sidecar goes to the store after the ring files
  const prep = s.running?.prepared;
  ctx.track(
    sessionFiles(s).then((f) => {
      if (prep) targetEnded(ctx, prep);
      const cur = st.obs.get(s.target);
      if (cur && !st.cleanedUp) {
        cur.files = f.files;
        cur.bytes = f.bytes;
      }
      markDirty(ctx, st, true);
    }),
  );
}

/**
 * Live analysis of a running target whose capture has record consumers (src/agent/analysis.ts):
 * the hook's (a Kafka sink, pair metrics) follow the ring, so an armed target publishes nothing
 * before its firing, as it writes nothing; a Traffic trigger's (src/agent/traffic-trigger.ts)
 * follows the records before the look-back gate (`input`: the ring gets nothing until the
 * firing), with or without a sink, and ends with tcpdump's stream.
 */
function startAnalysis(ctx: AgentContext, st: CaptureState, s: Session, endpoints: Readonly<Record<string, EndpointInfo>>): void {
  const run = s.running;
  const hook = ctx.analysis;
  if (!run || s.analysis) return;
  const target = { capture: st.name, namespace: st.namespace, target: s.target };
  const resolved = resolveSpec(ctx.captures.get(st.key)?.spec, st.namespace);
  const traffic = run.input ? trafficConsumer(ctx, st, resolved.ok ? resolved.spec.trigger : undefined) : undefined;
  if (traffic && run.input) {
    const t = new TargetAnalysis(target, endpointMap(endpoints), [traffic], hook?.options);
    t.attach(run.input);
    s.timers.push(every(ctx.clock, 1000, () => t.tick(ctx.clock.now() / 1000)));
  }
  const consumers = run.ring && hook ? hook.consumersFor({ namespace: st.namespace, name: st.name }) : [];
  const why = run.ring ? hook?.unavailable?.({ namespace: st.namespace, name: st.name }) : undefined;
  if (why !== undefined) {
    // never silent: the capture runs on, its status and an Event say that nothing is published
    observe(st, s.target, { sinkError: why });
    ctx.log.warn('sink unavailable: no records are published for this target', { capture: st.key, target: s.target, err: why });
    ctx.events.record(st.subject, 'Warning', 'SinkUnavailable', `node ${ctx.config.nodeName}: target ${s.target}: no analysis records are published: ${why}`);
  }
  if (!run.ring || consumers.length === 0) return;
  const a = new TargetAnalysis(target, endpointMap(endpoints), consumers, hook?.options, hook?.rawFor?.({ namespace: st.namespace, name: st.name }));
  a.attach(run.ring);
  s.analysis = a;
  s.timers.push(every(ctx.clock, 1000, () => a.tick(ctx.clock.now() / 1000)));
}

/** The target ended: its remaining records out, then its final counts once the sink settled them. */
function endAnalysis(ctx: AgentContext, st: CaptureState, s: Session): void {
  const a = s.analysis;
  const hook = ctx.analysis;
  if (!a || !hook) return;
  a.end();
  ctx.track(
    hook.settled(a.target).then((c) => {
      const cur = st.obs.get(s.target);
      if (c && cur && !st.cleanedUp) {
        Object.assign(cur, c);
        markDirty(ctx, st, true);
      }
      hook.forget?.(a.target);
    }),
  );
}

/** Fails a target that never started: phase, reason, metric, log and a Warning Event. */
export function failTarget(ctx: AgentContext, st: CaptureState, entry: TargetStatus, reason: string, message: string): void {
  st.local.set(entry.name, { phase: 'Failed', active: false });
  observe(st, entry.name, { phase: 'Failed', reason, message, finishTime: isoAt(ctx.clock) });
  ctx.metrics.targetFailed();
  ctx.log.warn('target failed', { capture: st.key, target: entry.name, reason, message });
  ctx.events.record(st.subject, 'Warning', reason, `node ${ctx.config.nodeName}: target ${entry.name}: ${message}`);
  markDirty(ctx, st, true);
}

/** The keyring loader of this agent, or undefined when encryption is off. */
export function agentKeyring(ctx: AgentContext): (() => Promise<Keyring>) | undefined {
  const c = ctx.config;
  if (!c.encryption) return undefined;
  return () => loadKeyringDir(c.encryptionKeysDir);
}
