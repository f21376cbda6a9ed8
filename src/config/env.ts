// Environment variables as data: each component's configuration is one table of variables (name,
// default, meaning, parser). The same table is read at start (readEnv) and rendered into the docs
// (envMarkdownTable, by tools/gen-env-docs.ts), so the docs cannot drift from the code.
import { isDns1123Label, isDns1123Subdomain, NAME_RULES } from '../api/names.js';
import { ENV_DURATION_FORMAT, ENV_SIZE_FORMAT, parseEnvDuration, parseEnvSize } from '../util/units.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** A value that is not of the variable's format: `message` says what it should be. */
export class InvalidValue extends Error {
  override readonly name = 'InvalidValue';
}

/** One environment variable: where it comes from, what it means, how it is read. */
export interface EnvVar<T> {
  readonly name: string;
  /** The default as the docs show it: a literal value, "**required**", or words ("own netns"). */
  readonly shown: string;
  readonly meaning: string;
  /** Reads the trimmed value (undefined when unset or blank); throws InvalidValue, or returns the default. */
  read(raw: string | undefined): T;
}

export type Parse<T> = (raw: string) => T;

/** A variable with a default written as a user would write it (parsed like any other value). */
export function withDefault<T>(name: string, def: string, meaning: string, parse: Parse<T>): EnvVar<T> {
  return { name, shown: `\`${def}\``, meaning, read: (raw) => parse(raw ?? def) };
}

/** A variable that must be set; `missing` says how to set it. */
export function required<T>(name: string, meaning: string, missing: string, parse: Parse<T>): EnvVar<T> {
  return {
    name,
    shown: '**required**',
    meaning,
    read: (raw) => {
      if (raw === undefined) throw new InvalidValue(`is required: ${missing}`);
      return parse(raw);
    },
  };
}

/** A variable whose absence means something the docs say in words (`shown`). */
export function optional<T>(name: string, shown: string, meaning: string, parse: Parse<T>): EnvVar<T | undefined> {
  return { name, shown, meaning, read: (raw) => (raw === undefined ? undefined : parse(raw)) };
}

export type EnvTable = Readonly<Record<string, EnvVar<unknown>>>;
export type EnvValues<T extends EnvTable> = { readonly [K in keyof T]: T[K] extends EnvVar<infer V> ? V : never };

/**
 * Reads every variable of `table` from `env` once. A bad or missing value throws the component's
 * error built by `fail(variable, message)`; the message starts with the value and says the format.
 */
export function readEnv<T extends EnvTable>(table: T, env: Env, fail: (variable: string, message: string) => Error): EnvValues<T> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(table)) {
    const raw = env[v.name]?.trim();
    try {
      out[key] = v.read(raw === '' ? undefined : raw);
    } catch (e) {
      if (e instanceof InvalidValue) throw fail(v.name, raw === undefined || e.message.startsWith('is required') ? e.message : `"${raw}" ${e.message}`);
      throw e;
    }
  }
  return out as EnvValues<T>;
}

/** The Markdown table the docs carry between `<!-- env:NAME:begin -->` and `<!-- env:NAME:end -->`. */
export function envMarkdownTable(table: EnvTable): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = Object.values(table).map((v) => `| \`${v.name}\` | ${cell(v.shown)} | ${cell(v.meaning)} |`);
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

// ---- parsers shared by the components ----

export const size: Parse<number> = (raw) => {
  const n = parseEnvSize(raw);
  if (n === undefined) throw new InvalidValue(`is not ${ENV_SIZE_FORMAT}`);
  return n;
};

export const duration =
  (minMs = 1): Parse<number> =>
  (raw) => {
    const ms = parseEnvDuration(raw);
    if (ms === undefined) throw new InvalidValue(`is not ${ENV_DURATION_FORMAT}`);
    if (ms < minMs) throw new InvalidValue(`is too short (at least ${minMs >= 1000 && minMs % 1000 === 0 ? `${minMs / 1000}s` : `${minMs} ms`})`);
    return ms;
  };

/** An absolute path, without trailing slashes. */
export const absPath: Parse<string> = (raw) => {
  if (!raw.startsWith('/')) throw new InvalidValue('is not an absolute path');
  return raw.length > 1 ? raw.replace(/\/+$/, '') : raw;
};

export const int =
  (min: number, max: number): Parse<number> =>
  (raw) => {
    if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new InvalidValue(`is not a whole number between ${min} and ${max}`);
    return Number(raw);
  };

export const bool: Parse<boolean> = (raw) => {
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new InvalidValue('is not a boolean (true or false)');
};

export const oneOf =
  <const T extends string>(allowed: readonly T[]): Parse<T> =>
  (raw) => {
    if (!(allowed as readonly string[]).includes(raw)) throw new InvalidValue(`is not one of ${allowed.join(', ')}`);
    return raw as T;
  };

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** host:port, [v6]:port or :port (host 0.0.0.0); port 0 = any free port. */
export const listen =
  (example: number): Parse<HostPort> =>
  (raw) => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(raw);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535) throw new InvalidValue(`is not host:port (e.g. "0.0.0.0:${example}", "[::]:${example}", "127.0.0.1:0")`);
    const host = m[1] ?? m[2] ?? '';
    return { host: host === '' ? '0.0.0.0' : host, port };
  };

export const namespaceName: Parse<string> = (raw) => {
  if (!isDns1123Label(raw)) throw new InvalidValue(`is not a namespace name: ${NAME_RULES.label}`);
  return raw;
};

export const objectName =
  (what: string): Parse<string> =>
  (raw) => {
    if (!isDns1123Subdomain(raw)) throw new InvalidValue(`is not a ${what}: ${NAME_RULES.subdomain}`);
    return raw;
  };

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export const LOG_FORMATS = ['json', 'text'] as const;

/** The two logging variables every component reads. */
export const LOG_ENV = {
  logLevel: withDefault('PCAPPER_LOG_LEVEL', 'info', 'log level: `debug`, `info`, `warn` or `error`', oneOf(LOG_LEVELS)),
  logFormat: withDefault('PCAPPER_LOG_FORMAT', 'json', 'log format: `json` (one object a line) or `text`', oneOf(LOG_FORMATS)),
} as const;
