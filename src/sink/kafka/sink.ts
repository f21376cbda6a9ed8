// The Kafka sink's shell: records and raw pcapng blocks are offered synchronously (never awaited, never
// throwing into the capture), kept in bounded buffers, and published by one background loop that
// batches them and retries while the broker is away. Loss is counted, never silent.
import zlib from 'node:zlib';
import { resolveKafkaSinkConfig, type KafkaSinkConfig, type KafkaSinkInput } from './config.js';
import { BoundedBuffer } from './buffer.js';
import { rawKey, recordKey } from './keys.js';
import { PcapngMessageCutter } from './pcapng-messages.js';
import { platformaticProducer, type OutMessage, type ProducerFactory, type ProducerLike } from './producer.js';
import { encodeRecord, packRecords, type RecordOrigin, type SinkRecord } from './record.js';

export type SinkState = 'starting' | 'publishing' | 'unavailable' | 'closed';

/** What the agent puts in the capture's status. */
export interface KafkaSinkStatus {
  readonly state: SinkState;
  /** Whether the idempotent producer is in use (false if disabled or refused by the broker). */
  readonly idempotent: boolean;
  /** Always recordsPublished + recordsDropped + recordsBuffered. */
  readonly recordsOffered: number;
  readonly recordsPublished: number;
  readonly recordsDropped: number;
  readonly recordsBuffered: number;
  readonly rawMessagesPublished: number;
  readonly rawMessagesBuffered: number;
  readonly rawMessagesDropped: number;
  readonly rawBytesDropped: number;
  /** The last publishing error, said plainly (cleared when publishing works again). */
  readonly lastError?: string;
}

export interface KafkaSinkDeps {
  readonly producer?: ProducerFactory;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly zstdAvailable?: boolean;
}

