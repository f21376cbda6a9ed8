/**
 * Output printers for PacketCaptures (pure): table, wide, json, yaml, name — kubectl's shapes.
 * A list in json/yaml is a `v1/List`, like `kubectl get -o json`.
 */
import { stringify as yamlStringify } from 'yaml';
import { GROUP, PLURAL, type PacketCapture, type TargetStatus } from '../api/packetcapture.js';
import { targetDisplay } from './target.js';
import { formatBytes } from '../util/units.js';

export const OUTPUT_FORMATS = ['json', 'yaml', 'wide', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number] | 'table';

export { formatBytes };

/** kubectl's age format: 45s, 3m12s, 5h, 2d3h, 400d. */
export function formatAge(from: string | Date | undefined, now: Date): string {
  if (from === undefined) return '<unknown>';
  const t = typeof from === 'string' ? Date.parse(from) : from.getTime();
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return h < 8 && m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  return `${d}d`;
}

/** Aligns rows into columns separated by 3 spaces (kubectl's table style). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Phase shown in tables: status.progress, or Deleting / Pending. */
export function captureState(pc: PacketCapture): string {
  if (pc.metadata.deletionTimestamp) return 'deleting';
  return pc.status?.progress ?? 'pending';
}

function targetsColumn(pc: PacketCapture): string {
  const st = pc.status;
  if (!st?.targetsTotal) return '0';
  const done = (st.targetsFinished ?? 0) + (st.targetsFailed ?? 0);
  return `${st.targetsRunning ?? 0}/${done}/${st.targetsTotal}`;
}

function durationColumn(pc: PacketCapture): string {
  const d = pc.spec.captureSeconds ?? pc.spec.duration;
  const parts: string[] = [];
  if (d !== undefined) parts.push(typeof d === 'number' ? `${d}s` : /^[0-9]+$/.test(d) ? `${d}s` : d);
  if (pc.spec.packetCount !== undefined) parts.push(`${pc.spec.packetCount} pkts`);
  return parts.join(', ') || '60s';
}

export interface PrintOptions {
  output: OutputFormat;
  /** Prepend a NAMESPACE column (`-A`). */
  withNamespace?: boolean;
  now: Date;
}

/** Prints captures in the requested format. `single` prints one object (not a List) in json/yaml. */
export function printCaptures(items: readonly PacketCapture[], opts: PrintOptions, single = false): string {
  switch (opts.output) {
    case 'json':
      return `${JSON.stringify(single && items.length === 1 ? items[0] : asList(items), null, 4)}\n`;
    case 'yaml':
      return yamlStringify(single && items.length === 1 ? items[0] : asList(items));
    case 'name':
      return items.map((pc) => `${PLURAL.replace(/s$/, '')}.${GROUP}/${pc.metadata.name ?? ''}\n`).join('');
    case 'table':
    case 'wide':
      return formatTable(captureHeader(opts), items.map((pc) => captureRow(pc, opts)));
  }
}

/** Table header for `opts` (table or wide, with NAMESPACE for -A). */
export function captureHeader(opts: Pick<PrintOptions, 'output' | 'withNamespace'>): string[] {
  const header = ['NAME', 'STATE', 'TARGET', 'TARGETS', 'PACKETS', 'BYTES', 'DROPS', 'AGE'];
  if (opts.output === 'wide') header.push('DURATION', 'FILTER', 'NODES');
  if (opts.withNamespace) header.unshift('NAMESPACE');
  return header;
}

/** One table row of `pc`, matching {@link captureHeader}. */
export function captureRow(pc: PacketCapture, opts: PrintOptions): string[] {
  const st = pc.status;
  const r = [
    pc.metadata.name ?? '',
    captureState(pc),
    targetDisplay(pc.spec),
    targetsColumn(pc),
    String(st?.packets ?? 0),
    formatBytes(st?.bytes),
    String(st?.drops ?? 0),
    formatAge(pc.metadata.creationTimestamp, opts.now),
  ];
  if (opts.output === 'wide') r.push(durationColumn(pc), pc.spec.captureFilter ?? '', st?.node ?? (st?.nodes ?? []).map((n) => n.node).join(','));
  if (opts.withNamespace) r.unshift(pc.metadata.namespace ?? '');
  return r;
}

function asList(items: readonly PacketCapture[]): unknown {
  return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
}

/** Human name of a target entry: `ns/pod` or `node/iface`. */
export function targetLabel(t: TargetStatus): string {
  if (t.kind === 'node') return `node/${t.node ?? '?'}:${t.interface ?? '?'}`;
  if (t.pod) return `${t.namespace ? `${t.namespace}/` : ''}${t.pod}`;
  return t.name;
}

const conds0 = (pc: PacketCapture) => pc.status?.conditions ?? [];

