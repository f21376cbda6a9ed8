/**
 * Assembles the pcapper server from its parts (config, trust refresher, SAR authorizer, agent
 * locator and client, HTTP shell) and runs it; main.ts and the component tests both use this.
 */
import { applyStatus } from '../k8s/status.js';
import { WEBHOOK_FIELD_MANAGER } from '../api/trigger-schema.js';
import { readFile } from 'node:fs/promises';
import type * as k8s from '@kubernetes/client-node';
import type { ServerConfig } from '../config/server.js';
import { clientFor } from '../k8s/client.js';
import { systemClock, type Clock } from '../k8s/clock.js';
import type { Logger } from '../telemetry/log.js';
import { AgentClient } from './agent-client.js';
import { AgentLocator } from './agents.js';
import { SarAuthorizer } from './authz.js';
import { DataServer } from './http.js';
import { ServerKubeApi } from './kube.js';
import { TrustState } from './trust.js';
import { StoreReader, type StoreReadOptions } from './store-reads.js';

export type PcapperServerConfig = Pick<ServerConfig, 'certFile' | 'keyFile' | 'caFile' | 'listenHost' | 'listenPort' | 'systemNamespace' | 'agentDaemonSet' | 'agentServerName' | 'authRefreshMs'>;

export interface PcapperServerOptions {
  config: PcapperServerConfig;
  kc: k8s.KubeConfig;
  log: Logger;
  clock?: Clock;
  /** SubjectAccessReview cache lifetime (≤ 5 s; 0 disables). */
  authCacheTtlMs?: number;
  /** Reads from stores (docs/storage.md section 7): the mounted credentials and keys; absent = nodes only. */
  stores?: StoreReadOptions;
}

export class PcapperServer {
  private readonly api: ServerKubeApi;
  private readonly trust: TrustState;
  private readonly http: DataServer;
  private agents: AgentClient | undefined;
  private readonly clock: Clock;
  port = 0;
  private stopping = false;

  constructor(private readonly o: PcapperServerOptions) {
    this.clock = o.clock ?? systemClock;
    const client = clientFor(o.kc);
    this.api = new ServerKubeApi(client, () => this.clock.now());
    const authz = new SarAuthorizer({ post: this.api.postReview, ttlMs: o.authCacheTtlMs ?? 5000, now: () => this.clock.now() });
    const locator = new AgentLocator({ api: this.api, namespace: o.config.systemNamespace, daemonSet: o.config.agentDaemonSet, now: () => this.clock.now() });
    this.trust = new TrustState(
      { certFile: o.config.certFile, keyFile: o.config.keyFile, caFile: o.config.caFile },
      { readFile: (p) => readFile(p), frontProxyConfigMap: () => this.api.frontProxyConfigMap() },
      (t) => {
        this.http.updateTrust(t);
        this.agents?.setTls({ ca: t.ca, cert: t.cert, key: t.key });
      },
      o.log,
      this.clock,
      o.config.authRefreshMs,
    );
    this.http = new DataServer({
      trust: () => this.trust.current,
      authorize: (id, ns, name, access) => authz.authorize(id, ns, name, access),
      recordFiring: async (ns, name, firing) => {
        await applyStatus(client, ns, name, { firings: [firing] }, WEBHOOK_FIELD_MANAGER);
      },
      now: () => this.clock.now(),
      getCapture: (ns, name) => this.api.getCapture(ns, name),
      locate: (node) => locator.locate(node),
      locateAll: (nodes) => locator.locateAll(nodes),
      agents: () => {
        if (!this.agents) throw new Error('agent client not started');
        return this.agents;
      },
      notReady: () => this.notReady(),
      log: o.log,
      ...(o.stores ? { store: new StoreReader(o.stores, (n) => this.api.getStore(n), () => this.api.listStores()) } : {}),
    });
  }

  /** Why /readyz is 503, or undefined when ready. */
  notReady(): string | undefined {
    if (this.stopping) return 'shutting down';
    const t = this.trust.current;
    if (!t) return `serving certificate not loaded${this.trust.lastError ? ` (${this.trust.lastError})` : ''}`;
    if (!t.frontProxy) return `front-proxy CA not read${this.trust.lastError ? ` (${this.trust.lastError})` : ''}`;
    // The trust refresh reads the API every authRefreshMs, so a healthy server has answers that recent.
    const staleMs = 3 * this.o.config.authRefreshMs;
    if (this.clock.now() - this.api.lastAnswer > staleMs) return `no answer from the API server for more than ${Math.round(staleMs / 1000)} s`;
    return undefined;
  }

  /** Loads the certificates and the front-proxy settings, then listens; resolves with the port. */
  async start(): Promise<number> {
    await this.trust.refresh();
    const t = this.trust.current;
    if (!t) throw new Error(`cannot start: ${this.trust.lastError ?? 'TLS files not loaded'}`);
    this.agents = new AgentClient({ tls: { ca: t.ca, cert: t.cert, key: t.key }, serverName: this.o.config.agentServerName });
    this.port = await this.http.listen(this.o.config.listenHost, this.o.config.listenPort);
    this.trust.start();
    this.o.log.info('listening', { host: this.o.config.listenHost, port: this.port, frontProxy: t.frontProxy !== undefined });
    return this.port;
  }

  /** Re-reads the certificates and the ConfigMap now (tests; the timer does it periodically). */
  refreshTrust(): Promise<void> {
    return this.trust.refresh();
  }

  /**
   * Shuts down. With `graceMs` (main: on SIGTERM) /readyz turns 503 first and the server keeps
   * serving that long, so the Service stops sending new requests here before the listener closes;
   * then requests in flight get `drainMs` to finish (a download the CLI would otherwise resume).
   */
  async stop(graceMs = 0, drainMs = 0): Promise<void> {
    this.stopping = true;
    this.trust.stop();
    if (graceMs > 0) await new Promise((r) => setTimeout(r, graceMs));
    await this.http.close(drainMs);
    this.agents?.close();
  }
}
