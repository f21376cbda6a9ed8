// PairMetrics on the agent's registry (AgentMetrics.render(), what /metrics serves), fed with the
// records that RecordStream makes from real captures of test/data/pcaps (IPs named as pods through
// the same endpoint map capture metadata gives the summary), and, for the kinds no capture in the
// repo holds (DNS errors, HTTP 5xx, HTTP/2, gRPC), with hand-built records that the record schema
// accepts. The assertions read the exposition text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { CaptureReader, drain } from '../pcap/reader.js';
import { PcapFormatError } from '../pcap/errors.js';
import { RecordStream } from '../pcap/records/stream.js';
import { loadRecordSchema, validateRecord } from '../pcap/records/validate.js';
import type { PcapRecord, RecordEndpoint } from '../pcap/records/types.js';
import type { EndpointInfo } from '../pcap/metadata.js';
import { AgentMetrics } from './metrics.js';
import { PairMetrics, connectionOutcome, statusClass } from './pair-metrics.js';
import { parseExposition, sample } from '../../test/harness/exposition.js';
import { pairRecordsFixture } from '../../test/harness/pair-records.js';
import { testdataDir } from '../../test/harness/paths.js';

const PCAPS = testdataDir();
const TARGET = { capture: 'cap', namespace: 'shop', target: 'x' };

async function recordsOf(file: string, endpoints: Map<string, EndpointInfo>): Promise<PcapRecord[]> {
  const rs = new RecordStream({ endpoints });
  const all: PcapRecord[] = [];
  try {
    const r = await CaptureReader.open(join(PCAPS, file));
    await drain(r, (p) => {
      rs.add(p);
      all.push(...rs.drain());
    });
  } catch (e) {
    // fwscada ends inside a packet: the records cover the packets before it, as `summary` does
    if (!(e instanceof PcapFormatError)) throw e;
  }
  all.push(...rs.finish().records);
  return all;
}

const pair = (src: string, dst: string, extra: Record<string, string> = {}) => ({
  node: 'node-a',
  capture: 'shop/cap',
  src_namespace: src === 'external' ? '' : src.split('/')[0]!,
  src_workload: '',
  src_pod: src === 'external' ? 'external' : src.split('/')[1]!,
  dst_namespace: dst === 'external' ? '' : dst.split('/')[0]!,
  dst_workload: '',
  dst_pod: dst === 'external' ? 'external' : dst.split('/')[1]!,
  ...extra,
});

