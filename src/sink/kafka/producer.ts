// The one place that knows the Kafka client (@platformatic/kafka): builds a producer from the resolved
// config. The sink talks to the small ProducerLike interface, so tests of the shell can inject another.
import { compatibilityPartitioner, Producer, stringSerializers } from '@platformatic/kafka';
import type { KafkaSinkConfig } from './config.js';

export interface OutMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ProducerLike {
  send(messages: readonly OutMessage[]): Promise<void>;
  close(): Promise<void>;
}

export type ProducerFactory = (config: KafkaSinkConfig, idempotent: boolean) => ProducerLike;

/** A key as the client sends it: its UTF-8 bytes and its partition hash (Java's: murmur2 & 0x7fffffff). */
interface EncodedKey {
  readonly bytes: Buffer;
  readonly partition: number;
}

/**
 * Keys repeat (one per pod of a capture): their bytes and partition hash are computed once, not per
 * message. The client hashes a key with a BigInt murmur2 (~3 µs a message, a tenth of its per-message
 * cost, docs/kafka.md "Performance"); the hash given here is the Java client's (the client's
 * compatibilityPartitioner: murmur2 with the sign bit masked; its defaultPartitioner's `>>> 0` picks
 * another partition than a Java producer for negative hashes unless the partition count is a power
 * of two), so a key lands where any Kafka producer puts it. Bounded: cleared when it holds `max` keys.
 */
export class KeyCache {
  private readonly keys = new Map<string, EncodedKey>();
  constructor(private readonly max = 10_000) {}

  get(key: string): EncodedKey {
    let k = this.keys.get(key);
    if (k === undefined) {
      if (this.keys.size >= this.max) this.keys.clear();
      const bytes = Buffer.from(key);
      k = { bytes, partition: compatibilityPartitioner(undefined as never, bytes) };
      this.keys.set(key, k);
    }
    return k;
  }
}

export const platformaticProducer: ProducerFactory = (config, idempotent) => {
  const keys = new KeyCache();
  const p = new Producer<Buffer, Buffer, string, string>({
    clientId: config.clientId,
    bootstrapBrokers: [...config.brokers],
    serializers: { key: (k?: Buffer) => k, value: (v?: Buffer) => v, headerKey: stringSerializers.headerKey, headerValue: stringSerializers.headerValue },
    idempotent,
    acks: -1,
    compression: config.compression,
    autocreateTopics: false,
    timeout: config.requestTimeoutMs,
    // The client retries a little on its own (the idempotent producer would otherwise retry forever and
    // the send would never return while the broker is gone); the sink's loop does the rest.
    retries: 2,
    retryDelay: 100,
    ...(config.tls ? { tls: { ...config.tls }, ...(config.tls.servername ? { tlsServerName: config.tls.servername } : {}) } : {}),
    ...(config.sasl ? { sasl: { mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } } : {}),
  });
  return {
    async send(messages) {
      await p.send({
        messages: messages.map((m) => {
          const k = keys.get(m.key);
          return { topic: m.topic, key: k.bytes, partition: k.partition, value: m.value, ...(m.headers ? { headers: { ...m.headers } } : {}) };
        }),
      });
    },
    async close() {
      // close(force) has a callback overload that TypeScript picks for a literal; use it explicitly.
      await new Promise<void>((resolve, reject) => p.close(true, (e) => (e ? reject(e) : resolve())));
    },
  };
};
