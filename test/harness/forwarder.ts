/**
 * A byte-for-byte TCP <-> Unix socket forwarder: how the host ("the user's laptop") reaches
 * kube-apiserver, which listens only inside the control-plane network namespace. A Unix socket is
 * a file, so it crosses network namespaces where no TCP route exists:
 *
 *   host netns:  127.0.0.1:<port>  ──tcp-to-unix──▶  <dir>/apiserver.sock
 *   cp netns:    <dir>/apiserver.sock  ──unix-to-tcp──▶  127.0.0.1:6443 (kube-apiserver)
 *
 * TLS passes through untouched (the client verifies the apiserver's own certificate). Usage:
 *   node forwarder.js tcp-to-unix <listen-host> <listen-port|0> <socket>
 *   node forwarder.js unix-to-tcp <socket> <connect-host> <connect-port>
 * Prints one line `listening <address>` when ready. Exits when stdin closes, so it never outlives
 * the process that started it (which keeps the pipe open).
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { rmSync } from 'node:fs';

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const done = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', done).on('close', done);
  b.on('error', done).on('close', done);
}

function fail(msg: string): never {
  process.stderr.write(`forwarder: ${msg}\n`);
  process.exit(2);
}

const [mode, a1, a2, a3] = process.argv.slice(2);
if (!a1 || !a2 || !a3) fail('usage: forwarder.js tcp-to-unix HOST PORT SOCKET | unix-to-tcp SOCKET HOST PORT');

if (mode === 'tcp-to-unix') {
  const socketPath = a3;
  const server = createServer((c) => pipeBoth(c, createConnection(socketPath)));
  server.on('error', (e) => fail(e.message));
  server.listen(Number(a2), a1, () => {
    const addr = server.address();
    if (typeof addr !== 'object' || !addr) fail('no address');
    process.stdout.write(`listening ${addr.address}:${addr.port}\n`);
  });
} else if (mode === 'unix-to-tcp') {
  const socketPath = a1;
  rmSync(socketPath, { force: true });
  const server = createServer((c) => pipeBoth(c, createConnection({ host: a2, port: Number(a3) })));
  server.on('error', (e) => fail(e.message));
  server.listen(socketPath, () => process.stdout.write(`listening ${socketPath}\n`));
} else {
  fail(`unknown mode ${JSON.stringify(mode)}: use tcp-to-unix or unix-to-tcp`);
}

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
