/**
 * The agent's file server: HTTPS with mutual TLS only (docs/data-api.md).
 *
 *   GET /healthz                                                  200 "ok"            (no client certificate)
 *   GET /metrics                                                  Prometheus text     (no client certificate: cached counters and capture names, never traffic)
 *   GET /v1/captures/<ns>/<capture>/files                         JSON list           (mTLS)
 *   GET /v1/captures/<ns>/<capture>/files/<target>/<file>         the file, HTTP Range (mTLS)
 *   GET /v1/captures/<ns>/<capture>/stream[?target=<target>]      live pcap stream    (mTLS)
 *
 * "mTLS": a client certificate chaining to PCAPPER_CA with a CN in PCAPPER_CLIENT_NAMES (the
 * pcapper server), see src/agent/auth.ts; 401 without a certificate, 403 for any other one.
 * Nothing is served outside `<data>/<ns>/<capture>`: every path segment is a plain name
 * (src/agent/http.ts route(); names Kubernetes would refuse get 400), and no component below the
 * data directory may be a symlink (src/agent/safefs.ts).
 */
import type { FileHandle } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../telemetry/log.js';
import { authorizeClient, type PeerCertificate } from './auth.js';
import { parseRange, route } from './http.js';
import { entryOf, openDirNoFollow, openFileNoFollow, readdirOf } from './safefs.js';
import { followLive, followRing } from './stream.js';
import { plainSize, plainView } from './plainfile.js';
import type { Keyring } from '../crypto/format.js';
import type { LiveRing } from '../capture/backend.js';
import { isTargetDirName } from '../capture/tcpdump.js';

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
  /** The target's directory name (`pod.<ns>.<pod>`, shortened when long). */
  target: string;
  /** The target's status key (`pod/<ns>/<pod>`). */
  key: string;
  dir: string;
  fileBase: string;
  fileCount: number;
  finished: () => boolean;
  flush: () => void;
  /** The ring in the agent's memory (tcpdump -w -): the stream is served from it, not from disk. */
  ring?: LiveRing | undefined;
  /** Seals what the ring received but has not sealed yet, so a download of the running capture has every packet received so far. */
  seal?: () => Promise<void>;
}

export interface ServerBackend {
  nodeName: string;
  dataDir: string;
  /** The Prometheus exposition. Cheap: cached figures only (the disk walk runs on the agent's disk timer, never per scrape). */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Live (running) targets of a capture on this node. */
  streams(namespace: string, capture: string): StreamSource[];
  onAuthDenied(): void;
  /** The keyring that opens encrypted capture files (undefined: encryption off; such files are then refused). */
  keyring?: (() => Promise<Keyring>) | undefined;
}

/**
 * Files of a capture on this node (regular files only, sorted; symlinks anywhere below the data
 * directory are neither followed nor listed). undefined when the capture has no directory here.
 */
export async function listCaptureFiles(dataDir: string, namespace: string, capture: string, keyring?: () => Promise<Keyring>): Promise<FileEntry[] | undefined> {
  let dir: FileHandle;
  try {
    dir = await openDirNoFollow(dataDir, [namespace, capture]);
  } catch {
    return undefined;
  }
  const out: FileEntry[] = [];
  try {
    for (const t of (await readdirOf(dir)).sort()) {
      if (!isTargetDirName(t)) continue;
      let tdir: FileHandle;
      try {
        tdir = await openDirNoFollow(dataDir, [namespace, capture, t]);
      } catch {
        continue; // a symlink, a file, or gone
      }
      try {
        for (const n of (await readdirOf(tdir)).sort()) {
          if (n.includes('.tmp-') || n.startsWith('.')) continue; // temp files, upload journals
          const e = await entryOf(tdir, n);
          if (e?.kind !== 'file') continue;
          const kind = /\.pcap[0-9]*$/.test(n) ? 'pcap' : n.endsWith('.json') ? 'metadata' : 'other';
          let size = e.size;
          if (kind === 'pcap') {
            // plaintext size of an encrypted ring file (what a download returns)
            const f = await openFileNoFollow(dataDir, [namespace, capture, t], n);
            if (!f) continue;
            try {
              size = await plainSize(f.fh, f.size, keyring ?? noKeyring);
            } catch {
              size = 0; // unreadable (key missing, damaged): the download says why
            } finally {
              await f.fh.close();
            }
          }
          out.push({
            path: `${t}/${n}`,
            target: t,
            name: n,
            size,
            modified: e.mtime.toISOString(),
            kind,
          });
        }
      } finally {
        await tdir.close();
      }
    }
  } finally {
    await dir.close();
  }
  return out;
}

function noKeyring(): Promise<Keyring> {
  return Promise.reject(new Error('this agent runs with encryption off (PCAPPER_ENCRYPTION=off) and has no keys to open an encrypted file'));
}

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

export interface ServerTls {
  certFile: string;
  keyFile: string;
  /** CA of the clients allowed to read data (PCAPPER_CA). */
  caFile: string;
  /** Allowed client certificate CNs (PCAPPER_CLIENT_NAMES). */
  clientNames: readonly string[];
}

