/**
 * `pcapper controller` configuration: read once from argv and the environment into one typed,
 * read-only object (domain code never reads process.env). CONTROLLER_OPTIONS is the one list of
 * flags and of the environment variables behind them: the usage text, the parser and the tables
 * in docs/api.md (`npm run gen`) are all made from it.
 */
import { hostname } from 'node:os';
import { isDns1123Label, isDns1123Subdomain, NAME_RULES, SYSTEM_NAMESPACE } from '../api/names.js';
import { LOG_FORMATS, LOG_LEVELS } from '../config/env.js';
import { parseListenAddress, type ListenAddress } from '../telemetry/health.js';
import type { Level } from '../telemetry/log.js';
import { bool, parseArgs, str } from '../cli/args.js';

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

/** One flag of `pcapper controller`: its argument, the variable read when it is not given, its default and meaning. */
export interface ControllerOption {
  /** The value's placeholder in the usage ("SECONDS"); undefined for a boolean flag. */
  readonly arg?: string;
  /** The environment variable read when the flag is absent. */
  readonly env?: string;
  /** The default as the usage and the docs show it. */
  readonly shown: string;
  readonly meaning: string;
}

export const CONTROLLER_OPTIONS = {
  kubeconfig: { arg: 'FILE', env: 'KUBECONFIG', shown: 'in-cluster, else ~/.kube/config', meaning: 'kubeconfig (`KUBECONFIG` may list several files, as kubectl reads it)' },
  context: { arg: 'NAME', shown: 'the current context', meaning: 'kubeconfig context' },
  'system-namespace': { arg: 'NS', env: 'PCAPPER_SYSTEM_NAMESPACE', shown: SYSTEM_NAMESPACE, meaning: 'namespace allowed to target other namespaces and nodes' },
  'leader-elect': { shown: 'off', meaning: 'elect a leader with a Lease (run with 2+ replicas)' },
  'lease-name': { arg: 'NAME', shown: 'pcapper-controller', meaning: 'Lease name' },
  'lease-namespace': { arg: 'NS', shown: 'the system namespace', meaning: 'Lease namespace' },
  identity: { arg: 'NAME', env: 'POD_NAME', shown: 'the hostname', meaning: 'replica identity (Lease holder, Event source)' },
  'resolve-grace': { arg: 'SECONDS', shown: '10', meaning: 'wait this long for missing targets before failing' },
  'deadline-grace': { arg: 'SECONDS', shown: '30', meaning: 'grace after captureSeconds before unstarted targets fail' },
  'cleanup-timeout': { arg: 'SECONDS', shown: '600', meaning: 'wait this long for node cleanup after deletion' },
  concurrency: { arg: 'N', shown: '4', meaning: 'parallel reconciles' },
  'log-level': { arg: LOG_LEVELS.join('|'), env: 'PCAPPER_LOG_LEVEL', shown: 'info', meaning: 'log level' },
  'log-format': { arg: LOG_FORMATS.join('|'), env: 'PCAPPER_LOG_FORMAT', shown: 'json', meaning: 'log format' },
  'metrics-addr': { arg: 'HOST:PORT', env: 'PCAPPER_METRICS_ADDR', shown: 'not served', meaning: 'serve /metrics, /healthz and /readyz over HTTP, e.g. `:8080` or `127.0.0.1:0` (the chart sets `:8080`)' },
  'store-credentials-dir': {
    arg: 'DIR',
    env: 'PCAPPER_STORE_CREDENTIALS_DIR',
    shown: 'unset: no stores',
    meaning: 'the mounted Secret pcapper-store-credentials: enables stores (PacketCaptureStore probes, spec.store, Uploaded, object deletes); the chart sets `/etc/pcapper/store-credentials`',
  },
} as const satisfies Record<string, ControllerOption>;

type Flag = keyof typeof CONTROLLER_OPTIONS;
const entries = Object.entries(CONTROLLER_OPTIONS) as [Flag, ControllerOption][];

