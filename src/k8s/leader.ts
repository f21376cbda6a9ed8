/**
 * Lease-based leader election (coordination.k8s.io/v1), the client-go algorithm in small:
 * - a candidate reads the Lease; it takes it when there is none, when it is already the holder,
 *   or when the record has not changed for leaseDurationSeconds as seen on the LOCAL clock (no
 *   trust in remote clocks), writing with resourceVersion so two candidates cannot both win;
 * - the leader renews every retryPeriodMs; if it cannot renew for renewDeadlineMs it stops
 *   leading (onStoppedLeading) — it must stop acting at once: its lease may be taken by now;
 * - on stop() a leader releases the Lease (empty holder) so a standby takes over quickly.
 */
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from '../telemetry/log.js';
import { silentLogger } from '../telemetry/log.js';
import { sleep, systemClock, type Clock } from './clock.js';
import { clientFor, isConflict, isNotFound, type KubeClient } from './client.js';

export interface LeaderElectionOptions {
  kc: k8s.KubeConfig | KubeClient;
  namespace: string;
  /** Lease name, e.g. "pcapper-controller". */
  name: string;
  /** Unique per candidate, e.g. pod name + random suffix. */
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  log?: Logger;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** RFC 3339 with microseconds, as metav1.MicroTime wants it. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly client: KubeClient;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly leaseSec: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private leading = false;
  private observed: { key: string; at: number } | undefined;
  private lastRenew = 0;

  constructor(private readonly opts: LeaderElectionOptions) {
    this.client = clientFor(opts.kc);
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.log ?? silentLogger).child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    this.leaseSec = opts.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
  }

  isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases`;
  }

  /** One attempt to acquire or renew. Resolves true when we hold the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.now();
    let lease: Lease | undefined;
    try {
      lease = await this.client.request<Lease>({ path: `${this.path}/${this.opts.name}`, timeoutMs: this.renewDeadlineMs });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const mine: LeaseSpec = {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: this.leaseSec,
      renewTime: microTime(now),
    };
    if (!lease) {
      try {
        await this.client.request({
          method: 'POST',
          path: this.path,
          timeoutMs: this.renewDeadlineMs,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.opts.name, namespace: this.opts.namespace },
            spec: { ...mine, acquireTime: microTime(now), leaseTransitions: 0 },
          },
        });
        return true;
      } catch (e) {
        if (isConflict(e)) return false; // someone else created it first
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}`;
    if (!this.observed || this.observed.key !== key) this.observed = { key, at: now };
    const holder = spec.holderIdentity ?? '';
    const expired = this.observed.at + (spec.leaseDurationSeconds ?? this.leaseSec) * 1000 <= now;
    if (holder && holder !== this.opts.identity && !expired) return false;
    const transition = holder !== this.opts.identity;
    try {
      await this.client.request({
        method: 'PUT',
        path: `${this.path}/${this.opts.name}`,
        timeoutMs: this.renewDeadlineMs,
        body: {
          ...lease,
          spec: {
            ...spec,
            ...mine,
            acquireTime: transition ? microTime(now) : (spec.acquireTime ?? microTime(now)),
            leaseTransitions: (spec.leaseTransitions ?? 0) + (transition && holder ? 1 : 0),
          },
        },
      });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  /**
   * Campaigns until `signal` aborts. Calls onStartedLeading(leaderSignal) when elected; the
   * leaderSignal aborts when leadership is lost or on stop, after which onStoppedLeading runs and
   * run() resolves (a process that lost its lease should exit and start over).
   */
  async run(
    signal: AbortSignal,
    cb: { onStartedLeading: (leaderSignal: AbortSignal) => void; onStoppedLeading?: () => void },
  ): Promise<void> {
    // campaign
    while (!signal.aborted && !this.leading) {
      try {
        if (await this.tryAcquireOrRenew()) {
          this.leading = true;
          this.lastRenew = this.clock.now();
          break;
        }
      } catch (e) {
        this.log.warn('cannot read or write the lease', { err: e });
      }
      try {
        await sleep(this.clock, this.retryMs, signal);
      } catch {
        return;
      }
    }
    if (!this.leading) return;
    this.log.info('became leader');
    const leaderAbort = new AbortController();
    cb.onStartedLeading(leaderAbort.signal);
    // renew
    while (!signal.aborted) {
      try {
        await sleep(this.clock, this.retryMs, signal);
      } catch {
        break;
      }
      try {
        if (await this.tryAcquireOrRenew()) this.lastRenew = this.clock.now();
        else {
          this.log.warn('lease taken by another candidate');
          break;
        }
      } catch (e) {
        this.log.warn('cannot renew the lease', { err: e });
      }
      if (this.clock.now() - this.lastRenew > this.renewDeadlineMs) {
        this.log.warn('renew deadline passed');
        break;
      }
    }
    this.leading = false;
    leaderAbort.abort(new Error('leadership lost'));
    if (signal.aborted) await this.release();
    this.log.info('stopped leading');
    cb.onStoppedLeading?.();
  }

  /** Gives the lease up (empty holder, 1 s duration) so another candidate takes over at once. */
  private async release(): Promise<void> {
    try {
      const lease = await this.client.request<Lease>({ path: `${this.path}/${this.opts.name}`, timeoutMs: this.renewDeadlineMs });
      if (lease.spec?.holderIdentity !== this.opts.identity) return;
      await this.client.request({
        method: 'PUT',
        path: `${this.path}/${this.opts.name}`,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.clock.now()) } },
      });
    } catch (e) {
      this.log.warn('cannot release the lease', { err: e });
    }
  }
}
