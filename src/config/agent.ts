/**
 * The node agent's configuration: read from the environment ONCE into a typed, read-only object.
 * Domain code never reads process.env; it is handed an AgentConfig.
 *
 * Seed 002 names the first four variables verbatim (NODE_NAME, MAX_TOTAL_FILESIZE, MIN_FREE_DISK,
 * DELETE_OLDER_THAN); the rest are pcapper's own and all start with PCAPPER_. AGENT_ENV below is
 * the one list of them: `npm run gen` renders it into docs/agent.md.
 */
import { isPlainName, SYSTEM_NAMESPACE } from '../api/names.js';
import { absPath, bool, duration, InvalidValue, int, listen, LOG_ENV, namespaceName, objectName, optional, readEnv, required, size, withDefault, type Env, type Parse } from './env.js';

export { parseEnvDuration, parseEnvSize } from '../util/units.js';

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
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly logFormat: 'json' | 'text';
  /**
   * Encryption at rest (docs/storage.md section 6): tcpdump writes into a pipe and the agent writes
   * the ring files through the encrypted writer, with keys from `encryptionKeysDir`. Off only when
   * the admin says so (PCAPPER_ENCRYPTION=off): then the same pipe writes plain pcap files.
   */
  readonly encryption: boolean;
  readonly encryptionKeysDir: string;
  readonly storeCredentialsDir: string;
  readonly sinkCredentialsDir: string;
  readonly uploadConcurrency: number;
  /** Backoff cap between upload attempts of one file (ms). */
  readonly uploadRetryMaxMs: number;
  /** PCAPPER_PAIR_METRICS_TOP_N: most pod pairs with their own series (src/agent/pair-metrics.ts); default 100. */
  readonly pairMetricsTopN?: number;
  /** PCAPPER_ANALYSIS: which running captures the agent analyses live (records, pair metrics); default `sinks`. */
  readonly analysis?: 'sinks' | 'all';
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

const TLS_MISSING = 'the agent serves capture data only over mutual TLS; mount the Secret pcapper-agent-tls and set PCAPPER_TLS_CERT, PCAPPER_TLS_KEY and PCAPPER_CA to its tls.crt, tls.key and ca.crt';

const pemPath: Parse<string> = (raw) => {
  if (!raw.startsWith('/')) throw new InvalidValue('is not an absolute path to a PEM file');
  return raw;
};

/** Certificate common names: a comma-separated list of plain names of at most 64 characters. */
const commonNames: Parse<readonly string[]> = (raw) => {
  const names = raw.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0 || names.some((n) => !isPlainName(n, 64))) throw new InvalidValue('is not a comma-separated list of certificate common names (e.g. "pcapper-server")');
  return Object.freeze(names);
};

/** on/off (also true/false, 1/0, yes/no): only an explicit "off" turns a default-on feature off. */
const analysisMode: Parse<'sinks' | 'all'> = (raw) => {
  if (raw === 'sinks' || raw === 'all') return raw;
  throw new InvalidValue('is not sinks or all');
};

const onOff: Parse<boolean> = (raw) => {
  if (/^(on|true|1|yes)$/i.test(raw)) return true;
  if (/^(off|false|0|no)$/i.test(raw)) return false;
  throw new InvalidValue('is not on or off');
};