export class KafkaSinkConfigError extends Error {
  constructor(readonly errors: readonly string[]) {
    super(`invalid Kafka sink config:\n  ${errors.join('\n  ')}`);
    this.name = 'KafkaSinkConfigError';
  }
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class KafkaSink {
  private readonly records: BoundedBuffer;
  private readonly raw: BoundedBuffer;
  private readonly cutters = new Map<string, PcapngMessageCutter>();
  private producer: ProducerLike;
  private idempotent: boolean;
  private state: SinkState = 'starting';
  private lastError: string | undefined;
  private closing = false;
  private wake: (() => void) | undefined;
  private readonly loopDone: Promise<void>;
  private readonly sleep: (ms: number) => Promise<void>;

  private constructor(
    readonly config: KafkaSinkConfig,
    private readonly factory: ProducerFactory,
    sleep: (ms: number) => Promise<void>,
  ) {
    this.records = new BoundedBuffer(config.bufferMaxRecords, config.bufferMaxBytes);
    // Raw messages share the byte bound's size but are bounded separately, so packets never push out records.
    this.raw = new BoundedBuffer(Math.max(1, Math.floor(config.bufferMaxBytes / 4096)), config.bufferMaxBytes);
    this.idempotent = config.idempotent;
    this.batchBytes = config.batchMaxBytes;
    this.producer = factory(config, this.idempotent);
    this.sleep = sleep;
    this.loopDone = this.loop();
  }

  /** Resolves the config and starts the sink; a bad config is returned as errors, not thrown. */
  static create(input: KafkaSinkInput, deps: KafkaSinkDeps = {}): { ok: true; sink: KafkaSink } | { ok: false; error: KafkaSinkConfigError } {
    const zstdAvailable = deps.zstdAvailable ?? typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
    const r = resolveKafkaSinkConfig(input, { zstdAvailable });
    if (!r.ok) return { ok: false, error: new KafkaSinkConfigError(r.errors) };
    try {
      return { ok: true, sink: new KafkaSink(r.config, deps.producer ?? platformaticProducer, deps.sleep ?? defaultSleep) };
    } catch (e) {
      return { ok: false, error: new KafkaSinkConfigError([`the Kafka client refused the config: ${(e as Error).message}`]) };
    }
  }

  /** Offers one record. Never blocks or throws; returns false if it was dropped (buffer full or closed). */
  offer(origin: RecordOrigin, record: SinkRecord): boolean {
    if (this.closing) return false;
    let value: string;
    const key = this.keyOf(origin);
    try {
      value = encodeRecord(record);
    } catch {
      // Not serialisable (a cycle, a BigInt): counted as dropped, never thrown into the capture.
      this.records.countDrop(0, key);
      return false;
    }
    const kept = this.records.offer({ topic: this.config.topic, key, value });
    if (kept && this.records.length >= this.config.batchMaxRecords) this.kick();
    else if (kept && this.records.length === 1) this.kick();
    return kept;
  }

  /**
   * The key of an origin, made once: the same namespace/capture/pod strings come with every record of a
   * target, so looking them up costs no new string per record. Bounded like the per-key counts.
   */
  private readonly keys = new Map<string, Map<string, Map<string, string>>>();
  private keyCount = 0;
  private keyOf(o: RecordOrigin): string {
    let caps = this.keys.get(o.namespace);
    if (caps === undefined) this.keys.set(o.namespace, (caps = new Map<string, Map<string, string>>()));
    let pods = caps.get(o.capture);
    if (pods === undefined) caps.set(o.capture, (pods = new Map<string, string>()));
    let k = pods.get(o.pod);
    if (k === undefined) {
      if (this.keyCount >= 10_000) {
        this.keys.clear();
        this.keyCount = 0;
        return this.keyOf(o);
      }
      pods.set(o.pod, (k = recordKey(o.namespace, o.capture, o.pod)));
      this.keyCount++;
    }
    return k;
  }

  /** Offers one pcapng block of a target's raw stream (raw mode). Never blocks or throws. */
  offerRawBlock(namespace: string, capture: string, target: string, block: Buffer): void {
    const topic = this.config.rawTopic;
    if (!topic || this.closing) return;
    const key = rawKey(namespace, capture, target);
    let cutter = this.cutters.get(key);
    if (!cutter) this.cutters.set(key, (cutter = new PcapngMessageCutter(this.config.rawMaxMessageBytes)));
    try {
      const r = cutter.push(block);
      if (r.oversize !== undefined) this.raw.countDrop(r.oversize);
      for (const m of r.messages) this.offerRawMessage(topic, key, m.seq, m.skip, m.value);
    } catch {
      // A malformed block: counted as a dropped raw message (the stream of this target is unusable).
      this.raw.countDrop(block.length);
    }
  }

  /** Sends what the raw cutters hold now (call on a timer, and at the end of a capture). */
  flushRaw(): void {
    const topic = this.config.rawTopic;
    if (!topic) return;
    for (const [key, c] of this.cutters) {
      const m = c.flush();
      if (m) this.offerRawMessage(topic, key, m.seq, m.skip, m.value);
    }
  }

  private offerRawMessage(topic: string, key: string, seq: number, skip: number, value: Buffer): void {
    this.raw.offer({ topic, key, value, headers: { 'pcapng-seq': String(seq), 'pcapng-skip': String(skip) } });
    this.kick();
  }

  /** The record counts of one origin (one pod of one capture): what its target's status shows. */
  originStatus(origin: RecordOrigin): { recordsOffered: number; recordsPublished: number; recordsDropped: number } {
    const c = this.records.countsOf(recordKey(origin.namespace, origin.capture, origin.pod));
    return { recordsOffered: c.offered, recordsPublished: c.published, recordsDropped: c.dropped };
  }

  /** Forgets an origin's counts once its capture ended and reported them. */
  forgetOrigin(origin: RecordOrigin): void {
    this.records.forgetKey(recordKey(origin.namespace, origin.capture, origin.pod));
  }

  status(): KafkaSinkStatus {
    const r = this.records.counts();
    const w = this.raw.counts();
    return {
      state: this.state,
      idempotent: this.idempotent,
      recordsOffered: r.offered,
      recordsPublished: r.published,
      recordsDropped: r.dropped,
      recordsBuffered: r.buffered,
      rawMessagesPublished: w.published,
      rawMessagesBuffered: w.buffered,
      rawMessagesDropped: w.dropped,
      rawBytesDropped: w.droppedBytes,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /**
   * Stops accepting, publishes what is buffered for at most drainMs, then closes the producer. What is
   * still buffered then is counted as dropped.
   */
  async close(drainMs = 10_000): Promise<KafkaSinkStatus> {
    this.flushRaw();
    this.closing = true;
    const deadline = Date.now() + drainMs;
    this.drainDeadline = deadline;
    this.kick();
    await this.loopDone;
    this.state = 'closed';
    await this.producer.close().catch(() => undefined);
    return this.status();
  }

  private drainDeadline = Infinity;
  private batchBytes = Number.MAX_SAFE_INTEGER;

  private kick(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Waits for the next offer (or close): the loop does nothing while there is nothing to send. */
  private async idle(): Promise<void> {
    await new Promise<void>((r) => (this.wake = r));
    this.wake = undefined;
  }

  private async loop(): Promise<void> {
    let backoff = this.config.retryMinMs;
    for (;;) {
      if (this.closing && (Date.now() >= this.drainDeadline || (this.records.length === 0 && this.raw.length === 0))) break;
      if (this.records.length === 0 && this.raw.length === 0) {
        await this.idle();
        continue;
      }
      if (!this.closing && this.records.length > 0 && this.records.length < this.config.batchMaxRecords && this.raw.length === 0 && this.config.lingerMs > 0) {
        await this.sleep(this.config.lingerMs);
      }
      try {
        if (this.raw.length > 0) {
          // One raw message per request: each is up to 1 MiB, the broker's default limit for a batch.
          const batch = this.raw.peek(1);
          try {
            // raw values are always bytes (offerRawMessage)
            await this.producer.send(batch as readonly OutMessage[]);
            this.raw.commit(batch.length);
          } catch (e) {
            if (!/too large|MESSAGE_TOO_LARGE|RecordTooLarge/i.test(describe(e))) throw e;
            // The topic's max.message.bytes is below rawMaxMessageBytes: this message can never go; count it.
            this.raw.dropHead(1);
            this.lastError = `raw message dropped: ${describe(e)}; raise the topic's max.message.bytes or lower rawMaxMessageBytes`;
          }
        }
        if (this.records.length > 0) {
          const batch = this.records.peek(this.config.batchMaxRecords, this.batchBytes);
          try {
            await this.producer.send(packRecords(batch, this.config.recordsPerMessage));
          } catch (e) {
            if (!/too large|MESSAGE_TOO_LARGE|RecordTooLarge/i.test(describe(e))) throw e;
            // The broker's limit is lower than batchMaxBytes: halve the batch; a record too large on its
            // own can never be published: count it as dropped.
            if (batch.length === 1) this.records.dropHead(1);
            else this.batchBytes = Math.max(1, Math.floor(this.batchBytes / 2));
            continue;
          }
          this.records.commit(batch.length);
        }
        this.state = 'publishing';
        this.lastError = undefined;
        backoff = this.config.retryMinMs;
      } catch (e) {
        const msg = describe(e);
        this.state = 'unavailable';
        this.lastError = `cannot publish to ${this.config.brokers.join(',')} (topic ${this.config.topic}): ${msg}`;
        if (this.idempotent && /authoriz|IDEMPOTENT_WRITE|ClusterAuthorization/i.test(msg)) {
          // The broker refuses the idempotent producer (no IDEMPOTENT_WRITE permission): acks=all without it.
          this.idempotent = false;
          await this.producer.close().catch(() => undefined);
          this.producer = this.factory(this.config, false);
          continue;
        }
        if (this.closing && Date.now() >= this.drainDeadline) break;
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.config.retryMaxMs);
      }
    }
    // Whatever could not be published before close is lost: count it.
    this.records.dropRemaining();
    this.raw.dropRemaining();
  }
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const parts = [e.message];
  const nested = (e as { errors?: unknown[] }).errors;
  if (Array.isArray(nested)) for (const n of nested.slice(0, 3)) if (n instanceof Error) parts.push(n.message);
  let c: unknown = e.cause;
  for (let i = 0; i < 3 && c instanceof Error; i++, c = c.cause) parts.push(c.message);
  return [...new Set(parts)].join(': ');
}

