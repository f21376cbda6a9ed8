/**
 * The HTTP shell of the pcapper server: an HTTPS server that only kube-apiserver's front proxy
 * talks to (except /healthz, /livez, /readyz). Per request: front-proxy certificate check, forwarded
 * identity, route/validation (400), SubjectAccessReview (403) before anything reveals whether the
 * capture exists, the capture (404), then the relay to the node's agent (503 when unreachable).
 * Decisions live in routes.ts, identity.ts, filelist.ts and agents.ts; this file only wires I/O.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { PacketCapture } from '../api/packetcapture.js';
import type { Logger } from '../telemetry/log.js';
import { AgentUnreachableError, readBody, type AgentClient } from './agent-client.js';
import { AgentLookupError, type AgentPick } from './agents.js';
import type { Decision } from './authz.js';
import { agentPaths, buildFileList, captureNodes, mapLimit, mergeStoreItems, parseAgentList, type NodeAnswer } from './filelist.js';
import type { PacketCaptureStore } from '../api/packetcapturestore.js';
import { parseRange } from '../agent/http.js';
import type { StoreReads } from './store-reads.js';
import { checkProxyCert, identityFromHeaders, type Identity } from './identity.js';
import { apiGroup, apiGroupList, apiResourceList, route, status } from './routes.js';
import { randomBytes } from 'node:crypto';
import type { Access } from './authz.js';
import type { Firing } from '../api/trigger-schema.js';
import { MAX_WEBHOOK_BODY, webhookOutcome } from './trigger-webhook.js';

/** Reads a request body of at most `max` bytes as UTF-8. */
function readRequestBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        reject(new Error(`larger than ${max} bytes`));
        req.destroy();
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
import type { TrustSnapshot } from './trust.js';

export interface DataServerDeps {

  /** Current trust (serving cert, front-proxy settings); undefined until first loaded. */
  trust(): TrustSnapshot | undefined;
  authorize(id: Identity, namespace: string, name: string, access?: Access): Promise<Decision>;
  /** The trigger webhook: records a firing in the capture's status (docs/triggers.md); absent: the route answers 501. */
  recordFiring?(namespace: string, name: string, firing: Firing): Promise<void>;
  /** Clock of firings (default Date.now). */
  now?(): number;
  /** The capture, or undefined when it does not exist (rejects on API errors). */
  getCapture(namespace: string, name: string): Promise<PacketCapture | undefined>;
  locate(node: string): Promise<AgentPick>;
  locateAll(nodes: readonly string[]): Promise<Map<string, AgentPick>>;
  agents(): AgentClient;
  /** /readyz: undefined when ready, else the reason. */
  notReady(): string | undefined;
  log: Logger;
  /** Reads from the store (docs/storage.md section 7); absent: files come from the nodes only. */
  store?: StoreReads;
}

/** Per-connection: did the front-proxy CA exist when this connection's certificate was verified? */
const verifiedWithFrontProxyCa = new WeakMap<TLSSocket, boolean>();

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

function sendStatus(res: http.ServerResponse, code: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, code, status(code, message));
}

export class DataServer {
  private server: https.Server | undefined;
  private readonly open = new Set<http.ClientRequest>();

  constructor(private readonly d: DataServerDeps) {}

