/**
 * `npm run dev-cluster -- up|down|status`: one detached local control plane for humans.
 *   up     starts it (if not already running) and prints the admin kubeconfig path as the last line
 *   down   stops it and removes everything it created
 *   status prints whether it runs, and its kubeconfig
 * State lives in $PCAPPER_DEV_DIR (default ~/.cache/pcapper/dev-cluster). kube-apiserver runs in
 * its own network namespace (cluster.ts); this machine reaches it through a forwarder on 127.0.0.1.
 * Needs root.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster } from './cluster.js';
import { EndpointsController } from './endpoints.js';

interface State {
  pid: number;
  kubeconfig: string;
  server: string;
}

const baseDir = process.env.PCAPPER_DEV_DIR ?? join(homedir(), '.cache', 'pcapper', 'dev-cluster');
const stateFile = join(baseDir, 'state.json');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readState(): State | undefined {
  if (!existsSync(stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

async function daemon(): Promise<void> {
  const cluster = await startCluster({ dir: join(baseDir, 'cluster'), keepDir: true });
  // no kube-controller-manager: keep Services' EndpointSlices (and so APIServices) working
  const endpoints = new EndpointsController(cluster.kubeConfig).start();
  writeFileSync(stateFile, JSON.stringify({ pid: process.pid, kubeconfig: cluster.kubeconfigPath, server: cluster.server }), { mode: 0o600 });
  const shutdown = (): void => {
    void endpoints
      .stop()
      .then(() => cluster.stop())
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  setInterval(() => undefined, 1 << 30);
}

async function up(): Promise<number> {
  const st = readState();
  if (st && alive(st.pid)) {
    process.stderr.write(`dev-cluster: already running (pid ${st.pid}) at ${st.server}\n`);
    process.stdout.write(`${st.kubeconfig}\n`);
    return 0;
  }
  rmSync(baseDir, { recursive: true, force: true });
  mkdirSync(baseDir, { recursive: true, mode: 0o700 });
  const log = join(baseDir, 'dev-cluster.log');
  const fd = openSync(log, 'a', 0o600);
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '__daemon'], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: process.env,
  });
  closeSync(fd);
  child.unref();
  process.stderr.write('dev-cluster: starting kube-apiserver (the first run on a machine also builds it)...\n');
  const deadline = Date.now() + 60 * 60 * 1000;
  while (Date.now() < deadline) {
    const s = readState();
    if (s) {
      process.stderr.write(`dev-cluster: ready at ${s.server} (pid ${s.pid}); stop it with: npm run dev-cluster -- down\n`);
      process.stdout.write(`${s.kubeconfig}\n`);
      return 0;
    }
    if (child.exitCode !== null || (child.pid !== undefined && !alive(child.pid))) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-15).join('\n') : '';
      process.stderr.write(`dev-cluster: failed to start:\n${tail}\n`);
      return 1;
    }
    await sleep(250);
  }
  process.stderr.write(`dev-cluster: not ready in time; see ${log}\n`);
  return 1;
}

async function down(): Promise<number> {
  const st = readState();
  if (st && alive(st.pid)) {
    process.kill(st.pid, 'SIGTERM');
    const deadline = Date.now() + 20_000;
    while (alive(st.pid) && Date.now() < deadline) await sleep(100);
    if (alive(st.pid)) process.kill(st.pid, 'SIGKILL');
  }
  rmSync(baseDir, { recursive: true, force: true });
  process.stderr.write('dev-cluster: stopped and removed\n');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  switch (argv[0]) {
    case 'up':
      return up();
    case 'down':
      return down();
    case 'status': {
      const st = readState();
      if (st && alive(st.pid)) {
        process.stdout.write(`running pid=${st.pid} server=${st.server}\n${st.kubeconfig}\n`);
        return 0;
      }
      process.stdout.write('not running\n');
      return 1;
    }
    case '__daemon':
      await daemon();
      return -1;
    default:
      process.stderr.write('usage: npm run dev-cluster -- up|down|status\n');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`dev-cluster: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
