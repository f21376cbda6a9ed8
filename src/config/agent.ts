/**
 * The node agent's configuration: read from the environment ONCE into a typed, read-only object.
 * Domain code never reads process.env; it is handed an AgentConfig.
 *
 * Seed 002 names the first four variables verbatim (NODE_NAME, MAX_TOTAL_FILESIZE, MIN_FREE_DISK,
 * DELETE_OLDER_THAN); the rest are pcapper's own and all start with PCAPPER_.
 *
 * | variable                          | default        | format                                   |
 * |-----------------------------------|----------------|------------------------------------------|
 * | NODE_NAME                         | (required)     | the node's name (downward API spec.nodeName) |
 * | MAX_TOTAL_FILESIZE                | 10G            | size: bytes, or k/M/G/T (1000^n), Ki/Mi/Gi/Ti (1024^n) |
 * | MIN_FREE_DISK                     | 20G            | size                                     |
 * | DELETE_OLDER_THAN                 | 2d             | duration: <n>s, <n>m, <n>h, <n>d (or a bare number of seconds) |
 * | PCAPPER_DATA_DIR                  | /hostmount     | absolute path inside the agent           |
 * | PCAPPER_HOST_DATA_DIR             | /var/pcapper   | the same directory as seen on the node (status fileLocation) |
 * | PCAPPER_LISTEN                    | 0.0.0.0:9443   | host:port of the file server (port 0 = any free port) |
 * | PCAPPER_TLS_CERT, PCAPPER_TLS_KEY | (required)     | PEM serving certificate and key (Secret pcapper-agent-tls) |
 * | PCAPPER_CA                        | (required)     | PEM CA that signed the pcapper server's client certificate |
 * | PCAPPER_CLIENT_NAMES              | pcapper-server | comma-separated client certificate CNs allowed to read data |
 * | PCAPPER_SYSTEM_NAMESPACE          | pcapper        | the system namespace (may capture hostNetwork pods, sees every pod in metadata) |
 * | PCAPPER_PROC_ROOT                 | /proc          | where to scan /proc/<pid>/cgroup (tests) |
 * | PCAPPER_HOST_NETNS                | (own netns)    | netns path for node-interface captures, and the host namespace tenants' pods may not be in (else /proc/1/ns/net) |
 * | PCAPPER_MAX_CAPTURES              | 16             | concurrent tcpdump processes on this node |
 * | PCAPPER_STATUS_INTERVAL           | 2s             | min time between status writes per capture |
 * | PCAPPER_DISK_CHECK_INTERVAL       | 5s             | disk guard period while capturing         |
 * | PCAPPER_SWEEP_INTERVAL            | 10m            | period of the DELETE_OLDER_THAN sweep     |
 * | PCAPPER_IDLE_DISK_REFRESH         | 1m             | how often an idle agent re-measures the data directory for /metrics |
 * | PCAPPER_PACKET_BUFFERED           | false          | true: tcpdump -U (a write per packet; costs packet rate) |
 * | PCAPPER_ENCRYPTION                | on             | on: ring files encrypted at rest (AES-256-GCM chunks); off only by the admin's choice |
 * | PCAPPER_ENCRYPTION_KEYS_DIR       | /etc/pcapper/encryption-keys | the mounted Secret pcapper-encryption-keys (required while encryption is on) |
 * | PCAPPER_STORE_CREDENTIALS_DIR     | /etc/pcapper/store-credentials | the mounted Secret pcapper-store-credentials |
 * | PCAPPER_UPLOAD_CONCURRENCY        | 2              | files uploaded at once by this node |
 * | PCAPPER_UPLOAD_RETRY_MAX          | 60s            | longest wait between upload attempts of a file (backoff cap; terminal errors retry at this period) |
 */

