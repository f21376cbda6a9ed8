/**
 * The pcapper server's configuration (`pcapper server`, the aggregated API data.pcapper.dev):
 * read from the environment ONCE into a typed, read-only object (docs/data-api.md).
 *
 * | variable                  | default        | format                                          |
 * |---------------------------|----------------|-------------------------------------------------|
 * | PCAPPER_TLS_CERT          | (required)     | PEM: serving cert (pcapper-server.pcapper.svc) and client cert towards agents |
 * | PCAPPER_TLS_KEY           | (required)     | PEM private key of PCAPPER_TLS_CERT             |
 * | PCAPPER_CA                | (required)     | PEM: the pcapper CA that signed the agents' certificates |
 * | PCAPPER_LISTEN            | 0.0.0.0:8443   | host:port (port 0 = any free port)              |
 * | PCAPPER_SYSTEM_NAMESPACE  | pcapper        | namespace of the agent DaemonSet and its pods   |
 * | PCAPPER_AGENT_DAEMONSET   | pcapper-agent  | name of the agent DaemonSet                     |
 * | PCAPPER_AGENT_SERVER_NAME | pcapper-agent.<ns>.svc | DNS name the agents' certificate must carry |
 * | PCAPPER_AUTH_REFRESH      | 60s            | how often the front-proxy ConfigMap and the TLS files are re-read |
 * | PCAPPER_LOG_LEVEL         | info           | debug, info, warn, error                        |
 * | PCAPPER_LOG_FORMAT        | json           | json or text                                    |
 */
import { parseEnvDuration } from './agent.js';

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

type Env = Readonly<Record<string, string | undefined>>;

function get(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function required(env: Env, name: string, what: string): string {
  const v = get(env, name);
  if (v === undefined) throw new ServerConfigError(name, `is required: set it to the path of ${what} (the Secret pcapper-server-tls is mounted at /etc/pcapper/tls)`);
  return v;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], def: T): T {
  const raw = get(env, name);
  if (raw === undefined) return def;
  if (!(allowed as readonly string[]).includes(raw)) throw new ServerConfigError(name, `"${raw}" is not one of ${allowed.join(', ')}`);
  return raw as T;
}

/** Reads the server's configuration from `env` (default process.env). Throws ServerConfigError. */
export function loadServerConfig(env: Env = process.env): ServerConfig {
  const certFile = required(env, 'PCAPPER_TLS_CERT', 'the server certificate (PEM, tls.crt)');
  const keyFile = required(env, 'PCAPPER_TLS_KEY', 'the server private key (PEM, tls.key)');
  const caFile = required(env, 'PCAPPER_CA', 'the pcapper CA certificate that signed the agents (PEM, ca.crt)');

  const rawListen = get(env, 'PCAPPER_LISTEN') ?? '0.0.0.0:8443';
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(rawListen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ServerConfigError('PCAPPER_LISTEN', `"${rawListen}" is not host:port (e.g. "0.0.0.0:8443", "[::]:8443", "127.0.0.1:0")`);
  const host = m[1] ?? m[2] ?? '';

  const systemNamespace = get(env, 'PCAPPER_SYSTEM_NAMESPACE') ?? 'pcapper';
  if (!DNS_LABEL.test(systemNamespace) || systemNamespace.length > 63) {
    throw new ServerConfigError('PCAPPER_SYSTEM_NAMESPACE', `"${systemNamespace}" is not a namespace name (DNS-1123 label: lower-case letters, digits and "-", at most 63)`);
  }
  const agentDaemonSet = get(env, 'PCAPPER_AGENT_DAEMONSET') ?? 'pcapper-agent';
  if (!DNS_SUBDOMAIN.test(agentDaemonSet) || agentDaemonSet.length > 253) {
    throw new ServerConfigError('PCAPPER_AGENT_DAEMONSET', `"${agentDaemonSet}" is not a DaemonSet name (DNS-1123 subdomain)`);
  }
  const agentServerName = get(env, 'PCAPPER_AGENT_SERVER_NAME') ?? `pcapper-agent.${systemNamespace}.svc`;
  if (!DNS_SUBDOMAIN.test(agentServerName) || agentServerName.length > 253) {
    throw new ServerConfigError('PCAPPER_AGENT_SERVER_NAME', `"${agentServerName}" is not a DNS name such as "pcapper-agent.pcapper.svc"`);
  }
  const rawRefresh = get(env, 'PCAPPER_AUTH_REFRESH') ?? '60s';
  const authRefreshMs = parseEnvDuration(rawRefresh);
  if (authRefreshMs === undefined || authRefreshMs < 1000) {
    throw new ServerConfigError('PCAPPER_AUTH_REFRESH', `"${rawRefresh}" is not a duration of at least 1s (e.g. "60s", "5m")`);
  }
  const cfg: ServerConfig = {
    certFile,
    keyFile,
    caFile,
    listenHost: host === '' ? '0.0.0.0' : host,
    listenPort: port,
    systemNamespace,
    agentDaemonSet,
    agentServerName,
    authRefreshMs,
    logLevel: oneOf(env, 'PCAPPER_LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    logFormat: oneOf(env, 'PCAPPER_LOG_FORMAT', ['json', 'text'] as const, 'json'),
  };
  const storeCredentialsDir = get(env, 'PCAPPER_STORE_CREDENTIALS_DIR');
  const keyringDir = get(env, 'PCAPPER_KEYRING_DIR');
  if ((storeCredentialsDir === undefined) !== (keyringDir === undefined)) {
    throw new ServerConfigError(storeCredentialsDir ? 'PCAPPER_KEYRING_DIR' : 'PCAPPER_STORE_CREDENTIALS_DIR', 'reads from stores need both PCAPPER_STORE_CREDENTIALS_DIR and PCAPPER_KEYRING_DIR (the chart sets both)');
  }
  if (storeCredentialsDir && keyringDir) Object.assign(cfg, { storeCredentialsDir, keyringDir });
  return Object.freeze(cfg);
}
