// Issue 13 on a real stack: the agent's live analysis publishing to a real Kafka broker.
//
// kube-apiserver, the controller and an agent as a DaemonSet pod in node-a's network namespace
// (test/harness/demo.ts startStack); a real Apache Kafka 4.1 broker (KRaft, test/harness/kafka.ts)
// placed in the control plane's network namespace: the agent reaches it across the pod fabric at
// 10.244.0.254:9092, its advertised listener, as a Kafka cluster outside its node; the test process
// reads the topics through the harness's forwarders (a second listener advertised on the host's
// 127.0.0.1). A PacketCaptureSink (the chart's CRD) names the broker; captures name the sink.
// Traffic is real (HTTP and DNS between pods of a Deployment and a StatefulSet, in their netns).
//
// Checked by state: records on the topic by content (pods, namespace, workloads, 5-tuple, counts
// against tshark on the capture downloaded through the API), keys, recordsPublished = what the topic
// holds; raw mode rebuilt from the raw topic = the capture's packets; the broker stopped mid-capture:
// the capture keeps Running, its file is complete, offered = published + dropped, and records made
// after the broker's restart reach the topic. Nothing is mocked. Needs root (netns, tcpdump) and Java 17.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacketCapture, TargetStatus } from '../src/api/packetcapture.js';
import { CaptureReader, drain } from '../src/pcap/reader.js';
import { RecordStream } from '../src/pcap/records/stream.js';
import type { ConnectionRecord, DnsRecord, HttpRecord, PcapRecord } from '../src/pcap/records/types.js';
import { rawMessageFrom, rebuildPcapng, splitPcapngBlocks } from '../src/sink/kafka/pcapng-messages.js';
import { decodeRecordMessage } from '../src/sink/kafka/record.js';
import { kp } from './cli-support.js';
import { startStack, type Stack } from './harness/demo.js';
import { eventually } from './harness/eventually.js';
import { KafkaBroker, TopicReader, type ConsumedMessage } from './harness/kafka.js';
import type { SimPod } from './harness/kubelet.js';
import { assertRoot, CONTROL_PLANE_IP } from './harness/netns.js';
import { dnsQuery, httpGet, startDnsServer, startHttpServer, type ServerHandle } from './harness/traffic.js';

const NS = 'shop';
const TOPIC = 'pcapper.records';
const RAW_TOPIC = 'pcapper.raw';
const FAULT_TOPIC = 'pcapper.fault';

function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 120_000): Promise<T> {
  return eventually(fn, { what, timeoutMs, everyMs: 250 });
}

