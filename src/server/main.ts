/**
 * `pcapper server`: the aggregated API server data.pcapper.dev (docs/data-api.md). Only wiring:
 * configuration from the environment (src/config/server.ts), kubeconfig (in-cluster, or
 * KUBECONFIG / --kubeconfig for development and tests), the logger, signals.
 *
 *   pcapper server [--kubeconfig FILE]
 *
 * Exit codes: 0 after SIGTERM/SIGINT, 1 on a start failure, 2 on bad configuration or usage.
 */
import { loadServerConfig, ServerConfigError } from '../config/server.js';
import { loadKubeConfig } from '../k8s/client.js';
import { createLogger } from '../telemetry/log.js';
import { PcapperServer } from './server.js';

const USAGE = `usage: pcapper server [--kubeconfig FILE]

Runs the pcapper aggregated API server (APIService v1alpha1.data.pcapper.dev). Configuration
comes from the environment:
  PCAPPER_TLS_CERT, PCAPPER_TLS_KEY, PCAPPER_CA (required), PCAPPER_LISTEN (0.0.0.0:8443),
  PCAPPER_SYSTEM_NAMESPACE (pcapper), PCAPPER_AGENT_DAEMONSET (pcapper-agent),
  PCAPPER_AUTH_REFRESH (60s), PCAPPER_LOG_LEVEL (info), PCAPPER_LOG_FORMAT (json)
`;

export async function run(argv: readonly string[]): Promise<number> {
  let kubeconfig: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (a === '--kubeconfig' && argv[i + 1] !== undefined) kubeconfig = argv[++i];
    else if (a.startsWith('--kubeconfig=')) kubeconfig = a.slice('--kubeconfig='.length);
    else {
      process.stderr.write(`pcapper server: unknown argument "${a}"\n${USAGE}`);
      return 2;
    }
  }
  const env = process.env;
  let config;
  try {
    config = loadServerConfig(env);
  } catch (e) {
    if (e instanceof ServerConfigError) {
      process.stderr.write(`pcapper server: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = createLogger({ level: config.logLevel, format: config.logFormat }).child({ component: 'server' });
  let kc;
  try {
    kc = loadKubeConfig({ kubeconfig, kubeconfigEnv: env['KUBECONFIG'] });
  } catch (e) {
    process.stderr.write(`pcapper server: ${(e as Error).message}${(e as Error).cause ? `: ${String(((e as Error).cause as Error).message)}` : ''}\n`);
    return 2;
  }
  const server = new PcapperServer({ config, kc, log });
  try {
    await server.start();
  } catch (e) {
    log.error('server failed to start', { err: e });
    await server.stop().catch(() => undefined);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal: sig });
      // Endpoints are removed asynchronously: keep serving 5 s, then let transfers finish for 20 s
      // (within the default 30 s terminationGracePeriodSeconds).
      server.stop(5000, 20_000).then(
        () => resolve(0),
        (err: unknown) => {
          log.error('stop failed', { err });
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