  /** POST .../trigger: SubjectAccessReview (create packetcaptures/trigger), then the firing into status (docs/triggers.md). */
  private async trigger(req: http.IncomingMessage, res: http.ServerResponse, r: { namespace: string; name: string }, id: Identity): Promise<void> {
    const log = this.d.log.child({ user: id.user, capture: `${r.namespace}/${r.name}`, route: 'trigger' });
    let decision: Decision;
    try {
      decision = await this.d.authorize(id, r.namespace, r.name, 'trigger');
    } catch (e) {
      return sendStatus(res, 503, `cannot authorize the request: the API server did not answer the SubjectAccessReview (${(e as Error).message})`);
    }
    if (!decision.allowed) {
      req.resume();
      log.info('trigger denied', { status: 403 });
      return sendStatus(res, 403, decision.reason);
    }
    const record = this.d.recordFiring?.bind(this.d);
    if (!record) return sendStatus(res, 501, 'this server cannot record firings');
    let body: unknown;
    try {
      body = JSON.parse(await readRequestBody(req, MAX_WEBHOOK_BODY));
    } catch (e) {
      return sendStatus(res, 400, `the body is not an Alertmanager webhook notification (JSON): ${(e as Error).message}`);
    }
    let pc: PacketCapture | undefined;
    try {
      pc = await this.d.getCapture(r.namespace, r.name);
    } catch (e) {
      return sendStatus(res, 503, `cannot read packetcapture ${r.namespace}/${r.name}: ${(e as Error).message}`);
    }
    if (!pc) return sendStatus(res, 404, `packetcaptures.pcapper.dev "${r.name}" not found in namespace "${r.namespace}"`);
    const now = this.d.now?.() ?? Date.now();
    const out = webhookOutcome(body, pc, now, `w-${now.toString(36)}-${randomBytes(3).toString('hex')}`);
    if (out.kind === 'error') return sendStatus(res, out.code, out.message);
    if (out.kind === 'ignored') return sendJson(res, 200, { kind: 'PacketCaptureTrigger', apiVersion: 'data.pcapper.dev/v1alpha1', fired: false, message: out.message, ...(out.firing ? { firing: out.firing } : {}) });
    try {
      await record(r.namespace, r.name, out.firing);
    } catch (e) {
      log.warn('cannot record the firing', { err: e });
      return sendStatus(res, 503, `cannot record the firing in packetcapture ${r.namespace}/${r.name}: ${(e as Error).message}`);
    }
    log.info('capture fired by webhook', { firing: out.firing.id, cause: out.firing.cause });
    return sendJson(res, 201, { kind: 'PacketCaptureTrigger', apiVersion: 'data.pcapper.dev/v1alpha1', fired: true, firing: out.firing });
  }
  /** Options of the secure context for a trust snapshot (front-proxy CA verifies client certs). */
  static secureContext(t: TrustSnapshot): https.ServerOptions {
    // Until the front-proxy CA is known, verify against the pcapper CA rather than the public
    // roots; such connections are refused anyway (verifiedWithFrontProxyCa).
    return { cert: t.cert, key: t.key, ca: t.frontProxy?.caPem ?? t.ca };
  }

