/**
 * A small, table-driven, kubectl-style flag parser (pure).
 *
 * - `--flag value`, `--flag=value`, `-f value`, `-f=value`, `-fvalue`; boolean flags take no value
 *   (`--flag=true|false` also works); `--` ends the flags.
 * - Flags with an optional value (`--dry-run`, `--dry-run=client`) only take a value after `=`.
 * - Repeatable flags collect every value.
 * - Unknown flags, missing values and bad values throw {@link UsageError} naming the flag.
 * - Flags and positional arguments can be interleaved (`capture pod/x -n ns --duration 5s`).
 */
import { UsageError } from './errors.js';

export type FlagType = 'string' | 'boolean' | 'int' | 'strings';

export interface FlagSpec {
  /** Long name without dashes, e.g. "namespace". */
  readonly name: string;
  /** One-letter short name, e.g. "n". */
  readonly short?: string;
  readonly type: FlagType;
  /** Help text. */
  readonly help: string;
  /** Placeholder in help, e.g. "NAME". */
  readonly value?: string;
  /** The flag may be given without a value: this value is used then (`--dry-run` = "client"). */
  readonly optionalValue?: string;
  /** Allowed values (checked by the parser). */
  readonly choices?: readonly string[];
  /** Shown in help only. */
  readonly defaultText?: string;
}

export type FlagValue = string | boolean | number | string[];

export interface CommandSpec {
  /** e.g. "capture" */
  readonly name: string;
  /** One-line description. */
  readonly summary: string;
  /** Usage line after `kubectl pcap`, e.g. "capture TARGET [flags]". */
  readonly usage: string;
  /** Longer description (optional). */
  readonly description?: string;
  readonly flags: readonly FlagSpec[];
  readonly examples?: readonly string[];
  /** Positional argument count bounds (default 0..Infinity). */
  readonly minArgs?: number;
  readonly maxArgs?: number;
  /** Name of the positional arguments for errors, e.g. "NAME". */
  readonly argsName?: string;
  /** false: only `flags` (a component such as `pcapper controller`, not a kubectl command). Default true. */
  readonly globalFlags?: boolean;
}

export interface ParsedArgs {
  readonly flags: Readonly<Record<string, FlagValue | undefined>>;
  /** Names of the flags that were given explicitly. */
  readonly given: ReadonlySet<string>;
  readonly args: readonly string[];
}

/** Flags every command accepts (kubectl's conventions). */
export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'kubeconfig', type: 'string', value: 'PATH', help: 'Path to the kubeconfig file (default: $KUBECONFIG, a :-separated list merged as kubectl does, or ~/.kube/config)' },
  { name: 'context', type: 'string', value: 'NAME', help: 'The kubeconfig context to use' },
  { name: 'cluster', type: 'string', value: 'NAME', help: 'The kubeconfig cluster to use (overrides the context\'s)' },
  { name: 'user', type: 'string', value: 'NAME', help: 'The kubeconfig user to use (overrides the context\'s)' },
  { name: 'namespace', short: 'n', type: 'string', value: 'NAMESPACE', help: 'Namespace (default: the context\'s namespace, else "default")' },
  { name: 'help', short: 'h', type: 'boolean', help: 'Show help for this command' },
];

export const ALL_NAMESPACES_FLAG: FlagSpec = { name: 'all-namespaces', short: 'A', type: 'boolean', help: 'List across all namespaces' };

export function outputFlag(choices: readonly string[]): FlagSpec {
  return { name: 'output', short: 'o', type: 'string', value: 'FORMAT', choices, help: `Output format: ${choices.join('|')}` };
}

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

/** All flags of a command: its own plus the global ones (its own win on a name clash). */
export function allFlags(spec: CommandSpec): FlagSpec[] {
  if (spec.globalFlags === false) return [...spec.flags];
  const own = new Set(spec.flags.map((f) => f.name));
  return [...spec.flags, ...GLOBAL_FLAGS.filter((f) => !own.has(f.name))];
}

