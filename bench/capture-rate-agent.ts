// The lossless capture rate through the agent, as bench/capture-rate.ts measures it, for other
// benchmarks: `npm run bench -- storage` runs it with encryption on and off (encrypt_overhead).
// A trial passes when tcpdump reports 0 "dropped by kernel" and the target captured every packet
// sent (packetCount = packets sent, so the target finishes exactly then). The ladder of offered
// rates stops at the first failing rate; the figure is the best achieved send rate over `passes`.
//
// With `opts.sink` (bench/kafka.ts, vs_no_analysis) every capture names a PacketCaptureSink that points
// at a real broker: the agent analyses the capture live and publishes its records. The sink CRD, the
// agent's permission to watch sinks and the sink object are installed here, then the controller starts
// with sink checks on (as the chart runs it); a warm-up capture (in either mode) proves
// the path (its target's status shows recordsPublished > 0) before any trial counts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runController } from '../src/controller/controller.js';
import { createPacketCapture, deletePacketCapture } from '../src/k8s/client.js';
import { AGENT_SA, applyYaml, getCapture, startAgentEnv, SYSTEM_NAMESPACE, tcpdumpPids, waitFor, type AgentEnv } from '../test/agent-support.js';
import { repoRoot } from '../test/harness/paths.js';

const NS = 'bench';
const PORT = 9999;
const SECONDS = 2;
export const LADDER = [50_000, 100_000, 200_000, 300_000, 400_000, 500_000, 600_000, 700_000, 850_000, 1_000_000];

const BLASTER = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: blaster IP PORT PPS COUNT\n"); return 2; }
  long pps = atol(argv[3]), count = atol(argv[4]);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int sz = 8 << 20; setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[2])); inet_pton(AF_INET, argv[1], &a.sin_addr);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
  enum { B = 32 };
  char buf[B][64]; struct iovec iov[B]; struct mmsghdr m[B];
  memset(m, 0, sizeof m);
  for (int i = 0; i < B; i++) { memset(buf[i], 'p', 64); iov[i].iov_base = buf[i]; iov[i].iov_len = 64; m[i].msg_hdr.msg_iov = &iov[i]; m[i].msg_hdr.msg_iovlen = 1; }
  double t0 = now(); long sent = 0;
  while (sent < count) {
    double due = t0 + (double)sent / pps, ahead = due - now();
    if (ahead > 0) { struct timespec d = { 0, (long)(ahead * 1e9) }; nanosleep(&d, NULL); }
    int n = B; if (count - sent < n) n = count - sent;
    int r = sendmmsg(fd, m, n, 0);
    if (r > 0) sent += r;
  }
  double el = now() - t0;
  printf("%ld %.6f\n", sent, el);
  return 0;
}
`;

export interface AgentRate {
  maxPps: number;
  trials: Array<{ pass: number; rate: number; achieved: number; sent: number; captured: number; drops: number; ok: boolean; recordsPublished?: number }>;
}

/** A Kafka sink every capture of the run names (live analysis + publishing on). */
export interface RateSink {
  readonly brokers: readonly string[];
  readonly topic: string;
}

const SINK_NAME = 'bench-rate';

/** The sink CRD, the agent's right to watch sinks, and the sink object allowing namespace NS. */
async function installSink(env: AgentEnv, sink: RateSink): Promise<void> {
  await applyYaml(env.cluster, readFileSync(join(repoRoot(), 'deploy', 'crd-packetcapturesinks.yaml'), 'utf8'));
  await applyYaml(
    env.cluster,
    `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pcapper-bench-sinks}
