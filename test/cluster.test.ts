// The local control plane is a real kube-apiserver: version, RBAC, CRD schema validation, and
// both kubectl and @kubernetes/client-node talk to it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { startCluster, statusCode, ensureNamespace, type Cluster } from './harness/cluster.js';

describe('local control plane', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  it('reports Kubernetes v1.34.x to kubectl and to client-node', async () => {
    const r = await cluster.kubectl(['version', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout) as { serverVersion: { gitVersion: string } };
    assert.match(v.serverVersion.gitVersion, /^v1\.34\.\d+$/);
    const info = await cluster.kubeConfig.makeApiClient(k8s.VersionApi).getCode();
    assert.match(info.gitVersion, /^v1\.34\.\d+$/);
    assert.equal(info.minor, '34');
  });

  it('enforces RBAC: a service account without bindings is refused, then allowed after a RoleBinding', async () => {
    const admin = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    await ensureNamespace(admin, 'rbac-test');
    const saKc = await cluster.serviceAccountKubeConfig('rbac-test', 'viewer');
    const asSa = saKc.makeApiClient(k8s.CoreV1Api);
    await assert.rejects(asSa.listNamespacedPod({ namespace: 'rbac-test' }), (e) => statusCode(e) === 403);
    const rbac = cluster.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: 'rbac-test',
      body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: 'rbac-test',
      body: {
        metadata: { name: 'viewer-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: 'rbac-test' }],
      },
    });
    // RBAC changes propagate through the authorizer's informer: poll briefly.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const list = await asSa.listNamespacedPod({ namespace: 'rbac-test' });
        assert.deepEqual(list.items, []);
        break;
      } catch (e) {
        if (statusCode(e) !== 403 || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // Still refused outside the namespace it was granted.
    await assert.rejects(asSa.listNamespacedPod({ namespace: 'default' }), (e) => statusCode(e) === 403);
  });

  it('static users authenticate with their own identity', async () => {
    const r = await cluster.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], {
      kubeconfig: cluster.userKubeconfigPath('alice'),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'alice');
    const denied = await cluster.kubectl(['get', 'pods', '-n', 'default'], { kubeconfig: cluster.userKubeconfigPath('mallory') });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /forbidden/i);
  });

  it('installs a CRD and rejects an object that violates its schema', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.pcapper.dev' },
      spec: {
        group: 'example.pcapper.dev',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: {
                    type: 'object',
                    required: ['size'],
                    properties: { size: { type: 'integer', minimum: 1, maximum: 10 } },
                  },
                },
              },
            },
          },
        ],
      },
    };
    const applied = await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(crd) });
    assert.equal(applied.code, 0, applied.stderr);
    const est = await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/widgets.example.pcapper.dev']);
    assert.equal(est.code, 0, est.stderr);
    const good = { apiVersion: 'example.pcapper.dev/v1', kind: 'Widget', metadata: { name: 'ok', namespace: 'default' }, spec: { size: 3 } };
    const bad = { ...good, metadata: { name: 'bad', namespace: 'default' }, spec: { size: 99 } };
    const r1 = await cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(good) });
    assert.equal(r1.code, 0, r1.stderr);
    const r2 = await cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(bad) });
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /spec\.size: Invalid value: 99: spec\.size in body should be less than or equal to 10/);
  });
});
