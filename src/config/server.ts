/**
 * The pcapper server's configuration (`pcapper server`, the aggregated API data.pcapper.dev):
 * read from the environment ONCE into a typed, read-only object (docs/data-api.md). SERVER_ENV
 * is the one list of its variables: `npm run gen` renders it into docs/data-api.md.
 */
import { SYSTEM_NAMESPACE } from '../api/names.js';
import { absPath, duration, listen, LOG_ENV, namespaceName, objectName, optional, readEnv, required, withDefault, type Env } from './env.js';

export interface ServerConfig {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly systemNamespace: string;
  readonly agentDaemonSet: string;
  readonly agentServerName: string;
  readonly authRefreshMs: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly logFormat: 'json' | 'text';
  /** Reads from stores: the mounted Secrets pcapper-store-credentials and pcapper-encryption-keys (both set, or no store reads). */
  readonly storeCredentialsDir?: string;
  readonly keyringDir?: string;
}

export class ServerConfigError extends Error {
  override readonly name = 'ServerConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

const TLS_MISSING = (what: string): string => `set it to the path of ${what} (the Secret pcapper-server-tls is mounted at /etc/pcapper/tls)`;

/** The server's environment variables, in the order the docs list them. */
export const SERVER_ENV = {
  certFile: required('PCAPPER_TLS_CERT', 'PEM: serving certificate (`pcapper-server.<system namespace>.svc`), also the client certificate towards the agents', TLS_MISSING('the server certificate (PEM, tls.crt)'), absPath),
  keyFile: required('PCAPPER_TLS_KEY', 'PEM private key of `PCAPPER_TLS_CERT`', TLS_MISSING('the server private key (PEM, tls.key)'), absPath),
  caFile: required('PCAPPER_CA', "PEM: the pcapper CA that signed the agents' certificates (verifies agents)", TLS_MISSING('the pcapper CA certificate that signed the agents (PEM, ca.crt)'), absPath),
  listen: withDefault('PCAPPER_LISTEN', '0.0.0.0:8443', 'listen address `host:port` (port 0 = any free port)', listen(8443)),
  systemNamespace: withDefault('PCAPPER_SYSTEM_NAMESPACE', SYSTEM_NAMESPACE, 'namespace of the agent DaemonSet and its pods', namespaceName),
  agentDaemonSet: withDefault('PCAPPER_AGENT_DAEMONSET', 'pcapper-agent', 'name of the agent DaemonSet', objectName('DaemonSet name')),
  agentServerName: optional('PCAPPER_AGENT_SERVER_NAME', '`pcapper-agent.<system namespace>.svc`', "DNS name the agents' certificate must carry", objectName('DNS name such as "pcapper-agent.pcapper.svc"')),
  storeCredentialsDir: optional('PCAPPER_STORE_CREDENTIALS_DIR', 'unset: no reads from stores', 'directory of the mounted Secret pcapper-store-credentials (the chart mounts it at /etc/pcapper/store-credentials); with `PCAPPER_KEYRING_DIR`, downloads of files that are only in a store', absPath),
  keyringDir: optional('PCAPPER_KEYRING_DIR', 'unset', 'directory of the mounted Secret pcapper-encryption-keys (/etc/pcapper/keys): decrypts files read from a store', absPath),
  authRefreshMs: withDefault('PCAPPER_AUTH_REFRESH', '60s', 'how often the front-proxy ConfigMap and the certificate files are re-read; new connections use the new ones', duration(1000)),
  ...LOG_ENV,
} as const;

/** Reads the server's configuration from `env` (default process.env). Throws ServerConfigError. */
export function loadServerConfig(env: Env = process.env): ServerConfig {
  const v = readEnv(SERVER_ENV, env, (variable, message) => new ServerConfigError(variable, message));
  const { listen: addr, agentServerName, storeCredentialsDir, keyringDir, ...rest } = v;
  const cfg: ServerConfig = { ...rest, listenHost: addr.host, listenPort: addr.port, agentServerName: agentServerName ?? `pcapper-agent.${v.systemNamespace}.svc` };
  if ((storeCredentialsDir === undefined) !== (keyringDir === undefined)) {
    throw new ServerConfigError(storeCredentialsDir ? 'PCAPPER_KEYRING_DIR' : 'PCAPPER_STORE_CREDENTIALS_DIR', 'reads from stores need both PCAPPER_STORE_CREDENTIALS_DIR and PCAPPER_KEYRING_DIR (the chart sets both)');
  }
  if (storeCredentialsDir && keyringDir) Object.assign(cfg, { storeCredentialsDir, keyringDir });
  return Object.freeze(cfg);
}
