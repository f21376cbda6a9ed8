/**
 * The trigger webhook (docs/triggers.md): POST
 *   /apis/data.pcapper.dev/v1alpha1/namespaces/{ns}/packetcaptures/{name}/trigger
 * with an Alertmanager webhook notification (version "4": {status, alerts: [{status, labels,
 * annotations, startsAt}], groupLabels, commonLabels, ...}). kube-apiserver authenticates the
 * caller and checks `create packetcaptures/trigger` in data.pcapper.dev; the server asks a
 * SubjectAccessReview for `create packetcaptures/trigger` in pcapper.dev, then records the
 * firing in status.firings (its own field manager). Pure: what to do with a body and a capture.
 */
import type { PacketCapture } from '../api/packetcapture.js';
import { resolveSpec } from '../api/validate.js';
import type { Firing } from '../api/trigger-schema.js';
import { firingAt } from '../controller/trigger-decide.js';

/** Largest notification accepted (Alertmanager batches alerts of one group). */
export const MAX_WEBHOOK_BODY = 1 << 20;

export type WebhookOutcome =
  | { kind: 'fire'; firing: Firing }
  /** 200: understood, nothing to do (resolved alerts, another alertname, already fired) */
  | { kind: 'ignored'; message: string; firing?: Firing | undefined }
  | { kind: 'error'; code: 400 | 409; message: string };

interface Alert {
  status?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

/** Decides what an Alertmanager notification does to capture `pc` at `nowMs`. Pure. */
export function webhookOutcome(body: unknown, pc: PacketCapture, nowMs: number, id: string): WebhookOutcome {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { kind: 'error', code: 400, message: 'the body must be an Alertmanager webhook notification: a JSON object {"version":"4","status":"firing","alerts":[...]}' };
  }
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.alerts)) return { kind: 'error', code: 400, message: 'the notification has no "alerts" array (Alertmanager webhook format, version 4)' };
  const name = `${pc.metadata.namespace ?? ''}/${pc.metadata.name ?? ''}`;
  const r = resolveSpec(pc.spec, pc.metadata.namespace ?? '');
  const hooks = r.ok ? (r.spec.trigger?.when ?? []).filter((o) => o.type === 'Webhook') : [];
  if (!r.ok || !r.spec.trigger) return { kind: 'error', code: 409, message: `packetcapture ${name} is not armed: it has no spec.trigger` };
  if (hooks.length === 0) return { kind: 'error', code: 409, message: `packetcapture ${name} has no Webhook trigger in spec.trigger.when` };
  const first = [...(pc.status?.firings ?? [])].sort((x, y) => Date.parse(x.time) - Date.parse(y.time))[0];
  if (first) return { kind: 'ignored', message: `packetcapture ${name} already fired at ${first.time} (${first.type}); a capture fires once`, firing: first };
  if (pc.status?.progress === 'finished' || pc.status?.progress === 'failure') return { kind: 'error', code: 409, message: `packetcapture ${name} has ended (${pc.status.progress}); it can no longer fire` };
  const alerts = (b.alerts as unknown[]).filter((a): a is Alert => a !== null && typeof a === 'object');
  const firing = alerts.filter((a) => (a.status ?? b.status) === 'firing');
  const names = hooks.map((h) => h.alertName).filter((x): x is string => x !== undefined);
  const alertnameOf = (a: Alert): string => (typeof a.labels?.alertname === 'string' ? a.labels.alertname : '');
  const match = firing.filter((a) => names.length === 0 || hooks.some((h) => h.alertName === undefined) || names.includes(alertnameOf(a)));
  if (match.length === 0) {
    return { kind: 'ignored', message: firing.length === 0 ? 'no firing alert in the notification (resolved alerts do not fire a capture)' : `no firing alert named ${names.join(' or ')}` };
  }
  const a = match[0] as Alert;
  const alertname = alertnameOf(a) || 'alert';
  const summary = a.annotations?.summary ?? a.annotations?.description;
  const cause = `Alertmanager: ${alertname}${typeof summary === 'string' ? `: ${summary.slice(0, 300)}` : ''}${match.length > 1 ? ` (+${match.length - 1} more)` : ''}`;
  return { kind: 'fire', firing: firingAt('Webhook', nowMs, cause, 'webhook', r.spec.trigger.lookBackSeconds, r.spec.trigger.afterSeconds, id) };
}
