/**
 * The chart against a real kube-apiserver (v1.34, RBAC, Pod Security admission on by default):
 * `helm install/upgrade/uninstall` work, `helm template` output and the committed
 * deploy/pcapper.yaml apply with `kubectl apply --server-side` and pass the apiserver's validation,
 * and the system namespace's Pod Security label is what admits the agent's pod.
 *
 * What this does NOT show: that the DaemonSet's and Deployment's pods run. There is no kubelet,
 * scheduler or controller-manager here, so the workload objects are created and validated, and
 * nothing starts their pods (no ReplicaSet, no Pod). test/e2e-deploy.test.ts runs the same
 * binaries as processes with the chart's ServiceAccounts and capabilities instead.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startCluster, type Cluster } from './harness/cluster.js';
import { CHART_DIR, findManifest, helm, helmTemplate, parseManifests, readRepoFile, type Manifest } from './tools/helm.js';

const SYSTEM_NS = 'pcapper';

interface PodTemplate {
  metadata: { labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** A Pod object made from a workload's pod template (what the DaemonSet/ReplicaSet controller would create). */
function podFrom(workload: Manifest, namespace: string, name: string): string {
  const tpl = (workload as unknown as { spec: { template: PodTemplate } }).spec.template;
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: tpl.metadata.labels },
    spec: { ...tpl.spec, nodeName: 'node-a' },
  });
}

