/**
 * The observable controller (issue 14 item 7), as a real process against a real apiserver with the
 * chart's ServiceAccount and RBAC (deploy/pcapper.yaml): /healthz answers at once; /readyz is 503
 * while the informers cannot list (no RBAC yet) and 200 once they synced; /metrics counts
 * reconciles and their duration once a PacketCapture exists; a 403 on the status subresource is a
 * terminal error (counted by type and reason, recorded as a ReconcileFailed Event).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clientFor, type KubeClient } from '../src/k8s/client.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { repoRoot } from './harness/paths.js';
import { findManifest, parseManifests, readRepoFile, rulesOf, type Manifest } from './tools/helm.js';
import { createCapture, ensureNamespace, eventsOf, waitCapture } from './controller-helpers.js';
import { eventually } from './harness/eventually.js';
import { startProcess, type LoggedProcess } from './harness/process.js';

const SYSTEM_NS = 'pcapper';
const NS = 'obs';

let cluster: Cluster;
let admin: KubeClient;
let manifests: Manifest[];
let controller: LoggedProcess | undefined;
/** The controller's log so far. */
const logText = (): string => controller?.log() ?? '';
let base = '';

async function apply(ms: Manifest[]): Promise<void> {
  const r = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=obs-test', '-f', '-'], { input: ms.map((m) => JSON.stringify(m)).join('\n') });
  assert.equal(r.code, 0, r.stderr);
}

async function get(path: string): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(base + path);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

