/**
 * The data API (docs/data-api.md), through the Kubernetes API server only: a capture's file list,
 * resumable file downloads and live streams under `/apis/data.pcapper.dev/v1alpha1`. The user's
 * kubeconfig credentials go to the API server and nowhere else; kube-apiserver forwards only the
 * identity to the pcapper server.
 */
import type { IncomingMessage } from 'node:http';
import { createWriteStream } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError } from './errors.js';
import { KubeError, readBody, type KubeClient } from './kube.js';
import { afterFailure, planResponse, rangeHeaders, retryable, retryDelayMs, sizeProblem, type RetryState } from './resume.js';
import { checkName, shown, unsafeReason } from './safe-names.js';

export const DATA_GROUP = 'data.pcapper.dev';
export const DATA_VERSION = 'v1alpha1';
export const DATA_BASE = `/apis/${DATA_GROUP}/${DATA_VERSION}`;

const enc = encodeURIComponent;

export function capturePathOf(ns: string, name: string): string {
  return `${DATA_BASE}/namespaces/${enc(ns)}/packetcaptures/${enc(name)}`;
}
export function filesPath(ns: string, name: string): string {
  return `${capturePathOf(ns, name)}/files`;
}
export function filePath(ns: string, name: string, node: string, target: string, file: string): string {
  return `${filesPath(ns, name)}/${enc(node)}/${enc(target)}/${enc(file)}`;
}
export function logPath(ns: string, name: string, node: string, target: string): string {
  return `${capturePathOf(ns, name)}/log?node=${enc(node)}&target=${enc(target)}`;
}

/** The live stream's target parameter: the target's directory name (`pod/ns/x` -> `pod.ns.x`). */
export function targetDirName(statusName: string): string {
  return statusName.replace(/\//g, '.');
}

export interface FileItem {
  node: string;
  target: string;
  name: string;
  size: number;
  modified?: string;
  /** `pcap` or `metadata` (others are ignored). */
  kind: string;
}

export interface NodeEntry {
  node: string;
  live?: string[];
  error?: string;
}

export interface FileList {
  nodes: NodeEntry[];
  items: FileItem[];
}

/** A list checked for safety: usable items per node, and one-line problems per node. */
export interface CheckedFileList {
  /** node -> its items (only nodes without a problem). */
  byNode: Map<string, FileItem[]>;
  /** node -> why its files cannot be used (reported `error`, or unsafe names). */
  problems: Map<string, string>;
}

/**
 * Validates a `PacketCaptureFileList` (pure): every node, target and file name must be a plain
 * name before it can become a path. A node with an `error`, or with any unsafe name, is reported
 * in `problems` with none of its files (never silently dropped).
 */
export function checkFileList(raw: unknown, from: string): CheckedFileList {
  const l = raw as Partial<FileList> | undefined;
  if (!l || typeof l !== 'object' || !Array.isArray(l.items)) throw new CliError(`${from} sent a file list without "items"`);
  const out: CheckedFileList = { byNode: new Map(), problems: new Map() };
  const unsafeNodes: string[] = [];
  for (const n of Array.isArray(l.nodes) ? l.nodes : []) {
    const why = unsafeReason('node', n?.node);
    if (why !== undefined) {
      unsafeNodes.push(`${shown(n?.node)} (${why})`);
      continue;
    }
    if (typeof n.error === 'string' && n.error !== '') out.problems.set(n.node, n.error.replace(/\s*\n\s*/g, '; '));
    else out.byNode.set(n.node, []);
  }
  if (unsafeNodes.length > 0) throw new CliError(`refusing the file list from ${from}: unsafe node name ${unsafeNodes.join(', ')}`);
  for (const it of l.items) {
    const node = it?.node;
    const nodeWhy = unsafeReason('node', node);
    if (nodeWhy !== undefined) throw new CliError(`refusing the file list from ${from}: unsafe node name ${shown(node)} (${nodeWhy})`);
    if (out.problems.has(node)) continue;
    const why = unsafeReason('target', it.target) ?? unsafeReason('file', it.name);
    if (why !== undefined) {
      out.problems.set(node, `unsafe target or file name ${shown(`${String(it.target)}/${String(it.name)}`)} in the file list (${why}); none of this node's files were downloaded`);
      out.byNode.delete(node);
      continue;
    }
    if (typeof it.size !== 'number' || !Number.isSafeInteger(it.size) || it.size < 0) {
      out.problems.set(node, `file ${it.target}/${it.name} has no valid size in the file list`);
      out.byNode.delete(node);
      continue;
    }
    const list = out.byNode.get(node) ?? [];
    list.push(it);
    out.byNode.set(node, list);
  }
  return out;
}

/** A data-API error with the hint a user needs (APIService missing or unavailable, RBAC). */
export function dataApiError(e: unknown, what: string): Error {
  if (!(e instanceof KubeError)) return e as Error;
  if (e.status === 404 && /could not find the requested resource|the server could not find/.test(e.message)) {
    return new KubeError(`${what}: the API server does not serve ${DATA_GROUP}/${DATA_VERSION}; is the pcapper server installed? (kubectl get apiservice v1alpha1.${DATA_GROUP})`, 404, 'NoResource', { cause: e });
  }
  if (e.status === 403) return new KubeError(`${what}: ${e.message} (you need "get" on packetcaptures/files in group ${DATA_GROUP})`, 403, e.reason, { cause: e });
  if (e.status === 503 && /service unavailable|no endpoints|ServiceUnavailable/i.test(e.message)) {
    return new KubeError(`${what}: the pcapper server is not available (kubectl get apiservice v1alpha1.${DATA_GROUP}): ${e.message}`, 503, e.reason, { cause: e });
  }
  return new KubeError(`${what}: ${e.message}`, e.status, e.reason, { cause: e });
}

/** GET .../files, checked. */
export async function listFiles(client: KubeClient, ns: string, name: string, signal?: AbortSignal): Promise<CheckedFileList> {
  let raw: unknown;
  try {
    raw = await client.json<unknown>('GET', filesPath(ns, name), signal ? { signal } : {});
  } catch (e) {
    throw dataApiError(e, `listing the files of capture ${ns}/${name}`);
  }
  return checkFileList(raw, `the data API for ${ns}/${name}`);
}

export interface DownloadFileOptions {
  signal?: AbortSignal;
  /** Called with the bytes of this file on disk so far (progress). */
  onProgress?: (have: number, total: number | undefined) => void;
  /** Called before a retry (for a note on stderr). */
  onRetry?: (why: string, have: number) => void;
  /** No byte for this long: drop the connection and resume. */
  idleTimeoutMs?: number;
  /** Limits for tests. */
  limits?: { withoutProgress: number; total: number };
  random?: () => number;
}

/** A failure of one attempt that another attempt may fix (status 0 = transport). */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly status = 0,
    /** Throw away what is on disk and start over. */
    readonly restart = false,
  ) {
    super(message);
  }
}

