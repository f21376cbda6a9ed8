#!/usr/bin/env node
// Helm for pcapper's chart: builds `helm` v3 from Go modules (`go install
// helm.sh/helm/v3/cmd/helm@HELM_VERSION`, no binary download) once per machine, cached outside the
// repo in $PCAPPER_CACHE_DIR (default ~/.cache/pcapper) keyed by the Helm version, like
// scripts/controlplane.mjs does for the control plane. Also regenerates the chart's generated files.
//
//   node scripts/helm.mjs            build if needed, print the binary's path (stdout, last line)
//   node scripts/helm.mjs gen        copy every deploy/crd*.yaml into the chart (charts/pcapper/files/) and
//                                    render deploy/pcapper.yaml from the chart with default values
//                                    except tls.mode=external (STATIC_VALUES): a static manifest
//                                    must hold no private keys, so the user makes the two TLS
//                                    Secrets (docs/install.md)
//
// test/helm.test.ts fails when either generated file is stale and prints `node scripts/helm.mjs gen`.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The newest Helm 3 release on the Go module proxy when this was written (`go list -m -versions helm.sh/helm/v3`). */
export const HELM_VERSION = 'v3.22.0';
const MODULE = 'helm.sh/helm/v3';
const root = fileURLToPath(new URL('..', import.meta.url));

export const CHART_DIR = join(root, 'charts/pcapper');
export const CRD_SOURCE = join(root, 'deploy/crd.yaml');
export const CRD_CHART_COPY = join(CHART_DIR, 'files/crd.yaml');
/** The generated CRD files (deploy/crd.yaml, deploy/crd-<plural>.yaml), by file name. */
export function crdFileNames() {
  return readdirSync(join(root, 'deploy')).filter((f) => /^crd(-[a-z0-9]+)?\.yaml$/.test(f)).sort();
}
export const RENDERED_MANIFESTS = join(root, 'deploy/pcapper.yaml');
/** The release name and namespace deploy/pcapper.yaml is rendered with. */
export const RELEASE_NAME = 'pcapper';
export const RELEASE_NAMESPACE = 'pcapper';
/** The values deploy/pcapper.yaml is rendered with, on top of the chart's defaults. */
export const STATIC_VALUES = ['--set', 'tls.mode=external', '--set', 'encryption.mode=external'];
/** Kubernetes version `helm template` assumes for .Capabilities (the version the tests run). */
export const RENDER_KUBE_VERSION = 'v1.34.0';

export function cacheDir() {
  return process.env.PCAPPER_CACHE_DIR || join(homedir(), '.cache', 'pcapper');
}

export function helmPath() {
  return join(cacheDir(), `helm-${HELM_VERSION}`);
}

