#!/usr/bin/env node
// `npm run demo`: a local control plane, the CRD and RBAC, the controller, two simulated nodes with
// their agents, demo pods (app=demo) talking DNS and HTTP across the nodes, and then — as its own
// process, like a user — `kubectl pcap capture -l app=demo --duration 5s -w demo.pcapng`.
// Leaves demo.pcapng (one interface per pod, named after it) in the current directory and removes
// everything else, also on failure or Ctrl-C. Needs Linux and root (network namespaces, tcpdump).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensurePrerequisites } from './prereqs.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
ensurePrerequisites({ forTests: true });

const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('demo: TypeScript compilation failed (see above)');
  process.exit(1);
}

const ac = new AbortController();
let interrupts = 0;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupts++;
    if (interrupts > 2) process.exit(130); // the user insists; the next run sweeps what is left
    ac.abort();
  });
}

const { runDemo } = await import(pathToFileURL(join(root, 'dist/test/harness/demo.js')).href);
try {
  // npm runs scripts in the package directory; INIT_CWD is where the user typed `npm run demo`
  const code = await runDemo({ cwd: process.env.INIT_CWD || process.cwd(), signal: ac.signal });
  process.exit(ac.signal.aborted ? 130 : code);
} catch (err) {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
