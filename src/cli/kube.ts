/**
 * The CLI's connection to the cluster: kubeconfig loading with kubectl's rules (`--kubeconfig`,
 * $KUBECONFIG, ~/.kube/config; `--context`; namespace from `-n`, the context, else "default") and a
 * small REST client over node:https whose errors are one readable line (unreachable cluster,
 * missing CRD, not found, forbidden). Credentials come from @kubernetes/client-node's KubeConfig
 * (tokens, client certificates, exec plugins).
 */
import { existsSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type PacketCapture } from '../api/packetcapture.js';
import { CliError } from './errors.js';

export interface KubeFlags {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
}

/** The error of a failed API request: HTTP status (0 = no response) and a one-line message. */
export class KubeError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly reason?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface KubeContext {
  readonly kc: KubeConfig;
  /** Server URL of the current cluster. */
  readonly server: string;
  /** Namespace from -n, the context, else "default". */
  readonly namespace: string;
  /** True when -n was given. */
  readonly namespaceExplicit: boolean;
  readonly client: KubeClient;
  /** Path of the kubeconfig that was loaded (undefined in-cluster). */
  readonly kubeconfigPath: string | undefined;
}

/** Loads the kubeconfig per kubectl's rules. Throws CliError with a one-line message. */
export function loadKube(flags: KubeFlags, env: Readonly<Record<string, string | undefined>>): KubeContext {
  const kc = new KubeConfig();
  let path: string | undefined;
  if (flags.kubeconfig !== undefined) {
    if (!existsSync(flags.kubeconfig)) throw new CliError(`kubeconfig "${flags.kubeconfig}" does not exist`);
    path = flags.kubeconfig;
  } else if (env.KUBECONFIG) {
    path = env.KUBECONFIG.split(':').find((p) => p !== '' && existsSync(p));
    if (!path) throw new CliError(`none of the files in KUBECONFIG=${env.KUBECONFIG} exist`);
  } else {
    const home = env.HOME ?? env.USERPROFILE;
    const def = home ? join(home, '.kube', 'config') : undefined;
    if (def && existsSync(def)) path = def;
  }
  try {
    if (path !== undefined) kc.loadFromFile(path);
    else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else throw new CliError('no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot load kubeconfig ${path ?? '(in-cluster)'}: ${(e as Error).message}`, { cause: e });
  }
  if (flags.context !== undefined) {
    if (!kc.getContextObject(flags.context)) throw new CliError(`context "${flags.context}" does not exist in ${path ?? 'the kubeconfig'}`);
    kc.setCurrentContext(flags.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CliError(`the kubeconfig ${path ?? ''} has no current context or cluster; pass --context`);
  const ctxNs = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const namespace = flags.namespace ?? (ctxNs || 'default');
  return {
    kc,
    server: cluster.server,
    namespace,
    namespaceExplicit: flags.namespace !== undefined,
    client: new KubeClient(kc, cluster.server),
    kubeconfigPath: path,
  };
}

interface ApiStatus {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; group?: string };
}

export interface RequestOpts {
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export const PCAP_BASE = `/apis/${GROUP}/${VERSION}`;
export function capturesPath(namespace: string | undefined, name?: string): string {
  const base = namespace === undefined ? `${PCAP_BASE}/${PLURAL}` : `${PCAP_BASE}/namespaces/${encodeURIComponent(namespace)}/${PLURAL}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export class KubeClient {
  constructor(
    readonly kc: KubeConfig,
    readonly server: string,
  ) {}

  private async options(method: string, path: string, opts: RequestOpts): Promise<RequestOptions & { url: URL }> {
    const url = new URL(path, this.server.endsWith('/') ? this.server : `${this.server}/`);
    // keep the server's own path prefix (e.g. a proxy at https://host/k8s)
    const prefix = new URL(this.server).pathname.replace(/\/$/, '');
    url.pathname = `${prefix}${path.split('?')[0] ?? ''}`;
    const o: RequestOptions & { url: URL } = { url, method, headers: { Accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(o);
    if (opts.body !== undefined) (o.headers as Record<string, string>)['Content-Type'] = opts.contentType ?? 'application/json';
    return o;
  }

  /** The bearer token of the current user (for the agents' file servers), if the user has one. */
  async bearerToken(): Promise<string | undefined> {
    const o: RequestOptions = { headers: {} };
    try {
      await this.kc.applyToHTTPSOptions(o);
    } catch (e) {
      throw new CliError(`cannot get credentials from the kubeconfig: ${(e as Error).message}`, { cause: e });
    }
    const h = (o.headers as Record<string, string | undefined>).Authorization ?? (o.headers as Record<string, string | undefined>).authorization;
    const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
    return m?.[1];
  }

  /** Performs a request and returns the raw response (caller consumes it). */
  async raw(method: string, path: string, opts: RequestOpts = {}): Promise<IncomingMessage> {
    let o: RequestOptions & { url: URL };
    try {
      o = await this.options(method, path, opts);
    } catch (e) {
      throw new CliError(`cannot get credentials from the kubeconfig: ${(e as Error).message}`, { cause: e });
    }
    const { url, ...rest } = o;
    const req = (url.protocol === 'http:' ? httpRequest : httpsRequest)(url, { ...rest, signal: opts.signal });
    return new Promise<IncomingMessage>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => req.destroy(new Error(`no answer within ${Math.round((opts.timeoutMs ?? 0) / 1000)}s`)), opts.timeoutMs);
      }
      req.on('response', (res) => {
        if (timer) clearTimeout(timer);
        resolve(res);
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        if (e.name === 'AbortError') reject(e);
        else reject(new KubeError(`cannot reach the cluster at ${this.server}: ${e.message}`, 0, e.code, { cause: e }));
      });
      if (opts.body !== undefined) req.end(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
      else req.end();
    });
  }

  /** JSON request; non-2xx answers throw KubeError with the server's message. */
  async json<T>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
    const res = await this.raw(method, path, { timeoutMs: 30_000, ...opts });
    const text = await readBody(res);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      try {
        return JSON.parse(text) as T;
      } catch (e) {
        throw new KubeError(`the server at ${this.server} answered ${method} ${path} with something that is not JSON`, status, undefined, { cause: e });
      }
    }
    throw this.statusError(status, text, path);
  }

  statusError(status: number, text: string, path: string): KubeError {
    let st: ApiStatus = {};
    try {
      st = JSON.parse(text) as ApiStatus;
    } catch {
      // not a Status object
    }
    const msg = st.message ?? (text.trim().split('\n')[0] || `HTTP ${status}`);
    if (status === 401) return new KubeError('You must be logged in to the server (Unauthorized)', status, 'Unauthorized');
    if (status === 404 && path.startsWith(PCAP_BASE) && (!st.details?.name || /could not find the requested resource/.test(msg))) {
      return new KubeError(
        `the server doesn't have the resource ${PLURAL}.${GROUP}: is pcapper installed? (kubectl apply -f deploy/crd.yaml)`,
        status,
        'NoResource',
      );
    }
    return new KubeError(msg, status, st.reason);
  }

  /**
   * Watches `path` (a collection path, with query) and calls `onEvent` for each event until the
   * server ends the watch, `signal` aborts, or `onEvent` returns true (stop).
   */
  async watch<T>(path: string, onEvent: (ev: WatchEvent<T>) => boolean | void, signal?: AbortSignal): Promise<void> {
    const res = await this.raw('GET', path, { signal });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw this.statusError(status, await readBody(res), path);
    res.setEncoding('utf8');
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        res.destroy();
        if (err) reject(err);
        else resolve();
      };
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          let ev: WatchEvent<T>;
          try {
            ev = JSON.parse(line) as WatchEvent<T>;
          } catch (e) {
            finish(new KubeError(`bad watch event from ${this.server}`, status, undefined, { cause: e }));
            return;
          }
          try {
            if (onEvent(ev) === true) {
              finish();
              return;
            }
          } catch (e) {
            finish(e as Error);
            return;
          }
        }
      });
      res.on('end', () => finish());
      res.on('error', (e) => finish(e.name === 'AbortError' ? undefined : e));
      res.on('close', () => finish());
    });
  }

  // ---- PacketCapture helpers ----

  getCapture(namespace: string, name: string): Promise<PacketCapture> {
    return this.json<PacketCapture>('GET', capturesPath(namespace, name)).catch((e: unknown) => {
      if (e instanceof KubeError && e.status === 404 && e.reason !== 'NoResource') {
        throw new KubeError(`packetcapture "${name}" not found in namespace "${namespace}"`, 404, 'NotFound');
      }
      throw e;
    });
  }

  async listCaptures(namespace: string | undefined): Promise<{ items: PacketCapture[]; resourceVersion: string | undefined }> {
    const l = await this.json<{ items: PacketCapture[]; metadata?: { resourceVersion?: string } }>('GET', capturesPath(namespace));
    for (const i of l.items) {
      i.apiVersion = `${GROUP}/${VERSION}`;
      i.kind = 'PacketCapture';
    }
    return { items: l.items, resourceVersion: l.metadata?.resourceVersion };
  }

  /** POSTs the capture; `dryRun` asks the apiserver to validate it without persisting (`?dryRun=All`). */
  createCapture(pc: PacketCapture, opts: { dryRun?: boolean } = {}): Promise<PacketCapture> {
    return this.json<PacketCapture>('POST', `${capturesPath(pc.metadata.namespace ?? 'default')}${opts.dryRun ? '?dryRun=All' : ''}`, { body: pc });
  }

  async deleteCapture(namespace: string, name: string): Promise<void> {
    try {
      await this.json('DELETE', capturesPath(namespace, name), { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
    } catch (e) {
      if (e instanceof KubeError && e.status === 404 && e.reason !== 'NoResource') {
        throw new KubeError(`packetcapture "${name}" not found in namespace "${namespace}"`, 404, 'NotFound');
      }
      throw e;
    }
  }
}

export async function readBody(res: IncomingMessage, limit = 16 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    const b = c as Buffer;
    n += b.length;
    if (n > limit) {
      res.destroy();
      throw new CliError(`response larger than ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}
