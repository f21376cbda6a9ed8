/**
 * `kubectl-pcap merge FILE... -w OUT` (`-w -` writes to stdout, e.g. `| wireshark -k -i -`).
 *
 * Merges captures into one time-ordered pcapng with one interface per input interface. An input
 * with a capture metadata sidecar (`FILE.meta.json` or `capture-meta.json`) gets the interface name
 * `<node>/<namespace>/<pod>` (or `<node>/<iface>` for node captures) and the metadata as interface
 * comments; other inputs are named by file name. The output file is created with mode 0600
 * (captured traffic is secret). Problems are printed as one line each on stderr; exit code 1 if any
 * input had a problem (its packets before the problem are still merged), 2 on bad usage.
 */
import { resolve } from 'node:path';
import { mergeCaptures, type MergeInput } from '../../pcap/merge.js';
import { findCaptureMetadata, interfaceCommentsFor, interfaceNameFor } from '../../pcap/metadata.js';
import { describeError } from '../../pcap/errors.js';
import { fileSink } from '../../pcap/writer.js';
import type { CommandIo } from './summary.js';

export const MERGE_USAGE = `usage: kubectl-pcap merge FILE... -w OUT

Merge capture files into one time-ordered pcapng (one named interface per input interface).
  -w, --write OUT   output file, or - for stdout`;

/** Runs `merge`; returns the exit code (0 ok, 1 problem, 2 usage). */
export async function runMerge(argv: readonly string[], io: CommandIo): Promise<number> {
  const files: string[] = [];
  let out: string | undefined;
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
    else if (a.startsWith('-')) return usage(`unknown flag ${a}`);
    else files.push(a);
  }
  if (files.length === 0) return usage('no input files given');
  if (out === undefined) return usage('missing -w OUT (use -w - for stdout)');
  if (out !== '-' && files.some((f) => resolve(f) === resolve(out))) return usage(`output ${out} is also an input`);

  const inputs: MergeInput[] = [];
  for (const path of files) {
    const input: MergeInput = { path };
    try {
      const found = await findCaptureMetadata(path);
      if (found) {
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
    const r = await mergeCaptures(inputs, sink, { endOutput: !toStdout, syncReads: true });
    for (const e of r.errors) io.stderr.write(`error: ${describeError(e)}\n`);
    if (!toStdout) io.stderr.write(`merged ${r.packets} packets from ${files.length} file(s) into ${out} (${r.interfaces.length} interfaces)\n`);
    return r.errors.length > 0 ? 1 : 0;
  } catch (err) {
    io.stderr.write(`error: ${describeError(err)}\n`);
    return 1;
  }
}
