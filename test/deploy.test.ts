/**
 * The chart against a real kube-apiserver (v1.34, RBAC, Pod Security admission on by default):
 * `helm install/upgrade/uninstall` work and an upgrade keeps the generated certificates (lookup),
 * `helm template` output in every TLS mode and the committed deploy/pcapper.yaml apply (or pass
 * `--dry-run=server`) with the apiserver's validation, the external-certificate commands of
 * docs/install.md work as written, the system namespace's Pod Security label is what admits the
 * agent's pod, and the RBAC of the server, the agent and the user roles is what the real
 * authorizer grants and refuses (`kubectl auth can-i`).
 *
 * What this does NOT show: that the DaemonSet's and Deployment's pods run. There is no kubelet,
 * scheduler or controller-manager here, so the workload objects are created and validated, and
 * nothing starts their pods (no ReplicaSet, no Pod). test/e2e-deploy.test.ts runs the same
 * binaries as processes with the chart's ServiceAccounts and capabilities instead.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { startCluster, type Cluster } from './harness/cluster.js';
import { CHART_DIR, findManifest, helm, helmTemplate, parseManifests, readRepoFile, type Manifest } from './tools/helm.js';
import { eventually } from './harness/eventually.js';

const SYSTEM_NS = 'pcapper';
const SERVER_SA = 'system:serviceaccount:pcapper:pcapper-server';
const AGENT_SA = 'system:serviceaccount:pcapper:pcapper-agent';
/** The groups a ServiceAccount token carries (impersonation adds none by itself). */
const saGroups = (ns: string): string[] => ['--as-group=system:serviceaccounts', `--as-group=system:serviceaccounts:${ns}`, '--as-group=system:authenticated'];

