/**
 * What the UI can analyse, by id: `file:N` (the files given on the command line), `store:NAME` (an
 * import in the local store) and `cluster:NS/NAME` (a capture in the cluster, whose files are
 * fetched through the data API into a private cache directory first). Each source opens one
 * CaptureView (the packet view engine, src/pcap/view) lazily and keeps it; filters are cached per
 * expression so paging through matches does not re-run them.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaptureView, FilterResult, OpenViewOptions } from '../../pcap/view/types.js';
import { endpointMap, findCaptureMetadata, type CaptureMetadata } from '../../pcap/metadata.js';
import { summarizeFiles, type Summary } from '../../pcap/summary.js';
import { storedCaptureFiles } from '../../cli/store.js';
import type { SourceInfo } from '../shared/api-types.js';

export type OpenView = (paths: readonly string[], opts?: OpenViewOptions) => Promise<CaptureView>;

export class SourceError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 502,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SourceError';
  }
}

/** `cluster:NS/NAME` -> [ns, name]; undefined for other ids. */
export function clusterRef(id: string): [string, string] | undefined {
  const m = /^cluster:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(id);
  return m ? [m[1] as string, m[3] as string] : undefined;
}

interface Open {
  view: CaptureView;
  paths: string[];
  filters: Map<string, FilterResult>;
  summary?: Promise<Summary>;
}

export interface SourcesOptions {
  /** Files given on the command line (absolute). */
  files: readonly string[];
  store: string;
  /** Private cache directory (0700) for cluster files and index files. */
  cacheDir: string;
  openView: OpenView;
  /** Fetches a cluster capture's files into `dir` (data API); returns the capture files. */
  fetchCluster?: (ns: string, name: string, dir: string) => Promise<string[]>;
}

const MAX_CACHED_FILTERS = 8;

export class Sources {
  private readonly open = new Map<string, Promise<Open>>();
  /** Sources whose files are being appended to (live tail): their file list is fixed by the tail. */
  private readonly livePaths = new Map<string, string[]>();

  constructor(private readonly o: SourcesOptions) {}

  /** Files and store imports (cluster captures are listed by the captures API). */
  async list(): Promise<SourceInfo[]> {
    const out: SourceInfo[] = [];
    for (const [i, f] of this.o.files.entries()) {
      const size = await stat(f).then((s) => s.size, () => 0);
      out.push({ id: `file:${i}`, kind: 'file', label: f, files: 1, bytes: size });
    }
    let names: string[] = [];
    try {
      names = (await readdir(this.o.store)).sort();
    } catch {
      // no store yet
    }
    for (const n of names) {
      const files = await storedCaptureFiles(this.o.store, n);
      if (!files || files.length === 0) continue;
      let bytes = 0;
      for (const f of files) bytes += await stat(f).then((s) => s.size, () => 0);
      out.push({ id: `store:${n}`, kind: 'store', label: n, files: files.length, bytes });
    }
    return out;
  }

  /** The capture files of a source (fetching a cluster capture on first use). */
  async paths(id: string): Promise<string[]> {
    const live = this.livePaths.get(id);
    if (live) return live;
    if (id.startsWith('file:')) {
      const f = this.o.files[Number(id.slice(5))];
      if (f === undefined || !/^file:[0-9]+$/.test(id)) throw new SourceError(`no file ${id}`, 404);
      return [f];
    }
    if (id.startsWith('store:')) {
      const files = await storedCaptureFiles(this.o.store, id.slice(6));
      if (!files || files.length === 0) throw new SourceError(`no imported capture "${id.slice(6)}" in ${this.o.store}`, 404);
      return files;
    }
    const ref = clusterRef(id);
    if (ref) {
      if (!this.o.fetchCluster) throw new SourceError('no cluster: cluster captures cannot be opened (the kubeconfig could not be loaded)', 409);
      const dir = this.clusterDir(ref[0], ref[1]);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const files = await this.o.fetchCluster(ref[0], ref[1], dir);
      if (files.length === 0) throw new SourceError(`capture ${ref[0]}/${ref[1]} has no files yet`, 404);
      return files;
    }
    throw new SourceError(`unknown source "${id}": expected file:N, store:NAME or cluster:NAMESPACE/NAME`, 400);
  }

  /** Where a cluster capture's files are cached. */
  clusterDir(ns: string, name: string): string {
    return join(this.o.cacheDir, 'cluster', ns, name);
  }

  /** The source's view, opened once. */
  async get(id: string): Promise<Open> {
    let p = this.open.get(id);
    if (!p) {
      p = (async () => {
        const paths = await this.paths(id);
        const view = await this.o.openView(paths, { indexDir: join(this.o.cacheDir, 'index') });
        return { view, paths, filters: new Map<string, FilterResult>() };
      })();
      this.open.set(id, p);
      p.catch(() => this.open.delete(id));
    }
    return p;
  }

  /** A filter's result, cached per expression (and dropped when the view grows). */
  async filter(id: string, expression: string): Promise<FilterResult> {
    const o = await this.get(id);
    const have = o.filters.get(expression);
    if (have && have.examined === o.view.packetCount) return have;
    const r = await o.view.filter(expression);
    o.filters.set(expression, r);
    if (o.filters.size > MAX_CACHED_FILTERS) o.filters.delete(o.filters.keys().next().value as string);
    return r;
  }

  /** The dashboard: the summary engine over the source's files, names from their metadata. */
  async summary(id: string): Promise<Summary> {
    const o = await this.get(id);
    if (!o.summary || this.livePaths.has(id)) {
      o.summary = summarize(o.paths);
      o.summary.catch(() => (o.summary = undefined));
    }
    return o.summary;
  }

  /** Live tail: the source now reads `file` (appended to by the tail); reopens the view on it. */
  async setLive(id: string, file: string): Promise<void> {
    this.livePaths.set(id, [file]);
    await this.forget(id);
  }

  async endLive(id: string): Promise<void> {
    this.livePaths.delete(id);
    await this.forget(id);
  }

  /** Closes and forgets a source's view (deleted capture, finished live tail). */
  async forget(id: string): Promise<void> {
    const p = this.open.get(id);
    this.open.delete(id);
    if (p) await p.then((o) => o.view.close(), () => undefined);
  }

  async close(): Promise<void> {
    for (const id of [...this.open.keys()]) await this.forget(id);
  }
}

async function summarize(paths: readonly string[]): Promise<Summary> {
  const metas: CaptureMetadata[] = [];
  for (const f of paths) {
    const found = await findCaptureMetadata(f).catch(() => undefined);
    if (found) metas.push(found.metadata);
  }
  return (await summarizeFiles(paths, { endpoints: endpointMap(metas) })).summary;
}
