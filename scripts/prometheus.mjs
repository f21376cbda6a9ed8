#!/usr/bin/env node
// Provides the test Prometheus server once per machine and prints the binary's path: Debian's
// `prometheus` package (Prometheus 2.42, Debian 12), fetched with `apt-get download` and unpacked
// with `dpkg -x` into the cache, so no maintainer script runs and no daemon is started. Cached
// outside the repo in $PCAPPER_CACHE_DIR (default ~/.cache/pcapper), keyed by the package version.
// Why not `go install` from Go modules: that is a 20-minute build on 2 cores (measured 2026-11-27),
// the package is 19 MB and takes seconds; both are the real Prometheus.
// Used by test/dashboard.test.ts, which runs the Grafana dashboard's queries against the agent's
// /metrics.
//
//   node scripts/prometheus.mjs          fetch if needed, print the path (stdout, last line)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The Debian package version the tests are written against (apt-get download pins it). */
export const PROMETHEUS_DEB_VERSION = '2.42.0+ds-5+deb12u1';

export function cacheDir() {
  return process.env.PCAPPER_CACHE_DIR || join(homedir(), '.cache', 'pcapper');
}

export function prometheusPath() {
  return join(cacheDir(), `prometheus-deb-${PROMETHEUS_DEB_VERSION}`, 'usr', 'bin', 'prometheus');
}

export function ensurePrometheus({ quiet = false } = {}) {
  const bin = prometheusPath();
  if (existsSync(bin)) return bin;
  const say = (m) => {
    if (!quiet) process.stderr.write(`pcapper: ${m}\n`);
  };
  const work = mkdtempSync(join(tmpdir(), 'pcapper-prometheus-'));
  try {
    say(`fetching the test Prometheus: Debian package prometheus=${PROMETHEUS_DEB_VERSION} (apt-get download, ~19 MB)...`);
    const dl = spawnSync('apt-get', ['download', `prometheus=${PROMETHEUS_DEB_VERSION}`], { cwd: work, encoding: 'utf8' });
    if (dl.status !== 0) {
      throw new Error(
        `apt-get download prometheus=${PROMETHEUS_DEB_VERSION} failed (${dl.error?.message ?? `exit ${dl.status}`}): ${(dl.stderr || '').trim().split('\n').slice(-3).join(' ')}; run apt-get update first (as root), on Debian 12`,
      );
    }
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download prometheus wrote no .deb file');
    const dest = join(cacheDir(), `prometheus-deb-${PROMETHEUS_DEB_VERSION}`);
    const tmpDest = `${dest}.tmp-${process.pid}`;
    mkdirSync(tmpDest, { recursive: true });
    const x = spawnSync('dpkg', ['-x', join(work, deb), tmpDest], { encoding: 'utf8' });
    if (x.status !== 0) throw new Error(`dpkg -x ${deb} failed: ${x.stderr}`);
    rmSync(dest, { recursive: true, force: true });
    renameSync(tmpDest, dest);
    say(`test Prometheus ready: ${bin}`);
    return bin;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(ensurePrometheus());
  } catch (e) {
    console.error(`pcapper: ${e.message}`);
    process.exit(1);
  }
}