  async listen(host: string, port: number): Promise<number> {
    const t = this.d.trust();
    if (!t) throw new Error('the serving certificate is not loaded');
    const srv = https.createServer({ ...DataServer.secureContext(t), requestCert: true, rejectUnauthorized: false }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.d.log.error('request failed', { err, path: req.url });
        sendStatus(res, 500, 'internal error');
      });
    });
    srv.on('secureConnection', (s: TLSSocket) => {
      verifiedWithFrontProxyCa.set(s, this.d.trust()?.frontProxy !== undefined);
      s.setNoDelay(true);
    });
    // Outlive the aggregator's idle keep-alive (Go transport: 90 s), so it never reuses a socket we are closing.
    srv.keepAliveTimeout = 120_000;
    srv.on('tlsClientError', (err) => this.d.log.debug('TLS handshake failed', { err }));
    this.server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    return (srv.address() as AddressInfo).port;
  }

  /** New trust for new connections. */
  updateTrust(t: TrustSnapshot): void {
    this.server?.setSecureContext(DataServer.secureContext(t));
  }

  /**
   * Stops accepting connections; requests in flight (downloads, live streams) get up to
   * `drainMs` to finish before every connection and agent request is cut.
   */
  async close(drainMs = 0): Promise<void> {
    const srv = this.server;
    if (!srv) return;
    const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
    srv.closeIdleConnections();
    if (drainMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, drainMs)))]);
      clearTimeout(timer);
    }
    for (const r of this.open) r.destroy();
    srv.closeAllConnections();
    await closed;
  }

  /** The forwarded identity, or a reason to refuse (401). Headers count only behind a verified front-proxy certificate. */
  private authenticate(req: http.IncomingMessage): { id: Identity } | { reason: string } {
    const fp = this.d.trust()?.frontProxy;
    if (!fp) return { reason: 'the front-proxy CA (ConfigMap kube-system/extension-apiserver-authentication) is not loaded yet' };
    const sock = req.socket as TLSSocket;
    if (!verifiedWithFrontProxyCa.get(sock)) return { reason: 'this connection was opened before the front-proxy CA was loaded: reconnect' };
    const cert = sock.getPeerCertificate();
    const has = cert && Object.keys(cert).length > 0;
    const check = checkProxyCert(
      {
        authorized: sock.authorized,
        authorizationError: sock.authorizationError,
        cn: has ? (typeof cert.subject?.CN === 'string' ? cert.subject.CN : '') : undefined,
        extKeyUsage: has ? cert.ext_key_usage : undefined,
      },
      fp.allowedNames,
    );
    if (!check.ok) return { reason: check.reason };
    const id = identityFromHeaders(req.headersDistinct, fp);
    if (!id) return { reason: `no user in ${fp.usernameHeaders.join(', ')}` };
    return { id };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // The raw path, NOT normalized: a "." or ".." segment must reach route() and be refused, never resolved.
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const url = { pathname: q < 0 ? rawUrl : rawUrl.slice(0, q), searchParams: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)) };
    const r = route(url.pathname, url.searchParams);
    if (r.kind === 'health') {
      const why = r.check === 'readyz' ? this.d.notReady() : undefined;
      const body = why ? `not ready: ${why}\n` : 'ok\n';
      res.writeHead(why ? 503 : 200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
      res.end(body);
      return;
    }
    const auth = this.authenticate(req);
    if ('reason' in auth) {
      this.d.log.info('request refused', { status: 401, path: url.pathname, reason: auth.reason });
      return sendStatus(res, 401, `Unauthorized: ${auth.reason}`);
    }
    if (r.kind === 'trigger') {
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        return sendStatus(res, 405, `method ${req.method ?? ''} is not supported: fire a capture with POST (an Alertmanager webhook notification)`);
      }
      return this.trigger(req, res, r, auth.id);
    }
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      return sendStatus(res, 405, `method ${req.method ?? ''} is not supported: the data API is read-only (GET)`);
    }
    switch (r.kind) {
      case 'apis':
        return sendJson(res, 200, apiGroupList());
      case 'group':
        return sendJson(res, 200, apiGroup());
      case 'resources':
        return sendJson(res, 200, apiResourceList());
      case 'badRequest':
        return sendStatus(res, 400, r.message);
      case 'notFound':
        return sendStatus(res, 404, r.message);
      default:
    }
    const id = auth.id;
    const log = this.d.log.child({ user: id.user, capture: `${r.namespace}/${r.name}`, route: r.kind });
    // Authorize before anything can tell whether the capture exists.
    let decision: Decision;
    try {
      decision = await this.d.authorize(id, r.namespace, r.name);
    } catch (e) {
      log.warn('SubjectAccessReview failed', { err: e });
      return sendStatus(res, 503, `cannot authorize the request: the API server did not answer the SubjectAccessReview (${(e as Error).message})`);
    }
    if (!decision.allowed) {
      log.info('request denied', { status: 403 });
      return sendStatus(res, 403, decision.reason);
    }
    let pc: PacketCapture | undefined;
    try {
      pc = await this.d.getCapture(r.namespace, r.name);
    } catch (e) {
      log.warn('cannot read the capture', { err: e });
      return sendStatus(res, 503, `cannot read packetcapture ${r.namespace}/${r.name}: ${(e as Error).message}`);
    }
    if (!pc) return sendStatus(res, 404, `packetcaptures.pcapper.dev "${r.name}" not found in namespace "${r.namespace}"`);
    if (r.kind === 'log' && pc.spec.encryption) {
      // the agent's live view is plaintext: an end-to-end capture gives none to the cluster's users
      return sendStatus(res, 409, `packetcapture ${r.namespace}/${r.name} is encrypted end to end (spec.encryption.recipients): it has no live view; download it when it is done with kubectl pcap download ${r.name} --identity FILE`);
    }
    const nodes = captureNodes(pc);
    let store: PacketCaptureStore | undefined;
    if (this.d.store && r.kind !== 'log') {
      try {
        store = await this.d.store.storeFor(pc);
      } catch (e) {
        log.warn('cannot read the capture\'s store', { err: e });
      }
    }
    if (r.kind === 'list') return this.list(res, r.namespace, r.name, nodes, log, store ? { pc, store } : undefined);
    if (r.kind === 'file' && store) return this.fileWithStore(req, res, pc, store, r, nodes, log);
    if (!nodes.includes(r.node)) return sendStatus(res, 404, `packetcapture ${r.namespace}/${r.name} has no node "${r.node}" (nodes: ${nodes.join(', ') || 'none yet'})`);
    let pick: AgentPick;
    try {
      pick = await this.d.locate(r.node);
    } catch (e) {
      return sendStatus(res, 503, `cannot find the agent on node ${r.node}: ${(e as Error).message}`);
    }
    if (!pick.ok) return sendStatus(res, 503, pick.reason);
    if (r.kind === 'file') {
      const headers: Record<string, string> = {};
      const range = req.headers.range;
      if (range !== undefined) headers['Range'] = range;
      return this.relay(res, pick, r.node, agentPaths.file(r.namespace, r.name, r.target, r.file), headers, 'file', `file ${r.target}/${r.file} of capture ${r.namespace}/${r.name} not found on node ${r.node}`, log);
    }
    return this.relay(res, pick, r.node, agentPaths.stream(r.namespace, r.name, r.target), {}, 'stream', `capture ${r.namespace}/${r.name} has no running target${r.target ? ` "${r.target}"` : ''} on node ${r.node}`, log);
  }

  /**
   * A download of a capture with a store: from the node when its agent has the file, else from the
   * store, decrypted (docs/storage.md section 7). Range works the same on both paths.
   */
  private async fileWithStore(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    pc: PacketCapture,
    store: PacketCaptureStore,
    r: { namespace: string; name: string; node: string; target: string; file: string },
    nodes: string[],
    log: Logger,
  ): Promise<void> {
    const what = `file ${r.target}/${r.file} of capture ${r.namespace}/${r.name}`;
    let nodeWhy = `node ${r.node} is not a node of the capture`;
    if (nodes.includes(r.node)) {
      let pick: AgentPick | undefined;
      try {
        pick = await this.d.locate(r.node);
      } catch (e) {
        nodeWhy = `cannot find the agent on node ${r.node}: ${(e as Error).message}`;
      }
      if (pick && !pick.ok) nodeWhy = pick.reason;
      if (pick?.ok) {
        const headers: Record<string, string> = {};
        if (req.headers.range !== undefined) headers['Range'] = req.headers.range;
        try {
          const up = await this.d.agents().get(pick, agentPaths.file(r.namespace, r.name, r.target, r.file), headers);
          if (up.res.statusCode !== 404) return this.relay(res, pick, r.node, '', {}, 'file', `${what} not found on node ${r.node}`, log, up);
          up.req.destroy();
          nodeWhy = `not on node ${r.node}`;
        } catch (e) {
          nodeWhy = `the agent on node ${r.node} is unreachable: ${(e as Error).message}`;
        }
      }
    }
    let obj;
    try {
      obj = await this.d.store!.open(pc, store, r.node, r.target, r.file);
    } catch (e) {
      log.warn('store read failed', { err: e, store: store.metadata.name });
      return sendStatus(res, 503, `${what}: ${nodeWhy}, and store "${store.metadata.name}" could not be read: ${(e as Error).message}`);
    }
    if (!obj) return sendStatus(res, 404, `${what} not found: ${nodeWhy}, and not in store "${store.metadata.name}"`);
    try {
      const range = parseRange(req.headers.range, obj.size);
      const type = /\.pcap[0-9]*$/.test(r.file) ? 'application/vnd.tcpdump.pcap' : r.file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
      const base = { 'Content-Type': type, 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store', 'X-Pcapper-Location': 'store', 'X-Content-Type-Options': 'nosniff' };
      if (range.kind === 'unsatisfiable') {
        res.writeHead(416, { ...base, 'Content-Range': `bytes */${obj.size}`, 'Content-Length': 0 });
        res.end();
        return;
      }
      const start = range.kind === 'partial' ? range.start : 0;
      const end = range.kind === 'partial' ? range.end + 1 : obj.size;
      res.writeHead(range.kind === 'partial' ? 206 : 200, {
        ...base,
        'Content-Length': end - start,
        ...(range.kind === 'partial' ? { 'Content-Range': `bytes ${start}-${end - 1}/${obj.size}` } : {}),
      });
      for await (const chunk of obj.read(start, end)) {
        if (res.destroyed) return;
        if (!res.write(chunk)) await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.once('drain', done);
          res.once('close', done);
        });
      }
      res.end();
    } catch (e) {
      log.warn('store download failed', { err: e, store: store.metadata.name });
      // Authentication failures end the response early: a client never gets altered bytes as a complete file.
      return sendStatus(res, 503, `${what} from store "${store.metadata.name}": ${(e as Error).message}`);
    } finally {
      await obj.close();
    }
  }

  private async list(res: http.ServerResponse, namespace: string, name: string, nodes: string[], log: Logger, withStore?: { pc: PacketCapture; store: PacketCaptureStore }): Promise<void> {
    let picks: Map<string, AgentPick>;
    try {
      picks = await this.d.locateAll(nodes);
    } catch (e) {
      const why = e instanceof AgentLookupError ? e.message : `cannot find the agents: ${(e as Error).message}`;
      picks = new Map(nodes.map((n) => [n, { ok: false, reason: why }]));
    }
    // Nodes in parallel, but a capture on thousands of nodes must not open thousands of connections at once.
    const answers = await mapLimit(nodes, 64, async (node): Promise<NodeAnswer> => {
      const pick = picks.get(node) ?? { ok: false, reason: `no agent on node ${node}` };
      if (!pick.ok) return { node, error: pick.reason };
      try {
        const { res: up } = await this.d.agents().get(pick, agentPaths.list(namespace, name));
        const body = await readBody(up);
        if (up.statusCode === 404) return { node, live: [], files: [] };
        if (up.statusCode !== 200) return { node, error: `the agent on node ${node} answered ${up.statusCode}: ${oneLine(body)}` };
        const parsed = parseAgentList(JSON.parse(body.toString('utf8')));
        if (!parsed) return { node, error: `the agent on node ${node} sent an unexpected file list` };
        return { node, ...parsed };
      } catch (e) {
        log.warn('agent list failed', { node, err: e });
        return { node, error: `the agent on node ${node} is unreachable: ${(e as Error).message}` };
      }
    });
    const list = buildFileList(namespace, name, answers);
    if (!withStore || !this.d.store) return sendJson(res, 200, list);
    const sname = withStore.store.metadata.name ?? '';
    let storeItems: Awaited<ReturnType<StoreReads['list']>> | { error: string };
    try {
      storeItems = await this.d.store.list(withStore.pc, withStore.store);
    } catch (e) {
      log.warn('store list failed', { store: sname, err: e });
      storeItems = { error: `store "${sname}" could not be listed: ${(e as Error).message}` };
    }
    sendJson(res, 200, mergeStoreItems(list, sname, storeItems));
  }

  /** Relays one agent response (download or live stream) with backpressure; aborts upstream when the client goes away. */
  private async relay(
    res: http.ServerResponse,
    pick: Extract<AgentPick, { ok: true }>,
    node: string,
    path: string,
    headers: Record<string, string>,
    kind: 'file' | 'stream',
    notFound: string,
    log: Logger,
    /** The agent's answer when the caller has it already (fileWithStore). */
    pre?: { req: http.ClientRequest; res: http.IncomingMessage },
  ): Promise<void> {
    let up: { req: http.ClientRequest; res: http.IncomingMessage };
    try {
      up = pre ?? (await this.d.agents().get(pick, path, headers));
    } catch (e) {
      const msg = e instanceof AgentUnreachableError ? e.message : String(e);
      log.warn('agent unreachable', { node, err: e });
      return sendStatus(res, 503, `the agent on node ${node} (pod ${pick.pod}) is unreachable: ${msg}`);
    }
    this.open.add(up.req);
    const code = up.res.statusCode ?? 0;
    try {
      // The client may have gone away while the agent answered.
      if (res.destroyed || !res.socket || res.socket.destroyed) return;
      const ok = kind === 'file' ? code === 200 || code === 206 || code === 416 : code === 200;
      if (!ok) {
        const body = await readBody(up.res, 64 * 1024).catch(() => Buffer.alloc(0));
        if (code === 404) return sendStatus(res, 404, notFound);
        if (code === 400) return sendStatus(res, 400, `the agent on node ${node}: ${oneLine(body)}`);
        return sendStatus(res, 503, `the agent on node ${node} answered ${code}: ${oneLine(body)}`);
      }
      const out: Record<string, string> = { 'Cache-Control': 'no-store' };
      const pass = kind === 'file' ? ['content-type', 'content-length', 'content-range', 'accept-ranges', 'content-disposition'] : ['content-type', 'x-pcapper-target'];
      for (const h of pass) {
        const v = up.res.headers[h];
        if (typeof v === 'string') out[h] = v;
      }
      if (kind === 'stream') {
        out['content-type'] = 'application/vnd.tcpdump.pcap';
        out['X-Content-Type-Options'] = 'nosniff';
      }
      res.writeHead(code, out);
      // Live streams: the status line and headers go out now, not with the first packet.
      if (kind === 'stream') res.flushHeaders();
      await pipe(up.res, res);
    } finally {
      this.open.delete(up.req);
      up.req.destroy();
    }
  }
}

/** Pipes upstream into the client with backpressure; ends when either side finishes or goes away. */
function pipe(from: http.IncomingMessage, to: http.ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = (clean: boolean): void => {
      if (done) return;
      done = true;
      from.unpipe(to);
      if (clean) to.end();
      else to.destroy();
      resolve();
    };
    from.on('end', () => finish(from.complete));
    from.on('error', () => finish(false));
    from.on('aborted', () => finish(false));
    // The client went away (or the response finished): stop reading upstream.
    to.on('close', () => finish(false));
    from.pipe(to, { end: false });
  });
}

function oneLine(b: Buffer): string {
  const s = b.toString('utf8').trim().replace(/\s+/g, ' ');
  return s.length > 300 ? `${s.slice(0, 300)}...` : s || '(no message)';
}
