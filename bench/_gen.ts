/**
 * Generator of realistic mixed captures for the benchmarks, written with our own PcapWriter:
 * Ethernet/IPv4; many interleaved TCP connections (handshake, request, response data with ACKs,
 * FIN from both sides), some refused (SYN -> RST/ACK), some SYNs unanswered, some reset mid-stream,
 * ~1% retransmitted data segments, about a third of the connections carrying HTTP/1.1 requests and
 * responses, and DNS over UDP (A/AAAA queries, some NXDOMAIN).
 *
 * Files are cached under os.tmpdir()/pcapper-bench, keyed by size, seed and client subnet, so
 * repeated benchmark runs reuse them. Size: `generateCapture({ megabytes })`; the benchmarks take it
 * from `--mb N` or $PCAPPER_BENCH_MB (default 1100, i.e. >= 1 GB).
 */
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter } from '../src/pcap/writer.js';

export interface GenOptions {
  /** Target file size in MB (10^6 bytes). */
  megabytes: number;
  seed?: number;
  /** Third octet range of client addresses (lets merge inputs differ). */
  subnet?: number;
  /** Concurrently open connections. */
  concurrency?: number;
}

const GEN_VERSION = 2;

/** Directory for generated captures. */
export function benchDir(): string {
  const d = join(tmpdir(), 'pcapper-bench');
  mkdirSync(d, { recursive: true });
  return d;
}

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  int(n: number): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s % n;
  }
}

const enum Phase {
  Syn,
  SynAck,
  Ack,
  Request,
  Response,
  Fin1,
  Fin2,
  LastAck,
  Done,
}

interface Conn {
  client: number;
  server: number;
  cport: number;
  sport: number;
  cseq: number;
  sseq: number;
  phase: Phase;
  kind: 'normal' | 'refused' | 'unanswered' | 'reset';
  http: boolean;
  path: number;
  /** response bytes still to send */
  remaining: number;
  sinceAck: number;
  pendingRetrans: number;
}

const NAMES = ['api.shop.svc.cluster.local', 'db-0.db.shop.svc.cluster.local', 'cache.shop.svc.cluster.local', 'payments.example.com', 'auth.shop.svc.cluster.local', 'missing.shop.svc.cluster.local', 'cdn.example.net', 'metrics.monitoring.svc.cluster.local'];