rules:
- {apiGroups: [pcapper.dev], resources: [packetcapturesinks], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: pcapper-bench-sinks}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pcapper-bench-sinks}
subjects:
- {kind: ServiceAccount, name: ${AGENT_SA}, namespace: ${SYSTEM_NAMESPACE}}
`,
  );
  const obj = JSON.stringify({
    apiVersion: 'pcapper.dev/v1alpha1',
    kind: 'PacketCaptureSink',
    metadata: { name: SINK_NAME },
    spec: { kafka: { brokers: [...sink.brokers], topic: sink.topic }, allowedNamespaces: { names: [NS] } },
  });
  // the CRD takes a moment to be served
  await waitFor('PacketCaptureSink created', () => applyYaml(env.cluster, obj).then(() => true, () => false), 60_000, 500);
}

/** The best lossless rate of the agent started with `agentEnv` (a fresh cluster env, stopped after). */
export async function agentLosslessRate(
  agentEnv: Record<string, string>,
  passes: number,
  rates: readonly number[] = LADDER,
  log: (m: string) => void = () => undefined,
  opts: { sink?: RateSink } = {},
): Promise<AgentRate> {
  const work = mkdtempSync(join(tmpdir(), 'pcapper-rate-'));
  const blaster = join(work, 'blaster');
  writeFileSync(join(work, 'blaster.c'), BLASTER);
  const cc = spawnSync('cc', ['-O2', '-o', blaster, join(work, 'blaster.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot compile the packet sender with cc: ${cc.stderr}`);
  const env = await startAgentEnv({
    nodes: ['node-a'],
    pods: [
      { namespace: NS, name: 'tx', node: 'node-a' },
      { namespace: NS, name: 'rx', node: 'node-a' },
    ],
    // sink mode: the controller starts once the sink CRD exists (it checks spec.sink against it)
    controller: !opts.sink,
    agentEnv: { PCAPPER_STATUS_INTERVAL: '2s', PCAPPER_DISK_CHECK_INTERVAL: '5s', ...agentEnv },
  });
  const out: AgentRate = { maxPps: 0, trials: [] };
  try {
    const tx = env.pods.get(`${NS}/tx`);
    const rx = env.pods.get(`${NS}/rx`);
    if (!tx || !rx) throw new Error('pods missing');
    const send = (rate: number): { sent: number; seconds: number } => {
      const r = spawnSync('nsenter', [`--net=${tx.netnsPath}`, '--', blaster, rx.ip, String(PORT), String(rate), String(rate * SECONDS)], { encoding: 'utf8', timeout: 60_000 });
      if (r.status !== 0) throw new Error(`sender failed: ${r.stderr}`);
      const [sent, secs] = r.stdout.trim().split(/\s+/).map(Number);
      return { sent: sent ?? 0, seconds: secs ?? 1 };
    };
    send(1000);
    let n = 0;
    const sinkSpec = opts.sink ? { sink: SINK_NAME } : {};
    /**
     * Sink mode: the target's status once its records reached the sink (each capture here has one UDP
     * flow, so at least one record, published or dropped). Status shows 0/0 while the target runs.
     */
    const settled = async (name: string) =>
      waitFor(`${name} records published or dropped`, async () => {
        const t = (await getCapture(env.cluster.kubeConfig, NS, name)).status?.targets?.[0];
        return (t?.recordsPublished ?? 0) + (t?.recordsDropped ?? 0) > 0 ? t : undefined;
      }, 40_000, 250);
    if (opts.sink) {
      await installSink(env, opts.sink);
      env.controller = runController({ kc: env.cluster.kubeConfig, sinks: true });
      await env.controller.ready;
    }
    // One warm-up capture in either mode, not counted: the first ladder rate for SECONDS, ended by
    // captureSeconds (the agent's code paths compiled before any trial). Sink mode: repeated until its
    // record is published (the agent's sink informer may not have listed the new sink yet).
    await waitFor(
      opts.sink ? 'a warm-up capture published its records through the sink' : 'a warm-up capture',
      async () => {
        const name = `warm-${n++}`;
        await createPacketCapture(env.cluster.kubeConfig, { metadata: { name, namespace: NS }, spec: { targetPod: 'rx', interfaceName: 'eth0', captureFilter: `udp port ${PORT}`, captureSeconds: String(SECONDS + 1), ...sinkSpec } });
        const running = await waitFor(`${name} Running`, async () => (await getCapture(env.cluster.kubeConfig, NS, name)).status?.targets?.[0]?.phase === 'Running', 15_000, 20).catch(async (e: unknown) => {
          log(`warm-up ${name} not running: ${String(e)}; status ${JSON.stringify((await getCapture(env.cluster.kubeConfig, NS, name)).status ?? {})}`);
          return false;
        });
        if (running) send(rates[0] ?? 50_000);
        const done = running ? await waitFor(`${name} Finished`, async () => (await getCapture(env.cluster.kubeConfig, NS, name)).status?.targets?.[0]?.phase === 'Finished', 30_000, 100).catch(() => false) : false;
        const t = done && opts.sink ? await settled(name).catch(() => undefined) : undefined;
        await deletePacketCapture(env.cluster.kubeConfig, NS, name);
        await waitFor('agent tcpdump gone', () => tcpdumpPids(env.tmp).length === 0, 10_000);
        log(`warm-up ${name}: ${done ? 'finished' : 'not finished'}${opts.sink ? ` recordsPublished=${t?.recordsPublished ?? 'none'}` : ''}`);
        return opts.sink ? (t?.recordsPublished ?? 0) > 0 : true;
      },
      120_000,
      1000,
    );
    for (let pass = 1; pass <= passes; pass++) {
      for (const rate of rates) {
        const name = `rate-${n++}`;
        await createPacketCapture(env.cluster.kubeConfig, {
          metadata: { name, namespace: NS },
          spec: { targetPod: 'rx', interfaceName: 'eth0', captureFilter: `udp port ${PORT}`, packetCount: String(rate * SECONDS), captureSeconds: '120', maxFileSize: '2G', fileCount: '1', ...sinkSpec },
        });
        await waitFor(`${name} Running`, async () => (await getCapture(env.cluster.kubeConfig, NS, name)).status?.targets?.[0]?.phase === 'Running', 15_000, 20);
        const s = send(rate);
        let last = -1;
        let stable = 0;
        const done = await waitFor(
          `${name} Finished or stalled`,
          async () => {
            const t = (await getCapture(env.cluster.kubeConfig, NS, name)).status?.targets?.[0];
            if (t?.phase === 'Finished') return t;
            if (t && t.packets === last) stable++;
            else stable = 0;
            last = t?.packets ?? -1;
            return stable >= 16 ? t : undefined; // 4 s without progress
          },
          60_000,
          250,
        );
        // sink mode: the trial counts only once its records went through the sink
        const fin = opts.sink && done.phase === 'Finished' ? await settled(name) : undefined;
        await deletePacketCapture(env.cluster.kubeConfig, NS, name);
        await waitFor('agent tcpdump gone', () => tcpdumpPids(env.tmp).length === 0, 10_000);
        const captured = done.packets ?? 0;
        const drops = done.drops ?? 0;
        const achieved = s.sent / s.seconds;
        const ok = drops === 0 && captured >= s.sent;
        const published = fin?.recordsPublished;
        out.trials.push({ pass, rate, achieved, sent: s.sent, captured, drops, ok, ...(published !== undefined ? { recordsPublished: published } : {}) });
        log(`pass ${pass} offered=${rate} achieved=${achieved.toFixed(0)} sent=${s.sent} captured=${captured} drops=${drops}${fin ? ` recordsPublished=${published ?? 0} recordsDropped=${fin.recordsDropped ?? 0}` : ''} ${ok ? 'ok' : 'LOSS'}`);
        if (ok) out.maxPps = Math.max(out.maxPps, achieved);
        else break;
      }
    }
  } finally {
    await env.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}
