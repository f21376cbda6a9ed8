/**
 * `npm run bench -- live-latency [--n N] [--interval-ms MS]`: wire -> the CLI's stdout through the
 * API. A real stack (startStack: kube-apiserver, pcapper-server x2 behind the APIService, agents
 * in pod netns); `kubectl-pcap live pod/lat-rx -f "udp port 9999" -w -` runs as a user runs it, in
 * the client netns that reaches only the API server. Another pod (other node) sends N UDP packets
 * to lat-rx, one every MS ms, each carrying its send time (process.hrtime.bigint(), i.e.
 * CLOCK_MONOTONIC, which every process on this machine shares). This process reads the CLI's stdout
 * (pcapng), and for each packet takes (time its bytes were read) - (send time in the packet).
 *
 * Packets go one at a time (paced), so each sample is the latency of a packet that nothing after
 * it pushes out of a buffer. Last line: `p50_ms=… p99_ms=… max_ms=… samples=… lost=…`, where p99
 * over N samples is the (N/100)-th largest sample.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, runKubectlPcap, type Stack } from '../test/harness/demo.js';
import { machine, median } from './_run.js';

const PORT = 9999;
const MAGIC = Buffer.from('PCLAT1');

/** The sender, run with node inside the sender pod's netns: argv IP PORT COUNT INTERVAL_MS FIRST_SEQ. */
const SENDER = String.raw`
const dgram = require('node:dgram');
const [ip, port, count, interval, first] = process.argv.slice(1).map((v, i) => i === 0 ? v : Number(v));
const s = dgram.createSocket('udp4');
let i = 0;
const tick = () => {
  if (i >= count) { s.close(); return; }
  const b = Buffer.alloc(6 + 4 + 8 + 32, 0x2e);
  b.write('PCLAT1', 0);
  b.writeUInt32BE(first + i, 6);
  b.writeBigUInt64BE(process.hrtime.bigint(), 10);
  i++;
  s.send(b, port, ip, () => setTimeout(tick, interval));
};
tick();
`;

/** Minimal incremental pcapng reader: calls onPacket(data) for each EPB as soon as its bytes arrive. */
class PcapngBlocks {
  private buf: Buffer = Buffer.alloc(0);
  private le = true;
  constructor(private readonly onPacket: (data: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.buf.length < 12) return;
      const typeLe = this.buf.readUInt32LE(0);
      if (typeLe === 0x0a0d0d0a) this.le = this.buf.readUInt32LE(8) === 0x1a2b3c4d;
      const len = this.le ? this.buf.readUInt32LE(4) : this.buf.readUInt32BE(4);
      if (len < 12 || len % 4 !== 0) throw new Error(`pcapng: bad block length ${len}`);
      if (this.buf.length < len) return;
      const type = this.le ? typeLe : this.buf.readUInt32BE(0);
      if (type === 6) {
        const cap = this.le ? this.buf.readUInt32LE(20) : this.buf.readUInt32BE(20);
        this.onPacket(this.buf.subarray(28, 28 + cap));
      }
      this.buf = this.buf.subarray(len);
    }
  }
}

