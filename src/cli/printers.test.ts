import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import type { PacketCapture } from '../api/packetcapture.js';
import { formatAge, formatBytes, formatTable, printCaptures, describeCapture } from './printers.js';
import { formatBytes as unitsFormatBytes } from '../util/units.js';

const now = new Date('2026-11-22T02:00:00Z');
const pc = (name: string, extra: Partial<PacketCapture> = {}): PacketCapture => ({
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCapture',
  metadata: { name, namespace: 'shop', creationTimestamp: '2026-11-22T01:59:15Z' },
  spec: { podSelector: { matchLabels: { app: 'web' } }, captureSeconds: '5s', captureFilter: 'tcp' },
  ...extra,
});
const running = pc('web-a', {
  status: {
    progress: 'running',
    targetsTotal: 2,
    targetsRunning: 1,
    targetsFinished: 1,
    packets: 1234,
    bytes: 5_600_000,
    drops: 2,
    node: 'node-a,node-b',
    targets: [
      { name: 'pod/shop/web-1', kind: 'pod', namespace: 'shop', pod: 'web-1', node: 'node-a', phase: 'Running', packets: 1000, bytes: 5_000_000, drops: 2 },
      { name: 'pod/shop/web-2', kind: 'pod', namespace: 'shop', pod: 'web-2', node: 'node-b', phase: 'Finished', reason: 'DurationReached', packets: 234, bytes: 600_000 },
    ],
    nodes: [{ node: 'node-a', files: 1, bytes: 5_000_000 }],
  },
});

describe('formatters', () => {
  it('formatBytes is the one of src/util/units.ts (tested there)', () => {
    assert.equal(formatBytes, unitsFormatBytes);
  });
  it('formatAge like kubectl', () => {
    const ago = (s: number): string => formatAge(new Date(now.getTime() - s * 1000), now);
    assert.equal(ago(45), '45s');
    assert.equal(ago(150), '2m30s');
    assert.equal(ago(3 * 3600 + 60), '3h1m');
    assert.equal(ago(50 * 3600), '2d2h');
    assert.equal(formatAge(undefined, now), '<unknown>');
  });
  it('formatTable aligns columns', () => {
    assert.equal(formatTable(['A', 'BB'], [['xxx', 'y'], ['z', 'w']]), 'A     BB\nxxx   y\nz     w\n');
  });
});

describe('printCaptures', () => {
  it('table', () => {
    const t = printCaptures([running, pc('idle')], { output: 'table', now });
    const lines = t.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^NAME\s+STATE\s+TARGET\s+TARGETS\s+PACKETS\s+BYTES\s+DROPS\s+AGE$/);
    assert.match(lines[1] ?? '', /^web-a\s+running\s+-l app=web\s+1\/1\/2\s+1234\s+5\.6 MB\s+2\s+45s$/);
    assert.match(lines[2] ?? '', /^idle\s+pending\s+-l app=web\s+0\s+0\s+0 B\s+0\s+45s$/);
  });
  it('wide with namespaces', () => {
    const t = printCaptures([running], { output: 'wide', now, withNamespace: true });
    assert.match(t, /^NAMESPACE\s+NAME .*DURATION\s+FILTER\s+NODES\n/);
    assert.match(t, /shop\s+web-a .*5s\s+tcp\s+node-a,node-b\n$/);
  });
  it('name', () => {
    assert.equal(printCaptures([running, pc('b')], { output: 'name', now }), 'packetcapture.pcapper.dev/web-a\npacketcapture.pcapper.dev/b\n');
  });
  it('json and yaml: one object or a List', () => {
    const one = JSON.parse(printCaptures([running], { output: 'json', now }, true)) as PacketCapture;
    assert.equal(one.metadata.name, 'web-a');
    const list = parseYaml(printCaptures([running, pc('b')], { output: 'yaml', now })) as { kind: string; items: PacketCapture[] };
    assert.equal(list.kind, 'List');
    assert.deepEqual(list.items.map((i) => i.metadata.name), ['web-a', 'b']);
  });
  it('describe shows targets, nodes and events', () => {
    const d = describeCapture(running, [{ type: 'Normal', reason: 'Started', message: 'capturing 2 targets', lastTimestamp: '2026-11-22T01:59:30Z' }], now);
    assert.match(d, /^Name:\s+web-a$/m);
    assert.match(d, /Targets \(2\):\n\s+TARGET\s+NODE\s+PHASE/);
    assert.match(d, /shop\/web-2\s+node-b\s+Finished\s+234\s+600 kB\s+0\s+0\s+DurationReached/);
    assert.match(d, /NODE\s+FILES\s+BYTES\s+CLEANED UP\n\s+node-a\s+1\s+5\.0 MB\s+no\n/);
    assert.doesNotMatch(d, /ENDPOINT/);
    assert.match(d, /Normal\s+Started\s+30s\s+capturing 2 targets/);
  });
});
