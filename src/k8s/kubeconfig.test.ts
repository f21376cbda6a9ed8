import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyOverrides, kubeconfigFiles, loadMergedKubeconfig, mergeKubeconfigs, type RawKubeconfig } from './kubeconfig.js';
import { loadKubeConfig } from './client.js';

const cfg = (o: Partial<RawKubeconfig>): RawKubeconfig => ({ apiVersion: 'v1', kind: 'Config', ...o });

describe('kubeconfig merge (kubectl / client-go rules)', () => {
  it('first file to define a cluster, user or context name wins; current-context from the first file that sets it', () => {
    const a = cfg({
      clusters: [{ name: 'prod', cluster: { server: 'https://a' } }],
      users: [{ name: 'me', user: { token: 'from-a' } }],
      contexts: [{ name: 'p', context: { cluster: 'prod', user: 'me' } }],
    });
    const b = cfg({
      'current-context': 'p',
      clusters: [
        { name: 'prod', cluster: { server: 'https://b' } },
        { name: 'dev', cluster: { server: 'https://dev' } },
      ],
      users: [{ name: 'me', user: { token: 'from-b' } }],
      contexts: [
        { name: 'p', context: { cluster: 'dev', user: 'me' } },
        { name: 'd', context: { cluster: 'dev', user: 'me', namespace: 'x' } },
      ],
    });
    const c = cfg({ 'current-context': 'd' });
    const m = mergeKubeconfigs([
      { path: '/h/a', config: a },
      { path: '/h/b', config: b },
      { path: '/h/c', config: c },
    ]);
    assert.equal(m['current-context'], 'p', 'a sets none; b is the first that does; c comes too late');
    assert.deepEqual(m.clusters?.map((x) => `${x.name ?? ''}=${String(x.cluster?.server)}`), ['prod=https://a', 'dev=https://dev']);
    assert.deepEqual(m.users?.map((x) => `${x.name ?? ''}=${String(x.user?.token)}`), ['me=from-a']);
    assert.deepEqual(m.contexts?.map((x) => `${x.name ?? ''}:${x.context?.cluster ?? ''}`), ['p:prod', 'd:dev']);
    // an empty current-context does not count as set
    assert.equal(mergeKubeconfigs([{ path: '/a', config: cfg({ 'current-context': '' }) }, { path: '/b', config: c }])['current-context'], 'd');
  });

  it('relative file references are resolved against the file that holds them; absolute ones and plain exec commands stay', () => {
    const m = mergeKubeconfigs([
      {
        path: '/etc/kube/one',
        config: cfg({
          clusters: [{ name: 'c', cluster: { server: 'https://x', 'certificate-authority': 'ca.crt' } }],
          users: [
            { name: 'u', user: { 'client-certificate': 'certs/me.crt', 'client-key': '/abs/me.key', 'token-file': 'tok', exec: { command: './bin/helper' } } },
            { name: 'v', user: { exec: { command: 'aws' } } },
          ],
        }),
      },
    ]);
    assert.equal(m.clusters?.[0]?.cluster?.['certificate-authority'], '/etc/kube/ca.crt');
    const u = m.users?.[0]?.user ?? {};
    assert.equal(u['client-certificate'], '/etc/kube/certs/me.crt');
    assert.equal(u['client-key'], '/abs/me.key');
    assert.equal(u['token-file'], '/etc/kube/tok');
    assert.deepEqual(u.exec, { command: '/etc/kube/bin/helper' });
    assert.deepEqual(m.users?.[1]?.user?.exec, { command: 'aws' }, 'a command without a / is looked up on PATH');
  });

  it('--context, --cluster and --user override like kubectl; unknown names are one-line errors', () => {
    const base = cfg({
      'current-context': 'p',
      clusters: [
        { name: 'prod', cluster: { server: 'https://a' } },
        { name: 'dev', cluster: { server: 'https://dev' } },
      ],
      users: [
        { name: 'me', user: {} },
        { name: 'admin', user: {} },
      ],
      contexts: [
        { name: 'p', context: { cluster: 'prod', user: 'me', namespace: 'shop' } },
        { name: 'd', context: { cluster: 'dev', user: 'me' } },
      ],
    });
    assert.equal(applyOverrides(base, { context: 'd' })['current-context'], 'd');
    const o = applyOverrides(base, { cluster: 'dev', user: 'admin' });
    const cur = o.contexts?.find((c) => c.name === o['current-context'])?.context;
    assert.deepEqual(cur, { cluster: 'dev', user: 'admin', namespace: 'shop' }, 'the context namespace stays');
    assert.deepEqual(base.contexts?.[0]?.context, { cluster: 'prod', user: 'me', namespace: 'shop' }, 'input unchanged');
    assert.throws(() => applyOverrides(base, { context: 'nope' }, 'cfg'), /^KubeconfigError: context "nope" does not exist in cfg$/);
    assert.throws(() => applyOverrides(base, { cluster: 'nope' }), /cluster "nope" does not exist/);
    assert.throws(() => applyOverrides(base, { user: 'nope' }), /user "nope" does not exist/);
  });

  it('file choice: --kubeconfig alone; else every existing KUBECONFIG entry in order (duplicates once); else ~/.kube/config', () => {
    const exists = (p: string): boolean => !p.includes('missing');
    assert.deepEqual(kubeconfigFiles({ kubeconfig: '/x' }, { KUBECONFIG: '/a:/b' }, exists), ['/x']);
    assert.throws(() => kubeconfigFiles({ kubeconfig: '/missing' }, {}, exists), /kubeconfig "\/missing" does not exist/);
    assert.deepEqual(kubeconfigFiles({}, { KUBECONFIG: '/a::/missing:/b:/a' }, exists), ['/a', '/b']);
    assert.throws(() => kubeconfigFiles({}, { KUBECONFIG: '/missing1:/missing2' }, exists), /none of the files in KUBECONFIG/);
    assert.deepEqual(kubeconfigFiles({}, { HOME: '/home/u' }, exists), ['/home/u/.kube/config']);
    assert.deepEqual(kubeconfigFiles({}, { HOME: '/missing' }, exists), []);
  });

  it('loads a merged KUBECONFIG list from disk (CLI and components), with the context namespace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-kubeconfig-'));
    try {
      mkdirSync(join(dir, 'certs'));
      writeFileSync(join(dir, 'certs', 'ca.crt'), 'not really a CA');
      const one = join(dir, 'one');
      const two = join(dir, 'two');
      writeFileSync(one, 'apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user: {token: t1}\n');
      writeFileSync(
        two,
        [
          'apiVersion: v1',
          'kind: Config',
          'current-context: c2',
          'clusters:',
          '- name: k',
          '  cluster: {server: "https://10.1.2.3:6443", certificate-authority: certs/ca.crt}',
          'users:',
          '- name: u',
          '  user: {token: t2}',
          'contexts:',
          '- name: c2',
          '  context: {cluster: k, user: u, namespace: team}',
          '',
        ].join('\n'),
      );
      const l = loadMergedKubeconfig({}, { KUBECONFIG: `${one}:${two}` });
      assert.deepEqual(l.files, [one, two]);
      assert.equal(l.kc.getCurrentCluster()?.server, 'https://10.1.2.3:6443');
      assert.equal(l.kc.getCurrentCluster()?.caFile, join(dir, 'certs', 'ca.crt'));
      assert.equal(l.kc.getCurrentUser()?.token, 't1', 'the first file defines user u');
      assert.equal(l.contextNamespace, 'team');
      // the components' loader merges the same way
      assert.equal(loadKubeConfig({ kubeconfigEnv: `${one}:${two}` }).getCurrentUser()?.token, 't1');
      assert.throws(() => loadMergedKubeconfig({}, { HOME: join(dir, 'nohome') }), /no kubeconfig found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
