/**
 * `pcapper agent`: the node agent's entry point. Only wiring: configuration from the environment
 * (read once, src/config/agent.ts), kubeconfig (in-cluster, or KUBECONFIG / --kubeconfig for
 * development and tests), the logger, signals.
 *
 *   pcapper agent [--kubeconfig FILE]
 *
 * Exit codes: 0 after SIGTERM/SIGINT, 1 on a start failure, 2 on bad configuration or usage.
 */
import { loadKeyringDir } from '../crypto/secret-dir.js';
import { accessSync, constants } from 'node:fs';
import { AgentConfigError, loadAgentConfig } from '../config/agent.js';
import { componentArgs, componentKubeConfig, runUntilSignal } from '../bin/component.js';
import { createLogger } from '../telemetry/log.js';
import { createNodeAgent } from './agent.js';

const USAGE = `usage: pcapper agent [--kubeconfig FILE]

Runs the pcapper node agent. Configuration comes from the environment:
  NODE_NAME (required), MAX_TOTAL_FILESIZE (10G), MIN_FREE_DISK (20G), DELETE_OLDER_THAN (2d),
  PCAPPER_DATA_DIR (/hostmount), PCAPPER_LISTEN (0.0.0.0:9443),
  PCAPPER_TLS_CERT, PCAPPER_TLS_KEY, PCAPPER_CA (required: mutual TLS),
  PCAPPER_CLIENT_NAMES (pcapper-server), ... (docs/agent.md)
`;

export async function run(argv: readonly string[]): Promise<number> {
  const args = componentArgs('agent', USAGE, argv);
  if (typeof args === 'number') return args;
  let config;
  try {
    config = loadAgentConfig(process.env);
  } catch (e) {
    if (e instanceof AgentConfigError) {
      process.stderr.write(`pcapper agent: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  // The TLS files must be readable now: a missing Secret mount is a configuration error (exit 2).
  for (const [name, file] of [
    ['PCAPPER_TLS_CERT', config.tls.certFile],
    ['PCAPPER_TLS_KEY', config.tls.keyFile],
    ['PCAPPER_CA', config.tls.caFile],
  ] as const) {
    try {
      accessSync(file, constants.R_OK);
    } catch (e) {
      process.stderr.write(`pcapper agent: ${name}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); mount the Secret pcapper-agent-tls there\n`);
      return 2;
    }
  }
  // Encryption is on unless the admin turned it off: without its keys the agent does not start
  // (never a silent fallback to plaintext).
  if (config.encryption) {
    try {
      await loadKeyringDir(config.encryptionKeysDir);
    } catch (e) {
      process.stderr.write(
        `pcapper agent: PCAPPER_KEYRING_DIR: cannot read the encryption keys at ${config.encryptionKeysDir}: ${(e as Error).message}; mount the Secret pcapper-encryption-keys there, or set PCAPPER_ENCRYPTION=off to store captures unencrypted\n`,
      );
      return 2;
    }
  }
  const kc = componentKubeConfig('agent', args.kubeconfig);
  if (typeof kc === 'number') return kc;
  // Captured traffic is secret: everything the agent and its tcpdumps create is 0600/0700.
  process.umask(0o077);
  const log = createLogger({ level: config.logLevel, format: config.logFormat }).child({ component: 'agent' });
  const agent = createNodeAgent({ config, kc, log });
  return runUntilSignal('agent', log, { start: () => agent.start(), stop: () => agent.stop(), abort: () => agent.stop(500) });
}
