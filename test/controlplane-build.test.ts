// A machine without Go gets one clear message saying what to install — not a stack trace — from
// the control-plane build (scripts/controlplane.mjs) and the helm build (scripts/helm.mjs).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './harness/paths.js';

describe('building the local tools without Go', () => {
  for (const script of ['controlplane.mjs', 'helm.mjs']) {
    it(`scripts/${script} stops with one line saying to install Go`, () => {
      const empty = mkdtempSync(join(tmpdir(), 'pcapper-nogo-'));
      try {
        // An empty PATH (no go) and an empty cache dir (nothing built yet).
        const r = spawnSync(process.execPath, [join(repoRoot(), 'scripts', script)], {
          encoding: 'utf8',
          env: { PATH: empty, PCAPPER_CACHE_DIR: join(empty, 'cache'), HOME: empty },
        });
        assert.equal(r.status, 1, r.stderr);
        assert.equal(r.stdout, '');
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
        assert.match(lines[0] ?? '', /^pcapper: Go is not installed: .*Install Go/);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });
  }
});
