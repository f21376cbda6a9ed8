#!/usr/bin/env node
// Builds the test control plane (test/controlplane: kube-apiserver v1.34 + embedded etcd, from Go
// modules) once per machine and prints the binary's path. The binary is cached outside the repo in
// $PCAPPER_CACHE_DIR (default ~/.cache/pcapper), keyed by the Kubernetes version and a hash of the
// Go sources, so only the first run pays for the build (see README for the measured cost).
//
//   node scripts/controlplane.mjs path    build if needed, print the path (stdout, last line)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KUBE_VERSION = 'v1.34.4';
const root = fileURLToPath(new URL('..', import.meta.url));
const srcDir = join(root, 'test/controlplane');

export function cacheDir() {
  return process.env.PCAPPER_CACHE_DIR || join(homedir(), '.cache', 'pcapper');
}

export function binaryPath() {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) h.update(readFileSync(join(srcDir, f)));
  return join(cacheDir(), `controlplane-${KUBE_VERSION}-${h.digest('hex').slice(0, 12)}`);
}

export function ensureControlPlane({ quiet = false } = {}) {
  const bin = binaryPath();
  if (existsSync(bin)) return bin;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    throw new Error('Go is not installed: the local control plane is built from Go modules. Install Go >= 1.24 (apt-get install -y golang on Debian trixie, or from the Go project).');
  }
  mkdirSync(cacheDir(), { recursive: true });
  const [maj, min] = KUBE_VERSION.slice(1).split('.');
  const ldflags = [
    '-s -w',
    `-X k8s.io/component-base/version.gitVersion=${KUBE_VERSION}`,
    `-X k8s.io/component-base/version.gitMajor=${maj}`,
    `-X k8s.io/component-base/version.gitMinor=${min}`,
  ].join(' ');
  const tmp = `${bin}.tmp-${process.pid}`;
  if (!quiet) {
    process.stderr.write(`pcapper: building kube-apiserver ${KUBE_VERSION} + etcd from Go modules (first run only, ~10-20 min on 2 cores)...\n`);
  }
  const started = Date.now();
  const res = spawnSync('go', ['build', '-trimpath', '-ldflags', ldflags, '-o', tmp, '.'], {
    cwd: srcDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) {
    const tail = (res.stderr || '').trim().split('\n').slice(-15).join('\n');
    throw new Error(`building the control plane failed (go build in test/controlplane exited ${res.status}):\n${tail}`);
  }
  renameSync(tmp, bin);
  if (!quiet) process.stderr.write(`pcapper: control plane built in ${Math.round((Date.now() - started) / 1000)}s: ${bin}\n`);
  return bin;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(ensureControlPlane());
  } catch (e) {
    console.error(`pcapper: ${e.message}`);
    process.exit(1);
  }
}
