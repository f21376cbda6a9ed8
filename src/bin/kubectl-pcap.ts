#!/usr/bin/env node
/**
 * kubectl-pcap: the kubectl plugin (`kubectl pcap ...`). A table of commands; each entry's
 * `run(argv, io)` returns the exit code (0 ok, 1 runtime error, 2 usage, 130 interrupted).
 * Data goes to stdout, messages and progress to stderr.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runSummary } from '../cli/commands/summary.js';
import { runMerge } from '../cli/commands/merge.js';
import { captureCommand } from '../cli/commands/capture.js';
import { liveCommand } from '../cli/commands/live.js';
import { getCommand, listCommand } from '../cli/commands/get.js';
import { describeCommand } from '../cli/commands/describe.js';
import { deleteCommand } from '../cli/commands/delete.js';
import { downloadCommand } from '../cli/commands/download.js';
import { exportCommand } from '../cli/commands/export.js';
import { importCommand } from '../cli/commands/import.js';
import { initCommand } from '../cli/commands/init.js';
import { mergeCommand, summaryCommand } from '../cli/commands/summary-name.js';
import { versionCommand } from '../cli/commands/version.js';
import { EXIT, processIo, type CliIo } from '../cli/io.js';
import { reportError } from '../cli/errors.js';
import { hoistGlobalFlags } from '../cli/args.js';

export interface CommandEntry {
  /** One line for `--help`. */
  summary: string;
  run: (argv: readonly string[], io: CliIo) => Promise<number>;
}

/** Command name -> implementation. */
export const COMMANDS: Record<string, CommandEntry> = {
  capture: { summary: captureCommand.spec.summary, run: captureCommand.run },
  live: { summary: liveCommand.spec.summary, run: liveCommand.run },
  list: { summary: listCommand.spec.summary, run: listCommand.run },
  get: { summary: getCommand.spec.summary, run: getCommand.run },
  describe: { summary: describeCommand.spec.summary, run: describeCommand.run },
  delete: { summary: deleteCommand.spec.summary, run: deleteCommand.run },
  download: { summary: downloadCommand.spec.summary, run: downloadCommand.run },
  summary: { summary: 'Summarise capture files, an imported capture or a capture in the cluster (conversations, TCP health, DNS, HTTP)', run: summaryCommand(runSummary) },
  merge: { summary: 'Merge capture files (or imported captures) into one time-ordered pcapng', run: mergeCommand(runMerge) },
  init: { summary: initCommand.spec.summary, run: initCommand.run },
  export: { summary: exportCommand.spec.summary, run: exportCommand.run },
  import: { summary: importCommand.spec.summary, run: importCommand.run },
  version: { summary: versionCommand.spec.summary, run: versionCommand.run },
};

const ALIASES: Record<string, string> = { ls: 'list', rm: 'delete' };

export function usage(): string {
  const names = Object.keys(COMMANDS);
  const w = Math.max(...names.map((n) => n.length));
  const lines = names.map((n) => `  ${n.padEnd(w)}  ${COMMANDS[n]?.summary ?? ''}`);
  return [
    'kubectl pcap: Kubernetes-native packet capture',
    '',
    'Usage:',
    '  kubectl pcap COMMAND [ARGS] [flags]',
    '',
    'Commands:',
    ...lines,
    '',
    'Global flags: --kubeconfig PATH, --context NAME, -n/--namespace NS, -h/--help',
    'Run "kubectl pcap COMMAND --help" for a command\'s flags.',
  ].join('\n');
}

/** Dispatches argv (without node and script) to a command; returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = hoistGlobalFlags(argv);
  if (first === undefined) {
    io.stderr.write(`${usage()}\n`);
    return EXIT.usage;
  }
  if (first === '-h' || first === '--help' || first === 'help') {
    if (first === 'help' && rest[0] !== undefined && COMMANDS[ALIASES[rest[0]] ?? rest[0]]) return main([rest[0], '--help'], io);
    io.stdout.write(`${usage()}\n`);
    return EXIT.ok;
  }
  if (first === '--version') return main(['version'], io);
  const cmd = ALIASES[first] ?? first;
  const entry = COMMANDS[cmd];
  if (entry === undefined) {
    io.stderr.write(`error: unknown command "${first}" for "kubectl pcap"\nRun 'kubectl pcap --help' for usage.\n`);
    return EXIT.usage;
  }
  try {
    return await entry.run(rest, io);
  } catch (err) {
    return reportError(io, err);
  }
}

function isMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const io = processIo();
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // the reader went away (`| head`, tshark quit): stop like Ctrl-C, so a live capture is deleted
    if (err.code === 'EPIPE') process.kill(process.pid, 'SIGTERM');
  });
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
      // a command may leave sockets (watches) half-closed; exit once output is flushed
      process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
    },
    (err: unknown) => {
      process.exitCode = reportError(io, err);
    },
  );
}
