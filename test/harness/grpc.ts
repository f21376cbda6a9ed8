// Real gRPC and h2c traffic between simulated pods: a @grpc/grpc-js server and client (service
// defined with grpc-js's generic client/server and a manual serializer: strings as UTF-8 bytes, no
// protobuf codegen), and an HTTP/2-over-Upgrade exchange (curl --http2 against a minimal h2c server
// written here, since node:http2 does not implement Upgrade). Programs run with
// `nsenter --net=<netns> -- node -e ...` from the repository root so that require() finds
// node_modules. argv only, never a shell.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { runCommand, spawnInNetns, type HarnessRun, type NetnsTarget } from './netns.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The service both programs use: unary, server/client/bidi streaming, and a unary that fails. */
const SERVICE = String.raw`
const grpc = require('@grpc/grpc-js');
const ser = (s) => Buffer.from(String(s), 'utf8');
const de = (b) => b.toString('utf8');
const m = (name, requestStream, responseStream) => ({ path: '/demo.v1.Echo/' + name, requestStream, responseStream, requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de });
const SERVICE = { Say: m('Say', false, false), Fail: m('Fail', false, false), Count: m('Count', false, true), Collect: m('Collect', true, false), Chat: m('Chat', true, true) };
`;

const SERVER = String.raw`
${SERVICE}
const [port] = [Number(process.argv[1])];
const server = new grpc.Server();
server.addService(SERVICE, {
  Say: (call, cb) => cb(null, 'hello ' + call.request),
  Fail: (call, cb) => cb({ code: grpc.status.NOT_FOUND, details: 'no such thing: ' + call.request }),
  Count: (call) => { const n = Number(call.request); for (let i = 0; i < n; i++) call.write(String(i)); call.end(); },
  Collect: (call, cb) => { const got = []; call.on('data', (d) => got.push(d)); call.on('end', () => cb(null, got.join(','))); },
  Chat: (call) => { call.on('data', (d) => call.write('re: ' + d)); call.on('end', () => call.end()); },
});
server.bindAsync('0.0.0.0:' + port, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) { process.stderr.write(String(err) + '\n'); process.exit(1); }
  process.stdout.write('listening\n');
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
`;

/** Runs the calls and prints what it did as JSON (the expected counts). */
const CLIENT = String.raw`
${SERVICE}
const [target, says, fails, countN, collectN, chatN] = [process.argv[1], ...process.argv.slice(2).map(Number)];
const Client = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
const c = new Client(target, grpc.credentials.createInsecure());
const unary = (name, arg) => new Promise((res) => c[name](arg, (err, v) => res(err ? { code: err.code } : { code: 0, v })));
(async () => {
  const out = { say: [], fail: [], count: 0, collect: null, chat: 0 };
  for (let i = 0; i < says; i++) out.say.push((await unary('Say', 'n' + i)).code);
  for (let i = 0; i < fails; i++) out.fail.push((await unary('Fail', 'x' + i)).code);
  await new Promise((res, rej) => { const s = c.Count(String(countN)); s.on('data', () => out.count++); s.on('end', res); s.on('error', rej); });
  out.collect = await new Promise((res, rej) => { const s = c.Collect((err, v) => err ? rej(err) : res(v)); for (let i = 0; i < collectN; i++) s.write('m' + i); s.end(); });
  await new Promise((res, rej) => { const s = c.Chat(); s.on('data', () => out.chat++); s.on('end', res); s.on('error', rej); for (let i = 0; i < chatN; i++) s.write('c' + i); s.end(); });
  c.close();
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(2); });
`;

/**
 * A minimal h2c server for the Upgrade path: answers an HTTP/1.1 request carrying Upgrade: h2c with
 * 101, then its SETTINGS and the response to the request as stream 1 (HEADERS with a literal
 * :status, DATA with END_STREAM), acknowledging the client's SETTINGS; then a GOAWAY. The HPACK it
 * writes is literal-without-indexing, valid for any decoder.
 */
