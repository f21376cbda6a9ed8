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
    assert.deepEqual({ ...r.spec.trigger, when: undefined }, { lookBackSeconds: 30, lookBackBytes: 64 * 1024 * 1024, afterSeconds: 30, when: undefined, traffic: [] });
  });
  it('parses durations and sizes', () => {
    const r = resolveSpec(spec({ lookBack: '2m', after: 0, lookBackBytes: '256M', when: [{ type: 'Webhook' }] }), 'shop');
    assert.ok(r.ok && r.spec.trigger?.lookBackSeconds === 120 && r.spec.trigger.afterSeconds === 0 && r.spec.trigger.lookBackBytes === 256e6);
  });
  it('refuses with messages', () => {
    assert.match(problems({ when: [] }), /spec.trigger.when: trigger.when needs at least one trigger/);
    assert.match(problems({ lookBack: '11m', when: [{ type: 'NotReady' }] }), /spec.trigger.lookBack: "11m" is out of range/);
    assert.match(problems({ lookBackBytes: '64', when: [{ type: 'NotReady' }] }), /needs a unit/);
    assert.match(problems({ when: [{ type: 'Traffic' }] }), /a Traffic trigger needs traffic \{metric, threshold, window\}/);
    assert.match(problems({ when: [{ type: 'Traffic', traffic: { metric: 'TcpResetsPerSecond', threshold: 1 } }] }), /spec.trigger.when\[0\].traffic.metric: "TcpResetsPerSecond" is not a traffic metric \(TcpResets, DnsServfail, Http5xx, GrpcError\)/);
    assert.match(problems({ when: [{ type: 'Traffic', traffic: { metric: 'TcpResets', threshold: 0 } }] }), /threshold must be a whole number from 1/);
    assert.match(problems({ when: [{ type: 'Traffic', traffic: { metric: 'TcpResets', threshold: 5, window: '10m' } }] }), /traffic.window: "10m" is out of range/);
    assert.match(problems({ when: [{ type: 'NotReady', traffic: { metric: 'TcpResets', threshold: 5 } }] }), /traffic applies only to type Traffic/);
    assert.match(problems({ when: [{ type: 'Event' }] }), /needs reason/);
    assert.match(problems({ when: [{ type: 'NotReady' }], extra: 1 }), /unknown field "extra"/);
    assert.match(problems({ when: [{ type: 'NotReady' }] }, { packetCount: 5 }), /packetCount does not apply/);
    assert.match(problems({ lookBackBytes: '1Gi', when: [{ type: 'NotReady' }] }, { maxFileSize: '10M', fileCount: 2 }), /does not fit in the ring/);
    const node = resolveSpec({ targetNode: 'n', targetInterface: 'eth0', trigger: { when: [{ type: 'OOMKilled' }] } }, 'pcapper');
    assert.ok(!node.ok && /node interface capture can only use Event, Webhook or Traffic/.test(node.problems[0]?.message ?? ''));
  });
  it('Traffic: resolved with its window (default 1 s), also for a node interface capture', () => {
    const r = resolveSpec(spec({ when: [{ type: 'Traffic', traffic: { metric: 'DnsServfail', threshold: 3, window: '1m' } }, { type: 'Traffic', traffic: { metric: 'TcpResets', threshold: 10 } }] }), 'shop');
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.spec.trigger?.traffic, [
      { metric: 'DnsServfail', threshold: 3, windowSeconds: 60 },
      { metric: 'TcpResets', threshold: 10, windowSeconds: 1 },
    ]);
    const node = resolveSpec({ targetNode: 'n', targetInterface: 'eth0', trigger: { when: [{ type: 'Traffic', traffic: { metric: 'Http5xx', threshold: 1 } }] } }, 'pcapper');
    assert.ok(node.ok, JSON.stringify(node));
  });
});
