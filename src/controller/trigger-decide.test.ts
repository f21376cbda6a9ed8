import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PacketCapture } from '../api/packetcapture.js';
import { decideTrigger, type TriggerEvent, type TriggerPod } from './trigger-decide.js';

const CREATED = '2026-11-27T10:00:00Z';
const T0 = Date.parse(CREATED);
const pc = (on: unknown[], extra: Partial<PacketCapture['status']> = {}): PacketCapture => ({
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCapture',
  metadata: { name: 'c', namespace: 'shop', uid: 'u', creationTimestamp: CREATED },
  spec: { targetPod: 'web', trigger: { lookBack: '30s', after: '10s', when: on } } as PacketCapture['spec'],
  status: { progress: 'running', targets: [{ name: 'pod/shop/web', kind: 'pod', namespace: 'shop', pod: 'web', podUID: 'p1', node: 'n', phase: 'Running', reason: 'Armed' }], ...extra },
});
const pod = (status: TriggerPod['status'], uid = 'p1'): TriggerPod => ({ metadata: { name: 'web', namespace: 'shop', uid }, status });
const world = (p: TriggerPod | undefined, events: TriggerEvent[] = []) => ({ pod: () => p, events: () => events });
const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

describe('decideTrigger', () => {
  it('OOMKilled after the capture was created fires, with the window in the firing', () => {
    const d = decideTrigger(pc([{ type: 'OOMKilled' }]), world(pod({ containerStatuses: [{ name: 'app', restartCount: 1, lastState: { terminated: { reason: 'OOMKilled', exitCode: 137, finishedAt: at(5) } } }] })), T0 + 6000, 'id1');
    assert.equal(d.kind, 'fire');
    if (d.kind !== 'fire') return;
    assert.equal(d.firing.type, 'OOMKilled');
    assert.match(d.firing.cause ?? '', /pod shop\/web container app was OOMKilled/);
    assert.equal(d.firing.time, at(6));
    assert.equal(d.firing.windowStart, at(-24));
    assert.equal(d.firing.windowEnd, at(16));
  });
  it('a restart from before the capture, another pod of the same name, or a plain Error exit for OOMKilled do not fire', () => {
    const old = pod({ containerStatuses: [{ name: 'app', restartCount: 3, lastState: { terminated: { reason: 'OOMKilled', finishedAt: at(-60) } } }] });
    assert.equal(decideTrigger(pc([{ type: 'OOMKilled' }, { type: 'ContainerRestart' }]), world(old), T0 + 1000, 'x').kind, 'none');
    const other = pod({ containerStatuses: [{ name: 'app', restartCount: 1, lastState: { terminated: { reason: 'OOMKilled', finishedAt: at(5) } } }] }, 'p2');
    assert.equal(decideTrigger(pc([{ type: 'OOMKilled' }]), world(other), T0 + 6000, 'x').kind, 'none');
    const err = pod({ containerStatuses: [{ name: 'app', restartCount: 1, lastState: { terminated: { reason: 'Error', exitCode: 1, finishedAt: at(5) } } }] });
    assert.equal(decideTrigger(pc([{ type: 'OOMKilled' }]), world(err), T0 + 6000, 'x').kind, 'none');
    const d = decideTrigger(pc([{ type: 'ContainerRestart' }]), world(err), T0 + 6000, 'x');
    assert.ok(d.kind === 'fire' && /restarted \(Error 1, restart 1\)/.test(d.firing.cause ?? ''));
  });
  it('NotReady fires on a Ready=False transition after creation only', () => {
    const nr = (s: number, status = 'False') => pod({ conditions: [{ type: 'Ready', status, reason: 'ContainersNotReady', lastTransitionTime: at(s) }] });
    assert.equal(decideTrigger(pc([{ type: 'NotReady' }]), world(nr(3)), T0 + 4000, 'x').kind, 'fire');
    assert.equal(decideTrigger(pc([{ type: 'NotReady' }]), world(nr(-3)), T0 + 4000, 'x').kind, 'none');
    assert.equal(decideTrigger(pc([{ type: 'NotReady' }]), world(nr(3, 'True')), T0 + 4000, 'x').kind, 'none');
  });
  it('Event: the reason (and object name when given), never Events about PacketCaptures', () => {
    const ev = (reason: string, kind = 'Pod', name = 'web', s = 2): TriggerEvent => ({ reason, involvedObject: { kind, name, namespace: 'shop' }, lastTimestamp: at(s), message: 'm' });
    assert.equal(decideTrigger(pc([{ type: 'Event', reason: 'BackOff' }]), world(undefined, [ev('Pulled')]), T0 + 3000, 'x').kind, 'none');
    assert.equal(decideTrigger(pc([{ type: 'Event', reason: 'BackOff' }]), world(undefined, [ev('BackOff', 'PacketCapture')]), T0 + 3000, 'x').kind, 'none');
    assert.equal(decideTrigger(pc([{ type: 'Event', reason: 'BackOff' }]), world(undefined, [ev('BackOff', 'Pod', 'web', -10)]), T0 + 3000, 'x').kind, 'none');
    assert.equal(decideTrigger(pc([{ type: 'Event', reason: 'BackOff', involvedObjectName: 'db' }]), world(undefined, [ev('BackOff')]), T0 + 3000, 'x').kind, 'none');
    const d = decideTrigger(pc([{ type: 'Event', reason: 'BackOff' }]), world(undefined, [ev('BackOff')]), T0 + 3000, 'x');
    assert.ok(d.kind === 'fire' && d.firing.type === 'Event' && /Event BackOff on Pod shop\/web/.test(d.firing.cause ?? ''));
  });
  it('fires once: a capture with a firing, ended or without trigger decides nothing', () => {
    const p = pod({ conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: at(3) }] });
    assert.equal(decideTrigger(pc([{ type: 'NotReady' }], { firings: [{ id: 'a', type: 'Webhook', time: at(1) }] }), world(p), T0 + 4000, 'x').kind, 'none');
    assert.equal(decideTrigger(pc([{ type: 'NotReady' }], { progress: 'finished' }), world(p), T0 + 4000, 'x').kind, 'none');
  });
});
