/**
 * The UI's local server: node:http on 127.0.0.1 only. Every request passes authorize() (Host,
 * Origin, session cookie or the one-time URL token); every answer carries the security headers
 * (CSP, no CORS). Serves the bundled page (dist/src/ui/web) and the JSON API the page uses:
 * captures in the cluster (list, live watch, create with a dry run first, delete, detail,
 * download/export), local sources (command-line files, the store; import by upload) and the
 * analysis of any of them over a CaptureView (rows, filter, detail, follow, timeline), the
 * dashboard (summary engine) and the live tail of a running capture.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ensureStoreDir, importFile } from '../../cli/store.js';
import { KubeError, type KubeContext } from '../../cli/kube.js';
import type { PacketCapture } from '../../api/packetcapture.js';
import { authorize, newToken, securityHeaders, sessionCookie, type Secrets } from './security.js';
import { readJson, sendError, sendJson, startEvents } from './http-util.js';
import { buildFromForm } from './form.js';
import { ClusterActions, rowOf, runLiveTail, type TailProgress } from './cluster.js';
import { clusterRef, SourceError, Sources } from './sources.js';
import { receiveUpload, uploadName, UploadError } from './upload.js';
import type { ImportResponse, InfoResponse } from '../shared/api-types.js';

export interface UiServerOptions {
  /** 0 = a free port. */
  port: number;
  /** The bundled page: index.html, app.js, app.css. */
  assetsDir: string;
  sources: Sources;
  kube?: KubeContext;
  clusterError?: string;
  store: string;
  cacheDir: string;
  maxUpload: number;
  version: string;
  /** One line per problem worth telling the user on the terminal. */
  log?: (line: string) => void;
  /** The URL token (tests pass a fixed one); default a fresh random one. */
  token?: string;
}

