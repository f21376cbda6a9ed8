/**
 * `npm run bench -- download [--mb N]`: 4 nodes x N/4 MB (default 4 x 250 MB) through the API:
 * agent -> pcapper-server -> kube-apiserver (aggregated API) -> `kubectl-pcap download NAME --raw
 * DIR`, run as a user runs it, in the client netns that reaches only the API server.
 *
 * Setup (honest and simple): a real stack with 4 nodes and one pod per node; a real PacketCapture
 * made by `kubectl-pcap capture -l app=dl --duration 2s --detach` finishes on the 4 nodes (agent
 * layout <data>/<ns>/<capture>/<target>/<ring files> + metadata sidecar, status listing the
 * nodes/targets); then each target's first ring file is replaced by a generated capture of N/4 MB
 * (bench/_gen.ts, a different seed per node). The CLI then downloads what the agents list.
 *
 * Then the 4 downloaded files are merged with `kubectl-pcap merge F1..F4 -w OUT` and with
 * `mergecap -w OUT F1..F4` in the same run, alternating, after `sync`, median of 3 each.
 * Downloaded bytes are compared with the sources by SHA-256.
 *
 * Last line: `nodes=4 mb_total=… download_s=… download_mb_s=… merge_s=… mergecap_s=… vs_mergecap=…
 * bytes_match=true|false` (vs_mergecap = mergecap time / our time; goal >= 1).
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, createReadStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKubectlPcap, startStack, type Stack } from '../test/harness/demo.js';
import { repoRoot } from '../test/harness/paths.js';
import { benchMegabytes, generateCapture } from './_gen.js';
import { machine, median, timed } from './_run.js';

const NODES = ['node-a', 'node-b', 'node-c', 'node-d'];
const NAME = 'dl-bench';
const NS = 'default';

function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path, { highWaterMark: 1 << 20 })
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Files under dir, recursively (absolute paths). */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const isRing = (name: string): boolean => /\.pcap[0-9]*$/.test(name);

async function cli(stack: Stack, cwd: string, args: string[]): Promise<{ seconds: number; out: string }> {
  const t0 = process.hrtime.bigint();
  const r = runKubectlPcap(args, { cwd, kubeconfig: stack.cluster.kubeconfigPath, stdio: 'pipe', laptop: stack.cluster });
  let out = '';
  r.child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  r.child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const res = await r.done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (res.code !== 0) throw new Error(`kubectl-pcap ${args.join(' ')} failed (${res.code ?? res.signal}): ${out.trim()}`);
  return { seconds, out };
}