export interface AgentConfig {
  readonly nodeName: string;
  /** MAX_TOTAL_FILESIZE in bytes. */
  readonly maxTotalFileSize: number;
  /** MIN_FREE_DISK in bytes. */
  readonly minFreeDisk: number;
  /** DELETE_OLDER_THAN in milliseconds. */
  readonly deleteOlderThanMs: number;
  readonly dataDir: string;
  readonly hostDataDir: string;
  readonly listenHost: string;
  readonly listenPort: number;
  /** Mutual TLS of the file server: serving certificate and key, and the CA of allowed clients. */
  readonly tls: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
  /** Client certificate CNs allowed to read capture data (PCAPPER_CLIENT_NAMES). */
  readonly clientNames: readonly string[];
  /** The system namespace: captures there may target hostNetwork pods and map every pod of the node. */
  readonly systemNamespace: string;
  readonly procRoot: string;
  /** Network namespace of node-interface captures (a path such as /proc/1/ns/net); undefined = the agent's own (hostNetwork). */
  readonly hostNetns: string | undefined;
  readonly maxConcurrentCaptures: number;
  readonly statusIntervalMs: number;
  readonly diskCheckIntervalMs: number;
  readonly sweepIntervalMs: number;
  /** Idle agents re-measure the data directory this often (for /metrics; never per scrape). */
  readonly idleDiskRefreshMs: number;
  /** tcpdump -U (a write per packet); default false: the agent flushes quiet captures instead. */
  readonly packetBuffered: boolean;
  /**
   * Encryption at rest (docs/storage.md section 6): tcpdump writes into a pipe and the agent writes
   * the ring files through the encrypted writer, with keys from `encryptionKeysDir`. Off only when
   * the admin says so (PCAPPER_ENCRYPTION=off): then the same pipe writes plain pcap files.
   */
  readonly encryption: boolean;
  readonly encryptionKeysDir: string;
  readonly storeCredentialsDir: string;
  readonly uploadConcurrency: number;
  /** Backoff cap between upload attempts of one file (ms). */
  readonly uploadRetryMaxMs: number;
}

