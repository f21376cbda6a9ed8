/**
 * Runs tcpdump (argv, never a shell) inside a network namespace and watches it.
 *
 *   setpriv --pdeathsig KILL -- nsenter --net=/proc/self/fd/3 -- tcpdump <argv>
 *
 * - A pod's network namespace is handed over as an open fd (fd 3 of the child; the agent pinned
 *   it, src/capture/netns.ts pinContainerNetns), so what tcpdump enters is the namespace the agent
 *   checked, even if the pid it was found through has exited and been reused since. Node
 *   namespaces (a path such as /proc/1/ns/net) are entered by path.
 *
 * - `setpriv --pdeathsig KILL` (util-linux) sets PR_SET_PDEATHSIG, which survives the execs of
 *   nsenter and tcpdump (neither is set-uid), so when the agent dies — even by SIGKILL — the kernel
 *   kills its tcpdumps: no orphans. nsenter with only --net does not fork, so the child's pid IS
 *   tcpdump's pid and signals reach tcpdump directly.
 * - "capturing" means tcpdump printed `listening on ...` (it has opened the interface, compiled and
 *   attached the filter); `started` resolves then.
 * - Statistics: SIGUSR1 makes tcpdump print its counters on stderr; tcpdump installs that handler
 *   before it opens the interface, so requestStats() only signals after `listening on`.
 * - Flushing: without -U tcpdump writes its file through a stdio buffer (4 KiB), so a quiet capture
 *   can hold packets (even the file header) in memory. flush() sends SIGUSR2, on which tcpdump
 *   (4.9+) calls pcap_dump_flush(). The agent only asks when the file has not grown since its last
 *   look, i.e. when tcpdump is idle in poll(): a busy capture flushes itself every 4 KiB, and an
 *   idle one is never inside fwrite() when the signal arrives. A live stream looks every 25 ms,
 *   so flush() also checks /proc/<pid>/syscall and signals only while tcpdump is blocked in its
 *   wait for packets (an fflush() from the handler in the middle of fwrite() could write bytes
 *   twice); when that file cannot be read it signals as before.
 * - stop(): first drains (src/capture/drain.ts: until tcpdump has read every packet the kernel
 *   accepted before the stop, at most ~1.2 s, usually at once), then SIGTERM (tcpdump flushes,
 *   prints final stats, exits), SIGKILL after a grace period.
 */
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { drainVerdict } from './drain.js';
import { parseListening, parseTcpdumpStats, tcpdumpErrorMessage, type Listening, type TcpdumpStats } from './tcpdump.js';

export type SpawnFn = (file: string, args: readonly string[], opts: SpawnOptions) => ChildProcess;

export interface Programs {
  tcpdump: string;
  nsenter: string;
  setpriv: string;
}

export const DEFAULT_PROGRAMS: Programs = { tcpdump: 'tcpdump', nsenter: 'nsenter', setpriv: 'setpriv' };

/** Where nsenter finds a namespace passed as an fd: the child's fd 3 (spawn's fourth stdio slot). */
export const NETNS_CHILD_FD = 3;

/** Syscalls libpcap can block in while waiting for packets, by architecture (poll, ppoll, select, pselect6, epoll_*). */
const WAIT_SYSCALLS: Record<string, readonly number[]> = {
  x64: [7, 23, 232, 270, 271, 281, 441],
  arm64: [22, 72, 73, 441],
};

/**
 * From /proc/<pid>/syscall: true when the process is blocked in a wait syscall, false when it is
 * running or in another syscall, undefined when that cannot be told (unknown format or arch). Pure.
 */
export function blockedInWait(procSyscall: string, arch: string = process.arch): boolean | undefined {
  const first = procSyscall.trim().split(/\s+/)[0] ?? '';
  if (first === 'running') return false;
  if (!/^-?\d+$/.test(first)) return undefined;
  const waits = WAIT_SYSCALLS[arch];
  if (!waits) return undefined;
  return waits.includes(Number(first));
}
export const NETNS_FD_PATH = `/proc/self/fd/${NETNS_CHILD_FD}`;

/** The namespace to enter: a path, or an open fd (entered as /proc/self/fd/3 in the child). */
export type NetnsRef = string | { fd: number } | undefined;