/** `pcapper controller --help`. */
export const CONTROLLER_USAGE = [
  'usage: pcapper controller [options]',
  ...entries.map(([flag, o]) => {
    const left = `  --${flag}${o.arg ? ` ${o.arg}` : ''}`;
    const note = [`default ${o.shown}`, ...(o.env ? [`env ${o.env}`] : [])].join('; ');
    return `${left.length >= 33 ? `${left}  ` : left.padEnd(34)}${o.meaning.replace(/`/g, '')} (${note})`;
  }),
].join('\n');

/** The Markdown table of docs/api.md between `<!-- env:controller:begin -->` and its end marker. */
export function controllerOptionsMarkdown(): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  return [
    '| flag | environment | default | meaning |',
    '|---|---|---|---|',
    ...entries.map(([flag, o]) => `| \`--${flag}${o.arg ? ` ${cell(o.arg)}` : ''}\` | ${o.env ? `\`${o.env}\`` : ''} | ${cell(o.shown)} | ${cell(o.meaning)} |`),
  ].join('\n');
}

function num(v: string | undefined, def: number, flag: string): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag}: ${JSON.stringify(v)} is not a non-negative number`);
  return n;
}

/** Parses argv (after the subcommand) and env; throws Error with a usage message on bad input. */
export function loadControllerConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ControllerConfig {
  // the one flag parser of pcapper (src/cli/args.ts), without kubectl's global flags
  const parsed = parseArgs(
    {
      name: 'controller',
      summary: 'the pcapper controller',
      usage: 'pcapper controller [options]',
      globalFlags: false,
      maxArgs: 0,
      flags: entries.map(([flag, o]) => ({ name: flag, type: o.arg === undefined ? ('boolean' as const) : ('string' as const), help: o.meaning })),
    },
    argv,
  );
  /** The flag's value, else its variable's (blank counts as unset). */
  const value = (flag: Flag): string | undefined => {
    const v = str(parsed, flag);
    if (v !== undefined) return v;
    const e = (CONTROLLER_OPTIONS[flag] as ControllerOption).env;
    const ev = e === undefined ? undefined : env[e]?.trim();
    return ev === '' ? undefined : ev;
  };
  /** A non-negative number flag; its default is the table's. */
  const seconds = (flag: 'resolve-grace' | 'deadline-grace' | 'cleanup-timeout' | 'concurrency'): number => num(value(flag), Number(CONTROLLER_OPTIONS[flag].shown), `--${flag}`);
  const systemNamespace = value('system-namespace') ?? SYSTEM_NAMESPACE;
  if (!isDns1123Label(systemNamespace)) throw new Error(`--system-namespace: ${JSON.stringify(systemNamespace)} is not ${NAME_RULES.label}`);
  const leaseNamespace = value('lease-namespace') ?? systemNamespace;
  if (!isDns1123Label(leaseNamespace)) throw new Error(`--lease-namespace: ${JSON.stringify(leaseNamespace)} is not ${NAME_RULES.label}`);
  const leaseName = value('lease-name') ?? CONTROLLER_OPTIONS['lease-name'].shown;
  if (!isDns1123Subdomain(leaseName)) throw new Error(`--lease-name: ${JSON.stringify(leaseName)} is not ${NAME_RULES.subdomain}`);
  const level = value('log-level') ?? CONTROLLER_OPTIONS['log-level'].shown;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`--log-level: ${level} is not debug, info, warn or error`);
  const format = value('log-format') ?? CONTROLLER_OPTIONS['log-format'].shown;
  if (format !== 'json' && format !== 'text') throw new Error(`--log-format: ${format} is not json or text`);
  const metricsAddr = value('metrics-addr');
  return Object.freeze({
    kubeconfig: str(parsed, 'kubeconfig'),
    kubeconfigEnv: env.KUBECONFIG,
    context: value('context'),
    systemNamespace,
    leaderElect: bool(parsed, 'leader-elect'),
    leaseName,
    leaseNamespace,
    identity: value('identity') ?? hostname(),
    resolveGraceSeconds: seconds('resolve-grace'),
    deadlineGraceSeconds: seconds('deadline-grace'),
    cleanupTimeoutSeconds: seconds('cleanup-timeout'),
    concurrency: Math.max(1, Math.floor(seconds('concurrency'))),
    logLevel: level as Level,
    logFormat: format,
    metricsAddr: metricsAddr === undefined ? undefined : parseListenAddress('--metrics-addr', metricsAddr),
    storeCredentialsDir: value('store-credentials-dir'),
  });
}
