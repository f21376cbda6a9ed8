import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkProxyCert, identityFromHeaders, identityKey, parseFrontProxyConfig } from './identity.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const DATA = {
  'requestheader-client-ca-file': PEM,
  'requestheader-allowed-names': '["front-proxy-client"]',
  'requestheader-username-headers': '["X-Remote-User"]',
  'requestheader-group-headers': '["X-Remote-Group"]',
  'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
};

describe('parseFrontProxyConfig', () => {
  it('reads the JSON lists of the ConfigMap', () => {
    const c = parseFrontProxyConfig(DATA);
    assert.equal(c.caPem, PEM);
    assert.deepEqual(c.allowedNames, ['front-proxy-client']);
    assert.deepEqual(c.usernameHeaders, ['X-Remote-User']);
    assert.deepEqual(c.uidHeaders, ['X-Remote-Uid']);
    assert.deepEqual(c.groupHeaders, ['X-Remote-Group']);
    assert.deepEqual(c.extraPrefixes, ['X-Remote-Extra-']);
    assert.deepEqual(parseFrontProxyConfig({ ...DATA, 'requestheader-uid-headers': '["X-Remote-Uid"]', 'requestheader-allowed-names': '[]' }).allowedNames, []);
  });
  it('says what is missing or malformed', () => {
    assert.throws(() => parseFrontProxyConfig(undefined), /no requestheader-client-ca-file.*--requestheader-client-ca-file/);
    assert.throws(() => parseFrontProxyConfig({ ...DATA, 'requestheader-username-headers': '[]' }), /requestheader-username-headers/);
    assert.throws(() => parseFrontProxyConfig({ ...DATA, 'requestheader-group-headers': 'X-Remote-Group' }), /requestheader-group-headers is not a JSON array/);
    assert.throws(() => parseFrontProxyConfig({ ...DATA, 'requestheader-allowed-names': '[1]' }), /allowed-names/);
  });
});

describe('checkProxyCert', () => {
  const ok = { authorized: true, cn: 'front-proxy-client', extKeyUsage: ['1.3.6.1.5.5.7.3.2'] };
  it('accepts a verified client certificate with an allowed CN', () => {
    assert.deepEqual(checkProxyCert(ok, ['front-proxy-client']), { ok: true, cn: 'front-proxy-client' });
    assert.deepEqual(checkProxyCert({ ...ok, cn: 'anything' }, []), { ok: true, cn: 'anything' });
    assert.equal(checkProxyCert({ ...ok, extKeyUsage: undefined }, []).ok, true);
  });
  it('refuses a missing, unverified, wrong-purpose or not-allowed certificate', () => {
    const no = (p: Parameters<typeof checkProxyCert>[0], names: string[], re: RegExp): void => {
      const c = checkProxyCert(p, names);
      assert.equal(c.ok, false);
      assert.match((c as { reason: string }).reason, re);
    };
    no({ authorized: false, cn: undefined, extKeyUsage: undefined }, [], /no client certificate/);
    no({ authorized: false, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', cn: 'front-proxy-client', extKeyUsage: undefined }, [], /not signed by the front-proxy CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    no({ ...ok, extKeyUsage: ['1.3.6.1.5.5.7.3.1'] }, [], /not for client authentication/);
    no({ ...ok, cn: 'mallory' }, ['front-proxy-client'], /CN "mallory" is not in requestheader-allowed-names/);
  });
});

describe('identityFromHeaders', () => {
  const cfg = parseFrontProxyConfig(DATA);
  it('takes user, uid, every group and URL-decoded lower-cased extra keys', () => {
    const id = identityFromHeaders(
      {
        'x-remote-user': ['alice'],
        'x-remote-uid': ['u-1'],
        'x-remote-group': ['pcapper:users', 'system:authenticated'],
        'x-remote-extra-scopes': ['a', 'b'],
        'x-remote-extra-example.com%2fteam': ['net'],
        'x-other': ['ignored'],
      },
      cfg,
    );
    assert.deepEqual(id, { user: 'alice', uid: 'u-1', groups: ['pcapper:users', 'system:authenticated'], extra: { scopes: ['a', 'b'], 'example.com/team': ['net'] } });
  });
  it('no user header = no identity', () => {
    assert.equal(identityFromHeaders({ 'x-remote-group': ['system:masters'] }, cfg), undefined);
    assert.equal(identityFromHeaders({ 'x-remote-user': [''] }, cfg), undefined);
  });
  it('the cache key covers the whole identity and the capture', () => {
    const a = { user: 'alice', uid: undefined, groups: ['g'], extra: {} };
    const k = identityKey(a, 'ns', 'c');
    assert.equal(identityKey({ ...a }, 'ns', 'c'), k);
    assert.notEqual(identityKey({ ...a, groups: ['g', 'system:masters'] }, 'ns', 'c'), k);
    assert.notEqual(identityKey({ ...a, uid: 'x' }, 'ns', 'c'), k);
    assert.notEqual(identityKey({ ...a, extra: { s: ['1'] } }, 'ns', 'c'), k);
    assert.notEqual(identityKey(a, 'ns', 'd'), k);
    assert.notEqual(identityKey(a, 'ns2', 'c'), k);
  });
});