/** The agent's environment variables, in the order the docs list them. */
export const AGENT_ENV = {
  nodeName: required('NODE_NAME', 'this node (downward API `spec.nodeName`)', 'set it to the node this agent runs on (DaemonSet: valueFrom.fieldRef.fieldPath: spec.nodeName)', objectName('Kubernetes node name')),
  maxTotalFileSize: withDefault('MAX_TOTAL_FILESIZE', '10G', 'most bytes the data directory may hold, counting what running captures may still write', size),
  minFreeDisk: withDefault('MIN_FREE_DISK', '20G', "free space that must remain on the data directory's file system", size),
  deleteOlderThanMs: withDefault('DELETE_OLDER_THAN', '2d', 'files older than this are deleted (`s`, `m`, `h`, `d`; bare number = seconds)', duration(1000)),
  dataDir: withDefault('PCAPPER_DATA_DIR', '/hostmount', "where files are written (the node's `/var/pcapper`, seed 002)", absPath),
  hostDataDir: withDefault('PCAPPER_HOST_DATA_DIR', '/var/pcapper', 'the same directory as seen on the node, reported as `fileLocation`', absPath),
  listen: withDefault('PCAPPER_LISTEN', '0.0.0.0:9443', 'file server address (`127.0.0.1:0` = any free port)', listen(9443)),
  certFile: required('PCAPPER_TLS_CERT', 'PEM serving certificate (`tls.crt` of Secret `pcapper-agent-tls`)', TLS_MISSING, pemPath),
  keyFile: required('PCAPPER_TLS_KEY', 'PEM private key of `PCAPPER_TLS_CERT` (`tls.key`)', TLS_MISSING, pemPath),
  caFile: required('PCAPPER_CA', "PEM CA that signed the pcapper server's client certificate (`ca.crt`)", TLS_MISSING, pemPath),
  clientNames: withDefault('PCAPPER_CLIENT_NAMES', 'pcapper-server', 'comma-separated client certificate CNs allowed to read capture data', commonNames),
  systemNamespace: withDefault('PCAPPER_SYSTEM_NAMESPACE', SYSTEM_NAMESPACE, 'captures here may target hostNetwork pods and see every pod of the node in their metadata', namespaceName),
  hostNetns: optional(
    'PCAPPER_HOST_NETNS',
    'own netns',
    'netns path for node-interface captures (e.g. `/proc/1/ns/net` without hostNetwork); also the "host" namespace that tenants\' pod targets may not be in (default: `/proc/1/ns/net`, else the agent\'s own)',
    absPath,
  ),
  procRoot: withDefault('PCAPPER_PROC_ROOT', '/proc', 'where `/proc/<pid>/cgroup` is scanned', absPath),
  maxConcurrentCaptures: withDefault('PCAPPER_MAX_CAPTURES', '16', 'concurrent tcpdumps on this node; more fail with reason `NodeCaptureLimit`', int(1, 10000)),
  statusIntervalMs: withDefault('PCAPPER_STATUS_INTERVAL', '2s', "at most one counter update of a capture's status per interval (phase changes go at once)", duration(100)),
  diskCheckIntervalMs: withDefault('PCAPPER_DISK_CHECK_INTERVAL', '5s', 'disk guard period while capturing', duration(100)),
  sweepIntervalMs: withDefault('PCAPPER_SWEEP_INTERVAL', '10m', 'period of the `DELETE_OLDER_THAN` sweep', duration(100)),
  idleDiskRefreshMs: withDefault('PCAPPER_IDLE_DISK_REFRESH', '1m', 'how often an idle agent re-measures the data directory for `/metrics` (never per scrape)', duration(100)),
  packetBuffered: withDefault('PCAPPER_PACKET_BUFFERED', 'false', '`true` adds tcpdump `-U` (one write per packet; see below)', bool),
  encryption: withDefault('PCAPPER_ENCRYPTION', 'on', '`on`: ring files are encrypted at rest (AES-256-GCM chunks, docs/storage.md); `off` only by the admin\'s choice (then plain pcap files)', onOff),
  encryptionKeysDir: withDefault('PCAPPER_KEYRING_DIR', '/etc/pcapper/keys', 'the mounted Secret `pcapper-encryption-keys` (required while encryption is on; re-read for every new file)', absPath),
  storeCredentialsDir: withDefault('PCAPPER_STORE_CREDENTIALS_DIR', '/etc/pcapper/store-credentials', 'the mounted Secret `pcapper-store-credentials` (re-read before each upload attempt)', absPath),
  sinkCredentialsDir: withDefault('PCAPPER_SINK_CREDENTIALS_DIR', '/etc/pcapper/sink-credentials', 'the mounted Secret `pcapper-sink-credentials`: TLS/SASL entries named by PacketCaptureSinks (docs/kafka.md)', absPath),
  uploadConcurrency: withDefault('PCAPPER_UPLOAD_CONCURRENCY', '2', 'files this node uploads at once', int(1, 64)),
  uploadRetryMaxMs: withDefault('PCAPPER_UPLOAD_RETRY_MAX', '60s', 'longest wait between upload attempts of a file (backoff cap; terminal errors are retried at this period)', duration(100)),
  analysis: withDefault(
    'PCAPPER_ANALYSIS',
    'sinks',
    '`sinks`: only captures that name a PacketCaptureSink are analysed live (records to Kafka, and their pod-pair metrics); `all`: every running capture feeds the pod-pair metrics too (more agent CPU per packet; docs/metrics.md)',
    analysisMode,
  ),
  pairMetricsTopN: withDefault('PCAPPER_PAIR_METRICS_TOP_N', '100', 'most pod pairs with their own `pcapper_pair_*` series on `/metrics`; the rest count under `other` (docs/metrics.md)', int(1, 10000)),
  ...LOG_ENV,
} as const;

/** Reads the agent's configuration from `env` (default process.env). Throws AgentConfigError. */
export function loadAgentConfig(env: Env = process.env): AgentConfig {
  const v = readEnv(AGENT_ENV, env, (variable, message) => new AgentConfigError(variable, message));
  const { listen: addr, certFile, keyFile, caFile, ...rest } = v;
  const cfg: AgentConfig = { ...rest, listenHost: addr.host, listenPort: addr.port, tls: { certFile, keyFile, caFile } };
  return Object.freeze(cfg);
}
