/**
 * The Kafka sink as a consumer of a target's records (src/agent/analysis.ts): records keyed by
 * capture and pod (`<namespace>/<capture>/<pod>`; a node target's key ends in `node/<node>/<if>`),
 * and the per-target counts its status shows (recordsPublished, recordsDropped).
 */
import type { PcapRecord } from '../pcap/records/types.js';
import type { KafkaSink } from '../sink/kafka/sink.js';
import type { RecordOrigin } from '../sink/kafka/record.js';
import type { AnalysisHook, AnalysisOptions, RawConsumer, RecordConsumer, RecordTarget } from './analysis.js';

/** The origin (message key) of a target's records: its pod's name, or the node target's key. Pure. */
export function originOf(t: RecordTarget): RecordOrigin {
  const m = /^pod\/[^/]+\/(.+)$/.exec(t.target);
  return { namespace: t.namespace, capture: t.capture, pod: m ? (m[1] as string) : t.target };
}

export class KafkaRecordConsumer implements RecordConsumer {
  constructor(private readonly sink: Pick<KafkaSink, 'offer' | 'originStatus'>) {}

  offer(rec: PcapRecord, target: RecordTarget): void {
    this.sink.offer(originOf(target), rec as unknown as Parameters<KafkaSink['offer']>[1]);
  }

  /** What the target's status shows: published (acknowledged by the broker) and dropped. */
  counts(target: RecordTarget): { recordsPublished: number; recordsDropped: number } {
    const c = this.sink.originStatus(originOf(target));
    return { recordsPublished: c.recordsPublished, recordsDropped: c.recordsDropped };
  }
}

/** The sink's side of raw mode (a sink with `rawTopic`). */
type RawSink = Pick<KafkaSink, 'offerRawBlock' | 'flushRaw'> & { readonly config: { readonly rawTopic?: string | undefined } };

/**
 * Raw mode: a target's pcapng blocks to the sink's raw topic, keyed `<namespace>/<capture>/<pod>`
 * (a node target: `<namespace>/<capture>/node/<node>/<if>`), the same origin as its records.
 */
export class KafkaRawConsumer implements RawConsumer {
  constructor(private readonly sink: Pick<KafkaSink, 'offerRawBlock' | 'flushRaw'>) {}

  block(block: Buffer, target: RecordTarget): void {
    const o = originOf(target);
    this.sink.offerRawBlock(o.namespace, o.capture, o.pod, block);
  }

  flush(): void {
    this.sink.flushRaw();
  }
}

function rawSink(s: object): RawSink | undefined {
  const r = s as Partial<RawSink>;
  return r.config?.rawTopic && typeof r.offerRawBlock === 'function' && typeof r.flushRaw === 'function' ? (r as RawSink) : undefined;
}

/**
 * The analysis hook of an agent with Kafka sinks: a capture with a sink (`sinkFor` resolves it, e.g.
 * from the PacketCaptureSink its spec names) is analysed and its records go to that sink, plus any
 * `extra` consumers (per-pod-pair metrics). `settleMs`: how long a finished target waits for its
 * buffered records before reporting its final counts.
 */
export function kafkaAnalysisHook(o: {
  /** A sink with `config.rawTopic` and offerRawBlock/flushRaw (a KafkaSink) also gets the raw packets. */
  sinkFor: (capture: { namespace: string; name: string }) => Pick<KafkaSink, 'offer' | 'originStatus' | 'forgetOrigin'> | undefined;
  /** Why the sink a capture names cannot be built on this node (a bad config, a missing credentials entry); undefined when it names none. */
  sinkError?: (capture: { namespace: string; name: string }) => string | undefined;
  extra?: readonly RecordConsumer[];
  /** Analyse every capture for the `extra` consumers, not only those with a sink (PCAPPER_ANALYSIS=all). */
  analyseAll?: boolean;
  settleMs?: number;
  sleep?: (ms: number) => Promise<void>;
  options?: AnalysisOptions;
}): AnalysisHook {
  const sinks = new Map<string, Pick<KafkaSink, 'offer' | 'originStatus' | 'forgetOrigin'>>();
  const key = (t: RecordTarget) => `${t.namespace}/${t.capture}`;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const counts = (t: RecordTarget) => {
    const sink = sinks.get(key(t));
    if (!sink) return undefined;
    const c = sink.originStatus(originOf(t));
    return { recordsPublished: c.recordsPublished, recordsDropped: c.recordsDropped, pending: c.recordsOffered - c.recordsPublished - c.recordsDropped };
  };
  return {
    ...(o.options ? { options: o.options } : {}),
    consumersFor: (capture) => {
      const sink = o.sinkFor(capture);
      if (!sink && !o.analyseAll) return [];
      const out: RecordConsumer[] = [...(o.extra ?? [])];
      if (sink) {
        sinks.set(`${capture.namespace}/${capture.name}`, sink);
        out.push(new KafkaRecordConsumer(sink));
      }
      return out;
    },
    rawFor: (capture) => {
      const sink = o.sinkFor(capture);
      const raw = sink && rawSink(sink);
      return raw ? new KafkaRawConsumer(raw) : undefined;
    },
    unavailable: (capture) => (o.sinkFor(capture) ? undefined : o.sinkError?.(capture)),
    counts: (t) => {
      const c = counts(t);
      return c && { recordsPublished: c.recordsPublished, recordsDropped: c.recordsDropped };
    },
    settled: async (t) => {
      const deadline = Date.now() + (o.settleMs ?? 30_000);
      let c = counts(t);
      while (c && c.pending > 0 && Date.now() < deadline) {
        await sleep(200);
        c = counts(t);
      }
      return c && { recordsPublished: c.recordsPublished, recordsDropped: c.recordsDropped };
    },
    forget: (t) => {
      // keep the sink mapping (other targets of the capture may still run); forget this origin's counts
      sinks.get(key(t))?.forgetOrigin(originOf(t));
    },
  };
}