export class AgentConfigError extends Error {
  override readonly name = 'AgentConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};
const SIZE_FORMAT = 'a size in bytes with an optional unit k, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024), e.g. "10G" or "500Mi"';

/** Parses an environment size ("10G", "500Mi", "1048576") into bytes; undefined if malformed. */
export function parseEnvSize(v: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(|k|K|M|G|T|Ki|Mi|Gi|Ti)B?$/.exec(v.trim());
  if (!m) return undefined;
  const unit = SIZE_UNITS[m[2] ?? ''];
  if (unit === undefined) return undefined;
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}

const DURATION_UNITS: Record<string, number> = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_FORMAT = 'a duration: a number with unit s, m, h or d (e.g. "2d", "12h", "30m", "90s"); a bare number means seconds';

/** Parses "2d", "12h", "30m", "90s", "1.5s" or "600" (seconds) into milliseconds; undefined if malformed. */
export function parseEnvDuration(v: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(|s|m|h|d)$/.exec(v.trim());
  if (!m) return undefined;
  const unit = DURATION_UNITS[m[2] ?? ''];
  if (unit === undefined) return undefined;
  const ms = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

function get(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function size(env: Env, name: string, def: string): number {
  const raw = get(env, name) ?? def;
  const n = parseEnvSize(raw);
  if (n === undefined) throw new AgentConfigError(name, `"${raw}" is not ${SIZE_FORMAT}`);
  return n;
}

function duration(env: Env, name: string, def: string, minMs = 1): number {
  const raw = get(env, name) ?? def;
  const ms = parseEnvDuration(raw);
  if (ms === undefined) throw new AgentConfigError(name, `"${raw}" is not ${DURATION_FORMAT}`);
  if (ms < minMs) throw new AgentConfigError(name, `"${raw}" is too short (at least ${minMs} ms)`);
  return ms;
}

function absPath(env: Env, name: string, def: string): string {
  const raw = get(env, name) ?? def;
  if (!raw.startsWith('/')) throw new AgentConfigError(name, `"${raw}" is not an absolute path`);
  return raw.length > 1 ? raw.replace(/\/+$/, '') : raw;
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = get(env, name);
  if (raw === undefined) return def;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new AgentConfigError(name, `"${raw}" is not a whole number between ${min} and ${max}`);
  }
  return Number(raw);
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = get(env, name);
  if (raw === undefined) return def;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new AgentConfigError(name, `"${raw}" is not a boolean (true or false)`);
}

/** on/off (true/false): only an explicit "off" turns a default-on feature off. */
function onOff(env: Env, name: string, def: boolean): boolean {
  const raw = get(env, name);
  if (raw === undefined) return def;
  if (/^(on|true|1|yes)$/i.test(raw)) return true;
  if (/^(off|false|0|no)$/i.test(raw)) return false;
  throw new AgentConfigError(name, `"${raw}" is not on or off`);
}

/** host:port, [v6]:port or :port. */
function listen(env: Env, name: string, def: string): { host: string; port: number } {
  const raw = get(env, name) ?? def;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(raw);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new AgentConfigError(name, `"${raw}" is not host:port (e.g. "0.0.0.0:9443", "[::]:9443", "127.0.0.1:0")`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** Reads the agent's configuration from `env` (default process.env). Throws AgentConfigError. */
export function loadAgentConfig(env: Env = process.env): AgentConfig {
  const nodeName = get(env, 'NODE_NAME');
  if (nodeName === undefined) {
    throw new AgentConfigError('NODE_NAME', 'is required: set it to the node this agent runs on (DaemonSet: valueFrom.fieldRef.fieldPath: spec.nodeName)');
  }
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(nodeName) || nodeName.length > 253) {
    throw new AgentConfigError('NODE_NAME', `"${nodeName}" is not a Kubernetes node name (DNS-1123 subdomain)`);
  }
  const { host, port } = listen(env, 'PCAPPER_LISTEN', '0.0.0.0:9443');
  // The file server speaks only mutual TLS (docs/data-api.md): no certificate, no agent.
  const tlsVar = (name: string): string => {
    const v = get(env, name);
    if (v === undefined) {
      throw new AgentConfigError(name, 'is required: the agent serves capture data only over mutual TLS; mount the Secret pcapper-agent-tls and set PCAPPER_TLS_CERT, PCAPPER_TLS_KEY and PCAPPER_CA to its tls.crt, tls.key and ca.crt');
    }
    if (!v.startsWith('/')) throw new AgentConfigError(name, `"${v}" is not an absolute path to a PEM file`);
    return v;
  };
  const tls = { certFile: tlsVar('PCAPPER_TLS_CERT'), keyFile: tlsVar('PCAPPER_TLS_KEY'), caFile: tlsVar('PCAPPER_CA') };
  const namesRaw = get(env, 'PCAPPER_CLIENT_NAMES') ?? 'pcapper-server';
  const clientNames = namesRaw.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (clientNames.length === 0 || clientNames.some((n) => !/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/.test(n))) {
    throw new AgentConfigError('PCAPPER_CLIENT_NAMES', `"${namesRaw}" is not a comma-separated list of certificate common names (e.g. "pcapper-server")`);
  }
  const systemNamespace = get(env, 'PCAPPER_SYSTEM_NAMESPACE') ?? 'pcapper';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(systemNamespace) || systemNamespace.length > 63) {
    throw new AgentConfigError('PCAPPER_SYSTEM_NAMESPACE', `"${systemNamespace}" is not a namespace name (DNS-1123 label)`);
  }
  const cfg: AgentConfig = {
    nodeName,
    maxTotalFileSize: size(env, 'MAX_TOTAL_FILESIZE', '10G'),
    minFreeDisk: size(env, 'MIN_FREE_DISK', '20G'),
    deleteOlderThanMs: duration(env, 'DELETE_OLDER_THAN', '2d', 1000),
    dataDir: absPath(env, 'PCAPPER_DATA_DIR', '/hostmount'),
    hostDataDir: absPath(env, 'PCAPPER_HOST_DATA_DIR', '/var/pcapper'),
    listenHost: host,
    listenPort: port,
    tls,
    clientNames: Object.freeze(clientNames),
    systemNamespace,
    procRoot: absPath(env, 'PCAPPER_PROC_ROOT', '/proc'),
    hostNetns: get(env, 'PCAPPER_HOST_NETNS') === undefined ? undefined : absPath(env, 'PCAPPER_HOST_NETNS', '/'),
    maxConcurrentCaptures: int(env, 'PCAPPER_MAX_CAPTURES', 16, 1, 10000),
    statusIntervalMs: duration(env, 'PCAPPER_STATUS_INTERVAL', '2s', 100),
    diskCheckIntervalMs: duration(env, 'PCAPPER_DISK_CHECK_INTERVAL', '5s', 100),
    sweepIntervalMs: duration(env, 'PCAPPER_SWEEP_INTERVAL', '10m', 100),
    idleDiskRefreshMs: duration(env, 'PCAPPER_IDLE_DISK_REFRESH', '1m', 100),
    packetBuffered: bool(env, 'PCAPPER_PACKET_BUFFERED', false),
    encryption: onOff(env, 'PCAPPER_ENCRYPTION', true),
    encryptionKeysDir: absPath(env, 'PCAPPER_ENCRYPTION_KEYS_DIR', '/etc/pcapper/encryption-keys'),
    storeCredentialsDir: absPath(env, 'PCAPPER_STORE_CREDENTIALS_DIR', '/etc/pcapper/store-credentials'),
    uploadConcurrency: int(env, 'PCAPPER_UPLOAD_CONCURRENCY', 2, 1, 64),
    uploadRetryMaxMs: duration(env, 'PCAPPER_UPLOAD_RETRY_MAX', '60s', 100),
  };
  return Object.freeze(cfg);
}
