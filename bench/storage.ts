/**
 * `npm run bench -- storage [--mb N] [--runs R]`: uploads and encryption.
 *
 * - upload_mb_s: pcapper's multipart uploader (src/storage/uploader.ts: 8 MiB parts, 4 in flight,
 *   SHA-256 per part, verified with HeadObject) uploading an N MB generated capture (default 256)
 *   to a real S3-compatible server (versitygw, test/harness/s3.ts) on this machine.
 * - awscli_mb_s: `aws s3 cp` (awscli 1.46.2 from PyPI, installed by this benchmark into a cached
 *   venv under ~/.cache/pcapper, its defaults: 8 MB parts, 10 in flight) uploading the same file to
 *   the same server, in the same run, alternating with ours; median of R runs each (default 3).
 *   vs_awscli = upload_mb_s / awscli_mb_s (goal >= 1).
 * - encrypt_mb_s: the encrypted file writer (src/crypto/writer.ts, 64 KiB chunks) from the file to a
 *   new file, vs copy_mb_s: the same read loop writing plaintext; encrypt_vs_copy = ratio.
 * - encrypt_overhead: the lossless capture rate through the agent (bench/capture-rate-agent.ts:
 *   UDP bursts pod -> pod, tcpdump -w - into the agent's ring) with encryption on (default) vs
 *   PCAPPER_ENCRYPTION=off (the same pipe writing plain files), same run; goal >= 0.95.
 *   `--rate-passes P` (default 1) ladders per mode; `--no-rate` skips it (needs root).
 * - lost_files: uploads that did not end verified, or whose object differs (SHA-256) from the file.
 *
 * - ring_mb_s: the agent's path, the capture as a pcap stream through the record framer into
 *   encrypted ring files (the agent's PcapRing with the encrypted sink, src/capture/ring.ts, 100 MB files).
 * - ring_cpu_ms_per_mb_encrypted / _plain (line before last): CPU time per MB of that path with
 *   64 KiB reads (a pipe's), encrypted vs plain sink: the per-byte cost of encryption, which times
 *   tcpdump's write rate (MB/s) gives the CPU share encryption takes at that rate.
 *
 * Last line: `mb=… upload_mb_s=… awscli_mb_s=… vs_awscli=… encrypt_mb_s=… copy_mb_s=… encrypt_vs_copy=… ring_mb_s=… encrypt_overhead=… lost_files=…`
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKeyring } from '../src/crypto/keyring.js';
import { PcapRing } from '../src/capture/ring.js';
import { encryptedSink, plainSink } from '../src/capture/sinks.js';
import { Readable } from 'node:stream';
import { EncryptedFileWriter } from '../src/crypto/writer.js';
import { uploadFile } from '../src/storage/uploader.js';
import { S3Server } from '../test/harness/s3.js';
import { benchMegabytes, generateCapture } from './_gen.js';
import { agentLosslessRate } from './capture-rate-agent.js';
import { machine, median } from './_run.js';

const AWSCLI_VERSION = '1.46.2';
const BUCKET = 'pcapper-bench';
const log = (m: string): void => void process.stderr.write(`${m}\n`);

function cacheDir(): string {
  return process.env['PCAPPER_CACHE_DIR'] || join(homedir(), '.cache', 'pcapper');
}

/** awscli in a venv of its own, installed once from PyPI (pip's progress shown). A marker file
 * written after a successful install makes an interrupted install start over. */
