/**
 * Kubeconfig loading with kubectl's rules, shared by the CLI and the components:
 *
 * - `--kubeconfig FILE`: only that file (it must exist);
 * - else `$KUBECONFIG`, a ':'-separated list, merged like kubectl (client-go's loading rules): files
 *   that do not exist are skipped; for clusters, users and contexts the FIRST file that defines a
 *   name wins; `current-context` comes from the first file that sets one;
 * - else `~/.kube/config`, else (when allowed) the in-cluster service account;
 * - then `--context`, `--cluster` and `--user` override the current context, as kubectl's flags do.
 *
 * Relative file references (certificate-authority, client-certificate, client-key, token-file, an
 * exec command with a '/') are resolved against the directory of the file that holds them, before
 * merging, since the merged config no longer has one directory.
 *
 * The merge itself (`mergeKubeconfigs`, `applyOverrides`) is pure and unit-tested.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';

/** A kubeconfig file as parsed YAML (only the parts the merge looks at are typed). */
export interface RawKubeconfig {
  apiVersion?: string;
  kind?: string;
  clusters?: NamedEntry[];
  users?: NamedEntry[];
  contexts?: NamedEntry[];
  'current-context'?: string;
  [k: string]: unknown;
}

export interface NamedEntry {
  name?: string;
  cluster?: Record<string, unknown>;
  user?: Record<string, unknown>;
  context?: { cluster?: string; user?: string; namespace?: string; [k: string]: unknown };
}

export interface KubeconfigFile {
  path: string;
  config: RawKubeconfig;
}

const PATH_KEYS: Record<'cluster' | 'user', readonly string[]> = {
  cluster: ['certificate-authority'],
  user: ['client-certificate', 'client-key', 'token-file', 'tokenFile'],
};

/** Resolves a file's relative references against its directory (pure: returns a copy). */
export function resolveRelativePaths(f: KubeconfigFile): RawKubeconfig {
  const dir = dirname(f.path);
  const abs = (p: unknown): unknown => (typeof p === 'string' && p !== '' && !isAbsolute(p) ? join(dir, p) : p);
  const fix = (list: NamedEntry[] | undefined, kind: 'cluster' | 'user'): NamedEntry[] | undefined =>
    list?.map((e) => {
      const body = e[kind];
      if (!body || typeof body !== 'object') return e;
      const copy: Record<string, unknown> = { ...body };
      for (const k of PATH_KEYS[kind]) if (k in copy) copy[k] = abs(copy[k]);
      const exec = copy.exec as { command?: unknown } | undefined;
      // kubectl resolves an exec command relative to the kubeconfig only when it names a path
      if (kind === 'user' && exec && typeof exec.command === 'string' && exec.command.includes('/')) copy.exec = { ...exec, command: abs(exec.command) };
      return { ...e, [kind]: copy };
    });
  return { ...f.config, clusters: fix(f.config.clusters, 'cluster'), users: fix(f.config.users, 'user') };
}

/**
 * Merges kubeconfig files in KUBECONFIG order: the first file to define a cluster, user or context
 * name wins, and current-context is the first non-empty one (client-go's merge rules).
 */
export function mergeKubeconfigs(files: readonly KubeconfigFile[]): RawKubeconfig {
  const out: Required<Pick<RawKubeconfig, 'clusters' | 'users' | 'contexts'>> & RawKubeconfig = { apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] };
  const seen = { clusters: new Set<string>(), users: new Set<string>(), contexts: new Set<string>() };
  for (const f of files) {
    const c = resolveRelativePaths(f);
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      for (const e of c[key] ?? []) {
        if (!e || typeof e.name !== 'string' || seen[key].has(e.name)) continue;
        seen[key].add(e.name);
        out[key].push(e);
      }
    }
    if (out['current-context'] === undefined && typeof c['current-context'] === 'string' && c['current-context'] !== '') out['current-context'] = c['current-context'];
  }
  return out;
}

export interface KubeconfigOverrides {
  context?: string | undefined;
  cluster?: string | undefined;
  user?: string | undefined;
}

export class KubeconfigError extends Error {
  override readonly name = 'KubeconfigError';
}

/**
 * Applies --context, --cluster and --user (pure: returns a copy). --cluster/--user replace the
 * current context's cluster/user, as kubectl does; every name must exist.
 */
