/**
 * Talks to the node agents' file servers (see src/agent/server.ts): lists a capture's files on a
 * node, downloads them (resuming with HTTP Range after a dropped connection), and opens live
 * streams. Every request carries the user's own Kubernetes bearer token; the agent checks it with
 * TokenReview + SubjectAccessReview (`get packetcaptures/files` in the capture's namespace).
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CliError } from './errors.js';
import { readBody } from './kube.js';

/** One entry of `GET /v1/captures/<ns>/<capture>/files`. */
export interface AgentFile {
  /** `<target>/<file>` */
  path: string;
  /** Target directory name: `pod.<namespace>.<pod>` or `node.<interface>`. */
  target: string;
  name: string;
  size: number;
  modified?: string;
  kind: 'pcap' | 'metadata' | 'other';
}

export interface AgentFileList {
  node: string;
  namespace: string;
  name: string;
  /** Targets with a running tcpdump (live-streamable). */
  live: string[];
  files: AgentFile[];
}

export interface AgentAuth {
  token: string;
  /** PEM CA bundle for https endpoints (PCAPPER_AGENT_CA); system CAs otherwise. */
  ca?: string | undefined;
}

const SEG = /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/;

/** Loads the CA bundle named by $PCAPPER_AGENT_CA (if any). */
export function agentCaFromEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const p = env.PCAPPER_AGENT_CA;
  if (!p) return undefined;
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read PCAPPER_AGENT_CA=${p}: ${(e as Error).message}`, { cause: e });
  }
}

function agentUrl(endpoint: string, path: string): URL {
  const base = endpoint.endsWith('/') ? endpoint.slice(0, -1) : endpoint;
  return new URL(`${base}${path}`);
}

/** GET on an agent; rejects with a one-line CliError on network errors and non-2xx answers. */
export async function agentGet(
  endpoint: string,
  path: string,
  auth: AgentAuth,
  opts: { signal?: AbortSignal; headers?: Record<string, string>; node?: string; /** idle timeout (none for live streams) */ idleTimeoutMs?: number } = {},
): Promise<IncomingMessage> {
  const url = agentUrl(endpoint, path);
  const where = `the agent on node ${opts.node ?? '?'} (${endpoint})`;
  const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: 'GET',
    headers: { Authorization: `Bearer ${auth.token}`, ...opts.headers },
    ...(url.protocol === 'https:' && auth.ca ? { ca: auth.ca } : {}),
    signal: opts.signal,
  });
  if (opts.idleTimeoutMs !== undefined) {
    const ms = opts.idleTimeoutMs;
    req.setTimeout(ms, () => req.destroy(new Error(`no data for ${Math.round(ms / 1000)}s`)));
  }
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError') reject(e);
      else reject(new CliError(`cannot reach ${where}: ${e.message}`, { cause: e }));
    });
    req.end();
  });
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return res;
  const text = (await readBody(res).catch(() => '')).trim().split('\n')[0] ?? '';
  if (status === 401) throw new CliError(`${where} refused the token from your kubeconfig (401 Unauthorized)${text ? `: ${text}` : ''}`);
  if (status === 403) throw new CliError(`${where}: forbidden: you need "get" on packetcaptures/files in this namespace${text ? ` (${text})` : ''}`);
  throw new CliError(`${where} answered ${status}${text ? `: ${text}` : ''}`);
}

/** Lists a capture's files on one node; undefined when the node has none (404). */
export async function listAgentFiles(endpoint: string, namespace: string, capture: string, auth: AgentAuth, node?: string, signal?: AbortSignal): Promise<AgentFileList | undefined> {
  let res: IncomingMessage;
  try {
    res = await agentGet(endpoint, `/v1/captures/${encodeURIComponent(namespace)}/${encodeURIComponent(capture)}/files`, auth, { node, signal, idleTimeoutMs: 30_000 });
  } catch (e) {
    if (e instanceof CliError && / answered 404/.test(e.message)) return undefined;
    throw e;
  }
  const text = await readBody(res);
  let l: AgentFileList;
  try {
    l = JSON.parse(text) as AgentFileList;
  } catch (e) {
    throw new CliError(`the agent on node ${node ?? '?'} sent a file list that is not JSON`, { cause: e });
  }
  if (!Array.isArray(l.files)) throw new CliError(`the agent on node ${node ?? '?'} sent a file list without "files"`);
  // never let a server choose where we write: plain names only
  l.files = l.files.filter((f) => SEG.test(f.target) && SEG.test(f.name) && !f.name.includes('..') && !f.target.includes('..'));
  return l;
}

/**
 * Downloads one file to `dest`, resuming with `Range: bytes=N-` if the connection drops
 * (up to `retries` times). Returns the bytes written.
 */
export async function downloadAgentFile(endpoint: string, namespace: string, capture: string, f: AgentFile, dest: string, auth: AgentAuth, opts: { node?: string; signal?: AbortSignal; retries?: number } = {}): Promise<number> {
  await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
  const path = `/v1/captures/${encodeURIComponent(namespace)}/${encodeURIComponent(capture)}/files/${encodeURIComponent(f.target)}/${encodeURIComponent(f.name)}`;
  let have = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      const headers: Record<string, string> = have > 0 ? { Range: `bytes=${have}-` } : {};
      const res = await agentGet(endpoint, path, auth, { node: opts.node, signal: opts.signal, headers, idleTimeoutMs: 30_000 });
      const append = have > 0 && res.statusCode === 206;
      await pipeline(res, createWriteStream(dest, { flags: append ? 'a' : 'w', mode: 0o600 }));
      return (await stat(dest)).size;
    } catch (e) {
      if ((e as Error).name === 'AbortError' || attempt >= (opts.retries ?? 3)) throw e;
      have = await stat(dest).then((s) => s.size, () => 0);
    }
  }
}

/** Local path of a downloaded file: `<dir>/<node>/<target>/<name>`. */
export function localPathOf(dir: string, node: string, f: Pick<AgentFile, 'target' | 'name'>): string {
  return join(dir, node, f.target, f.name);
}

/** Opens the live pcap stream of one running target. */
export function openAgentStream(endpoint: string, namespace: string, capture: string, target: string, auth: AgentAuth, opts: { node?: string; signal?: AbortSignal } = {}): Promise<IncomingMessage> {
  const q = `?target=${encodeURIComponent(target)}`;
  return agentGet(endpoint, `/v1/captures/${encodeURIComponent(namespace)}/${encodeURIComponent(capture)}/stream${q}`, auth, { ...opts });
}
