// The Kafka sink's configuration: user input (a capture's or an admin's sink spec) resolved once into a
// typed, read-only object, or a list of errors that each say what was wrong and how to fix it. Pure.

export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface KafkaTls {
  /** PEM CA bundle; absent = the system's roots. */
  readonly ca?: string;
  /** PEM client certificate and key for mutual TLS. */
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
}

export interface KafkaSasl {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

export interface KafkaSinkConfig {
  readonly brokers: readonly string[];
  readonly topic: string;
  /** Raw packets (pcapng messages) go here when set; absent = no raw mode. */
  readonly rawTopic?: string;
  readonly clientId: string;
  readonly tls?: KafkaTls;
  readonly sasl?: KafkaSasl;
  readonly compression: Compression;
  /** Records per produce request (the batch). */
  readonly batchMaxRecords: number;
  /**
   * Bytes per produce request before compression. The broker refuses a batch above its
   * message.max.bytes (default 1 MiB + 12) after compression; below it, any codec fits.
   */
  readonly batchMaxBytes: number;
  /**
   * Most records of one key packed into one message (envelope ndjson/1, src/sink/kafka/record.ts);
   * 1 = one JSON record per message.
   */
  readonly recordsPerMessage: number;
  /** How long a partly filled batch waits for more records. */
  readonly lingerMs: number;
  /** The bound of the in-memory buffer; beyond it records are dropped and counted. */
  readonly bufferMaxRecords: number;
  readonly bufferMaxBytes: number;
  /** Largest raw message (SHB + IDBs + blocks); at most 1 MiB. */
  readonly rawMaxMessageBytes: number;
  /** Idempotent producer (acks=all); falls back to plain acks=all if the broker refuses it. */
  readonly idempotent: boolean;
  /** Per-request timeout. */
  readonly requestTimeoutMs: number;
  /** Back-off between attempts while the broker is unreachable: min doubling up to max. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export type KafkaSinkInput = {
  readonly [K in keyof KafkaSinkConfig]?: unknown;
};

export const MAX_RAW_MESSAGE_BYTES = 1024 * 1024;

export const DEFAULTS = {
  clientId: 'pcapper-agent',
  compression: 'lz4',
  batchMaxRecords: 10_000,
  batchMaxBytes: 1_000_000,
  recordsPerMessage: 100,
  lingerMs: 20,
  bufferMaxRecords: 200_000,
  bufferMaxBytes: 64 * 1024 * 1024,
  // The broker's default message.max.bytes is 1 MiB + 12 for a whole record batch; leave room for
  // the batch and record headers and the key.
  rawMaxMessageBytes: 1_040_000,
  idempotent: true,
  requestTimeoutMs: 10_000,
  retryMinMs: 100,
  retryMaxMs: 5_000,
} as const satisfies Partial<KafkaSinkConfig>;

const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const MECHANISMS: readonly SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** Kafka's own rule (Topic.validate): 1-249 of [a-zA-Z0-9._-], not "." or "..". */
export function topicError(field: string, v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return `${field}: a topic name is required (letters, digits, ".", "_", "-")`;
  if (v === '.' || v === '..') return `${field}: "${v}" is not a valid topic name; use letters, digits, ".", "_", "-"`;
  if (v.length > 249) return `${field}: the topic name is ${v.length} characters; Kafka allows at most 249`;
  const bad = /[^a-zA-Z0-9._-]/.exec(v);
  if (bad) return `${field}: topic "${v}" contains ${JSON.stringify(bad[0])}; Kafka topic names use only letters, digits, ".", "_", "-"`;
  return undefined;
}

function brokerError(b: unknown, i: number): string | undefined {
  if (typeof b !== 'string') return `brokers[${i}]: expected "host:port", got ${JSON.stringify(b)}`;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(b);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    return `brokers[${i}]: "${b}" is not "host:port" (e.g. kafka-0.kafka:9092 or [fd00::1]:9092)`;
  }
  return undefined;
}

function positiveInt(errors: string[], field: string, v: unknown, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    errors.push(`${field}: expected a whole number from 0 to ${max}, got ${JSON.stringify(v)}`);
    return dflt;
  }
  return v;
}

export type Resolved = { readonly ok: true; readonly config: KafkaSinkConfig } | { readonly ok: false; readonly errors: readonly string[] };

/**
 * Resolves and checks the sink's config. `zstdAvailable` is whether this Node has zlib zstd (Node >= 22.15):
 * the client compresses zstd with node:zlib.
 */
