/**
 * The parts of a Pod's status that pod-side triggers read (docs/triggers.md): per container the
 * restart count and terminated states, and the Ready condition. The controller's pod informer
 * keeps these (trimPod) besides the phase; everything else is still dropped before caching.
 */
import type { KubeObject } from '../k8s/informer.js';
import type { TriggerPod } from './trigger-decide.js';

export function triggerPodStatus(o: KubeObject): NonNullable<TriggerPod['status']> {
  const st = (o as TriggerPod).status;
  const term = (t: { reason?: string; exitCode?: number; finishedAt?: string | Date } | undefined) => (t ? { reason: t.reason, exitCode: t.exitCode, finishedAt: t.finishedAt } : undefined);
  const out: NonNullable<TriggerPod['status']> = {};
  const cs = st?.containerStatuses;
  if (cs?.length) {
    out.containerStatuses = cs.map((c) => ({
      name: c.name,
      restartCount: c.restartCount,
      ...(c.state?.terminated ? { state: { terminated: term(c.state.terminated) } } : {}),
      ...(c.lastState?.terminated ? { lastState: { terminated: term(c.lastState.terminated) } } : {}),
    }));
  }
  const ready = st?.conditions?.find((c) => c.type === 'Ready');
  if (ready) out.conditions = [{ type: 'Ready', status: ready.status, reason: ready.reason, lastTransitionTime: ready.lastTransitionTime }];
  return out;
}
