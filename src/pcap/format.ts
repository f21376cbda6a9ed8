/**
 * Human-readable rendering of a {@link Summary} as plain-text tables that fit a terminal width
 * (80 columns by default). Pure: returns a string.
 */
import type { Conversation, Endpoint, LatencySummary, Summary } from './summary.js';

const LINK_NAMES: Record<string, string> = {
  '0': 'BSD loopback',
  '1': 'Ethernet',
  '101': 'raw IP',
  '108': 'OpenBSD loopback',
  '113': 'Linux cooked (SLL)',
  '228': 'raw IPv4',
  '229': 'raw IPv6',
  '276': 'Linux cooked v2 (SLL2)',
};

/** 1234567 -> "1.2 MB" (SI units, like tshark): one definition, src/util/units.ts. */
export { formatBytes } from '../util/units.js';
import { formatBytes } from '../util/units.js';

/** 1234567 -> "1,234,567". */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function formatMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

function formatLatency(l: LatencySummary | null): string {
  if (!l) return 'n/a';
  return `p50 ${formatMs(l.p50Ms)}, p95 ${formatMs(l.p95Ms)}, max ${formatMs(l.maxMs)}`;
}

/** Shortens `s` to `w` columns, keeping both ends ("10.0.0.1…:443"). */
export function fit(s: string, w: number): string {
  if (s.length <= w) return s;
  if (w <= 1) return s.slice(0, w);
  const keepEnd = Math.min(Math.floor((w - 1) / 2), 8);
  return `${s.slice(0, w - 1 - keepEnd)}…${s.slice(s.length - keepEnd)}`;
}

function pad(s: string, w: number, right = false): string {
  const f = fit(s, w);
  return right ? f.padStart(w) : f.padEnd(w);
}

function endpointText(e: Endpoint): string {
  const host = e.name ?? (e.address.includes(':') && e.port !== undefined ? `[${e.address}]` : e.address);
  return e.port !== undefined ? `${host}:${e.port}` : host;
}

/**
 * An endpoint in `w` columns, keeping the pod name readable: the namespace is left out when it is
 * `commonNs` (shared by every pod in the table), else shortened before the pod name is.
 */
export function endpointCell(e: Endpoint, w: number, commonNs?: string): string {
  if (e.pod === undefined) return fit(endpointText(e), w);
  const port = e.port !== undefined ? `:${e.port}` : '';
  const ns = e.namespace !== undefined && e.namespace !== commonNs ? e.namespace : undefined;
  if (ns !== undefined) {
    const full = `${ns}/${e.pod}${port}`;
    if (full.length <= w) return full;
    const room = w - port.length - e.pod.length - 1; // columns left for the namespace
    if (room >= 2) return `${ns.slice(0, room - 1)}…/${e.pod}${port}`;
  }
  const podRoom = w - port.length;
  if (podRoom < 4) return fit(`${e.pod}${port}`, w);
  if (e.pod.length <= podRoom) return `${e.pod}${port}`;
  // keep the (workload) start of the pod name and a little of its random suffix
  const keepEnd = Math.min(5, Math.floor((podRoom - 1) / 3));
  return `${e.pod.slice(0, podRoom - 1 - keepEnd)}…${e.pod.slice(e.pod.length - keepEnd)}${port}`;
}

/** The namespace of every pod endpoint in `cs`, if they all share one. */
function sharedNamespace(cs: readonly Conversation[]): string | undefined {
  let ns: string | undefined;
  for (const c of cs) {
    for (const e of [c.a, c.b]) {
      if (e.pod === undefined) continue;
      if (e.namespace === undefined || (ns !== undefined && e.namespace !== ns)) return undefined;
      ns = e.namespace;
    }
  }
  return ns;
}

function stateText(c: Conversation): string {
  if (!c.tcp) return '';
  switch (c.tcp.state) {
    case 'completed':
      return c.tcp.resets > 0 ? 'ok,rst' : 'ok';
    case 'refused':
      return 'refused';
    case 'syn-unanswered':
      return 'no-answer';
    case 'syn-ack-unacked':
      return 'half-open';
    default:
      return c.tcp.resets > 0 ? 'mid,rst' : 'mid';
  }
}

/** Options for {@link formatSummaryTable}. */
export interface TableOptions {
  /** Terminal width (default 80, minimum 60). */
  width?: number;
  /** Rows per table (default 15). */
  rows?: number;
}