/** What the TLS socket says about the client's certificate. */
function peerOf(req: http.IncomingMessage): PeerCertificate {
  const sock = req.socket as TLSSocket;
  const cert = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : undefined;
  const present = !!cert && Object.keys(cert).length > 0;
  const cn = present ? cert.subject?.CN : undefined;
  return {
    present,
    authorized: sock.authorized === true,
    authorizationError: sock.authorizationError === undefined || sock.authorizationError === null ? undefined : String(sock.authorizationError),
    cn: Array.isArray(cn) ? cn.join(',') : cn,
  };
}

export class AgentServer {
  private server: https.Server | undefined;
  private readonly streamsOpen = new Set<AbortController>();

  constructor(
    private readonly b: ServerBackend,
    private readonly log: Logger,
    private readonly tls: ServerTls,
  ) {}

  async listen(host: string, port: number): Promise<number> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error('request failed', { err, url: req.url });
        if (!res.headersSent) send(res, 500, 'internal error\n');
        else res.destroy();
      });
    };
    const read = (what: string, file: string): Buffer => {
      try {
        return readFileSync(file);
      } catch (e) {
        throw new Error(`cannot read ${what} ${file}: ${(e as Error).message} (mount the Secret pcapper-agent-tls)`, { cause: e });
      }
    };
    // requestCert without rejectUnauthorized: probes and the scraper reach /healthz and /metrics
    // without a certificate; data paths check the verified identity per request (auth.ts).
    this.server = https.createServer(
      {
        cert: read('PCAPPER_TLS_CERT', this.tls.certFile),
        key: read('PCAPPER_TLS_KEY', this.tls.keyFile),
        ca: read('PCAPPER_CA', this.tls.caFile),
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
      },
      handler,
    );
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
    if (r.kind === 'metrics') {
      const m = await this.b.metrics();
      return send(res, 200, m.body, m.contentType);
    }
    // Every other path (even one that does not exist) needs the server's identity first: an
    // unauthenticated caller learns nothing about what is on this node.
    const decision = authorizeClient(peerOf(req), this.tls.clientNames);
    if (!decision.ok) {
      this.b.onAuthDenied();
      this.log.info('request refused', { status: decision.status, path: url.pathname, reason: decision.message });
      return send(res, decision.status, `${decision.message}\n`);
    }
    if (r.kind === 'notFound') return send(res, 404, 'not found\n');
    if (r.kind === 'badName') return send(res, 400, `${r.message}\n`);
    const log = this.log.child({ client: decision.client, capture: `${r.namespace}/${r.name}` });
    // A running target's newest packets may sit in its ring's unsealed chunk: seal them first, so
    // a listing or download ("what was captured so far") has every packet the agent received.
    const sealLive = async (target?: string): Promise<void> => {
      for (const s of this.b.streams(r.namespace, r.name)) {
        if (target !== undefined && s.target !== target) continue;
        await s.seal?.().catch((err: unknown) => log.warn('cannot seal the ring file before serving it', { target: s.target, err }));
      }
    };
    if (r.kind === 'list') {
      await sealLive();
      const files = await listCaptureFiles(this.b.dataDir, r.namespace, r.name, this.b.keyring);
      if (!files) return send(res, 404, `no files of capture ${r.namespace}/${r.name} on node ${this.b.nodeName}\n`);
      const live = this.b.streams(r.namespace, r.name).map((s) => s.target);
      return send(res, 200, JSON.stringify({ node: this.b.nodeName, namespace: r.namespace, name: r.name, live, files }) + '\n', 'application/json');
    }
    if (r.kind === 'file') {
      if (!isTargetDirName(r.target)) return send(res, 404, 'not found\n');
      await sealLive(r.target);
      const opened = await openFileNoFollow(this.b.dataDir, [r.namespace, r.name, r.target], r.file);
      if (!opened) return send(res, 404, 'not found\n');
      let view;
      try {
        view = await plainView(opened.fh, opened.size, this.b.keyring ?? noKeyring);
      } catch (e) {
        await opened.fh.close().catch(() => undefined);
        log.warn('cannot open capture file', { file: r.file, err: e });
        return send(res, 500, `cannot read ${r.file}: ${(e as Error).message}\n`);
      }
      try {
        const size = view.size;
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
        log.debug('download', { file: r.file, start, end, encrypted: view.encrypted });
        const ac = new AbortController();
        res.on('close', () => ac.abort());
        try {
          for await (const chunk of view.stream(start, end)) {
            if (ac.signal.aborted) break;
            if (!res.write(chunk)) {
              await new Promise<void>((resolve) => {
                const done = (): void => {
                  res.off('drain', done);
                  res.off('close', done);
                  resolve();
                };
                res.once('drain', done);
                res.once('close', done);
              });
            }
          }
          res.end();
        } catch (e) {
          // headers are sent: cut the response so the client sees a short body, never wrong bytes
          log.warn('download failed', { file: r.file, err: e });
          res.destroy();
        }
        return;
      } finally {
        await view.close().catch(() => undefined);
      }
    }
    // stream
    const sources = this.b.streams(r.namespace, r.name);
    const want = url.searchParams.get('target');
    const src = want ? sources.find((s) => s.target === want || s.key === want || s.target === want.replace(/\//g, '.')) : sources.length === 1 ? sources[0] : undefined;
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
    const write = (chunk: Buffer): Promise<void> =>
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
      });
    try {
      if (src.ring) {
        await followLive({ ring: src.ring, flush: src.flush, signal: ac.signal, write });
        return;
      }
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