/**
 * Parses `argv` (after the command name) against `spec`. Throws UsageError on unknown flags,
 * missing or bad values, and wrong positional counts (unless `--help` was given).
 */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const flags = allFlags(spec);
  const byLong = new Map(flags.map((f) => [f.name, f]));
  const byShort = new Map(flags.filter((f) => f.short).map((f) => [f.short as string, f]));
  const values: Record<string, FlagValue | undefined> = {};
  const given = new Set<string>();
  const args: string[] = [];
  const err = (msg: string): UsageError => new UsageError(msg, spec.name);

  const set = (f: FlagSpec, raw: string | undefined, shown: string): void => {
    given.add(f.name);
    if (f.type === 'boolean') {
      if (raw === undefined || TRUE.has(raw)) values[f.name] = true;
      else if (FALSE.has(raw)) values[f.name] = false;
      else throw err(`invalid value "${raw}" for ${shown}: must be true or false`);
      return;
    }
    const v = raw ?? '';
    if (f.choices && !f.choices.includes(v)) {
      throw err(`invalid value "${v}" for ${shown}: must be one of ${f.choices.join(', ')}`);
    }
    if (f.type === 'int') {
      if (!/^[0-9]+$/.test(v)) throw err(`invalid value "${v}" for ${shown}: must be a whole number`);
      values[f.name] = Number(v);
    } else if (f.type === 'strings') {
      const prev = values[f.name];
      values[f.name] = [...(Array.isArray(prev) ? prev : []), v];
    } else values[f.name] = v;
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const f = byLong.get(name);
      if (!f) throw err(`unknown flag: --${name}`);
      const shown = `--${name}`;
      if (eq >= 0) set(f, a.slice(eq + 1), shown);
      else if (f.type === 'boolean' || f.optionalValue !== undefined) set(f, f.type === 'boolean' ? undefined : f.optionalValue, shown);
      else {
        if (i + 1 >= argv.length) throw err(`flag needs an argument: --${name}`);
        set(f, argv[++i], shown);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1 && a !== '-') {
      // -n ns, -n=ns, -nns, and grouped booleans (-Ah)
      let j = 1;
      while (j < a.length) {
        const c = a[j] as string;
        const f = byShort.get(c);
        if (!f) throw err(`unknown shorthand flag: '${c}' in ${a}`);
        const shown = `-${c}`;
        const rest = a.slice(j + 1);
        if (f.type === 'boolean') {
          if (rest.startsWith('=')) {
            set(f, rest.slice(1), shown);
            break;
          }
          set(f, undefined, shown);
          j++;
          continue;
        }
        if (rest.length > 0) set(f, rest.startsWith('=') ? rest.slice(1) : rest, shown);
        else if (f.optionalValue !== undefined) set(f, f.optionalValue, shown);
        else {
          if (i + 1 >= argv.length) throw err(`flag needs an argument: '${c}' in ${a}`);
          set(f, argv[++i], shown);
        }
        break;
      }
      continue;
    }
    args.push(a);
  }

  if (values.help !== true) {
    const min = spec.minArgs ?? 0;
    const max = spec.maxArgs ?? Infinity;
    const what = spec.argsName ?? 'argument';
    if (args.length < min) throw err(min === 1 && max === 1 ? `${what} is required` : `at least ${min} ${what} required`);
    if (args.length > max) {
      throw err(max === 0 ? `unexpected argument "${args[0]}"` : `too many arguments: expected at most ${max} ${what}, got ${args.length} ("${args.slice(max).join('", "')}")`);
    }
  }
  return { flags: values, given, args };
}

/** Typed accessors for parsed flags. */
export function str(p: ParsedArgs, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === 'string' ? v : undefined;
}
export function bool(p: ParsedArgs, name: string): boolean {
  return p.flags[name] === true;
}
export function int(p: ParsedArgs, name: string): number | undefined {
  const v = p.flags[name];
  return typeof v === 'number' ? v : undefined;
}
export function strs(p: ParsedArgs, name: string): string[] {
  const v = p.flags[name];
  return Array.isArray(v) ? v : [];
}

/** Renders `--help` text for a command. */
export function formatHelp(spec: CommandSpec): string {
  const lines: string[] = [spec.summary, ''];
  if (spec.description) lines.push(spec.description.trimEnd(), '');
  lines.push('Usage:', `  kubectl pcap ${spec.usage}`, '');
  if (spec.examples && spec.examples.length > 0) {
    lines.push('Examples:');
    for (const e of spec.examples) lines.push(`  ${e}`);
    lines.push('');
  }
  const row = (f: FlagSpec): [string, string] => {
    const names = `${f.short ? `-${f.short}, ` : '    '}--${f.name}`;
    const val = f.type === 'boolean' ? '' : f.optionalValue !== undefined ? `[=${f.value ?? 'VALUE'}]` : ` ${f.value ?? (f.type === 'int' ? 'N' : 'VALUE')}`;
    const help = f.defaultText ? `${f.help} (default ${f.defaultText})` : f.help;
    return [`${names}${val}`, help];
  };
  const section = (title: string, fs: readonly FlagSpec[]): void => {
    if (fs.length === 0) return;
    const rows = fs.map(row);
    const w = Math.max(...rows.map((r) => r[0].length));
    lines.push(`${title}:`);
    for (const [a, b] of rows) lines.push(`  ${a.padEnd(w)}  ${b}`);
    lines.push('');
  };
  const own = new Set(spec.flags.map((f) => f.name));
  section('Flags', spec.flags);
  section('Global flags', GLOBAL_FLAGS.filter((f) => !own.has(f.name)));
  return lines.join('\n');
}

/**
 * `kubectl pcap -n shop list` works like `kubectl pcap list -n shop`: global flags given before the
 * command name are moved after it. Returns argv unchanged when it starts with the command.
 */
export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const withValue = new Map<string, string>([
    ['--kubeconfig', 'kubeconfig'],
    ['--context', 'context'],
    ['--cluster', 'cluster'],
    ['--user', 'user'],
    ['--namespace', 'namespace'],
    ['-n', 'namespace'],
  ]);
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i] as string;
    if (!a.startsWith('-') || a === '-' || a === '--') break;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (withValue.has(name)) {
      leading.push(a);
      if (eq < 0) {
        if (i + 1 >= argv.length) break;
        leading.push(argv[i + 1] as string);
        i += 2;
      } else i++;
      continue;
    }
    if (/^-n.+/.test(a) || a === '-A' || a === '--all-namespaces') {
      leading.push(a);
      i++;
      continue;
    }
    break; // -h, --help, --version and unknown flags: left to the dispatcher
  }
  if (leading.length === 0 || i >= argv.length) return [...argv];
  return [argv[i] as string, ...argv.slice(i + 1), ...leading];
}
