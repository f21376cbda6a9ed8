#!/usr/bin/env node
/**
 * kubectl-pcap: the kubectl plugin. A table of commands; each entry's `run(argv, io)` returns the
 * exit code. Add cluster commands by adding entries to {@link COMMANDS}.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runSummary, type CommandIo } from '../cli/commands/summary.js';
import { runMerge } from '../cli/commands/merge.js';

export interface CommandEntry {
  /** One line for `--help`. */
  summary: string;
  run: (argv: readonly string[], io: CommandIo) => Promise<number>;
}

/** Command name -> implementation. */
export const COMMANDS: Record<string, CommandEntry> = {
  summary: { summary: 'summarise capture files (conversations, TCP health, DNS, HTTP)', run: runSummary },
  merge: { summary: 'merge capture files into one time-ordered pcapng', run: runMerge },
};

export function usage(): string {
  const names = Object.keys(COMMANDS);
  const w = Math.max(...names.map((n) => n.length));
  const lines = names.map((n) => `  ${n.padEnd(w)}  ${COMMANDS[n]?.summary ?? ''}`);
  return `usage: kubectl-pcap COMMAND [ARGS]\n\ncommands:\n${lines.join('\n')}\n\nRun "kubectl-pcap COMMAND --help" for a command's flags.`;
}

/** Dispatches argv (without node and script) to a command; returns the exit code. */
export async function main(argv: readonly string[], io: CommandIo): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    io.stdout.write(`${usage()}\n`);
    return cmd === undefined ? 2 : 0;
  }
  const entry = COMMANDS[cmd];
  if (entry === undefined) {
    io.stderr.write(`error: unknown command "${cmd}" (commands: ${Object.keys(COMMANDS).join(', ')}; see kubectl-pcap --help)\n`);
    return 2;
  }
  try {
    return await entry.run(rest, io);
  } catch (err) {
    io.stderr.write(`error: ${cmd}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
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
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0); // reader went away (e.g. `| head`)
  });
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