/**
 * Downloads one file to `dest` (0600, parent dirs 0700), resuming with `Range: bytes=N-` after a
 * short body, a dropped connection or a retryable answer (5xx, 429), with bounded retries and
 * backoff (resume.ts). Returns the final size, checked against what the server announced and the
 * file list's size.
 */
export async function downloadFile(client: KubeClient, ns: string, name: string, item: FileItem, dest: string, o: DownloadFileOptions = {}): Promise<number> {
  checkName('node', item.node, 'the file list');
  checkName('target', item.target, 'the file list');
  checkName('file', item.name, 'the file list');
  await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
  // start from an empty file: a stale file from an earlier run must not be appended to
  await (await open(dest, 'w', 0o600)).close();
  const path = filePath(ns, name, item.node, item.target, item.name);
  const label = `${item.node}/${item.target}/${item.name}`;
  let have = 0;
  let announced: number | undefined;
  let state: RetryState = { attempts: 0, failuresWithoutProgress: 0 };
  for (;;) {
    const before = have;
    let failure: AttemptError;
    try {
      let res: IncomingMessage;
      try {
        res = await client.stream(path, { headers: rangeHeaders(have), idleTimeoutMs: o.idleTimeoutMs ?? 60_000, ...(o.signal ? { signal: o.signal } : {}) });
      } catch (e) {
        if (e instanceof KubeError && e.status === 416) {
          // bytes=<size>- of a complete file (the last attempt failed after its last byte)
          if (have > 0 && have === announced) break;
          throw new AttemptError(`the server cannot serve bytes from ${have} on (416)`, 0, true);
        }
        if (e instanceof KubeError && retryable(e.status)) throw new AttemptError(e.message, e.status);
        throw e;
      }
      const plan = planResponse(have, res.statusCode ?? 0, res.headers, announced);
      if (plan.action === 'complete') {
        res.resume();
        break;
      }
      if (plan.action === 'restart') {
        res.resume();
        throw new AttemptError(plan.why, 0, true);
      }
      if (plan.total !== undefined) announced = plan.total;
      have = plan.offset; // 0 when the server ignored Range: the body is the whole file
      o.onProgress?.(have, announced);
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          have += chunk.length;
          o.onProgress?.(have, announced);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(res, counter, createWriteStream(dest, { flags: plan.offset === 0 ? 'w' : 'r+', start: plan.offset, mode: 0o600 }));
      } catch (e) {
        if ((e as Error).name === 'AbortError' || o.signal?.aborted) throw e;
        throw new AttemptError(`the connection broke after ${have} bytes: ${(e as Error).message}`);
      }
      const expect = announced ?? item.size;
      if (have < expect) throw new AttemptError(`the response ended after ${have} of ${expect} bytes`);
      break;
    } catch (e) {
      if (!(e instanceof AttemptError)) {
        if ((e as Error).name === 'AbortError' || o.signal?.aborted) throw e;
        throw dataApiError(e, `downloading ${label}`);
      }
      failure = e;
    }
    if (failure.restart) {
      have = 0;
      announced = undefined;
      await (await open(dest, 'w', 0o600)).close();
    }
    // the bytes on disk are the truth (a write may have failed half-way)
    have = Math.min(have, await stat(dest).then((st) => st.size, () => 0));
    const next = afterFailure(state, have > before, o.limits);
    if (!next) throw new CliError(`downloading ${label}: giving up after ${state.attempts + 1} attempt(s): ${failure.message}`);
    state = next;
    o.onRetry?.(failure.message, have);
    const delay = retryDelayMs(state, o.random);
    if (delay > 0) await sleep(delay, undefined, o.signal ? { signal: o.signal } : {});
  }
  const size = (await stat(dest)).size;
  const problem = sizeProblem(size, announced, item.size);
  if (problem) throw new CliError(`downloading ${label}: ${problem}`);
  return size;
}

/** Opens the live pcap stream of one running target (`packetcaptures/log`, long-running). */
export async function openLog(client: KubeClient, ns: string, name: string, node: string, target: string, signal?: AbortSignal): Promise<IncomingMessage> {
  checkName('node', node, 'status');
  checkName('target', target, 'status');
  try {
    return await client.stream(logPath(ns, name, node, target), signal ? { signal } : {});
  } catch (e) {
    throw dataApiError(e, `node ${node}`);
  }
}

export { readBody };