function tshark(file: string, args: string[]): string[] {
  const r = spawnSync('tshark', ['-r', file, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, `tshark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

function capinfosCount(file: string): number {
  const r = spawnSync('capinfos', ['-M', '-c', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const m = /Number of packets:\s+(\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  return Number(m[1]);
}

/** Every packet of a file: timestamp (s.ns), original length, link type, bytes. */
async function packetsOf(file: string): Promise<string[]> {
  const out: string[] = [];
  await drain(await CaptureReader.open(file), (p) => out.push(`${p.tsSec}.${String(p.tsNsec).padStart(9, '0')} ${p.origLen} ${p.linkType} ${p.data.subarray(p.dataOffset, p.dataOffset + p.caplen).toString('hex')}`));
  return out;
}

/** The records the library's engine (the same as the agent's) makes of a whole file. */
async function libraryRecords(file: string): Promise<PcapRecord[]> {
  const rs = new RecordStream();
  const out: PcapRecord[] = [];
  await drain(await CaptureReader.open(file), (p) => {
    rs.add(p);
    out.push(...rs.drain());
  });
  out.push(...rs.finish().records);
  return out;
}

/** Distinct records of one key (at-least-once delivery may repeat a message), decoded from their messages. */
function recordsOf(msgs: readonly ConsumedMessage[], key: string): PcapRecord[] {
  const seen = new Set<string>();
  const out: PcapRecord[] = [];
  for (const m of msgs) {
    if (m.key !== key) continue;
    // split as any consumer must (several records of one key per message: docs/kafka.md ndjson/1)
    for (const r of decodeRecordMessage(m.value, m.headers)) {
      const v = JSON.stringify(r);
      if (seen.has(v)) continue;
      seen.add(v);
      out.push(r as PcapRecord);
    }
  }
  return out;
}

describe('live analysis on the real stack: agent -> a real Kafka broker across the pod network (needs root, Java)', { timeout: 1_200_000 }, () => {
  let stack: Stack;
  let broker: KafkaBroker;
  let tmp: string;
  let web: SimPod;
  let client: SimPod;
  const servers: ServerHandle[] = [];
  const readers: TopicReader[] = [];
  let records: TopicReader;
  let raw: TopicReader;
  let fault: TopicReader;

  const kubectl = (args: string[], input?: string): Promise<string> => stack.cluster.kubectlOk(args, input === undefined ? {} : { input });
  const getPc = async (name: string): Promise<PacketCapture> => JSON.parse(await kubectl(['get', 'packetcaptures.pcapper.dev', name, '-n', NS, '-o', 'json'])) as PacketCapture;
  const target = async (name: string): Promise<TargetStatus | undefined> => (await getPc(name)).status?.targets?.find((x) => x.node === 'node-a');

  const sink = (name: string, kafka: Record<string, unknown>): string =>
    JSON.stringify({ apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCaptureSink', metadata: { name }, spec: { kafka: { brokers: [broker.clusterBootstrap], ...kafka }, allowedNamespaces: { names: [NS] } } });
  const capture = (name: string, spec: Record<string, unknown>): Promise<string> =>
    kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name, namespace: NS }, spec: { targetDeployment: 'web', ...spec } }));

  /** The capture as the user gets it: `kubectl pcap download` through the API server. */
  const download = async (name: string): Promise<string> => {
    const out = join(tmp, `${name}.pcapng`);
    const r = await kp(['download', name, '-n', NS, '-w', out], { kubeconfig: stack.cluster.kubeconfigPath, cwd: tmp });
    assert.equal(r.code, 0, `download ${name}: ${r.stderr}`);
    return out;
  };

  const http = (path: string) => httpGet(client, `http://${web.ip}:8080${path}`, { timeoutMs: 5000 });
  const dns = (qname: string) => dnsQuery(client, web.ip, qname, { timeoutMs: 5000 });

  before(async () => {
    assertRoot();
    tmp = mkdtempSync(join(tmpdir(), 'pcapper-kafka-agent-'));
    stack = await startStack({ nodes: ['node-a'], serverReplicas: 1, log: () => undefined });
    broker = await KafkaBroker.start({ partitions: 3, placement: { netns: stack.cluster.controlPlane, host: CONTROL_PLANE_IP, run: stack.cluster.run } });
    assert.equal(broker.clusterBootstrap, `${CONTROL_PLANE_IP}:9092`);
    for (const t of [TOPIC, RAW_TOPIC, FAULT_TOPIC]) await broker.createTopic(t, 3);
    records = await TopicReader.start(broker.bootstrap, TOPIC);
    raw = await TopicReader.start(broker.bootstrap, RAW_TOPIC);
    fault = await TopicReader.start(broker.bootstrap, FAULT_TOPIC);
    readers.push(records, raw, fault);
    await kubectl(['apply', '-f', '-'], sink('flows', { topic: TOPIC, rawTopic: RAW_TOPIC }));
    // a small buffer: an absent broker fills it in a few requests
    await kubectl(['apply', '-f', '-'], sink('flows-small', { topic: FAULT_TOPIC, bufferMaxRecords: 5 }));

    const k = stack.kubelet;
    await k.ensureNamespace(NS);
    const dep = await k.makeDeployment(NS, 'web', 1, { app: 'web' }, ['node-a']);
    const sts = await k.makeStatefulSet(NS, 'client', 1, { app: 'client' }, ['node-a']);
    web = dep.pods[0] as SimPod;
    client = sts.pods[0] as SimPod;
    assert.ok(web && client);
    const cg = (p: SimPod) => (p.cgroup ? { cgroup: p.cgroup } : {});
    servers.push(await startHttpServer({ netnsPath: web.netnsPath, ip: web.ip, ...cg(web) }, 8080, { run: k.run }));
    servers.push(await startDnsServer({ netnsPath: web.netnsPath, ip: web.ip, ...cg(web) }, 53, { 'db.shop.svc.cluster.local': '10.96.0.10', 'cache.shop.svc.cluster.local': '10.96.0.11' }, { run: k.run }));
  });

  after(async () => {
    for (const r of readers) await r.close().catch(() => undefined);
    for (const s of servers) await s.stop().catch(() => undefined);
    await broker?.dispose().catch(() => undefined);
    await stack?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('records of HTTP and DNS between pods reach the topic: keys, pods, workloads, 5-tuples, counts as tshark sees them; recordsPublished = the topic; raw packets rebuilt = the capture', async () => {
    await capture('live', { captureSeconds: '25s', sink: 'flows' });
    const running = await until('live Running', async () => {
      const t = await target('live');
      return t?.phase === 'Running' ? t : undefined;
    });
    const podName = running.pod ?? '';
    assert.equal(podName, web.name);
    const paths: string[] = [];
    for (let i = 0; i < 6; i++) {
      const p = `/kafka-live/${i}`;
      paths.push(p);
      const r = await http(p);
      assert.equal(r.status, 200);
    }
    const names = ['db.shop.svc.cluster.local', 'cache.shop.svc.cluster.local', 'missing.shop.svc.cluster.local'];
    for (const n of names) await dns(n);

    await until('live Finished', async () => {
      const x = await target('live');
      return x && x.phase === 'Finished' && (x.files ?? []).length > 0 ? x : undefined;
    });
    const file = await download('live');
    // what the agent offered: every record the same engine makes of the whole capture
    const offered = (await libraryRecords(file)).length;
    // the final counts follow the phase once the sink settled the target's last records
    const t = await until(`live: recordsPublished + recordsDropped = ${offered} offered`, async () => {
      const x = await target('live');
      return x && (x.recordsPublished ?? 0) + (x.recordsDropped ?? 0) === offered ? x : undefined;
    });
    assert.equal(t.recordsDropped ?? 0, 0, 'nothing dropped with the broker up');
    assert.equal(tshark(file, ['-T', 'fields', '-e', 'frame.number']).length, t.packets, 'the downloaded capture holds what tcpdump reported');
    const key = `${NS}/live/${podName}`;
    const got = await until(`the topic holds the ${t.recordsPublished} records the status counts`, () => {
      const rs = recordsOf(records.messages, key);
      return rs.length >= (t.recordsPublished ?? 0) ? rs : undefined;
    });
    assert.equal(got.length, t.recordsPublished, 'recordsPublished = distinct records on the topic for this pod');
    assert.equal((await getPc('live')).status?.recordsPublished, t.recordsPublished, 'the capture sums its one target');
    const mine = records.messages.filter((m) => m.key.startsWith(`${NS}/live/`));
    assert.ok(mine.every((m) => m.key === key), `every key is <ns>/<capture>/<pod>: ${[...new Set(mine.map((m) => m.key))].join(', ')}`);
    assert.equal(new Set(mine.map((m) => m.partition)).size, 1, 'one partition per key');

    const webEnd = { ip: web.ip, pod: podName, namespace: NS, node: 'node-a', workload: 'Deployment/web', external: false };
    const clientEnd = { ip: client.ip, pod: client.name, namespace: NS, node: 'node-a', workload: 'StatefulSet/client', external: false };

    // HTTP: one record per request, as tshark's http dissector counts them
    const https = got.filter((r): r is HttpRecord => r.kind === 'http');
    assert.equal(https.length, tshark(file, ['-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']).length, 'http records = tshark http.request');
    assert.deepEqual(https.map((r) => r.path).sort(), [...paths].sort());
    for (const r of https) {
      assert.equal(r.method, 'GET');
      assert.equal(r.status, 200);
      assert.deepEqual({ ...r.client, port: undefined }, { ...clientEnd, port: undefined }, JSON.stringify(r.client));
      assert.deepEqual(r.server, { ...webEnd, port: 8080 });
    }

    // DNS: one record per query, tshark counts the queries and the NXDOMAIN
    const dnss = got.filter((r): r is DnsRecord => r.kind === 'dns');
    assert.equal(dnss.length, tshark(file, ['-Y', 'dns.flags.response == 0', '-T', 'fields', '-e', 'dns.id']).length, 'dns records = tshark queries');
    assert.deepEqual(dnss.map((r) => r.qname).sort(), [...names].sort());
    assert.equal(dnss.filter((r) => r.rcode === 'NXDOMAIN').length, tshark(file, ['-Y', 'dns.flags.rcode == 3', '-T', 'fields', '-e', 'dns.id']).length);
    for (const r of dnss) {
      assert.deepEqual(r.server, { ...webEnd, port: 53 });
      assert.equal(r.client.pod, client.name);
      assert.equal(r.client.workload, 'StatefulSet/client');
      assert.equal(r.answers, r.qname.startsWith('missing') ? 0 : 1);
    }

    // TCP connections: per tcp.stream, the 5-tuple and the packet count as tshark sees them
    const conns = got.filter((r): r is ConnectionRecord => r.kind === 'connection' && r.protocol === 'tcp');
    const streams = new Map<string, { port: number; packets: number; bytes: number }>();
    for (const line of tshark(file, ['-Y', 'tcp', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'frame.len'])) {
      const [s, sp, dp, len] = line.split('\t');
      const cur = streams.get(s ?? '') ?? { port: Number(sp) === 8080 ? Number(dp) : Number(sp), packets: 0, bytes: 0 };
      cur.packets++;
      cur.bytes += Number(len);
      streams.set(s ?? '', cur);
    }
    assert.equal(conns.length, streams.size, 'one connection record per tcp.stream');
    for (const st of streams.values()) {
      const c = conns.find((r) => r.orig.port === st.port);
      assert.ok(c, `a record for the connection from client port ${st.port}`);
      assert.deepEqual(c.orig, { ...clientEnd, port: st.port });
      assert.deepEqual(c.resp, { ...webEnd, port: 8080 });
      assert.equal(c.state, 'SF');
      assert.equal(c.origPackets + c.respPackets, st.packets, `packets of ${st.port} = tshark`);
      assert.equal(c.origBytes + c.respBytes, st.bytes, `bytes of ${st.port} = tshark`);
    }
    const udp = got.filter((r): r is ConnectionRecord => r.kind === 'connection' && r.protocol === 'udp');
    assert.ok(udp.length >= 1 && udp.every((r) => r.resp.port === 53 && r.resp.pod === podName), 'the DNS exchanges as UDP connections');

    // raw mode: the pcapng messages of this target, rebuilt, hold the capture's packets
    const rawKey = `${NS}/live/${podName}`;
    const rawMsgs = await until('the raw messages of the whole capture', () => {
      const ms = raw.messages.filter((m) => m.key === rawKey);
      const rb = ms.length > 0 ? rebuildPcapng(ms.map((m) => rawMessageFrom(m.value, m.headers))) : undefined;
      const epbs = rb ? splitPcapngBlocks(rb.pcapng).filter((b) => b.readUInt32LE(0) === 6).length : 0;
      return rb && rb.missing.length === 0 && epbs === t.packets ? ms : undefined;
    });
    assert.ok(raw.messages.every((m) => !m.key.startsWith(`${NS}/live/`) || m.key === rawKey), 'raw keys: <ns>/<capture>/<pod>');
    const rebuilt = rebuildPcapng(rawMsgs.map((m) => rawMessageFrom(m.value, m.headers)));
    const rebuiltFile = join(tmp, 'live-raw.pcapng');
    writeFileSync(rebuiltFile, rebuilt.pcapng, { mode: 0o600 });
    assert.equal(capinfosCount(rebuiltFile), capinfosCount(file), 'capinfos: same packet count');
    assert.deepEqual(await packetsOf(rebuiltFile), await packetsOf(file), 'every packet: same timestamp, length, link type and bytes as the downloaded capture');
    // and a message alone is a readable pcapng file
    const one = join(tmp, 'one.pcapng');
    writeFileSync(one, rawMsgs[0]?.value ?? Buffer.alloc(0), { mode: 0o600 });
    assert.ok(capinfosCount(one) >= 0);
  });

  it('a sink the agent cannot build (credentials entries missing from the Secret): the capture runs, its target says why (sinkError) and a Warning Event SinkUnavailable', async () => {
    await kubectl(['apply', '-f', '-'], sink('flows-nocreds', { topic: TOPIC, tls: {}, sasl: { mechanism: 'PLAIN', usernameEntry: 'no-such-user', passwordEntry: 'no-such-password' } }));
    await capture('nocreds', { captureSeconds: '60s', sink: 'flows-nocreds' });
    const t = await until('nocreds: Running with sinkError', async () => {
      const x = await target('nocreds');
      return x?.phase === 'Running' && x.sinkError ? x : undefined;
    });
    assert.match(t.sinkError ?? '', /Secret pcapper-sink-credentials has no entries no-such-user, no-such-password \(named by PacketCaptureSink flows-nocreds\); add them/);
    const ev = await until('the SinkUnavailable Event', async () => {
      const list = JSON.parse(await kubectl(['get', 'events', '-n', NS, '--field-selector', 'reason=SinkUnavailable,involvedObject.name=nocreds', '-o', 'json'])) as { items: { type: string; message: string }[] };
      return list.items[0];
    });
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /node node-a: target pod\/shop\/.+: no analysis records are published: Secret pcapper-sink-credentials has no entries/);
    await kubectl(['delete', 'packetcaptures.pcapper.dev', 'nocreds', '-n', NS, '--wait=true']);
  });

  it('the broker stopped mid-capture and started again: the capture keeps Running, its file is complete, offered = published + dropped, records after the restart reach the topic', async () => {
    await capture('fault', { captureSeconds: '100s', sink: 'flows-small' });
    const key = (pod: string) => `${NS}/fault/${pod}`;
    const podName = (await until('fault Running', async () => {
      const t = await target('fault');
      return t?.phase === 'Running' ? t : undefined;
    })).pod ?? '';
    let i = 0;
    // traffic until the status shows published records
    await until('records published before the fault', async () => {
      await http(`/before/${i++}`);
      const t = await target('fault');
      return (t?.recordsPublished ?? 0) > 0 ? t : undefined;
    });
    // the test's consumers go first: @platformatic/kafka's Consumer throws an uncaught TypeError
    // (reading 'host') once its broker is gone; the agent only produces
    for (const r of readers.splice(0)) await r.close();
    await broker.stop();
    // the broker is gone: traffic until the small buffer overflows and the status counts the drops
    const during = await until('records dropped while the broker is away', async () => {
      await http(`/during/${i++}`);
      const t = await target('fault');
      return (t?.recordsDropped ?? 0) > 0 ? t : undefined;
    });
    assert.equal(during.phase, 'Running', 'the capture is unaffected by the absent broker');
    await broker.startAgain();
    // read the topic again from its start
    fault = await TopicReader.start(broker.bootstrap, FAULT_TOPIC);
    readers.push(fault);
    const publishedAtRestart = (await target('fault'))?.recordsPublished ?? 0;
    const afterPaths: string[] = [];
    await until('the sink publishes again after the restart (recordsPublished grows)', async () => {
      const p = `/after/${i++}`;
      afterPaths.push(p);
      await http(p);
      const t = await target('fault');
      return t && (t.recordsPublished ?? 0) > publishedAtRestart ? t : undefined;
    });
    await until('records of requests made after the restart on the topic', () =>
      recordsOf(fault.messages, key(podName)).some((r) => r.kind === 'http' && r.path.startsWith('/after/')),
    );
    const still = await target('fault');
    assert.equal(still?.phase, 'Running', 'still Running after the broker came back');

    await until('fault Finished', async () => {
      const x = await target('fault');
      return x && x.phase === 'Finished' && (x.files ?? []).length > 0 ? x : undefined;
    }, 240_000);
    const file = await download('fault');
    const offered = (await libraryRecords(file)).length;
    const t = await until(`fault: recordsPublished + recordsDropped = ${offered} offered`, async () => {
      const x = await target('fault');
      return x && (x.recordsPublished ?? 0) + (x.recordsDropped ?? 0) === offered ? x : undefined;
    });
    assert.equal(tshark(file, ['-T', 'fields', '-e', 'frame.number']).length, t.packets, 'the capture file is complete: tshark counts what tcpdump reported');
    assert.ok((t.recordsDropped ?? 0) > 0, 'drops counted');
    const got = await until('the topic holds every published record', () => {
      const rs = recordsOf(fault.messages, key(podName));
      return rs.length >= (t.recordsPublished ?? 0) ? rs : undefined;
    });
    assert.equal(got.length, t.recordsPublished, 'distinct records on the topic = recordsPublished');
    const afterOnTopic = got.filter((r): r is HttpRecord => r.kind === 'http' && r.path.startsWith('/after/')).map((r) => r.path);
    assert.ok(afterOnTopic.length > 0 && afterOnTopic.every((p) => afterPaths.includes(p)), `records made after the restart: ${afterOnTopic.join(', ')}`);
  });
});
