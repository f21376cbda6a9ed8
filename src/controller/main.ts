/** `pcapper controller`: wires config, logger, kubeconfig and runController(); exits on SIGTERM or lost leadership. */
import { loadKubeConfig } from '../k8s/client.js';
import { startProbeServer, type ProbeServer } from '../telemetry/health.js';
import { createLogger } from '../telemetry/log.js';
import { PCAPPER_VERSION } from '../version.js';
import { CONTROLLER_USAGE, loadControllerConfig, type ControllerConfig } from './config.js';
import { runController } from './controller.js';
import { ControllerMetrics } from './metrics.js';

export async function run(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(CONTROLLER_USAGE + '\n');
    return 0;
  }
  let cfg: ControllerConfig;
  try {
    cfg = loadControllerConfig(argv, process.env);
  } catch (e) {
    process.stderr.write(`pcapper controller: ${e instanceof Error ? e.message : 'bad arguments'}\n${CONTROLLER_USAGE}\n`);
    return 2;
  }
  const log = createLogger({ level: cfg.logLevel, format: cfg.logFormat }, { component: 'controller' });
  const kc = loadKubeConfig({ kubeconfig: cfg.kubeconfig, kubeconfigEnv: cfg.kubeconfigEnv, context: cfg.context });
  log.info('starting', { version: PCAPPER_VERSION, systemNamespace: cfg.systemNamespace, leaderElect: cfg.leaderElect, identity: cfg.identity });
  const metrics = new ControllerMetrics();
  let synced = false;
  let stopping = false;
  // Ready once the caches are synced, leader or not: a synced standby is ready to take over within
  // one lease duration, and a rolling update must not wait for a new pod that cannot become leader
  // while the old one holds the Lease (which of the replicas leads is pcapper_controller_leader).
  const notReady = (): string | undefined => (stopping ? 'shutting down' : synced ? undefined : 'informers have not synced yet');
  let probes: ProbeServer | undefined;
  if (cfg.metricsAddr) {
    try {
      probes = await startProbeServer({ address: cfg.metricsAddr, metrics: () => metrics.render(), notReady });
    } catch (e) {
      const addr = `${cfg.metricsAddr.host ?? ''}:${cfg.metricsAddr.port}`;
      process.stderr.write(`pcapper controller: cannot serve metrics on ${addr}: ${e instanceof Error ? e.message : String(e)} (choose another --metrics-addr)\n`);
      return 1;
    }
    log.info('serving /metrics, /healthz and /readyz', { addr: probes.address });
  }
  const ctl = runController({
    kc,
    systemNamespace: cfg.systemNamespace,
    log,
    identity: cfg.identity,
    leaderElection: cfg.leaderElect ? { name: cfg.leaseName, namespace: cfg.leaseNamespace } : undefined,
    reconcile: {
      resolveGraceMs: cfg.resolveGraceSeconds * 1000,
      deadlineGraceMs: cfg.deadlineGraceSeconds * 1000,
      cleanupTimeoutMs: cfg.cleanupTimeoutSeconds * 1000,
    },
    concurrency: cfg.concurrency,
    metrics,
    // the chart installs the PacketCaptureSink CRD: spec.sink is checked against it
    sinks: true,
    ...(cfg.storeCredentialsDir ? { stores: { credentialsDir: cfg.storeCredentialsDir, retry: { attempts: 3, baseMs: 200, capMs: 2_000 }, requestTimeoutMs: 15_000 } } : {}),
  });
  metrics.bindLeader(() => ctl.isLeader());
  metrics.bindSynced(() => synced);
  void ctl.ready.then(() => {
    synced = true;
    log.info('informers synced');
  });
  const onSignal = (): void => {
    log.info('shutting down');
    stopping = true;
    void ctl.stop();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const { reason } = await ctl.done;
  await ctl.stop(); // after a lost lease the informers still run: stop them so the process can exit
  await probes?.close();
  log.info('stopped', { reason });
  // a replica that lost its lease exits non-zero and is restarted as a fresh candidate
  return reason === 'leadership-lost' ? 1 : 0;
}