export function resolveKafkaSinkConfig(input: KafkaSinkInput, opts: { zstdAvailable: boolean }): Resolved {
  const errors: string[] = [];
  const brokers = input.brokers;
  if (!Array.isArray(brokers) || brokers.length === 0) {
    errors.push('brokers: at least one bootstrap broker "host:port" is required');
  } else {
    brokers.forEach((b, i) => {
      const e = brokerError(b, i);
      if (e) errors.push(e);
    });
  }
  const te = topicError('topic', input.topic);
  if (te) errors.push(te);
  if (input.rawTopic !== undefined) {
    const re = topicError('rawTopic', input.rawTopic);
    if (re) errors.push(re);
  }
  const compression = input.compression ?? DEFAULTS.compression;
  if (typeof compression !== 'string' || !COMPRESSIONS.includes(compression as Compression)) {
    errors.push(`compression: ${JSON.stringify(compression)} is not one of ${COMPRESSIONS.join(', ')}`);
  } else if (compression === 'zstd' && !opts.zstdAvailable) {
    errors.push('compression: zstd needs Node >= 22.15 (node:zlib zstd); use lz4, snappy or gzip on this Node');
  }
  let sasl: KafkaSasl | undefined;
  if (input.sasl !== undefined) {
    const s = input.sasl as Record<string, unknown> | null;
    if (!s || typeof s !== 'object') errors.push('sasl: expected {mechanism, username, password}');
    else if (!MECHANISMS.includes(s.mechanism as SaslMechanism)) errors.push(`sasl.mechanism: expected one of ${MECHANISMS.join(', ')}, got ${JSON.stringify(s.mechanism)}`);
    else if (typeof s.username !== 'string' || typeof s.password !== 'string' || s.username === '') errors.push('sasl: username and password are required strings');
    else sasl = { mechanism: s.mechanism as SaslMechanism, username: s.username, password: s.password };
    if (sasl && input.tls === undefined) errors.push('sasl: credentials would cross the network in clear; set tls too (tls: {} uses the system CA roots)');
  }
  let tls: KafkaTls | undefined;
  if (input.tls !== undefined) {
    const t = input.tls as Record<string, unknown> | null;
    if (!t || typeof t !== 'object') errors.push('tls: expected an object {ca?, cert?, key?, servername?}');
    else {
      for (const k of ['ca', 'cert', 'key', 'servername'] as const) {
        if (t[k] !== undefined && typeof t[k] !== 'string') errors.push(`tls.${k}: expected a string (PEM text for ca/cert/key)`);
      }
      if ((t.cert === undefined) !== (t.key === undefined)) errors.push('tls: cert and key go together (mutual TLS needs both)');
      tls = Object.fromEntries(Object.entries(t).filter(([, v]) => typeof v === 'string'));
    }
  }
  const clientId = input.clientId ?? DEFAULTS.clientId;
  if (typeof clientId !== 'string' || clientId === '') errors.push('clientId: expected a non-empty string');
  const idempotent = input.idempotent ?? DEFAULTS.idempotent;
  if (typeof idempotent !== 'boolean') errors.push('idempotent: expected true or false');
  const batchMaxRecords = positiveInt(errors, 'batchMaxRecords', input.batchMaxRecords, DEFAULTS.batchMaxRecords, 1_000_000);
  const bufferMaxRecords = positiveInt(errors, 'bufferMaxRecords', input.bufferMaxRecords, DEFAULTS.bufferMaxRecords);
  const bufferMaxBytes = positiveInt(errors, 'bufferMaxBytes', input.bufferMaxBytes, DEFAULTS.bufferMaxBytes);
  const rawMaxMessageBytes = positiveInt(errors, 'rawMaxMessageBytes', input.rawMaxMessageBytes, DEFAULTS.rawMaxMessageBytes, MAX_RAW_MESSAGE_BYTES);
  const recordsPerMessage = positiveInt(errors, 'recordsPerMessage', input.recordsPerMessage, DEFAULTS.recordsPerMessage, 10_000);
  if (batchMaxRecords === 0) errors.push('batchMaxRecords: must be at least 1');
  if (recordsPerMessage === 0) errors.push('recordsPerMessage: must be at least 1 (1 = one JSON record per message)');
  if (bufferMaxRecords < batchMaxRecords) errors.push(`bufferMaxRecords (${bufferMaxRecords}) must be at least batchMaxRecords (${batchMaxRecords})`);
  if (bufferMaxBytes < rawMaxMessageBytes) errors.push(`bufferMaxBytes (${bufferMaxBytes}) must hold at least one raw message (rawMaxMessageBytes ${rawMaxMessageBytes})`);
  if (rawMaxMessageBytes < 64 * 1024) errors.push('rawMaxMessageBytes: at least 65536 (a packet of the largest snaplen must fit)');
  const config: KafkaSinkConfig = {
    brokers: (Array.isArray(brokers) ? brokers : []) as string[],
    topic: input.topic as string,
    ...(input.rawTopic !== undefined ? { rawTopic: input.rawTopic as string } : {}),
    clientId: clientId as string,
    ...(tls ? { tls } : {}),
    ...(sasl ? { sasl } : {}),
    compression: compression as Compression,
    batchMaxRecords,
    batchMaxBytes: positiveInt(errors, 'batchMaxBytes', input.batchMaxBytes, DEFAULTS.batchMaxBytes, 64 * 1024 * 1024),
    recordsPerMessage,
    lingerMs: positiveInt(errors, 'lingerMs', input.lingerMs, DEFAULTS.lingerMs, 60_000),
    bufferMaxRecords,
    bufferMaxBytes,
    rawMaxMessageBytes,
    idempotent: idempotent as boolean,
    requestTimeoutMs: positiveInt(errors, 'requestTimeoutMs', input.requestTimeoutMs, DEFAULTS.requestTimeoutMs, 600_000),
    retryMinMs: positiveInt(errors, 'retryMinMs', input.retryMinMs, DEFAULTS.retryMinMs, 600_000),
    retryMaxMs: positiveInt(errors, 'retryMaxMs', input.retryMaxMs, DEFAULTS.retryMaxMs, 600_000),
  };
  return errors.length ? { ok: false, errors } : { ok: true, config: Object.freeze(config) };
}
