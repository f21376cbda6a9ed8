import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, formatHelp, hoistGlobalFlags, str, bool, int, strs, type CommandSpec } from './args.js';
import { UsageError } from './errors.js';

const spec: CommandSpec = {
  name: 'capture',
  summary: 'Capture',
  usage: 'capture TARGET',
  flags: [
    { name: 'duration', type: 'string', help: 'd' },
    { name: 'count', short: 'c', type: 'int', help: 'c' },
    { name: 'detach', type: 'boolean', help: 'x' },
    { name: 'dry-run', type: 'string', optionalValue: 'client', choices: ['client', 'none'], help: 'x' },
    { name: 'output', short: 'o', type: 'string', choices: ['json', 'yaml'], help: 'o' },
    { name: 'all', short: 'A', type: 'boolean', help: 'a' },
    { name: 'label', short: 'l', type: 'strings', help: 'l' },
  ],
  maxArgs: 1,
  argsName: 'TARGET',
};

describe('parseArgs', () => {
  it('accepts --flag value, --flag=value, -f value, -f=value, -fvalue', () => {
    const p = parseArgs(spec, ['pod/x', '--duration', '5s', '-c', '10', '-n=shop', '--kubeconfig=/k', '-ojson']);
    assert.deepEqual(p.args, ['pod/x']);
    assert.equal(str(p, 'duration'), '5s');
    assert.equal(int(p, 'count'), 10);
    assert.equal(str(p, 'namespace'), 'shop');
    assert.equal(str(p, 'kubeconfig'), '/k');
    assert.equal(str(p, 'output'), 'json');
    assert.ok(p.given.has('duration'));
    assert.ok(!p.given.has('detach'));
  });
  it('booleans take no separate value; =true/=false work', () => {
    const p = parseArgs(spec, ['--detach', 'pod/x']);
    assert.equal(bool(p, 'detach'), true);
    assert.deepEqual(p.args, ['pod/x']);
    assert.equal(bool(parseArgs(spec, ['--detach=false']), 'detach'), false);
    assert.throws(() => parseArgs(spec, ['--detach=maybe']), /invalid value "maybe" for --detach/);
  });
  it('optional-value flags take a value only after =', () => {
    const p = parseArgs(spec, ['--dry-run', 'pod/x']);
    assert.equal(str(p, 'dry-run'), 'client');
    assert.deepEqual(p.args, ['pod/x']);
    assert.equal(str(parseArgs(spec, ['--dry-run=none']), 'dry-run'), 'none');
    assert.throws(() => parseArgs(spec, ['--dry-run=server']), /must be one of client, none/);
  });
  it('groups short booleans and collects repeated flags', () => {
    const p = parseArgs(spec, ['-Ah', '-l', 'a=b', '-l', 'c']);
    assert.equal(bool(p, 'all'), true);
    assert.equal(bool(p, 'help'), true);
    assert.deepEqual(strs(p, 'label'), ['a=b', 'c']);
  });
  it('-- ends flags', () => {
    assert.deepEqual(parseArgs({ ...spec, maxArgs: 3 }, ['--', '-x', '--y']).args, ['-x', '--y']);
  });
  it('unknown flags, missing values, bad ints and choices are usage errors', () => {
    const cases: [string[], RegExp][] = [
      [['--bogus'], /^unknown flag: --bogus$/],
      [['-z'], /unknown shorthand flag: 'z' in -z/],
      [['--duration'], /flag needs an argument: --duration/],
      [['-c'], /flag needs an argument: 'c'/],
      [['--count', 'ten'], /invalid value "ten" for --count: must be a whole number/],
      [['-o', 'xml'], /invalid value "xml" for -o: must be one of json, yaml/],
      [['a', 'b'], /too many arguments/],
    ];
    for (const [argv, re] of cases) {
      assert.throws(
        () => parseArgs(spec, argv),
        (e: unknown) => e instanceof UsageError && re.test(e.message) && e.command === 'capture',
        argv.join(' '),
      );
    }
  });
  it('checks positional counts unless --help', () => {
    const need: CommandSpec = { ...spec, minArgs: 1, maxArgs: 1, argsName: 'NAME' };
    assert.throws(() => parseArgs(need, []), /NAME is required/);
    assert.doesNotThrow(() => parseArgs(need, ['-h']));
  });
  it('formats help with flags and global flags', () => {
    const h = formatHelp({ ...spec, examples: ['kubectl pcap capture pod/x'] });
    assert.match(h, /Usage:\n {2}kubectl pcap capture TARGET/);
    assert.match(h, /-c, --count N/);
    assert.match(h, /--dry-run\[=VALUE\]/);
    assert.match(h, /Global flags:[\s\S]*-n, --namespace NAMESPACE/);
    assert.match(h, /Examples:\n {2}kubectl pcap capture pod\/x/);
  });
});

describe('hoistGlobalFlags', () => {
  it('moves global flags given before the command after it', () => {
    assert.deepEqual(hoistGlobalFlags(['-n', 'shop', 'list', '-o', 'wide']), ['list', '-o', 'wide', '-n', 'shop']);
    assert.deepEqual(hoistGlobalFlags(['--kubeconfig=/k', '--context', 'c', '-nshop', 'get', 'x']), ['get', 'x', '--kubeconfig=/k', '--context', 'c', '-nshop']);
    assert.deepEqual(hoistGlobalFlags(['-A', 'list']), ['list', '-A']);
    assert.deepEqual(hoistGlobalFlags(['--cluster', 'prod', '--user=me', 'download', 'x']), ['download', 'x', '--cluster', 'prod', '--user=me']);
    const spec: CommandSpec = { name: 'download', summary: '', usage: '', flags: [] };
    const p = parseArgs(spec, ['x', '--cluster', 'prod', '--user', 'me']);
    assert.equal(str(p, 'cluster'), 'prod');
    assert.equal(str(p, 'user'), 'me');
  });
  it('leaves everything else alone', () => {
    assert.deepEqual(hoistGlobalFlags(['list', '-n', 'x']), ['list', '-n', 'x']);
    assert.deepEqual(hoistGlobalFlags(['--help']), ['--help']);
    assert.deepEqual(hoistGlobalFlags(['-n', 'shop']), ['-n', 'shop']);
    assert.deepEqual(hoistGlobalFlags(['--bogus', 'list']), ['--bogus', 'list']);
  });
});
