import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzCaptures, mutate, Rng } from './fuzz.js';
import { testdataFiles } from '../test/harness/pcap.js';

// Bounded run for `npm test` with a FIXED seed, so the suite is reproducible; random seeds belong
// to the long run, `npm run fuzz -- --iterations 100000`.
const ITERATIONS = 1500;
const SEED = 20261127;

test(`fuzz: ${ITERATIONS} mutated/truncated captures: no crash, hang or unbounded buffer`, { timeout: 300_000 }, async () => {
  const seed = SEED;
  const r = await fuzzCaptures(testdataFiles(), ITERATIONS, seed);
  assert.deepEqual(r.failures, [], `reproduce with: node dist/tools/fuzz.js --seed ${seed} --iterations ${ITERATIONS}`);
  assert.equal(r.clean + r.formatErrors, ITERATIONS);
  // the mutations must actually reach the error paths, and some inputs must survive
  assert.ok(r.formatErrors > ITERATIONS / 10, `only ${r.formatErrors} inputs were rejected`);
  assert.ok(r.clean > 0, 'no mutated input was readable');
});

test('fuzz: the mutator is deterministic for a seed', () => {
  const data = Buffer.from('0123456789abcdef0123456789abcdef');
  assert.deepEqual(mutate(data, new Rng(42)), mutate(data, new Rng(42)));
});
