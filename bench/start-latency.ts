// `npm run bench -- start-latency [N]`: PacketCapture created -> tcpdump capturing on the node.
//
// Real path: kube-apiserver, the real controller (in-process, plans the target), one agent
// process on a simulated node, one pod with a real netns. For each of N (default 60, first 5 are
// warm-up and not counted) captures of that pod: t0 = just before the create request; t1 = when
// a watch on PacketCaptures sees the target's phase Running, which the agent writes only after
// tcpdump printed "listening on" (it is capturing). t1 - t0 therefore includes the controller's
// planning, the agent's netns lookup, `tcpdump -d` filter check, tcpdump start, and two status
// round trips through the apiserver: an upper bound of "capturing".
// Each capture is deleted (and its finalizer released by the controller) before the next one.
//
// Last line: `p50_ms=… p90_ms=… p99_ms=… max_ms=… n=…`
import { packetCapturePath } from '../src/k8s/client.js';
import { createPacketCapture, deletePacketCapture } from '../src/k8s/client.js';
import { Informer, type KubeObject } from '../src/k8s/informer.js';
import type { PacketCapture } from '../src/api/packetcapture.js';
import { startAgentEnv, tcpdumpPids, waitFor } from '../test/agent-support.js';

const N = Number(process.argv[2] ?? 60);
const WARMUP = 5;
const NS = 'bench';

function pct(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)] ?? NaN;
}

async function main(): Promise<void> {
  const env = await startAgentEnv({ nodes: ['node-a'], pods: [{ namespace: NS, name: 'target', node: 'node-a', labels: { app: 'target' } }], controller: true });
  const watcher = new Informer<PacketCapture & KubeObject>({ kc: env.cluster.kubeConfig, path: packetCapturePath(NS) });
  const waiting = new Map<string, (t: number) => void>();
  watcher.onChange((c) => {
    const name = c.object.metadata.name ?? '';
    const w = waiting.get(name);
    if (w && (c.object.status?.targets ?? []).some((t) => t.phase === 'Running')) {
      waiting.delete(name);
      w(performance.now());
    }
  });
  watcher.start();
  await watcher.waitForSync();
  const samples: number[] = [];
  try {
    for (let i = 0; i < N + WARMUP; i++) {
      const name = `lat-${i}`;
      const running = new Promise<number>((resolve, reject) => {
        waiting.set(name, resolve);
        setTimeout(() => reject(new Error(`${name}: not Running after 15 s`)), 15_000).unref();
      });
      const t0 = performance.now();
      await createPacketCapture(env.cluster.kubeConfig, {
        metadata: { name, namespace: NS },
        spec: { targetPod: 'target', captureSeconds: '60', maxFileSize: '1M', fileCount: '1', captureFilter: 'tcp port 80' },
      });
      const t1 = await running;
      if (i >= WARMUP) samples.push(t1 - t0);
      await deletePacketCapture(env.cluster.kubeConfig, NS, name);
      await waitFor(`${name} tcpdump stopped`, () => tcpdumpPids(env.tmp).length === 0, 10_000, 10);
    }
  } finally {
    await watcher.stop();
    await env.stop();
  }
  const s = [...samples].sort((a, b) => a - b);
  const f = (x: number): string => x.toFixed(0);
  console.log(`start-latency: ${s.length} captures (after ${WARMUP} warm-up), create -> target Running (tcpdump listening), real controller + agent process`);
  console.log(`p50_ms=${f(pct(s, 50))} p90_ms=${f(pct(s, 90))} p99_ms=${f(pct(s, 99))} max_ms=${f(s[s.length - 1] ?? NaN)} n=${s.length}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
