#!/usr/bin/env node
/**
 * kubectl-pcap: the kubectl plugin (`kubectl pcap ...`). A table of commands; each entry's
 * `run(argv, io)` returns the exit code (0 ok, 1 runtime error, 2 usage, 130 interrupted).
 * Data goes to stdout, messages and progress to stderr.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT, processIo, type CliIo } from '../cli/io.js';
import { reportError } from '../cli/errors.js';
import { hoistGlobalFlags } from '../cli/args.js';

export interface CommandEntry {
  /** One line for `--help`. */
  summary: string;
  run: (argv: readonly string[], io: CliIo) => Promise<number>;
}

/**
 * Command name -> its module, imported only when the command runs: the cluster client
 * (@kubernetes/client-node) takes ~0.5 s to load, which local commands (merge, summary FILE) must
 * not pay (bench/download: vs_mergecap). `--help` loads them all for their summaries.
 */
export const COMMANDS: Record<string, () => Promise<CommandEntry>> = {
  capture: async () => entry((await import('../cli/commands/capture.js')).captureCommand),
  live: async () => entry((await import('../cli/commands/live.js')).liveCommand),
  list: async () => entry((await import('../cli/commands/get.js')).listCommand),
  get: async () => entry((await import('../cli/commands/get.js')).getCommand),
  describe: async () => entry((await import('../cli/commands/describe.js')).describeCommand),
  delete: async () => entry((await import('../cli/commands/delete.js')).deleteCommand),
  download: async () => entry((await import('../cli/commands/download.js')).downloadCommand),
  summary: async () => {
    const [{ runSummary }, { summaryCommand }] = await Promise.all([import('../cli/commands/summary.js'), import('../cli/commands/summary-name.js')]);
    return { summary: 'Summarise capture files, an imported capture or a capture in the cluster (conversations, TCP health, DNS, HTTP)', run: summaryCommand(runSummary) };
  },
  merge: async () => {
    const [{ runMerge }, { mergeCommand }] = await Promise.all([import('../cli/commands/merge.js'), import('../cli/commands/summary-name.js')]);
    return { summary: 'Merge capture files (or imported captures) into one time-ordered pcapng', run: mergeCommand(runMerge) };
  },
  init: async () => entry((await import('../cli/commands/init.js')).initCommand),
  export: async () => entry((await import('../cli/commands/export.js')).exportCommand),
  import: async () => entry((await import('../cli/commands/import.js')).importCommand),
  ui: async () => entry((await import('../cli/commands/ui.js')).uiCommand),
  keys: async () => entry((await import('../cli/commands/keys.js')).keysCommand),
  version: async () => entry((await import('../cli/commands/version.js')).versionCommand),
};

function entry(c: { spec: { summary: string }; run: CommandEntry['run'] }): CommandEntry {
  return { summary: c.spec.summary, run: c.run };
}

const ALIASES: Record<string, string> = { ls: 'list', rm: 'delete' };

export async function usage(): Promise<string> {
  const names = Object.keys(COMMANDS);
  const w = Math.max(...names.map((n) => n.length));
  const summaries = await Promise.all(names.map(async (n) => (await COMMANDS[n]?.())?.summary ?? ''));
  const lines = names.map((n, i) => `  ${n.padEnd(w)}  ${summaries[i] ?? ''}`);
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
    io.stderr.write(`${await usage()}\n`);
    return EXIT.usage;
  }
  if (first === '-h' || first === '--help' || first === 'help') {
    if (first === 'help' && rest[0] !== undefined && COMMANDS[ALIASES[rest[0]] ?? rest[0]]) return main([rest[0], '--help'], io);
    io.stdout.write(`${await usage()}\n`);
    return EXIT.ok;
  }
  if (first === '--version') return main(['version'], io);
  const cmd = ALIASES[first] ?? first;
  const load = COMMANDS[cmd];
  if (load === undefined) {
    io.stderr.write(`error: unknown command "${first}" for "kubectl pcap"\nRun 'kubectl pcap --help' for usage.\n`);
    return EXIT.usage;
  }
  try {
    return await (await load()).run(rest, io);
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
