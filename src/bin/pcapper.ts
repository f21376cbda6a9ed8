#!/usr/bin/env node
/**
 * `pcapper SUBCOMMAND [options]`: one binary for every in-cluster component. Each subcommand is
 * one line in COMMANDS: a lazily imported module exporting `run(argv) => Promise<exit code>`.
 */
import { PCAPPER_VERSION } from '../version.js';

type Run = (argv: readonly string[]) => Promise<number>;

const COMMANDS: Record<string, { describe: string; load: () => Promise<{ run: Run }> }> = {
  controller: { describe: 'run the PacketCapture controller', load: () => import('../controller/main.js') },
  agent: { describe: 'run the node agent (one per node; NODE_NAME required)', load: () => import('../agent/main.js') },
  server: { describe: 'run the aggregated API server data.pcapper.dev (files and live streams)', load: () => import('../server/main.js') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(12)} ${c.describe}`);
  return `usage: pcapper <command> [options]   (pcapper <command> --help)\n\ncommands:\n${lines.join('\n')}\n  version      print the version`;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return cmd ? 0 : 2;
  }
  if (cmd === 'version' || cmd === '--version') {
    process.stdout.write(`pcapper ${PCAPPER_VERSION}\n`);
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    process.stderr.write(`pcapper: unknown command "${cmd}"\n${usage()}\n`);
    return 2;
  }
  const mod = await c.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`pcapper: ${err instanceof Error ? (err.stack ?? err.message) : 'failed'}\n`);
    if (err instanceof Error && err.cause) process.stderr.write(`caused by: ${err.cause instanceof Error ? err.cause.message : JSON.stringify(err.cause)}\n`);
    process.exitCode = 1;
  },
);
