// The one place that knows the Kafka client (@platformatic/kafka): builds a producer from the resolved
// config. The sink talks to the small ProducerLike interface, so tests of the shell can inject another.
import { Producer, stringSerializers } from '@platformatic/kafka';
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

export const platformaticProducer: ProducerFactory = (config, idempotent) => {
  const p = new Producer<string, Buffer, string, string>({
    clientId: config.clientId,
    bootstrapBrokers: [...config.brokers],
    serializers: { key: stringSerializers.key, value: (v?: Buffer) => v, headerKey: stringSerializers.headerKey, headerValue: stringSerializers.headerValue },
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
      await p.send({ messages: messages.map((m) => ({ topic: m.topic, key: m.key, value: m.value, ...(m.headers ? { headers: { ...m.headers } } : {}) })) });
    },
    async close() {
      // close(force) has a callback overload that TypeScript picks for a literal; use it explicitly.
      await new Promise<void>((resolve, reject) => p.close(true, (e) => (e ? reject(e) : resolve())));
    },
  };
};