describe('chart applied to a real apiserver (needs root: starts the local control plane)', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  const apply = async (text: string): Promise<{ stdout: string; stderr: string; code: number }> =>
    cluster.kubectl(['apply', '--server-side', '--field-manager=pcapper-install', '-f', '-'], { input: text });

  it('`helm install`, `helm upgrade` and `helm uninstall` against the apiserver; bad values install nothing; uninstall keeps the CRD and the namespace', async () => {
    const kc = ['--kubeconfig', cluster.kubeconfigPath];
    const bad = await helm(['install', 'bad', CHART_DIR(), ...kc, '--namespace', 'default', '--set', 'agent.deleteOlderThan=forever']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /\/agent\/deleteOlderThan'/);
    assert.notEqual((await cluster.kubectl(['get', 'namespace', SYSTEM_NS])).code, 0, 'nothing was created');

    const inst = await helm(['install', 'pcapper', CHART_DIR(), ...kc, '--namespace', 'default']);
    assert.equal(inst.code, 0, inst.stderr);
    assert.match(inst.stdout, /STATUS: deployed/);
    const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
    assert.equal((await apps.readNamespacedDaemonSet({ name: 'pcapper-agent', namespace: SYSTEM_NS })).spec?.template.spec?.hostPID, true);

    const up = await helm(['upgrade', 'pcapper', CHART_DIR(), ...kc, '--namespace', 'default', '--set', 'controller.replicas=2', '--set', 'agent.maxTotalFileSize=50G']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal((await apps.readNamespacedDeployment({ name: 'pcapper-controller', namespace: SYSTEM_NS })).spec?.replicas, 2);
    const env = (await apps.readNamespacedDaemonSet({ name: 'pcapper-agent', namespace: SYSTEM_NS })).spec?.template.spec?.containers[0]?.env ?? [];
    assert.equal(env.find((e) => e.name === 'MAX_TOTAL_FILESIZE')?.value, '50G');

    const un = await helm(['uninstall', 'pcapper', ...kc, '--namespace', 'default']);
    assert.equal(un.code, 0, un.stderr);
    assert.notEqual((await cluster.kubectl(['get', 'daemonset', 'pcapper-agent', '-n', SYSTEM_NS])).code, 0, 'the DaemonSet is gone');
    assert.notEqual((await cluster.kubectl(['get', 'clusterrole', 'pcapper-agent'])).code, 0, 'the ClusterRoles are gone');
    assert.equal((await cluster.kubectl(['get', 'crd', 'packetcaptures.pcapper.dev'])).code, 0, 'the CRD is kept (captures survive)');
    assert.equal((await cluster.kubectl(['get', 'namespace', SYSTEM_NS])).code, 0, 'the namespace is kept');
  });

  it('deploy/pcapper.yaml applies with `kubectl apply --server-side`; every object is created and the CRD is Established', async () => {
    const text = readRepoFile('deploy/pcapper.yaml');
    const r = await apply(text);
    assert.equal(r.code, 0, `kubectl apply --server-side -f deploy/pcapper.yaml failed:\n${r.stderr}`);
    const manifests = parseManifests(text);
    for (const m of manifests) {
      assert.match(r.stdout, new RegExp(`\\b${m.metadata.name}\\b serverside-applied`), `${m.kind}/${m.metadata.name} applied:\n${r.stdout}`);
      const args = ['get', m.kind.toLowerCase() + (m.apiVersion.includes('/') ? `.${m.apiVersion.split('/')[0]}` : ''), m.metadata.name, '-o', 'json'];
      if (m.metadata.namespace) args.push('-n', m.metadata.namespace);
      const g = await cluster.kubectl(args);
      assert.equal(g.code, 0, `${m.kind}/${m.metadata.name} exists: ${g.stderr}`);
    }
    const ext = cluster.kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
    const crdName = findManifest(manifests, 'CustomResourceDefinition', 'packetcaptures.pcapper.dev').metadata.name;
    let established = false;
    for (let i = 0; i < 50 && !established; i++) {
      const crd = await ext.readCustomResourceDefinition({ name: crdName });
      established = crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
      if (!established) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(established, 'CRD Established');
    // The workloads are stored as rendered (the apiserver defaulted, but changed nothing we set).
    const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
    const ds = await apps.readNamespacedDaemonSet({ name: 'pcapper-agent', namespace: SYSTEM_NS });
    assert.equal(ds.spec?.template.spec?.hostPID, true);
    assert.deepEqual(ds.spec?.template.spec?.containers[0]?.securityContext?.capabilities?.add?.slice().sort(), ['NET_RAW', 'SETGID', 'SYS_ADMIN', 'SYS_PTRACE']);
    assert.equal(ds.status?.desiredNumberScheduled ?? 0, 0, 'no kubelet, no DaemonSet controller: nothing is scheduled');
    const dep = await apps.readNamespacedDeployment({ name: 'pcapper-controller', namespace: SYSTEM_NS });
    assert.equal(dep.spec?.template.spec?.securityContext?.runAsNonRoot, true);
  });

  it('`helm template` with every optional feature (TLS, 2 controllers, admin binding, hostNetwork) applies over it (an upgrade)', async () => {
    const text = await helmTemplate([
      '--set', 'agent.tlsSecretName=pcapper-agent-tls',
      '--set', 'controller.replicas=2',
      '--set', 'agent.hostNetwork=true',
      '--set', 'rbac.adminSubjects[0].kind=Group',
      '--set', 'rbac.adminSubjects[0].name=platform-admins',
      '--set', 'rbac.adminSubjects[0].apiGroup=rbac.authorization.k8s.io',
    ]);
    const r = await apply(text);
    assert.equal(r.code, 0, `kubectl apply --server-side failed:\n${r.stderr}`);
    const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
    const dep = await apps.readNamespacedDeployment({ name: 'pcapper-controller', namespace: SYSTEM_NS });
    assert.equal(dep.spec?.replicas, 2);
    const ds = await apps.readNamespacedDaemonSet({ name: 'pcapper-agent', namespace: SYSTEM_NS });
    assert.equal(ds.spec?.template.spec?.hostNetwork, true);
    assert.ok(ds.spec?.template.spec?.volumes?.some((v) => v.secret?.secretName === 'pcapper-agent-tls'));
    const rbac = cluster.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    const crb = await rbac.readClusterRoleBinding({ name: 'pcapper-admin' });
    assert.equal(crb.subjects?.[0]?.name, 'platform-admins');
    // Back to the defaults (as deploy/pcapper.yaml); the admin bindings stay (apply does not prune).
    const back = await apply(readRepoFile('deploy/pcapper.yaml'));
    assert.equal(back.code, 0, back.stderr);
  });

  it('Pod Security: the agent pod is admitted in `pcapper` (enforce=privileged) and rejected under `baseline`; the controller pod meets `restricted`', async () => {
    const manifests = parseManifests(readRepoFile('deploy/pcapper.yaml'));
    const ds = findManifest(manifests, 'DaemonSet', 'pcapper-agent');
    const dep = findManifest(manifests, 'Deployment', 'pcapper-controller');
    const ok = await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { input: podFrom(ds, SYSTEM_NS, 'agent-psa') });
    assert.equal(ok.code, 0, `agent pod in ${SYSTEM_NS}: ${ok.stderr}`);

    for (const [ns, level] of [['psa-baseline', 'baseline'], ['psa-restricted', 'restricted']] as const) {
      const nsYaml = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': level } } });
      assert.equal((await cluster.kubectl(['apply', '-f', '-'], { input: nsYaml })).code, 0);
    }
    const denied = await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { input: podFrom(ds, 'psa-baseline', 'agent-psa') });
    assert.notEqual(denied.code, 0, 'the agent pod must not pass baseline');
    assert.match(denied.stderr, /violates PodSecurity "baseline:latest"/);
    for (const what of [/hostPID/, /hostPath/, /capabilities/]) assert.match(denied.stderr, what);

    const ctl = await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { input: podFrom(dep, 'psa-restricted', 'controller-psa') });
    assert.equal(ctl.code, 0, `controller pod under restricted: ${ctl.stderr}`);
    assert.doesNotMatch(ctl.stderr, /violate/);
  });
});
