// `npm run bench -- kafka [RECORDS [COMPRESSION]] [--runs R] [--rate-passes P] [--no-rate] [--cpu-prof FILE]`
//
// Records: connection records (~480 bytes of JSON each, the shape of a conn.log line) offered to the
// Kafka sink and published into a real Apache Kafka 4.1 broker (test/harness/kafka.ts) on this machine,
// then read back by a consumer that splits the messages (envelope ndjson/1) and counts distinct records.
// Each run measures two sinks, alternating which goes first, each on a topic of its own:
//   packed      the sink's defaults (recordsPerMessage 100: records of one key packed per message)
//   per-record  recordsPerMessage 1 (one JSON record per Kafka message): the baseline, same run
// Figures (medians over the runs):
//   records_per_s        records acknowledged per CPU second of the producing process (packed): the
//                        agent's cost per core, the goal (>= 100,000); the broker's CPU is not in it
//   records_per_wall_s   the same per wall second (offer -> ack), broker on the same 2 cores
//   per_record_per_s     records_per_s of the per-record baseline; vs_per_record = ratio
//   lost_records         offered - published - still buffered at the end, summed over runs and modes
//                        (0 with a healthy broker); the consumer must also find every published record
//   vs_no_analysis       the lossless capture rate through the agent (bench/capture-rate-agent.ts: UDP
//                        bursts pod -> pod) with every capture analysed live and publishing to a sink on
//                        this broker, against the same agent with analysis off, alternating, same run
// The record source is well-behaved (it offers a chunk only while the buffer has room), so the figure is
// the sink's capacity, not a drop rate. Records come from a pool of objects whose seq/ts/port are changed
// before each offer, so the CPU counted is the sink's (serialise, buffer, pack, client, socket), not the
// making of test objects. `--cpu-prof FILE`: a V8 CPU profile of the timed part of the first packed run.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { TargetAnalysis } from '../src/agent/analysis.js';
import { KafkaSink } from '../src/sink/kafka/sink.js';
import { decodeRecordMessage } from '../src/sink/kafka/record.js';
import { KafkaBroker, TopicReader, waitFor } from '../test/harness/kafka.js';
import { agentLosslessRate } from './capture-rate-agent.js';
import { machine, median } from './_run.js';

const log = (m: string): void => void process.stderr.write(`${m}\n`);

interface BenchRecord {
  schemaVersion: number;
  kind: string;
  seq: number;
  ts: number;
  orig: { port: number } & Record<string, unknown>;
  [k: string]: unknown;
}

function record(seq: number): BenchRecord {
  return {
    schemaVersion: 1,
    kind: 'connection',
    seq,
    ts: 1795800000.123456 + seq / 1000,
    duration: 0.042,
    proto: 'tcp',
    orig: { ip: '10.244.1.17', port: 40000 + (seq % 20000), pod: 'web-7d9c4-x2x9z', namespace: 'shop', node: 'node-1', workload: 'Deployment/web' },
    resp: { ip: '10.244.2.31', port: 5432, pod: 'db-0', namespace: 'shop', node: 'node-2', workload: 'StatefulSet/db' },
    origPkts: 12,
    origBytes: 1840,
    respPkts: 10,
    respBytes: 22_410,
    state: 'SF',
    history: 'ShADadFf',
    rttMs: 0.21,
    retransmits: 0,
    resets: 0,
  };
}

interface RunResult {
  mode: 'packed' | 'per-record';
  wallS: number;
  cpuS: number;
  published: number;
  dropped: number;
  buffered: number;
  messages: number;
  distinct: number;
}

