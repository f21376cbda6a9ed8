// Checks (and, as root on Debian, installs) what pcapper's tests, demo and benchmarks need from the
// machine. Without root it stops with the exact command to run. Used by scripts/test.mjs,
// scripts/demo.mjs, scripts/bench.mjs and .ci/run.
import { spawnSync } from 'node:child_process';

/** command -> Debian package that provides it */
const TOOLS = {
  tcpdump: 'tcpdump',
  tshark: 'tshark',
  capinfos: 'wireshark-common',
  mergecap: 'wireshark-common',
  ip: 'iproute2',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  pkill: 'procps',
  ping: 'iputils-ping',
  setpriv: 'util-linux',
  // certificates for the local cluster, the data API's mTLS and the tests (test/harness/pki.ts)
  openssl: 'openssl',
  // the UI's browser tests (test/ui.test.ts): Debian's Chromium driven by playwright-core
  chromium: 'chromium',
  // end-to-end encryption's interop tests (src/crypto/age.test.ts, test/e2e-encryption.test.ts): the real age tool
  age: 'age',
  'age-keygen': 'age',
};

function have(cmd) {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

/** The commands of `only` (default: every one above) that are not on PATH. */
export function missingTools(only = Object.keys(TOOLS)) {
  for (const t of only) if (!(t in TOOLS)) throw new Error(`prereqs: unknown tool ${t}; add it to TOOLS in scripts/prereqs.mjs`);
  return only.filter((t) => !have(t));
}

/**
 * forTests: also root, Go and kubectl (the real-cluster tests). only: check (and install) just
 * these commands, e.g. the ones `npm test -- tools` runs.
 */
export function ensurePrerequisites({ forTests = true, only = undefined } = {}) {
  if (process.platform !== 'linux') {
    console.error('pcapper: the tests and the demo need Linux (network namespaces, cgroups, tcpdump).');
    process.exit(1);
  }
  const missing = missingTools(only);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => TOOLS[t]))];
    const cmd = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${pkgs.join(' ')}`;
    if (process.getuid?.() === 0 && have('apt-get')) {
      console.error(`pcapper: installing ${pkgs.join(', ')} (missing: ${missing.join(', ')})`);
      const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
      if (r.status !== 0 || missingTools(only).length > 0) {
        console.error(`pcapper: could not install ${pkgs.join(' ')}; run as root:\n  ${cmd}`);
        process.exit(1);
      }
    } else {
      console.error(`pcapper: missing ${missing.join(', ')}. Install them as root:\n  ${cmd}`);
      process.exit(1);
    }
  }
  if (forTests) {
    if (process.getuid?.() !== 0) {
      console.error('pcapper: the tests create network namespaces, cgroups and run tcpdump: run them as root (sudo npm test).');
      process.exit(1);
    }
    if (!have('go')) {
      console.error('pcapper: Go is needed to build the local kube-apiserver for the tests: apt-get install -y golang (>= 1.24) or install Go from the Go project.');
      process.exit(1);
    }
    if (!have('kubectl')) {
      console.error('pcapper: kubectl is needed by the tests (they run it against the local control plane); install kubectl >= 1.30.');
      process.exit(1);
    }
  }
}
