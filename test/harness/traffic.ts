// Real traffic inside simulated pods' network namespaces: an HTTP server and client, ping, a tiny
// DNS server (A records over UDP) and a DNS client. Servers and clients are small Node programs run
// with `nsenter --net=<netns> -- node -e ...` (argv, never a shell), so nothing beyond node, nsenter
// and ping is needed. Long-running servers are recorded in the HarnessRun so cleanup kills them.
import { HarnessRun, runCommand, spawnInNetns, inNetns, type NetnsTarget, CommandError } from './netns.js';

/** What a traffic helper needs of a pod: its netns, its IP, optionally its container cgroup. */
export interface TrafficEndpoint extends Pick<NetnsTarget, 'netnsPath' | 'ip'> {
  /** When given, servers are moved into this cgroup (as a process of the container would be). */
  cgroup?: { addProcess(pid: number): void };
}

export interface ServerHandle {
  pid: number;
  ip: string;
  port: number;
  /** Kills the server and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

export interface TrafficOptions {
  run?: HarnessRun;
  /** bounded wait for the server to listen (default 10 s) */
  timeoutMs?: number;
}

const HTTP_SERVER = String.raw`
const http = require('node:http');
const [port, ip, body] = [Number(process.argv[1]), process.argv[2], process.argv[3]];
const srv = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => { n += c.length; });
  req.on('end', () => {
    const text = body !== '' ? body : 'pcapper test server ' + ip + ':' + port + ' ' + req.method + ' ' + req.url + ' (' + n + ' bytes in)\n';
    res.writeHead(200, { 'content-type': 'text/plain', 'x-pcapper-server': ip });
    res.end(text);
  });
});
srv.on('error', (e) => { process.stderr.write(String(e) + '\n'); process.exit(1); });
srv.listen(port, '0.0.0.0', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
`;

const HTTP_CLIENT = String.raw`
const http = require('node:http');
const [url, method, body, deadline] = [process.argv[1], process.argv[2], process.argv[3], Date.now() + Number(process.argv[4])];
function attempt() {
  const req = http.request(url, { method, agent: false, timeout: 2000 }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      process.stdout.write(JSON.stringify({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => {
    if (Date.now() < deadline) setTimeout(attempt, 100);
    else { process.stderr.write('http: ' + e.message + '\n'); process.exit(2); }
  });
  req.end(body);
}
attempt();
`;

// DNS wire format helpers shared by server and client (plain JS, pasted into both programs).
const DNS_COMMON = String.raw`
function encodeName(name) {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  const bufs = parts.map((p) => { const b = Buffer.from(p, 'ascii'); return Buffer.concat([Buffer.from([b.length]), b]); });
  return Buffer.concat([...bufs, Buffer.from([0])]);
}
function readName(msg, off) {
  const labels = []; let jumped = false; let end = off; let guard = 0;
  for (;;) {
    if (guard++ > 128 || off >= msg.length) throw new Error('bad name');
    const len = msg[off];
    if ((len & 0xc0) === 0xc0) { if (!jumped) end = off + 2; jumped = true; off = ((len & 0x3f) << 8) | msg[off + 1]; continue; }
    if (len === 0) { if (!jumped) end = off + 1; break; }
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii')); off += 1 + len;
  }
  return [labels.join('.'), end];
}
`;