function ensureAwscli(): string {
  const venv = join(cacheDir(), `awscli-${AWSCLI_VERSION}`);
  const aws = join(venv, 'bin', 'aws');
  const marker = join(venv, '.pcapper-installed');
  if (existsSync(marker)) return aws;
  mkdirSync(cacheDir(), { recursive: true });
  rmSync(venv, { recursive: true, force: true });
  log(`bench: installing awscli ${AWSCLI_VERSION} from PyPI into ${venv} (first run only)...`);
  for (const [cmd, args] of [
    ['python3', ['-m', 'venv', venv]],
    [join(venv, 'bin', 'pip'), ['install', '--disable-pip-version-check', '--progress-bar', 'on', `awscli==${AWSCLI_VERSION}`]],
  ] as [string, string[]][]) {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) {
      rmSync(venv, { recursive: true, force: true });
      throw new Error(`installing awscli failed: ${cmd} ${args.join(' ')} exited ${r.status ?? r.signal} (needs python3 with venv, and PyPI)`);
    }
  }
  writeFileSync(marker, `${AWSCLI_VERSION}\n`);
  return aws;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    for await (const c of fh.createReadStream({ highWaterMark: 1 << 20 })) h.update(c as Buffer);
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** Reads `src` in 1 MiB blocks into `sink`, returns MB/s. */
/** The file in 1 MiB chunks (the ring's input, as tcpdump's pipe gives it). */
async function* readChunks(src: string, size = 1 << 20): AsyncGenerator<Buffer> {
  const fh = await open(src, 'r');
  try {
    for (;;) {
      const buf = Buffer.alloc(size);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

async function pump(src: string, sink: (b: Buffer) => Promise<void>): Promise<number> {
  const size = statSync(src).size;
  const fh = await open(src, 'r');
  const buf = Buffer.alloc(1 << 20);
  const t0 = process.hrtime.bigint();
  try {
    for (let off = 0; off < size; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, off);
      await sink(buf.subarray(0, bytesRead));
      off += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return size / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const given = argv.includes('--mb') || process.env['PCAPPER_BENCH_MB'] !== undefined;
  const mb = given ? benchMegabytes(argv, process.env) : 256;
  const ri = argv.indexOf('--runs');
  const runs = ri >= 0 ? Math.max(1, Number(argv[ri + 1])) : 3;
  console.log(`machine: ${machine()}`);
  const aws = ensureAwscli();
  const file = await generateCapture({ megabytes: mb, seed: 12 });
  const size = statSync(file).size;
  const want = await sha256File(file);
  const work = mkdtempSync(join(tmpdir(), 'pcapper-bench-storage-'));
  const server = await S3Server.start({ buckets: [BUCKET] });
  const client = server.client(BUCKET);
  let lost = 0;
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      // ours
      const key = `bench/ours-${i}.pcap`;
      const t0 = process.hrtime.bigint();
      const res = await uploadFile(client, { file, key, journal: join(work, `j${i}.json`), partSize: 8 * 1024 * 1024, concurrency: 4 });
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      ours.push(size / 1e6 / s);
      const got = createHash('sha256').update(await client.getObject(key)).digest('hex');
      if (!res.verified || got !== want) lost++;
      log(`run ${i + 1}/${runs}: pcapper ${(size / 1e6 / s).toFixed(1)} MB/s (${res.parts} parts, verified=${res.verified})`);
      await client.deleteObjects([key]);

      // aws s3 cp, same file, same server
      const akey = `bench/aws-${i}.pcap`;
      const t1 = process.hrtime.bigint();
      const r = spawnSync(aws, ['s3', 'cp', '--only-show-errors', '--endpoint-url', server.endpoint, file, `s3://${BUCKET}/${akey}`], {
        encoding: 'utf8',
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          HOME: work,
          AWS_ACCESS_KEY_ID: server.accessKeyId,
          AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
          AWS_DEFAULT_REGION: server.region,
        },
      });
      const a = Number(process.hrtime.bigint() - t1) / 1e9;
      if (r.status !== 0) throw new Error(`aws s3 cp failed (${r.status}): ${r.stderr}`);
      const head = await client.headObject(akey);
      if (head?.size !== size) throw new Error(`aws s3 cp left an object of ${head?.size} bytes, expected ${size}`);
      theirs.push(size / 1e6 / a);
      log(`run ${i + 1}/${runs}: aws s3 cp ${(size / 1e6 / a).toFixed(1)} MB/s`);
      await client.deleteObjects([akey]);
    }

    // encryption vs plain copy, same read loop
    const ring = parseKeyring({ active: Buffer.from('bench'), 'bench.key': randomBytes(32) });
    const enc: number[] = [];
    const cp: number[] = [];
    const ringRates: number[] = [];
    const ringCpuEnc: number[] = [];
    const ringCpuPlain: number[] = [];
    for (let i = 0; i < runs; i++) {
      const plainOut = join(work, `copy-${i}`);
      const out = await open(plainOut, 'wx', 0o600);
      try {
        cp.push(await pump(file, async (b) => void (await out.write(b))));
      } finally {
        await out.close();
      }
      rmSync(plainOut);
      const encOut = join(work, `enc-${i}`);
      const w = await EncryptedFileWriter.create(encOut, ring);
      enc.push(await pump(file, (b) => w.write(b)));
      await w.close();
      rmSync(encOut);
      // the agent's path: pcap stream -> record framing -> encrypted ring files (100 MB each)
      const ringDir = join(work, `ring-${i}`);
      mkdirSync(ringDir, { mode: 0o700 });
      const pr = new PcapRing({ dir: ringDir, fileBase: 'bench.pcap', maxFileSize: 100e6, fileCount: 1000, open: encryptedSink(() => Promise.resolve(ring)), remove: (f) => rm(f, { force: true }) });
      const t0 = process.hrtime.bigint();
      await pr.consume(Readable.from(readChunks(file)));
      ringRates.push(statSync(file).size / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9));
      rmSync(ringDir, { recursive: true, force: true });
      // CPU per MB of the ring path with reads of a pipe's size (64 KiB), encrypted vs plain: what
      // encryption adds per byte, robust to the machine's contention (CPU time, not wall time)
      // (plain, enc, enc, plain: the best of two per mode, so neither pays the warm-up alone)
      const best = { enc: Infinity, plain: Infinity };
      for (const mode of ['plain', 'enc', 'enc', 'plain'] as const) {
        mkdirSync(ringDir, { mode: 0o700 });
        const open = mode === 'enc' ? encryptedSink(() => Promise.resolve(ring)) : plainSink();
        const r2 = new PcapRing({ dir: ringDir, fileBase: 'bench.pcap', maxFileSize: 100e6, fileCount: 1000, open, remove: (f) => rm(f, { force: true }) });
        const c0 = process.cpuUsage();
        await r2.consume(Readable.from(readChunks(file, 64 * 1024)));
        const c = process.cpuUsage(c0);
        best[mode] = Math.min(best[mode], (c.user + c.system) / 1000 / (statSync(file).size / 1e6));
        rmSync(ringDir, { recursive: true, force: true });
      }
      ringCpuEnc.push(best.enc);
      ringCpuPlain.push(best.plain);
    }
    // lossless capture rate through the agent, encryption on vs off (same run, alternating passes)
    let overhead = 'skipped';
    if (!argv.includes('--no-rate')) {
      const pi = argv.indexOf('--rate-passes');
      const passes = pi >= 0 ? Math.max(1, Number(argv[pi + 1])) : 1;
      let on = 0;
      let off = 0;
      for (let p = 0; p < passes; p++) {
        on = Math.max(on, (await agentLosslessRate({}, 1, undefined, (m) => log(`encryption on:  ${m}`))).maxPps);
        off = Math.max(off, (await agentLosslessRate({ PCAPPER_ENCRYPTION: 'off' }, 1, undefined, (m) => log(`encryption off: ${m}`))).maxPps);
      }
      log(`lossless capture rate through the agent: encrypted ${on.toFixed(0)} pps, plain ${off.toFixed(0)} pps`);
      overhead = off > 0 ? (on / off).toFixed(3) : 'NaN';
      console.log(`agent_lossless_pps_encrypted=${on.toFixed(0)} agent_lossless_pps_plain=${off.toFixed(0)}`);
    }
    const up = median(ours);
    const awsMb = median(theirs);
    const e = median(enc);
    const c = median(cp);
    const rg = median(ringRates);
    const ce = median(ringCpuEnc);
    const cpl = median(ringCpuPlain);
    log(`ring path CPU per MB (64 KiB reads): encrypted ${ce.toFixed(2)} ms, plain ${cpl.toFixed(2)} ms; encryption adds ${(ce - cpl).toFixed(2)} ms per MB of capture`);
    console.log(`ring_cpu_ms_per_mb_encrypted=${ce.toFixed(2)} ring_cpu_ms_per_mb_plain=${cpl.toFixed(2)}`);
    console.log(
      `mb=${(size / 1e6).toFixed(0)} upload_mb_s=${up.toFixed(1)} awscli_mb_s=${awsMb.toFixed(1)} vs_awscli=${(up / awsMb).toFixed(2)} encrypt_mb_s=${e.toFixed(1)} copy_mb_s=${c.toFixed(1)} encrypt_vs_copy=${(e / c).toFixed(2)} ring_mb_s=${rg.toFixed(1)} encrypt_overhead=${overhead} lost_files=${lost}`,
    );
  } finally {
    client.close();
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench storage: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