export function applyOverrides(cfg: RawKubeconfig, o: KubeconfigOverrides, where = 'the kubeconfig'): RawKubeconfig {
  const out: RawKubeconfig = { ...cfg, contexts: [...(cfg.contexts ?? [])] };
  const has = (list: NamedEntry[] | undefined, n: string): boolean => (list ?? []).some((e) => e.name === n);
  if (o.context !== undefined) {
    if (!has(cfg.contexts, o.context)) throw new KubeconfigError(`context "${o.context}" does not exist in ${where}`);
    out['current-context'] = o.context;
  }
  if (o.cluster !== undefined && !has(cfg.clusters, o.cluster)) throw new KubeconfigError(`cluster "${o.cluster}" does not exist in ${where}`);
  if (o.user !== undefined && !has(cfg.users, o.user)) throw new KubeconfigError(`user "${o.user}" does not exist in ${where}`);
  if (o.cluster !== undefined || o.user !== undefined) {
    const cur = out['current-context'];
    const base = (out.contexts ?? []).find((e) => e.name === cur)?.context ?? {};
    // a synthetic context, so the file's own context stays as it was
    const name = `${cur ?? ''}+overrides`;
    out.contexts = [...(out.contexts ?? []).filter((e) => e.name !== name), { name, context: { ...base, ...(o.cluster !== undefined ? { cluster: o.cluster } : {}), ...(o.user !== undefined ? { user: o.user } : {}) } }];
    out['current-context'] = name;
  }
  return out;
}

export interface KubeconfigSourceFlags {
  /** --kubeconfig */
  kubeconfig?: string | undefined;
  context?: string | undefined;
  cluster?: string | undefined;
  user?: string | undefined;
}

export interface LoadedKubeconfig {
  kc: k8s.KubeConfig;
  /** Files that were merged (empty in-cluster). */
  files: string[];
  /** The current context's namespace, if it sets one. */
  contextNamespace: string | undefined;
}

/** Which files to read, by kubectl's precedence; [] means "none found". Throws for a missing --kubeconfig. */
export function kubeconfigFiles(flags: KubeconfigSourceFlags, env: Readonly<Record<string, string | undefined>>, exists: (p: string) => boolean = existsSync): string[] {
  if (flags.kubeconfig !== undefined) {
    if (!exists(flags.kubeconfig)) throw new KubeconfigError(`kubeconfig "${flags.kubeconfig}" does not exist`);
    return [flags.kubeconfig];
  }
  if (env.KUBECONFIG) {
    const list = env.KUBECONFIG.split(':').filter((p) => p !== '');
    const present = [...new Set(list)].filter((p) => exists(p));
    if (present.length === 0) throw new KubeconfigError(`none of the files in KUBECONFIG=${env.KUBECONFIG} exist`);
    return present;
  }
  const home = env.HOME ?? env.USERPROFILE;
  const def = home ? join(home, '.kube', 'config') : undefined;
  return def && exists(def) ? [def] : [];
}

/**
 * Loads and merges the kubeconfig per kubectl's rules (see the top of this file). In-cluster config
 * is used only when no file is found and `inCluster` allows it (KUBERNETES_SERVICE_HOST set).
 */
export function loadMergedKubeconfig(flags: KubeconfigSourceFlags, env: Readonly<Record<string, string | undefined>>, opts: { inCluster?: boolean } = {}): LoadedKubeconfig {
  const files = kubeconfigFiles(flags, env);
  const kc = new k8s.KubeConfig();
  if (files.length === 0) {
    if (opts.inCluster !== false && env.KUBERNETES_SERVICE_HOST) {
      kc.loadFromCluster();
      return { kc, files: [], contextNamespace: undefined };
    }
    throw new KubeconfigError('no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config');
  }
  const parsed: KubeconfigFile[] = files.map((path) => {
    try {
      const config = (parseYaml(readFileSync(path, 'utf8')) ?? {}) as RawKubeconfig;
      if (typeof config !== 'object' || Array.isArray(config)) throw new Error('not a kubeconfig (expected a YAML mapping)');
      return { path, config };
    } catch (e) {
      throw new KubeconfigError(`cannot load kubeconfig ${path}: ${(e as Error).message}`, { cause: e });
    }
  });
  const where = files.length === 1 ? (files[0] as string) : `KUBECONFIG=${files.join(':')}`;
  const merged = applyOverrides(mergeKubeconfigs(parsed), flags, where);
  try {
    kc.loadFromString(JSON.stringify(merged));
  } catch (e) {
    throw new KubeconfigError(`cannot load kubeconfig ${where}: ${(e as Error).message}`, { cause: e });
  }
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return { kc, files, contextNamespace: ctx?.namespace || undefined };
}
