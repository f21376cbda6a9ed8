// `npm run bench -- agent-idle`: CPU and memory of one agent process when idle, and with 10
// running captures (10 PacketCaptures of one pod, no traffic), measured from /proc over a window.
// The agent has no polling loop of its own: watches, plus per-capture status refresh ticks
// (PCAPPER_STATUS_INTERVAL, default 2 s) and the disk guard tick (5 s) while captures run.
//
// Last line: `idle_cpu_pct=… idle_rss_mb=… running10_cpu_pct=… running10_rss_mb=…`
import { createPacketCapture, deletePacketCapture } from '../src/k8s/client.js';
import { getCapture, procUsage, startAgentEnv, tcpdumpPids, waitFor } from '../test/agent-support.js';

const NS = 'bench';
const WINDOW_MS = Number(process.argv[2] ?? 20_000);

async function measure(pid: number, ms: number): Promise<{ cpuPct: number; rssMb: number }> {
  const a = procUsage(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const b = procUsage(pid);
  const secs = (performance.now() - t0) / 1000;
  return { cpuPct: ((b.cpuSeconds - a.cpuSeconds) / secs) * 100, rssMb: b.rssBytes / 1e6 };
}

async function main(): Promise<void> {
  const env = await startAgentEnv({
    nodes: ['node-a'],
    pods: [{ namespace: NS, name: 'quiet', node: 'node-a' }],
    controller: true,
    agentEnv: { PCAPPER_STATUS_INTERVAL: '2s', PCAPPER_DISK_CHECK_INTERVAL: '5s' },
  });
  try {
    const pid = env.agents.get('node-a')?.pid;
    if (!pid) throw new Error('no agent pid');
    await new Promise((r) => setTimeout(r, 3000)); // settle after start
    const idle = await measure(pid, WINDOW_MS);
    for (let i = 0; i < 10; i++) {
      await createPacketCapture(env.cluster.kubeConfig, {
        metadata: { name: `idle-${i}`, namespace: NS },
        spec: { targetPod: 'quiet', captureSeconds: '600', maxFileSize: '1M', fileCount: '1' },
      });
    }
    for (let i = 0; i < 10; i++)
      await waitFor(`idle-${i} Running`, async () => (await getCapture(env.cluster.kubeConfig, NS, `idle-${i}`)).status?.targets?.[0]?.phase === 'Running', 20_000);
    if (tcpdumpPids(env.tmp).length !== 10) throw new Error(`expected 10 tcpdumps, found ${tcpdumpPids(env.tmp).length}`);
    await new Promise((r) => setTimeout(r, 3000));
    const busy = await measure(pid, WINDOW_MS);
    for (let i = 0; i < 10; i++) await deletePacketCapture(env.cluster.kubeConfig, NS, `idle-${i}`);
    await waitFor('captures stopped', () => tcpdumpPids(env.tmp).length === 0, 20_000);
    console.log(`agent-idle: one agent process, ${WINDOW_MS / 1000} s windows; status interval 2 s, disk check 5 s`);
    console.log(`idle_cpu_pct=${idle.cpuPct.toFixed(2)} idle_rss_mb=${idle.rssMb.toFixed(0)} running10_cpu_pct=${busy.cpuPct.toFixed(2)} running10_rss_mb=${busy.rssMb.toFixed(0)}`);
  } finally {
    await env.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
