import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capturesPath, loadKube } from './kube.js';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
- name: c2
  cluster: {server: "https://10.9.9.9:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: abc}
contexts:
- name: one
  context: {cluster: c1, user: u, namespace: shop}
- name: two
  context: {cluster: c2, user: u}
current-context: one
`;

describe('kubeconfig loading and API errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcapper-kube-test-'));
  const path = join(dir, 'config');
  writeFileSync(path, KUBECONFIG);
  it('follows kubectl: --kubeconfig, $KUBECONFIG, ~/.kube/config; --context; namespace from -n, context, default', () => {
    const a = loadKube({ kubeconfig: path }, {});
    assert.equal(a.server, 'https://127.0.0.1:1');
    assert.equal(a.namespace, 'shop');
    assert.equal(a.namespaceExplicit, false);
    const b = loadKube({ context: 'two' }, { KUBECONFIG: `/nope:${path}` });
    assert.equal(b.server, 'https://10.9.9.9:6443');
    assert.equal(b.namespace, 'default');
    assert.equal(loadKube({ namespace: 'x' }, { KUBECONFIG: path }).namespace, 'x');
    assert.throws(() => loadKube({ kubeconfig: join(dir, 'missing') }, {}), /kubeconfig ".*missing" does not exist/);
    assert.throws(() => loadKube({ context: 'three' }, { KUBECONFIG: path }), /context "three" does not exist/);
    assert.throws(() => loadKube({}, { HOME: dir }), /no kubeconfig found/);
  });
  it('turns API answers into one-line errors', async () => {
    const { client } = loadKube({ kubeconfig: path }, {});
    assert.match(client.statusError(401, '{}', '/api/v1/pods').message, /^You must be logged in to the server \(Unauthorized\)$/);
    const crd = client.statusError(404, JSON.stringify({ kind: 'Status', message: 'the server could not find the requested resource', reason: 'NotFound', details: {} }), capturesPath('shop'));
    assert.match(crd.message, /doesn't have the resource packetcaptures\.pcapper\.dev: is pcapper installed\?/);
    assert.equal(crd.reason, 'NoResource');
    const forbidden = client.statusError(403, JSON.stringify({ message: 'packetcaptures.pcapper.dev is forbidden: User "bob" cannot list\nresource', reason: 'Forbidden' }), capturesPath('x'));
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.message, /^packetcaptures\.pcapper\.dev is forbidden: User "bob"/);
    assert.equal(client.statusError(500, 'plain text\nmore', '/x').message, 'plain text');
    // a refused connection names the server
    await assert.rejects(client.json('GET', '/version'), /^Error: cannot reach the cluster at https:\/\/127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1$|cannot reach the cluster at https:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/);
    assert.equal(capturesPath(undefined), '/apis/pcapper.dev/v1alpha1/packetcaptures');
    assert.equal(capturesPath('a b', 'n'), '/apis/pcapper.dev/v1alpha1/namespaces/a%20b/packetcaptures/n');
    rmSync(dir, { recursive: true, force: true });
  });
});
