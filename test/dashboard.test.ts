// The chart's Grafana dashboard (charts/pcapper/files/dashboards/pcapper-pod-pairs.json) against
// the agent's real /metrics: the agent's HTTPS file server (AgentServer, src/agent/server.ts) serves
// the exposition of the agent's registry (AgentMetrics) fed by PairMetrics with the records that
// RecordStream makes from real captures of test/data/pcaps (plus the schema-valid hand-built
// records of test/harness/pair-records.ts for DNS errors, HTTP/2 and gRPC, which no capture in the
// repo holds). A real Prometheus (built by scripts/prometheus.mjs) scrapes it over TLS, checking
// the agent's certificate against the pcapper CA as the chart's ServiceMonitor does; then every
// panel's expression runs through Prometheus's HTTP API and must return exactly the series and the
// values the records imply.
//
// The records are offered twice, each time between two scrapes, so each counter goes X → 2X and
// rate() sees an increase of X. rate() extrapolates to the window's ends by a factor that depends
// only on the sample times, which every series shares (one scrape), so each rate is k·X with one k
// for the whole test: the test measures k once and checks every rate against k·(expected count);
// ratios and quantiles are independent of k and checked exactly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentMetrics } from '../src/agent/metrics.js';
import { RTT_BUCKETS } from '../src/agent/pair-metrics.js';
import { AgentServer } from '../src/agent/server.js';
import { PcapFormatError } from '../src/pcap/errors.js';
import type { EndpointInfo } from '../src/pcap/metadata.js';
import { CaptureReader, drain } from '../src/pcap/reader.js';
import { RecordStream } from '../src/pcap/records/stream.js';
import type { PcapRecord } from '../src/pcap/records/types.js';
import { silentLogger } from '../src/telemetry/log.js';
import { eventually } from './harness/eventually.js';
import { pairRecordsFixture } from './harness/pair-records.js';
import { repoRoot, testdataDir } from './harness/paths.js';
import { AGENT_DNS, makePcapperPki } from './harness/pki.js';
import { PrometheusServer, type PromSample } from './harness/prometheus.js';