/** Renders the summary as text; every line is at most `width` columns. */
export function formatSummaryTable(s: Summary, opts: TableOptions = {}): string {
  const width = Math.max(60, opts.width ?? 80);
  const rows = opts.rows ?? 15;
  const out: string[] = [];
  const line = (t: string) => out.push(fit(t, width));
  const links = Object.entries(s.linkTypes)
    .map(([k, v]) => `${LINK_NAMES[k] ?? `linktype ${k}`} (${formatCount(v)})`)
    .join(', ');
  line(`Capture   ${s.files.join(', ')}`);
  line(`Packets   ${formatCount(s.packets)}, ${formatBytes(s.bytes)} on the wire, over ${s.durationSeconds.toFixed(3)} s`);
  if (s.firstTime) line(`Time      ${s.firstTime} .. ${s.lastTime ?? ''}`);
  if (links) line(`Links     ${links}`);
  if (s.capturePoints > 1) line(`Points    ${formatCount(s.capturePoints)} capture points; a conversation seen at several is shown once`);
  const p = s.protocols;
  const protoParts = Object.entries(p)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${formatCount(v)}`);
  if (protoParts.length) line(`Protocols ${protoParts.join(', ')}`);
  for (const e of s.errors) line(`WARNING   ${e}`);

  const t = s.tcp;
  if (t.connections > 0) {
    out.push('');
    line(`TCP       ${formatCount(t.connections)} connections: ${formatCount(t.completed)} completed, ${formatCount(t.refused)} refused (RST),`);
    line(`          ${formatCount(t.synUnanswered)} SYN unanswered, ${formatCount(t.synAckUnacked)} half-open, ${formatCount(t.noHandshake)} without handshake`);
    const pct = t.segments > 0 ? ((100 * t.retransmissions) / t.segments).toFixed(2) : '0';
    line(`          resets ${formatCount(t.resets)}, retransmissions ${formatCount(t.retransmissions)} (${pct}% of segments)`);
    if (t.handshakeRtt) line(`          handshake RTT ${formatLatency(t.handshakeRtt)}`);
  }

  if (s.conversations.length > 0) {
    out.push('');
    // columns: proto 6, A, B, pkts 8, bytes 9, state 9 (+ separators)
    const fixed = 6 + 8 + 9 + 9 + 5;
    const epw = Math.floor((width - fixed) / 2);
    const shown = s.conversations.slice(0, rows);
    const ns = sharedNamespace(shown);
    line(`Conversations (${formatCount(s.conversations.length)}, largest first${ns !== undefined ? `; pods in namespace ${ns}` : ''})`);
    line(`${pad('PROTO', 6)} ${pad('A', epw)} ${pad('B', epw)} ${pad('PKTS', 8, true)} ${pad('BYTES', 9, true)} ${pad('STATE', 9)}`.trimEnd());
    for (const c of shown) {
      line(
        `${pad(c.protocol, 6)} ${pad(endpointCell(c.a, epw, ns), epw)} ${pad(endpointCell(c.b, epw, ns), epw)} ${pad(formatCount(c.packets), 8, true)} ${pad(formatBytes(c.bytes), 9, true)} ${pad(stateText(c), 9)}`.trimEnd(),
      );
    }
    if (s.conversations.length > rows) line(`… ${formatCount(s.conversations.length - rows)} more (use -o json for all)`);
  }

  if (s.topTalkers.length > 0) {
    out.push('');
    const aw = width - 8 - 10 - 2;
    line('Top talkers');
    line(`${pad('ADDRESS', aw)} ${pad('PKTS', 8, true)} ${pad('BYTES', 10, true)}`);
    for (const x of s.topTalkers.slice(0, Math.min(rows, 10))) {
      const label = x.name ? `${x.name} (${x.address})` : x.address;
      line(`${pad(label, aw)} ${pad(formatCount(x.packets), 8, true)} ${pad(formatBytes(x.bytes), 10, true)}`);
    }
  }

  const d = s.dns;
  if (d.queries + d.responses > 0) {
    out.push('');
    const rc = Object.entries(d.rcodes)
      .map(([k, v]) => `${k} ${formatCount(v)}`)
      .join(', ');
    line(`DNS       ${formatCount(d.queries)} queries, ${formatCount(d.responses)} responses (${formatCount(d.answers)} answer records), ${formatCount(d.unanswered)} unanswered`);
    if (rc) line(`          rcodes: ${rc}`);
    if (d.latency) line(`          latency ${formatLatency(d.latency)}`);
    const nw = width - 6 - 8 - 8 - 12 - 4;
    line(`${pad('NAME', nw)} ${pad('TYPE', 6)} ${pad('QUERIES', 8, true)} ${pad('ANSWERS', 8, true)} ${pad('RCODE', 12)}`.trimEnd());
    for (const n of d.names.slice(0, Math.min(rows, 10))) {
      const rcs = Object.keys(n.rcodes).join(',');
      line(`${pad(n.name || '<root>', nw)} ${pad(n.qtype, 6)} ${pad(formatCount(n.queries), 8, true)} ${pad(formatCount(n.responses), 8, true)} ${pad(rcs, 12)}`.trimEnd());
    }
  }

  const h = s.http;
  if (h.requests + h.responses > 0) {
    out.push('');
    const st = Object.entries(h.statuses)
      .map(([k, v]) => `${k} ${formatCount(v)}`)
      .join(', ');
    line(`HTTP      ${formatCount(h.requests)} requests, ${formatCount(h.responses)} responses${st ? `; status ${st}` : ''}`);
    if (h.latency) line(`          latency ${formatLatency(h.latency)}`);
    const pw = width - 7 - 6 - 14 - 10 - 4;
    line(`${pad('METHOD', 7)} ${pad('PATH', pw)} ${pad('REQS', 6, true)} ${pad('STATUS', 14)} ${pad('P50', 10, true)}`);
    for (const e of h.endpoints.slice(0, Math.min(rows, 10))) {
      const sts = Object.entries(e.statuses)
        .map(([k, v]) => `${k}x${v}`)
        .join(',');
      line(`${pad(e.method, 7)} ${pad(e.path, pw)} ${pad(formatCount(e.requests), 6, true)} ${pad(sts || '-', 14)} ${pad(e.latency ? formatMs(e.latency.p50Ms) : '-', 10, true)}`);
    }
  }
  const h2 = s.http2;
  if (h2.requests > 0) {
    out.push('');
    const st = Object.entries(h2.statuses)
      .map(([k, v]) => `${k} ${formatCount(v)}`)
      .join(', ');
    line(`HTTP/2    ${formatCount(h2.requests)} requests on ${formatCount(h2.connections)} connections${h2.upgraded ? ` (${formatCount(h2.upgraded)} upgraded)` : ''}, ${formatCount(h2.responses)} responses${st ? `; status ${st}` : ''}${h2.resets ? `; ${formatCount(h2.resets)} reset` : ''}${h2.unfinished ? `; ${formatCount(h2.unfinished)} unfinished` : ''}`);
    if (h2.latency) line(`          latency ${formatLatency(h2.latency)}`);
    if (h2.endpoints.length > 0) {
      const pw = width - 7 - 6 - 14 - 10 - 4;
      line(`${pad('METHOD', 7)} ${pad('PATH', pw)} ${pad('REQS', 6, true)} ${pad('STATUS', 14)} ${pad('P50', 10, true)}`);
      for (const e of h2.endpoints.slice(0, Math.min(rows, 10))) {
        const sts = Object.entries(e.statuses)
          .map(([k, v]) => `${k}x${v}`)
          .join(',');
        line(`${pad(e.method, 7)} ${pad(e.path, pw)} ${pad(formatCount(e.requests), 6, true)} ${pad(sts || '-', 14)} ${pad(e.latency ? formatMs(e.latency.p50Ms) : '-', 10, true)}`);
      }
    }
  }

  const g = s.grpc;
  if (g.calls > 0) {
    out.push('');
    const st = Object.entries(g.statuses)
      .map(([k, v]) => `${k} ${formatCount(v)}`)
      .join(', ');
    line(`gRPC      ${formatCount(g.calls)} calls; status ${st}`);
    if (g.latency) line(`          latency ${formatLatency(g.latency)}`);
    const mw = width - 6 - 9 - 22 - 10 - 4;
    line(`${pad('SERVICE/METHOD', mw)} ${pad('CALLS', 6, true)} ${pad('MSGS IN/OUT', 9, true)} ${pad('STATUS', 22)} ${pad('P50', 10, true)}`);
    for (const m of g.methods.slice(0, Math.min(rows, 10))) {
      const sts = Object.entries(m.statuses)
        .map(([k, v]) => `${k}x${v}`)
        .join(',');
      line(`${pad(`${m.service}/${m.method}`, mw)} ${pad(formatCount(m.calls), 6, true)} ${pad(`${m.requestMessages}/${m.responseMessages}`, 9, true)} ${pad(sts, 22)} ${pad(m.latency ? formatMs(m.latency.p50Ms) : '-', 10, true)}`);
    }
  }
  return `${out.join('\n')}\n`;
}
