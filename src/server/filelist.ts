/**
 * Pure pieces of the data routes: which nodes a capture has, the agents' paths, and the merged
 * PacketCaptureFileList (docs/data-api.md "Shapes") built from each node's answer.
 */
import type { PacketCapture } from '../api/packetcapture.js';
import { DATA_GROUP_VERSION, plainNameError, subdomainError } from './routes.js';

/** Nodes of a capture: status.nodes[].node plus status.targets[].node, sorted, deduplicated. */
export function captureNodes(pc: Pick<PacketCapture, 'status'>): string[] {
  const set = new Set<string>();
  for (const n of pc.status?.nodes ?? []) if (n.node) set.add(n.node);
  for (const t of pc.status?.targets ?? []) if (t.node) set.add(t.node);
  // A name that is not a node name cannot be in a URL we build; it is not a node of ours either.
  return [...set].filter((n) => subdomainError('node', n) === undefined).sort();
}

const seg = encodeURIComponent;

export const agentPaths = {
  list: (ns: string, name: string): string => `/v1/captures/${seg(ns)}/${seg(name)}/files`,
  file: (ns: string, name: string, target: string, file: string): string => `/v1/captures/${seg(ns)}/${seg(name)}/files/${seg(target)}/${seg(file)}`,
  stream: (ns: string, name: string, target: string | undefined): string => `/v1/captures/${seg(ns)}/${seg(name)}/stream${target === undefined ? '' : `?target=${seg(target)}`}`,
};

/** One node's contribution: the agent's list answer, or why there is none. */
export type NodeAnswer = { node: string; live: string[]; files: unknown[] } | { node: string; error: string };

export interface FileItem {
  node: string;
  target: string;
  name: string;
  path: string;
  size: number;
  modified: string;
  kind: string;
  /** Captures with a store: where the file is (node: only on the node; store: only in the store; both). */
  location?: 'node' | 'store' | 'both';
  /** Location store or both: the ids of the cluster keys wrapping the object's data key ([] for end-to-end or plain objects; absent when the header could not be read). */
  storeKeyIds?: string[];
}

export interface FileList {
  kind: 'PacketCaptureFileList';
  apiVersion: typeof DATA_GROUP_VERSION;
  metadata: { namespace: string; name: string };
  nodes: ({ node: string; live: string[] } | { node: string; error: string })[];
  items: FileItem[];
  /** Captures with a store: the store's name, and its error when it could not be listed. */
  store?: { name: string; error?: string };
}

/**
 * The union of the nodes' files and the store's objects (docs/storage.md section 7), each item
 * with its location; a file in both keeps the node's entry (size and time from the node). Pure.
 */
export function mergeStoreItems(list: FileList, storeName: string, storeItems: readonly FileItem[] | { error: string }): FileList {
  if ('error' in storeItems) {
    return { ...list, items: list.items.map((i) => ({ ...i, location: 'node' as const })), store: { name: storeName, error: storeItems.error } };
  }
  const inStore = new Map(storeItems.map((i) => [i.path, i]));
  const onNode = new Set(list.items.map((i) => i.path));
  const items: FileItem[] = list.items.map((i) => {
    const s = inStore.get(i.path);
    if (!s) return { ...i, location: 'node' as const };
    return { ...i, location: 'both' as const, ...(s.storeKeyIds ? { storeKeyIds: s.storeKeyIds } : {}) };
  });
  for (const s of storeItems) if (!onNode.has(s.path)) items.push({ ...s, location: 'store' });
  items.sort((a, b) => a.path.localeCompare(b.path));
  return { ...list, items, store: { name: storeName } };
}

/** Parses an agent's list body ({node, live, files}); undefined when it is not one. */
export function parseAgentList(body: unknown): { live: string[]; files: unknown[] } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as { live?: unknown; files?: unknown };
  if (!Array.isArray(b.files)) return undefined;
  const live = Array.isArray(b.live) ? b.live.filter((x): x is string => typeof x === 'string') : [];
  return { live, files: b.files };
}

/** Merges the nodes' answers; drops entries an agent sent that are not plain names. */
export function buildFileList(namespace: string, name: string, answers: readonly NodeAnswer[]): FileList {
  const nodes: FileList['nodes'] = [];
  const items: FileItem[] = [];
  for (const a of [...answers].sort((x, y) => x.node.localeCompare(y.node))) {
    if ('error' in a) {
      nodes.push({ node: a.node, error: a.error });
      continue;
    }
    nodes.push({ node: a.node, live: a.live });
    for (const raw of a.files) {
      const f = raw as Partial<Record<'target' | 'name' | 'modified' | 'kind', unknown>> & { size?: unknown };
      if (typeof f.target !== 'string' || typeof f.name !== 'string') continue;
      if (plainNameError('target', f.target) || plainNameError('file', f.name)) continue;
      items.push({
        node: a.node,
        target: f.target,
        name: f.name,
        path: `${a.node}/${f.target}/${f.name}`,
        size: typeof f.size === 'number' ? f.size : 0,
        modified: typeof f.modified === 'string' ? f.modified : '',
        kind: typeof f.kind === 'string' ? f.kind : 'other',
      });
    }
  }
  return { kind: 'PacketCaptureFileList', apiVersion: DATA_GROUP_VERSION, metadata: { namespace, name }, nodes, items };
}

/** Maps `items` with at most `limit` calls of `fn` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