describe('per pod pair metrics', () => {
  it('connections from real captures: attempted, established, refused, reset, RTT', async () => {
    const m = new AgentMetrics('node-a', { defaultMetrics: false, pairTopN: 10 });
    const scada = new Map<string, EndpointInfo>([
      ['192.168.197.8', { pod: 'hmi-0', namespace: 'scada', node: 'node-a' }],
      ['56.4.101.10', { pod: 'plc-4', namespace: 'scada', node: 'node-b' }],
      ['56.3.101.10', { pod: 'plc-3', namespace: 'scada', node: 'node-b' }],
    ]);
    // fwscada: hmi-0 → plc-4 RSTO RSTO S1, → plc-3 RSTO S1, → 56.10.101.10 (not a pod) RSTO S1
    for (const rec of await recordsOf('fpcap__RICS2021_787__fwscada_20200625_160926.pcap', scada)) m.pairs.offer(rec, TARGET);
    // web: a client pod → an outside server: one connection refused (REJ), one SF carrying GET 200
    const web = new Map<string, EndpointInfo>([['141.42.64.125', { pod: 'web-client', namespace: 'shop' }]]);
    for (const rec of await recordsOf('zeek__web.pcap', web)) m.pairs.offer(rec, TARGET);
    const s = parseExposition((await m.render()).body);
    const v = (name: string, labels: Record<string, string>) => sample(s, name, labels);

    assert.equal(v('pcapper_pair_connections_attempted_total', pair('scada/hmi-0', 'scada/plc-4')), 3);
    assert.equal(v('pcapper_pair_connections_established_total', pair('scada/hmi-0', 'scada/plc-4')), 3);
    assert.equal(v('pcapper_pair_connections_reset_total', pair('scada/hmi-0', 'scada/plc-4')), 2);
    assert.equal(v('pcapper_pair_connections_refused_total', pair('scada/hmi-0', 'scada/plc-4')), undefined);
    assert.equal(v('pcapper_pair_connections_attempted_total', pair('scada/hmi-0', 'scada/plc-3')), 2);
    assert.equal(v('pcapper_pair_connections_reset_total', pair('scada/hmi-0', 'scada/plc-3')), 1);
    assert.equal(v('pcapper_pair_connections_attempted_total', pair('scada/hmi-0', 'external')), 2);
    // handshake RTT 6.595 ms (the S1 connection; the RSTO ones have none): bucket 0.01, not 0.005
    assert.equal(v('pcapper_pair_handshake_rtt_seconds_count', pair('scada/hmi-0', 'scada/plc-4')), 1);
    assert.equal(v('pcapper_pair_handshake_rtt_seconds_bucket', pair('scada/hmi-0', 'scada/plc-4', { le: '0.005' })), 0);
    assert.equal(v('pcapper_pair_handshake_rtt_seconds_bucket', pair('scada/hmi-0', 'scada/plc-4', { le: '0.01' })), 1);
    assert.ok(Math.abs(v('pcapper_pair_handshake_rtt_seconds_sum', pair('scada/hmi-0', 'scada/plc-4'))! - 0.006595) < 1e-9);

    assert.equal(v('pcapper_pair_connections_attempted_total', pair('shop/web-client', 'external')), 2);
    assert.equal(v('pcapper_pair_connections_established_total', pair('shop/web-client', 'external')), 1);
    assert.equal(v('pcapper_pair_connections_refused_total', pair('shop/web-client', 'external')), 1);
    assert.equal(v('pcapper_pair_http_responses_total', pair('shop/web-client', 'external', { protocol: 'http1', class: '2xx' })), 1);
    // 183 ms
    assert.equal(v('pcapper_pair_handshake_rtt_seconds_bucket', pair('shop/web-client', 'external', { le: '0.1' })), 0);
    assert.equal(v('pcapper_pair_handshake_rtt_seconds_bucket', pair('shop/web-client', 'external', { le: '0.25' })), 1);
    // no pair series beyond the four pairs seen, and no `other` (top-N not reached)
    const pairs = new Set(s.filter((x) => x.name === 'pcapper_pair_connections_attempted_total').map((x) => `${x.labels.src_pod}>${x.labels.dst_pod}`));
    assert.deepEqual([...pairs].sort(), ['hmi-0>external', 'hmi-0>plc-3', 'hmi-0>plc-4', 'web-client>external']);
  });

  it('DNS rcodes, HTTP classes, HTTP/2 and gRPC statuses (hand-built records the schema accepts)', async () => {
    const schema = loadRecordSchema();
    const recs = pairRecordsFixture();
    for (const r of recs) assert.deepEqual(validateRecord(r, schema), [], JSON.stringify(r));
    // plus real DNS records (NOERROR): queries counted, no error series
    const dnsEps = new Map<string, EndpointInfo>([['10.0.0.4', { pod: 'app-1', namespace: 'shop' }]]);
    const m = new AgentMetrics('node-a', { defaultMetrics: false });
    for (const r of [...recs, ...(await recordsOf('zeek__pcapng-multi-interface.pcapng', dnsEps))]) m.pairs.offer(r, TARGET);
    const s = parseExposition((await m.render()).body);
    const v = (name: string, labels: Record<string, string>) => sample(s, name, labels);
    assert.equal(v('pcapper_pair_dns_queries_total', pair('shop/app-1', 'external')), 2);
    assert.equal(v('pcapper_pair_dns_queries_total', pair('shop/web-0', 'kube-system/coredns-0')), 4);
    assert.equal(v('pcapper_pair_dns_errors_total', pair('shop/web-0', 'kube-system/coredns-0', { rcode: 'NXDOMAIN' })), 2);
    assert.equal(v('pcapper_pair_dns_errors_total', pair('shop/web-0', 'kube-system/coredns-0', { rcode: 'none' })), 1);
    assert.equal(s.filter((x) => x.name === 'pcapper_pair_dns_errors_total' && x.labels.src_pod === 'app-1').length, 0);
    assert.equal(v('pcapper_pair_http_responses_total', pair('shop/web-0', 'shop/api-0', { protocol: 'http1', class: '5xx' })), 1);
    assert.equal(v('pcapper_pair_http_responses_total', pair('shop/web-0', 'shop/api-0', { protocol: 'http1', class: 'none' })), 1);
    assert.equal(v('pcapper_pair_http_responses_total', pair('shop/web-0', 'shop/api-0', { protocol: 'http2', class: '4xx' })), 1);
    assert.equal(v('pcapper_pair_grpc_calls_total', pair('shop/web-0', 'shop/api-0', { status: 'OK' })), 2);
    assert.equal(v('pcapper_pair_grpc_calls_total', pair('shop/web-0', 'shop/api-0', { status: 'NOT_FOUND' })), 1);
    assert.equal(v('pcapper_pair_grpc_calls_total', pair('shop/web-0', 'shop/api-0', { status: 'none' })), 1);
    // a gRPC call is not counted again as an HTTP/2 2xx
    assert.equal(v('pcapper_pair_http_responses_total', pair('shop/web-0', 'shop/api-0', { protocol: 'http2', class: '2xx' })), undefined);
  });

  it('top-N: pairs beyond N count under other; a busy newcomer evicts the quietest pair and its series go', async () => {
    const reg = new Registry();
    const pm = new PairMetrics(reg, { topN: 2, rerankEvery: 10, node: 'n' });
    const rec = (src: string, dst: string): PcapRecord => {
      const ep = (pod: string): RecordEndpoint => ({ ip: '10.0.0.1', port: 80, pod, namespace: 'ns', node: null, workload: null, external: false });
      return { schemaVersion: 1, kind: 'dns', ts: 1, client: ep(src), server: ep(dst), id: 1, qname: 'x.', qtype: 'A', rcode: 'SERVFAIL', answers: 0, latencyMs: 1 };
    };
    const t = { capture: 'c', namespace: 'ns', target: 't' };
    // period 1 (10 records): a→b ×4, a→c ×1, then d→e ×5 (untracked: other)
    for (let i = 0; i < 4; i++) pm.offer(rec('a', 'b'), t);
    pm.offer(rec('a', 'c'), t);
    for (let i = 0; i < 5; i++) pm.offer(rec('d', 'e'), t); // the 10th record re-ranks: d→e (5) > a→c (1)
    assert.deepEqual(pm.trackedPairs().map((p) => `${p.src_pod}>${p.dst_pod}`).sort(), ['a>b', 'd>e']);
    let s = parseExposition(await reg.metrics());
    const q = s.filter((x) => x.name === 'pcapper_pair_dns_queries_total');
    assert.deepEqual(
      q.map((x) => `${x.labels.src_pod}>${x.labels.dst_pod}=${x.value}`).sort(),
      ['a>b=4', 'other>other=5'], // a→c evicted (series removed); d→e tracked, its series starts at 0 and is not written yet
    );
    assert.equal(s.filter((x) => x.name === 'pcapper_pair_dns_errors_total').length, 2);
    pm.offer(rec('d', 'e'), t);
    pm.offer(rec('a', 'c'), t); // back to other now
    s = parseExposition(await reg.metrics());
    assert.deepEqual(
      s.filter((x) => x.name === 'pcapper_pair_dns_queries_total').map((x) => `${x.labels.src_pod}>${x.labels.dst_pod}=${x.value}`).sort(),
      ['a>b=4', 'd>e=1', 'other>other=6'],
    );
    // at most topN + 1 pair series per metric, however many pairs pass
    for (let i = 0; i < 500; i++) pm.offer(rec(`p${i % 50}`, 'q'), t);
    s = parseExposition(await reg.metrics());
    assert.ok(s.filter((x) => x.name === 'pcapper_pair_dns_queries_total').length <= 3);
    assert.throws(() => new PairMetrics(new Registry(), { topN: 0 }), /topN must be an integer ≥ 1/);
  });

  it('conn_state and status classes', () => {
    assert.deepEqual(connectionOutcome('REJ'), { attempted: true, established: false, refused: true, reset: false });
    assert.deepEqual(connectionOutcome('S0'), { attempted: true, established: false, refused: false, reset: false });
    assert.deepEqual(connectionOutcome('RSTR'), { attempted: true, established: true, refused: false, reset: true });
    assert.deepEqual(connectionOutcome('OTH'), { attempted: false, established: false, refused: false, reset: false });
    assert.equal(statusClass(204), '2xx');
    assert.equal(statusClass(null), 'none');
    assert.equal(statusClass(999), 'none');
  });
});
