/**
 * The agent's periodic jobs: the disk check (stop every capture when a disk limit is crossed) and
 * the sweep (remove directories of captures that no longer exist and files older than
 * DELETE_OLDER_THAN). agent.ts runs them on the injected clock.
 */
import type { AgentContext } from './context.js';
import { stopSession } from './session.js';
import { allSessions, isLive } from './state.js';
import { applySweep, planSweep, scanDataDir } from './sweep.js';
import { storeOf } from './store-hooks.js';

/** One disk guard tick. */
export async function diskCheck(ctx: AgentContext): Promise<void> {
  let capturing = false;
  for (const s of allSessions(ctx.states.values())) if (isLive(s)) capturing = true;
  const d = await ctx.disk.check(capturing);
  if (d.ok) return;
  ctx.log.warn('disk guard: stopping captures', { reason: d.reason, message: d.message });
  const stops: Promise<void>[] = [];
  for (const st of ctx.states.values()) for (const s of st.sessions.values()) stops.push(stopSession(ctx, st, s, { phase: 'Failed', reason: d.reason, message: d.message }));
  await Promise.all(stops);
}

/** One sweep; returns how many files and directories it removed. */
export async function sweep(ctx: AgentContext): Promise<number> {
  const { captures, states, config } = ctx;
  if (!captures.hasSynced()) return 0;
  const scan = await scanDataDir(config.dataDir);
  const active = new Set<string>();
  for (const s of allSessions(states.values())) if (s.running) active.add(s.running.prepared.paths.targetDir);
  const plan = planSweep({
    ...scan,
    exists: (ns, name) => captures.get(`${ns}/${name}`) !== undefined || states.has(`${ns}/${name}`),
    activeDirs: active,
    nowMs: ctx.clock.now(),
    maxAgeMs: config.deleteOlderThanMs,
    // never delete by age what is not in the store yet: with a store, files leave by upload only
    keep: (path) => {
      const [ns = '', name = ''] = path.slice(config.dataDir.length + 1).split('/');
      return storeOf(ctx, ns, name) !== undefined;
    },
  });
  if (plan.removeDirs.length === 0 && plan.removeFiles.length === 0) return 0;
  const n = await applySweep(config.dataDir, plan);
  ctx.log.info('sweep removed files', { dirs: plan.removeDirs.length, files: plan.removeFiles.length });
  return n;
}