const DNS_SERVER =
  DNS_COMMON +
  String.raw`
const dgram = require('node:dgram');
const [port, records] = [Number(process.argv[1]), JSON.parse(process.argv[2])];
const table = new Map(Object.entries(records).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), Array.isArray(v) ? v : [v]]));
const sock = dgram.createSocket('udp4');
sock.on('message', (msg, rinfo) => {
  try {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0), flags = msg.readUInt16BE(2), qd = msg.readUInt16BE(4);
    if (qd !== 1 || (flags & 0x8000)) return;
    const [qname, qend] = readName(msg, 12);
    const qtype = msg.readUInt16BE(qend), qclass = msg.readUInt16BE(qend + 2);
    const question = msg.subarray(12, qend + 4);
    const addrs = table.get(qname.toLowerCase());
    const servfail = addrs !== undefined && addrs[0] === 'SERVFAIL';
    const answers = [];
    if (addrs && !servfail && qtype === 1 && qclass === 1) {
      for (const a of addrs) {
        const rr = Buffer.alloc(16);
        rr.writeUInt16BE(0xc00c, 0); rr.writeUInt16BE(1, 2); rr.writeUInt16BE(1, 4); rr.writeUInt32BE(30, 6); rr.writeUInt16BE(4, 10);
        a.split('.').forEach((o, i) => { rr[12 + i] = Number(o); });
        answers.push(rr);
      }
    }
    const rcode = servfail ? 2 : addrs ? 0 : 3;
    const hdr = Buffer.alloc(12);
    hdr.writeUInt16BE(id, 0); hdr.writeUInt16BE(0x8000 | 0x0400 | (flags & 0x0100) | rcode, 2);
    hdr.writeUInt16BE(1, 4); hdr.writeUInt16BE(answers.length, 6);
    sock.send(Buffer.concat([hdr, question, ...answers]), rinfo.port, rinfo.address);
  } catch (e) { process.stderr.write('dns: ' + e.message + '\n'); }
});
sock.on('error', (e) => { process.stderr.write(String(e) + '\n'); process.exit(1); });
sock.bind(port, '0.0.0.0', () => process.stdout.write('listening\n'));
`;

const DNS_CLIENT =
  DNS_COMMON +
  String.raw`
const dgram = require('node:dgram');
const [server, port, name, qtype, deadline] = [process.argv[1], Number(process.argv[2]), process.argv[3], Number(process.argv[4]), Date.now() + Number(process.argv[5])];
const id = Math.floor(Math.random() * 65536);
const hdr = Buffer.alloc(12); hdr.writeUInt16BE(id, 0); hdr.writeUInt16BE(0x0100, 2); hdr.writeUInt16BE(1, 4);
const tail = Buffer.alloc(4); tail.writeUInt16BE(qtype, 0); tail.writeUInt16BE(1, 2);
const query = Buffer.concat([hdr, encodeName(name), tail]);
const sock = dgram.createSocket('udp4');
const send = () => sock.send(query, port, server);
const timer = setInterval(() => {
  if (Date.now() > deadline) { process.stderr.write('dns: no answer from ' + server + ':' + port + '\n'); process.exit(2); }
  send();
}, 500);
sock.on('message', (msg) => {
  if (msg.length < 12 || msg.readUInt16BE(0) !== id) return;
  const flags = msg.readUInt16BE(2), qd = msg.readUInt16BE(4), an = msg.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd; i++) { off = readName(msg, off)[1] + 4; }
  const answers = [];
  for (let i = 0; i < an; i++) {
    off = readName(msg, off)[1];
    const type = msg.readUInt16BE(off), len = msg.readUInt16BE(off + 8);
    const data = msg.subarray(off + 10, off + 10 + len); off += 10 + len;
    if (type === 1 && len === 4) answers.push(Array.from(data).join('.'));
  }
  process.stdout.write(JSON.stringify({ id, rcode: flags & 0xf, answers }));
  clearInterval(timer); sock.close();
});
send();
`;

function waitForListening(
  target: TrafficEndpoint,
  argv: string[],
  what: string,
  opts: TrafficOptions,
): Promise<{ pid: number; stop: () => Promise<void> }> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let settled = false;
    const proc = spawnInNetns(target, argv, {
      ...(opts.run ? { run: opts.run } : {}),
      what,
      onStdout: (c) => {
        out += c;
        if (!settled && out.includes('listening\n')) {
          settled = true;
          clearTimeout(timer);
          try {
            // listening means it is inside the netns: now it may join the container's cgroup
            target.cgroup?.addProcess(proc.pid);
            resolve({ pid: proc.pid, stop });
          } catch (e) {
            proc.kill();
            reject(new Error(`${what}: cannot move pid ${proc.pid} into the container cgroup`, { cause: e }));
          }
        }
      },
      onStderr: (c) => {
        err += c;
      },
    });
    const stop = async (): Promise<void> => {
      proc.kill('SIGKILL');
      await proc.exited;
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      proc.kill();
      reject(new Error(`${what} did not start listening within ${timeoutMs} ms: ${err.trim()}`));
    }, timeoutMs);
    proc.exited.then(
      (code) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new Error(`${what} exited (${code}) before listening: ${err.trim()}`));
      },
      () => undefined,
    );
  });
}