const H2C_UPGRADE_SERVER = String.raw`
const net = require('node:net');
const [port, status, body] = [Number(process.argv[1]), process.argv[2], process.argv[3]];
const frame = (type, flags, stream, payload) => { const h = Buffer.alloc(9); h.writeUIntBE(payload.length, 0, 3); h[3] = type; h[4] = flags; h.writeUInt32BE(stream, 5); return Buffer.concat([h, payload]); };
const lit = (n, v) => Buffer.concat([Buffer.from([0, n.length]), Buffer.from(n), Buffer.from([v.length]), Buffer.from(v)]);
const srv = net.createServer((sock) => {
  let buf = Buffer.alloc(0); let upgraded = false;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (!upgraded) {
      const e = buf.indexOf('\r\n\r\n'); if (e < 0) return;
      const head = buf.subarray(0, e).toString('latin1'); buf = buf.subarray(e + 4); upgraded = true;
      if (!/\r\nupgrade:\s*h2c/i.test(head)) { sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'); return; }
      sock.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
      sock.write(frame(4, 0, 0, Buffer.alloc(0)));
      sock.write(frame(1, 4, 1, Buffer.concat([lit(':status', status), lit('content-type', 'text/plain')])));
      sock.write(frame(0, 1, 1, Buffer.from(body)));
    }
    // client preface then frames: acknowledge SETTINGS, end with GOAWAY once the client's settings arrived
    if (buf.length >= 24 + 9) { sock.write(frame(4, 1, 0, Buffer.alloc(0))); sock.end(frame(7, 0, 0, Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]))); buf = Buffer.alloc(0); }
  });
  sock.on('error', () => undefined);
});
srv.listen(port, '0.0.0.0', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
`;

export interface GrpcServerHandle {
  pid: number;
  stop(): Promise<void>;
}

async function startListening(pod: Pick<NetnsTarget, 'netnsPath'>, argv: string[], what: string, run: HarnessRun, timeoutMs = 15_000): Promise<GrpcServerHandle> {
  let out = '';
  let err = '';
  let ready: () => void = () => undefined;
  const listening = new Promise<void>((r) => (ready = r));
  const proc = spawnInNetns(pod, argv, {
    run,
    what,
    cwd: REPO,
    onStdout: (c) => {
      out += c;
      if (out.includes('listening')) ready();
    },
    onStderr: (c) => (err += c),
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      listening,
      proc.exited.then((code) => {
        throw new Error(`${what} exited (${code}) before listening: ${err.trim()}`);
      }),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not listen within ${timeoutMs} ms: ${err.trim()}`)), timeoutMs))),
    ]);
  } catch (e) {
    proc.kill('SIGKILL');
    await proc.exited;
    throw e;
  } finally {
    clearTimeout(timer);
  }
  let stopped: Promise<void> | undefined;
  return {
    pid: proc.pid,
    stop: () =>
      (stopped ??= (async () => {
        proc.kill('SIGTERM');
        await proc.exited;
      })()),
  };
}

/** Starts the gRPC server on 0.0.0.0:<port> in the pod. */
export function startGrpcServer(pod: Pick<NetnsTarget, 'netnsPath'>, port: number, run: HarnessRun): Promise<GrpcServerHandle> {
  return startListening(pod, ['node', '-e', SERVER, String(port)], `grpc server :${port}`, run);
}

export interface GrpcPlan {
  says: number;
  fails: number;
  countN: number;
  collectN: number;
  chatN: number;
}

export interface GrpcClientResult {
  say: number[];
  fail: number[];
  count: number;
  collect: string;
  chat: number;
}

/** Runs the client in the pod against `target` (ip:port) and returns what it observed. */
export async function runGrpcClient(pod: Pick<NetnsTarget, 'netnsPath'>, target: string, plan: GrpcPlan): Promise<GrpcClientResult> {
  // --wd: run from the repository root so that require() finds node_modules
  const out = await runCommand('nsenter', [`--net=${pod.netnsPath}`, `--wd=${REPO}`, '--', 'node', '-e', CLIENT, target, String(plan.says), String(plan.fails), String(plan.countN), String(plan.collectN), String(plan.chatN)], {
    timeoutMs: 30_000,
  });
  return JSON.parse(out) as GrpcClientResult;
}

/** Starts the h2c Upgrade server on 0.0.0.0:<port>, answering every request with `status` and `body`. */
export function startH2cUpgradeServer(pod: Pick<NetnsTarget, 'netnsPath'>, port: number, status: number, body: string, run: HarnessRun): Promise<GrpcServerHandle> {
  return startListening(pod, ['node', '-e', H2C_UPGRADE_SERVER, String(port), String(status), body], `h2c upgrade server :${port}`, run);
}

/** curl --http2 (HTTP/1.1 request with Upgrade: h2c) from the pod; returns curl's stdout. */
export async function curlH2cUpgrade(pod: Pick<NetnsTarget, 'netnsPath'>, url: string): Promise<string> {
  return runCommand('nsenter', [`--net=${pod.netnsPath}`, '--', 'curl', '-sS', '--http2', '--max-time', '10', url], { timeoutMs: 20_000 });
}
