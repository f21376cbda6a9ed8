#!/usr/bin/env node
// `npm test`: compile, then run every *.test.js under dist/ with node's built-in test runner.
// Unit tests live next to the code (src/**/*.test.ts); real-cluster and real-kernel tests live
// under test/; the tools' tests (the bounded fuzz run) under tools/. Tests that need root (network
// namespaces, tcpdump) check for it and fail with the command to run, they are never silently
// skipped.
//
//   npm test                    everything (needs root, Go, kubectl and the tools in prereqs.mjs)
//   npm test -- unit            src/ tests that run no external tool and need no root: fast
//   npm test -- tools           src/ tests that run external tools (tshark, capinfos, mergecap,
//                               openssl, age) and the bounded fuzz run (tools/); no root needed
//   npm test -- PATTERN...      only test files whose path contains one of the patterns
//   npm test -- --node PATH ... run the tests on another node binary (or PCAPPER_TEST_NODE=PATH),
//                               e.g. the current LTS next to the default Node 20 (see .ci/run)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePrerequisites } from './prereqs.mjs';
import { buildUi } from './build-ui.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The programs the "tools" tests run: all `npm test -- tools` needs from the machine. */
const TOOL_TEST_COMMANDS = ['tshark', 'capinfos', 'mergecap', 'openssl', 'age', 'age-keygen'];

/** --node PATH (anywhere in the arguments) or $PCAPPER_TEST_NODE, else the node running this. */
function parseArgs(argv) {
  const rest = [];
  let node = process.env.PCAPPER_TEST_NODE || undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--node' || a.startsWith('--node=')) {
      node = a === '--node' ? argv[++i] : a.slice('--node='.length);
      if (!node) {
        console.error('test: --node needs the path of a node binary, e.g. --node ~/.cache/pcapper/node-26.12.1/bin/node');
        process.exit(2);
      }
    } else rest.push(a);
  }
  return { node: node === undefined ? process.execPath : resolve(node), patterns: rest };
}

const { node, patterns } = parseArgs(process.argv.slice(2));
const selector = patterns.length === 1 && (patterns[0] === 'unit' || patterns[0] === 'tools') ? patterns[0] : undefined;

// The node that runs the tests must work before anything slow happens.
const version = spawnSync(node, ['--version'], { encoding: 'utf8' });
if (version.status !== 0) {
  console.error(`test: cannot run the node binary ${node} (${version.error?.message ?? version.stderr.trim()}); pass an executable with --node PATH`);
  process.exit(2);
}

// unit needs nothing from the machine; tools needs only the tools those tests run; the rest
// (real clusters, network namespaces) needs everything, as root.
if (selector === 'tools') ensurePrerequisites({ forTests: false, only: TOOL_TEST_COMMANDS });
else if (selector !== 'unit') ensurePrerequisites({ forTests: true });

// A clean dist/: a test file deleted from the sources must not keep running from an old build.
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) {
  console.error('test: TypeScript compilation failed (see above)');
  process.exit(1);
}
// the UI page bundle (dist/src/ui/web), which the UI server serves and the browser tests load
try {
  await buildUi();
} catch (e) {
  console.error(`test: ${e.message}`);
  process.exit(1);
}

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/**
 * Whether a src/ test runs an external program: it imports node:child_process, the test PKI
 * (openssl) or the Wireshark helpers of test/harness/pcap.ts (tshark, capinfos, mergecap). Decided
 * from the TypeScript source, so a new test that starts using a tool leaves `unit` by itself.
 */
function runsExternalTools(source) {
  return (
    /from\s+['"](node:)?child_process['"]/.test(source) ||
    /from\s+['"][^'"]*\/harness\/pki\.js['"]/.test(source) ||
    /\b(runTool|tsharkFrames|tsharkConversations|tsharkStreamTotals)\b/.test(source)
  );
}

function sourceOf(distFile) {
  const ts = join(root, relative(join(root, 'dist'), distFile)).replace(/\.js$/, '.ts');
  return existsSync(ts) ? readFileSync(ts, 'utf8') : '';
}

const inDir = (f, d) => f.startsWith(join(root, 'dist', d) + '/');
let files = [...walk(join(root, 'dist/src'), []), ...walk(join(root, 'dist/tools'), []), ...walk(join(root, 'dist/test'), [])].sort();
if (selector === 'unit') files = files.filter((f) => inDir(f, 'src') && !runsExternalTools(sourceOf(f)));
else if (selector === 'tools') files = files.filter((f) => inDir(f, 'tools') || (inDir(f, 'src') && runsExternalTools(sourceOf(f))));
else if (patterns.length > 0) files = files.filter((f) => patterns.some((a) => relative(root, f).includes(a)));
if (files.length === 0) {
  console.error(`test: no test files match ${patterns.join(' ') || '(all)'}`);
  process.exit(1);
}

console.error(`test: ${files.length} file(s) on node ${version.stdout.trim()} (${node})`);
// The chosen node first on PATH too, so that tests spawning `node` (or a `#!/usr/bin/env node`
// entry point) run on the same version.
const PATH = [dirname(node), process.env.PATH ?? ''].join(delimiter);
// The hang guard, in one place: a test (on Node 20: a test file) still running after this long
// fails with its name, and --test-force-exit ends a file whose hung test left handles open,
// so CI reports the culprit instead of hanging until its own limit. A bound, not a speed claim:
// a real-cluster suite that legitimately runs longer sets its own `timeout` option.
const TEST_TIMEOUT_MS = Number(process.env.PCAPPER_TEST_TIMEOUT_MS) || 30 * 60_000;
const res = spawnSync(node, ['--enable-source-maps', '--test', '--test-concurrency=1', '--test-reporter=spec', `--test-timeout=${TEST_TIMEOUT_MS}`, '--test-force-exit', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, PATH, PCAPPER_REPO_ROOT: root },
});
process.exit(res.status ?? 1);
