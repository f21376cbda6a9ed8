/**
 * The controller's Prometheus metrics (prom-client), on their own Registry so that tests and a
 * second controller in one process never share counters. The work queue reports through the
 * QueueObserver interface; leadership and informer sync are read at scrape time.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorKind, ErrorReason } from '../k8s/errors.js';
import type { QueueObserver } from '../k8s/workqueue.js';

export class ControllerMetrics implements QueueObserver {
  readonly registry = new Registry();
  private depth: () => number = () => 0;
  private leader: () => boolean = () => false;
  private synced: () => boolean = () => false;
  private readonly reconciles: Counter<'result'>;
  private readonly errors: Counter<'type' | 'reason'>;
  private readonly duration: Histogram;
  private readonly retries: Counter;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    // process_* and nodejs_* (CPU, memory, event-loop lag, handles)
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.reconciles = new Counter({ name: 'pcapper_controller_reconcile_total', help: 'Reconciles of PacketCaptures, by result (success or error).', labelNames: ['result'], registers });
    this.errors = new Counter({
      name: 'pcapper_controller_reconcile_errors_total',
      help: 'Failed reconciles by type (terminal: not retried until the object changes; transient: retried with backoff) and reason.',
      labelNames: ['type', 'reason'],
      registers,
    });
    this.duration = new Histogram({
      name: 'pcapper_controller_reconcile_duration_seconds',
      help: 'Time of one reconcile, including its API writes.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.retries = new Counter({ name: 'pcapper_controller_workqueue_retries_total', help: 'Keys queued again with backoff after a transient error.', registers });
    // read at scrape time: no state to keep in sync
    const depth = (): number => this.depth();
    const leader = (): boolean => this.leader();
    const synced = (): boolean => this.synced();
    new Gauge({
      name: 'pcapper_controller_workqueue_depth',
      help: 'Keys ready to be reconciled and waiting for a worker.',
      registers,
      collect() {
        this.set(depth());
      },
    });
    new Gauge({
      name: 'pcapper_controller_leader',
      help: '1 while this replica holds the Lease and reconciles, else 0.',
      registers,
      collect() {
        this.set(leader() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'pcapper_controller_informers_synced',
      help: '1 once every informer has listed, else 0.',
      registers,
      collect() {
        this.set(synced() ? 1 : 0);
      },
    });
    // the counters exist (at 0) before the first reconcile, so rate() and absent() behave
    this.reconciles.inc({ result: 'success' }, 0);
    this.reconciles.inc({ result: 'error' }, 0);
  }

  bindDepth(depth: () => number): void {
    this.depth = depth;
  }
  bindLeader(leader: () => boolean): void {
    this.leader = leader;
  }
  bindSynced(synced: () => boolean): void {
    this.synced = synced;
  }
  ran(ms: number, result: 'success' | 'error'): void {
    this.reconciles.inc({ result });
    this.duration.observe(ms / 1000);
  }
  failed(kind: ErrorKind, reason: ErrorReason): void {
    this.errors.inc({ type: kind, reason });
  }
  retried(): void {
    this.retries.inc();
  }

  /** The text exposition format, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
