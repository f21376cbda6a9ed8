import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveSpec } from './validate.js';

const spec = (trigger: unknown, extra: Record<string, unknown> = {}) => ({ targetPod: 'web', trigger, ...extra });
const problems = (trigger: unknown, extra: Record<string, unknown> = {}): string => {
  const r = resolveSpec(spec(trigger, extra), 'shop');
  return r.ok ? '' : r.problems.map((p) => `${p.field}: ${p.message}`).join('; ');
};

describe('resolveSpec: trigger', () => {
  it('defaults: 30 s, 64Mi, 30 s after', () => {
    const r = resolveSpec(spec({ when: [{ type: 'NotReady' }] }), 'shop');
    assert.ok(r.ok);
    assert.deepEqual({ ...r.spec.trigger, when: undefined }, { lookBackSeconds: 30, lookBackBytes: 64 * 1024 * 1024, afterSeconds: 30, when: undefined });
  });
  it('parses durations and sizes', () => {
    const r = resolveSpec(spec({ lookBack: '2m', after: 0, lookBackBytes: '256M', when: [{ type: 'Webhook' }] }), 'shop');
    assert.ok(r.ok && r.spec.trigger?.lookBackSeconds === 120 && r.spec.trigger.afterSeconds === 0 && r.spec.trigger.lookBackBytes === 256e6);
  });
  it('refuses with messages', () => {
    assert.match(problems({ when: [] }), /spec.trigger.when: trigger.when needs at least one trigger/);
    assert.match(problems({ lookBack: '11m', when: [{ type: 'NotReady' }] }), /spec.trigger.lookBack: "11m" is out of range/);
    assert.match(problems({ lookBackBytes: '64', when: [{ type: 'NotReady' }] }), /needs a unit/);
    assert.match(problems({ when: [{ type: 'Traffic', traffic: { metric: 'TcpResetsPerSecond', threshold: 1 } }] }), /not available yet/);
    assert.match(problems({ when: [{ type: 'Event' }] }), /needs reason/);
    assert.match(problems({ when: [{ type: 'NotReady' }], extra: 1 }), /unknown field "extra"/);
    assert.match(problems({ when: [{ type: 'NotReady' }] }, { packetCount: 5 }), /packetCount does not apply/);
    assert.match(problems({ lookBackBytes: '1Gi', when: [{ type: 'NotReady' }] }, { maxFileSize: '10M', fileCount: 2 }), /does not fit in the ring/);
    const node = resolveSpec({ targetNode: 'n', targetInterface: 'eth0', trigger: { when: [{ type: 'OOMKilled' }] } }, 'pcapper');
    assert.ok(!node.ok && /node interface capture can only use Event or Webhook/.test(node.problems[0]?.message ?? ''));
  });
});
