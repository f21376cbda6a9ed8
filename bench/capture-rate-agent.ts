// The lossless capture rate through the agent, as bench/capture-rate.ts measures it, for other
// benchmarks: `npm run bench -- storage` runs it with encryption on and off (encrypt_overhead).
// A trial passes when tcpdump reports 0 "dropped by kernel" and the target captured every packet
// sent (packetCount = packets sent, so the target finishes exactly then). The ladder of offered
// rates stops at the first failing rate; the figure is the best achieved send rate over `passes`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPacketCapture, deletePacketCapture } from '../src/k8s/client.js';
import { getCapture, startAgentEnv, tcpdumpPids, waitFor } from '../test/agent-support.js';

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
  trials: Array<{ pass: number; rate: number; achieved: number; sent: number; captured: number; drops: number; ok: boolean }>;
}

/** The best lossless rate of the agent started with `agentEnv` (a fresh cluster env, stopped after). */
export async function agentLosslessRate(agentEnv: Record<string, string>, passes: number, rates: readonly number[] = LADDER, log: (m: string) => void = () => undefined): Promise<AgentRate> {
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
    controller: true,
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
    for (let pass = 1; pass <= passes; pass++) {
      for (const rate of rates) {
        const name = `rate-${n++}`;
        await createPacketCapture(env.cluster.kubeConfig, {
          metadata: { name, namespace: NS },
          spec: { targetPod: 'rx', interfaceName: 'eth0', captureFilter: `udp port ${PORT}`, packetCount: String(rate * SECONDS), captureSeconds: '120', maxFileSize: '2G', fileCount: '1' },
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
        await deletePacketCapture(env.cluster.kubeConfig, NS, name);
        await waitFor('agent tcpdump gone', () => tcpdumpPids(env.tmp).length === 0, 10_000);
        const captured = done.packets ?? 0;
        const drops = done.drops ?? 0;
        const achieved = s.sent / s.seconds;
        const ok = drops === 0 && captured >= s.sent;
        out.trials.push({ pass, rate, achieved, sent: s.sent, captured, drops, ok });
        log(`pass ${pass} offered=${rate} achieved=${achieved.toFixed(0)} sent=${s.sent} captured=${captured} drops=${drops} ${ok ? 'ok' : 'LOSS'}`);
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
