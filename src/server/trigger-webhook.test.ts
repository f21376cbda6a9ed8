import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PacketCapture } from '../api/packetcapture.js';
import { webhookOutcome } from './trigger-webhook.js';

const pc = (on: unknown[] | undefined, status: PacketCapture['status'] = { progress: 'running' }): PacketCapture => ({
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCapture',
  metadata: { name: 'c', namespace: 'shop' },
  spec: { targetPod: 'web', ...(on ? { trigger: { lookBack: '30s', after: '5s', when: on } } : {}) } as PacketCapture['spec'],
  status,
});
const note = (status: string, alertname: string, summary?: string) => ({ version: '4', status, alerts: [{ status, labels: { alertname }, annotations: summary ? { summary } : {} }] });
const NOW = Date.parse('2026-11-27T10:00:00Z');

describe('webhookOutcome', () => {
  it('a firing alert fires, with the cause and the window', () => {
    const o = webhookOutcome(note('firing', 'HighErrorRate', '5xx above 5%'), pc([{ type: 'Webhook' }]), NOW, 'w1');
    assert.equal(o.kind, 'fire');
    if (o.kind !== 'fire') return;
    assert.deepEqual(o.firing, { id: 'w1', type: 'Webhook', time: '2026-11-27T10:00:00.000Z', cause: 'Alertmanager: HighErrorRate: 5xx above 5%', source: 'webhook', windowStart: '2026-11-27T09:59:30.000Z', windowEnd: '2026-11-27T10:00:05.000Z' });
  });
  it('resolved alerts and other alert names are ignored; alertName filters', () => {
    assert.equal(webhookOutcome(note('resolved', 'X'), pc([{ type: 'Webhook' }]), NOW, 'w').kind, 'ignored');
    assert.equal(webhookOutcome(note('firing', 'Other'), pc([{ type: 'Webhook', alertName: 'X' }]), NOW, 'w').kind, 'ignored');
    assert.equal(webhookOutcome(note('firing', 'X'), pc([{ type: 'Webhook', alertName: 'X' }]), NOW, 'w').kind, 'fire');
  });
  it('refusals: not a notification (400), no trigger / no Webhook trigger / ended (409); already fired is ignored', () => {
    assert.deepEqual(webhookOutcome([], pc([{ type: 'Webhook' }]), NOW, 'w').kind, 'error');
    const noAlerts = webhookOutcome({ status: 'firing' }, pc([{ type: 'Webhook' }]), NOW, 'w');
    assert.ok(noAlerts.kind === 'error' && noAlerts.code === 400 && /no "alerts" array/.test(noAlerts.message));
    const unarmed = webhookOutcome(note('firing', 'X'), pc(undefined), NOW, 'w');
    assert.ok(unarmed.kind === 'error' && unarmed.code === 409 && /not armed/.test(unarmed.message));
    const noHook = webhookOutcome(note('firing', 'X'), pc([{ type: 'NotReady' }]), NOW, 'w');
    assert.ok(noHook.kind === 'error' && /no Webhook trigger/.test(noHook.message));
    const ended = webhookOutcome(note('firing', 'X'), pc([{ type: 'Webhook' }], { progress: 'finished' }), NOW, 'w');
    assert.ok(ended.kind === 'error' && ended.code === 409);
    const fired = webhookOutcome(note('firing', 'X'), pc([{ type: 'Webhook' }], { progress: 'running', firings: [{ id: 'a', type: 'NotReady', time: '2026-11-27T09:00:00Z' }] }), NOW, 'w');
    assert.ok(fired.kind === 'ignored' && /already fired at 2026-11-27T09:00:00Z/.test(fired.message));
  });
});
