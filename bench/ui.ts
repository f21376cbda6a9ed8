/**
 * `npm run bench -- ui [--packets N]`: the packet view engine on a generated capture of about
 * 1,000,000 packets (bench/_gen.ts: TCP handshakes, data with ACKs, retransmissions, resets, HTTP,
 * DNS; a metadata sidecar names 250 client pods, 40 server pods, CoreDNS and two nodes), against
 * sharkd (Wireshark's engine as a JSON-RPC server, Debian's wireshark-common) on the same file in
 * the same run.
 *
 * Figures (last stdout line, key=value):
 * - index_ms: opening the view with no index file (one reader pass building the index, and
 *   writing it beside the file).
 * - first_page_ms: open (no index file present) to the first 100 rows.
 * - open_indexed_ms: open again with the index file present, to the first 100 rows.
 * - page_p50_ms / page_max_ms: 40 random pages of 100 rows each.
 * - filter_ms: `http.request.method == "GET" || dns.flags.rcode == 3` over every packet (median of
 *   3); filter_pod_ms: `pod.dst == "api-3" && tcp.flags.syn == 1`; filter_stream_ms: `tcp.stream == 1000`
 *   (the first filter that needs tcp.stream numbers them all).
 * - bytes_per_packet: growth of (V8 heap used + array buffers) from before opening to after the
 *   first page, with a forced GC before each reading (node --expose-gc), divided by the packets;
 *   index_bytes_per_packet: the view's own per-packet arrays (typed-array byte lengths) / packets.
 * - sharkd_load_ms: `load` of the same file; sharkd_filter_ms: `frames` with the first filter
 *   (limit 100; sharkd filters every frame first); vs_sharkd_filter = sharkd_filter_ms / filter_ms.
 *   filter_matches_equal: our match count equals sharkd's (`intervals` with the same filter).
 * Each side runs in its own process; ours is a child of this one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openCaptureView } from '../src/pcap/view/view.js';
import { INDEX_SUFFIX } from '../src/pcap/view/packetindex.js';
import { writeCaptureMetadata, CAPTURE_METADATA_VERSION, type CaptureMetadata, type EndpointInfo } from '../src/pcap/metadata.js';
import { benchDir, fileMB, generateCapture } from './_gen.js';
import { machine, median } from './_run.js';

const FILTER = 'http.request.method == "GET" || dns.flags.rcode == 3';
const POD_FILTER = 'pod.dst == "api-3" && tcp.flags.syn == 1';
const STREAM_FILTER = 'tcp.stream == 1000';
/** bytes of generated capture per packet (bench/_gen.ts mix, measured: 200 MB -> 221k packets) */
const BYTES_PER_GENERATED_PACKET = 905;

interface ChildResult {
  packets: number;
  indexMs: number;
  firstPageMs: number;
  openIndexedMs: number;
  pageP50Ms: number;
  pageMaxMs: number;
  filterMs: number;
  filterMatches: number;
  filterPodMs: number;
  filterPodMatches: number;
  filterStreamMs: number;
  bytesPerPacket: number;
  indexBytesPerPacket: number;
}

function gcNow(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run the child with --expose-gc');
  g();
  g();
}

const heap = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

async function child(file: string): Promise<void> {
  rmSync(`${file}${INDEX_SUFFIX}`, { force: true });
  gcNow();
  const before = heap();
  let t0 = process.hrtime.bigint();
  const v = await openCaptureView([file]);
  const indexMs = ms(t0);
  await v.rows(0, 100);
  const firstPageMs = ms(t0);
  gcNow();
  const bytesPerPacket = (heap() - before) / v.packetCount;
  const indexBytesPerPacket = v.memoryBytes / v.packetCount;
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const pages: number[] = [];
  for (let i = 0; i < 40; i++) {
    const from = rnd(Math.max(1, v.packetCount - 100));
    const t = process.hrtime.bigint();
    const rows = await v.rows(from, 100);
    pages.push(ms(t));
    if (rows.length !== 100) throw new Error(`page at ${from} has ${rows.length} rows`);
  }
  const filterTimes: number[] = [];
  let filterMatches = 0;
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    filterMatches = (await v.filter(FILTER)).matches.length;
    filterTimes.push(ms(t));
  }
  t0 = process.hrtime.bigint();
  const podMatches = (await v.filter(POD_FILTER)).matches.length;
  const filterPodMs = ms(t0);
  t0 = process.hrtime.bigint();
  await v.filter(STREAM_FILTER);
  const filterStreamMs = ms(t0);
  const packets = v.packetCount;
  await v.close();
  t0 = process.hrtime.bigint();
  const v2 = await openCaptureView([file]);
  await v2.rows(0, 100);
  const openIndexedMs = ms(t0);
  if (v2.info.files[0]?.indexHow !== 'loaded') throw new Error('second open did not use the index file');
  await v2.close();
  const r: ChildResult = {
    packets,
    indexMs,
    firstPageMs,
    openIndexedMs,
    pageP50Ms: median(pages),
    pageMaxMs: Math.max(...pages),
    filterMs: median(filterTimes),
    filterMatches,
    filterPodMs,
    filterPodMatches: podMatches,
    filterStreamMs,
    bytesPerPacket,
    indexBytesPerPacket,
  };
  console.log(JSON.stringify(r));
}

