/**
 * Typed errors of the pcap library. Every format problem is a {@link PcapFormatError} that names the
 * file, the byte offset of the offending record or field, and the problem in words, so a CLI can
 * print it as one line: `FILE: offset N: PROBLEM`.
 */

/** A capture file is malformed, truncated or of an unsupported kind. */
export class PcapFormatError extends Error {
  override readonly name = 'PcapFormatError';
  /** Path (or label) of the input. */
  readonly file: string;
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;
  /** The problem, without file and offset. */
  readonly problem: string;

  constructor(file: string, offset: number, problem: string, options?: { cause?: unknown }) {
    super(`${file}: offset ${offset}: ${problem}`, options);
    this.file = file;
    this.offset = offset;
    this.problem = problem;
  }
}

/** An input could not be read or an output could not be written (wraps the fs error as `cause`). */
export class PcapIoError extends Error {
  override readonly name = 'PcapIoError';
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.file = file;
  }
}

/** One line for a user: the error's message without a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof PcapFormatError || err instanceof PcapIoError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
