#!/usr/bin/env node
// Resolves the test Kafka broker (Apache Kafka, KRaft mode, from Maven Central jars: test/kafka/pom.xml)
// once per machine and prints the directory holding its jars. The jars are cached outside the repo in
// $PCAPPER_CACHE_DIR (default ~/.cache/pcapper)/kafka-<version>-<hash of the pom>/libs, so only the first
// run pays for the download (~55 MB, ~25 s here). Java >= 17 and Maven are needed (Kafka 4.x brokers
// need Java 17).
//
//   node scripts/kafka.mjs            resolve if needed, print the libs directory (stdout, last line)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pom = join(root, 'test/kafka/pom.xml');

export function cacheDir() {
  return process.env.PCAPPER_CACHE_DIR || join(homedir(), '.cache', 'pcapper');
}

/** The Kafka version pinned in the pom. */
export function kafkaVersion() {
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(pom, 'utf8'));
  if (!m) throw new Error(`${pom} has no <kafka.version> property`);
  return m[1];
}

export function libsDir() {
  const h = createHash('sha256').update(readFileSync(pom)).digest('hex').slice(0, 12);
  return join(cacheDir(), `kafka-${kafkaVersion()}-${h}`, 'libs');
}

function javaMajor() {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 0;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.stderr);
  if (!m) return 0;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

export function ensureKafka({ quiet = false } = {}) {
  const dir = libsDir();
  if (existsSync(dir) && readdirSync(dir).some((f) => f.startsWith('kafka_2.13-'))) return dir;
  const jv = javaMajor();
  if (jv < 17) {
    throw new Error(`the test Kafka broker needs Java >= 17 (found ${jv || 'none'}): apt-get install -y openjdk-17-jre-headless`);
  }
  const mvn = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (mvn.error || mvn.status !== 0) {
    throw new Error('Maven is not installed: the test Kafka broker is resolved from Maven Central. apt-get install -y maven');
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(dir, '..'), { recursive: true, mode: 0o700 });
  if (!quiet) process.stderr.write(`pcapper: resolving Apache Kafka ${kafkaVersion()} from Maven Central (first run only, ~55 MB)...\n`);
  const started = Date.now();
  const res = spawnSync(
    'mvn',
    ['-B', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${tmp}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 },
  );
  if (res.status !== 0) {
    const tail = `${res.stdout || ''}${res.stderr || ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`resolving Kafka failed (mvn dependency:copy-dependencies on test/kafka/pom.xml exited ${res.status}):\n${tail}`);
  }
  renameSync(tmp, dir);
  if (!quiet) {
    process.stderr.write(`pcapper: Kafka ${kafkaVersion()} resolved in ${Math.round((Date.now() - started) / 1000)}s: ${dir}\n`);
  }
  return dir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(ensureKafka());
  } catch (e) {
    console.error(`pcapper: ${e.message}`);
    process.exit(1);
  }
}