function flag(argv: string[], name: string, dflt: number): number {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const n = flag(argv, '--n', Number(process.env.PCAPPER_BENCH_N ?? 500));
  const interval = flag(argv, '--interval-ms', 10);
  console.log(`machine: ${machine()}`);
  const cwd = mkdtempSync(join(tmpdir(), 'pcapper-bench-live-'));
  let stack: Stack | undefined;
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  try {
    // --agent-env K=V (repeatable): extra agent env, e.g. to compare tcpdump settings in one place
    const agentEnv: Record<string, string> = {};
    argv.forEach((a, i) => {
      const kv = a === '--agent-env' ? argv[i + 1] : undefined;
      const eq = kv?.indexOf('=') ?? -1;
      if (kv && eq > 0) agentEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
    });
    if (Object.keys(agentEnv).length) console.log(`agent env: ${JSON.stringify(agentEnv)}`);
    stack = await startStack({ nodes: ['node-a', 'node-b'], log, agentEnv });
    const rx = await stack.kubelet.createPod({ namespace: 'default', name: 'lat-rx', node: 'node-a', labels: { app: 'lat' } });
    const tx = await stack.kubelet.createPod({ namespace: 'default', name: 'lat-tx', node: 'node-b', labels: { app: 'lat-tx' } });

    const arrivals = new Map<number, bigint>();
    const sent = new Map<number, bigint>();
    const parser = new PcapngBlocks((data) => {
      const at = process.hrtime.bigint();
      const i = data.indexOf(MAGIC);
      if (i < 0 || i + 18 > data.length) return;
      const seq = data.readUInt32BE(i + 6);
      if (arrivals.has(seq)) return;
      arrivals.set(seq, at);
      sent.set(seq, data.readBigUInt64BE(i + 10));
    });
    const args = ['live', 'pod/lat-rx', '-n', 'default', '-f', `udp port ${PORT}`, '-d', '10m', '-w', '-'];
    log(`$ kubectl pcap ${args.join(' ')}   (client netns)`);
    const cli = runKubectlPcap(args, { cwd, kubeconfig: stack.cluster.kubeconfigPath, stdio: 'pipe', laptop: stack.cluster });
    let stderr = '';
    cli.child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    cli.child.stdout?.on('data', (c: Buffer) => parser.push(c));
    const exited = cli.done.then((r) => {
      throw new Error(`kubectl-pcap live exited early (${r.code ?? r.signal}): ${stderr.trim()}`);
    });
    exited.catch(() => undefined);

    const send = (count: number, first: number, every: number) => {
      const p = spawn('nsenter', [`--net=${tx.netnsPath}`, process.execPath, '-e', SENDER, rx.ip, String(PORT), String(count), String(every), String(first)], { stdio: ['ignore', 'ignore', 'inherit'] });
      return { p, done: new Promise<void>((res, rej) => p.once('exit', (c) => (c === 0 ? res() : rej(new Error(`sender exited ${c}`))))) };
    };
    // warm-up: the stream is attached end to end once a warm-up packet shows up on stdout
    const WARM = 1_000_000;
    const warm = send(10_000, WARM, 200);
    await Promise.race([waitFor(() => arrivals.size > 0, 120_000, 'the first packet on the CLI stdout'), exited]);
    warm.p.kill('SIGTERM');
    await warm.done.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000)); // let the last warm-up packets drain
    log(`stream attached (${arrivals.size} warm-up packets seen); sending ${n} packets, one every ${interval} ms`);
    const run = send(n, 0, interval);
    await run.done;
    await Promise.race([waitFor(() => [...arrivals.keys()].filter((k) => k < WARM).length >= n, 15_000, `all ${n} packets`).catch(() => undefined), exited]);
    cli.child.kill('SIGINT');
    await cli.done;

    const lat: number[] = [];
    for (const [seq, at] of arrivals) {
      if (seq >= WARM) continue;
      lat.push(Number(at - (sent.get(seq) ?? at)) / 1e6);
    }
    lat.sort((a, b) => a - b);
    const samples = lat.length;
    const k = Math.max(1, Math.floor(samples / 100));
    const p99 = lat[samples - k] ?? NaN;
    const p50 = median(lat);
    console.log(`samples: ${samples} of ${n} sent (${n - samples} not seen); p99 = the ${k}-th largest of ${samples} samples`);
    console.log(`latency ms: min ${lat[0]?.toFixed(1)} p50 ${p50.toFixed(1)} p90 ${lat[Math.floor(samples * 0.9)]?.toFixed(1)} p99 ${p99.toFixed(1)} max ${lat[samples - 1]?.toFixed(1)}`);
    const kv = { p50_ms: p50.toFixed(1), p99_ms: p99.toFixed(1), max_ms: (lat[samples - 1] ?? NaN).toFixed(1), samples, lost: n - samples, interval_ms: interval };
    console.log(Object.entries(kv).map(([a, b]) => `${a}=${b}`).join(' '));
  } finally {
    await stack?.stop();
    rmSync(cwd, { recursive: true, force: true });
  }
}

await main();
