// A real Apache Kafka broker for the tests and the benchmark: Kafka 4.x in KRaft mode, one JVM that is
// both broker and controller, from Maven Central jars resolved once by scripts/kafka.mjs (cached in
// ~/.cache/pcapper). Each KafkaBroker has its own free ports, a fresh log directory formatted with
// Kafka's StorageTool, and can be stopped and started again on the same ports and data (the "broker
// gone mid-capture" fault). stop() + cleanup() leave no process or file behind.
//
// Topology: by default the broker listens on 127.0.0.1 and the producer under test runs in the test
// process. It models a Kafka cluster outside the Kubernetes cluster that the agents (not the user's
// laptop) reach. With `placement` the JVM runs inside a network namespace of the simulated cluster
// (e.g. the control plane's, at CONTROL_PLANE_IP) and has two client listeners:
//   CLUSTER  <host>:9092, advertised as such: what agents on the nodes route to over the pod fabric;
//   HOST     127.0.0.1:9094 in that namespace, advertised as 127.0.0.1:<P>: the test process's way in,
//            through the harness's forwarders (host 127.0.0.1:<P> -> Unix socket -> 127.0.0.1:9094),
//            as it reaches the API server. A Kafka client follows the advertised address of the
//            listener it connected to, so each side sees only addresses it can reach.
// The KRaft controller listener stays on the namespace's loopback (127.0.0.1:9093).
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, Consumer, type Message } from '@platformatic/kafka';
import { decodeRecordMessage } from '../../src/sink/kafka/record.js';
import { startForwarder, type Forwarder } from './cluster.js';
import { spawnInNetns, type HarnessRun, type NetnsTarget } from './netns.js';
import { repoRoot } from './paths.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves the jars if needed (the first run prints its progress) and returns their directory. */
export async function kafkaLibs(): Promise<string> {
  const mod = (await import(join(repoRoot(), 'scripts', 'kafka.mjs'))) as { ensureKafka: (o?: { quiet?: boolean }) => string };
  return mod.ensureKafka();
}

interface Running {
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<unknown>;
  done: boolean;
}

/** Where the broker runs when it is not on the test's loopback. */
export interface KafkaPlacement {
  /** The namespace it runs in, e.g. the cluster's control plane. */
  readonly netns: Pick<NetnsTarget, 'netnsPath'>;
  /** The address its cluster listener binds and advertises there, e.g. CONTROL_PLANE_IP. */
  readonly host: string;
  readonly run: HarnessRun;
}

export interface KafkaBrokerOptions {
  /** Default partitions of auto-created topics (default 3). */
  readonly partitions?: number;
  /** JVM heap (default 512m: the machine is shared). */
  readonly heap?: string;
  readonly placement?: KafkaPlacement;
}

/** Ports of a placed broker inside its namespace. */
const CLUSTER_PORT = 9092;
const PLACED_CONTROLLER_PORT = 9093;
const HOST_LISTENER_PORT = 9094;

export class KafkaBroker {
  private proc: Running | undefined;
  private forwarders: Forwarder[] = [];
  private heap: string | undefined;
  private constructor(
    readonly libs: string,
    readonly dir: string,
    /** The port the test process connects to (the host forwarder's, with a placement). */
    readonly port: number,
    readonly controllerPort: number,
    readonly placement?: KafkaPlacement,
  ) {}

  /** host:port for a producer or consumer in the test process. */
  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** host:port for a client inside the cluster network (an agent); the same as bootstrap without a placement. */
  get clusterBootstrap(): string {
    return this.placement ? `${this.placement.host}:${CLUSTER_PORT}` : this.bootstrap;
  }

  get logDir(): string {
    return join(this.dir, 'data');
  }

