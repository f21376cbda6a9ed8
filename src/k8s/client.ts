/**
 * The one HTTP layer to the kube-apiserver used by the controller and the agent: loads a
 * KubeConfig (--kubeconfig, KUBECONFIG, in-cluster), sends JSON requests and watch streams over a
 * keep-alive agent, counts every request it makes (the controller-scale benchmark reads
 * `client.metrics`), and turns failures into typed errors with `cause`.
 *
 * Why not the generated client-node API classes: server-side apply on a custom resource's status
 * subresource, JSON-patch preconditions and watch streams all need exact control of content types
 * and query parameters, and the request count must be measured in one place. Authentication
 * (tokens, client certificates, CA, exec plugins) still comes from client-node's KubeConfig.
 */
import https from 'node:https';
import http from 'node:http';
import { createInterface } from 'node:readline';
import * as k8s from '@kubernetes/client-node';
import {
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
  type PacketCapture,
} from '../api/packetcapture.js';
import { loadMergedKubeconfig } from './kubeconfig.js';

/** An error answered by the apiserver (status >= 400), or a transport failure (status 0). */
export class KubeApiError extends Error {
  readonly status: number;
  /** metav1.Status reason, e.g. NotFound, Conflict, AlreadyExists, Invalid, Forbidden, Expired. */
  readonly reason: string | undefined;
  readonly method: string;
  readonly path: string;
  /** The metav1.Status body when there was one. */
  readonly body: unknown;
  constructor(opts: { status: number; reason?: string; message: string; method: string; path: string; body?: unknown; cause?: unknown }) {
    super(`${opts.method} ${opts.path}: ${opts.status ? `${opts.status} ` : ''}${opts.message}`, { cause: opts.cause });
    this.name = 'KubeApiError';
    this.status = opts.status;
    this.reason = opts.reason;
    this.method = opts.method;
    this.path = opts.path;
    this.body = opts.body;
  }
  /** Transport errors, 429 and 5xx are worth retrying; 4xx are not (except 409 after a re-read). */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.status === 409;
export const isGone = (e: unknown): boolean => e instanceof KubeApiError && e.status === 410;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Default application/json; PATCH needs one of the patch types. */
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export const CONTENT_TYPE = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  jsonPatch: 'application/json-patch+json',
  strategicMergePatch: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

/** Counters of requests sent, by verb (watch = GET with watch=true). */
export interface ClientMetrics {
  total: number;
  byVerb: Record<string, number>;
  /** Requests that were not GET/LIST/WATCH. */
  writes: number;
  errors: number;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface KubeClientOptions {
  userAgent?: string;
  /** Default per-request timeout (not for watches). Default 30 s. */
  timeoutMs?: number;
  /** Connections at once (default 64); long-lived streams (one per live target) each hold one. */
  maxSockets?: number;
}

export class KubeClient {
  readonly kc: k8s.KubeConfig;
  readonly server: URL;
  readonly metrics: ClientMetrics = { total: 0, byVerb: {}, writes: 0, errors: 0 };
  private readonly agent: https.Agent | http.Agent;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  /** Request observers (e.g. a test counting writes). */
  private readonly observers: ((method: string, path: string, query: string) => void)[] = [];

  constructor(kc: k8s.KubeConfig, opts: KubeClientOptions = {}) {
    this.kc = kc;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    const maxSockets = opts.maxSockets ?? 64;
    this.agent = this.server.protocol === 'http:' ? new http.Agent({ keepAlive: true, maxSockets }) : new https.Agent({ keepAlive: true, maxSockets });
    this.userAgent = opts.userAgent ?? 'pcapper';
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  onRequest(fn: (method: string, path: string, query: string) => void): void {
    this.observers.push(fn);
  }

  private count(verb: string, method: string, path: string, query: string): void {
    this.metrics.total++;
    this.metrics.byVerb[verb] = (this.metrics.byVerb[verb] ?? 0) + 1;
    if (method !== 'GET') this.metrics.writes++;
    for (const o of this.observers) o(method, path, query);
  }

  /** TLS material and auth headers from the KubeConfig (re-read per request: tokens rotate). */
  private async requestOptions(method: string, url: URL, headers: Record<string, string>): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = { method, headers: { ...headers } };
    await this.kc.applyToHTTPSOptions(opts);
    // client-node builds a fresh agent per call; keep the TLS settings, reuse our keep-alive agent.
    const a = opts.agent as (https.Agent & { options?: https.AgentOptions }) | undefined;
    const tls = a?.options ?? {};
    return {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: opts.headers,
      auth: opts.auth,
      agent: this.agent,
      ca: tls.ca ?? opts.ca,
      cert: tls.cert ?? opts.cert,
      key: tls.key ?? opts.key,
      rejectUnauthorized: tls.rejectUnauthorized ?? opts.rejectUnauthorized,
      servername: tls.servername,
    };
  }

