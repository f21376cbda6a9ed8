/**
 * `kubectl-pcap summary FILE... [-o table|json|records] [--meta FILE]... [--width N] [--top N] [--filter EXPR]`
 *
 * Summarises one or more capture files (pcap or pcapng). Capture metadata sidecars next to the
 * inputs (`FILE.meta.json` or `capture-meta.json`, see src/pcap/metadata.ts) are picked up
 * automatically to name endpoints by pod; `--meta` adds more. Data goes to stdout, problems to
 * stderr as one line each (`error: FILE: offset N: PROBLEM`), exit code 1 on any problem (the
 * summary of the packets before a format problem is still printed), 2 on bad usage (including a
 * display filter that does not compile: the problem is printed with a caret under its position).
 */
import { Summarizer, summarizeFiles } from '../../pcap/summary.js';
import { CaptureReader, drain } from '../../pcap/reader.js';
import { PcapFormatError, PcapIoError } from '../../pcap/errors.js';
import { compileFilter, type CompiledFilter } from '../../pcap/filter/compile.js';
import { caretLines, DisplayFilterError } from '../../pcap/filter/errors.js';
import { PacketFilter } from '../../pcap/filter/apply.js';
import { EndpointIndex } from '../../pcap/filter/packet.js';
import { capturePointOf } from '../../pcap/view/capturepoints.js';
import type { SummaryOptions, Summary } from '../../pcap/summary.js';
import { formatSummaryTable } from '../../pcap/format.js';
import { endpointMap, findCaptureMetadata, readCaptureMetadata, type CaptureMetadata } from '../../pcap/metadata.js';
import { describeError } from '../../pcap/errors.js';
import type { PcapRecord } from '../../pcap/records/types.js';