export interface UiServer {
  readonly port: number;
  /** http://127.0.0.1:PORT/?token=... */
  readonly url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json', '.svg': 'image/svg+xml' };
const ASSETS = new Set(['app.js', 'app.css', 'app.js.map', 'app.css.map', 'favicon.svg']);

/** The status and one line for an error; display filter problems keep their position. */
export function errorAnswer(e: unknown): { status: number; body: Record<string, unknown> } {
  const err = e as Error & { status?: number; problem?: { message: string; position: number; length: number }; position?: number; length?: number };
  const problem = err.problem ?? (typeof err.position === 'number' ? { message: err.message, position: err.position, length: err.length ?? 1 } : undefined);
  if (err?.name === 'DisplayFilterError' || problem) {
    return { status: 400, body: { error: problem?.message ?? err.message, position: problem?.position ?? 0, length: problem?.length ?? 1 } };
  }
  if (e instanceof SourceError || e instanceof UploadError) return { status: e.status, body: { error: e.message } };
  if (e instanceof KubeError) return { status: e.status === 0 ? 502 : e.status, body: { error: e.message } };
  if (typeof err?.status === 'number' && err.status >= 400 && err.status < 600) return { status: err.status, body: { error: err.message } };
  return { status: 500, body: { error: (err?.message ?? String(e)).split('\n')[0] } };
}

const intParam = (u: URL, name: string, def: number, max: number): number => {
  const v = u.searchParams.get(name);
  if (v === null || v === '') return def;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw Object.assign(new Error(`${name} must be a whole number ≥ 0`), { status: 400 });
  return Math.min(n, max);
};

export async function startUiServer(o: UiServerOptions): Promise<UiServer> {
  const secrets: Secrets = { urlToken: o.token ?? newToken(), session: newToken() };
  const firstToken = secrets.urlToken as string;
  const cluster = o.kube ? new ClusterActions(o.kube) : undefined;
  const lifetime = new AbortController();
  const tails = new Map<string, { subscribers: Set<(p: TailProgress) => void>; last?: TailProgress; stop: AbortController }>();
  let port = 0;
  /** Prepared downloads, fetched once by id (random, like a token). */
  const downloads = new Map<string, { path: string; dir: string; filename: string; expire: NodeJS.Timeout }>();
  const dropDownload = async (id: string): Promise<void> => {
    const dl = downloads.get(id);
    downloads.delete(id);
    if (dl) await rm(dl.dir, { recursive: true, force: true });
  };

  const noCluster = (): never => {
    throw Object.assign(new Error(`no cluster: ${o.clusterError ?? 'no kubeconfig'}; local files and imports still work`), { status: 409 });
  };

  async function serveAsset(res: ServerResponse, name: string): Promise<void> {
    const file = join(o.assetsDir, name);
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      sendError(res, 500, `the UI bundle is missing (${file}): run npm run build`);
      return;
    }
    res.writeHead(200, { ...securityHeaders(), 'Content-Type': TYPES[extname(name)] ?? 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
  }

  async function importUpload(req: IncomingMessage, u: URL): Promise<ImportResponse> {
    const fileName = uploadName(req.headers['x-filename']);
    const base = fileName.replace(/\.(pcap[0-9]*|pcapng|cap)$/, '');
    const name = u.searchParams.get('name') || base.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'imported';
    await mkdir(join(o.cacheDir, 'uploads'), { recursive: true, mode: 0o700 });
    const tmpDir = await mkdtemp(join(o.cacheDir, 'uploads', 'u-'));
    const tmp = join(tmpDir, fileName);
    try {
      await receiveUpload(req, tmp, o.maxUpload, req.headers['content-length']);
      const existed = await stat(join(o.store, name)).then(() => true, () => false);
      const dir = await ensureStoreDir(o.store, name).catch((e: unknown) => {
        throw Object.assign(new Error((e as Error).message), { status: 400 });
      });
      try {
        const done = await importFile(tmp, dir);
        await writeFile(join(dir, 'import.json'), `${JSON.stringify({ importedAt: new Date().toISOString(), files: done.map((d) => ({ ...d, source: fileName })) }, null, 2)}\n`, { mode: 0o600 });
        return { name, files: done.map((d) => ({ path: d.path, metadata: d.metadata, ...(d.packets !== undefined ? { packets: d.packets } : {}) })) };
      } catch (e) {
        if (!existed) await rm(dir, { recursive: true, force: true });
        // the reader's one line, naming the file as the user knows it
        throw Object.assign(new Error((e as Error).message.split(tmp).join(fileName)), { status: 400, cause: e });
      }
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
  }

  /** Starts (once per capture) the live tail and subscribes `send` to its progress. */
  function subscribeTail(id: string, ns: string, name: string, send: (p: TailProgress) => void, closed: AbortSignal): void {
    if (!o.kube) noCluster();
    let t = tails.get(id);
    if (!t) {
      const entry: { subscribers: Set<(p: TailProgress) => void>; last?: TailProgress; stop: AbortController } = { subscribers: new Set(), stop: new AbortController() };
      lifetime.signal.addEventListener('abort', () => entry.stop.abort(), { once: true });
      t = entry;
      tails.set(id, entry);
      const file = join(o.cacheDir, 'live', `${ns}.${name}.${Date.now()}.pcapng`);
      const start = async (): Promise<void> => {
        await mkdir(join(o.cacheDir, 'live'), { recursive: true, mode: 0o700 });
        let liveSet = false;
        // progress is handled in order: the view must point at the live file before it is read
        let chain = Promise.resolve();
        const handle = async (p: TailProgress): Promise<void> => {
          if (!liveSet && p.packets > 0) {
            liveSet = true;
            await o.sources.setLive(id, file);
          }
          if (liveSet && p.packets > 0 && !p.done) await (await o.sources.get(id)).view.refresh();
          entry.last = p;
          for (const s of entry.subscribers) s(p);
          if (p.done) {
            tails.delete(id);
            await o.sources.endLive(id);
            await rm(file, { force: true });
          }
        };
        await runLiveTail(o.kube as KubeContext, ns, name, file, entry.stop.signal, (p) => {
          chain = chain.then(() => handle(p)).catch((e: unknown) => o.log?.(`live tail of ${ns}/${name}: ${(e as Error).message}`));
        });
        await chain;
      };
      start().catch((e: unknown) => {
        tails.delete(id);
        const p = { packets: 0, state: `error: ${(e as Error).message}`, done: true };
        for (const s of entry.subscribers) s(p);
      });
    }
    const tail = t;
    tail.subscribers.add(send);
    if (tail.last) send(tail.last);
    closed.addEventListener('abort', () => {
      tail.subscribers.delete(send);
      // nobody watches any more: stop streaming (the capture itself goes on in the cluster)
      if (tail.subscribers.size === 0) tail.stop.abort();
    });
  }

  async function api(req: IncomingMessage, res: ServerResponse, u: URL, parts: string[]): Promise<void> {
    const m = req.method ?? 'GET';
    const [, , a, b, c, d, e] = parts; // '', 'api', ...
    if (a === 'info' && m === 'GET') {
      const info: InfoResponse = { version: o.version, cluster: cluster ? { server: cluster.server, namespace: cluster.namespace } : null, store: o.store, maxUpload: o.maxUpload, ...(o.clusterError ? { clusterError: o.clusterError } : {}) };
      return sendJson(res, 200, info);
    }
    // the form check needs no cluster: the YAML can be applied later with kubectl
    if (a === 'captures' && b === 'preview' && m === 'POST') return sendJson(res, 200, stripPc(buildFromForm(await readJson(req))));
    if (a === 'captures') {
      if (!cluster) noCluster();
      const cl = cluster as ClusterActions;
      if (b === undefined && m === 'GET') return sendJson(res, 200, await cl.list());
      if (b === 'events' && m === 'GET') {
        const ev = startEvents(req, res);
        const ac = new AbortController();
        ev.closed.addEventListener('abort', () => ac.abort());
        lifetime.signal.addEventListener('abort', () => ac.abort());
        cl.watch((type, pc) => ev.send('capture', { type, row: rowOf(pc) }), ac.signal).catch((err: unknown) => {
          if (!ac.signal.aborted) ev.send('problem', { error: (err as Error).message });
        });
        return;
      }
      if (b === undefined && m === 'POST') {
        const r = buildFromForm(await readJson(req));
        if (!r.ok || !r.pc) return sendJson(res, 422, { error: r.problems[0]?.message ?? 'invalid form', problems: r.problems });
        try {
          await cl.dryRun(r.pc); // the apiserver's schema and CEL rules, nothing persisted
        } catch (err) {
          const ans = errorAnswer(err);
          return sendJson(res, ans.status === 502 ? 502 : 422, { error: `the API server refused it (dry run): ${String(ans.body.error)}`, problems: [{ field: '', message: String(ans.body.error) }] });
        }
        const created = await cl.create(r.pc);
        return sendJson(res, 201, { row: rowOf(created), object: created });
      }
      if (b !== undefined && c !== undefined) {
        const [ns, name] = [decodeURIComponent(b), decodeURIComponent(c)];
        if (d === undefined && m === 'GET') return sendJson(res, 200, await cl.detail(ns, name, lifetime.signal));
        if (d === undefined && m === 'DELETE') {
          await cl.delete(ns, name);
          await o.sources.forget(`cluster:${ns}/${name}`);
          return sendJson(res, 200, { deleted: `${ns}/${name}` });
        }
        if (d === 'download' && m === 'POST') {
          // prepared first (errors are a JSON answer the page shows), then fetched once by the
          // browser as a real download (streamed to disk, not held in the page's memory)
          const exportMode = u.searchParams.get('export') === '1';
          await mkdir(join(o.cacheDir, 'downloads'), { recursive: true, mode: 0o700 });
          const tmpDir = await mkdtemp(join(o.cacheDir, 'downloads', 'd-'));
          const out = join(tmpDir, `${name}.pcapng`);
          try {
            const r = await cl.download(ns, name, out, exportMode, lifetime.signal);
            const bytes = (await stat(out)).size;
            const id = newToken();
            const expire = setTimeout(() => void dropDownload(id), 10 * 60_000);
            expire.unref();
            downloads.set(id, { path: out, dir: tmpDir, filename: `${name}${exportMode ? '.export' : ''}.pcapng`, expire });
            return sendJson(res, 200, { id, packets: r.packets, bytes, warnings: r.messages.filter((l) => /^warning: /.test(l)) });
          } catch (err) {
            await rm(tmpDir, { recursive: true, force: true });
            throw err;
          }
        }
      }
    }
    if (a === 'downloads' && b !== undefined && m === 'GET') {
      const dl = downloads.get(b);
      if (!dl) return sendError(res, 404, 'this download was already fetched or has expired: download again');
      downloads.delete(b);
      clearTimeout(dl.expire);
      try {
        const size = (await stat(dl.path)).size;
        res.writeHead(200, { ...securityHeaders(), 'Content-Type': 'application/vnd.tcpdump.pcapng', 'Content-Length': size, 'Content-Disposition': `attachment; filename="${dl.filename}"` });
        await new Promise<void>((resolve, reject) => {
          const rs = createReadStream(dl.path);
          rs.once('error', reject);
          res.once('close', () => resolve());
          rs.pipe(res);
        });
      } finally {
        await rm(dl.dir, { recursive: true, force: true });
      }
      return;
    }
    if (a === 'import' && m === 'POST') return sendJson(res, 201, await importUpload(req, u));
    if (a === 'sources') {
      if (b === undefined && m === 'GET') return sendJson(res, 200, { items: await o.sources.list() });
      if (b === undefined) return sendError(res, 405, `${m} is not allowed here`);
      const id = decodeURIComponent(b);
      if (c === 'live' && m === 'GET') {
        const ref = clusterRef(id);
        if (!ref) return sendError(res, 400, 'live tail is for cluster captures only');
        const ev = startEvents(req, res);
        subscribeTail(id, ref[0], ref[1], (p) => ev.send('progress', p), ev.closed);
        return;
      }
      if (c === 'reload' && m === 'POST') {
        await o.sources.forget(id);
        return sendJson(res, 200, { reloaded: id });
      }
      if (m !== 'GET') return sendError(res, 405, `${m} is not allowed here`);
      const src = await o.sources.get(id);
      const view = src.view;
      if (c === undefined) return sendJson(res, 200, { id, label: sourceLabel(id, src.paths), packetCount: view.packetCount, files: src.paths.length, live: tails.has(id) });
      if (c === 'rows') {
        const from = intParam(u, 'from', 0, Number.MAX_SAFE_INTEGER);
        const count = intParam(u, 'count', 100, 1000);
        const expr = (u.searchParams.get('filter') ?? '').trim();
        const within = expr === '' ? undefined : await o.sources.filter(id, expr);
        const total = within ? within.matches.length : view.packetCount;
        const rows = from >= total ? [] : await view.rows(from, Math.min(count, total - from), within);
        return sendJson(res, 200, { total, packetCount: view.packetCount, rows });
      }
      if (c === 'filter') {
        const expr = (u.searchParams.get('expr') ?? '').trim();
        if (expr === '') return sendJson(res, 200, { expression: '', matches: view.packetCount, examined: view.packetCount });
        const r = await o.sources.filter(id, expr);
        return sendJson(res, 200, { expression: r.expression, matches: r.matches.length, examined: r.examined });
      }
      if (c === 'packets' && d !== undefined) {
        const n = Number(d);
        if (!Number.isSafeInteger(n) || n < 1 || n > view.packetCount) return sendError(res, 404, `no packet ${d}: this capture has ${view.packetCount} packets`);
        if (e === undefined) return sendJson(res, 200, await view.detail(n));
        if (e === 'follow') return sendJson(res, 200, await view.follow(n));
      }
      if (c === 'timeline') return sendJson(res, 200, await view.timeline(intParam(u, 'buckets', 60, 1000) || 60));
      if (c === 'summary') return sendJson(res, 200, await o.sources.summary(id));
    }
    sendError(res, 404, `no such API: ${m} ${u.pathname}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const decision = authorize({ method: req.method ?? 'GET', url: req.url ?? '/', host: req.headers.host, cookie: req.headers.cookie, origin: req.headers.origin }, secrets, port);
    if (decision.kind === 'refuse') {
      req.resume();
      return sendError(res, decision.status, decision.message);
    }
    if (decision.kind === 'exchange') {
      secrets.urlToken = undefined; // one time
      res.writeHead(303, { ...securityHeaders(), 'Set-Cookie': sessionCookie(secrets.session), Location: decision.location });
      res.end();
      return;
    }
    const u = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const parts = u.pathname.split('/');
    if (parts[1] === 'api') return api(req, res, u, parts);
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, `${req.method ?? ''} is not allowed here`);
    if (parts[1] === 'assets' && parts.length === 3 && ASSETS.has(parts[2] ?? '')) return serveAsset(res, parts[2] as string);
    if (u.pathname === '/' || u.pathname === '/index.html') return serveAsset(res, 'index.html');
    sendError(res, 404, `not found: ${u.pathname}`);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const a = errorAnswer(e);
      if (a.status >= 500) o.log?.(`${req.method ?? ''} ${req.url?.split('?')[0] ?? ''}: ${String(a.body.error)}`);
      sendError(res, a.status, String(a.body.error), Object.fromEntries(Object.entries(a.body).filter(([k]) => k !== 'error')));
    });
  });
  server.headersTimeout = 30_000;
  server.requestTimeout = 0; // uploads and event streams are long
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/?token=${firstToken}`,
    close: async () => {
      lifetime.abort(new Error('the UI server is stopping'));
      for (const id of [...downloads.keys()]) await dropDownload(id);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await o.sources.close();
      cluster?.close();
    },
  };
}

/** What the page shows as the source's name. */
function sourceLabel(id: string, paths: readonly string[]): string {
  if (id.startsWith('file:')) return basename(paths[0] ?? id);
  if (id.startsWith('store:')) return `import ${id.slice(6)}`;
  return id.slice(id.indexOf(':') + 1);
}

function stripPc<T extends { pc?: PacketCapture }>(r: T): Omit<T, 'pc'> {
  const { pc: _pc, ...rest } = r;
  return rest;
}
