/**
 * An EventRecorder: core/v1 Events on a PacketCapture (what `kubectl describe pcap` and
 * `kubectl events` show). Repeats of the same (object, type, reason, message) within
 * `aggregateWindowMs` are folded into the first Event by bumping its count (one PATCH), like the
 * kubelet's event correlator. Recording never throws and never blocks the caller: Events are
 * best-effort; failures are logged.
 */
import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from '../telemetry/log.js';
import { silentLogger } from '../telemetry/log.js';
import { systemClock, type Clock } from './clock.js';
import { clientFor, CONTENT_TYPE, isNotFound, type KubeClient } from './client.js';

export type EventType = 'Normal' | 'Warning';

export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface EventRecorderOptions {
  kc: k8s.KubeConfig | KubeClient;
  /** e.g. "pcapper-controller" or "pcapper-agent" */
  component: string;
  /** e.g. the pod name or node name */
  instance?: string;
  clock?: Clock;
  log?: Logger;
  aggregateWindowMs?: number;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  at: number;
}

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly window: number;
  private readonly seen = new Map<string, Seen>();
  private inflight = new Set<Promise<void>>();

  constructor(private readonly opts: EventRecorderOptions) {
    this.client = clientFor(opts.kc);
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.window = opts.aggregateWindowMs ?? 10 * 60_000;
  }

  /** Records an Event in the background. */
  record(subject: EventSubject, type: EventType, reason: string, message: string): void {
    const p = this.write(subject, type, reason, message).catch((err: unknown) => {
      this.log.warn('cannot record event', { err, reason, object: subject.metadata.name });
    });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Waits for Events recorded so far (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.inflight]);
  }

  private async write(subject: EventSubject, type: EventType, reason: string, message: string): Promise<void> {
    const ns = subject.metadata.namespace ?? 'default';
    const msg = message.length > 1024 ? message.slice(0, 1021) + '...' : message;
    const key = `${subject.metadata.uid ?? ''}|${type}|${reason}|${msg}`;
    const now = this.clock.now();
    const nowIso = new Date(now).toISOString();
    for (const [k, v] of this.seen) if (now - v.at > this.window) this.seen.delete(k);
    const prev = this.seen.get(key);
    if (prev) {
      prev.count++;
      prev.at = now;
      try {
        await this.client.request({
          method: 'PATCH',
          path: `/api/v1/namespaces/${prev.namespace}/events/${prev.name}`,
          contentType: CONTENT_TYPE.mergePatch,
          body: { count: prev.count, lastTimestamp: nowIso },
        });
        return;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        this.seen.delete(key);
      }
    }
    const name = `${subject.metadata.name ?? 'object'}.${randomBytes(8).toString('hex')}`;
    const ev = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject: {
        apiVersion: subject.apiVersion,
        kind: subject.kind,
        name: subject.metadata.name,
        namespace: ns,
        uid: subject.metadata.uid,
        resourceVersion: subject.metadata.resourceVersion,
      },
      reason,
      message: msg,
      type,
      count: 1,
      firstTimestamp: nowIso,
      lastTimestamp: nowIso,
      source: { component: this.opts.component, ...(this.opts.instance ? { host: this.opts.instance } : {}) },
      reportingComponent: `pcapper.dev/${this.opts.component}`,
      reportingInstance: this.opts.instance ?? this.opts.component,
    };
    this.seen.set(key, { name, namespace: ns, count: 1, at: now });
    await this.client.request({ method: 'POST', path: `/api/v1/namespaces/${ns}/events`, body: ev });
  }
}

/** Lists the Events about an object (newest last), for tests and `kubectl pcap describe`. */
export async function listEvents(kc: k8s.KubeConfig | KubeClient, namespace: string, uid: string): Promise<{ reason: string; message: string; type: string; count: number }[]> {
  const list = await clientFor(kc).request<{ items: { reason?: string; message?: string; type?: string; count?: number; lastTimestamp?: string }[] }>({
    path: `/api/v1/namespaces/${namespace}/events`,
    query: { fieldSelector: `involvedObject.uid=${uid}` },
  });
  return list.items
    .sort((a, b) => (a.lastTimestamp ?? '').localeCompare(b.lastTimestamp ?? ''))
    .map((e) => ({ reason: e.reason ?? '', message: e.message ?? '', type: e.type ?? '', count: e.count ?? 1 }));
}
