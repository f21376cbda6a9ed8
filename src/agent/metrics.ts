/**
 * The agent's Prometheus metrics (prom-client, as the controller's src/controller/metrics.ts), on
 * their own Registry. Counters are incremented where things happen; the gauges (running captures,
 * disk, per-target figures) are read from the agent's cached state at scrape time: O(targets), no
 * file system access, since /metrics needs no client certificate. Every agent metric carries the
 * `node` label first. The work queue reports through QueueObserver.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorKind, ErrorReason } from '../k8s/errors.js';
import type { QueueObserver } from '../k8s/workqueue.js';
import { PairMetrics } from './pair-metrics.js';

/** The figures the gauges show, read from the agent at scrape time. */
export interface MetricsSnapshot {
  capturesRunning: number;
  diskUsedBytes: number;
  diskFreeBytes: number;
  targets: Array<{ namespace: string; capture: string; target: string; bytes: number; packets: number; drops: number; running: boolean }>;
}

const TARGET_LABELS = ['node', 'namespace', 'capture', 'target'] as const;

export class AgentMetrics implements QueueObserver {
  readonly registry = new Registry();
  private snapshot: () => MetricsSnapshot = () => ({ capturesRunning: 0, diskUsedBytes: 0, diskFreeBytes: 0, targets: [] });
  private depth: () => number = () => 0;
  private readonly starts: Counter<'node'>;
  private readonly failures: Counter<'node'>;
  private readonly authDenied: Counter<'node'>;
  private readonly reconciles: Counter<'node' | 'result'>;
  private readonly errors: Counter<'node' | 'type' | 'reason'>;
  private readonly duration: Histogram<'node'>;
  private readonly retries: Counter<'node'>;
  /** per pod pair metrics (pcapper_pair_*), fed by the analysis engine (a RecordConsumer) */
  readonly pairs: PairMetrics;

  constructor(
    private readonly node: string,
    opts: { defaultMetrics?: boolean; pairTopN?: number } = {},
  ) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const n = { node };
    // cached per scrape: one snapshot serves every gauge of that scrape
    let cached: { at: number; s: MetricsSnapshot } | undefined;
    let scrape = 0;
    const snap = (): MetricsSnapshot => {
      if (!cached || cached.at !== scrape) cached = { at: scrape, s: this.snapshot() };
      return cached.s;
    };
    this.beginScrape = () => void scrape++;
    const simple = (name: string, help: string, read: (s: MetricsSnapshot) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['node'],
        registers,
        collect() {
          this.set(n, read(snap()));
        },
      });
    };
    simple('pcapper_agent_captures_running', 'tcpdump processes running on this node.', (s) => s.capturesRunning);
    simple('pcapper_agent_disk_used_bytes', 'Bytes of capture data in the data directory (last measurement).', (s) => s.diskUsedBytes);
    simple('pcapper_agent_disk_free_bytes', 'Bytes free on the data directory file system (last measurement).', (s) => s.diskFreeBytes);
    this.starts = new Counter({ name: 'pcapper_agent_capture_starts_total', help: 'Targets started.', labelNames: ['node'], registers });
    this.failures = new Counter({ name: 'pcapper_agent_capture_failures_total', help: 'Targets failed.', labelNames: ['node'], registers });
    this.authDenied = new Counter({ name: 'pcapper_agent_auth_denied_total', help: 'File/stream requests refused (401/403).', labelNames: ['node'], registers });
    const perTarget = (name: string, help: string, read: (t: MetricsSnapshot['targets'][number]) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: TARGET_LABELS,
        registers,
        collect() {
          // targets come and go: only the ones the agent knows now
          this.reset();
          for (const t of snap().targets) this.set({ node, namespace: t.namespace, capture: t.capture, target: t.target }, read(t));
        },
      });
    };
    perTarget('pcapper_agent_target_bytes', 'Bytes written for a target.', (t) => t.bytes);
    perTarget('pcapper_agent_target_packets', 'Packets captured for a target.', (t) => t.packets);
    perTarget('pcapper_agent_target_drops', 'Packets dropped by the kernel for a target.', (t) => t.drops);
    perTarget('pcapper_agent_target_running', '1 while the target captures.', (t) => (t.running ? 1 : 0));
    this.reconciles = new Counter({ name: 'pcapper_agent_reconcile_total', help: 'Reconciles of PacketCaptures on this node, by result (success or error).', labelNames: ['node', 'result'], registers });
    this.errors = new Counter({
      name: 'pcapper_agent_reconcile_errors_total',
      help: 'Failed reconciles by type (terminal: not retried until the object changes; transient: retried with backoff) and reason.',
      labelNames: ['node', 'type', 'reason'],
      registers,
    });
    this.duration = new Histogram({
      name: 'pcapper_agent_reconcile_duration_seconds',
      help: 'Time of one reconcile on this node (starting a target runs in the background and is not included).',
      labelNames: ['node'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.retries = new Counter({ name: 'pcapper_agent_workqueue_retries_total', help: 'Capture keys queued again with backoff after a transient error.', labelNames: ['node'], registers });
    const depth = (): number => this.depth();
    new Gauge({
      name: 'pcapper_agent_workqueue_depth',
      help: 'Capture keys ready to be reconciled and waiting for a worker.',
      labelNames: ['node'],
      registers,
      collect() {
        this.set(n, depth());
      },
    });
    // the counters exist (at 0) before the first event, so rate() and absent() behave
    for (const c of [this.starts, this.failures, this.authDenied, this.retries]) c.inc(n, 0);
    this.reconciles.inc({ node, result: 'success' }, 0);
    this.reconciles.inc({ node, result: 'error' }, 0);
    this.pairs = new PairMetrics(this.registry, { topN: opts.pairTopN ?? 100, node });
  }

  private readonly beginScrape: () => void;

  bindSnapshot(read: () => MetricsSnapshot): void {
    this.snapshot = read;
  }
  bindDepth(depth: () => number): void {
    this.depth = depth;
  }
  started(): void {
    this.starts.inc({ node: this.node });
  }
  targetFailed(): void {
    this.failures.inc({ node: this.node });
  }
  deniedRequest(): void {
    this.authDenied.inc({ node: this.node });
  }
  ran(ms: number, result: 'success' | 'error'): void {
    this.reconciles.inc({ node: this.node, result });
    this.duration.observe({ node: this.node }, ms / 1000);
  }
  failed(kind: ErrorKind, reason: ErrorReason): void {
    this.errors.inc({ node: this.node, type: kind, reason });
  }
  retried(): void {
    this.retries.inc({ node: this.node });
  }

  /** The text exposition format, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    this.beginScrape();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
