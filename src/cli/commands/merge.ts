/**
 * `kubectl-pcap merge FILE... -w OUT [--filter EXPR]` (`-w -` writes to stdout, e.g. `| wireshark -k -i -`).
 *
 * Merges captures into one time-ordered pcapng with one interface per input interface. An input
 * with a capture metadata sidecar (`FILE.meta.json` or `capture-meta.json`) gets the interface name
 * `<node>/<namespace>/<pod>` (or `<node>/<iface>` for node captures) and the metadata as interface
 * comments; other inputs are named by file name. The output file is created with mode 0600
 * (captured traffic is secret). Problems are printed as one line each on stderr; exit code 1 if any
 * input had a problem (its packets before the problem are still merged), 2 on bad usage (including a
 * display filter that does not compile: the problem is printed with a caret under its position).
 * With --filter only matching packets are written; frame.number and tcp.stream count packets in
 * the merged (timestamp) order.
 */
import { resolve } from 'node:path';
import { mergeCaptures, type MergeInput } from '../../pcap/merge.js';
import { findCaptureMetadata, interfaceCommentsFor, interfaceNameFor } from '../../pcap/metadata.js';
import { describeError } from '../../pcap/errors.js';
import { fileSink } from '../../pcap/writer.js';
import type { CommandIo } from './summary.js';
import { compileFilter, type CompiledFilter } from '../../pcap/filter/compile.js';
import { caretLines, DisplayFilterError } from '../../pcap/filter/errors.js';
import { PacketFilter } from '../../pcap/filter/apply.js';
import { EndpointIndex, type CapturePointInfo } from '../../pcap/filter/packet.js';
import { capturePointOf } from '../../pcap/view/capturepoints.js';
import { endpointMap, type CaptureMetadata } from '../../pcap/metadata.js';
import type { CaptureReader } from '../../pcap/reader.js';

export const MERGE_USAGE = `usage: kubectl-pcap merge FILE... -w OUT [--filter EXPR]

Merge capture files into one time-ordered pcapng (one named interface per input interface).
  -w, --write OUT       output file, or - for stdout
  -Y, --filter EXPR     write only the packets matching a display filter, e.g.
                        'dns || http.request' (Wireshark syntax; docs/filters.md)`;

/** Runs `merge`; returns the exit code (0 ok, 1 problem, 2 usage). */
export async function runMerge(argv: readonly string[], io: CommandIo): Promise<number> {
  const files: string[] = [];
  let out: string | undefined;
  let filterExpr: string | undefined;
  const usage = (msg: string) => {
    io.stderr.write(`error: merge: ${msg}\nSee 'kubectl pcap merge --help' for usage.\n`);
    return 2;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-h' || a === '--help') {
      io.stdout.write(`${MERGE_USAGE}\n`);
      return 0;
    } else if (a === '-w' || a === '--write') {
      const v = argv[++i];
      if (v === undefined) return usage(`${a} needs a value`);
      out = v;
    } else if (a.startsWith('--write=')) out = a.slice('--write='.length);
    else if (a === '-Y' || a === '--filter') {
      const v = argv[++i];
      if (v === undefined) return usage(`${a} needs a display filter`);
      filterExpr = v;
    } else if (a.startsWith('--filter=')) filterExpr = a.slice('--filter='.length);
    else if (a.startsWith('-')) return usage(`unknown flag ${a}`);
    else files.push(a);
  }
  if (files.length === 0) return usage('no input files given');
  if (out === undefined) return usage('missing -w OUT (use -w - for stdout)');
  if (out !== '-' && files.some((f) => resolve(f) === resolve(out))) return usage(`output ${out} is also an input`);
  let compiled: CompiledFilter | undefined;
  if (filterExpr !== undefined) {
    try {
      compiled = compileFilter(filterExpr);
    } catch (err) {
      if (!(err instanceof DisplayFilterError)) throw err;
      io.stderr.write(`error: merge: --filter: ${err.problem.message}\n${caretLines(filterExpr, err.problem)}\nSee docs/filters.md for the fields and operators.\n`);
      return 2;
    }
  }
  const sidecars: (CaptureMetadata | undefined)[] = [];

  const inputs: MergeInput[] = [];
  for (const path of files) {
    const input: MergeInput = { path };
    sidecars.push(undefined);
    try {
      const found = await findCaptureMetadata(path);
      if (found) {
        sidecars[sidecars.length - 1] = found.metadata;
        const m = found.metadata;
        input.name = interfaceNameFor(m, m.interfaces.length === 1 ? m.interfaces[0] : undefined);
        input.comments = interfaceCommentsFor(m, path);
      }
    } catch (err) {
      io.stderr.write(`warning: ignoring capture metadata for ${path}: ${describeError(err)}\n`);
    }
    inputs.push(input);
  }

  const toStdout = out === '-';
  if (toStdout && io.stdout.isTTY === true) {
    io.stderr.write('error: merge: refusing to write a binary capture to a terminal; redirect it (-w - > FILE) or pipe it (| wireshark -k -i -)\n');
    return 2;
  }
  let sink: NodeJS.WritableStream = io.stdout;
  if (!toStdout) {
    try {
      sink = fileSink(out, 0o600);
    } catch (err) {
      io.stderr.write(`error: ${out}: cannot write: ${(err as Error).message}\n`);
      return 1;
    }
  }
  try {
    const r = await mergeCaptures(inputs, sink, { endOutput: !toStdout, syncReads: true, keep: compiled === undefined ? undefined : keepMatching(compiled, files, sidecars) });
    for (const e of r.errors) io.stderr.write(`error: ${describeError(e)}\n`);
    if (!toStdout) io.stderr.write(`merged ${r.packets} ${compiled !== undefined ? 'matching ' : ''}packets from ${files.length} file(s) into ${out} (${r.interfaces.length} interfaces)\n`);
    return r.errors.length > 0 ? 1 : 0;
  } catch (err) {
    io.stderr.write(`error: ${describeError(err)}\n`);
    return 1;
  }
}

/** The merge's `keep`: the display filter, with each input's capture points and the IP -> pod map of all inputs. */
function keepMatching(filter: CompiledFilter, files: readonly string[], sidecars: readonly (CaptureMetadata | undefined)[]): (r: CaptureReader, input: number) => boolean {
  const pf = new PacketFilter(filter, new EndpointIndex(endpointMap(sidecars.filter((m): m is CaptureMetadata => m !== undefined))));
  const points = new Map<CaptureReader, CapturePointInfo[]>();
  let current: CaptureReader | undefined;
  return (r, input) => {
    let cps = points.get(r);
    if (cps === undefined || cps.length !== r.interfaces.length) {
      cps = r.interfaces.map((i) => capturePointOf(i, sidecars[input], files[input] ?? '').point);
      points.set(r, cps);
      current = undefined;
    }
    if (current !== r) {
      pf.setCapturePoints(cps);
      current = r;
    }
    return pf.test(r);
  };
}
