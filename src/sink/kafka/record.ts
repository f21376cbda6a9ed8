// The record the sink publishes, and the envelope of a records message. Records are any JSON object
// with a schemaVersion and a kind (src/pcap/records); the sink does not look inside beyond these.
//
// Envelope `ndjson/1` (docs/kafka.md, "Records messages"): the value of a message is one or more
// records of the same key, each serialised with JSON.stringify, separated by "\n" (JSON text never
// holds a raw newline: JSON.stringify escapes control characters). Headers: `pcapper-envelope:
// ndjson/1` and `pcapper-records: <count>`. A message of one record is a plain JSON object, so a
// consumer that splits on "\n" reads both. Packing several records into one message is what makes the
// sink cheap: the Kafka client's cost is per message, not per byte (docs/kafka.md "Performance").
import type { BufferItem } from './buffer.js';
import type { OutMessage } from './producer.js';

export interface SinkRecord {
  readonly schemaVersion: number;
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** Where a record came from: decides its key. */
export interface RecordOrigin {
  readonly namespace: string;
  readonly capture: string;
  readonly pod: string;
}

export const ENVELOPE_HEADER = 'pcapper-envelope';
export const COUNT_HEADER = 'pcapper-records';
export const ENVELOPE = 'ndjson/1';

/** A record's JSON text (one line of a message; its bytes are made once per message, not per record). */
export function encodeRecord(r: SinkRecord): string {
  const s = JSON.stringify(r);
  // JSON.stringify returns undefined for a function or a symbol at the top (the type says it cannot)
  if (typeof s !== 'string') throw new TypeError('a record must be a JSON object');
  return s;
}

function bytes(v: Buffer | string): Buffer {
  return typeof v === 'string' ? Buffer.from(v) : v;
}

/**
 * A batch of encoded records -> messages: consecutive records of one key (in their order) go into one
 * message of at most `perMessage` records. Keys keep their order; the batch is sent as one produce
 * request and acknowledged as a whole, so a message never splits the batch's accounting. Pure.
 */
export function packRecords(batch: readonly BufferItem[], perMessage: number): OutMessage[] {
  // records of one sink go to one topic; a key is grouped per topic all the same (cheap: one map per topic)
  const byTopic = new Map<string, Map<string, BufferItem[]>>();
  for (const it of batch) {
    let keys = byTopic.get(it.topic);
    if (keys === undefined) byTopic.set(it.topic, (keys = new Map<string, BufferItem[]>()));
    const l = keys.get(it.key);
    if (l === undefined) keys.set(it.key, [it]);
    else l.push(it);
  }
  const out: OutMessage[] = [];
  for (const keys of byTopic.values()) {
    for (const items of keys.values()) {
      for (let i = 0; i < items.length; i += perMessage) {
        const n = Math.min(perMessage, items.length - i);
        const first = items[i]!;
        let value: Buffer;
        if (n === 1) value = bytes(first.value);
        else {
          const lines: string[] = new Array<string>(n);
          for (let j = 0; j < n; j++) {
            const v = items[i + j]!.value;
            lines[j] = typeof v === 'string' ? v : v.toString('utf8');
          }
          value = Buffer.from(lines.join('\n'));
        }
        // perMessage 1: a plain JSON record, no envelope (for consumers that expect one record per message)
        out.push(perMessage === 1 ? { topic: first.topic, key: first.key, value } : { topic: first.topic, key: first.key, value, headers: { [ENVELOPE_HEADER]: ENVELOPE, [COUNT_HEADER]: String(n) } });
      }
    }
  }
  return out;
}

export class RecordEnvelopeError extends Error {
  override readonly name = 'RecordEnvelopeError';
}

/**
 * A consumer's side: the records of one message (value and headers as consumed). A message without the
 * envelope header is read as one JSON record (the format before ndjson/1). Throws RecordEnvelopeError
 * on an envelope this code does not know, or a count that does not match.
 */
export function decodeRecordMessage(value: Buffer, headers?: ReadonlyMap<string, string> | Readonly<Record<string, string>>): unknown[] {
  const get = (h: string): string | undefined => {
    if (headers === undefined) return undefined;
    if (headers instanceof Map) return (headers as ReadonlyMap<string, string>).get(h);
    return (headers as Readonly<Record<string, string>>)[h];
  };
  const env = get(ENVELOPE_HEADER);
  if (env === undefined) return [JSON.parse(value.toString('utf8')) as unknown];
  if (env !== ENVELOPE) throw new RecordEnvelopeError(`records message envelope ${JSON.stringify(env)} is not known here (this reader knows ${ENVELOPE}); update the consumer`);
  const lines = value.toString('utf8').split('\n');
  const count = get(COUNT_HEADER);
  if (count !== undefined && Number(count) !== lines.length) throw new RecordEnvelopeError(`records message says ${count} records but holds ${lines.length} lines`);
  return lines.map((l) => JSON.parse(l) as unknown);
}
