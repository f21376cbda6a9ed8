// `npm run bench -- capture-rate`: the highest UDP packet rate captured with zero kernel drops,
// through the agent (PacketCapture -> controller -> agent -> setpriv/nsenter/tcpdump with the
// agent's argv, counters from the target's final status) vs bare `tcpdump -i eth0 -w FILE` in the
// same pod network namespace, on the same veth, in the same run, at the same offered rates.
//
// The sender is a small C program (sendmmsg, paced; compiled with the machine's cc at start) in
// another pod on the same node. A trial passes when tcpdump reports 0 "dropped by kernel" and
// captured every packet sent. For each offered rate both modes run; the ladder stops at the first
// rate both fail. Figures are the achieved send rates (packets / elapsed) of the best passing trial
// over PASSES ladders (argv[2], default 2).
//
// Last line: `agent_max_pps=… tcpdump_max_pps=… vs_tcpdump=<ratio>`
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPacketCapture, deletePacketCapture } from '../src/k8s/client.js';
import { parseTcpdumpStats } from '../src/capture/tcpdump.js';
import { getCapture, startAgentEnv, tcpdumpPids, waitFor } from '../test/agent-support.js';

const NS = 'bench';
const PORT = 9999;
const SECONDS = 2;
/** Ladders run (the best passing trial of all passes counts): the sender shares 2 cores with everything else. */
const PASSES = Number(process.argv[2] ?? 2);
const RATES = [50_000, 100_000, 200_000, 300_000, 400_000, 500_000, 600_000, 700_000, 850_000, 1_000_000];

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

interface Trial {
  rate: number;
  achieved: number;
  sent: number;
  captured: number;
  drops: number;
  ok: boolean;
}

async function main(): Promise<void> {
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
    // production defaults: the agent's own background work counts against it
    agentEnv: { PCAPPER_STATUS_INTERVAL: '2s', PCAPPER_DISK_CHECK_INTERVAL: '5s' },
  });
  const tx = env.pods.get(`${NS}/tx`);
  const rx = env.pods.get(`${NS}/rx`);
  if (!tx || !rx) throw new Error('pods missing');
  const send = (rate: number): { sent: number; seconds: number } => {
    const r = spawnSync('nsenter', [`--net=${tx.netnsPath}`, '--', blaster, rx.ip, String(PORT), String(rate), String(rate * SECONDS)], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`sender failed: ${r.stderr}`);
    const [sent, secs] = r.stdout.trim().split(/\s+/).map(Number);
    return { sent: sent ?? 0, seconds: secs ?? 1 };
  };
  // warm the path (ARP, bridge learning)
  send(1000);

  let n = 0;
  const viaAgent = async (rate: number): Promise<Trial> => {
    const name = `rate-${n++}`;
    await createPacketCapture(env.cluster.kubeConfig, {
      metadata: { name, namespace: NS },
      // packetCount = what will be sent: the target finishes exactly when every packet was captured
      spec: { targetPod: 'rx', interfaceName: 'eth0', captureFilter: `udp port ${PORT}`, packetCount: String(rate * SECONDS), captureSeconds: '120', maxFileSize: '2G', fileCount: '1' },
    });
    await waitFor(`${name} Running`, async () => (await getCapture(env.cluster.kubeConfig, NS, name)).status?.targets?.[0]?.phase === 'Running', 15_000, 20);
    const s = send(rate);
    // Finished (all captured), or a loss: counters stop moving (status refreshes every 0.5 s)
    let last = -1;
    let stable = 0;
    const done = await waitFor(`${name} Finished or stalled`, async () => {
      const t = (await getCapture(env.cluster.kubeConfig, NS, name)).status?.targets?.[0];
      if (t?.phase === 'Finished') return t;
      if (t && t.packets === last) stable++;
      else stable = 0;
      last = t?.packets ?? -1;
      return stable >= 16 ? t : undefined; // 4 s without progress (status refreshes every 2 s)
    }, 60_000, 250);
    await deletePacketCapture(env.cluster.kubeConfig, NS, name);
    await waitFor('agent tcpdump gone', () => tcpdumpPids(env.tmp).length === 0, 10_000);
    const captured = done.packets ?? 0;
    const drops = done.drops ?? 0;
    return { rate, achieved: s.sent / s.seconds, sent: s.sent, captured, drops, ok: drops === 0 && captured >= s.sent };
  };
  const bare = async (rate: number): Promise<Trial> => {
    const file = join(work, 'bare.pcap');
    const td = spawn('nsenter', [`--net=${rx.netnsPath}`, '--', 'tcpdump', '-i', 'eth0', '-w', file, '--', `udp port ${PORT}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    td.stderr.setEncoding('utf8');
    const listening = new Promise<void>((resolve, reject) => {
      td.stderr.on('data', (c: string) => {
        err += c;
        if (/listening on/.test(err)) resolve();
      });
      td.once('exit', () => reject(new Error(`bare tcpdump exited: ${err}`)));
    });
    await listening;
    const s = send(rate);
    await new Promise((r) => setTimeout(r, 1500)); // libpcap hands over blocks at least every second
    const exited = new Promise<void>((r) => td.once('close', () => r()));
    td.kill('SIGINT');
    await exited;
    const st = parseTcpdumpStats(err);
    rmSync(file, { force: true });
    const captured = st?.captured ?? 0;
    const drops = st?.droppedByKernel ?? 0;
    return { rate, achieved: s.sent / s.seconds, sent: s.sent, captured, drops, ok: drops === 0 && captured >= s.sent };
  };

  const best = { agent: 0, bare: 0 };
  try {
    for (let pass = 1; pass <= PASSES; pass++) {
      for (const rate of RATES) {
        const b = await bare(rate);
        const a = await viaAgent(rate);
        if (b.ok) best.bare = Math.max(best.bare, b.achieved);
        if (a.ok) best.agent = Math.max(best.agent, a.achieved);
        for (const [mode, t] of [['tcpdump', b], ['agent', a]] as const) {
          const line = `pass ${pass} ${mode.padEnd(8)} offered=${rate} achieved=${t.achieved.toFixed(0)} sent=${t.sent} captured=${t.captured} drops=${t.drops} ${t.ok ? 'ok' : 'LOSS'}`;
          console.log(line);
        }
        if (!a.ok && !b.ok) break;
      }
    }
  } finally {
    await env.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const ratio = best.bare > 0 ? best.agent / best.bare : NaN;
  console.log(`capture-rate: ${SECONDS}s UDP bursts of 64-byte payloads, pod -> pod on one node, capture in the receiver's netns on eth0`);
  console.log(`agent_max_pps=${best.agent.toFixed(0)} tcpdump_max_pps=${best.bare.toFixed(0)} vs_tcpdump=${ratio.toFixed(3)}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