function netnsArgs(ns: NetnsRef): { path: string | undefined; stdio: Array<'ignore' | number> } {
  if (ns === undefined || typeof ns === 'string') return { path: ns, stdio: [] };
  return { path: NETNS_FD_PATH, stdio: [ns.fd] };
}

/**
 * The command line for tcpdump with `argv` inside `netnsPath` (undefined: the agent's own, i.e. the
 * host's, network namespace), tied to the agent's life. Pure.
 */
export function tcpdumpCommand(argv: readonly string[], netnsPath: string | undefined, programs: Programs = DEFAULT_PROGRAMS): { file: string; args: string[] } {
  const inner = netnsPath === undefined ? [programs.tcpdump, ...argv] : [programs.nsenter, `--net=${netnsPath}`, '--', programs.tcpdump, ...argv];
  return { file: programs.setpriv, args: ['--pdeathsig', 'KILL', '--', ...inner] };
}

export interface TcpdumpExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last statistics tcpdump printed (at exit, or the last SIGUSR1 report). */
  stats: TcpdumpStats | undefined;
  /** tcpdump's error text when it failed (its own words), '' otherwise. */
  error: string;
  /** The target's reason when the agent, not tcpdump, ended the capture (e.g. UploadBacklog); default CaptureFailed. */
  reason?: string;
  /** Whether stop() was called before it exited. */
  stopped: boolean;
}

export class TcpdumpStartError extends Error {
  override readonly name = 'TcpdumpStartError';
}

const STDERR_KEEP = 64 * 1024;
/** How often a draining stop asks tcpdump for its counters. */
const DRAIN_LOOK_MS = 20;

/** One running tcpdump. */
export class TcpdumpProcess {
  readonly child: ChildProcess;
  /** Resolves once tcpdump is capturing; rejects (TcpdumpStartError, tcpdump's message) if it exits first. */
  readonly started: Promise<Listening>;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<TcpdumpExit>;
  private stderr = '';
  private listening: Listening | undefined;
  private stopping = false;
  private statsWaiters: Array<(s: TcpdumpStats | undefined) => void> = [];
  private exitInfo: TcpdumpExit | undefined;

  /** tcpdump's stdout when started with `stdout: 'pipe'` (`-w -`: the pcap stream). */
  get stdout(): NodeJS.ReadableStream | null {
    return this.child.stdout;
  }

  private readonly argv: readonly string[];

  constructor(argv: readonly string[], netns: NetnsRef, opts: { programs?: Programs; spawn?: SpawnFn; stdout?: 'pipe' | 'ignore'; cwd?: string } = {}) {
    this.argv = [...argv];
    const ns = netnsArgs(netns);
    const { file, args } = tcpdumpCommand(argv, ns.path, opts.programs);
    const spawn: SpawnFn = opts.spawn ?? nodeSpawn;
    this.child = spawn(file, args, { stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe', ...ns.stdio], shell: false, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    let resolveStarted!: (l: Listening) => void;
    let rejectStarted!: (e: Error) => void;
    this.started = new Promise<Listening>((res, rej) => {
      resolveStarted = res;
      rejectStarted = rej;
    });
    this.started.catch(() => undefined); // observed via exited too; avoid unhandled rejections
    this.exited = new Promise<TcpdumpExit>((resolve) => {
      this.child.stderr?.setEncoding('utf8');
      this.child.stderr?.on('data', (chunk: string) => {
        this.stderr = (this.stderr + chunk).slice(-STDERR_KEEP);
        if (this.listening === undefined) {
          const l = parseListening(this.stderr);
          if (l) {
            this.listening = l;
            resolveStarted(l);
          }
        }
        if (this.statsWaiters.length > 0 && /packets? dropped by kernel/.test(chunk)) {
          const s = parseTcpdumpStats(this.stderr);
          for (const w of this.statsWaiters.splice(0)) w(s);
        }
      });
      const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
        if (this.exitInfo) return;
        const failed = spawnError !== undefined || (!this.stopping && code !== 0);
        this.exitInfo = {
          code,
          signal,
          stats: parseTcpdumpStats(this.stderr),
          error: spawnError ? `cannot run ${file}: ${spawnError.message}` : failed ? tcpdumpErrorMessage(this.stderr) : '',
          stopped: this.stopping,
        };
        if (this.listening === undefined) rejectStarted(new TcpdumpStartError(this.exitInfo.error || tcpdumpErrorMessage(this.stderr)));
        for (const w of this.statsWaiters.splice(0)) w(this.exitInfo.stats);
        resolve(this.exitInfo);
      };
      this.child.on('error', (err) => finish(null, null, err));
      this.child.on('close', (code, signal) => finish(code, signal));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isCapturing(): boolean {
    return this.listening !== undefined && this.exitInfo === undefined;
  }

  /** Current counters: SIGUSR1 and wait (at most timeoutMs) for the report; undefined if none came. */
  async requestStats(timeoutMs = 1000): Promise<TcpdumpStats | undefined> {
    if (!this.isCapturing) return this.exitInfo?.stats ?? parseTcpdumpStats(this.stderr);
    return new Promise<TcpdumpStats | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.statsWaiters = this.statsWaiters.filter((w) => w !== done);
        resolve(parseTcpdumpStats(this.stderr));
      }, timeoutMs);
      const done = (s: TcpdumpStats | undefined): void => {
        clearTimeout(timer);
        resolve(s);
      };
      this.statsWaiters.push(done);
      try {
        this.child.kill('SIGUSR1');
      } catch {
        done(parseTcpdumpStats(this.stderr));
      }
    });
  }

