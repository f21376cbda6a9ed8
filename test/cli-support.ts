/**
 * Running kubectl-pcap as a user does, for the CLI's real-cluster tests: a separate process
 * (`node dist/src/bin/kubectl-pcap.js ...`), its own environment, stdout/stderr captured.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './harness/paths.js';
import { CaptureReader } from '../src/pcap/reader.js';

export const CLI = join(repoRoot(), 'dist', 'src', 'bin', 'kubectl-pcap.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface CliOptions {
  kubeconfig?: string;
  cwd?: string;
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

function env(o: CliOptions): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: o.env?.HOME ?? '/nonexistent-home',
    ...(o.kubeconfig ? { KUBECONFIG: o.kubeconfig } : {}),
    ...o.env,
  };
}

/** Runs kubectl-pcap to completion. */
export function kp(args: string[], o: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, o);
  const out: Buffer[] = [];
  let err = '';
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => (err += c));
  if (o.input !== undefined) child.stdin?.end(o.input);
  else child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
  return new Promise((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    }),
  );
}

/** Starts kubectl-pcap with piped stdio (caller reads and waits). */
export function spawnCli(args: string[], o: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { cwd: o.cwd ?? process.cwd(), env: env(o), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** tshark/capinfos output (throws with stderr on failure). */
export function tool(cmd: string, args: string[], input?: Buffer): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...(input ? { input } : {}) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Interface names of a capture file, per packet counts: name -> packets. */
export function packetsPerInterface(file: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of tool('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name']).split('\n')) {
    if (l.trim() === '') continue;
    m.set(l.trim(), (m.get(l.trim()) ?? 0) + 1);
  }
  return m;
}

/** Interface names declared in a pcapng (capinfos -I), including interfaces without packets. */
export function interfaceNames(file: string): string[] {
  return [...tool('capinfos', ['-I', file]).matchAll(/^\s+Name = (.*)$/gm)].map((m) => (m[1] ?? '').trim());
}

