/**
 * Fuzzer for the pcap library: random mutations and truncations of the third-party test captures,
 * fed through the reader, the summary, the table formatter and the merge. Checks that every input
 * either reads to the end or fails with one {@link PcapFormatError}, that the read buffer never
 * grows beyond the record limit, that no loop runs longer than the input allows, and that merging
 * the mutated inputs produces a pcapng that our own reader reads back completely.
 *
 * `npm test` runs a bounded number of iterations (tools/fuzz.test.ts; not part of the fast
 * `npm test -- unit`). Longer run:
 *
 *     npx tsc -p tsconfig.json && node dist/tools/fuzz.js --iterations 100000 [--seed N]
 *
 * A failure prints the seed and iteration so it can be reproduced with `--seed`.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { bufferSource, CaptureReader } from '../src/pcap/reader.js';
import { PcapFormatError } from '../src/pcap/errors.js';
import { Summarizer } from '../src/pcap/summary.js';
import { formatSummaryTable } from '../src/pcap/format.js';
import { mergeCaptures } from '../src/pcap/merge.js';

/** xorshift32: deterministic, seedable. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** integer in [0, n) */
  int(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
}

const INTERESTING = [0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 12, 16, 28, 32, 64 * 1024 * 1024 + 4, 0x0a0d0d0a, 0x1a2b3c4d, 0xa1b2c3d4];

/** Returns a mutated copy of `data`. */
export function mutate(data: Uint8Array, rng: Rng): Buffer {
  let b = Buffer.from(data);
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    switch (rng.int(7)) {
      case 0: // flip bytes
        for (let i = 0, n = 1 + rng.int(8); i < n && b.length > 0; i++) b[rng.int(b.length)] = rng.int(256);
        break;
      case 1: {
        // interesting 32-bit value at an aligned offset (lengths, magics, interface ids)
        if (b.length < 4) break;
        const off = rng.int(b.length - 3) & ~3;
        const v = INTERESTING[rng.int(INTERESTING.length)] ?? 0;
        if (rng.int(2) === 0) b.writeUInt32LE(v >>> 0, off);
        else b.writeUInt32BE(v >>> 0, off);
        break;
      }
      case 2: // truncate
        b = b.subarray(0, rng.int(b.length + 1));
        break;
      case 3: {
        // duplicate a chunk
        if (b.length === 0) break;
        const s = rng.int(b.length);
        const e = Math.min(b.length, s + 1 + rng.int(256));
        const at = rng.int(b.length);
        b = Buffer.concat([b.subarray(0, at), b.subarray(s, e), b.subarray(at)]);
        break;
      }
      case 4: {
        // delete a chunk
        const s = rng.int(b.length);
        b = Buffer.concat([b.subarray(0, s), b.subarray(Math.min(b.length, s + 1 + rng.int(64)))]);
        break;
      }
      case 5: {
        // insert random bytes
        const ins = Buffer.alloc(1 + rng.int(32));
        for (let i = 0; i < ins.length; i++) ins[i] = rng.int(256);
        const at = rng.int(b.length + 1);
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      default: {
        // small-delta a 16-bit field (header lengths, ports, option lengths)
        if (b.length < 2) break;
        const off = rng.int(b.length - 1);
        b.writeUInt16BE((b.readUInt16BE(off) + rng.int(64) - 32) & 0xffff, off);
      }
    }
  }
  return b;
}

export interface FuzzFailure {
  seed: number;
  iteration: number;
  file: string;
  problem: string;
}

export interface FuzzResult {
  iterations: number;
  formatErrors: number;
  clean: number;
  failures: FuzzFailure[];
}

class NullSink extends Writable {
  bytes: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.bytes.push(chunk);
    cb();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : typeof err === 'string' ? err : JSON.stringify(err);
}

const BUFFER = 64 * 1024;
const MAX_RECORD = 1024 * 1024;

