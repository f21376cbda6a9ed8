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
import { componentArgs, componentKubeConfig, runUntilSignal } from '../bin/component.js';
import { createLogger } from '../telemetry/log.js';
import { PcapperServer } from './server.js';

const USAGE = `usage: pcapper server [--kubeconfig FILE]

Runs the pcapper aggregated API server (APIService v1alpha1.data.pcapper.dev). Configuration
comes from the environment:
  PCAPPER_TLS_CERT, PCAPPER_TLS_KEY, PCAPPER_CA (required), PCAPPER_LISTEN (0.0.0.0:8443),
  PCAPPER_SYSTEM_NAMESPACE (pcapper), PCAPPER_AGENT_DAEMONSET (pcapper-agent),
  PCAPPER_AUTH_REFRESH (60s), PCAPPER_LOG_LEVEL (info), PCAPPER_LOG_FORMAT (json),
  PCAPPER_STORE_CREDENTIALS_DIR and PCAPPER_KEYRING_DIR (reads from stores; both or neither)
`;

export async function run(argv: readonly string[]): Promise<number> {
  const args = componentArgs('server', USAGE, argv);
  if (typeof args === 'number') return args;
  let config;
  try {
    config = loadServerConfig(process.env);
  } catch (e) {
    if (e instanceof ServerConfigError) {
      process.stderr.write(`pcapper server: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = createLogger({ level: config.logLevel, format: config.logFormat }).child({ component: 'server' });
  const kc = componentKubeConfig('server', args.kubeconfig);
  if (typeof kc === 'number') return kc;
  const stores = config.storeCredentialsDir && config.keyringDir ? { credentialsDir: config.storeCredentialsDir, keyringDir: config.keyringDir, retry: { attempts: 3, baseMs: 200, capMs: 2_000 } } : undefined;
  const server = new PcapperServer({ config, kc, log, ...(stores ? { stores } : {}) });
  return runUntilSignal('server', log, {
    start: async () => {
      await server.start();
    },
    // Endpoints are removed asynchronously: keep serving 5 s, then let transfers finish for 20 s
    // (within the default 30 s terminationGracePeriodSeconds).
    stop: () => server.stop(5000, 20_000),
    abort: () => server.stop(),
  });
}