async function publishRun(broker: KafkaBroker, topic: string, mode: RunResult['mode'], total: number, compression: string, prof?: string): Promise<RunResult> {
  await broker.createTopic(topic, 3);
  const r = KafkaSink.create({ brokers: [broker.bootstrap], topic, compression, batchMaxRecords: 10_000, bufferMaxRecords: 200_000, lingerMs: 5, ...(mode === 'per-record' ? { recordsPerMessage: 1 } : {}) });
  if (!r.ok) throw r.error;
  const sink = r.sink;
  const pods = ['web-0', 'web-1', 'web-2', 'db-0', 'cache-0', 'api-0', 'api-1', 'api-2'];
  const origins = pods.map((pod) => ({ namespace: 'shop', capture: 'bench', pod }));
  const pool = Array.from({ length: 1000 }, (_, i) => record(i));
  // the connection and metadata exist before the clock starts (the agent's sink is long-lived)
  sink.offer(origins[0]!, record(-1));
  await waitFor('first record acknowledged', () => sink.status().recordsPublished === 1, 120_000, 5);
  const session = prof ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const chunk = 5_000;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let offered = 0;
  while (offered < total) {
    // stay under both bounds (200000 records, 64 MiB: ~130000 of these records)
    if (sink.status().recordsBuffered + chunk <= 100_000) {
      for (let i = 0; i < chunk && offered < total; i++, offered++) {
        const rec = pool[offered % pool.length]!;
        rec.seq = offered;
        rec.ts = 1795800000.123456 + offered / 1000;
        rec.orig.port = 40000 + (offered % 20000);
        sink.offer(origins[offered % origins.length]!, rec);
      }
    }
    await new Promise((res) => setImmediate(res));
  }
  await waitFor('every record acknowledged or dropped', () => {
    const s = sink.status();
    return s.recordsPublished + s.recordsDropped === total + 1;
  }, 600_000, 5);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  if (session && prof) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(prof, JSON.stringify(profile), { mode: 0o600 });
    session.disconnect();
    log(`# CPU profile of the timed part: ${prof}`);
  }
  const st = await sink.close();

  const reader = await TopicReader.start(broker.bootstrap, topic);
  const seen = new Set<number>();
  let messages = 0;
  try {
    await waitFor('every published record consumed', () => {
      for (; messages < reader.messages.length; messages++) {
        const m = reader.messages[messages]!;
        for (const rec of decodeRecordMessage(m.value, m.headers)) seen.add((rec as { seq: number }).seq);
      }
      return seen.size >= st.recordsPublished;
    }, 600_000, 200);
  } finally {
    await reader.close();
  }
  seen.delete(-1);
  return { mode, wallS, cpuS: (cpu.user + cpu.system) / 1e6, published: st.recordsPublished - 1, dropped: st.recordsDropped, buffered: st.recordsBuffered, messages, distinct: seen.size };
}

/**
 * The agent's live analysis alone (src/agent/analysis.ts, the RecordStream engine), fed the packets of
 * the rate ladder's traffic (Ethernet/IPv4/UDP, 64-byte payload, one flow) from memory: CPU µs per
 * packet, best of 3 x 1M packets. A figure robust to the machine's load, which times a packet rate gives
 * the share of a core that analysis takes on the capture path.
 */