/** Starts an HTTP/1.1 server on 0.0.0.0:<port> inside the pod; resolves once it listens. */
export async function startHttpServer(pod: TrafficEndpoint, port: number, opts: TrafficOptions & { body?: string } = {}): Promise<ServerHandle> {
  const what = `http server ${pod.ip}:${port}`;
  const h = await waitForListening(pod, ['node', '-e', HTTP_SERVER, String(port), pod.ip, opts.body ?? ''], what, opts);
  return { pid: h.pid, ip: pod.ip, port, stop: h.stop };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * HTTP request from inside a pod (Connection: close, one TCP connection per call). Connection
 * errors are retried until `timeoutMs` (default 10 s): a fresh veth can take ~1 s to forward.
 */
export async function httpGet(fromPod: Pick<NetnsTarget, 'netnsPath'>, url: string, opts: { timeoutMs?: number; method?: string; body?: string } = {}): Promise<HttpResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const [file, args] = inNetns(fromPod, ['node', '-e', HTTP_CLIENT, url, opts.method ?? 'GET', opts.body ?? '', String(timeoutMs)]);
  const out = await runCommand(file, args, { timeoutMs: timeoutMs + 5_000 });
  return JSON.parse(out) as HttpResult;
}

export interface PingResult {
  transmitted: number;
  received: number;
  output: string;
}

/** `ping -c <count>` from inside a pod, waiting up to `deadlineSeconds` (default 10) for the replies. */
export async function ping(fromPod: Pick<NetnsTarget, 'netnsPath'>, ip: string, count = 1, opts: { deadlineSeconds?: number } = {}): Promise<PingResult> {
  const deadline = opts.deadlineSeconds ?? 10;
  const [file, args] = inNetns(fromPod, ['ping', '-n', '-c', String(count), '-i', '0.2', '-w', String(deadline), ip]);
  let output: string;
  try {
    output = await runCommand(file, args, { timeoutMs: (deadline + 5) * 1000 });
  } catch (e) {
    if (e instanceof CommandError && /No such file|ENOENT|exec.*ping/i.test(e.stderr + String(e.cause))) {
      throw new Error('ping is not installed: apt-get install -y iputils-ping', { cause: e });
    }
    // ping exits 1 when replies are missing: report the counts instead of failing
    output = e instanceof CommandError ? e.stdout : '';
    if (!/packets transmitted/.test(output)) throw e;
  }
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(output);
  return { transmitted: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), output };
}

/** A records served by startDnsServer: name -> IPv4 address(es), or 'SERVFAIL' (answered with rcode 2). Other names get NXDOMAIN. */
export type DnsRecords = Record<string, string | string[]>;

/** Starts a UDP DNS responder inside the pod (A records only). */
export async function startDnsServer(pod: TrafficEndpoint, port = 53, records: DnsRecords = {}, opts: TrafficOptions = {}): Promise<ServerHandle> {
  for (const [name, v] of Object.entries(records)) {
    for (const a of Array.isArray(v) ? v : [v]) if (a !== 'SERVFAIL' && !/^(\d{1,3}\.){3}\d{1,3}$/.test(a)) throw new Error(`DNS record ${name}: ${a} is not an IPv4 address`);
  }
  const what = `dns server ${pod.ip}:${port}`;
  const h = await waitForListening(pod, ['node', '-e', DNS_SERVER, String(port), JSON.stringify(records)], what, opts);
  return { pid: h.pid, ip: pod.ip, port, stop: h.stop };
}

export interface DnsResult {
  id: number;
  /** 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN */
  rcode: number;
  answers: string[];
}

/** Sends a DNS query (UDP, type A by default) from inside a pod; retries every 500 ms until `timeoutMs`. */
export async function dnsQuery(
  fromPod: Pick<NetnsTarget, 'netnsPath'>,
  serverIp: string,
  name: string,
  opts: { port?: number; qtype?: number; timeoutMs?: number } = {},
): Promise<DnsResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const [file, args] = inNetns(fromPod, ['node', '-e', DNS_CLIENT, serverIp, String(opts.port ?? 53), name, String(opts.qtype ?? 1), String(timeoutMs)]);
  return JSON.parse(await runCommand(file, args, { timeoutMs: timeoutMs + 5_000 })) as DnsResult;
}