/** `kubectl pcap describe`: a kubectl-describe-like text view. */
export function describeCapture(pc: PacketCapture, events: readonly { type?: string; reason?: string; message?: string; lastTimestamp?: string | Date; count?: number }[], now: Date): string {
  const out: string[] = [];
  const kv = (k: string, v: string | number | undefined, indent = 0): void => {
    if (v === undefined || v === '') return;
    out.push(`${' '.repeat(indent)}${`${k}:`.padEnd(Math.max(16 - indent, k.length + 2))}${v}`);
  };
  const sp = pc.spec;
  const st = pc.status;
  kv('Name', pc.metadata.name);
  kv('Namespace', pc.metadata.namespace);
  kv('Created', `${formatAge(pc.metadata.creationTimestamp, now)} ago`);
  kv('State', captureState(pc));
  out.push('Spec:');
  kv('Target', targetDisplay(sp), 2);
  kv('Target NS', sp.targetNamespace, 2);
  kv('Interface', sp.interfaceName, 2);
  kv('Duration', durationColumn(pc), 2);
  kv('Filter', sp.captureFilter, 2);
  kv('Snap length', sp.snapLength, 2);
  kv('Max file size', sp.maxFileSize, 2);
  kv('File count', sp.fileCount, 2);
  kv('TTL', sp.ttlSecondsAfterFinished !== undefined ? `${sp.ttlSecondsAfterFinished}s` : undefined, 2);
  kv('Store', sp.store, 2);
  out.push('Status:');
  kv('Progress', st?.progress ?? 'pending', 2);
  kv('Started', st?.startTime, 2);
  kv('Completed', st?.completionTime, 2);
  kv('Packets', st?.packets ?? 0, 2);
  kv('Bytes', `${st?.bytes ?? 0} (${formatBytes(st?.bytes)})`, 2);
  kv('Drops', st?.drops ?? 0, 2);
  kv('File location', st?.fileLocation, 2);
  const targets = st?.targets ?? [];
  out.push(`Targets (${targets.length}):`);
  if (targets.length > 0) {
    const rows = targets.map((t) => [targetLabel(t), t.node ?? '', t.phase ?? 'Pending', String(t.packets ?? 0), formatBytes(t.bytes), String(t.drops ?? 0), String(t.files?.length ?? 0), t.reason ?? '']);
    out.push(...formatTable(['TARGET', 'NODE', 'PHASE', 'PACKETS', 'BYTES', 'DROPS', 'FILES', 'REASON'], rows).trimEnd().split('\n').map((l) => `  ${l}`));
    for (const t of targets) if (t.message) out.push(`  ${targetLabel(t)}: ${t.message}`);
  }
  // captures with a store: each file's upload state (docs/storage.md section 4)
  const uploads = targets.flatMap((t) => (t.files ?? []).filter((f) => f.upload).map((f) => ({ t, f })));
  const uploaded = conds0(pc).find((c) => c.type === 'Uploaded');
  if (uploads.length > 0 || uploaded) {
    out.push(`Uploads${uploaded ? ` (${uploaded.status === 'True' ? 'all uploaded' : `${uploaded.reason ?? ''}: ${uploaded.message ?? ''}`})` : ''}:`);
    const rows = uploads.map(({ t, f }) => {
      const u = f.upload!;
      const parts = u.parts ? `${u.partsDone ?? 0}/${u.parts}` : '';
      return [targetLabel(t), f.name, u.state ?? 'Pending', parts, u.reason ?? '', u.message ?? ''];
    });
    if (rows.length > 0) out.push(...formatTable(['TARGET', 'FILE', 'STATE', 'PARTS', 'REASON', 'MESSAGE'], rows).trimEnd().split('\n').map((l) => `  ${l}`));
  }
  const nodes = st?.nodes ?? [];
  if (nodes.length > 0) {
    out.push('Nodes:');
    const rows = nodes.map((n) => [n.node, String(n.files ?? 0), formatBytes(n.bytes), n.cleanedUp ? 'yes' : 'no']);
    out.push(...formatTable(['NODE', 'FILES', 'BYTES', 'CLEANED UP'], rows).trimEnd().split('\n').map((l) => `  ${l}`));
  }
  const conds = st?.conditions ?? [];
  if (conds.length > 0) {
    out.push('Conditions:');
    const rows = conds.map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '']);
    out.push(...formatTable(['TYPE', 'STATUS', 'REASON', 'MESSAGE'], rows).trimEnd().split('\n').map((l) => `  ${l}`));
  }
  if (events.length === 0) out.push('Events:         <none>');
  else {
    out.push('Events:');
    const rows = events.map((e) => [e.type ?? '', e.reason ?? '', e.lastTimestamp ? formatAge(e.lastTimestamp, now) : '', e.message ?? '']);
    out.push(...formatTable(['TYPE', 'REASON', 'AGE', 'MESSAGE'], rows).trimEnd().split('\n').map((l) => `  ${l}`));
  }
  return out.join('\n') + '\n';
}
