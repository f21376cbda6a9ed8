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
  http: { requests: number; responses: number; statuses: Record<string, number>; latency: LatencySummary | null };
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
