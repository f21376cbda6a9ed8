/**
 * The trigger loop's thin shell (docs/triggers.md): the controller's own capture and pod informers
 * (passed in; pods now keep container states and the Ready condition, see trimPod), plus one Event
 * informer per namespace that a capture with an Event trigger targets, feed a queue of capture
 * keys; each key is decided by the pure decideTrigger() and a firing is written into
 * status.firings with field manager pcapper-trigger (agents watch captures: the firing reaches
 * them with the watch), with the Armed and Triggered conditions. Runs only while leading.
 */
import { randomBytes } from 'node:crypto';
import { API_VERSION, CONDITIONS, KIND, type Condition, type PacketCapture } from '../api/packetcapture.js';
import { REASON_ARMED, TRIGGER_FIELD_MANAGER, type Firing } from '../api/trigger-schema.js';
import { resolveSpec } from '../api/validate.js';
import { systemClock, type Clock } from '../k8s/clock.js';
import type { KubeClient } from '../k8s/client.js';
import type { EventRecorder } from '../k8s/events.js';
import { Informer, type KubeObject } from '../k8s/informer.js';
import { applyStatus } from '../k8s/status.js';
import { WorkQueue } from '../k8s/workqueue.js';
import type { Logger } from '../telemetry/log.js';
import { silentLogger } from '../telemetry/log.js';
import { decideTrigger, type TriggerEvent, type TriggerPod } from './trigger-decide.js';

type Cap = PacketCapture & KubeObject;

export interface TriggerControllerOptions {
  client: KubeClient;
  captures: Informer<Cap>;
  pods: { get(key: string): TriggerPod | undefined; onChange(cb: (c: { object: KubeObject }) => void): () => void };
  clock?: Clock;
  log?: Logger;
  recorder: EventRecorder;
}

