import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSelector, formatSelector, selectorMatches, SelectorError } from './selector.js';

describe('parseSelector', () => {
  it('equality goes to matchLabels', () => {
    assert.deepEqual(parseSelector('app=demo,tier==web'), { matchLabels: { app: 'demo', tier: 'web' } });
  });
  it('!=, in, notin, exists, !key go to matchExpressions', () => {
    assert.deepEqual(parseSelector('app=demo, env!=prod, tier in (web, api), zone notin (a), canary, !legacy'), {
      matchLabels: { app: 'demo' },
      matchExpressions: [
        { key: 'env', operator: 'NotIn', values: ['prod'] },
        { key: 'tier', operator: 'In', values: ['web', 'api'] },
        { key: 'zone', operator: 'NotIn', values: ['a'] },
        { key: 'canary', operator: 'Exists' },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
  });
  it('accepts prefixed keys and empty values', () => {
    assert.deepEqual(parseSelector('app.kubernetes.io/name=web,x='), { matchLabels: { 'app.kubernetes.io/name': 'web', x: '' } });
  });
  it('rejects bad syntax with a message naming the part', () => {
    for (const [s, re] of [
      ['', /empty selector/],
      ['app=demo,', /empty requirement/],
      ['a in (x', /unbalanced/],
      ['a in ()', /empty value/],
      ['a>3', /not supported/],
      ['a=b=c', /is not a label requirement/],
      ['a=x,a=y', /already required/],
      ['-bad=x', /not a label requirement/],
      [`a=${'v'.repeat(64)}`, /not a valid label value/],
    ] as const) {
      assert.throws(() => parseSelector(s), (e: unknown) => e instanceof SelectorError && re.test(e.message), s);
    }
  });
  it('formats back and matches labels', () => {
    const sel = parseSelector('app=demo,env!=prod,tier in (web,api),canary,!legacy');
    assert.equal(formatSelector(sel), 'app=demo,env!=prod,tier in (web,api),canary,!legacy');
    assert.equal(selectorMatches(sel, { app: 'demo', tier: 'web', canary: '' }), true);
    assert.equal(selectorMatches(sel, { app: 'demo', tier: 'web' }), false);
    assert.equal(selectorMatches(sel, { app: 'demo', tier: 'web', canary: '1', env: 'prod' }), false);
    assert.equal(selectorMatches(sel, { app: 'demo', tier: 'db', canary: '1' }), false);
    assert.equal(selectorMatches(sel, { app: 'demo', tier: 'api', canary: '1', legacy: 'y' }), false);
  });
});