  static async start(opts: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
    const libs = await kafkaLibs();
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-kafka-'));
    const p = opts.placement;
    const fwd: Forwarder[] = [];
    let port: number;
    if (p) {
      // host 127.0.0.1:<free> -> Unix socket -> (broker's netns) 127.0.0.1:9094, the HOST listener
      const socket = join(dir, 'kafka.sock');
      fwd.push(await startForwarder(p.run, ['unix-to-tcp', socket, '127.0.0.1', String(HOST_LISTENER_PORT)], p.netns.netnsPath, 'kafka forwarder (broker netns)'));
      const outer = await startForwarder(p.run, ['tcp-to-unix', '127.0.0.1', '0', socket], undefined, 'kafka forwarder (host)');
      fwd.push(outer);
      port = Number(outer.address.slice(outer.address.lastIndexOf(':') + 1));
    } else port = await freePort();
    const b = new KafkaBroker(libs, dir, port, p ? PLACED_CONTROLLER_PORT : await freePort(), p);
    b.forwarders = fwd;
    try {
      b.writeConfig(opts);
      b.format();
      await b.startAgain(opts.heap);
    } catch (e) {
      await b.dispose();
      throw e;
    }
    return b;
  }

  private get configFile(): string {
    return join(this.dir, 'server.properties');
  }