  private url(path: string, query?: RequestOptions['query']): URL {
    const u = new URL(this.server.toString());
    u.pathname = (u.pathname.replace(/\/$/, '') + path).replace(/\/\//g, '/');
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  /** Sends one request; resolves with the parsed JSON body (undefined when empty). */
  async request<T = unknown>(o: RequestOptions): Promise<T> {
    const method = o.method ?? 'GET';
    const url = this.url(o.path, o.query);
    const body = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.userAgent };
    if (body !== undefined) {
      headers['Content-Type'] = o.contentType ?? CONTENT_TYPE.json;
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    let ro: https.RequestOptions;
    try {
      ro = await this.requestOptions(method, url, headers);
    } catch (cause) {
      throw new KubeApiError({ status: 0, message: 'cannot authenticate with the kubeconfig', method, path: o.path, cause });
    }
    this.count(method === 'GET' ? (o.query?.watch ? 'WATCH' : 'GET') : method, method, o.path, url.search);
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request({ ...ro, signal: o.signal, timeout: o.timeoutMs ?? this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (cause) => {
          this.metrics.errors++;
          reject(new KubeApiError({ status: 0, message: 'response failed', method, path: o.path, cause }));
        });
        res.on('end', () => {
          const parsed = parseBody(chunks);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve(parsed as T);
            return;
          }
          this.metrics.errors++;
          reject(apiError(status, parsed, method, o.path));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`timed out after ${o.timeoutMs ?? this.timeoutMs} ms`)));
      req.on('error', (cause) => {
        this.metrics.errors++;
        reject(new KubeApiError({ status: 0, message: cause.message, method, path: o.path, cause }));
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /**
   * Opens a watch (GET path?watch=true&...) and calls onEvent per line. Resolves when the server
   * closes the stream normally; rejects with KubeApiError on HTTP errors or transport failures.
   * Abort with `signal` to stop (then it resolves).
   */
  async watch<T>(
    path: string,
    query: RequestOptions['query'],
    onEvent: (ev: WatchEvent<T>) => void,
    signal?: AbortSignal,
    /** Client-side idle limit: a watch that receives nothing for this long is torn down (dead TCP peers). */
    idleTimeoutMs = 10 * 60_000,
  ): Promise<void> {
    const q = { ...query, watch: 'true' };
    const url = this.url(path, q);
    let ro: https.RequestOptions;
    try {
      ro = await this.requestOptions('GET', url, { Accept: 'application/json', 'User-Agent': this.userAgent });
    } catch (cause) {
      throw new KubeApiError({ status: 0, message: 'cannot authenticate with the kubeconfig', method: 'WATCH', path, cause });
    }
    this.count('WATCH', 'GET', path, url.search);
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        if (err === undefined || signal?.aborted) resolve();
        else reject(err instanceof KubeApiError ? err : new KubeApiError({ status: 0, message: err instanceof Error ? err.message : 'watch failed', method: 'WATCH', path, cause: err }));
      };
      const req = mod.request({ ...ro, signal }, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let st: { reason?: string; message?: string } = {};
            try {
              st = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof st;
            } catch {
              /* not a Status */
            }
            this.metrics.errors++;
            done(new KubeApiError({ status, reason: st.reason, message: st.message ?? http.STATUS_CODES[status] ?? 'error', method: 'WATCH', path }));
          });
          res.on('error', done);
          return;
        }
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        // readline re-emits the input's errors (e.g. "aborted" on stop): without this listener they are uncaught
        lines.on('error', done);
        lines.on('line', (line) => {
          if (!line.trim()) return;
          let ev: WatchEvent<T>;
          try {
            ev = JSON.parse(line) as WatchEvent<T>;
          } catch (cause) {
            req.destroy();
            done(new KubeApiError({ status: 0, message: 'malformed watch event', method: 'WATCH', path, cause }));
            return;
          }
          try {
            onEvent(ev);
          } catch (cause) {
            req.destroy();
            done(cause);
          }
        });
        res.on('error', done);
        res.on('close', () => done());
        res.on('end', () => done());
      });
      req.on('error', (e) => done(e));
      req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`watch idle for ${idleTimeoutMs} ms`)));
      req.end();
    });
  }

  /**
   * A raw streaming GET (downloads with Range, live streams): resolves with the response once a 2xx
   * status arrives, the body unread; any other status is read (bounded) and rejected as
   * KubeApiError, like request(). `idleTimeoutMs` tears the connection down when no byte arrives
   * for that long (headers and body); without it a stream may stay silent forever (live streams).
   */
  async stream(o: { path: string; query?: RequestOptions['query']; headers?: Record<string, string>; signal?: AbortSignal; idleTimeoutMs?: number; accept?: string }): Promise<http.IncomingMessage> {
    const url = this.url(o.path, o.query);
    let ro: https.RequestOptions;
    try {
      ro = await this.requestOptions('GET', url, { Accept: o.accept ?? '*/*', 'User-Agent': this.userAgent, ...o.headers });
    } catch (cause) {
      throw new KubeApiError({ status: 0, message: 'cannot authenticate with the kubeconfig', method: 'GET', path: o.path, cause });
    }
    this.count('GET', 'GET', o.path, url.search);
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = mod.request({ ...ro, signal: o.signal }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolve(res);
          return;
        }
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n <= 64 * 1024) chunks.push(c);
        });
        res.on('error', (cause) => reject(new KubeApiError({ status, message: cause.message, method: 'GET', path: o.path, cause })));
        res.on('end', () => {
          this.metrics.errors++;
          reject(apiError(status, parseBody(chunks), 'GET', o.path));
        });
      });
      if (o.idleTimeoutMs !== undefined) {
        const ms = o.idleTimeoutMs;
        req.setTimeout(ms, () => req.destroy(new Error(`no data for ${Math.round(ms / 1000)}s`)));
      }
      req.on('error', (cause) => {
        this.metrics.errors++;
        reject(new KubeApiError({ status: 0, message: cause.message, method: 'GET', path: o.path, cause }));
      });
      req.end();
    });
  }

  /** Stops reusing pooled connections (call on shutdown so the process can exit). */
  close(): void {
    this.agent.destroy();
  }
}