/** Splits one documented command line into argv: on spaces, with '...' quoting (no other shell syntax). */
function splitArgv(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

/** The fenced block right after the marker comment in docs/install.md, as lines. */
function documentedCommands(): string[] {
  const doc = readRepoFile('docs/install.md');
  const at = doc.indexOf('<!-- test/deploy.test.ts runs the next block');
  assert.ok(at >= 0, 'docs/install.md has the tested external-certificate block');
  const m = /```sh\n([\s\S]*?)```/.exec(doc.slice(at));
  assert.ok(m?.[1]);
  return m[1].split('\n').filter((l) => l.trim() !== '');
}

interface SecretObj {
  data: Record<string, string>;
}

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
    // --force-conflicts: the tests re-apply over objects that `kubectl apply` (the documented
    // commands, field manager "kubectl") applied before.
    cluster.kubectl(['apply', '--server-side', '--field-manager=pcapper-install', '--force-conflicts', '-f', '-'], { input: text });

  const getJson = async <T>(args: string[]): Promise<T> => {
    const r = await cluster.kubectl([...args, '-o', 'json']);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const tlsState = async (): Promise<{ server: Record<string, string>; agent: Record<string, string>; caBundle: string }> => ({
    server: (await getJson<SecretObj>(['get', 'secret', 'pcapper-server-tls', '-n', SYSTEM_NS])).data,
    agent: (await getJson<SecretObj>(['get', 'secret', 'pcapper-agent-tls', '-n', SYSTEM_NS])).data,
    caBundle: (await getJson<{ spec: { caBundle: string } }>(['get', 'apiservice', 'v1alpha1.data.pcapper.dev'])).spec.caBundle,
  });

  it('`helm install`, `helm upgrade` and `helm uninstall` against the apiserver; upgrades keep the generated certificates; bad values install nothing; uninstall keeps the CRD and the namespace', async () => {
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
    assert.equal((await apps.readNamespacedDeployment({ name: 'pcapper-server', namespace: SYSTEM_NS })).spec?.replicas, 2);
    const first = await tlsState();
    assert.equal(first.caBundle, first.server['ca.crt'], 'the APIService trusts the CA of the Secrets');
    assert.equal(first.agent['ca.crt'], first.server['ca.crt']);

    // An upgrade (lookup finds both Secrets) reuses the CA, the certificates and the keys.
    const up = await helm(['upgrade', 'pcapper', CHART_DIR(), ...kc, '--namespace', 'default', '--set', 'controller.replicas=2', '--set', 'agent.maxTotalFileSize=50G', '--set', 'server.replicas=3']);
    assert.equal(up.code, 0, up.stderr);
    assert.equal((await apps.readNamespacedDeployment({ name: 'pcapper-controller', namespace: SYSTEM_NS })).spec?.replicas, 2);
    assert.equal((await apps.readNamespacedDeployment({ name: 'pcapper-server', namespace: SYSTEM_NS })).spec?.replicas, 3);
    const env = (await apps.readNamespacedDaemonSet({ name: 'pcapper-agent', namespace: SYSTEM_NS })).spec?.template.spec?.containers[0]?.env ?? [];
    assert.equal(env.find((e) => e.name === 'MAX_TOTAL_FILESIZE')?.value, '50G');
    assert.deepEqual(await tlsState(), first, 'helm upgrade kept both Secrets and the caBundle byte for byte');

    // Without one of them (a deliberate rotation), the next upgrade makes a new CA and both certificates.
    assert.equal((await cluster.kubectl(['delete', 'secret', 'pcapper-agent-tls', '-n', SYSTEM_NS])).code, 0);
    const rot = await helm(['upgrade', 'pcapper', CHART_DIR(), ...kc, '--namespace', 'default', '--reuse-values']);
    assert.equal(rot.code, 0, rot.stderr);
    const rotated = await tlsState();
    assert.notEqual(rotated.server['ca.crt'], first.server['ca.crt'], 'a new CA');
    assert.notEqual(rotated.server['tls.key'], first.server['tls.key'], 'a new server key');
    assert.equal(rotated.agent['ca.crt'], rotated.server['ca.crt']);
    assert.equal(rotated.caBundle, rotated.server['ca.crt']);

    const un = await helm(['uninstall', 'pcapper', ...kc, '--namespace', 'default']);
    assert.equal(un.code, 0, un.stderr);
    assert.notEqual((await cluster.kubectl(['get', 'daemonset', 'pcapper-agent', '-n', SYSTEM_NS])).code, 0, 'the DaemonSet is gone');
    assert.notEqual((await cluster.kubectl(['get', 'clusterrole', 'pcapper-agent'])).code, 0, 'the ClusterRoles are gone');
    assert.notEqual((await cluster.kubectl(['get', 'apiservice', 'v1alpha1.data.pcapper.dev'])).code, 0, 'the APIService is gone');
    assert.notEqual((await cluster.kubectl(['get', 'secret', 'pcapper-server-tls', '-n', SYSTEM_NS])).code, 0, 'the generated Secrets are gone');
    assert.equal((await cluster.kubectl(['get', 'crd', 'packetcaptures.pcapper.dev'])).code, 0, 'the CRD is kept (captures survive)');
    assert.equal((await cluster.kubectl(['get', 'namespace', SYSTEM_NS])).code, 0, 'the namespace is kept');
  });

  it('docs/install.md: the external-certificate commands, run as written, make Secrets the workloads mount and an APIService caBundle that verifies the server certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-doc-certs-'));
    try {
      let printed = '';
      const lines = documentedCommands();
      assert.ok(lines.some((l) => l.startsWith('openssl')) && lines.some((l) => l.startsWith('kubectl create secret')) && lines.some((l) => l.includes('CA_BUNDLE')));
      for (const line of lines) {
        assert.doesNotMatch(line, /[|<>;&$`]|\\/, `argv only, no shell syntax: ${line}`);
        const argv = splitArgv(line.replace('CA_BUNDLE', printed));
        if (argv[0] === 'openssl') {
          printed = execFileSync('openssl', argv.slice(1), { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
        } else {
          assert.equal(argv[0], 'kubectl', line);
          // Paths in the doc are relative to the repository (deploy/...) or to the working directory (*.crt).
          const args = argv.slice(1).map((a) => (a === 'deploy/pcapper.yaml' ? join(CHART_DIR(), '..', '..', a) : a.replace(/=(\w+\.(crt|key))$/, (_m, f: string) => `=${join(dir, f)}`)));
          const r = await cluster.kubectl(args);
          assert.equal(r.code, 0, `${line}\n${r.stderr}`);
        }
      }
      const server = (await getJson<SecretObj>(['get', 'secret', 'pcapper-server-tls', '-n', SYSTEM_NS])).data;
      const agent = (await getJson<SecretObj & { type: string }>(['get', 'secret', 'pcapper-agent-tls', '-n', SYSTEM_NS]));
      assert.equal(agent.type, 'kubernetes.io/tls');
      assert.deepEqual(Object.keys(server).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
      const caBundle = (await getJson<{ spec: { caBundle: string } }>(['get', 'apiservice', 'v1alpha1.data.pcapper.dev'])).spec.caBundle;
      assert.equal(caBundle, server['ca.crt'], 'the patched caBundle is the CA in the Secrets');
      assert.equal(Buffer.from(caBundle, 'base64').toString('utf8'), readFileSync(join(dir, 'ca.crt'), 'utf8'));
      const verify = (cert: string, purpose: string): string =>
        execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', purpose, join(dir, cert)], { encoding: 'utf8' });
      assert.match(verify('server.crt', 'sslserver'), /OK/);
      assert.match(verify('server.crt', 'sslclient'), /OK/);
      assert.match(verify('agent.crt', 'sslserver'), /OK/);
      const san = execFileSync('openssl', ['x509', '-in', join(dir, 'server.crt'), '-noout', '-subject', '-ext', 'subjectAltName'], { encoding: 'utf8' });
      assert.match(san, /CN\s*=\s*pcapper-server[\s\S]*DNS:pcapper-server\.pcapper\.svc, DNS:pcapper-server\.pcapper\.svc\.cluster\.local/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

  it('`helm template` in tls.mode=helm and certManager passes `kubectl apply --dry-run=server` (the APIService with its caBundle or cainjector annotation, the Secrets)', async () => {
    for (const sets of [[], ['--set', 'tls.mode=certManager']]) {
      // cert-manager's own kinds need its CRDs, which this apiserver does not have: they are
      // checked by shape in test/helm.test.ts.
      const objs = parseManifests(await helmTemplate(sets)).filter((m) => !m.apiVersion.startsWith('cert-manager.io/'));
      const r = await cluster.kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=pcapper-install', '--force-conflicts', '-f', '-'], { input: objs.map((o) => JSON.stringify(o)).join('\n') });
      assert.equal(r.code, 0, `${sets.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /apiservice\.apiregistration\.k8s\.io\/v1alpha1\.data\.pcapper\.dev serverside-applied \(server dry run\)/);
      if (sets.length === 0) assert.match(r.stdout, /secret\/pcapper-server-tls serverside-applied \(server dry run\)/);
    }
  });

  it('`helm template` with every optional feature (2 controllers, 3 servers, admin binding, hostNetwork, NetworkPolicy peers) applies over it (an upgrade)', async () => {
    const text = await helmTemplate([
      '--set', 'tls.mode=external',
      '--set', 'controller.replicas=2',
      '--set', 'server.replicas=3',
      '--set', 'server.podDisruptionBudget.minAvailable=50%',
      '--set', 'networkPolicy.serverFrom[0].ipBlock.cidr=10.0.0.0/8',
      '--set', 'networkPolicy.metricsFrom[0].podSelector.matchLabels.app=vmagent',
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
    const net = cluster.kubeConfig.makeApiClient(k8s.NetworkingV1Api);
    const np = await net.readNamespacedNetworkPolicy({ name: 'pcapper-server', namespace: SYSTEM_NS });
    assert.equal(np.spec?.ingress?.[0]?._from?.[0]?.ipBlock?.cidr, '10.0.0.0/8');
    const rbac = cluster.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    const crb = await rbac.readClusterRoleBinding({ name: 'pcapper-admin' });
    assert.equal(crb.subjects?.[0]?.name, 'platform-admins');
    // Back to the defaults (as deploy/pcapper.yaml); the admin bindings stay (apply does not prune).
    const back = await apply(readRepoFile('deploy/pcapper.yaml'));
    assert.equal(back.code, 0, back.stderr);
  });

  it('Pod Security: the agent pod is admitted in `pcapper` (enforce=privileged) and rejected under `baseline`; the controller and server pods meet `restricted`', async () => {
    const manifests = parseManifests(readRepoFile('deploy/pcapper.yaml'));
    const ds = findManifest(manifests, 'DaemonSet', 'pcapper-agent');
    const dep = findManifest(manifests, 'Deployment', 'pcapper-controller');
    const srv = findManifest(manifests, 'Deployment', 'pcapper-server');
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
    const sp = await cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { input: podFrom(srv, 'psa-restricted', 'server-psa') });
    assert.equal(sp.code, 0, `server pod under restricted: ${sp.stderr}`);
    assert.doesNotMatch(sp.stderr, /violate/);
  });

  /** `kubectl auth can-i` on the real authorizer: true for yes, false for no. */
  const canI = async (as: string[], args: string[]): Promise<boolean> => {
    const r = await cluster.kubectl(['auth', 'can-i', ...args, ...as]);
    const answer = r.stdout.trim().split('\n').pop();
    assert.ok(answer === 'yes' || answer === 'no', `kubectl auth can-i ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return answer === 'yes';
  };
  /**
   * The same question as a SubjectAccessReview, for the data API: with no pcapper server running
   * here the group data.pcapper.dev is not discoverable, and `kubectl auth can-i` then resolves
   * the resource unreliably. kube-apiserver asks its authorizer exactly this before it proxies a
   * data request.
   */
  const sar = async (user: string, groups: string[], verb: string, sub: string, namespace: string, group = 'data.pcapper.dev'): Promise<boolean> => {
    const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups, resourceAttributes: { namespace, verb, group, resource: 'packetcaptures', subresource: sub } } };
    const r = await cluster.kubectl(['create', '-o', 'json', '-f', '-'], { input: JSON.stringify(review) });
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { status: { allowed?: boolean } }).status.allowed === true;
  };
  /** Checks `allowed` and `denied` (can-i argv, or [verb, subresource, namespace] of the data API via sar). */
  const checkAll = async (who: string, as: string[], allowed: string[][], denied: string[][], data: { allowed?: string[][]; denied?: string[][] } = {}): Promise<void> => {
    const wrong: string[] = [];
    for (const a of allowed) if (!(await canI(as, a))) wrong.push(`${who} should be allowed: ${a.join(' ')}`);
    for (const d of denied) if (await canI(as, d)) wrong.push(`${who} must be refused: ${d.join(' ')}`);
    const user = (as.find((a) => a.startsWith('--as=')) ?? '').slice('--as='.length);
    const groups = as.filter((a) => a.startsWith('--as-group=')).map((a) => a.slice('--as-group='.length));
    for (const [verb = '', sub = '', ns = ''] of data.allowed ?? []) if (!(await sar(user, groups, verb, sub, ns))) wrong.push(`${who} should be allowed: ${verb} packetcaptures/${sub} (data.pcapper.dev) in ${ns}`);
    for (const [verb = '', sub = '', ns = ''] of data.denied ?? []) if (await sar(user, groups, verb, sub, ns)) wrong.push(`${who} must be refused: ${verb} packetcaptures/${sub} (data.pcapper.dev) in ${ns}`);
    assert.deepEqual(wrong, []);
  };

  it('RBAC on the real authorizer: the pcapper server may exactly read captures, delegate auth, read the front-proxy CA and find agent pods; nothing more', async () => {
    // deploy/pcapper.yaml is applied (test above).
    await checkAll(
      'pcapper-server',
      [`--as=${SERVER_SA}`, ...saGroups(SYSTEM_NS)],
      [
        ['get', 'packetcaptures.pcapper.dev', '-n', 'team-a'],
        ['create', 'subjectaccessreviews.authorization.k8s.io'],
        ['create', 'tokenreviews.authentication.k8s.io'],
        ['get', 'configmap/extension-apiserver-authentication', '-n', 'kube-system'],
        ['list', 'pods', '-n', SYSTEM_NS],
        ['get', 'daemonset.apps/pcapper-agent', '-n', SYSTEM_NS],
        // its one write: a webhook firing in the capture's status (docs/triggers.md)
        ['patch', 'packetcaptures.pcapper.dev', '--subresource=status', '-n', 'team-a'],
      ],
      [
        ['list', 'packetcaptures.pcapper.dev', '--all-namespaces'],
        ['watch', 'packetcaptures.pcapper.dev', '--all-namespaces'],
        ['watch', 'pods', '-n', SYSTEM_NS],
        ['get', 'pods', '-n', SYSTEM_NS],
        ['create', 'packetcaptures.pcapper.dev', '-n', 'team-a'],
        ['patch', 'packetcaptures.pcapper.dev', '-n', 'team-a'],
        ['update', 'packetcaptures.pcapper.dev', '-n', 'team-a'],
        ['delete', 'packetcaptures.pcapper.dev', '-n', 'team-a'],
        ['get', 'secrets', '-n', SYSTEM_NS],
        ['get', 'secret/pcapper-server-tls', '-n', SYSTEM_NS],
        ['list', 'secrets', '-n', 'kube-system'],
        ['get', 'configmap/other', '-n', 'kube-system'],
        ['list', 'configmaps', '-n', SYSTEM_NS],
        ['list', 'pods', '-n', 'team-a'],
        ['list', 'pods', '--all-namespaces'],
        ['create', 'pods/exec', '-n', SYSTEM_NS],
        ['get', 'daemonset.apps/other', '-n', SYSTEM_NS],
        ['list', 'daemonsets.apps', '-n', SYSTEM_NS],
        ['patch', 'daemonset.apps/pcapper-agent', '-n', SYSTEM_NS],
        ['get', 'nodes'],
        ['create', 'events', '-n', SYSTEM_NS],
      ],
      { denied: [['get', 'files', 'team-a'], ['get', 'log', 'team-a']] },
    );
  });

  it('RBAC on the real authorizer: the agent no longer creates TokenReviews or SubjectAccessReviews', async () => {
    await checkAll(
      'pcapper-agent',
      [`--as=${AGENT_SA}`, ...saGroups(SYSTEM_NS)],
      [['list', 'packetcaptures.pcapper.dev', '--all-namespaces'], ['patch', 'packetcaptures.pcapper.dev', '--subresource=status', '-n', 'team-a']],
      [['create', 'tokenreviews.authentication.k8s.io'], ['create', 'subjectaccessreviews.authorization.k8s.io'], ['get', 'secrets', '-n', SYSTEM_NS]],
    );
  });

  it('RBAC on the real authorizer: pcapper-capture-user and pcapper-admin reach the data API (files, log: get) and nothing new; mallory nothing', async () => {
    for (const ns of ['team-a', 'team-b']) assert.equal((await cluster.kubectl(['create', 'namespace', ns])).code, 0);
    assert.equal((await cluster.kubectl(['create', 'rolebinding', 'alice-pcap', '-n', 'team-a', '--clusterrole=pcapper-capture-user', '--user=alice'])).code, 0);
    assert.equal((await cluster.kubectl(['create', 'clusterrolebinding', 'bob-pcapper-admin', '--clusterrole=pcapper-admin', '--user=bob'])).code, 0);
    // The authorizer sees new bindings through its informer: wait (bounded) until both are in effect.
    for (const [user, ns] of [['alice', 'team-a'], ['bob', 'team-b']] as const) {
      await eventually(() => canI([`--as=${user}`], ['create', 'packetcaptures.pcapper.dev', '-n', ns]), { what: `the binding of ${user} in effect`, timeoutMs: 20_000 });
    }
    await checkAll(
      'alice (pcapper-capture-user in team-a)',
      ['--as=alice', '--as-group=system:authenticated'],
      [['get', 'packetcaptures.pcapper.dev', '--subresource=files', '-n', 'team-a'], ['create', 'packetcaptures.pcapper.dev', '-n', 'team-a']],
      [['patch', 'packetcaptures.pcapper.dev', '--subresource=status', '-n', 'team-a'], ['get', 'packetcaptures.pcapper.dev', '--subresource=files', '-n', 'team-b']],
      {
        allowed: [['get', 'files', 'team-a'], ['get', 'log', 'team-a']],
        denied: [['get', 'files', 'team-b'], ['get', 'log', 'team-b'], ['get', 'files', SYSTEM_NS], ['create', 'files', 'team-a'], ['list', 'files', 'team-a'], ['delete', 'log', 'team-a'], ['get', '', 'team-a'], ['get', 'exec', 'team-a']],
      },
    );
    await checkAll('bob (pcapper-admin)', ['--as=bob', '--as-group=system:authenticated'], [], [['get', 'secrets', '-n', SYSTEM_NS]], {
      allowed: [['get', 'files', 'team-b'], ['get', 'log', SYSTEM_NS]],
      denied: [['create', 'files', 'team-b'], ['get', '', 'team-b'], ['update', 'log', 'team-b']],
    });
    await checkAll('mallory', ['--as=mallory', '--as-group=system:authenticated'], [], [], { denied: [['get', 'files', 'team-a'], ['get', 'log', 'team-a']] });
  });
});
