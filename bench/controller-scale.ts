/**
 * `npm run bench -- controller-scale [--pods N] [--nodes M]`: one PacketCapture selecting 1,000
 * pods spread over 100 simulated nodes (Pod objects only, network:false) on a real apiserver.
 *
 * The controller runs in its own process (this file forked with --child) so its RSS is its own;
 * it counts its HTTP requests in its client (KubeClient.metrics) and reports them over IPC.
 * Figures: planned_ms = capture created -> every target planned in status (status.targetsTotal
 * and status.targets both N, read by polling the capture every 10 ms); requests = API requests
 * the controller made from the create until 1 s after planning (the settle second catches
 * trailing applies); applies = status applies in that window; startup_requests = lists/watches
 * before; rss_mb = controller RSS after planning.
 *
 * Second phase (the event storm): a second selector capture exists first, then N more pods are
 * created (32 at a time); storm_requests/storm_applies = what the controller sent from the first
 * pod create until 1 s after every pod is planned (coalescing keeps this far below one apply per
 * pod event); storm_settle_ms = last pod created -> all planned.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runController, type ControllerHandle } from '../src/controller/controller.js';
import { clientFor, getPacketCapture, loadKubeConfig } from '../src/k8s/client.js';
import { startCluster } from '../test/harness/cluster.js';
import { SimKubelet } from '../test/harness/kubelet.js';
import { createCapture, ensureNamespace, installCRD } from '../test/controller-helpers.js';

type Msg = { type: 'ready' } | { type: 'metrics'; total: number; applies: number; reconciles: number; rssMb: number };

async function child(kubeconfig: string): Promise<void> {
  const ctl: ControllerHandle = runController({ kc: loadKubeConfig({ kubeconfig }), systemNamespace: 'pcapper' });
  await ctl.ready;
  process.send?.({ type: 'ready' } satisfies Msg);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'metrics') {
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
      process.send?.({ type: 'metrics', total: ctl.client.metrics.total, applies: ctl.stats.statusApplies, reconciles: ctl.stats.reconciles, rssMb: Number(rss ?? 0) / 1024 } satisfies Msg);
    } else if (m.type === 'stop') {
      void ctl.stop().then(() => process.exit(0));
    }
  });
}

async function parent(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { pods: { type: 'string' }, nodes: { type: 'string' } } });
  const nPods = Number(values.pods ?? 1000);
  const nNodes = Number(values.nodes ?? 100);
  const cluster = await startCluster();
  const kubelet = new SimKubelet(cluster.kubeConfig);
  const admin = clientFor(cluster.kubeConfig);
  try {
    await installCRD(admin);
    await ensureNamespace(admin, 'pcapper');
    await ensureNamespace(admin, 'scale');
    const nodes = Array.from({ length: nNodes }, (_, i) => `node-${String(i).padStart(3, '0')}`);
    const t0 = Date.now();
    await pool(nodes, 20, (n) => kubelet.addNode(n, { network: false }).then(() => undefined));
    await pool(
      Array.from({ length: nPods }, (_, i) => i),
      32,
      (i) => kubelet.createPod({ namespace: 'scale', name: `web-${i}`, node: nodes[i % nNodes] ?? '', labels: { app: 'web', shard: String(i % 7) }, network: false }).then(() => undefined),
    );
    process.stderr.write(`setup: ${nNodes} nodes, ${nPods} pods in ${Date.now() - t0} ms\n`);

    const proc = fork(fileURLToPath(import.meta.url), ['--child', cluster.kubeconfigPath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const inbox: Msg[] = [];
    const waiters: ((m: Msg) => void)[] = [];
    proc.on('message', (m: Msg) => {
      const w = waiters.shift();
      if (w) w(m);
      else inbox.push(m);
    });
    const next = (): Promise<Msg> => new Promise((r) => (inbox.length ? r(inbox.shift() as Msg) : waiters.push(r)));
    const metrics = async (): Promise<Extract<Msg, { type: 'metrics' }>> => {
      proc.send({ type: 'metrics' });
      const m = await next();
      if (m.type !== 'metrics') throw new Error('unexpected message');
      return m;
    };
    if ((await next()).type !== 'ready') throw new Error('controller did not start');
    const before = await metrics();

    const created = Date.now();
    await createCapture(admin, 'scale', 'all-web', { podSelector: { matchLabels: { app: 'web' } }, captureSeconds: 600 });
    let plannedMs = -1;
    for (;;) {
      const pc = await getPacketCapture(admin, 'scale', 'all-web');
      if (pc.status?.targetsTotal === nPods && pc.status.targets?.length === nPods) {
        plannedMs = Date.now() - created;
        break;
      }
      if (Date.now() - created > 60_000) throw new Error(`not planned within 60 s: ${pc.status?.targetsTotal ?? 0} targets`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const afterM = await metrics();

    // phase 2: the storm — the capture exists (with one pod: a selector matching nothing fails
    // after the resolve grace period), then the other pods arrive
    await kubelet.createPod({ namespace: 'scale', name: 'storm-0', node: nodes[0] ?? '', labels: { app: 'storm' }, network: false });
    await createCapture(admin, 'scale', 'storm', { podSelector: { matchLabels: { app: 'storm' } }, captureSeconds: 600 });
    await new Promise((r) => setTimeout(r, 1000));
    const stormBefore = await metrics();
    await pool(
      Array.from({ length: nPods - 1 }, (_, i) => i + 1),
      32,
      (i) => kubelet.createPod({ namespace: 'scale', name: `storm-${i}`, node: nodes[i % nNodes] ?? '', labels: { app: 'storm' }, network: false }).then(() => undefined),
    );
    const lastCreated = Date.now();
    let settleMs = -1;
    for (;;) {
      const pc = await getPacketCapture(admin, 'scale', 'storm');
      if (pc.status?.targetsTotal === nPods) {
        settleMs = Date.now() - lastCreated;
        break;
      }
      if (Date.now() - lastCreated > 60_000) throw new Error(`storm not planned within 60 s: ${pc.status?.targetsTotal ?? 0} targets`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const stormAfter = await metrics();
    proc.send({ type: 'stop' });
    await new Promise((r) => proc.once('exit', r));
    const requests = afterM.total - before.total;
    process.stderr.write(`controller: ${afterM.reconciles - before.reconciles} reconciles, ${afterM.applies - before.applies} status applies\n`);
    process.stdout.write(
      `pods=${nPods} nodes=${nNodes} planned_ms=${plannedMs} requests=${requests} applies=${afterM.applies - before.applies} startup_requests=${before.total} rss_mb=${afterM.rssMb.toFixed(1)} ` +
        `storm_requests=${stormAfter.total - stormBefore.total} storm_applies=${stormAfter.applies - stormBefore.applies} storm_settle_ms=${settleMs} storm_rss_mb=${stormAfter.rssMb.toFixed(1)}\n`,
    );
  } finally {
    await kubelet.close();
    await cluster.stop();
  }
}

async function pool<T>(items: T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) {
        const x = items[i++] as T;
        await f(x);
      }
    }),
  );
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1] ?? '');
else await parent(args);