/** The value of one sample of the exposition text, e.g. sample(text, 'x_total{result="success"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function metric(series: string): Promise<number | undefined> {
  return sample((await get('/metrics')).body, series);
}

before(async () => {
  cluster = await startCluster();
  admin = clientFor(cluster.kubeConfig);
  manifests = parseManifests(readRepoFile('deploy/pcapper.yaml'));
  // Only the namespace, the ServiceAccount and the CRD: the controller starts without RBAC.
  await apply(manifests.filter((m) => m.kind === 'Namespace' || m.kind === 'CustomResourceDefinition' || (m.kind === 'ServiceAccount' && m.metadata.name === 'pcapper-controller')));
  assert.equal((await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/packetcaptures.pcapper.dev'])).code, 0);
  await ensureNamespace(admin, NS);
  const kubeconfig = cluster.writeKubeconfig('obs-controller', (await cluster.serviceAccountKubeConfig(SYSTEM_NS, 'pcapper-controller')).getCurrentUser()?.token ?? '');
  const bin = join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js');
  controller = startProcess('controller', [process.execPath, '--enable-source-maps', bin, 'controller', '--kubeconfig', kubeconfig, '--leader-elect', '--identity', 'obs-test', '--metrics-addr', '127.0.0.1:0', '--resolve-grace', '600']);
  const [serving] = await controller.waitLog(/^\{.*"msg":"serving \/metrics.*$/m, 20_000);
  const addr = (JSON.parse(serving) as { addr?: string }).addr ?? '';
  assert.match(addr, /^127\.0\.0\.1:\d+$/);
  base = `http://${addr}`;
});

after(async () => {
  await controller?.stop();
  await cluster?.stop();
});

describe('controller /healthz, /readyz, /metrics', () => {
  it('/readyz is 503 while the informers are refused (no RBAC), /healthz 200; both 200 and the Lease taken once the chart RBAC exists', async () => {
    await eventually(() => /403|forbidden/i.test(logText()), { what: 'a 403 in the log', timeoutMs: 20_000, describe: () => logText().slice(-2000) });
    const notReady = await get('/readyz');
    assert.equal(notReady.status, 503, notReady.body);
    assert.match(notReady.body, /informers have not synced/);
    assert.equal((await get('/healthz')).status, 200);
    assert.equal(await metric('pcapper_controller_informers_synced'), 0);
    assert.equal((await get('/nope')).status, 404);

    await apply(manifests.filter((m) => /^(Cluster)?Role(Binding)?$/.test(m.kind)));
    await eventually(async () => ((await get('/readyz')).status === 200 ? true : undefined), { what: '/readyz 200', timeoutMs: 60_000, describe: async () => `${(await get('/readyz')).body} ${logText().slice(-1500)}` });
    assert.equal(await metric('pcapper_controller_informers_synced'), 1);
    await eventually(async () => ((await metric('pcapper_controller_leader')) === 1 ? true : undefined), { what: 'the leader gauge at 1', timeoutMs: 30_000 });
    assert.equal((await get('/healthz')).status, 200);
  });

  it('/metrics: the reconcile counter and histogram grow when a PacketCapture is created; queue depth and process metrics are exported', async () => {
    const m = await get('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain/);
    const before = sample(m.body, 'pcapper_controller_reconcile_total{result="success"}');
    assert.notEqual(before, undefined, m.body.slice(0, 2000));
    assert.notEqual(sample(m.body, 'pcapper_controller_workqueue_depth'), undefined);
    assert.notEqual(sample(m.body, 'process_cpu_user_seconds_total'), undefined, 'default process metrics');
    assert.match(m.body, /^nodejs_eventloop_lag_seconds /m);
    const hist0 = sample(m.body, 'pcapper_controller_reconcile_duration_seconds_count') ?? 0;

    await createCapture(admin, NS, 'c1', { targetPod: 'nothere', captureSeconds: '60' });
    await waitCapture(admin, NS, 'c1', 'a status from the controller', (pc) => pc.status?.observedGeneration === 1, 20_000);
    const after = await eventually(async () => {
      const v = await metric('pcapper_controller_reconcile_total{result="success"}');
      return v !== undefined && v > (before ?? 0) ? v : undefined;
    }, { what: 'more successful reconciles' });
    assert.ok(after > (before ?? 0));
    assert.ok(((await metric('pcapper_controller_reconcile_duration_seconds_count')) ?? 0) > hist0, 'the duration histogram observed them');
  });

  it('a 403 on packetcaptures/status is terminal: counted as terminal/Forbidden and recorded once as a ReconcileFailed Event', async () => {
    const role = findManifest(manifests, 'ClusterRole', 'pcapper-controller');
    const without = { ...role, rules: rulesOf(role).filter((r) => !(r.resources ?? []).includes('packetcaptures/status')) } as Manifest;
    assert.ok(rulesOf(without).length < rulesOf(role).length, 'the chart role grants packetcaptures/status');
    await apply([without]);
    try {
      const auth = await cluster.kubectl(['auth', 'can-i', 'patch', 'packetcaptures.pcapper.dev', '--subresource=status', '-n', NS, `--as=system:serviceaccount:${SYSTEM_NS}:pcapper-controller`]);
      assert.equal(auth.stdout.trim(), 'no', 'the role change took effect');
      const before = (await metric('pcapper_controller_reconcile_errors_total{type="terminal",reason="Forbidden"}')) ?? 0;
      const pc = await createCapture(admin, NS, 'c2', { targetPod: 'nothere', captureSeconds: '60' });
      await eventually(async () => ((await metric('pcapper_controller_reconcile_errors_total{type="terminal",reason="Forbidden"}')) ?? 0) > before, {
        what: 'a terminal Forbidden error in /metrics',
        timeoutMs: 20_000,
        describe: () => logText().slice(-2000),
      });
      const ev = await eventually(async () => (await eventsOf(admin, pc)).find((e) => e.reason === 'ReconcileFailed'), { what: 'a ReconcileFailed Event', timeoutMs: 20_000 });
      assert.equal(ev.type, 'Warning');
      assert.match(ev.message, /^Forbidden: .*403/);
      assert.equal(ev.count, 1, 'reported once, not once per attempt');
      assert.ok(((await metric('pcapper_controller_reconcile_total{result="error"}')) ?? 0) >= 1);
    } finally {
      await apply([role]);
    }
  });
});