interface Target {
  expr: string;
  refId: string;
}
interface Panel {
  title: string;
  targets: Target[];
}
const DASHBOARD = JSON.parse(readFileSync(join(repoRoot(), 'charts/pcapper/files/dashboards/pcapper-pod-pairs.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: Array<{ name: string; definition?: string }> };
};

async function recordsOf(file: string, endpoints: Map<string, EndpointInfo>): Promise<PcapRecord[]> {
  const rs = new RecordStream({ endpoints });
  const all: PcapRecord[] = [];
  try {
    const r = await CaptureReader.open(join(testdataDir(), file));
    await drain(r, (p) => {
      rs.add(p);
      all.push(...rs.drain());
    });
  } catch (e) {
    if (!(e instanceof PcapFormatError)) throw e; // fwscada ends inside a packet
  }
  all.push(...rs.finish().records);
  return all;
}

// What the records imply, per pair `src > dst` (pod names; `external` when metadata does not know
// the IP), worked out from the captures (tshark agrees: see the comments) and the fixture.
// fwscada: hmi-0 → plc-4: RSTO RSTO S1 (RTT 6.595 ms); → plc-3: RSTO S1 (8.062 ms); → 56.10.101.10: RSTO S1 (4.85 ms)
// web: web-client → outside: REJ, SF (183.159 ms) with GET 200
// pcapng-example: scanner → outside: REJ; 127.0.0.1 → 127.0.0.1: SF (0.054 ms)
const ATTEMPTED = { 'hmi-0>plc-4': 3, 'hmi-0>plc-3': 2, 'hmi-0>external': 2, 'web-client>external': 2, 'scanner>external': 1, 'external>external': 1 };
const ESTABLISHED = { 'hmi-0>plc-4': 3, 'hmi-0>plc-3': 2, 'hmi-0>external': 2, 'web-client>external': 1, 'external>external': 1 };
const REFUSED = { 'web-client>external': 1, 'scanner>external': 1 };
const RESET = { 'hmi-0>plc-4': 2, 'hmi-0>plc-3': 1, 'hmi-0>external': 1 };
const RATIO = { 'hmi-0>plc-4': 1, 'hmi-0>plc-3': 1, 'hmi-0>external': 1, 'web-client>external': 0.5, 'scanner>external': 0, 'external>external': 1 };
const DNS_ERRORS = { 'NXDOMAIN web-0>coredns-0': 2, 'none web-0>coredns-0': 1 };
const HTTP = { 'http1 2xx web-client>external': 1, 'http1 5xx web-0>api-0': 1, 'http1 none web-0>api-0': 1, 'http2 4xx web-0>api-0': 1 };
const GRPC = { 'OK web-0>api-0': 2, 'NOT_FOUND web-0>api-0': 1, 'none web-0>api-0': 1 };
const RTT_MS = { 'hmi-0>plc-4': [6.595], 'hmi-0>plc-3': [8.062], 'hmi-0>external': [4.85], 'web-client>external': [183.159], 'external>external': [0.054] };

/** histogram_quantile over RTT_BUCKETS for these observations (Prometheus's linear interpolation). */
function quantile(q: number, obsSeconds: number[]): number {
  const counts = RTT_BUCKETS.map((le) => obsSeconds.filter((o) => o <= le).length);
  const rank = q * obsSeconds.length;
  const i = counts.findIndex((c) => c >= rank);
  const lower = i === 0 ? 0 : RTT_BUCKETS[i - 1]!;
  const below = i === 0 ? 0 : counts[i - 1]!;
  return lower + (RTT_BUCKETS[i]! - lower) * ((rank - below) / (counts[i]! - below));
}

const pairOf = (m: Record<string, string>): string => `${m.src_pod}>${m.dst_pod}`;

describe('Grafana dashboard queries against the agent /metrics, scraped by a real Prometheus', { timeout: 60 * 60_000 }, () => {
  let dir: string;
  let server: AgentServer;
  let prom: PrometheusServer;
  const metrics = new AgentMetrics('node-a', { pairTopN: 100 });
  let records: PcapRecord[] = [];
  const target = { capture: 'cap', namespace: 'shop', target: 'node-a' };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pcapper-dash-'));
    const pki = makePcapperPki(join(dir, 'pki'));
    metrics.bindSnapshot(() => ({ capturesRunning: 1, diskUsedBytes: 0, diskFreeBytes: 0, targets: [] }));
    server = new AgentServer(
      { nodeName: 'node-a', dataDir: join(dir, 'data'), metrics: () => metrics.render(), streams: () => [], onAuthDenied: () => undefined },
      silentLogger,
      { certFile: pki.agent.cert, keyFile: pki.agent.key, caFile: pki.ca.cert, clientNames: ['pcapper-server'] },
    );
    const port = await server.listen('127.0.0.1', 0);
    records = [
      ...(await recordsOf(
        'fpcap__RICS2021_787__fwscada_20200625_160926.pcap',
        new Map([
          ['192.168.197.8', { pod: 'hmi-0', namespace: 'scada' }],
          ['56.4.101.10', { pod: 'plc-4', namespace: 'scada' }],
          ['56.3.101.10', { pod: 'plc-3', namespace: 'scada' }],
        ]),
      )),
      ...(await recordsOf('zeek__web.pcap', new Map([['141.42.64.125', { pod: 'web-client', namespace: 'shop' }]]))),
      ...(await recordsOf('fpcap__pcapng-example.pcapng', new Map([['198.202.88.52', { pod: 'scanner', namespace: 'sec' }]]))),
      ...pairRecordsFixture(),
    ];
    prom = await PrometheusServer.start([
      {
        job_name: 'pcapper-agent',
        scheme: 'https',
        metrics_path: '/metrics',
        // as the chart's ServiceMonitor: the agent's certificate checked against the pcapper CA under the Service's name
        tls_config: { ca_file: pki.ca.cert, server_name: AGENT_DNS },
        static_configs: [{ targets: [`127.0.0.1:${port}`] }],
      },
    ]);
    await eventually(async () => (await prom.query('up{job="pcapper-agent"} == 1')).length === 1, {
      what: 'Prometheus scraping the agent (up == 1)',
      timeoutMs: 60_000,
      describe: () => prom.targets(),
    });
    // twice, each between two scrapes: each counter goes X → 2X (see the file comment)
    const probe = 'pcapper_pair_connections_attempted_total{src_pod="hmi-0",dst_pod="plc-4"}';
    for (const expected of [3, 6]) {
      for (const r of records) metrics.pairs.offer(r, target);
      await eventually(async () => (await prom.query(probe))[0]?.value === expected, { what: `${probe} = ${expected} in Prometheus`, timeoutMs: 60_000, describe: () => prom.targets() });
    }
  });

  after(async () => {
    await prom?.stop();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a panel target's expression as Grafana would with capture = All. */
  async function run(t: Target, at: number): Promise<PromSample[]> {
    const expr = t.expr.replaceAll('$__rate_interval', '10m').replaceAll('$capture', '.*');
    assert.doesNotMatch(expr, /\$/, `a Grafana variable this test does not know in ${t.expr}`);
    return prom.query(expr, at);
  }

  it('every panel returns the series and values the records imply', async () => {
    const at = Date.now() / 1000;
    const panel = (title: string): Panel => {
      const p = DASHBOARD.panels.find((x) => x.title === title);
      assert.ok(p, `panel ${title}`);
      return p;
    };
    const one = async (title: string): Promise<PromSample[]> => {
      const p = panel(title);
      assert.equal(p.targets.length, 1, title);
      return run(p.targets[0]!, at);
    };
    // every series of a rate panel carries capture shop/cap and the pair's namespaces
    const labelsOk = (s: PromSample[]): void => {
      for (const x of s) assert.equal(x.metric.capture, 'shop/cap', JSON.stringify(x.metric));
    };
    const attempted = await one('Connections attempted per second');
    const k = attempted.find((x) => pairOf(x.metric) === 'hmi-0>plc-4')!.value / 3;
    assert.ok(k > 0 && Number.isFinite(k), `rate factor ${k}`);
    const checkRates = (title: string, got: PromSample[], key: (m: Record<string, string>) => string, want: Record<string, number>): void => {
      labelsOk(got);
      const seen = Object.fromEntries(got.map((x) => [key(x.metric), x.value / k]));
      assert.deepEqual(Object.keys(seen).sort(), Object.keys(want).sort(), `${title}: series`);
      for (const [kk, v] of Object.entries(want)) assert.ok(Math.abs(seen[kk]! - v) < 1e-6, `${title} ${kk}: ${seen[kk]} (÷k), want ${v}`);
    };
    const checked = new Set<string>();
    const mark = (title: string, refs = ['A']): void => refs.forEach((r) => checked.add(`${title}/${r}`));

    checkRates('attempted', attempted, pairOf, ATTEMPTED);
    mark('Connections attempted per second');
    checkRates('refused', await one('Connections refused per second'), pairOf, REFUSED);
    mark('Connections refused per second');
    checkRates('reset', await one('Connections reset per second'), pairOf, RESET);
    mark('Connections reset per second');
    checkRates('dns', await one('DNS errors by rcode'), (m) => `${m.rcode} ${pairOf(m)}`, DNS_ERRORS);
    mark('DNS errors by rcode');
    checkRates('http', await one('HTTP status classes'), (m) => `${m.protocol} ${m.class} ${pairOf(m)}`, HTTP);
    mark('HTTP status classes');
    checkRates('grpc', await one('gRPC status'), (m) => `${m.status} ${pairOf(m)}`, GRPC);
    mark('gRPC status');
    // the established counter is read by the ratio panel; check it directly too
    checkRates('established', await prom.query('max by (capture, src_namespace, src_pod, dst_namespace, dst_pod) (rate(pcapper_pair_connections_established_total[10m]))', at), pairOf, ESTABLISHED);

    const ratio = await one('Connection success ratio per pod pair');
    labelsOk(ratio);
    const ratios = Object.fromEntries(ratio.map((x) => [pairOf(x.metric), x.value]));
    assert.deepEqual(Object.keys(ratios).sort(), Object.keys(RATIO).sort(), 'success ratio: one series per attempted pair (0 too)');
    for (const [p, v] of Object.entries(RATIO)) assert.ok(Math.abs(ratios[p]! - v) < 1e-12, `success ratio ${p}: ${ratios[p]}, want ${v} (k cancels)`);
    mark('Connection success ratio per pod pair');

    const rtt = panel('TCP handshake RTT quantiles');
    assert.deepEqual(rtt.targets.map((t) => t.refId), ['A', 'B', 'C']);
    for (const [t, q] of rtt.targets.map((t, i) => [t, [0.5, 0.9, 0.99][i]!] as const)) {
      const got = await run(t, at);
      labelsOk(got);
      const want = Object.fromEntries(Object.entries(RTT_MS).map(([p, ms]) => [p, quantile(q, ms.map((m) => m / 1000))]));
      const seen = Object.fromEntries(got.map((x) => [pairOf(x.metric), x.value]));
      assert.deepEqual(Object.keys(seen).sort(), Object.keys(want).sort(), `p${q * 100} series`);
      for (const [p, v] of Object.entries(want)) assert.ok(Math.abs(seen[p]! - v) < 1e-9, `p${q * 100} ${p}: ${seen[p]}, want ${v}`);
    }
    mark('TCP handshake RTT quantiles', ['A', 'B', 'C']);
    // e.g. hmi-0 → plc-4, one RTT of 6.595 ms in (5 ms, 10 ms]: p50 = 7.5 ms
    assert.ok(Math.abs(quantile(0.5, [0.006595]) - 0.0075) < 1e-12);

    // no panel target left unchecked
    const all = DASHBOARD.panels.flatMap((p) => p.targets.map((t) => `${p.title}/${t.refId}`));
    assert.deepEqual(all.filter((x) => !checked.has(x)), [], 'panel targets this test does not check');
  });

  it('the capture variable lists the capture', async () => {
    const v = DASHBOARD.templating.list.find((x) => x.name === 'capture');
    const m = /^label_values\(([a-z_]+), ([a-z_]+)\)$/.exec(v?.definition ?? '');
    assert.ok(m, `capture variable: ${v?.definition}`);
    const res = (await (await fetch(`${prom.url}/api/v1/label/${m[2]}/values?${new URLSearchParams({ 'match[]': m[1]! }).toString()}`)).json()) as { data: string[] };
    assert.deepEqual(res.data, ['shop/cap']);
  });
});