/** sharkd on the same file: load time, first filter time, and the filter's match count. */
async function sharkd(file: string): Promise<{ loadMs: number; filterMs: number; matches: number }> {
  const p = spawn('sharkd', ['-'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const lines = createInterface({ input: p.stdout });
  const waiting = new Map<number, (v: unknown) => void>();
  lines.on('line', (l) => {
    if (!l.startsWith('{')) return;
    const m = JSON.parse(l) as { id: number; result?: unknown; error?: unknown };
    waiting.get(m.id)?.(m.error !== undefined ? { error: m.error } : m.result);
  });
  let id = 0;
  const call = (method: string, params: object): Promise<unknown> =>
    new Promise((resolve) => {
      const n = ++id;
      waiting.set(n, resolve);
      p.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: n, method, params })}\n`);
    });
  try {
    let t0 = process.hrtime.bigint();
    const load = (await call('load', { file })) as { status?: string };
    const loadMs = ms(t0);
    if (load.status !== 'OK') throw new Error(`sharkd load: ${JSON.stringify(load)}`);
    t0 = process.hrtime.bigint();
    const frames = await call('frames', { filter: FILTER, limit: 100 });
    const filterMs = ms(t0);
    if (!Array.isArray(frames)) throw new Error(`sharkd frames: ${JSON.stringify(frames)}`);
    const iv = (await call('intervals', { filter: FILTER, interval: 3600000 })) as { frames?: number };
    return { loadMs, filterMs, matches: iv.frames ?? -1 };
  } finally {
    p.stdin.end();
    p.kill();
  }
}

function metadata(): CaptureMetadata {
  const endpoints: Record<string, EndpointInfo> = {};
  for (let i = 1; i <= 250; i++) endpoints[`10.244.1.${i}`] = { pod: `web-${i}`, namespace: 'shop', node: i % 2 === 0 ? 'node-a' : 'node-b' };
  for (let i = 1; i <= 40; i++) endpoints[`10.96.1.${i}`] = { pod: `api-${i}`, namespace: 'shop', node: 'node-b' };
  endpoints['10.96.0.10'] = { pod: 'coredns-0', namespace: 'kube-system', node: 'node-a' };
  return {
    version: CAPTURE_METADATA_VERSION,
    captureName: 'bench',
    captureNamespace: 'shop',
    nodeName: 'node-a',
    nodeIPs: ['10.0.0.11'],
    targetKind: 'node',
    pod: null,
    interfaces: ['eth0'],
    linkType: 1,
    startTime: '2025-11-13T00:00:00Z',
    filter: '',
    snapLength: 262144,
    endpoints,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1] ?? '');
  const pi = argv.indexOf('--packets');
  const want = pi >= 0 ? Number(argv[pi + 1]) : 1_000_000;
  if (!Number.isInteger(want) || want < 1000) throw new Error('--packets must be an integer >= 1000');
  console.log(`machine: ${machine()}`);
  const mb = Math.max(1, Math.round((want * BYTES_PER_GENERATED_PACKET) / 1e6));
  console.log(`generating/reusing a ${mb} MB capture (about ${want} packets) ...`);
  const gen = await generateCapture({ megabytes: mb, seed: 5 });
  // a link in our own directory, so the sidecar and the index file do not touch the shared cache
  const dir = join(benchDir(), 'ui');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `view-${mb}MB.pcap`);
  if (!existsSync(file)) linkSync(gen, file);
  await writeCaptureMetadata(file, metadata());
  console.log(`file: ${file} (${fileMB(file).toFixed(0)} MB)`);
  spawnSync('sh', ['-c', 'cat "$1" > /dev/null', 'sh', file]); // warm the page cache for both sides

  const c = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (c.status !== 0) throw new Error(`child failed (${c.status}): ${c.stderr}`);
  const r = JSON.parse(c.stdout.trim().split('\n').pop() ?? '') as ChildResult;
  console.log(`pcapper: ${r.packets} packets; index ${r.indexMs.toFixed(0)} ms, first page ${r.firstPageMs.toFixed(0)} ms (with index file: ${r.openIndexedMs.toFixed(0)} ms), pages p50 ${r.pageP50Ms.toFixed(1)} ms max ${r.pageMaxMs.toFixed(1)} ms`);
  console.log(`pcapper: filter ${r.filterMs.toFixed(0)} ms (${r.filterMatches} matches), pod filter ${r.filterPodMs.toFixed(0)} ms (${r.filterPodMatches}), tcp.stream filter ${r.filterStreamMs.toFixed(0)} ms; ${r.bytesPerPacket.toFixed(1)} B/packet heap growth, ${r.indexBytesPerPacket.toFixed(1)} B/packet index arrays`);

  const s = await sharkd(file);
  console.log(`sharkd: load ${s.loadMs.toFixed(0)} ms, filter ${s.filterMs.toFixed(0)} ms (${s.matches} matches)`);
  const kv = {
    packets: r.packets,
    file_mb: fileMB(file).toFixed(0),
    index_ms: r.indexMs.toFixed(0),
    first_page_ms: r.firstPageMs.toFixed(0),
    open_indexed_ms: r.openIndexedMs.toFixed(0),
    page_p50_ms: r.pageP50Ms.toFixed(1),
    page_max_ms: r.pageMaxMs.toFixed(1),
    filter_ms: r.filterMs.toFixed(0),
    filter_pod_ms: r.filterPodMs.toFixed(0),
    filter_stream_ms: r.filterStreamMs.toFixed(0),
    bytes_per_packet: r.bytesPerPacket.toFixed(1),
    index_bytes_per_packet: r.indexBytesPerPacket.toFixed(1),
    sharkd_load_ms: s.loadMs.toFixed(0),
    sharkd_filter_ms: s.filterMs.toFixed(0),
    vs_sharkd_filter: (s.filterMs / r.filterMs).toFixed(1),
    filter_matches_equal: s.matches === r.filterMatches,
  };
  console.log(Object.entries(kv).map(([k, v]) => `${k}=${v}`).join(' '));
}

await main();
