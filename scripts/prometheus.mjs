#!/usr/bin/env node
// Builds the test Prometheus server once per machine and prints the binary's path: Prometheus
// (github.com/prometheus/prometheus, Apache-2.0) from Go modules with `go install module@version`
// (no repository checkout; the Go module versions v0.3xx.y are Prometheus 3.x releases). Cached
// outside the repo in $PCAPPER_CACHE_DIR (default ~/.cache/pcapper), keyed by the version, so only
// the first run pays for the build (measured 2026-11-27: ~20 min with -tags remove_all_sd on 2 cores under load ~35, warm module cache).
// The binary has no web UI assets (no `builtinassets` tag) and, with `-tags remove_all_sd`, no
// service discovery but static, file and HTTP (skipping the cloud SDKs halves the build): the tests
// use only static targets and the HTTP API.
// Used by test/dashboard.test.ts, which runs the Grafana dashboard's queries against the agent's
// /metrics.
//
//   node scripts/prometheus.mjs          build if needed, print the path (stdout, last line)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS_MODULE = 'github.com/prometheus/prometheus';
export const PROMETHEUS_VERSION = 'v0.316.0';

export function cacheDir() {
  return process.env.PCAPPER_CACHE_DIR || join(homedir(), '.cache', 'pcapper');
}

export function prometheusPath() {
  return join(cacheDir(), `prometheus-${PROMETHEUS_VERSION}`);
}

export function ensurePrometheus({ quiet = false } = {}) {
  const bin = prometheusPath();
  if (existsSync(bin)) return bin;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    throw new Error('Go is not installed: the test Prometheus is built from Go modules. Install Go >= 1.25 (from the Go project, or apt-get install -y golang where recent enough).');
  }
  mkdirSync(cacheDir(), { recursive: true });
  const tmpDir = join(cacheDir(), `prometheus-build-${process.pid}`);
  if (!quiet) {
    process.stderr.write(`pcapper: building the test Prometheus ${PROMETHEUS_MODULE} ${PROMETHEUS_VERSION} from Go modules (first run only, ~10-20 min on 2 cores)...\n`);
  }
  const started = Date.now();
  const res = spawnSync('go', ['install', '-tags', 'remove_all_sd', '-ldflags', '-s -w', `${PROMETHEUS_MODULE}/cmd/prometheus@${PROMETHEUS_VERSION}`], {
    encoding: 'utf8',
    // go prints one "go: downloading ..." line per module: that is the progress of the long first build.
    stdio: ['ignore', quiet ? 'pipe' : 'inherit', quiet ? 'pipe' : 'inherit'],
    env: { ...process.env, GOBIN: tmpDir, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) {
    const tail = (res.stderr || '').trim().split('\n').slice(-15).join('\n');
    rmSync(tmpDir, { recursive: true, force: true });
    throw new Error(`building the test Prometheus failed (go install ${PROMETHEUS_MODULE}/cmd/prometheus@${PROMETHEUS_VERSION} exited ${res.status})${tail ? `:\n${tail}` : ''}`);
  }
  renameSync(join(tmpDir, 'prometheus'), bin);
  rmSync(tmpDir, { recursive: true, force: true });
  if (!quiet) process.stderr.write(`pcapper: test Prometheus built in ${Math.round((Date.now() - started) / 1000)}s: ${bin}\n`);
  return bin;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(ensurePrometheus());
  } catch (e) {
    console.error(`pcapper: ${e.message}`);
    process.exit(1);
  }
}
