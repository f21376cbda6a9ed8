/**
 * The agent's HTTP(S) file server.
 *
 *   GET /healthz                                                  200 "ok"            (no auth)
 *   GET /metrics                                                  Prometheus text     (no auth: counters and capture names only, never traffic)
 *   GET /v1/captures/<ns>/<capture>/files                         JSON list           (auth)
 *   GET /v1/captures/<ns>/<capture>/files/<target>/<file>         the file, HTTP Range (auth)
 *   GET /v1/captures/<ns>/<capture>/stream[?target=<target>]      live pcap stream    (auth)
 *
 * "auth": a Kubernetes bearer token in `Authorization: Bearer` or `X-Pcapper-Token`, reviewed by
 * src/agent/auth.ts (TokenReview + SubjectAccessReview get packetcaptures/files); 401 without a
 * valid token, 403 without the permission. Nothing is served outside `<data>/<ns>/<capture>`:
 * every path segment is a plain name (src/agent/http.ts route()), and symlinks are not followed.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../telemetry/log.js';
import type { Authorizer } from './auth.js';
import { bearerToken, parseRange, renderMetrics, route, type MetricsSnapshot } from './http.js';
import { followRing } from './stream.js';
import { captureDirOf, parseTargetDirName } from '../capture/tcpdump.js';

export interface FileEntry {
  /** `<target>/<file>`, the path to append to `.../files/` */
  path: string;
  target: string;
  name: string;
  size: number;
  modified: string;
  kind: 'pcap' | 'metadata' | 'other';
}

export interface StreamSource {
  target: string;
  dir: string;
  fileBase: string;
  fileCount: number;
  finished: () => boolean;
  flush: () => void;
}

export interface ServerBackend {
  nodeName: string;
  dataDir: string;
  metrics(): Promise<MetricsSnapshot>;
  /** Live (running) targets of a capture on this node. */
  streams(namespace: string, capture: string): StreamSource[];
  onAuthDenied(): void;
}

/** Files of a capture on this node (regular files only, sorted). */
export async function listCaptureFiles(dataDir: string, namespace: string, capture: string): Promise<FileEntry[] | undefined> {
  const dir = captureDirOf(dataDir, namespace, capture);
  let targets: string[];
  try {
    targets = await readdir(dir);
  } catch {
    return undefined;
  }
  const out: FileEntry[] = [];
  for (const t of targets.sort()) {
    if (!parseTargetDirName(t)) continue;
    const tdir = join(dir, t);
    let names: string[];
    try {
      if (!(await lstat(tdir)).isDirectory()) continue;
      names = await readdir(tdir);
    } catch {
      continue;
    }
    for (const n of names.sort()) {
      try {
        const st = await lstat(join(tdir, n));
        if (!st.isFile() || n.includes('.tmp-')) continue;
        out.push({
          path: `${t}/${n}`,
          target: t,
          name: n,
          size: st.size,
          modified: st.mtime.toISOString(),
          kind: /\.pcap[0-9]*$/.test(n) ? 'pcap' : n.endsWith('.json') ? 'metadata' : 'other',
        });
      } catch {
        /* rotated away */
      }
    }
  }
  return out;
}

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

export class AgentServer {
  private server: http.Server | https.Server | undefined;
  private readonly streamsOpen = new Set<AbortController>();

  constructor(
    private readonly b: ServerBackend,
    private readonly auth: Authorizer,
    private readonly log: Logger,
    private readonly tls?: { certFile: string; keyFile: string },
  ) {}

