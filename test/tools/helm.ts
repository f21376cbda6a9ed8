/**
 * `helm` for the tests: built from Go modules by scripts/helm.mjs (once per machine, cached in
 * $PCAPPER_CACHE_DIR or ~/.cache/pcapper), run with argv (never a shell) and with its config,
 * cache and data directories inside that cache, so nothing of the user's Helm setup leaks in.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../harness/paths.js';

const execFileP = promisify(execFile);

export const CHART_DIR = (): string => join(repoRoot(), 'charts', 'pcapper');
/** The regeneration command printed by drift failures. */
export const GEN_COMMAND = 'node scripts/helm.mjs gen';

let cached: Promise<string> | undefined;

/** Builds helm if needed (first run: a few minutes) and returns the binary's path. */
export function helmBinary(): Promise<string> {
  cached ??= (async () => {
    const script = join(repoRoot(), 'scripts', 'helm.mjs');
    try {
      const { stdout } = await execFileP(process.execPath, [script, 'path'], { maxBuffer: 16 * 1024 * 1024, timeout: 60 * 60 * 1000 });
      const path = stdout.trim().split('\n').pop() ?? '';
      if (!path || !existsSync(path)) throw new Error(`scripts/helm.mjs printed no binary path (got "${stdout.trim()}")`);
      return path;
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`cannot build helm: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
    }
  })();
  return cached;
}

function cacheDir(): string {
  return process.env.PCAPPER_CACHE_DIR || join(homedir(), '.cache', 'pcapper');
}

export interface HelmResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs helm with argv; never throws for a non-zero exit (the result carries the code). */
export async function helm(args: string[]): Promise<HelmResult> {
  const bin = await helmBinary();
  const home = join(cacheDir(), 'helm-home');
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      {
        maxBuffer: 64 * 1024 * 1024,
        timeout: 120_000,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: homedir(),
          HELM_CACHE_HOME: join(home, 'cache'),
          HELM_CONFIG_HOME: join(home, 'config'),
          HELM_DATA_HOME: join(home, 'data'),
        },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ stdout, stderr, code });
      },
    );
  });
}

/** The Kubernetes version `helm template` renders for (as scripts/helm.mjs does for deploy/pcapper.yaml). */
export const RENDER_KUBE_VERSION = 'v1.34.0';

/** `helm template pcapper charts/pcapper` with extra args (e.g. --set ...); throws on failure. */
export async function helmTemplate(extra: string[] = []): Promise<string> {
  const r = await helm(['template', 'pcapper', CHART_DIR(), '--namespace', 'pcapper', '--kube-version', RENDER_KUBE_VERSION, ...extra]);
  if (r.code !== 0) throw new Error(`helm template ${extra.join(' ')} failed (exit ${r.code}):\n${r.stderr}`);
  return r.stdout;
}

/** A Kubernetes object as parsed from YAML (only the fields the tests look at are typed). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

/** Parses a multi-document YAML stream into objects (empty documents dropped); throws on YAML errors. */
export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    const v = doc.toJS() as Manifest | null;
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

export function findManifest(ms: readonly Manifest[], kind: string, name: string): Manifest {
  const m = ms.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind} ${name} in the rendered chart (have: ${ms.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')})`);
  return m;
}

export function readRepoFile(rel: string): string {
  return readFileSync(join(repoRoot(), rel), 'utf8');
}

/** An RBAC rule as rendered. */
export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

export function rulesOf(m: Manifest): PolicyRule[] {
  return (m as unknown as { rules?: PolicyRule[] }).rules ?? [];
}
