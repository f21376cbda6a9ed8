/**
 * CLI errors: a usage error (exit 2, followed by a hint to `--help`) or a runtime error (exit 1).
 * Every error is printed as one line, `error: ...`, never with a stack trace.
 */
import { EXIT, type CliIo } from './io.js';

/** Bad flags, arguments or values: exit code 2 and a pointer to `--help`. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** Command path for the hint, e.g. "capture" (empty for the top level). */
    readonly command = '',
  ) {
    super(message);
  }
}

/** A failure while doing the work: exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    options?: { cause?: unknown },
    readonly exitCode: number = EXIT.error,
  ) {
    super(message, options);
  }
}

/** The user pressed Ctrl-C. */
export class InterruptedError extends CliError {
  constructor() {
    super('interrupted', undefined, EXIT.interrupted);
  }
}

/** Collapses a message to one line (no stack traces, no multi-line server messages). */
export function oneLine(msg: string): string {
  return msg.replace(/\s*\n\s*/g, '; ').trim();
}

/** Prints `err` as one line to stderr and returns the exit code. */
export function reportError(io: Pick<CliIo, 'stderr'>, err: unknown): number {
  if (err instanceof UsageError) {
    io.stderr.write(`error: ${oneLine(err.message)}\n`);
    const cmd = err.command ? `kubectl pcap ${err.command}` : 'kubectl pcap';
    io.stderr.write(`See '${cmd} --help' for usage.\n`);
    return EXIT.usage;
  }
  if (err instanceof CliError) {
    io.stderr.write(`error: ${oneLine(err.message)}\n`);
    return err.exitCode;
  }
  if (err instanceof Error && err.name === 'AbortError') {
    io.stderr.write('error: interrupted\n');
    return EXIT.interrupted;
  }
  const msg = err instanceof Error ? err.message : String(err);
  io.stderr.write(`error: ${oneLine(msg)}\n`);
  return EXIT.error;
}
