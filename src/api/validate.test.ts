import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseSize, parseCount, resolveSpec, resolveSpecOrThrow, SpecError, validateSelector } from './validate.js';

test('parseDuration: seconds as number and string, units', () => {
  assert.equal(parseDuration(600), 600);
  assert.equal(parseDuration('600'), 600);
  assert.equal(parseDuration('5m'), 300);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('30s'), 30);
  assert.ok(parseDuration('ten') instanceof Error);
  assert.ok(parseDuration('5d') instanceof Error);
  assert.ok(parseDuration('') instanceof Error);
  assert.ok(parseDuration(1.5) instanceof Error);
  assert.ok(parseDuration(null) instanceof Error);
});

test('parseSize: bare number = megabytes (tcpdump -C), SI and binary units', () => {
  assert.equal(parseSize('100M'), 100_000_000);
  assert.equal(parseSize('100'), 100_000_000);
  assert.equal(parseSize(100), 100_000_000);
  assert.equal(parseSize('1Gi'), 1024 ** 3);
  assert.equal(parseSize('512Mi'), 512 * 1024 ** 2);
  assert.equal(parseSize('1G'), 1_000_000_000);
  assert.equal(parseSize('1500k'), 1_500_000);
  assert.ok(parseSize('10X') instanceof Error);
  assert.ok(parseSize('-1M') instanceof Error);
  assert.ok(parseSize('lots') instanceof Error);
});

test('parseCount', () => {
  assert.equal(parseCount('10'), 10);
  assert.equal(parseCount(10), 10);
  assert.ok(parseCount('ten') instanceof Error);
  assert.ok(parseCount('1e3') instanceof Error);
});

test('seed 002 pod example resolves with its values', () => {
  const r = resolveSpecOrThrow(
    { targetNamespace: 'test-namespace', targetPod: 'test-pod', captureSeconds: '600', captureFilter: 'icmp and host 192.168.1.10', maxFileSize: '100M', fileCount: '10' },
    'pcapper',
  );
  assert.deepEqual(r.target, { kind: 'pod', namespace: 'test-namespace', pod: 'test-pod' });
  assert.equal(r.captureSeconds, 600);
  assert.equal(r.maxFileSizeBytes, 100_000_000);
  assert.equal(r.maxFileSizeMillions, 100);
  assert.equal(r.fileCount, 10);
  assert.equal(r.captureFilter, 'icmp and host 192.168.1.10');
  assert.equal(r.interfaceName, 'any');
  assert.equal(r.snapLength, 262144);
});

test('seed 002 interface example resolves to a node target', () => {
  const r = resolveSpecOrThrow({ targetNode: 'worker-01', targetInterface: 'eno1', captureSeconds: '600', maxFileSize: '100M', fileCount: '10' }, 'pcapper');
  assert.deepEqual(r.target, { kind: 'node', node: 'worker-01', interface: 'eno1' });
  assert.equal(r.interfaceName, 'eno1');
});

test('defaults: 60 s unless packetCount; targetNamespace defaults to own namespace; seed 004 duration', () => {
  const a = resolveSpecOrThrow({ podSelector: { matchLabels: { app: 'web' } } }, 'team-a');
  assert.equal(a.captureSeconds, 60);
  assert.equal(a.maxFileSizeBytes * a.fileCount, 500_000_000, 'default ring: 100M x 5 (16 fit in the default 10G quota)');
  assert.deepEqual(a.target, { kind: 'selector', namespace: 'team-a', selector: { matchLabels: { app: 'web' } } });
  const b = resolveSpecOrThrow({ targetPod: 'p', packetCount: 10 }, 'team-a');
  assert.equal(b.captureSeconds, undefined);
  assert.equal(b.packetCount, 10);
  const c = resolveSpecOrThrow({ targetDeployment: 'web', duration: '30', jobId: 'qwer' }, 'ns');
  assert.deepEqual(c.target, { kind: 'workload', namespace: 'ns', workloadKind: 'Deployment', name: 'web' });
  assert.equal(c.captureSeconds, 30);
  assert.equal(resolveSpecOrThrow({ targetPod: 'p', snapLength: 0 }, 'ns').snapLength, 262144);
});

const bad: [string, unknown, string][] = [
  ['no target', { captureSeconds: 5 }, 'NoTarget'],
  ['two targets', { targetPod: 'a', podSelector: { matchLabels: { a: 'b' } } }, 'MultipleTargets'],
  ['negative size', { targetPod: 'a', maxFileSize: '-5M' }, 'InvalidValue'],
  ['absurd size', { targetPod: 'a', maxFileSize: '9999999G' }, 'OutOfRange'],
  ['10X size', { targetPod: 'a', maxFileSize: '10X' }, 'InvalidValue'],
  ['word for seconds', { targetPod: 'a', captureSeconds: 'ten' }, 'InvalidValue'],
  ['word for count', { targetPod: 'a', fileCount: 'many' }, 'InvalidValue'],
  ['zero fileCount', { targetPod: 'a', fileCount: 0 }, 'OutOfRange'],
  ['unknown workload kind', { workloadRef: { kind: 'CronJob', name: 'x' } }, 'UnknownWorkloadKind'],
  ['targetInterface alone', { targetPod: 'a', targetInterface: 'eth0' }, 'IncompleteNodeTarget'],
  ['path-like interface', { targetNode: 'n', targetInterface: '../../etc' }, 'InvalidValue'],
  ['flag-like filter', { targetPod: 'a', captureFilter: '-z /x.sh' }, 'InvalidFilter'],
  ['over-long filter', { targetPod: 'a', captureFilter: 'tcp '.repeat(300) }, 'InvalidFilter'],
  ['empty selector', { podSelector: {} }, 'EmptySelector'],
  ['bad selector operator', { podSelector: { matchExpressions: [{ key: 'a', operator: 'Like' }] } }, 'InvalidSelector'],
  ['too long capture', { targetPod: 'a', captureSeconds: 10_000_000 }, 'OutOfRange'],
  ['both durations', { targetPod: 'a', captureSeconds: 5, duration: 5 }, 'InvalidValue'],
  ['snap too big', { targetPod: 'a', snapLength: 10_000_000 }, 'OutOfRange'],
  ['too much per target', { targetPod: 'a', maxFileSize: '100G', fileCount: 1000 }, 'OutOfRange'],
  ['unknown field', { targetPod: 'a', targetPods: 'b' }, 'UnknownField'],
  ['pod name with slash', { targetPod: 'a/b' }, 'InvalidValue'],
];
for (const [name, spec, reason] of bad) {
  test(`refused: ${name}`, () => {
    const r = resolveSpec(spec, 'ns');
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.ok(
      r.problems.some((p) => p.reason === reason),
      `expected ${reason}, got ${JSON.stringify(r.problems)}`,
    );
    for (const p of r.problems) assert.ok(p.message.length > 10, 'readable message');
  });
}

test('resolveSpecOrThrow throws SpecError with all problems', () => {
  assert.throws(() => resolveSpecOrThrow({ maxFileSize: '10X' }, 'ns'), (e: unknown) => e instanceof SpecError && e.problems.length === 2);
});

test('validateSelector accepts prefixed keys and set operators', () => {
  assert.deepEqual(validateSelector({ matchLabels: { 'app.kubernetes.io/name': 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] }, 's'), []);
});
