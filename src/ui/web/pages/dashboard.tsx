/**
 * The dashboard of a source, from the summary engine (src/pcap/summary.ts, the same numbers as
 * `kubectl pcap summary`): connections with their success rate, TCP health, DNS, HTTP, top talkers,
 * and packets/bytes over time per capture point (uPlot).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { fmtBytes, getJson, src } from '../api.js';
import type { Timeline } from '../../../pcap/view/types.js';
import { connectionStats, grpcRows, httpRows, statusClasses, type LatencySummary, type RequestRow, type Summary } from '../../shared/dashboard-data.js';

export function Dashboard({ source, version }: { source: string; version: number }) {
  const [s, setS] = useState<Summary | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    getJson<Summary>(`${src(source)}/summary`).then(setS, (e: Error) => setError(e.message));
  }, [source, version]);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!s) return <p class="empty">summarising…</p>;
  const conns = connectionStats(s);
  const http = statusClasses(s.http.statuses);
  return (
    <div class="dashboard" id="dashboard">
      <div class="tiles">
        <Tile label="Packets" value={String(s.packets)} />
        <Tile label="Bytes" value={fmtBytes(s.bytes)} />
        <Tile label="Duration" value={`${s.durationSeconds.toFixed(1)} s`} />
        <Tile label="Capture points" value={String(s.capturePoints)} />
        <Tile label="TCP connections" value={String(s.tcp.connections)} />
        <Tile label="DNS queries" value={String(s.dns.queries)} />
        <Tile label="HTTP requests" value={String(s.http.requests)} />
      </div>
      {s.errors.length > 0 ? <p class="error">{s.errors.join('; ')}</p> : null}
      <Chart source={source} version={version} />
      <div class="cards">
        <div class="card wide">
          <h2>Connections</h2>
          <table class="grid" id="connections">
            <thead><tr><th>Client</th><th>Server</th><th class="num">Attempts</th><th class="num">Success</th><th class="num">Refused</th><th class="num">Unanswered</th></tr></thead>
            <tbody>
              {conns.slice(0, 30).map((c) => (
                <tr key={`${c.client}>${c.server}`}>
                  <td>{c.client}</td><td>{c.server}</td><td class="num">{c.attempts}</td>
                  <td class={`num ${c.successRate < 1 ? 'warn' : ''}`}>{(c.successRate * 100).toFixed(0)}%</td>
                  <td class="num">{c.refused}</td><td class="num">{c.unanswered}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="card" id="tcp-health">
          <h2>TCP health</h2>
          <dl class="facts">
            <dt>Handshakes completed</dt><dd>{s.tcp.completed}</dd>
            <dt>Refused</dt><dd>{s.tcp.refused}</dd>
            <dt>SYN unanswered</dt><dd>{s.tcp.synUnanswered}</dd>
            <dt>Resets</dt><dd>{s.tcp.resets}</dd>
            <dt>Retransmissions</dt><dd>{s.tcp.retransmissions} of {s.tcp.segments} segments</dd>
            <dt>Handshake RTT</dt><dd>{latency(s.tcp.handshakeRtt)}</dd>
          </dl>
        </div>
        <div class="card" id="dns">
          <h2>DNS</h2>
          <dl class="facts">
            <dt>Queries / responses</dt><dd>{s.dns.queries} / {s.dns.responses}</dd>
            <dt>Unanswered</dt><dd>{s.dns.unanswered}</dd>
            <dt>Rcodes</dt><dd>{counts(s.dns.rcodes)}</dd>
            <dt>Latency</dt><dd>{latency(s.dns.latency)}</dd>
          </dl>
        </div>
        <div class="card" id="http">
          <h2>HTTP</h2>
          <dl class="facts">
            <dt>Requests / responses</dt><dd>{s.http.requests} / {s.http.responses}</dd>
            <dt>Status classes</dt><dd>{counts(http)}</dd>
            <dt>Latency</dt><dd>{latency(s.http.latency)}</dd>
          </dl>
        </div>
        <Requests id="http-paths" title="HTTP/1.x requests by path" what="Request" rows={httpRows(s.http.endpoints)} />
        {s.http2 && s.http2.requests > 0 ? (
          <div class="card" id="http2">
            <h2>HTTP/2</h2>
            <dl class="facts">
              <dt>Connections</dt><dd>{s.http2.connections} ({s.http2.upgraded} by Upgrade)</dd>
              <dt>Streams / responses</dt><dd>{s.http2.requests} / {s.http2.responses}</dd>
              <dt>Reset / unfinished</dt><dd>{s.http2.resets} / {s.http2.unfinished}</dd>
              <dt>Status classes</dt><dd>{counts(statusClasses(s.http2.statuses))}</dd>
              <dt>Latency</dt><dd>{latency(s.http2.latency)}</dd>
            </dl>
          </div>
        ) : null}
        <Requests id="http2-streams" title="HTTP/2 streams by path (not gRPC)" what="Request" rows={httpRows(s.http2?.endpoints)} />
        <Requests id="grpc-calls" title={`gRPC calls${s.grpc ? ` (${s.grpc.calls})` : ''}`} what="Service/method" rows={grpcRows(s.grpc)} />
        <div class="card">
          <h2>Top talkers</h2>
          <table class="grid" id="talkers">
            <thead><tr><th>Pod or address</th><th class="num">Packets</th><th class="num">Bytes</th></tr></thead>
            <tbody>
              {s.topTalkers.slice(0, 15).map((t) => (
                <tr key={t.address}><td>{t.name ?? t.address}</td><td class="num">{t.packets}</td><td class="num">{fmtBytes(t.bytes)}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </div>
  );
}

/** A table of requests (HTTP paths, HTTP/2 streams, gRPC methods); nothing when there are none. */
function Requests({ id, title, what, rows }: { id: string; title: string; what: string; rows: RequestRow[] }) {
  if (rows.length === 0) return null;
  const ms = (v: number | null): string => (v === null ? '—' : v.toFixed(2));
  return (
    <div class="card wide">
      <h2>{title}</h2>
      <table class="grid" id={id}>
        <thead><tr><th>{what}</th><th class="num">Count</th><th>Status</th><th class="num">p50 ms</th><th class="num">max ms</th></tr></thead>
        <tbody>
          {rows.slice(0, 30).map((r) => (
            <tr key={r.name}>
              <td><code>{r.name}</code></td><td class="num">{r.count}</td><td class={r.failing ? 'warn' : ''}>{r.statuses}</td>
              <td class="num">{ms(r.p50Ms)}</td><td class="num">{ms(r.maxMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Tile({ label, value }: { label: string; value: string }) {
  return (
    <div class="tile">
      <div class="v">{value}</div>
      <div class="l">{label}</div>
    </div>
  );
}

const counts = (m: Record<string, number>): string => Object.entries(m).map(([k, v]) => `${k}: ${v}`).join(', ') || '—';
const latency = (l: LatencySummary | null): string => (l ? `p50 ${l.p50Ms.toFixed(2)} ms · p95 ${l.p95Ms.toFixed(2)} ms · max ${l.maxMs.toFixed(2)} ms (${l.count})` : '—');

const fmtSeconds = (s: number): string => (s >= 1 ? `${Number(s.toPrecision(3))} s` : `${Number((s * 1000).toPrecision(3))} ms`);

const COLORS = ['#2f7ed8', '#d9534f', '#5cb85c', '#f0ad4e', '#8e44ad', '#16a085', '#e67e22', '#7f8c8d'];

function Chart({ source, version }: { source: string; version: number }) {
  const box = useRef<HTMLDivElement>(null);
  const [metric, setMetric] = useState<'packets' | 'bytes'>('packets');
  const [t, setT] = useState<Timeline | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    getJson<Timeline>(`${src(source)}/timeline?buckets=120`).then(setT, (e: Error) => setError(e.message));
  }, [source, version]);
  useEffect(() => {
    if (!t || !box.current) return;
    const n = Math.max(0, ...t.series.map((s) => s.packets.length));
    const xs = Array.from({ length: n }, (_, i) => t.start + i * t.bucketSeconds);
    const data: uPlot.AlignedData = [xs, ...t.series.map((s) => s[metric])];
    const plot = new uPlot(
      {
        width: box.current.clientWidth || 800,
        height: 240,
        series: [{}, ...t.series.map((s, i) => ({ label: s.capturePoint, stroke: COLORS[i % COLORS.length] ?? '#888', width: 1.5 }))],
        axes: [{ stroke: 'currentColor' }, { stroke: 'currentColor', label: `${metric} per ${fmtSeconds(t.bucketSeconds)}` }],
      },
      data,
      box.current,
    );
    return () => plot.destroy();
  }, [t, metric]);
  return (
    <div class="card chart" id="timeline">
      <h2>
        {metric === 'packets' ? 'Packets' : 'Bytes'} over time per capture point{' '}
        <button type="button" class="link" onClick={() => setMetric(metric === 'packets' ? 'bytes' : 'packets')}>show {metric === 'packets' ? 'bytes' : 'packets'}</button>
      </h2>
      {error ? <p class="error">{error}</p> : null}
      <div ref={box} />
    </div>
  );
}
