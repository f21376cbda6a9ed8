/** `pcapper controller`: wires config, logger, kubeconfig and runController(); exits on SIGTERM or lost leadership. */
import { loadKubeConfig } from '../k8s/client.js';
import { createLogger } from '../telemetry/log.js';
import { PCAPPER_VERSION } from '../version.js';
import { CONTROLLER_USAGE, loadControllerConfig, type ControllerConfig } from './config.js';
import { runController } from './controller.js';

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
  });
  const onSignal = (): void => {
    log.info('shutting down');
    void ctl.stop();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const { reason } = await ctl.done;
  await ctl.stop(); // after a lost lease the informers still run: stop them so the process can exit
  log.info('stopped', { reason });
  // a replica that lost its lease exits non-zero and is restarted as a fresh candidate
  return reason === 'leadership-lost' ? 1 : 0;
}
