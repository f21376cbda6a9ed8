/**
 * What a command gets from the outside world: streams, environment, working directory and an
 * abort signal (Ctrl-C). Commands never touch `process` directly, so they run the same in tests.
 * Data goes to `stdout`, messages and progress to `stderr`.
 */
import type { Readable, Writable } from 'node:stream';

export interface CliStreamInfo {
  /** True when the stream is a terminal (progress redraws, prompts). */
  isTTY?: boolean;
  /** Terminal width in columns (when a TTY). */
  columns?: number;
}

export interface CliIo {
  readonly stdout: Writable & CliStreamInfo;
  readonly stderr: Writable & CliStreamInfo;
  readonly stdin: Readable & CliStreamInfo;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Aborted on the first Ctrl-C (SIGINT) or SIGTERM. */
  readonly signal: AbortSignal;
  /** Aborted on the second Ctrl-C: skip the remaining clean work (downloads), only clean up. */
  readonly forceSignal?: AbortSignal;
}

/** Exit codes: 0 ok, 1 runtime error, 2 usage error, 130 interrupted (Ctrl-C). */
export const EXIT = { ok: 0, error: 1, usage: 2, interrupted: 130 } as const;

/** A command's entry point: returns the process exit code. */
export type CommandRun = (argv: readonly string[], io: CliIo) => Promise<number>;

/** Writes a line to stderr (messages, progress). */
export function say(io: Pick<CliIo, 'stderr'>, line: string): void {
  io.stderr.write(`${line}\n`);
}

/** Creates the io of the real process; `signal` aborts on SIGINT/SIGTERM. */
export function processIo(): CliIo {
  const ac = new AbortController();
  const force = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (force.signal.aborted) {
      // third Ctrl-C: the user insists
      process.exit(sig === 'SIGINT' ? EXIT.interrupted : 143);
    }
    if (ac.signal.aborted) force.abort(new Error(`interrupted again (${sig})`));
    else ac.abort(new Error(`interrupted (${sig})`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    signal: ac.signal,
    forceSignal: force.signal,
  };
}