function goEnv() {
  return { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' };
}

/** The k8s.io/client-go minor version Helm is built against: Helm's Makefile stamps it as the default .Capabilities.KubeVersion. */
function helmKubeMinor() {
  const res = spawnSync('go', ['mod', 'download', '-json', `${MODULE}@${HELM_VERSION}`], { encoding: 'utf8', env: goEnv(), maxBuffer: 16 * 1024 * 1024 });
  if (res.status !== 0) {
    throw new Error(`go mod download ${MODULE}@${HELM_VERSION} failed (exit ${res.status}): ${(res.stderr || res.stdout || '').trim().split('\n').slice(-5).join('\n')}`);
  }
  const info = JSON.parse(res.stdout);
  const gomod = readFileSync(info.GoMod, 'utf8');
  const m = /\bk8s\.io\/client-go v0\.(\d+)\./.exec(gomod);
  if (!m) throw new Error(`cannot find k8s.io/client-go in ${info.GoMod}`);
  return m[1];
}

export function ensureHelm({ quiet = false } = {}) {
  const bin = helmPath();
  if (existsSync(bin)) return bin;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    throw new Error(`Go is not installed: helm ${HELM_VERSION} is built from Go modules (no binary downloads). Install Go >= 1.24 (apt-get install -y golang on Debian trixie, or from the Go project).`);
  }
  mkdirSync(cacheDir(), { recursive: true });
  if (!quiet) process.stderr.write(`pcapper: building helm ${HELM_VERSION} from Go modules (first run only, a few minutes on 2 cores)...\n`);
  const started = Date.now();
  const minor = helmKubeMinor();
  const ldflags = [
    '-s -w',
    `-X ${MODULE}/internal/version.version=${HELM_VERSION}`,
    `-X ${MODULE}/pkg/chartutil.k8sVersionMajor=1`,
    `-X ${MODULE}/pkg/chartutil.k8sVersionMinor=${minor}`,
    `-X ${MODULE}/pkg/lint/rules.k8sVersionMajor=1`,
    `-X ${MODULE}/pkg/lint/rules.k8sVersionMinor=${minor}`,
  ].join(' ');
  // `go install pkg@version` builds in module mode outside any main module, with Helm's own go.mod.
  const gobin = join(cacheDir(), `helm-build-${process.pid}`);
  rmSync(gobin, { recursive: true, force: true });
  const res = spawnSync('go', ['install', '-trimpath', '-ldflags', ldflags, `${MODULE}/cmd/helm@${HELM_VERSION}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...goEnv(), GOBIN: gobin },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0 || !existsSync(join(gobin, 'helm'))) {
    rmSync(gobin, { recursive: true, force: true });
    const tail = (res.stderr || '').trim().split('\n').slice(-15).join('\n');
    throw new Error(`building helm failed (go install ${MODULE}/cmd/helm@${HELM_VERSION} exited ${res.status}):\n${tail}`);
  }
  renameSync(join(gobin, 'helm'), bin);
  rmSync(gobin, { recursive: true, force: true });
  if (!quiet) process.stderr.write(`pcapper: helm built in ${Math.round((Date.now() - started) / 1000)}s: ${bin}\n`);
  return bin;
}

/** `helm template` of the chart with default values and STATIC_VALUES, exactly as deploy/pcapper.yaml is generated. */
export function renderDefault(helm = ensureHelm()) {
  const res = spawnSync(
    helm,
    ['template', RELEASE_NAME, CHART_DIR, '--namespace', RELEASE_NAMESPACE, '--kube-version', RENDER_KUBE_VERSION, ...STATIC_VALUES],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HELM_CACHE_HOME: join(cacheDir(), 'helm-home/cache'), HELM_CONFIG_HOME: join(cacheDir(), 'helm-home/config'), HELM_DATA_HOME: join(cacheDir(), 'helm-home/data') } },
  );
  if (res.status !== 0) throw new Error(`helm template failed (exit ${res.status}):\n${res.stderr}`);
  return `# Generated by \`node scripts/helm.mjs gen\` from charts/pcapper with default values and ${STATIC_VALUES.filter((a) => a !== '--set').join(' ')}; do not edit.\n# No private keys: create the Secrets pcapper-server-tls, pcapper-agent-tls and pcapper-encryption-keys first (docs/install.md).\n${res.stdout}`;
}

export function generate() {
  if (!existsSync(CRD_SOURCE)) throw new Error(`${CRD_SOURCE} does not exist: it is generated from src/api (see the controller's docs)`);
  mkdirSync(join(CHART_DIR, 'files'), { recursive: true });
  const names = crdFileNames();
  // A CRD file removed from deploy/ leaves the chart too.
  for (const f of readdirSync(join(CHART_DIR, 'files'))) if (/^crd(-[a-z0-9]+)?\.yaml$/.test(f) && !names.includes(f)) rmSync(join(CHART_DIR, 'files', f));
  for (const f of names) copyFileSync(join(root, 'deploy', f), join(CHART_DIR, 'files', f));
  const out = renderDefault();
  writeFileSync(`${RENDERED_MANIFESTS}.tmp`, out);
  renameSync(`${RENDERED_MANIFESTS}.tmp`, RENDERED_MANIFESTS);
  return [...names.map((f) => join(CHART_DIR, 'files', f)), RENDERED_MANIFESTS];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    if (process.argv[2] === 'gen') {
      for (const f of generate()) console.log(`wrote ${f}`);
    } else if (process.argv[2] === undefined || process.argv[2] === 'path') {
      console.log(ensureHelm());
    } else {
      console.error('usage: node scripts/helm.mjs [path|gen]');
      process.exit(2);
    }
  } catch (e) {
    console.error(`pcapper: ${e.message}`);
    process.exit(1);
  }
}
