/**
 * Pure shaping of the summary engine's result for the dashboard. The fields the page reads of
 * src/pcap/summary/types.ts `Summary` are restated here: that module's imports reach Node code,
 * which the browser build must not type-check against (its tsconfig has no Node types).
 */
export interface LatencySummary { count: number; minMs: number; avgMs: number; p50Ms: number; p95Ms: number; maxMs: number }
interface Endpoint { address: string; port?: number; name?: string }
export interface Summary {
  packets: number;
  bytes: number;
  durationSeconds: number;
  capturePoints: number;
  errors: string[];
  conversations: { protocol: string; a: Endpoint; b: Endpoint; tcp?: { state: 'completed' | 'refused' | 'syn-unanswered' | 'syn-ack-unacked' | 'no-handshake'; resets: number; client?: 'a' | 'b' } }[];
  topTalkers: { address: string; name?: string; packets: number; bytes: number }[];
  tcp: { connections: number; completed: number; refused: number; synUnanswered: number; synAckUnacked: number; noHandshake: number; resets: number; retransmissions: number; segments: number; handshakeRtt: LatencySummary | null };
  dns: { queries: number; responses: number; unanswered: number; rcodes: Record<string, number>; latency: LatencySummary | null };
  http: { requests: number; responses: number; statuses: Record<string, number>; latency: LatencySummary | null; endpoints?: EndpointStat[] };
  /** summary format 2; absent from older summaries */
  http2?: { connections: number; upgraded: number; requests: number; responses: number; resets: number; unfinished: number; statuses: Record<string, number>; latency: LatencySummary | null; endpoints: EndpointStat[] };
  grpc?: { calls: number; statuses: Record<string, number>; latency: LatencySummary | null; methods: { service: string; method: string; calls: number; statuses: Record<string, number>; requestMessages: number; responseMessages: number; latency: LatencySummary | null }[] };
}

interface EndpointStat { method: string; path: string; requests: number; statuses: Record<string, number>; latency: LatencySummary | null }

/** One row of the request tables (HTTP/1.x paths, HTTP/2 streams, gRPC calls). */
export interface RequestRow {
  /** `GET /cart`, or `service/method` for gRPC */
  name: string;
  count: number;
  /** `200: 3, 404: 1` or `OK: 2, NOT_FOUND: 1` (`none` = no response / no grpc-status) */
  statuses: string;
  /** true when any response was an error: HTTP 5xx/4xx, no response, or a grpc-status other than OK */
  failing: boolean;
  p50Ms: number | null;
  maxMs: number | null;
}

const statusText = (m: Record<string, number>): string =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');

/** HTTP/1.x or HTTP/2 endpoints of the summary as table rows, busiest first. */
export function httpRows(endpoints: EndpointStat[] | undefined): RequestRow[] {
  return (endpoints ?? [])
    .map((e) => ({
      name: `${e.method} ${e.path}`,
      count: e.requests,
      statuses: statusText(e.statuses),
      failing: Object.keys(e.statuses).some((k) => !/^[123][0-9][0-9]$/.test(k)),
      p50Ms: e.latency?.p50Ms ?? null,
      maxMs: e.latency?.maxMs ?? null,
    }))
    .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
}

/** gRPC calls per service/method as table rows, busiest first. */
export function grpcRows(g: Summary['grpc']): RequestRow[] {
  return (g?.methods ?? [])
    .map((m) => ({
      name: `${m.service}/${m.method}`,
      count: m.calls,
      statuses: statusText(m.statuses),
      failing: Object.keys(m.statuses).some((k) => k !== 'OK'),
      p50Ms: m.latency?.p50Ms ?? null,
      maxMs: m.latency?.maxMs ?? null,
    }))
    .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
}

export interface ConnectionStat {
  client: string;
  server: string;
  attempts: number;
  completed: number;
  refused: number;
  unanswered: number;
  resets: number;
  /** completed / attempts, 0..1 */
  successRate: number;
}

const who = (e: { name?: string; address: string }): string => e.name ?? e.address;

/**
 * Pod-to-pod (or pod-to-address) TCP connections, grouped by client and server (with port), with
 * their success rate: a connection succeeds when its handshake completed. Conversations without a
 * handshake in the capture (started before it) are not counted.
 */
export function connectionStats(s: Summary): ConnectionStat[] {
  const by = new Map<string, ConnectionStat>();
  for (const c of s.conversations) {
    if (c.protocol !== 'tcp' || !c.tcp || c.tcp.state === 'no-handshake') continue;
    const [cl, sv] = c.tcp.client === 'b' ? [c.b, c.a] : [c.a, c.b];
    const key = `${who(cl)}\u0000${who(sv)}:${sv.port ?? ''}`;
    const st = by.get(key) ?? { client: who(cl), server: `${who(sv)}${sv.port !== undefined ? `:${sv.port}` : ''}`, attempts: 0, completed: 0, refused: 0, unanswered: 0, resets: 0, successRate: 0 };
    st.attempts++;
    if (c.tcp.state === 'completed') st.completed++;
    else if (c.tcp.state === 'refused') st.refused++;
    else st.unanswered++;
    st.resets += c.tcp.resets;
    by.set(key, st);
  }
  const out = [...by.values()];
  for (const s2 of out) s2.successRate = s2.attempts === 0 ? 0 : s2.completed / s2.attempts;
  return out.sort((a, b) => b.attempts - a.attempts || a.client.localeCompare(b.client));
}

/** HTTP status codes folded into classes (2xx, 3xx, 4xx, 5xx). */
export function statusClasses(statuses: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [code, n] of Object.entries(statuses)) {
    const k = /^[1-5][0-9][0-9]$/.test(code) ? `${code[0] ?? ''}xx` : code;
    out[k] = (out[k] ?? 0) + n;
  }
  return out;
}
