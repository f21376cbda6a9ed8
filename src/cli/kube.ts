/**
 * The CLI's view of the cluster, on top of the one Kubernetes client stack in src/k8s: kubeconfig
 * loading with kubectl's rules (src/k8s/kubeconfig.ts: --kubeconfig, a merged $KUBECONFIG list,
 * ~/.kube/config; --context, --cluster, --user; namespace from -n, the context, else "default"),
 * and a thin facade over src/k8s/client.ts whose errors are one readable line (unreachable
 * cluster, missing CRD, not found, forbidden). Credentials (tokens, client certificates, exec
 * plugins) come from @kubernetes/client-node's KubeConfig and go only to the API server.
 */
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type PacketCapture } from '../api/packetcapture.js';
import { KubeApiError, KubeClient as SharedClient, type RequestOptions as SharedRequestOptions } from '../k8s/client.js';
import { KubeconfigError, loadMergedKubeconfig } from '../k8s/kubeconfig.js';
import { CliError } from './errors.js';

export interface KubeFlags {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  cluster?: string | undefined;
  user?: string | undefined;
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
  /** The kubeconfig files that were merged (empty in-cluster). */
  readonly kubeconfigFiles: readonly string[];
}

/** Loads the kubeconfig per kubectl's rules. Throws CliError with a one-line message. */
export function loadKube(flags: KubeFlags, env: Readonly<Record<string, string | undefined>>): KubeContext {
  let loaded;
  try {
    loaded = loadMergedKubeconfig(flags, env);
  } catch (e) {
    if (e instanceof KubeconfigError) throw new CliError(e.message, { cause: e });
    throw new CliError(`cannot load the kubeconfig: ${(e as Error).message}`, { cause: e });
  }
  const { kc, files, contextNamespace } = loaded;
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CliError(`the kubeconfig ${files.join(':')} has no current context or cluster; pass --context`);
  return {
    kc,
    server: cluster.server,
    namespace: flags.namespace ?? contextNamespace ?? 'default',
    namespaceExplicit: flags.namespace !== undefined,
    client: new KubeClient(kc, cluster.server),
    kubeconfigFiles: files,
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

/** `/a/b?x=1&y=2` -> path and query record (the shared client takes them apart). */
export function splitQuery(pathWithQuery: string): { path: string; query: Record<string, string> } {
  const q = pathWithQuery.indexOf('?');
  if (q < 0) return { path: pathWithQuery, query: {} };
  return { path: pathWithQuery.slice(0, q), query: Object.fromEntries(new URLSearchParams(pathWithQuery.slice(q + 1))) };
}

export class KubeClient {
  /** The shared client (src/k8s): one keep-alive pool, used by informers too. */
  readonly shared: SharedClient;

  constructor(
    readonly kc: KubeConfig,
    readonly server: string,
    /** Injected in tests; otherwise a client of `kc`. */
    shared?: SharedClient,
  ) {
    // live streams hold one connection per running target for the whole capture
    this.shared = shared ?? new SharedClient(kc, { userAgent: 'kubectl-pcap', maxSockets: 4096 });
  }

  /** JSON request; non-2xx answers throw KubeError with the server's message. */
  async json<T>(method: string, pathWithQuery: string, opts: RequestOpts = {}): Promise<T> {
    const { path, query } = splitQuery(pathWithQuery);
    try {
      return await this.shared.request<T>({
        method: method as SharedRequestOptions['method'],
        path,
        query,
        body: opts.body,
        contentType: opts.contentType,
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
      });
    } catch (e) {
      throw this.translate(e, path);
    }
  }

  /**
   * A streaming GET through the API server (downloads, live streams): the 2xx response, unread.
   * Errors are translated like json()'s; AbortError passes through.
   */
  async stream(pathWithQuery: string, opts: { headers?: Record<string, string>; signal?: AbortSignal; idleTimeoutMs?: number } = {}): Promise<IncomingMessage> {
    const { path, query } = splitQuery(pathWithQuery);
    try {
      return await this.shared.stream({ path, query, ...opts });
    } catch (e) {
      throw this.translate(e, path);
    }
  }

  /** Turns a shared-client error into one readable line (or re-throws an abort as is). */
  translate(e: unknown, path: string): Error {
    if (!(e instanceof KubeApiError)) return e as Error;
    const cause = e.cause as (Error & { code?: string }) | undefined;
    if (e.status === 0) {
      if (cause?.name === 'AbortError') return cause;
      if (/cannot authenticate with the kubeconfig/.test(e.message)) return new KubeError(`cannot get credentials from the kubeconfig: ${cause?.message ?? e.message}`, 0, undefined, { cause: e });
      return new KubeError(`cannot reach the cluster at ${this.server}: ${cause?.message ?? e.message}`, 0, cause?.code, { cause: e });
    }
    const body = e.body;
    return this.statusError(e.status, typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body), path);
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

  /** Stops reusing pooled connections. */
  close(): void {
    this.shared.close();
  }

  // ---- PacketCapture helpers ----

  getCapture(namespace: string, name: string, signal?: AbortSignal): Promise<PacketCapture> {
    return this.json<PacketCapture>('GET', capturesPath(namespace, name), signal ? { signal } : {}).catch((e: unknown) => {
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

/** Reads a (small) response body as text, bounded. */
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
