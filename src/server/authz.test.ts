import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SarAuthorizer } from './authz.js';

const alice = { user: 'alice', uid: 'alice-uid', groups: ['pcapper:users'], extra: { scopes: ['x'] } };

describe('SarAuthorizer', () => {
  it('asks get packetcaptures/files in pcapper.dev for the whole identity', async () => {
    const bodies: unknown[] = [];
    const a = new SarAuthorizer({ post: (b) => (bodies.push(b), Promise.resolve({ status: { allowed: true } })) });
    assert.deepEqual(await a.authorize(alice, 'shop', 'web'), { allowed: true });
    assert.deepEqual(bodies, [
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: 'alice', uid: 'alice-uid', groups: ['pcapper:users'], extra: { scopes: ['x'] },
          resourceAttributes: { namespace: 'shop', verb: 'get', group: 'pcapper.dev', resource: 'packetcaptures', subresource: 'files', name: 'web' },
        },
      },
    ]);
  });

  it('caches allowed and denied answers for at most 5 s, per identity and capture', async () => {
    let t = 1000;
    let calls = 0;
    let allow = false;
    const a = new SarAuthorizer({ post: () => (calls++, Promise.resolve({ status: { allowed: allow, reason: 'RBAC: no' } })), ttlMs: 60_000, now: () => t });
    const d = await a.authorize(alice, 'shop', 'web');
    assert.equal(d.allowed, false);
    assert.match((d as { reason: string }).reason, /user "alice" cannot get packetcaptures\/files .* namespace "shop": RBAC: no/);
    allow = true;
    assert.equal((await a.authorize(alice, 'shop', 'web')).allowed, false);
    assert.equal(calls, 1);
    await a.authorize({ ...alice, groups: [] }, 'shop', 'web');
    await a.authorize(alice, 'shop', 'other');
    assert.equal(calls, 3);
    t += 5000; // ttl is capped at 5 s even though 60 s was asked
    assert.equal((await a.authorize(alice, 'shop', 'web')).allowed, true);
    assert.equal(calls, 4);
  });

  it('never caches errors; denied wins over allowed', async () => {
    let fail = true;
    let calls = 0;
    const a = new SarAuthorizer({
      post: () => {
        calls++;
        return fail ? Promise.reject(new Error('connection refused')) : Promise.resolve({ status: { allowed: true, denied: true } });
      },
    });
    await assert.rejects(a.authorize(alice, 'shop', 'web'), /connection refused/);
    fail = false;
    assert.equal((await a.authorize(alice, 'shop', 'web')).allowed, false);
    assert.equal(calls, 2);
  });
});
