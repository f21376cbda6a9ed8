import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from './args.js';
import { captureCommand, dryRunMode } from './commands/capture.js';
import { getCommand, listCommand } from './commands/get.js';
import { UsageError } from './errors.js';

const parse = (...argv: string[]) => parseArgs(captureCommand.spec, ['pod/x', ...argv]);

describe('capture --dry-run values (kubectl\'s)', () => {
  it('absent or none: no dry run; bare --dry-run: client; client and server as given', () => {
    assert.equal(dryRunMode(parse()), 'none');
    assert.equal(dryRunMode(parse('--dry-run=none')), 'none');
    assert.equal(dryRunMode(parse('--dry-run')), 'client');
    assert.equal(dryRunMode(parse('--dry-run=client')), 'client');
    assert.equal(dryRunMode(parse('--dry-run=server')), 'server');
    // a bare --dry-run does not swallow the next argument
    const p = parseArgs(captureCommand.spec, ['--dry-run', 'pod/x']);
    assert.equal(dryRunMode(p), 'client');
    assert.deepEqual(p.args, ['pod/x']);
  });
  it('other values are usage errors', () => {
    for (const v of ['', 'all', 'Server', 'true']) {
      assert.throws(() => dryRunMode(parse(`--dry-run=${v}`)), (e: unknown) => e instanceof UsageError && /--dry-run: must be one of client, server, none/.test(e.message), v);
    }
  });
});

describe('get/list --watch', () => {
  it('-w means --watch on get and list (not a file as on capture)', () => {
    for (const spec of [getCommand.spec, listCommand.spec]) {
      const p = parseArgs(spec, ['-w', '-o', 'json']);
      assert.equal(p.flags.watch, true);
      assert.equal(p.flags.output, 'json');
      assert.equal(parseArgs(spec, ['--watch', '--output-watch-events']).flags['output-watch-events'], true);
    }
    assert.deepEqual(parseArgs(getCommand.spec, ['web', '-w']).args, ['web']);
    assert.equal(parseArgs(captureCommand.spec, ['pod/x', '-w', 'out.pcapng']).flags.write, 'out.pcapng');
  });
});