/** Returns the path of a cached (or freshly generated) capture. */
export async function generateCapture(opts: GenOptions): Promise<string> {
  const seed = opts.seed ?? 1;
  const subnet = opts.subnet ?? 1;
  const path = join(benchDir(), `mixed-v${GEN_VERSION}-${opts.megabytes}MB-seed${seed}-net${subnet}.pcap`);
  if (existsSync(path)) return path;
  const tmp = `${path}.tmp-${process.pid}`;
  const target = opts.megabytes * 1e6;
  const rng = new Rng(seed * 7919 + subnet);
  const out = createWriteStream(tmp);
  const w = new PcapWriter(out, { linkType: 1, snapLength: 262144 });
  const payload = Buffer.alloc(1448);
  for (let i = 0; i < payload.length; i++) payload[i] = 0x20 + (i % 90);
  const macA = Buffer.from([0x02, 0, 0, 0, 0, 1]);
  const macB = Buffer.from([0x02, 0, 0, 0, 0, 2]);
  let sec = 1_763_000_000 + subnet; // different files overlap in time but do not tie exactly
  let nsec = subnet * 1000;
  const tick = () => {
    nsec += 2000 + rng.int(20000);
    if (nsec >= 1e9) {
      sec += 1;
      nsec -= 1e9;
    }
  };

  const ipHeader = (b: Buffer, o: number, src: number, dst: number, proto: number, l4len: number) => {
    b[o] = 0x45;
    b[o + 1] = 0;
    b.writeUInt16BE(20 + l4len, o + 2);
    b.writeUInt32BE(0, o + 4);
    b[o + 8] = 64;
    b[o + 9] = proto;
    b.writeUInt16BE(0, o + 10);
    b.writeUInt32BE(src >>> 0, o + 12);
    b.writeUInt32BE(dst >>> 0, o + 16);
  };
  const eth = (b: Buffer, o: number, fromClient: boolean) => {
    (fromClient ? macB : macA).copy(b, o);
    (fromClient ? macA : macB).copy(b, o + 6);
    b.writeUInt16BE(0x0800, o + 12);
  };
  const tcp = (src: number, dst: number, sp: number, dp: number, seq: number, ack: number, flags: number, body: Buffer | null, len: number, fromClient: boolean) => {
    const caplen = 14 + 20 + 20 + len;
    const { buf, offset: o } = w.beginRecord(sec, nsec, Math.max(caplen, 60));
    eth(buf, o, fromClient);
    ipHeader(buf, o + 14, src, dst, 6, 20 + len);
    const t = o + 34;
    buf.writeUInt16BE(sp, t);
    buf.writeUInt16BE(dp, t + 2);
    buf.writeUInt32BE(seq >>> 0, t + 4);
    buf.writeUInt32BE(ack >>> 0, t + 8);
    buf[t + 12] = 0x50;
    buf[t + 13] = flags;
    buf.writeUInt16BE(64240, t + 14);
    buf.writeUInt32BE(0, t + 16);
    if (len > 0 && body) body.copy(buf, t + 20, 0, len);
    if (caplen < 60) buf.fill(0, o + caplen, o + 60); // Ethernet padding
    w.commitRecord();
    tick();
  };
  const udp = (src: number, dst: number, sp: number, dp: number, body: Buffer, fromClient: boolean) => {
    const caplen = 14 + 20 + 8 + body.length;
    const { buf, offset: o } = w.beginRecord(sec, nsec, Math.max(caplen, 60));
    eth(buf, o, fromClient);
    ipHeader(buf, o + 14, src, dst, 17, 8 + body.length);
    const u = o + 34;
    buf.writeUInt16BE(sp, u);
    buf.writeUInt16BE(dp, u + 2);
    buf.writeUInt16BE(8 + body.length, u + 4);
    buf.writeUInt16BE(0, u + 6);
    body.copy(buf, u + 8);
    if (caplen < 60) buf.fill(0, o + caplen, o + 60);
    w.commitRecord();
    tick();
  };
  const dnsMessage = (id: number, name: string, qtype: number, response: boolean, rcode: number): Buffer => {
    const labels = name.split('.');
    const qlen = labels.reduce((n, l) => n + l.length + 1, 1) + 4;
    const ans = response && rcode === 0 ? 16 : 0;
    const b = Buffer.alloc(12 + qlen + ans);
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(response ? 0x8180 | rcode : 0x0100, 2);
    b.writeUInt16BE(1, 4);
    b.writeUInt16BE(ans ? 1 : 0, 6);
    let o = 12;
    for (const l of labels) {
      b[o++] = l.length;
      b.write(l, o, 'latin1');
      o += l.length;
    }
    b[o++] = 0;
    b.writeUInt16BE(qtype, o);
    b.writeUInt16BE(1, o + 2);
    o += 4;
    if (ans) {
      b.writeUInt16BE(0xc00c, o);
      b.writeUInt16BE(1, o + 2);
      b.writeUInt16BE(1, o + 4);
      b.writeUInt32BE(30, o + 6);
      b.writeUInt16BE(4, o + 10);
      b.writeUInt32BE(0x0a600000 + id, o + 12);
    }
    return b;
  };

  const clientBase = (10 << 24) | (244 << 16) | (subnet << 8);
  const serverBase = (10 << 24) | (96 << 16);
  const dnsServer = (10 << 24) | (96 << 16) | 10;
  let nextPort = 20000;
  const newConn = (): Conn => {
    const r = rng.int(100);
    const http = rng.int(3) === 0;
    nextPort = nextPort >= 60000 ? 20000 : nextPort + 1;
    return {
      client: clientBase | (1 + rng.int(250)),
      server: serverBase | (1 << 8) | (1 + rng.int(40)),
      cport: nextPort,
      sport: http ? 80 : [443, 5432, 6379, 9092][rng.int(4)] ?? 443,
      cseq: rng.int(0x7fffffff),
      sseq: rng.int(0x7fffffff),
      phase: Phase.Syn,
      kind: r < 3 ? 'refused' : r < 4 ? 'unanswered' : r < 6 ? 'reset' : 'normal',
      http,
      path: rng.int(50),
      remaining: 2000 + rng.int(120_000),
      sinceAck: 0,
      pendingRetrans: -1,
    };
  };
  const concurrency = opts.concurrency ?? 500;
  const conns: Conn[] = [];
  for (let i = 0; i < concurrency; i++) conns.push(newConn());
  const SYN = 0x02;
  const ACK = 0x10;
  const PSH = 0x08;
  const FIN = 0x01;
  const RST = 0x04;
  let dnsId = 1;

  const step = (c: Conn): void => {
    switch (c.phase) {
      case Phase.Syn:
        tcp(c.client, c.server, c.cport, c.sport, c.cseq, 0, SYN, null, 0, true);
        c.phase = c.kind === 'unanswered' ? Phase.Done : Phase.SynAck;
        return;
      case Phase.SynAck:
        if (c.kind === 'refused') {
          tcp(c.server, c.client, c.sport, c.cport, 0, c.cseq + 1, RST | ACK, null, 0, false);
          c.phase = Phase.Done;
          return;
        }
        tcp(c.server, c.client, c.sport, c.cport, c.sseq, c.cseq + 1, SYN | ACK, null, 0, false);
        c.cseq += 1;
        c.sseq += 1;
        c.phase = Phase.Ack;
        return;
      case Phase.Ack:
        tcp(c.client, c.server, c.cport, c.sport, c.cseq, c.sseq, ACK, null, 0, true);
        c.phase = Phase.Request;
        return;
      case Phase.Request: {
        const req = c.http ? Buffer.from(`GET /api/items/${c.path} HTTP/1.1\r\nHost: api.shop\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n`, 'latin1') : payload.subarray(0, 200 + rng.int(400));
        tcp(c.client, c.server, c.cport, c.sport, c.cseq, c.sseq, ACK | PSH, req, req.length, true);
        c.cseq += req.length;
        c.phase = Phase.Response;
        if (c.http) {
          const status = c.path % 17 === 0 ? '404 Not Found' : c.path % 29 === 0 ? '500 Internal Server Error' : '200 OK';
          const head = Buffer.from(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${c.remaining}\r\n\r\n`, 'latin1');
          const first = Buffer.concat([head, payload.subarray(0, Math.min(1448 - head.length, c.remaining))]);
          tcp(c.server, c.client, c.sport, c.cport, c.sseq, c.cseq, ACK | PSH, first, first.length, false);
          c.sseq += first.length;
          c.remaining -= first.length - head.length;
        }
        return;
      }
      case Phase.Response: {
        if (c.pendingRetrans >= 0) {
          // retransmit the previous segment
          const len = c.pendingRetrans;
          tcp(c.server, c.client, c.sport, c.cport, c.sseq - len, c.cseq, ACK, payload, len, false);
          c.pendingRetrans = -1;
          return;
        }
        if (c.sinceAck >= 2) {
          tcp(c.client, c.server, c.cport, c.sport, c.cseq, c.sseq, ACK, null, 0, true);
          c.sinceAck = 0;
          return;
        }
        if (c.remaining <= 0) {
          c.phase = c.kind === 'reset' ? Phase.Done : Phase.Fin1;
          if (c.kind === 'reset') tcp(c.client, c.server, c.cport, c.sport, c.cseq, c.sseq, RST | ACK, null, 0, true);
          return;
        }
        const len = Math.min(1448, c.remaining);
        tcp(c.server, c.client, c.sport, c.cport, c.sseq, c.cseq, ACK, payload, len, false);
        c.sseq += len;
        c.remaining -= len;
        c.sinceAck++;
        if (rng.int(100) === 0) c.pendingRetrans = len;
        return;
      }
      case Phase.Fin1:
        tcp(c.client, c.server, c.cport, c.sport, c.cseq, c.sseq, FIN | ACK, null, 0, true);
        c.cseq += 1;
        c.phase = Phase.Fin2;
        return;
      case Phase.Fin2:
        tcp(c.server, c.client, c.sport, c.cport, c.sseq, c.cseq, FIN | ACK, null, 0, false);
        c.sseq += 1;
        c.phase = Phase.LastAck;
        return;
      case Phase.LastAck:
        tcp(c.client, c.server, c.cport, c.sport, c.cseq, c.sseq, ACK, null, 0, true);
        c.phase = Phase.Done;
        return;
      default:
        return;
    }
  };

  while (w.bytesWritten < target) {
    for (let k = 0; k < 256; k++) {
      if (rng.int(40) === 0) {
        // DNS query and (usually) its answer
        const client = clientBase | (1 + rng.int(250));
        const port = 30000 + rng.int(30000);
        const name = NAMES[rng.int(NAMES.length)] ?? 'x';
        const id = (dnsId = (dnsId + 1) & 0xffff);
        const qtype = rng.int(2) === 0 ? 1 : 28;
        udp(client, dnsServer, port, 53, dnsMessage(id, name, qtype, false, 0), true);
        if (rng.int(50) !== 0) udp(dnsServer, client, 53, port, dnsMessage(id, name, qtype, true, name.startsWith('missing') ? 3 : 0), false);
        continue;
      }
      const i = rng.int(conns.length);
      const c = conns[i] as Conn;
      step(c);
      if (c.phase === Phase.Done) conns[i] = newConn();
    }
    if (w.needsDrain) await w.drain();
  }
  await w.end();
  renameSync(tmp, path);
  return path;
}

/** Size of a file in MB (10^6). */
export function fileMB(path: string): number {
  return statSync(path).size / 1e6;
}

/** Size for the benchmarks: `--mb N`, else $PCAPPER_BENCH_MB, else 1100 (>= 1 GB). */
export function benchMegabytes(argv: readonly string[], env: NodeJS.ProcessEnv): number {
  const i = argv.indexOf('--mb');
  const v = i >= 0 ? Number(argv[i + 1]) : Number(env['PCAPPER_BENCH_MB'] ?? 1100);
  if (!Number.isFinite(v) || v <= 0) throw new Error('--mb / PCAPPER_BENCH_MB must be a positive number of megabytes');
  return v;
}
