/**
 * The UI's cluster actions, each one Kubernetes API call (or the CLI's code that makes them) with
 * the user's kubeconfig: so the UI shows and does exactly what RBAC lets this user. Listing tries
 * every namespace and falls back to the kubeconfig's namespace when the user may not list across
 * namespaces. Create is a server-side dry run first (`dryRun=All`: schema and CEL rules), then the
 * real create. Download and export reuse `kubectl pcap download/export` (collect); the cluster
 * files of an analysis are fetched with the CLI's downloadCapture.
 */
import { Writable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KIND, type PacketCapture } from '../../api/packetcapture.js';
import { collect } from '../../cli/commands/capture.js';
import { exportSectionComments } from '../../cli/commands/download.js';
import { downloadCapture } from '../../cli/fetch.js';
import { listFiles } from '../../cli/data-api.js';
import type { CliIo } from '../../cli/io.js';
import { KubeError, type KubeContext } from '../../cli/kube.js';
import { captureRow, captureState } from '../../cli/printers.js';
import { targetDisplay } from '../../cli/target.js';
import { followCapture, isDone, watchCaptures, type CaptureEventType } from '../../cli/follow.js';
import { LiveMux } from '../../cli/commands/live.js';
import type { CaptureDetailResponse, CaptureRowInfo, ListResponse, NodeFiles } from '../shared/api-types.js';

export function rowOf(pc: PacketCapture): CaptureRowInfo {
  const cells = captureRow(pc, { output: 'table', now: new Date() });
  const created = pc.metadata.creationTimestamp;
  return {
    namespace: pc.metadata.namespace ?? '',
    name: pc.metadata.name ?? '',
    state: captureState(pc),
    target: targetDisplay(pc.spec),
    targets: cells[3] ?? '',
    packets: pc.status?.packets ?? 0,
    bytes: pc.status?.bytes ?? 0,
    drops: pc.status?.drops ?? 0,
    created: created === undefined ? '' : typeof created === 'string' ? created : created.toISOString(),
  };
}

/** An io for the CLI code the UI reuses: its messages are collected, never printed. */
export function quietIo(signal: AbortSignal): CliIo & { messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') messages.push(l.replace(/\r/g, ''));
      cb();
    },
  });
  return { stdout: sink, stderr: sink, stdin: process.stdin, env: {}, cwd: '/', signal, messages };
}

export class ClusterActions {
  constructor(private readonly kube: KubeContext) {}

  get server(): string {
    return this.kube.server;
  }
  get namespace(): string {
    return this.kube.namespace;
  }

  /** Which namespace to list and watch: undefined (all) when allowed, else the kubeconfig's. */
  private scope: string | undefined | null = null;

  async listScope(): Promise<string | undefined> {
    if (this.scope !== null) return this.scope;
    try {
      await this.kube.client.json('GET', `/apis/pcapper.dev/v1alpha1/packetcaptures?limit=1`);
      this.scope = undefined;
    } catch (e) {
      if (e instanceof KubeError && e.status === 403) this.scope = this.kube.namespace;
      else throw e;
    }
    return this.scope;
  }