  async listen(host: string, port: number): Promise<number> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error('request failed', { err, url: req.url });
        if (!res.headersSent) send(res, 500, 'internal error\n');
        else res.destroy();
      });
    };
    this.server = this.tls ? https.createServer({ cert: readFileSync(this.tls.certFile), key: readFileSync(this.tls.keyFile) }, handler) : http.createServer(handler);
    const srv = this.server;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => resolve());
    });
    return (srv.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const a of this.streamsOpen) a.abort();
    const srv = this.server;
    if (!srv) return;
    await new Promise<void>((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'method not allowed\n');
      return;
    }
    const r = route(url.pathname);
    if (r.kind === 'healthz') return send(res, 200, 'ok\n');
    if (r.kind === 'metrics') return send(res, 200, renderMetrics(await this.b.metrics()), 'text/plain; version=0.0.4; charset=utf-8');
    if (r.kind === 'notFound') return send(res, 404, 'not found\n');
    const decision = await this.auth.authorize(bearerToken(req.headers), r.namespace, r.name);
    if (!decision.ok) {
      this.b.onAuthDenied();
      if (decision.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="pcapper-agent"');
      this.log.info('request refused', { status: decision.status, path: url.pathname });
      return send(res, decision.status, `${decision.message}\n`);
    }
    const log = this.log.child({ user: decision.user, capture: `${r.namespace}/${r.name}` });
    if (r.kind === 'list') {
      const files = await listCaptureFiles(this.b.dataDir, r.namespace, r.name);
      if (!files) return send(res, 404, `no files of capture ${r.namespace}/${r.name} on node ${this.b.nodeName}\n`);
      const live = this.b.streams(r.namespace, r.name).map((s) => s.target);
      return send(res, 200, JSON.stringify({ node: this.b.nodeName, namespace: r.namespace, name: r.name, live, files }) + '\n', 'application/json');
    }
    if (r.kind === 'file') {
      if (!parseTargetDirName(r.target)) return send(res, 404, 'not found\n');
      const path = join(captureDirOf(this.b.dataDir, r.namespace, r.name), r.target, r.file);
      let size: number;
      try {
        const st = await lstat(path);
        if (!st.isFile()) return send(res, 404, 'not found\n');
        size = st.size;
      } catch {
        return send(res, 404, 'not found\n');
      }
      const range = parseRange(req.headers.range, size);
      const headers: Record<string, string | number> = {
        'Content-Type': r.file.endsWith('.json') ? 'application/json' : 'application/vnd.tcpdump.pcap',
        'Accept-Ranges': 'bytes',
        'Cache-Control': 'no-store',
        'Content-Disposition': `attachment; filename="${r.file}"`,
      };
      if (range.kind === 'unsatisfiable') {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
        res.end();
        return;
      }
      const [start, end, status] = range.kind === 'partial' ? [range.start, range.end, 206] : [0, size - 1, 200];
      if (range.kind === 'partial') headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      headers['Content-Length'] = size === 0 ? 0 : end - start + 1;
      res.writeHead(status, headers);
      if (req.method === 'HEAD' || size === 0) {
        res.end();
        return;
      }
      log.debug('download', { file: r.file, start, end });
      await new Promise<void>((resolve) => {
        const rs = createReadStream(path, { start, end });
        rs.on('error', () => {
          res.destroy();
          resolve();
        });
        res.on('close', () => {
          rs.destroy();
          resolve();
        });
        rs.pipe(res);
      });
      return;
    }
    // stream
    const sources = this.b.streams(r.namespace, r.name);
    const want = url.searchParams.get('target');
    const src = want ? sources.find((s) => s.target === want || s.target === want.replace(/\//g, '.')) : sources.length === 1 ? sources[0] : undefined;
    if (!src) {
      const msg =
        sources.length === 0
          ? `capture ${r.namespace}/${r.name} has no running target on node ${this.b.nodeName}`
          : `choose a target with ?target=: ${sources.map((s) => s.target).join(', ')}`;
      return send(res, sources.length === 0 ? 404 : 400, msg + '\n');
    }
    res.writeHead(200, { 'Content-Type': 'application/vnd.tcpdump.pcap', 'Cache-Control': 'no-store', 'X-Pcapper-Target': src.target });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const ac = new AbortController();
    this.streamsOpen.add(ac);
    res.on('close', () => ac.abort());
    log.info('live stream started', { target: src.target });
    try {
      await followRing({
        dir: src.dir,
        fileBase: src.fileBase,
        fileCount: src.fileCount,
        finished: src.finished,
        flush: src.flush,
        signal: ac.signal,
        write: (chunk) =>
          new Promise<void>((resolve) => {
            if (res.write(chunk)) resolve();
            else {
              const done = (): void => {
                res.off('drain', done);
                res.off('close', done);
                resolve();
              };
              res.once('drain', done);
              res.once('close', done);
            }
          }),
      });
    } finally {
      this.streamsOpen.delete(ac);
      res.end();
    }
  }
}
