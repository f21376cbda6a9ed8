import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget, buildPacketCapture, generateName, targetDisplay, TargetError } from './target.js';

const fixed = (): string => 'abcde';

describe('parseTarget', () => {
  it('parses every target form', () => {
    assert.deepEqual(parseTarget('pod/web-1', undefined), { kind: 'pod', name: 'web-1' });
    assert.deepEqual(parseTarget('web-1', undefined), { kind: 'pod', name: 'web-1' });
    assert.deepEqual(parseTarget('po/web-1', undefined), { kind: 'pod', name: 'web-1' });
    assert.deepEqual(parseTarget('deploy/web', undefined), { kind: 'workload', workloadKind: 'Deployment', name: 'web' });
    assert.deepEqual(parseTarget('deployment/web', undefined), { kind: 'workload', workloadKind: 'Deployment', name: 'web' });
    assert.deepEqual(parseTarget('sts/db', undefined), { kind: 'workload', workloadKind: 'StatefulSet', name: 'db' });
    assert.deepEqual(parseTarget('ds/agent', undefined), { kind: 'workload', workloadKind: 'DaemonSet', name: 'agent' });
    assert.deepEqual(parseTarget('rs/web-7d9c', undefined), { kind: 'workload', workloadKind: 'ReplicaSet', name: 'web-7d9c' });
    assert.deepEqual(parseTarget('node/n1', undefined), { kind: 'node', name: 'n1' });
    assert.deepEqual(parseTarget(undefined, 'app=demo'), { kind: 'selector', selector: { matchLabels: { app: 'demo' } }, text: 'app=demo' });
  });
  it('rejects unknown kinds, bad names, both or neither', () => {
    assert.throws(() => parseTarget('svc/web', undefined), /unknown target kind "svc"/);
    assert.throws(() => parseTarget('pod/Web_1', undefined), /not a valid pod name/);
    assert.throws(() => parseTarget('pod/', undefined), /not a valid/);
    assert.throws(() => parseTarget('pod/x', 'app=x'), /not both/);
    assert.throws(() => parseTarget(undefined, undefined), /a target is required/);
    assert.throws(() => parseTarget(undefined, 'a in ('), TargetError);
  });
});

describe('buildPacketCapture', () => {
  it('builds a pod capture with every flag', () => {
    const pc = buildPacketCapture(parseTarget('pod/web-1', undefined), {
      namespace: 'shop',
      duration: '5s',
      count: 100,
      filter: 'tcp port 80',
      snaplen: 128,
      maxFileSize: '10M',
      fileCount: 3,
      ttl: '1h',
      interface: 'eth0',
      suffix: fixed,
    });
    assert.deepEqual(pc, {
      apiVersion: 'pcapper.dev/v1alpha1',
      kind: 'PacketCapture',
      metadata: { name: 'web-1-abcde', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'kubectl-pcap' } },
      spec: {
        targetPod: 'web-1',
        interfaceName: 'eth0',
        captureSeconds: '5s',
        packetCount: 100,
        captureFilter: 'tcp port 80',
        snapLength: 128,
        maxFileSize: '10M',
        fileCount: 3,
        ttlSecondsAfterFinished: 3600,
      },
    });
  });
  it('numeric durations stay numbers; workloads use targetDeployment / workloadRef', () => {
    const d = buildPacketCapture(parseTarget('deploy/web', undefined), { namespace: 'a', duration: '600', name: 'x' });
    assert.deepEqual(d.spec, { targetDeployment: 'web', captureSeconds: 600 });
    const s = buildPacketCapture(parseTarget('sts/db', undefined), { namespace: 'a', name: 'x' });
    assert.deepEqual(s.spec, { workloadRef: { kind: 'StatefulSet', name: 'db' } });
    const l = buildPacketCapture(parseTarget(undefined, 'app=demo,tier in (a,b)'), { namespace: 'a', suffix: fixed });
    assert.equal(l.metadata.name, 'demo-abcde');
    assert.deepEqual(l.spec.podSelector, { matchLabels: { app: 'demo' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] });
  });
  it('node targets need --interface and take no target namespace', () => {
    assert.throws(() => buildPacketCapture(parseTarget('node/n1', undefined), { namespace: 'pcapper' }), /needs --interface/);
    const n = buildPacketCapture(parseTarget('node/n1', undefined), { namespace: 'pcapper', interface: 'eth0', name: 'n' });
    assert.deepEqual(n.spec, { targetNode: 'n1', targetInterface: 'eth0' });
    assert.throws(() => buildPacketCapture(parseTarget('node/n1', undefined), { namespace: 'pcapper', interface: 'eth0', targetNamespace: 'x' }), /does not apply/);
  });
  it('refuses bad values naming the flag', () => {
    const t = parseTarget('pod/x', undefined);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ duration: '5 minutes' }, /invalid --duration "5 minutes"/],
      [{ duration: '0' }, /invalid --duration: .*out of range/],
      [{ maxFileSize: '100X' }, /invalid --max-file-size/],
      [{ maxFileSize: '1k' }, /invalid --max-file-size: .*out of range/],
      [{ fileCount: 0 }, /invalid --file-count/],
      [{ filter: '-z /x.sh' }, /invalid --filter/],
      [{ snaplen: 999999 }, /invalid --snaplen/],
      [{ interface: '../etc' }, /invalid --interface/],
      [{ name: 'Bad_Name' }, /invalid --name/],
      [{ ttl: 'soon' }, /invalid --ttl/],
    ];
    for (const [o, re] of cases) assert.throws(() => buildPacketCapture(t, { namespace: 'a', ...o }), re, JSON.stringify(o));
  });
  it('generated names fit in 63 characters', () => {
    const n = generateName({ kind: 'pod', name: `${'a'.repeat(60)}.b` }, fixed);
    assert.ok(n.length <= 63, n);
    assert.match(n, /^[a-z0-9-]+-abcde$/);
  });
  it('targetDisplay', () => {
    assert.equal(targetDisplay({ targetPod: 'x' }), 'pod/x');
    assert.equal(targetDisplay({ workloadRef: { kind: 'DaemonSet', name: 'd' } }), 'ds/d');
    assert.equal(targetDisplay({ podSelector: { matchLabels: { app: 'x' }, matchExpressions: [{ key: 'k', operator: 'DoesNotExist' }] } }), '-l app=x,!k');
    assert.equal(targetDisplay({ targetNode: 'n', targetInterface: 'eth0' }), 'node/n:eth0');
  });
});