  async list(): Promise<ListResponse> {
    const ns = await this.listScope();
    const { items } = await this.kube.client.listCaptures(ns);
    items.sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`));
    return { scope: ns === undefined ? 'all namespaces' : `namespace ${ns}`, items: items.map(rowOf) };
  }

  /** Every change of the listed captures until `signal` aborts (the informer relists after errors). */
  async watch(onEvent: (type: CaptureEventType, pc: PacketCapture) => void, signal: AbortSignal): Promise<void> {
    const ns = await this.listScope();
    await watchCaptures(this.kube.client, ns, undefined, onEvent, signal);
  }

  /** One capture's changes (live tail follows its targets). */
  async watchOne(ns: string, name: string, onEvent: (type: CaptureEventType, pc: PacketCapture) => void, signal: AbortSignal): Promise<void> {
    await watchCaptures(this.kube.client, ns, name, onEvent, signal);
  }

  async dryRun(pc: PacketCapture): Promise<PacketCapture> {
    return this.kube.client.createCapture(pc, { dryRun: true });
  }

  async create(pc: PacketCapture): Promise<PacketCapture> {
    return this.kube.client.createCapture(pc);
  }

  async delete(ns: string, name: string): Promise<void> {
    await this.kube.client.deleteCapture(ns, name);
  }

  async get(ns: string, name: string): Promise<PacketCapture> {
    return this.kube.client.getCapture(ns, name);
  }

  async detail(ns: string, name: string, signal: AbortSignal): Promise<CaptureDetailResponse> {
    const pc = await this.get(ns, name);
    const out: CaptureDetailResponse = { object: pc, row: rowOf(pc), files: [], events: [] };
    try {
      const l = await listFiles(this.kube.client, ns, name, signal);
      const nodes: NodeFiles[] = [];
      for (const [node, items] of l.byNode) nodes.push({ node, files: items.map((i) => ({ target: i.target, name: i.name, size: i.size, kind: i.kind, ...(i.modified ? { modified: i.modified } : {}) })) });
      for (const [node, why] of l.problems) nodes.push({ node, error: why, files: [] });
      nodes.sort((a, b) => a.node.localeCompare(b.node));
      out.files = nodes;
    } catch (e) {
      out.filesError = (e as Error).message;
    }
    try {
      const sel = encodeURIComponent(`involvedObject.name=${name},involvedObject.kind=${KIND}`);
      type Ev = { type?: string; reason?: string; message?: string; count?: number; lastTimestamp?: string; eventTime?: string; firstTimestamp?: string; metadata?: { creationTimestamp?: string } };
      const l = await this.kube.client.json<{ items: Ev[] }>('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}/events?fieldSelector=${sel}`);
      out.events = l.items
        .map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '', count: e.count ?? 1, lastTimestamp: e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? '' }))
        .sort((a, b) => Date.parse(a.lastTimestamp) - Date.parse(b.lastTimestamp));
    } catch (e) {
      out.eventsError = (e as Error).message;
    }
    return out;
  }

  /**
   * `kubectl pcap download` (or `export` with `exportMode`) of one capture into `out`: the same
   * collect() the CLI runs. Returns the CLI's messages (warnings about nodes) with the packet count.
   */
  async download(ns: string, name: string, out: string, exportMode: boolean, signal: AbortSignal): Promise<{ packets: number; messages: string[] }> {
    const pc = await this.get(ns, name);
    const io = quietIo(signal);
    const comments = exportMode ? exportSectionComments(pc) : undefined; // as `kubectl pcap export`
    const packets = await collect(this.kube, pc, out, io, { summary: false, signal, embedMetadata: exportMode, ...(comments ? { sectionComments: comments } : {}) });
    return { packets, messages: io.messages };
  }

  /** The raw ring files with their sidecars, into `dir`, for analysis. */
  async fetchFiles(ns: string, name: string, dir: string, signal: AbortSignal): Promise<string[]> {
    const pc = await this.get(ns, name);
    const io = quietIo(signal);
    const r = await downloadCapture(this.kube.client, pc, dir, io, signal);
    if (r.files.length === 0 && r.problems.length > 0) throw new Error(`capture ${ns}/${name}: ${r.problems.join('; ')}`);
    return r.files.map((f) => f.path).sort();
  }

  close(): void {
    this.kube.client.close();
  }
}

/** Capture files under a directory (recursive), sorted. */
export async function captureFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await captureFilesUnder(p)));
    else if (/\.(pcap[0-9]*|pcapng|cap)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

export interface TailProgress {
  /** Packets written to the local file so far. */
  packets: number;
  state: string;
  done: boolean;
}

/**
 * Live tail of a running capture: the data API `log` stream of every running target (the CLI's
 * LiveMux, as `kubectl pcap live` uses it) appended to `file`; `onProgress` after every status
 * change and whenever packets were written. Resolves when the capture is done or `signal` aborts.
 */
export async function runLiveTail(kube: KubeContext, ns: string, name: string, file: string, signal: AbortSignal, onProgress: (p: TailProgress) => void): Promise<void> {
  const ws = createWriteStream(file, { mode: 0o600, flags: 'wx' });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const first = await kube.client.getCapture(ns, name, signal);
  const io = quietIo(signal);
  const mux = new LiveMux(ws, first, kube.client, io, signal);
  let state = captureState(first);
  let reported = -1;
  const report = (done: boolean): void => {
    if (!done && mux.packets === reported) return;
    reported = mux.packets;
    onProgress({ packets: mux.packets, state, done });
  };
  // packets arrive between status updates: report them as they are written (no status needed)
  const tick = setInterval(() => report(false), 250);
  try {
    const last = await followCapture(
      kube.client,
      ns,
      name,
      (pc) => {
        state = captureState(pc);
        mux.update(pc);
        report(false);
      },
      signal,
    );
    if (isDone(last)) await mux.settle(10_000);
  } catch (e) {
    if (!signal.aborted) throw e; // stopped by the UI (nobody watching, or shutting down): not an error
  } finally {
    clearInterval(tick);
    await mux.end(false);
    report(true);
  }
}