const clients = new WeakMap<k8s.KubeConfig, KubeClient>();

/** The shared KubeClient of a KubeConfig (one keep-alive pool and one request counter per config). */
export function clientFor(kcOrClient: k8s.KubeConfig | KubeClient): KubeClient {
  if (kcOrClient instanceof KubeClient) return kcOrClient;
  let c = clients.get(kcOrClient);
  if (!c) {
    c = new KubeClient(kcOrClient);
    clients.set(kcOrClient, c);
  }
  return c;
}

export interface KubeConfigSource {
  /** --kubeconfig */
  kubeconfig?: string;
  /** --context */
  context?: string;
  /** The KUBECONFIG environment variable, passed in by the caller (domain code never reads process.env). */
  kubeconfigEnv?: string;
  /** Whether to fall back to the in-cluster service account (default true). */
  inCluster?: boolean;
}

/**
 * Loads a KubeConfig: --kubeconfig file, else $KUBECONFIG (a ':'-separated list merged as kubectl
 * merges it, see kubeconfig.ts), else in-cluster service account (KUBERNETES_SERVICE_HOST is read
 * by client-node itself), else ~/.kube/config.
 */
export function loadKubeConfig(src: KubeConfigSource = {}): k8s.KubeConfig {
  let kc = new k8s.KubeConfig();
  try {
    if (src.kubeconfig || src.kubeconfigEnv) kc = loadMergedKubeconfig({ kubeconfig: src.kubeconfig || undefined, context: src.context }, { KUBECONFIG: src.kubeconfigEnv }, { inCluster: false }).kc;
    else {
      if (src.inCluster !== false) kc.loadFromDefault();
      else kc.loadFromDefault({}, false);
      if (src.context) kc.setCurrentContext(src.context);
    }
  } catch (cause) {
    throw new Error(`cannot load kubeconfig ${src.kubeconfig ?? src.kubeconfigEnv ?? '(default)'}`, { cause });
  }
  if (!kc.getCurrentCluster()) throw new Error('kubeconfig has no current cluster (use --kubeconfig or KUBECONFIG)');
  return kc;
}