/** Streams a command writes to (a subset of the CLI's io). */
export interface CommandIo {
  stdout: NodeJS.WritableStream & { columns?: number; isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

export const SUMMARY_USAGE = `usage: kubectl-pcap summary FILE... [-o table|json|records] [--meta FILE]... [--width N] [--top N] [--filter EXPR]

Summarise capture files: conversations, top talkers, TCP health, DNS, HTTP, HTTP/2 and gRPC.
  -o, --output FORMAT       table (default), json (the summary), or records: one JSON record per
                            line (connections, dns, http, http2/grpc; schema in docs/records.md)
      --meta FILE           capture metadata (JSON) naming IPs by pod; sidecars next to the
                            inputs (FILE.meta.json, capture-meta.json) are read automatically
      --width N             table width (default: terminal width or 80)
      --top N               rows per table / entries in JSON lists (default 15 / 20)
  -Y, --filter EXPR         summarise only the packets matching a display filter, e.g.
                            'tcp.port == 443 && pod == "web-0"' (Wireshark syntax; docs/filters.md)`;

interface SummaryArgs {
  files: string[];
  output: 'table' | 'json' | 'records';
  meta: string[];
  width: number | undefined;
  top: number | undefined;
  filter: string | undefined;
}

class UsageProblem extends Error {}

function parseArgs(argv: readonly string[]): SummaryArgs | 'help' {
  const a: SummaryArgs = { files: [], output: 'table', meta: [], width: undefined, top: undefined, filter: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (name: string): string => {
      const eq = arg.indexOf('=');
      if (arg.startsWith('--') && eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageProblem(`${name} needs a value`);
      return v;
    };
    const flag = arg.startsWith('--') && arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    if (flag === '-h' || flag === '--help') return 'help';
    else if (flag === '-o' || flag === '--output') {
      const v = value('-o');
      if (v !== 'json' && v !== 'table' && v !== 'records') throw new UsageProblem(`-o must be "table", "json" or "records", not "${v}"`);
      a.output = v;
    } else if (flag === '--meta') a.meta.push(value('--meta'));
    else if (flag === '-Y' || flag === '--filter') a.filter = value('--filter');
    else if (flag === '--width' || flag === '--top') {
      const v = Number(value(flag));
      if (!Number.isInteger(v) || v < 1) throw new UsageProblem(`${flag} must be a positive integer`);
      if (flag === '--width') a.width = v;
      else a.top = v;
    } else if (arg === '-') throw new UsageProblem('reading a capture from stdin is not supported; pass a file');
    else if (arg.startsWith('-') && arg !== '-') throw new UsageProblem(`unknown flag ${arg}`);
    else a.files.push(arg);
  }
  if (a.files.length === 0) throw new UsageProblem('no capture file given');
  return a;
}

/** Runs `summary`; returns the exit code (0 ok, 1 problem with an input, 2 usage). */
export async function runSummary(argv: readonly string[], io: CommandIo): Promise<number> {
  let args: SummaryArgs | 'help';
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageProblem) {
      io.stderr.write(`error: summary: ${err.message}\nSee 'kubectl pcap summary --help' for usage.\n`);
      return 2;
    }
    throw err;
  }
  if (args === 'help') {
    io.stdout.write(`${SUMMARY_USAGE}\n`);
    return 0;
  }
  let compiled: CompiledFilter | undefined;
  if (args.filter !== undefined) {
    try {
      compiled = compileFilter(args.filter);
    } catch (err) {
      if (!(err instanceof DisplayFilterError)) throw err;
      io.stderr.write(`error: summary: --filter: ${err.problem.message}\n${caretLines(args.filter, err.problem)}\nSee docs/filters.md for the fields and operators.\n`);
      return 2;
    }
  }
  let failed = false;
  const metas: CaptureMetadata[] = [];
  for (const m of args.meta) {
    try {
      metas.push(await readCaptureMetadata(m));
    } catch (err) {
      io.stderr.write(`error: ${describeError(err)}\n`);
      return 1;
    }
  }
  const sidecars = new Map<string, CaptureMetadata>();
  for (const f of args.files) {
    try {
      const found = await findCaptureMetadata(f);
      if (found) {
        metas.push(found.metadata);
        sidecars.set(f, found.metadata);
      }
    } catch (err) {
      io.stderr.write(`warning: ignoring capture metadata for ${f}: ${describeError(err)}\n`);
    }
  }
  try {
    const onRecord = args.output === 'records' ? (r: PcapRecord) => io.stdout.write(`${JSON.stringify(r)}\n`) : undefined;
    const opts: SummaryOptions = { endpoints: endpointMap(metas), top: args.top, syncReads: true, onRecord };
    const { summary, errors } = compiled === undefined ? await summarizeFiles(args.files, opts) : await summarizeFiltered(args.files, opts, compiled, sidecars);
    for (const e of errors) {
      io.stderr.write(`error: ${describeError(e)}\n`);
      failed = true;
    }
    if (args.output === 'records') {
      // written as they were produced
    } else if (args.output === 'json') io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else io.stdout.write(formatSummaryTable(summary, { width: args.width ?? io.stdout.columns ?? 80, rows: args.top }));
  } catch (err) {
    io.stderr.write(`error: ${describeError(err)}\n`);
    return 1;
  }
  return failed ? 1 : 0;
}

/**
 * Like summarizeFiles, feeding the summary only the packets that match `filter`. frame.number and
 * tcp.stream count packets in the order they are read (file after file).
 */
async function summarizeFiltered(paths: readonly string[], opts: SummaryOptions, filter: CompiledFilter, sidecars: ReadonlyMap<string, CaptureMetadata>): Promise<{ summary: Summary; errors: (PcapFormatError | PcapIoError)[] }> {
  const s = new Summarizer(opts);
  s.expectFiles(paths.length);
  const pf = new PacketFilter(filter, new EndpointIndex(opts.endpoints ?? new Map()));
  const errors: (PcapFormatError | PcapIoError)[] = [];
  for (const path of paths) {
    s.addFile(path);
    try {
      const r = await CaptureReader.open(path, { syncReads: true });
      let known = -1;
      await drain(r, (p) => {
        if (r.interfaces.length !== known) {
          known = r.interfaces.length;
          pf.setCapturePoints(r.interfaces.map((i) => capturePointOf(i, sidecars.get(path), path).point));
        }
        if (pf.test(p)) s.add(p);
      });
    } catch (err) {
      if (err instanceof PcapFormatError || err instanceof PcapIoError) {
        errors.push(err);
        s.addError(err.message);
      } else throw err;
    }
  }
  return { summary: s.finish(), errors };
}
