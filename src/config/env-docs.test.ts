import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../tools/gen-crd.js';
import { driftedFiles, ENV_REGENERATE_COMMAND, ENV_TABLES, fillTable, MarkerError } from '../../tools/gen-env-docs.js';
import { AGENT_ENV } from './agent.js';
import { SERVER_ENV } from './server.js';

describe('configuration tables in the docs', () => {
  it('docs/agent.md, docs/data-api.md and docs/api.md carry the tables generated from the config code (no drift)', () => {
    const drifted = driftedFiles();
    assert.deepEqual(drifted, [], `${drifted.join(', ')}: configuration table out of date with the code; regenerate with: ${ENV_REGENERATE_COMMAND}`);
  });

  it('a table edited by hand is drift', () => {
    const t = ENV_TABLES.find((x) => x.name === 'agent');
    assert.ok(t);
    const doc = readFileSync(join(repoRoot(), t.file), 'utf8');
    const edited = doc.replace('| `MIN_FREE_DISK` | `20G` |', '| `MIN_FREE_DISK` | `5G` |');
    assert.notEqual(edited, doc, 'the agent table lists MIN_FREE_DISK with its default');
    assert.notEqual(fillTable(edited, t), edited, 'the hand edit is seen');
    assert.equal(fillTable(edited, t), doc, 'and regenerating restores it');
  });

  it('a document without its markers is refused with the markers to add', () => {
    const t = ENV_TABLES[0];
    assert.ok(t);
    assert.throws(() => fillTable('# no markers\n', t), (e: unknown) => e instanceof MarkerError && e.message.includes(`<!-- env:${t.name}:begin -->`));
  });

  it('every variable is listed once, with a meaning', () => {
    for (const table of [AGENT_ENV, SERVER_ENV]) {
      const names = Object.values(table).map((v) => v.name);
      assert.equal(new Set(names).size, names.length, names.join(', '));
      for (const v of Object.values(table)) assert.ok(v.meaning.length > 5, v.name);
    }
  });
});
