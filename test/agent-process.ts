// Entry point that runs `pcapper agent` as its own process for the real-cluster tests and the
// benchmarks (the same code path as the `agent` entry of src/bin/pcapper.ts).
import { run } from '../src/agent/main.js';

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`agent crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