export interface TriggerController {
  readonly stats: { decisions: number; firings: number };
  run(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/** Only what decideTrigger reads of an Event. */
export function trimEvent(o: KubeObject): KubeObject {
  const e = o as TriggerEvent & KubeObject;
  return {
    metadata: { name: e.metadata?.name, namespace: e.metadata?.namespace, uid: e.metadata?.uid, resourceVersion: (e.metadata as { resourceVersion?: string } | undefined)?.resourceVersion, creationTimestamp: e.metadata?.creationTimestamp },
    reason: e.reason,
    message: e.message?.slice(0, 300),
    involvedObject: { kind: e.involvedObject?.kind, name: e.involvedObject?.name, namespace: e.involvedObject?.namespace },
    lastTimestamp: e.lastTimestamp,
    eventTime: e.eventTime,
    firstTimestamp: e.firstTimestamp,
    series: e.series ? { lastObservedTime: e.series.lastObservedTime } : undefined,
  } as unknown as KubeObject;
}

const isTriggered = (pc: Cap): boolean => pc.spec.trigger !== undefined && !pc.metadata.deletionTimestamp && pc.status?.progress !== 'finished' && pc.status?.progress !== 'failure';

/** The namespace whose Events a capture's Event triggers watch, or undefined. */
function eventNamespace(pc: Cap): string | undefined {
  if (!pc.spec.trigger?.when?.some((o) => o.type === 'Event')) return undefined;
  return pc.spec.targetNode !== undefined ? pc.metadata.namespace : (pc.spec.targetNamespace ?? pc.metadata.namespace);
}

/** The conditions the trigger loop owns, from the capture's status. Pure. */
export function triggerConditions(pc: PacketCapture, fired: Firing | undefined, nowIso: string): Condition[] {
  const prev = pc.status?.conditions ?? [];
  const cond = (type: string, status: 'True' | 'False', reason: string, message: string): Condition => {
    const old = prev.find((c) => c.type === type);
    const same = old?.status === status;
    return { type, status, reason, message, lastTransitionTime: same && old?.lastTransitionTime ? old.lastTransitionTime : nowIso, observedGeneration: pc.metadata.generation ?? 0 };
  };
  const armedTargets = (pc.status?.targets ?? []).filter((t) => t.phase === 'Running' && t.reason === REASON_ARMED).length;
  if (fired) {
    return [
      cond(CONDITIONS.Armed, 'False', 'Triggered', 'a trigger fired: the look-back windows became ring files'),
      cond(CONDITIONS.Triggered, 'True', fired.type, fired.cause ?? `${fired.type} fired`),
    ];
  }
  return [
    armedTargets > 0 ? cond(CONDITIONS.Armed, 'True', 'WindowsKept', `${armedTargets} target(s) keep a look-back window in memory`) : cond(CONDITIONS.Armed, 'False', 'NoArmedTarget', 'no target is armed yet'),
    cond(CONDITIONS.Triggered, 'False', 'NotFired', 'no trigger fired yet'),
  ];
}

export function startTriggerController(opts: TriggerControllerOptions): TriggerController {
  const { client, captures, recorder } = opts;
  const clock = opts.clock ?? systemClock;
  const log = (opts.log ?? silentLogger).child({ loop: 'triggers' });
  const stats = { decisions: 0, firings: 0 };
  const queue = new WorkQueue({ clock: systemClock, minIntervalMs: 0 });
  const events = new Map<string, Informer<KubeObject>>();
  const lastApplied = new Map<string, string>();
  let running = false;

  const keyOf = (pc: PacketCapture): string => `${pc.metadata.namespace}/${pc.metadata.name}`;
  const triggered = (): Cap[] => captures.list(isTriggered);

  /** One Event informer per namespace some armed capture watches; stopped when none does. */
  const syncEventInformers = (): void => {
    const want = new Set(triggered().map(eventNamespace).filter((x): x is string => x !== undefined));
    for (const ns of want) {
      if (events.has(ns)) continue;
      const inf = new Informer<KubeObject>({ kc: client, clock: systemClock, log, path: `/api/v1/namespaces/${encodeURIComponent(ns)}/events`, transform: trimEvent });
      inf.onChange(() => {
        for (const pc of triggered()) if (eventNamespace(pc) === ns) queue.add(keyOf(pc));
      });
      inf.start();
      events.set(ns, inf);
    }
    for (const [ns, inf] of events) {
      if (want.has(ns)) continue;
      events.delete(ns);
      void inf.stop();
    }
  };

  captures.onChange((c) => {
    if (c.type === 'DELETED') lastApplied.delete(c.key);
    if (!running) return;
    syncEventInformers();
    if (c.object.spec?.trigger !== undefined) queue.add(c.key);
  });
  opts.pods.onChange((c) => {
    if (!running) return;
    const podKey = `pod/${c.object.metadata?.namespace}/${c.object.metadata?.name}`;
    for (const pc of triggered()) if (pc.status?.targets?.some((t) => t.name === podKey)) queue.add(keyOf(pc));
  });

  const world = {
    pod: (ns: string, name: string) => opts.pods.get(`${ns}/${name}`),
    events: (ns: string) => (events.get(ns)?.list() ?? []) as unknown as TriggerEvent[],
  };

  async function reconcile(key: string): Promise<void> {
    const pc = captures.get(key);
    if (!pc || pc.spec.trigger === undefined) return;
    stats.decisions++;
    const now = clock.now();
    const d = decideTrigger(pc, world, now, `f-${now.toString(36)}-${randomBytes(3).toString('hex')}`);
    const mine = (pc.status?.firings ?? []).filter((f) => f.source === 'controller');
    const firings = d.kind === 'fire' ? [...mine, d.firing] : mine;
    const first = [...(pc.status?.firings ?? []), ...(d.kind === 'fire' ? [d.firing] : [])].sort((a, b) => Date.parse(a.time) - Date.parse(b.time))[0];
    if (!resolveSpec(pc.spec, pc.metadata.namespace ?? '').ok) return; // the main reconcile reports Invalid
    const conditions = triggerConditions(pc, first, new Date(now).toISOString());
    const body = { firings, conditions };
    const sig = `${pc.metadata.uid}|${JSON.stringify({ firings, conditions: conditions.map((c) => [c.type, c.status, c.reason, c.message]) })}`;
    if (lastApplied.get(key) === sig) return;
    const res = await applyStatus(client, pc.metadata.namespace ?? '', pc.metadata.name ?? '', body, TRIGGER_FIELD_MANAGER);
    captures.mutate(res as Cap);
    lastApplied.set(key, sig);
    if (d.kind === 'fire') {
      stats.firings++;
      log.info('trigger fired', { capture: key, type: d.firing.type, cause: d.firing.cause });
      recorder.record({ apiVersion: API_VERSION, kind: KIND, metadata: pc.metadata }, 'Normal', 'TriggerFired', `${d.firing.type}: ${d.firing.cause ?? ''}; window ${d.firing.windowStart} to ${d.firing.windowEnd}`);
    }
  }

  return {
    stats,
    async run(signal) {
      running = true;
      await captures.waitForSync();
      syncEventInformers();
      await Promise.all([...events.values()].map((i) => i.waitForSync()));
      for (const pc of triggered()) queue.add(keyOf(pc));
      await queue.run(
        async (key) => {
          try {
            await reconcile(key);
            queue.forget(key);
          } catch (e) {
            lastApplied.delete(key);
            const f = queue.fail(key, e);
            log.warn('trigger reconcile failed', { capture: key, reason: f.reason, err: e });
          }
        },
        2,
        signal,
      );
    },
    async stop() {
      running = false;
      queue.shutdown();
      await Promise.all([...events.values()].map((i) => i.stop()));
      events.clear();
    },
  };
}
