// The one wrapper of a long-running process under test (a controller, an agent, a server started
// as its own process): argv only, a minimal environment, stdout and stderr kept as one log (and
// appended to a file when asked), a wait for a log line by state, and a stop that always ends it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { eventually, GiveUp } from './eventually.js';

export interface LoggedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr interleaved as they came. */
  log(): string;
  /** Waits until `re` matches its log (the first match); fails if it exits first, with the log's tail. */
  waitLog(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it exited. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Added to PATH (the only variable inherited). */
  env?: Record<string, string>;
  /** Also append the output to this file (kept for a failed run). */
  logFile?: string;
}

/** Starts `argv` (no shell) as `name`. */
export function startProcess(name: string, argv: readonly string[], opts: StartOptions = {}): LoggedProcess {
  const child = spawn(argv[0] ?? '', argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env } });
  const file = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a', mode: 0o600 }) : undefined;
  let log = '';
  for (const s of [child.stdout, child.stderr]) {
    s?.setEncoding('utf8');
    s?.on('data', (c: string) => {
      log += c;
      file?.write(c);
    });
  }
  child.once('close', () => file?.end());
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    child,
    log: () => log,
    waitLog: (re, timeoutMs = 30_000) =>
      eventually(
        () => {
          const m = re.exec(log);
          if (m) return m;
          if (exited()) throw new GiveUp(`${name} exited (${child.exitCode ?? child.signalCode})`);
          return undefined;
        },
        { what: `${re} in the log of ${name}`, timeoutMs, describe: () => log.slice(-3000) },
      ),
    stop: async () => {
      if (exited()) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(t);
    },
  };
}