  private writeConfig(opts: KafkaBrokerOptions): void {
    const p = this.placement;
    const listeners = p
      ? [
          `listeners=PLAINTEXT://${p.host}:${CLUSTER_PORT},HOST://127.0.0.1:${HOST_LISTENER_PORT},CONTROLLER://127.0.0.1:${this.controllerPort}`,
          `advertised.listeners=PLAINTEXT://${p.host}:${CLUSTER_PORT},HOST://127.0.0.1:${this.port}`,
          'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,HOST:PLAINTEXT,CONTROLLER:PLAINTEXT',
        ]
      : [
          `listeners=PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${this.controllerPort}`,
          `advertised.listeners=PLAINTEXT://127.0.0.1:${this.port}`,
          'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        ];
    const props = [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${this.controllerPort}`,
      ...listeners,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${this.logDir}`,
      `num.partitions=${opts.partitions ?? 3}`,
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=true',
    ];
    writeFileSync(this.configFile, props.join('\n') + '\n', { mode: 0o600 });
  }

  private java(args: readonly string[]): { status: number | null; out: string } {
    const r = spawnSync('java', ['-cp', `${this.libs}/*`, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  }

  private format(): void {
    const r = this.java(['kafka.tools.StorageTool', 'format', '-t', randomUUID().replace(/-/g, '').slice(0, 22), '-c', this.configFile]);
    if (r.status !== 0) throw new Error(`kafka-storage format failed (${r.status}): ${r.out.trim().slice(-2000)}`);
  }

  /** Starts the broker (again) on the same ports and data; resolves when metadata answers. */
  async startAgain(heap = this.heap ?? '512m'): Promise<void> {
    if (this.proc && !this.proc.done) return;
    this.heap = heap;
    const logFile = join(this.dir, 'broker.log');
    const argv = ['java', `-Xmx${heap}`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', `${this.libs}/*`, 'kafka.Kafka', this.configFile];
    let running: Running;
    if (this.placement) {
      const p = spawnInNetns(this.placement.netns, argv, { run: this.placement.run, what: 'Kafka broker (test)', logFile, ref: true });
      running = { kill: (sig) => p.kill(sig), exited: p.exited, done: false };
    } else {
      const log = openSync(logFile, 'a', 0o600);
      const p = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', log, log] });
      closeSync(log);
      running = { kill: (sig) => p.kill(sig), exited: new Promise((resolve) => p.once('exit', resolve)), done: false };
    }
    void running.exited.then(() => (running.done = true));
    this.proc = running;
    // Ready when the broker answers a metadata request naming itself (bounded poll).
    for (let i = 0; i < 600; i++) {
      if (running.done) throw new Error(`the test Kafka broker exited at start; see ${logFile}`);
      if (await this.answers()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the test Kafka broker did not answer metadata on ${this.bootstrap} within 600 polls; see ${logFile}`);
  }

  private async answers(): Promise<boolean> {
    const admin = new Admin({ clientId: 'pcapper-harness', bootstrapBrokers: [this.bootstrap], retries: 0, timeout: 2_000 });
    try {
      const md = await admin.metadata({ topics: [] });
      return md.brokers.size > 0;
    } catch {
      return false;
    } finally {
      await admin.close().catch(() => undefined);
    }
  }

  async createTopic(topic: string, partitions = 3): Promise<void> {
    const admin = new Admin({ clientId: 'pcapper-harness', bootstrapBrokers: [this.bootstrap] });
    try {
      await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
    } finally {
      await admin.close();
    }
  }

  /**
   * The record batches of a topic as Kafka's own DumpLogSegments prints them (one line per batch,
   * with `compresscodec:`, `producerId:`, `count:`): the broker's view of what the producer sent.
   */
  dumpBatches(topic: string): string[] {
    const files: string[] = [];
    for (const d of readdirSync(this.logDir)) {
      if (!d.startsWith(`${topic}-`) || !/^\d+$/.test(d.slice(topic.length + 1))) continue;
      for (const f of readdirSync(join(this.logDir, d))) if (f.endsWith('.log')) files.push(join(this.logDir, d, f));
    }
    if (files.length === 0) return [];
    const r = this.java(['kafka.tools.DumpLogSegments', '--files', files.join(',')]);
    if (r.status !== 0) throw new Error(`DumpLogSegments failed (${r.status}): ${r.out.slice(-2000)}`);
    return r.out.split('\n').filter((l) => l.startsWith('baseOffset:'));
  }

  /** SIGTERM (a clean shutdown) and wait until the JVM is gone. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.done) return;
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    await p.exited;
    clearTimeout(t);
  }

  /** SIGKILL (the broker's machine gone) and wait until the JVM is gone. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.done) return;
    p.kill('SIGKILL');
    await p.exited;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** stop(), the forwarders of a placed broker, cleanup(). */
  async dispose(): Promise<void> {
    await this.stop();
    for (const f of this.forwarders) await f.stop().catch(() => undefined);
    this.forwarders = [];
    this.cleanup();
  }
}

/** Bounded poll: resolves with fn()'s first truthy value, or fails naming what it waited for. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr instanceof Error ? `: ${lastErr.message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** One record of a records message (a message holds one or more: envelope ndjson/1, docs/kafka.md). */
export interface ConsumedRecord {
  readonly key: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly record: unknown;
}

export interface ConsumedMessage {
  readonly key: string;
  readonly value: Buffer;
  readonly headers: ReadonlyMap<string, string>;
  readonly partition: number;
  readonly offset: bigint;
}

/** Reads a topic from the beginning into `messages` until closed (a consumer in its own group). */
export class TopicReader {
  readonly messages: ConsumedMessage[] = [];
  private constructor(private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>) {}

  static async start(bootstrap: string, topic: string): Promise<TopicReader> {
    const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      groupId: `pcapper-test-${randomUUID()}`,
      clientId: 'pcapper-test-reader',
      bootstrapBrokers: [bootstrap],
    });
    const r = new TopicReader(consumer);
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, sessionTimeout: 10_000, heartbeatInterval: 500 });
    stream.on('data', (m: Message<Buffer, Buffer, Buffer, Buffer>) => {
      const headers = new Map<string, string>();
      for (const [k, v] of m.headers) headers.set(k.toString(), v.toString());
      r.messages.push({ key: m.key?.toString() ?? '', value: m.value ?? Buffer.alloc(0), headers, partition: m.partition, offset: m.offset });
    });
    stream.on('error', () => undefined);
    return r;
  }

  /** The records of the messages consumed so far, split as any consumer must (decodeRecordMessage), in order. */
  records(): ConsumedRecord[] {
    return this.messages.flatMap((m) => decodeRecordMessage(m.value, m.headers).map((record) => ({ key: m.key, partition: m.partition, offset: m.offset, record })));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.consumer.close(true, (e) => (e ? reject(e) : resolve())));
  }
}
