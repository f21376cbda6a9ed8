#!/usr/bin/env node
// Builds the test S3-compatible server once per machine and prints the binary's path: Versity S3
// Gateway (github.com/versity/versitygw, Apache-2.0), an S3 server over a POSIX directory, built
// from Go modules with `go install module@version` (no repository checkout). Cached outside the
// repo in $PCAPPER_CACHE_DIR (default ~/.cache/pcapper), keyed by the version, so only the first
// run pays for the build (measured: ~2 min on 2 cores with a warm Go module cache).
//
// Why versitygw: a real S3 implementation (SigV4, multipart with per-part checksums, ListParts,
// HeadObject) over plain files, one static binary, one process, Apache-2.0. MinIO is AGPL;
// SeaweedFS needs a master, a volume server and a filer; s3proxy needs a JVM.
//
//   node scripts/s3server.mjs          build if needed, print the path (stdout, last line)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const VERSITYGW_MODULE = 'github.com/versity/versitygw';
export const VERSITYGW_VERSION = 'v1.8.0';

export function cacheDir() {
  return process.env.PCAPPER_CACHE_DIR || join(homedir(), '.cache', 'pcapper');
}

export function s3ServerPath() {
  return join(cacheDir(), `versitygw-${VERSITYGW_VERSION}`);
}

export function ensureS3Server({ quiet = false } = {}) {
  const bin = s3ServerPath();
  if (existsSync(bin)) return bin;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    throw new Error('Go is not installed: the test S3 server (versitygw) is built from Go modules. Install Go >= 1.24 (apt-get install -y golang on Debian trixie, or from the Go project).');
  }
  mkdirSync(cacheDir(), { recursive: true });
  const tmpDir = join(cacheDir(), `versitygw-build-${process.pid}`);
  if (!quiet) {
    process.stderr.write(`pcapper: building the test S3 server ${VERSITYGW_MODULE} ${VERSITYGW_VERSION} from Go modules (first run only, ~2-5 min on 2 cores)...\n`);
  }
  const started = Date.now();
  const res = spawnSync('go', ['install', '-trimpath', '-ldflags', '-s -w', `${VERSITYGW_MODULE}/cmd/versitygw@${VERSITYGW_VERSION}`], {
    encoding: 'utf8',
    // go prints one "go: downloading ..." line per module: that is the progress of the long first build.
    stdio: ['ignore', quiet ? 'pipe' : 'inherit', quiet ? 'pipe' : 'inherit'],
    env: { ...process.env, GOBIN: tmpDir, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) {
    const tail = (res.stderr || '').trim().split('\n').slice(-15).join('\n');
    rmSync(tmpDir, { recursive: true, force: true });
    throw new Error(`building the test S3 server failed (go install ${VERSITYGW_MODULE}/cmd/versitygw@${VERSITYGW_VERSION} exited ${res.status})${tail ? `:\n${tail}` : ''}`);
  }
  renameSync(join(tmpDir, 'versitygw'), bin);
  rmSync(tmpDir, { recursive: true, force: true });
  if (!quiet) process.stderr.write(`pcapper: test S3 server built in ${Math.round((Date.now() - started) / 1000)}s: ${bin}\n`);
  return bin;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(ensureS3Server());
  } catch (e) {
    console.error(`pcapper: ${e.message}`);
    process.exit(1);
  }
}