  /**
   * Asks tcpdump to flush its file buffer (SIGUSR2); only once it is capturing, and only while it
   * waits for packets (see the top of this file). Returns whether the signal was sent.
   */
  flush(): boolean {
    if (!this.isCapturing) return false;
    const pid = this.child.pid;
    let idle: boolean | undefined;
    try {
      idle = pid === undefined ? undefined : blockedInWait(readFileSync(`/proc/${pid}/syscall`, 'utf8'));
    } catch {
      idle = undefined; // not readable here (permissions, not Linux): signal as before
    }
    if (idle === false) return false; // busy: it writes by itself, or the next look asks again
    try {
      return this.child.kill('SIGUSR2');
    } catch {
      return false; // exited meanwhile
    }
  }

  /** Is tcpdump blocked waiting for packets (undefined: cannot tell)? */
  private idle(): boolean | undefined {
    const pid = this.child.pid;
    try {
      return pid === undefined ? undefined : blockedInWait(readFileSync(`/proc/${pid}/syscall`, 'utf8'));
    } catch {
      return undefined;
    }
  }

  /**
   * Until tcpdump has read every packet the kernel accepted before now (drain.ts decides); the
   * counters are asked for every DRAIN_LOOK_MS. Resolves early if tcpdump exits.
   */
  private async drain(): Promise<void> {
    const t0 = Date.now();
    const immediate = this.argv.includes('--immediate-mode');
    for (;;) {
      if (!this.isCapturing) return;
      // idle first: right after the SIGUSR1 report tcpdump is still busy with the signal
      const idle = this.idle();
      const stats = await this.requestStats(500);
      const v = drainVerdict({ elapsedMs: Date.now() - t0, immediate, stats, idle });
      if (v === 'stop') return;
      await new Promise<void>((r) => setTimeout(r, DRAIN_LOOK_MS));
    }
  }

  /** Drain (see drain.ts), SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  async stop(graceMs = 800): Promise<TcpdumpExit> {
    if (this.exitInfo) return this.exitInfo;
    if (!this.stopping) {
      this.stopping = true;
      await this.drain();
    }
    if (this.exitInfo) return this.exitInfo;
    // Before `listening on` tcpdump may not have its handlers yet: SIGTERM's default action ends it too.
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Runs a short-lived tcpdump (e.g. the `-d` filter check) in `netnsPath`; resolves with its exit
 * code and output. Never a shell.
 */
export async function runTcpdumpOnce(
  argv: readonly string[],
  netns: NetnsRef,
  opts: { programs?: Programs; spawn?: SpawnFn; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const ns = netnsArgs(netns);
  const { file, args } = tcpdumpCommand(argv, ns.path, opts.programs);
  const spawn: SpawnFn = opts.spawn ?? nodeSpawn;
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe', ...ns.stdio], shell: false });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => (stdout = (stdout + c).slice(-STDERR_KEEP)));
    child.stderr?.on('data', (c: string) => (stderr = (stderr + c).slice(-STDERR_KEEP)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 10_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `cannot run ${file}: ${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
