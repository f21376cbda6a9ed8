import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PacketCapture, TargetStatus } from '../api/packetcapture.js';
import { nodeTargets, planCapture, podGoneReason, type LocalTarget, type PodLike } from './plan.js';

const t = (name: string, node: string, extra: Partial<TargetStatus> = {}): TargetStatus => ({ name, kind: 'pod', namespace: 'ns', pod: name.split('/')[2] ?? name, podUID: `uid-${name}`, node, ...extra });
const pc = (targets: TargetStatus[], meta: Partial<PacketCapture['metadata']> = {}): PacketCapture => ({
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCapture',
  metadata: { name: 'c', namespace: 'ns', uid: 'u1', ...meta },
  spec: {},
  status: { targets },
});
const pods = (...names: string[]) => (ns: string, name: string): PodLike | undefined => (names.includes(name) ? { metadata: { uid: `uid-pod/${ns}/${name}` } } : undefined);

describe('agent plan', () => {
  it('acts only on its own node', () => {
    const c = pc([t('pod/ns/a', 'n1'), t('pod/ns/b', 'n2')]);
    assert.deepEqual(nodeTargets(c, 'n1').map((x) => x.name), ['pod/ns/a']);
    const actions = planCapture({ capture: c, node: 'n1', local: new Map(), pod: pods('a', 'b') });
    assert.deepEqual(actions.map((a) => [a.kind, 'entry' in a ? a.entry.name : '']), [['start', 'pod/ns/a']]);
  });

  it('starts unset/Pending/Scheduled, reports Running-without-tcpdump as interrupted, adopts final phases', () => {
    const c = pc([
      t('pod/ns/a', 'n1'),
      t('pod/ns/b', 'n1', { phase: 'Pending' }),
      t('pod/ns/c', 'n1', { phase: 'Running' }),
      t('pod/ns/d', 'n1', { phase: 'Finished' }),
      t('pod/ns/e', 'n1', { phase: 'Failed' }),
    ]);
    const actions = planCapture({ capture: c, node: 'n1', local: new Map(), pod: pods('a', 'b', 'c', 'd', 'e') });
    assert.deepEqual(
      actions.map((a) => [a.kind, 'entry' in a ? a.entry.name : '']),
      [
        ['start', 'pod/ns/a'],
        ['start', 'pod/ns/b'],
        ['interrupted', 'pod/ns/c'],
        ['adopt', 'pod/ns/d'],
        ['adopt', 'pod/ns/e'],
      ],
    );
  });

  it('does nothing for targets this process already handles', () => {
    const c = pc([t('pod/ns/a', 'n1', { phase: 'Running' }), t('pod/ns/b', 'n1')]);
    const local = new Map<string, LocalTarget>([
      ['pod/ns/a', { phase: 'Running', active: true }],
      ['pod/ns/b', { phase: 'Failed', active: false }],
    ]);
    assert.deepEqual(planCapture({ capture: c, node: 'n1', local, pod: pods('a', 'b') }), []);
  });

  it('stops a running target whose pod was deleted or replaced', () => {
    const c = pc([t('pod/ns/a', 'n1', { phase: 'Running' })]);
    const local = new Map<string, LocalTarget>([['pod/ns/a', { phase: 'Running', active: true }]]);
    const a = planCapture({ capture: c, node: 'n1', local, pod: pods() });
    assert.equal(a.length, 1);
    assert.ok(a[0]?.kind === 'stop' && a[0].reason === 'PodDeleted' && /pod ns\/a was deleted/.test(a[0].message));
    const replaced = planCapture({ capture: c, node: 'n1', local, pod: () => ({ metadata: { uid: 'other' } }) });
    assert.ok(replaced[0]?.kind === 'stop' && /replaced/.test(replaced[0].message));
  });

  it('leaves a target that still waits for its pod to the start loop', () => {
    const c = pc([t('pod/ns/a', 'n1', { phase: 'Scheduled' })]);
    const local = new Map<string, LocalTarget>([['pod/ns/a', { phase: 'Scheduled', active: true }]]);
    assert.deepEqual(planCapture({ capture: c, node: 'n1', local, pod: pods() }), []);
  });

  it('stops a running target the controller no longer plans', () => {
    const local = new Map<string, LocalTarget>([['pod/ns/gone', { phase: 'Running', active: true }]]);
    const a = planCapture({ capture: pc([]), node: 'n1', local, pod: pods() });
    assert.deepEqual(a, [{ kind: 'stop', target: 'pod/ns/gone', reason: 'TargetRemoved', message: 'the controller no longer plans this target on this node' }]);
  });

  it('cleans up on deletion and when the object is gone', () => {
    assert.deepEqual(planCapture({ capture: pc([t('pod/ns/a', 'n1')], { deletionTimestamp: '2026-01-01T00:00:00Z' }), node: 'n1', local: new Map(), pod: pods('a') }), [{ kind: 'cleanup', gone: false }]);
    assert.deepEqual(planCapture({ capture: undefined, node: 'n1', local: new Map(), pod: pods() }), [{ kind: 'cleanup', gone: true }]);
  });

  it('explains why a pod is gone', () => {
    const e = t('pod/ns/a', 'n1');
    assert.equal(podGoneReason(e, { metadata: { uid: 'uid-pod/ns/a' } }), undefined);
    assert.match(podGoneReason(e, { metadata: { uid: 'uid-pod/ns/a', deletionTimestamp: 'x' } }) ?? '', /being deleted/);
    assert.match(podGoneReason(e, { metadata: { uid: 'uid-pod/ns/a' }, status: { phase: 'Failed' } }) ?? '', /terminated/);
    assert.equal(podGoneReason({ name: 'node/n1/eth0', kind: 'node', node: 'n1', interface: 'eth0' }, undefined), undefined);
  });
});
