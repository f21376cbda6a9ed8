/**
 * `npm run bench -- summary [--mb N]`: summary throughput on a generated mixed capture (>= 1 GB by
 * default; $PCAPPER_BENCH_MB or --mb for quick runs) against, in the same run:
 * - `tshark -q -z conv,tcp -r FILE`  -> vs_tshark = tshark time / our time
 * - `cat FILE > /dev/null`           -> vs_cat = cat time / our time (how close to reading speed)
 * and our peak RSS for two input sizes (full and a quarter), each in a fresh child process.
 * Our time is the wall time of a child process running the summary (node start-up included).
 * Last stdout line: key=value pairs.
 */
import { summarizeFiles } from '../src/pcap/summary.js';
import { benchMegabytes, fileMB, generateCapture } from './_gen.js';
import { machine, maxRssMB, median, runChild, timed } from './_run.js';

interface ChildResult {
  packets: number;
  tcpConversations: number;
  seconds: number;
  maxRssMB: number;
}

async function child(file: string): Promise<void> {
  const t0 = process.hrtime.bigint();
  const { summary, errors } = await summarizeFiles([file], { syncReads: true }); // as kubectl-pcap summary does
  const first = errors[0];
  if (first) throw first;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const r: ChildResult = { packets: summary.packets, tcpConversations: summary.conversations.filter((c) => c.protocol === 'tcp').length, seconds, maxRssMB: maxRssMB() };
  console.log(JSON.stringify(r));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1] ?? '');
  const mb = benchMegabytes(argv, process.env);
  console.log(`machine: ${machine()}`);
  console.log(`generating/reusing captures of ${mb} MB and ${Math.round(mb / 4)} MB ...`);
  const big = await generateCapture({ megabytes: mb, seed: 1 });
  const small = await generateCapture({ megabytes: Math.max(10, Math.round(mb / 4)), seed: 1 });
  const size = fileMB(big);
  console.log(`file: ${big} (${size.toFixed(0)} MB)`);

  timed('sh', ['-c', 'cat "$1" > /dev/null', 'sh', big]); // warm the page cache
  const cat = median([0, 1, 2].map(() => timed('sh', ['-c', 'cat "$1" > /dev/null', 'sh', big]).seconds));
  console.log(`cat > /dev/null: ${cat.toFixed(3)} s`);

  const ours = [0, 1, 2].map(() => runChild<ChildResult>(import.meta.url, [big]));
  const oursS = median(ours.map((o) => o.seconds));
  const r = ours[0]!.result;
  console.log(`pcapper summary: ${oursS.toFixed(3)} s wall (in-process ${median(ours.map((o) => o.result.seconds)).toFixed(3)} s), ${r.packets} packets, ${r.tcpConversations} TCP conversations, peak RSS ${r.maxRssMB.toFixed(0)} MB`);

  const ts = timed('tshark', ['-n', '-q', '-z', 'conv,tcp', '-r', big]);
  if (ts.status !== 0) throw new Error(`tshark failed: ${ts.stderr}`);
  const tsConvs = ts.stdout.split('\n').filter((l) => l.includes('<->')).length;
  console.log(`tshark -q -z conv,tcp: ${ts.seconds.toFixed(3)} s, ${tsConvs} TCP conversations`);

  const smallRun = runChild<ChildResult>(import.meta.url, [small]);
  console.log(`peak RSS: ${smallRun.result.maxRssMB.toFixed(0)} MB for ${fileMB(small).toFixed(0)} MB, ${r.maxRssMB.toFixed(0)} MB for ${size.toFixed(0)} MB`);

  const kv = {
    file_mb: size.toFixed(0),
    packets: r.packets,
    ours_s: oursS.toFixed(3),
    mb_per_s: (size / oursS).toFixed(0),
    tshark_s: ts.seconds.toFixed(3),
    vs_tshark: (ts.seconds / oursS).toFixed(1),
    cat_s: cat.toFixed(3),
    vs_cat: (cat / oursS).toFixed(2),
    tcp_conversations_match: tsConvs === r.tcpConversations,
    rss_small_mb: smallRun.result.maxRssMB.toFixed(0),
    small_file_mb: fileMB(small).toFixed(0),
    rss_large_mb: r.maxRssMB.toFixed(0),
  };
  console.log(Object.entries(kv).map(([k, v]) => `${k}=${v}`).join(' '));
}

await main();