async function waitFinished(stack: Stack, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    const r = await stack.cluster.kubectl(['get', 'packetcapture', NAME, '-n', NS, '-o', 'jsonpath={.status.progress}']);
    last = r.stdout.trim();
    if (last === 'finished') return;
    if (last === 'failure') throw new Error(`capture ${NAME} failed`);
    if (Date.now() > deadline) throw new Error(`capture ${NAME} not finished after ${ms} ms (progress ${last || 'none'})`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const given = argv.includes('--mb') || process.env['PCAPPER_BENCH_MB'] !== undefined;
  const totalMB = given ? benchMegabytes(argv, process.env) : 1000;
  const each = Math.max(5, Math.round(totalMB / NODES.length));
  console.log(`machine: ${machine()}`);
  const sources: string[] = [];
  for (let i = 0; i < NODES.length; i++) sources.push(await generateCapture({ megabytes: each, seed: 20 + i, subnet: i + 1 }));
  const srcHash = new Map<string, string>();
  for (const s of sources) srcHash.set(s, await sha256(s));

  const cwd = mkdtempSync(join(tmpdir(), 'pcapper-bench-dl-'));
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  let stack: Stack | undefined;
  try {
    stack = await startStack({ nodes: NODES, log });
    for (const node of NODES) await stack.kubelet.createPod({ namespace: NS, name: `dl-${node}`, node, labels: { app: 'dl' } });
    await cli(stack, cwd, ['capture', '-l', 'app=dl', '-n', NS, '--duration', '2s', '--name', NAME, '--detach']);
    await waitFinished(stack, 120_000);

    // each node's target: its first ring file becomes the generated capture
    const expected = new Map<string, string>(); // "<node>/<target>/<file>" -> sha256
    let bytes = 0;
    for (const [i, node] of NODES.entries()) {
      const capDir = join(stack.agents[node]!.dataDir, NS, NAME);
      const targets = readdirSync(capDir);
      if (targets.length !== 1) throw new Error(`${capDir}: expected one target directory, found ${targets.join(', ') || 'none'}`);
      const t = targets[0]!;
      const rings = readdirSync(join(capDir, t)).filter(isRing).sort();
      if (rings.length === 0) throw new Error(`${capDir}/${t}: no ring file`);
      const dst = join(capDir, t, rings[0]!);
      copyFileSync(sources[i]!, dst);
      chmodSync(dst, 0o600);
      for (const extra of rings.slice(1)) rmSync(join(capDir, t, extra));
      expected.set(`${node}/${t}/${rings[0]}`, srcHash.get(sources[i]!)!);
      bytes += statSync(dst).size;
    }
    const mb = bytes / 1e6;
    console.log(`capture ${NS}/${NAME}: ${NODES.length} nodes, ${mb.toFixed(0)} MB of ring files`);

    const rawDir = join(cwd, 'raw');
    log(`$ kubectl pcap download ${NAME} -n ${NS} --raw ${rawDir}   (client netns)`);
    const dl = await cli(stack, cwd, ['download', NAME, '-n', NS, '--raw', rawDir]);
    const got = walk(rawDir).filter((p) => isRing(p));
    let match = got.length === expected.size;
    const inputs: string[] = [];
    for (const p of got) {
      const rel = p.slice(rawDir.length + 1);
      const want = expected.get(rel);
      const h = await sha256(p);
      if (want !== h) {
        match = false;
        console.log(`mismatch: ${rel} ${want ? 'differs from its source' : 'was not expected'}`);
      }
      inputs.push(p);
    }
    for (const k of expected.keys()) if (!got.some((p) => p.endsWith(k))) console.log(`missing: ${k}`);
    console.log(`download: ${dl.seconds.toFixed(2)} s, ${(mb / dl.seconds).toFixed(1)} MB/s, ${got.length} files, bytes_match=${match}`);
    await stack.stop();
    stack = undefined;

    // merge the downloaded files: kubectl-pcap merge (its own process, as a user runs it) vs mergecap
    const ours = join(cwd, 'merged-ours.pcapng');
    const theirs = join(cwd, 'merged-mergecap.pcapng');
    const kubectlPcap = join(repoRoot(), 'dist', 'src', 'bin', 'kubectl-pcap.js');
    const oursRuns: number[] = [];
    const mcRuns: number[] = [];
    const runOurs = (): void => {
      rmSync(ours, { force: true });
      timed('sync', []);
      const t = timed(process.execPath, [kubectlPcap, 'merge', ...inputs, '-w', ours]);
      if (t.status !== 0) throw new Error(`kubectl-pcap merge failed: ${t.stderr}`);
      oursRuns.push(t.seconds);
    };
    const runMergecap = (): void => {
      rmSync(theirs, { force: true });
      timed('sync', []);
      const t = timed('mergecap', ['-w', theirs, ...inputs]);
      if (t.status !== 0) throw new Error(`mergecap failed: ${t.stderr}`);
      mcRuns.push(t.seconds);
    };
    for (const p of inputs) timed('sh', ['-c', 'cat "$1" > /dev/null', 'sh', p]); // page cache
    for (let i = 0; i < 3; i++) {
      if (i % 2 === 0) {
        runOurs();
        runMergecap();
      } else {
        runMergecap();
        runOurs();
      }
    }
    const mergeS = median(oursRuns);
    const mcS = median(mcRuns);
    console.log(`kubectl-pcap merge: ${oursRuns.map((s) => s.toFixed(2)).join(', ')} s; mergecap -w: ${mcRuns.map((s) => s.toFixed(2)).join(', ')} s`);
    const kv = {
      nodes: NODES.length,
      mb_total: mb.toFixed(0),
      download_s: dl.seconds.toFixed(2),
      download_mb_s: (mb / dl.seconds).toFixed(1),
      merge_s: mergeS.toFixed(2),
      mergecap_s: mcS.toFixed(2),
      vs_mergecap: (mcS / mergeS).toFixed(2),
      bytes_match: match,
    };
    console.log(Object.entries(kv).map(([k, v]) => `${k}=${v}`).join(' '));
    if (!match) process.exitCode = 1;
  } finally {
    await stack?.stop();
    rmSync(cwd, { recursive: true, force: true });
  }
}

await main();