// ---- PacketCapture helpers ------------------------------------------------------------------

export const PACKETCAPTURE_BASE = `/apis/${GROUP}/${VERSION}`;

/** API path of PacketCaptures: all namespaces, one namespace, or one object (optionally a subresource). */
export function packetCapturePath(namespace?: string, name?: string, subresource?: 'status'): string {
  if (!namespace) return `${PACKETCAPTURE_BASE}/${PLURAL}`;
  const base = `${PACKETCAPTURE_BASE}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}`;
  if (!name) return base;
  return `${base}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
}

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export async function getPacketCapture(kc: k8s.KubeConfig | KubeClient, namespace: string, name: string): Promise<PacketCapture> {
  return clientFor(kc).request<PacketCapture>({ path: packetCapturePath(namespace, name) });
}

export async function listPacketCaptures(kc: k8s.KubeConfig | KubeClient, namespace?: string, opts: { labelSelector?: string } = {}): Promise<PacketCapture[]> {
  const list = await clientFor(kc).request<KubeList<PacketCapture>>({ path: packetCapturePath(namespace), query: { labelSelector: opts.labelSelector } });
  return list.items.map((i) => ({ ...i, apiVersion: API_VERSION, kind: KIND }));
}

export async function createPacketCapture(kc: k8s.KubeConfig | KubeClient, pc: Omit<PacketCapture, 'apiVersion' | 'kind'> & Partial<Pick<PacketCapture, 'apiVersion' | 'kind'>>): Promise<PacketCapture> {
  const ns = pc.metadata.namespace;
  if (!ns) throw new Error('createPacketCapture: metadata.namespace is required');
  return clientFor(kc).request<PacketCapture>({ method: 'POST', path: packetCapturePath(ns), body: { apiVersion: API_VERSION, kind: KIND, ...pc } });
}

/** Deletes a PacketCapture; with `uid`, only that incarnation (precondition). Resolves false when already gone. */
export async function deletePacketCapture(kc: k8s.KubeConfig | KubeClient, namespace: string, name: string, opts: { uid?: string } = {}): Promise<boolean> {
  try {
    await clientFor(kc).request({
      method: 'DELETE',
      path: packetCapturePath(namespace, name),
      body: opts.uid ? { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: opts.uid } } : undefined,
    });
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/**
 * Replaces metadata.finalizers, guarded by resourceVersion (409 Conflict when the object changed
 * meanwhile: re-read and retry).
 */
export async function setFinalizers(kc: k8s.KubeConfig | KubeClient, namespace: string, name: string, finalizers: string[], resourceVersion: string): Promise<PacketCapture> {
  return clientFor(kc).request<PacketCapture>({
    method: 'PATCH',
    path: packetCapturePath(namespace, name),
    contentType: CONTENT_TYPE.mergePatch,
    body: { metadata: { finalizers, resourceVersion } },
  });
}

/** A response body: JSON when it parses, else its text (undefined when empty). */
function parseBody(chunks: readonly Buffer[]): unknown {
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** The error of a non-2xx answer: reason and message from a Kubernetes Status body when there is one. */
function apiError(status: number, parsed: unknown, method: string, path: string): KubeApiError {
  const st = (parsed ?? {}) as { reason?: string; message?: unknown };
  const message = typeof st.message === 'string' ? st.message : typeof parsed === 'string' && parsed ? parsed : (http.STATUS_CODES[status] ?? 'error');
  return new KubeApiError({ status, reason: st.reason, message, method, path, body: parsed });
}
