/**
 * The server's TLS trust state, refreshed periodically: its own serving/client certificate and the
 * pcapper CA (files, rotated by the chart or cert-manager), and the front-proxy settings from the
 * ConfigMap kube-system/extension-apiserver-authentication (rotated by the cluster). Each refresh
 * that changes something calls onChange, which installs a new secure context for NEW connections.
 * A failed read keeps the last good state (and is logged); readiness reports what is missing.
 */
import type { Clock, Timer } from '../k8s/clock.js';
import type { Logger } from '../telemetry/log.js';
import { parseFrontProxyConfig, type FrontProxyConfig } from './identity.js';

export interface TrustSources {
  readFile(path: string): Promise<Buffer>;
  /** The ConfigMap's data (rejects when the API cannot be read). */
  frontProxyConfigMap(): Promise<Record<string, string> | undefined>;
}

export interface TrustFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface TrustSnapshot {
  cert: Buffer;
  key: Buffer;
  /** The pcapper CA (verifies the agents). */
  ca: Buffer;
  frontProxy: FrontProxyConfig | undefined;
  /** Increases with every change. */
  generation: number;
}

export class TrustState {
  private snap: TrustSnapshot | undefined;
  private timer: Timer | undefined;
  private stopped = false;
  /** Last error of a refresh, for /readyz. */
  lastError: string | undefined;

  constructor(
    private readonly files: TrustFiles,
    private readonly src: TrustSources,
    private readonly onChange: (s: TrustSnapshot) => void,
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  get current(): TrustSnapshot | undefined {
    return this.snap;
  }

  /** Reads everything once; resolves even when something failed (see lastError). */
  async refresh(): Promise<void> {
    const errors: string[] = [];
    let cert = this.snap?.cert;
    let key = this.snap?.key;
    let ca = this.snap?.ca;
    try {
      [cert, key, ca] = await Promise.all([this.src.readFile(this.files.certFile), this.src.readFile(this.files.keyFile), this.src.readFile(this.files.caFile)]);
    } catch (e) {
      errors.push(`cannot read the TLS files: ${(e as Error).message}`);
    }
    let fp = this.snap?.frontProxy;
    try {
      fp = parseFrontProxyConfig(await this.src.frontProxyConfigMap());
    } catch (e) {
      errors.push(`front-proxy settings: ${(e as Error).message}`);
    }
    this.lastError = errors.length ? errors.join('; ') : undefined;
    if (this.lastError) this.log.warn('trust refresh failed', { error: this.lastError });
    if (!cert || !key || !ca) return;
    const prev = this.snap;
    const changed = !prev || !prev.cert.equals(cert) || !prev.key.equals(key) || !prev.ca.equals(ca) || JSON.stringify(prev.frontProxy) !== JSON.stringify(fp);
    if (!changed) return;
    this.snap = { cert, key, ca, frontProxy: fp, generation: (prev?.generation ?? 0) + 1 };
    this.log.info('trust updated', { generation: this.snap.generation, frontProxy: fp !== undefined, allowedNames: fp?.allowedNames });
    this.onChange(this.snap);
  }

  /** Refreshes every intervalMs until stop(). */
  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.timer = this.clock.setTimer(() => {
        this.refresh().then(tick, tick);
      }, this.intervalMs);
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }
}