function analysisCpuPerPacket(): number {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  const frame = Buffer.alloc(14 + 20 + 8 + 64, 0x70);
  frame.writeUInt16BE(0x0800, 12);
  const ip = Buffer.from([0x45, 0, 0, 92, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 244, 1, 2, 10, 244, 1, 3]);
  ip.copy(frame, 14);
  frame.writeUInt16BE(40000, 34);
  frame.writeUInt16BE(9999, 36);
  frame.writeUInt16BE(72, 38);
  frame.writeUInt16BE(0, 40);
  const n = 1_000_000;
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let records = 0;
    const a = new TargetAnalysis({ capture: 'bench', namespace: 'bench', target: 'pod/bench/rx' }, new Map(), [{ offer: () => void records++ }]);
    const rec = Buffer.alloc(16 + frame.length);
    frame.copy(rec, 16);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      rec.writeUInt32LE(1795800000 + Math.floor(i / 1_000_000), 0);
      rec.writeUInt32LE(i % 1_000_000, 4);
      a.addRecord(rec, header);
    }
    a.end();
    const c = process.cpuUsage(c0);
    if (a.packets !== n || records < 1) throw new Error(`analysis saw ${a.packets} packets, ${records} records`);
    best = Math.min(best, (c.user + c.system) / n);
  }
  return best;
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const withValue = new Set(['--runs', '--rate-passes', '--cpu-prof']);
  const positional = argv.filter((a, i) => !a.startsWith('--') && !withValue.has(argv[i - 1] ?? ''));
  const total = Number(positional[0] ?? 200_000);
  const compression = positional[1] ?? 'lz4';
  const runs = Math.max(1, Number(flag(argv, '--runs') ?? 3));
  const passes = Math.max(1, Number(flag(argv, '--rate-passes') ?? 1));
  const prof = flag(argv, '--cpu-prof');
  log(`# ${machine()} records=${total} compression=${compression} runs=${runs}`);
  const broker = await KafkaBroker.start({ heap: '1g' });
  try {
    const results: RunResult[] = [];
    for (let run = 1; run <= runs; run++) {
      const order: RunResult['mode'][] = run % 2 === 1 ? ['packed', 'per-record'] : ['per-record', 'packed'];
      for (const mode of order) {
        const res = await publishRun(broker, `bench-${mode}-${run}`, mode, total, compression, run === 1 && mode === 'packed' ? prof : undefined);
        results.push(res);
        log(
          `run ${run} ${mode.padEnd(10)} per_cpu_s=${Math.round(total / res.cpuS)} per_wall_s=${Math.round(total / res.wallS)} cpu_s=${res.cpuS.toFixed(2)} wall_s=${res.wallS.toFixed(2)} messages=${res.messages} published=${res.published} dropped=${res.dropped} buffered=${res.buffered} distinct_consumed=${res.distinct}`,
        );
        if (res.distinct < res.published) throw new Error(`${mode} run ${run}: the consumer found ${res.distinct} distinct records of ${res.published} acknowledged`);
      }
    }
    const of = (m: RunResult['mode']) => results.filter((r) => r.mode === m);
    const perCpu = median(of('packed').map((r) => total / r.cpuS));
    const perWall = median(of('packed').map((r) => total / r.wallS));
    const base = median(of('per-record').map((r) => total / r.cpuS));
    const lost = results.reduce((n, r) => n + (total - r.published - r.buffered), 0);

    const perPacket = analysisCpuPerPacket();
    log(`# live analysis alone: ${perPacket.toFixed(2)} CPU µs per packet (UDP, one flow): ${(perPacket * 100_000 / 1e6).toFixed(2)} of a core at 100k pps`);

    let vsNoAnalysis = 'skipped';
    if (!argv.includes('--no-rate')) {
      await broker.createTopic('bench-rate-records', 3);
      let on = 0;
      let off = 0;
      for (let p = 1; p <= passes; p++) {
        const a = (await agentLosslessRate({ PCAPPER_ANALYSIS: 'all' }, 1, undefined, (m) => log(`analysis+kafka on:  ${m}`), { sink: { brokers: [broker.bootstrap], topic: 'bench-rate-records' } })).maxPps;
        const b = (await agentLosslessRate({ PCAPPER_ANALYSIS: 'sinks' }, 1, undefined, (m) => log(`analysis off:       ${m}`))).maxPps;
        log(`rate pass ${p}: on ${a.toFixed(0)} pps, off ${b.toFixed(0)} pps, ratio ${b > 0 ? (a / b).toFixed(3) : 'NaN'}`);
        on = Math.max(on, a);
        off = Math.max(off, b);
      }
      vsNoAnalysis = off > 0 ? (on / off).toFixed(3) : 'NaN';
      console.log(`agent_lossless_pps_analysis_on=${on.toFixed(0)} agent_lossless_pps_analysis_off=${off.toFixed(0)}`);
    }
    console.log(`analysis_cpu_us_per_packet=${perPacket.toFixed(2)}`);
    console.log(
      `records=${total} compression=${compression} runs=${runs} records_per_s=${Math.round(perCpu)} records_per_wall_s=${Math.round(perWall)} per_record_per_s=${Math.round(base)} vs_per_record=${(perCpu / base).toFixed(2)} lost_records=${lost} vs_no_analysis=${vsNoAnalysis}`,
    );
  } finally {
    await broker.stop();
    broker.cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(`bench kafka: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
