/**
 * `pcapper controller` configuration: read once from argv and the environment into one typed,
 * read-only object (domain code never reads process.env).
 */
import { parseArgs } from 'node:util';
import { hostname } from 'node:os';
import { parseListenAddress, type ListenAddress } from '../telemetry/health.js';
import type { Level } from '../telemetry/log.js';

export interface ControllerConfig {
  readonly kubeconfig: string | undefined;
  readonly kubeconfigEnv: string | undefined;
  readonly context: string | undefined;
  readonly systemNamespace: string;
  readonly leaderElect: boolean;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  readonly identity: string;
  readonly resolveGraceSeconds: number;
  readonly deadlineGraceSeconds: number;
  readonly cleanupTimeoutSeconds: number;
  readonly concurrency: number;
  readonly logLevel: Level;
  readonly logFormat: 'json' | 'text';
  /** Where /metrics, /healthz and /readyz are served; undefined = not served. */
  readonly metricsAddr: ListenAddress | undefined;
  /** Directory of the mounted Secret pcapper-store-credentials; undefined = run without store support. */
  readonly storeCredentialsDir: string | undefined;
}

export const CONTROLLER_USAGE = `usage: pcapper controller [options]
  --kubeconfig FILE             kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --context NAME                kubeconfig context
  --system-namespace NS         namespace allowed to target other namespaces and nodes (default pcapper)
  --leader-elect                elect a leader with a Lease (run with 2+ replicas)
  --lease-name NAME             Lease name (default pcapper-controller)
  --lease-namespace NS          Lease namespace (default: the system namespace)
  --identity NAME               replica identity (default: $POD_NAME or the hostname)
  --resolve-grace SECONDS       wait this long for missing targets before failing (default 10)
  --deadline-grace SECONDS      grace after captureSeconds before unstarted targets fail (default 30)
  --cleanup-timeout SECONDS     wait this long for node cleanup after deletion (default 600)
  --concurrency N               parallel reconciles (default 4)
  --log-level debug|info|warn|error   (default info; env PCAPPER_LOG_LEVEL)
  --log-format json|text        (default json; env PCAPPER_LOG_FORMAT)
  --metrics-addr HOST:PORT      serve /metrics, /healthz and /readyz over HTTP, e.g. :8080 or
                                127.0.0.1:0 (default: not served; env PCAPPER_METRICS_ADDR;
                                the chart sets :8080)
  --store-credentials-dir DIR   the mounted Secret pcapper-store-credentials: enables stores
                                (PacketCaptureStore probes, spec.store, Uploaded, object deletes);
                                env PCAPPER_STORE_CREDENTIALS_DIR; the chart sets
                                /etc/pcapper/store-credentials`;

function num(v: string | undefined, def: number, flag: string): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag}: ${JSON.stringify(v)} is not a non-negative number`);
  return n;
}

/** Parses argv (after the subcommand) and env; throws Error with a usage message on bad input. */
export function loadControllerConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ControllerConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      'system-namespace': { type: 'string' },
      'leader-elect': { type: 'boolean' },
      'lease-name': { type: 'string' },
      'lease-namespace': { type: 'string' },
      identity: { type: 'string' },
      'resolve-grace': { type: 'string' },
      'deadline-grace': { type: 'string' },
      'cleanup-timeout': { type: 'string' },
      concurrency: { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      'metrics-addr': { type: 'string' },
      'store-credentials-dir': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const systemNamespace = values['system-namespace'] ?? env.PCAPPER_SYSTEM_NAMESPACE ?? 'pcapper';
  const level = (values['log-level'] ?? env.PCAPPER_LOG_LEVEL ?? 'info') as Level;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`--log-level: ${level} is not debug, info, warn or error`);
  const format = values['log-format'] ?? env.PCAPPER_LOG_FORMAT ?? 'json';
  if (format !== 'json' && format !== 'text') throw new Error(`--log-format: ${format} is not json or text`);
  const metricsAddr = values['metrics-addr'] ?? env.PCAPPER_METRICS_ADDR;
  return Object.freeze({
    kubeconfig: values.kubeconfig,
    kubeconfigEnv: env.KUBECONFIG,
    context: values.context,
    systemNamespace,
    leaderElect: values['leader-elect'] ?? false,
    leaseName: values['lease-name'] ?? 'pcapper-controller',
    leaseNamespace: values['lease-namespace'] ?? systemNamespace,
    identity: values.identity ?? env.POD_NAME ?? hostname(),
    resolveGraceSeconds: num(values['resolve-grace'], 10, '--resolve-grace'),
    deadlineGraceSeconds: num(values['deadline-grace'], 30, '--deadline-grace'),
    cleanupTimeoutSeconds: num(values['cleanup-timeout'], 600, '--cleanup-timeout'),
    concurrency: Math.max(1, Math.floor(num(values.concurrency, 4, '--concurrency'))),
    logLevel: level,
    logFormat: format,
    storeCredentialsDir: (values['store-credentials-dir'] ?? env.PCAPPER_STORE_CREDENTIALS_DIR) || undefined,
    metricsAddr: metricsAddr === undefined || metricsAddr === '' ? undefined : parseListenAddress('--metrics-addr', metricsAddr),
  });
}