async function readOne(data: Buffer, name: string): Promise<{ packets: number; error: unknown }> {
  const s = new Summarizer();
  let packets = 0;
  let error: unknown;
  const limit = Math.floor(data.length / 12) + 1;
  try {
    const r = await CaptureReader.fromSource(bufferSource(data, name), { bufferSize: BUFFER, maxRecordBytes: MAX_RECORD });
    for (;;) {
      while (r.advance()) {
        packets++;
        if (packets > limit) throw new Error(`more packets (${packets}) than the input can hold`);
        s.add(r);
        if (r.packetComments().length > 1000) throw new Error('implausible comment count');
      }
      if (r.bufferCapacity > Math.max(BUFFER, MAX_RECORD) * 2) throw new Error(`read buffer grew to ${r.bufferCapacity} bytes`);
      if (r.done) break;
      await r.fill();
    }
  } catch (err) {
    error = err;
  }
  formatSummaryTable(s.finish());
  return { packets, error };
}

/** Runs `iterations` fuzz cases over `files` from `seed`. */
export async function fuzzCaptures(files: readonly string[], iterations: number, seed: number): Promise<FuzzResult> {
  const rng = new Rng(seed);
  const inputs = files.map((f) => ({ name: basename(f), data: readFileSync(f) }));
  const res: FuzzResult = { iterations, formatErrors: 0, clean: 0, failures: [] };
  for (let i = 0; i < iterations; i++) {
    const src = inputs[rng.int(inputs.length)];
    if (!src) break;
    const data = mutate(src.data, rng);
    const fail = (problem: string) => res.failures.push({ seed, iteration: i, file: src.name, problem });
    try {
      const { packets, error } = await readOne(data, src.name);
      if (error === undefined) res.clean++;
      else if (error instanceof PcapFormatError) {
        res.formatErrors++;
        if (!(error.offset >= 0 && error.offset <= data.length)) fail(`error offset ${error.offset} outside the input (${data.length} bytes)`);
        if (!error.message.startsWith(`${src.name}: offset `)) fail(`error does not name file and offset: ${error.message}`);
      } else fail(`unexpected ${describe(error)}`);
      // every 8th case: merge the mutated input with a second one and read the result back
      if (i % 8 === 0) {
        const other = inputs[rng.int(inputs.length)];
        if (other) {
          const sink = new NullSink();
          const m = await mergeCaptures(
            [
              { path: src.name, source: bufferSource(data, src.name) },
              { path: other.name, source: bufferSource(other.data, other.name) },
            ],
            sink,
            { bufferSize: BUFFER },
          );
          for (const e of m.errors) if (!(e instanceof PcapFormatError)) fail(`merge: unexpected ${describe(e)}`);
          const back = await readOne(Buffer.concat(sink.bytes), 'merged');
          if (back.error !== undefined) fail(`merged output does not read back: ${describe(back.error)}`);
          else if (back.packets !== m.packets) fail(`merged ${m.packets} packets but ${back.packets} read back`);
          else if (m.packets < packets) fail(`merge kept ${m.packets} packets, fewer than the ${packets} readable ones`);
        }
      }
    } catch (err) {
      fail(`crash: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  return res;
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const { int, parseArgs } = await import('../src/cli/args.js');
  const p = parseArgs(
    {
      name: 'fuzz',
      summary: 'fuzz the pcap readers',
      usage: 'node dist/tools/fuzz.js [--iterations N] [--seed N]',
      globalFlags: false,
      maxArgs: 0,
      flags: [
        { name: 'iterations', type: 'int', help: 'cases to run (default 20000)' },
        { name: 'seed', type: 'int', help: 'the seed of a run to reproduce (default: random; `npm test` uses a fixed one)' },
      ],
    },
    process.argv.slice(2),
  );
  const { testdataFiles } = await import('../test/harness/pcap.js');
  const iterations = int(p, 'iterations') ?? 20000;
  // a random seed only here, in `npm run fuzz`; tools/fuzz.test.ts runs a fixed one
  const seed = int(p, 'seed') ?? Date.now() & 0x7fffffff;
  const t0 = Date.now();
  const r = await fuzzCaptures(testdataFiles(), iterations, seed);
  for (const f of r.failures.slice(0, 20)) console.error(`FAIL seed=${f.seed} iteration=${f.iteration} file=${f.file}: ${f.problem}`);
  console.log(`iterations=${r.iterations} seed=${seed} clean=${r.clean} format_errors=${r.formatErrors} failures=${r.failures.length} seconds=${((Date.now() - t0) / 1000).toFixed(1)}`);
  process.exitCode = r.failures.length > 0 ? 1 : 0;
}