/** Drives an interactive command under a pseudo-terminal (python3's pty): answers prompts in order. */
export function underPty(argv: string[], steps: { expect: string; send: string }[], o: { cwd: string; env: Record<string, string>; timeoutS?: number }): { code: number; transcript: string } {
  const driver = String.raw`
import os, pty, sys, json, re, select, time
argv = json.loads(sys.argv[1]); steps = json.loads(sys.argv[2]); timeout = float(sys.argv[3])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
buf = b''
out = b''
deadline = time.time() + timeout
def read_until(pat):
    global buf, out
    rx = re.compile(pat.encode())
    while True:
        m = rx.search(buf)
        if m:
            buf = buf[m.end():]
            return True
        if time.time() > deadline:
            return False
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                return False
            if not d:
                return False
            buf += d; out += d
for s in steps:
    if not read_until(s['expect']):
        sys.stdout.write(out.decode(errors='replace'))
        sys.stderr.write('pty driver: did not see %r\n' % s['expect'])
        os.kill(pid, 9); os.waitpid(pid, 0); sys.exit(97)
    os.write(fd, (s['send'] + '\r').encode())
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;
  const r = spawnSync('python3', ['-c', driver, JSON.stringify(argv), JSON.stringify(steps), String(o.timeoutS ?? 60)], { cwd: o.cwd, env: o.env, encoding: 'utf8', timeout: ((o.timeoutS ?? 60) + 10) * 1000 });
  return { code: r.status ?? -1, transcript: `${r.stdout}${r.stderr}` };
}

/** Comments of every interface block of a capture file (read with the pcap library). */
export async function idbComments(file: string): Promise<string[]> {
  const r = await CaptureReader.open(file);
  try {
    while (!r.advance() && !r.done) await r.fill();
    return r.interfaces.flatMap((i) => [...i.comments]);
  } finally {
    await r.close();
  }
}

/**
 * Runs kubectl-pcap in a network namespace of its own in which the ONLY reachable address is the
 * API server: the namespace has just a loopback interface, and one listener on the API server's
 * loopback address and port that relays bytes (TLS untouched) over a Unix socket to the real API
 * server. Agents, the pcapper server, pod IPs and the internet are unreachable, as from a laptop
 * against a managed cluster. `apiServer` is the kubeconfig's server URL (https://IPv4:PORT).
 * Needs root (unshare). Returns like kp(); `relayed` counts the connections that went through.
 */
/**
 * A hold on the relay of kpApiOnly(): once `pauseAt` bytes went from the API server to the CLI,
 * the relay stops reading from the API server (`paused` becomes true) until resume(): a test can
 * then act (restart a server) at a known point of a download, by state, not by timing.
 */
export class RelayGate {
  downstreamBytes = 0;
  paused = false;
  private readonly held = new Set<NodeJS.ReadableStream>();
  constructor(readonly pauseAt: number) {}
  /** Called by the relay per chunk from the API server. */
  seen(n: number, from: NodeJS.ReadableStream): void {
    this.downstreamBytes += n;
    if (this.downstreamBytes >= this.pauseAt && !this.paused && this.held.size === 0) {
      this.paused = true;
      this.held.add(from);
      from.pause();
    }
  }
  resume(): void {
    for (const s of this.held) s.resume();
    this.held.clear();
  }
}

export async function kpApiOnly(args: string[], apiServer: string, o: CliOptions & { dir: string; gate?: RelayGate }): Promise<CliResult & { relayed: number }> {
  const { createServer, connect } = await import('node:net');
  const { rm } = await import('node:fs/promises');
  const url = new URL(apiServer);
  const host = url.hostname;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(host)) throw new Error(`kpApiOnly needs an API server at an IPv4 address, not ${host}`);
  const port = Number(url.port || 443);
  const sock = join(o.dir, `api-relay-${process.pid}-${Date.now()}.sock`);
  let relayed = 0;
  const relay = createServer((c) => {
    relayed++;
    const up = connect(port, host);
    c.pipe(up);
    up.on('data', (chunk: Buffer) => {
      c.write(chunk);
      o.gate?.seen(chunk.length, up);
    });
    up.on('end', () => c.end());
    up.on('error', () => c.destroy());
    c.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => relay.listen(sock, () => r()));
  // inside the new namespace: loopback up, a relay 127.0.0.1:PORT -> unix socket, then the CLI
  const inner = String.raw`
const net = require('node:net'); const { spawnSync, spawn } = require('node:child_process');
const [host, port, sock, cli, ...args] = process.argv.slice(1);
const up = spawnSync('ip', ['link', 'set', 'lo', 'up'], { stdio: 'inherit' });
if (up.status !== 0) process.exit(97);
// the API server's address exists here only as this relay's listening address
if (host !== '127.0.0.1' && spawnSync('ip', ['addr', 'add', host + '/32', 'dev', 'lo'], { stdio: 'inherit' }).status !== 0) process.exit(98);
const srv = net.createServer((c) => { const u = net.connect(sock); c.pipe(u).pipe(c); u.on('error', () => c.destroy()); c.on('error', () => u.destroy()); });
srv.listen(Number(port), host, () => {
  const child = spawn(process.execPath, [cli, ...args], { stdio: 'inherit' });
  child.on('exit', (code, sig) => { srv.close(); process.exit(code === null ? 128 + 9 : code); });
});
`;
  const child = spawn('unshare', ['--net', '--', process.execPath, '-e', inner, host, String(port), sock, CLI, ...args], { cwd: o.cwd ?? process.cwd(), env: env(o), stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => (err += c));
  child.stdin?.end(o.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
  const r = await new Promise<CliResult>((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    }),
  );
  await new Promise<void>((res) => relay.close(() => res()));
  await rm(sock, { force: true });
  return { ...r, relayed };
}
