/**
 * Which Kafka sink a capture publishes to, as the agent sees it (docs/kafka.md): `spec.sink` names a
 * cluster-scoped PacketCaptureSink (pcapper.dev/v1alpha1, packetcapturesinks). Its settings come from
 * the object; TLS keys and SASL passwords from entries of the mounted Secret pcapper-sink-credentials
 * (`readEntry`), never through the API. Whether the namespace may use the sink is the controller's
 * decision, not repeated here.
 *
 * One KafkaSink (one producer connection) per PacketCaptureSink object and generation, shared by the
 * captures that name it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PacketCaptureSinkSpec } from '../api/packetcapturesink.js';
import { DEFAULTS, type KafkaSinkInput } from '../sink/kafka/config.js';
import { KafkaSink, type KafkaSinkDeps } from '../sink/kafka/sink.js';

/** One entry of a mounted Secret directory (undefined if absent or not a plain entry name). */
export function readSecretEntry(dir: string, entry: string): string | undefined {
  if (!/^[-._a-zA-Z0-9]+$/.test(entry) || entry === '.' || entry === '..') return undefined;
  try {
    return readFileSync(join(dir, entry), 'utf8');
  } catch {
    return undefined;
  }
}

export const SINK_API_PATH = '/apis/pcapper.dev/v1alpha1/packetcapturesinks';

export interface SinkObject {
  metadata?: { name?: string; generation?: number; deletionTimestamp?: string | Date | undefined };
  spec?: Partial<PacketCaptureSinkSpec>;
}

/** A PacketCaptureSink -> the sink's input (secret entries read by `readEntry`), or why not. Pure apart from readEntry. */
export function sinkInputOf(o: SinkObject, readEntry: (name: string) => string | undefined): { ok: true; input: KafkaSinkInput } | { ok: false; error: string } {
  const k = o.spec?.kafka;
  if (!k) return { ok: false, error: `PacketCaptureSink ${o.metadata?.name ?? '?'} has no spec.kafka` };
  const missing: string[] = [];
  const read = (name: string | undefined): string | undefined => {
    if (name === undefined) return undefined;
    const v = readEntry(name);
    if (v === undefined) missing.push(name);
    return v;
  };
  const tls = k.tls ? { ...(k.tls.caEntry ? { ca: read(k.tls.caEntry) } : {}), ...(k.tls.certEntry ? { cert: read(k.tls.certEntry) } : {}), ...(k.tls.keyEntry ? { key: read(k.tls.keyEntry) } : {}), ...(k.tls.servername ? { servername: k.tls.servername } : {}) } : undefined;
  const sasl = k.sasl ? { mechanism: k.sasl.mechanism, username: read(k.sasl.usernameEntry), password: read(k.sasl.passwordEntry) } : undefined;
  if (missing.length > 0) return { ok: false, error: `Secret pcapper-sink-credentials has no entr${missing.length > 1 ? 'ies' : 'y'} ${missing.join(', ')} (named by PacketCaptureSink ${o.metadata?.name ?? '?'}); add ${missing.length > 1 ? 'them' : 'it'} to the Secret` };
  return {
    ok: true,
    input: {
      brokers: k.brokers,
      topic: k.topic,
      ...(k.rawTopic ? { rawTopic: k.rawTopic } : {}),
      ...(k.compression ? { compression: k.compression } : {}),
      ...(k.clientId ? { clientId: k.clientId } : {}),
      ...(k.recordsPerMessage ? { recordsPerMessage: k.recordsPerMessage } : {}),
      // the object sets only the buffer's bound (the CRD allows >= 1): a batch never exceeds it
      ...(k.bufferMaxRecords ? { bufferMaxRecords: k.bufferMaxRecords, ...(k.bufferMaxRecords < DEFAULTS.batchMaxRecords ? { batchMaxRecords: k.bufferMaxRecords } : {}) } : {}),
      ...(tls ? { tls } : {}),
      ...(sasl ? { sasl } : {}),
    },
  };
}

/** The live sinks of this agent, by PacketCaptureSink name; rebuilt when the object's generation changes. */
export class SinkCache {
  private readonly live = new Map<string, { generation: number | undefined; sink: KafkaSink }>();
  /** The last error per sink name (config refused, secret entry missing), for logs and status. */
  readonly errors = new Map<string, string>();

  constructor(
    private readonly list: () => readonly SinkObject[],
    private readonly readEntry: (name: string) => string | undefined,
    private readonly deps: KafkaSinkDeps = {},
  ) {}

  /** The sink a capture names (undefined: none, not found, or a bad config, then in `errors`). */
  sinkFor(name: string | undefined): KafkaSink | undefined {
    if (!name) return undefined;
    const o = this.list().find((x) => x.metadata?.name === name && !x.metadata.deletionTimestamp);
    if (!o) {
      this.errors.set(name, `PacketCaptureSink ${name} not found`);
      return undefined;
    }
    const cur = this.live.get(name);
    if (cur && cur.generation === o.metadata?.generation) return cur.sink;
    const r = sinkInputOf(o, this.readEntry);
    if (!r.ok) {
      this.errors.set(name, r.error);
      return cur?.sink;
    }
    const c = KafkaSink.create(r.input, this.deps);
    if (!c.ok) {
      this.errors.set(name, c.error.message);
      return cur?.sink;
    }
    // the previous generation's sink drains in the background
    if (cur) void cur.sink.close(10_000);
    this.live.set(name, { generation: o.metadata?.generation, sink: c.sink });
    this.errors.delete(name);
    return c.sink;
  }

  /** Closes every sink (agent shutdown): what cannot be published in `drainMs` is counted as dropped. */
  async close(drainMs = 10_000): Promise<void> {
    await Promise.all([...this.live.values()].map((x) => x.sink.close(drainMs)));
    this.live.clear();
  }
}
