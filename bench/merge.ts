/**
 * `npm run bench -- merge [--mb N]`: merging 4 generated captures (N/4 MB each, overlapping in
 * time; N >= 1 GB by default, $PCAPPER_BENCH_MB or --mb for quick runs) into one pcapng, against
 * `mergecap -w OUT` on the same inputs in the same run (vs_mergecap = mergecap time / our time),
 * plus our peak RSS for two input sizes (each in a fresh child process). Each run starts after
 * `sync`, runs alternate in order, and the median of 3 is reported. Last stdout line: key=value.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { mergeCaptures } from '../src/pcap/merge.js';
import { CaptureReader, drain } from '../src/pcap/reader.js';
import { fileSink } from '../src/pcap/writer.js';
import { benchDir, benchMegabytes, fileMB, generateCapture } from './_gen.js';
import { machine, maxRssMB, median, runChild, timed } from './_run.js';

interface ChildResult {
  packets: number;
  seconds: number;
  maxRssMB: number;
}

async function child(out: string, inputs: string[]): Promise<void> {
  const t0 = process.hrtime.bigint();
  const r = await mergeCaptures(
    inputs.map((path, i) => ({ path, name: `node-${i}/bench/pod-${i}` })),
    fileSink(out),
    { syncReads: true }, // as kubectl-pcap merge does
  );
  const first = r.errors[0];
  if (first) throw first;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ packets: r.packets, seconds, maxRssMB: maxRssMB() } satisfies ChildResult));
}

async function countPackets(path: string): Promise<number> {
  let n = 0;
  await drain(await CaptureReader.open(path), () => n++);
  return n;
}

async function inputsOf(totalMB: number): Promise<string[]> {
  const each = Math.max(5, Math.round(totalMB / 4));
  const files: string[] = [];
  for (let i = 1; i <= 4; i++) files.push(await generateCapture({ megabytes: each, seed: 10 + i, subnet: i }));
  return files;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1] ?? '', argv.slice(2));
  const mb = benchMegabytes(argv, process.env);
  console.log(`machine: ${machine()}`);
  const big = await inputsOf(mb);
  const small = await inputsOf(mb / 4);
  const inMB = big.reduce((s, f) => s + fileMB(f), 0);
  const smallMB = small.reduce((s, f) => s + fileMB(f), 0);
  console.log(`inputs: 4 files, ${inMB.toFixed(0)} MB total`);
  for (const f of big) timed('sh', ['-c', 'cat "$1" > /dev/null', 'sh', f]); // warm the page cache
  const ourOut = join(benchDir(), 'merge-ours.pcapng');
  const theirOut = join(benchDir(), 'merge-mergecap.pcapng');

  const oursRuns: { seconds: number; result: ChildResult }[] = [];
  const mcRuns: number[] = [];
  const runOurs = () => {
    rmSync(ourOut, { force: true });
    timed('sync', []); // start each run with no dirty pages from the previous one
    oursRuns.push(runChild<ChildResult>(import.meta.url, [ourOut, ...big]));
  };
  const runMergecap = () => {
    rmSync(theirOut, { force: true });
    timed('sync', []);
    const mc = timed('mergecap', ['-w', theirOut, ...big]);
    if (mc.status !== 0) throw new Error(`mergecap failed: ${mc.stderr}`);
    mcRuns.push(mc.seconds);
  };
  // alternate the order so neither side always runs on a machine busy writing back the other's output
  for (let i = 0; i < 3; i++) {
    if (i % 2 === 0) {
      runOurs();
      runMergecap();
    } else {
      runMergecap();
      runOurs();
    }
  }
  const oursS = median(oursRuns.map((r) => r.seconds));
  const mcS = median(mcRuns);
  const packets = oursRuns[0]!.result.packets;
  const readBack = await countPackets(ourOut);
  const expected = (await Promise.all(big.map(countPackets))).reduce((a, b) => a + b, 0);
  console.log(`pcapper merge: ${oursS.toFixed(3)} s wall, ${packets} packets (read back ${readBack}, inputs ${expected}), peak RSS ${oursRuns[0]!.result.maxRssMB.toFixed(0)} MB`);
  console.log(`mergecap -w: ${mcS.toFixed(3)} s`);
  rmSync(ourOut, { force: true });
  rmSync(theirOut, { force: true });

  const smallRun = runChild<ChildResult>(import.meta.url, [ourOut, ...small]);
  rmSync(ourOut, { force: true });
  console.log(`peak RSS: ${smallRun.result.maxRssMB.toFixed(0)} MB for ${smallMB.toFixed(0)} MB of input, ${oursRuns[0]!.result.maxRssMB.toFixed(0)} MB for ${inMB.toFixed(0)} MB`);
  const kv = {
    input_mb: inMB.toFixed(0),
    packets,
    ours_s: oursS.toFixed(3),
    mb_per_s: (inMB / oursS).toFixed(0),
    mergecap_s: mcS.toFixed(3),
    vs_mergecap: (mcS / oursS).toFixed(2),
    packets_match: readBack === expected && packets === expected,
    rss_small_mb: smallRun.result.maxRssMB.toFixed(0),
    small_input_mb: smallMB.toFixed(0),
    rss_large_mb: oursRuns[0]!.result.maxRssMB.toFixed(0),
  };
  console.log(Object.entries(kv).map(([k, v]) => `${k}=${v}`).join(' '));
}

await main();
