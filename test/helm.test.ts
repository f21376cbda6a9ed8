/**
 * The Helm chart without a cluster: `helm lint`, `helm template`, values.schema.json rejections,
 * the generated files (deploy/pcapper.yaml, charts/pcapper/files/crd.yaml) against their sources,
 * the certificates Helm's genCA/genSignedCert make (checked with openssl and a real mutual TLS
 * handshake), and the security-relevant shape of what the chart renders. Applying it to a real
 * apiserver, `helm upgrade` keeping the certificates (lookup) and the RBAC on the real authorizer
 * are test/deploy.test.ts (and test/rbac.test.ts for the controller and agent).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, before, after } from 'node:test';
import tls from 'node:tls';
import { parse } from 'yaml';
import { CHART_DIR, GEN_COMMAND, findManifest, helm, helmTemplate, parseManifests, readRepoFile, rulesOf, type Manifest } from './tools/helm.js';
import { CRDS } from '../src/api/crd.js';

/** The values deploy/pcapper.yaml is rendered with (scripts/helm.mjs STATIC_VALUES). */
const STATIC_VALUES = ['--set', 'tls.mode=external', '--set', 'encryption.mode=external'];

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  livenessProbe?: { httpGet?: { path: string; port: string | number; scheme?: string } };
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  hostPID?: boolean;
  hostNetwork?: boolean;
  serviceAccountName?: string;
  tolerations?: { operator?: string; key?: string }[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number; seccompProfile?: { type: string } };
  containers: Container[];
  volumes?: { name: string; hostPath?: { path: string; type?: string }; secret?: { secretName: string; defaultMode?: number } }[];
  affinity?: unknown;
}
interface Workload extends Manifest {
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } };
}
interface ApiService extends Manifest {
  spec: { group: string; version: string; service: { namespace: string; name: string; port: number }; groupPriorityMinimum: number; versionPriority: number; caBundle?: string; insecureSkipTLSVerify?: boolean };
}
interface Secret extends Manifest {
  type: string;
  data: Record<string, string>;
}
interface NetPol extends Manifest {
  spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress?: { from?: Record<string, unknown>[]; ports?: { port: string | number; protocol: string }[] }[] };
}

const podSpec = (m: Manifest): PodSpec => (m as Workload).spec.template.spec;
const env = (c: Container, name: string): EnvVar | undefined => c.env?.find((e) => e.name === name);
const secretData = (ms: Manifest[], name: string): Record<string, string> => {
  const s = findManifest(ms, 'Secret', name) as Secret;
  assert.equal(s.type, 'kubernetes.io/tls');
  assert.deepEqual(Object.keys(s.data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  return Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
};
const openssl = (args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const SERVER_LABELS = { 'app.kubernetes.io/name': 'pcapper', 'app.kubernetes.io/component': 'server' };
const AGENT_LABELS = { 'app.kubernetes.io/name': 'pcapper', 'app.kubernetes.io/component': 'agent' };

describe('helm chart charts/pcapper', () => {
  let rendered: Manifest[];
  let tmp: string;
  before(async () => {
    rendered = parseManifests(await helmTemplate());
    tmp = mkdtempSync(join(tmpdir(), 'pcapper-helm-'));
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('passes `helm lint --strict` with default values and with every optional feature on', async () => {
    for (const sets of [
      [],
      ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'tls.mode=certManager', '--set', 'controller.replicas=2', '--set', 'agent.hostNetwork=true', '--set', 'server.replicas=3', '--set', 'server.podDisruptionBudget.minAvailable=50%'],
      ['--set', 'namespace.create=false', '--set', 'crds.install=false', '--set', 'rbac.adminSubjects[0].kind=Group', '--set', 'rbac.adminSubjects[0].name=platform-admins', '--set', 'networkPolicy.enabled=false', '--set', 'server.podDisruptionBudget.enabled=false'],
      [...STATIC_VALUES, '--set-json', 'networkPolicy.metricsFrom=[]', '--set', 'networkPolicy.serverFrom[0].ipBlock.cidr=10.0.0.0/8'],
    ]) {
      const r = await helm(['lint', '--strict', CHART_DIR(), ...sets]);
      assert.equal(r.code, 0, `helm lint --strict ${sets.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('rejects bad values at install time with a message naming the value (values.schema.json)', async () => {
    const cases: [string[], RegExp][] = [
      [['--set', 'agent.maxTotalFileSize=lots'], /\/agent\/maxTotalFileSize': 'lots' does not match pattern/],
      [['--set', 'agent.deleteOlderThan=2 weeks'], /\/agent\/deleteOlderThan'/],
      [['--set', 'agent.minFreeDisk=-5G'], /\/agent\/minFreeDisk'/],
      [['--set', 'controller.replicas=3'], /\/controller\/replicas': maximum: got 3, want 2/],
      [['--set', 'agent.port=80'], /\/agent\/port': minimum: got 80, want 1,?024/],
      [['--set', 'agent.hostDataDir=relative/dir'], /\/agent\/hostDataDir'/],
      [['--set', 'agent.hostDataDir=/var/../etc'], /\/agent\/hostDataDir'/],
      [['--set', 'agent.maxTotalFilesize=10G'], /additional properties 'maxTotalFilesize' not allowed/],
      [['--set', 'image.pullPolicy=Sometimes'], /\/image\/pullPolicy'/],
      [['--set', 'image.digest=latest'], /\/image\/digest'/],
      [['--set', 'agent.resources.limits=null'], /\/agent\/resources'/],
      // The HTTP/tlsSecretName option is gone: the agent always serves mTLS.
      [['--set', 'agent.tlsSecretName=my-tls'], /additional properties 'tlsSecretName' not allowed/],
      [['--set', 'tls.mode=selfSigned'], /\/tls\/mode': value must be one of 'helm', 'certManager', 'external'/],
      [['--set', 'tls.mode=external', '--set', 'tls.caBundle=LS0tLS1CRUdJTg=='], /\/tls\/caBundle': 'LS0tLS1CRUdJTg==' does not match pattern/],
      [['--set', 'tls.caBundle=-----BEGIN CERTIFICATE-----'], /\/tls\/caBundle'/],
      [['--set', 'tls.helm.validityDays=0'], /\/tls\/helm\/validityDays': minimum/],
      [['--set', 'tls.certManager.duration=90 days'], /\/tls\/certManager\/duration'/],
      [['--set', 'server.replicas=0'], /\/server\/replicas': minimum: got 0, want 1/],
      [['--set', 'server.port=443'], /\/server\/port': minimum/],
      [['--set', 'server.podDisruptionBudget.minAvailable=half'], /\/server\/podDisruptionBudget\/minAvailable'/],
      [['--set', 'networkPolicy.metricsFrom[0].namespace=monitoring'], /additional properties 'namespace' not allowed/],
      [['--set', 'networkPolicy.enabled=yes'], /\/networkPolicy\/enabled'/],
    ];
    for (const [sets, message] of cases) {
      const r = await helm(['template', 'pcapper', CHART_DIR(), ...sets]);
      assert.notEqual(r.code, 0, `helm template ${sets.join(' ')} should fail`);
      assert.match(r.stderr, /values don't meet the specifications of the schema/, r.stderr);
      assert.match(r.stderr, message, `${sets.join(' ')}:\n${r.stderr}`);
    }
  });

  it('values.yaml and values.schema.json describe the same keys (every value documented with a default)', () => {
    interface Schema {
      properties?: Record<string, Schema>;
    }
    const schema = JSON.parse(readRepoFile('charts/pcapper/values.schema.json')) as Schema;
    const values = parse(readRepoFile('charts/pcapper/values.yaml')) as Record<string, unknown>;
    // Values that are Kubernetes API objects passed through (their optional fields need no default).
    const passThrough = new Set(['resources', 'updateStrategy', 'appArmorProfile']);
    const missing: string[] = [];
    const walk = (s: Schema, v: unknown, path: string): void => {
      for (const [k, sub] of Object.entries(s.properties ?? {})) {
        if (path === '' && k === 'global') continue;
        const here = (v as Record<string, unknown> | undefined)?.[k];
        if (here === undefined) missing.push(`${path}${k}`);
        else if (sub.properties && !passThrough.has(k) && typeof here === 'object' && here !== null && !Array.isArray(here)) walk(sub, here, `${path}${k}.`);
      }
    };
    walk(schema, values, '');
    assert.deepEqual(missing, [], 'schema keys without a default in values.yaml');
  });

  it(`deploy/pcapper.yaml is the chart rendered with default values and tls.mode=external (regenerate: ${GEN_COMMAND})`, async () => {
    const r = await helm(['template', 'pcapper', CHART_DIR(), '--namespace', 'pcapper', '--kube-version', 'v1.34.0', ...STATIC_VALUES]);
    assert.equal(r.code, 0, r.stderr);
    const expected =
      `# Generated by \`${GEN_COMMAND}\` from charts/pcapper with default values and tls.mode=external encryption.mode=external; do not edit.\n` +
      `# No private keys: create the Secrets pcapper-server-tls, pcapper-agent-tls and pcapper-encryption-keys first (docs/install.md).\n${r.stdout}`;
    assert.ok(readRepoFile('deploy/pcapper.yaml') === expected, `deploy/pcapper.yaml is stale: run \`${GEN_COMMAND}\` and commit the result`);
  });

  it('deploy/pcapper.yaml holds no private key and no Secret; its APIService waits for a caBundle; the workloads mount the two Secrets', () => {
    const text = readRepoFile('deploy/pcapper.yaml');
    assert.doesNotMatch(text, /PRIVATE KEY/);
    assert.doesNotMatch(text, /tls\.key:/);
    const ms = parseManifests(text);
    assert.deepEqual(ms.filter((m) => m.kind === 'Secret'), []);
    const api = findManifest(ms, 'APIService', 'v1alpha1.data.pcapper.dev') as ApiService;
    assert.equal(api.spec.caBundle, undefined, 'the user patches the caBundle in (docs/install.md)');
    assert.equal(api.spec.insecureSkipTLSVerify, false);
    const mounted = [findManifest(ms, 'Deployment', 'pcapper-server'), findManifest(ms, 'DaemonSet', 'pcapper-agent')].map((w) => podSpec(w).volumes?.find((v) => v.secret)?.secret?.secretName);
    assert.deepEqual(mounted, ['pcapper-server-tls', 'pcapper-agent-tls']);
  });

  it(`the chart's CRDs are deploy/crd*.yaml (one source; regenerate: ${GEN_COMMAND})`, async () => {
    const files = CRDS.map((c) => c.file.slice('deploy/'.length));
    assert.ok(files.includes('crd.yaml'));
    for (const f of files) {
      const source = readRepoFile(`deploy/${f}`);
      assert.ok(readRepoFile(`charts/pcapper/files/${f}`) === source, `charts/pcapper/files/${f} differs from deploy/${f}: run \`${GEN_COMMAND}\``);
      const want = parse(source) as Manifest & { spec: unknown };
      const crd = findManifest(rendered, 'CustomResourceDefinition', want.metadata.name) as Manifest & { spec: unknown };
      // Only labels and the keep policy are added; the schema goes through Helm's YAML round trip
      // (fromYaml/toYaml) unchanged.
      assert.deepEqual(crd.spec, want.spec);
      assert.equal(crd.apiVersion, want.apiVersion);
      assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    }
    assert.equal(rendered.filter((m) => m.kind === 'CustomResourceDefinition').length, files.length);
    const off = parseManifests(await helmTemplate(['--set', 'crds.install=false']));
    assert.equal(off.filter((m) => m.kind === 'CustomResourceDefinition').length, 0);
  });

  it('labels only the system namespace privileged for Pod Security admission', () => {
    const nss = rendered.filter((m) => m.kind === 'Namespace');
    assert.deepEqual(nss.map((n) => n.metadata.name), ['pcapper']);
    assert.equal(nss[0]?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    for (const m of rendered) {
      if (m.kind === 'Namespace' || m.kind.startsWith('Cluster') || m.kind === 'CustomResourceDefinition' || m.kind === 'APIService') continue;
      // The one exception: the server reads the front-proxy CA (a RoleBinding where that ConfigMap is).
      if (m.kind === 'RoleBinding' && m.metadata.name === 'pcapper-server:extension-apiserver-authentication-reader') {
        assert.equal(m.metadata.namespace, 'kube-system');
        continue;
      }
      assert.equal(m.metadata.namespace, 'pcapper', `${m.kind}/${m.metadata.name} must be in the system namespace`);
    }
  });

  it('agent DaemonSet: every node, seed 002 env, /var/pcapper at /hostmount, hostPID, no hostNetwork, exactly four commented capabilities', () => {
    const ds = findManifest(rendered, 'DaemonSet', 'pcapper-agent');
    const spec = podSpec(ds);
    assert.deepEqual(spec.tolerations, [{ operator: 'Exists' }], 'tolerates every taint');
    assert.equal(spec.hostPID, true);
    assert.equal(spec.hostNetwork, false);
    assert.equal(spec.serviceAccountName, 'pcapper-agent');
    const [c] = spec.containers;
    assert.ok(c);
    assert.deepEqual(c.args, ['agent']);
    assert.deepEqual(env(c, 'NODE_NAME')?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
    assert.equal(env(c, 'MAX_TOTAL_FILESIZE')?.value, '10G');
    assert.equal(env(c, 'MIN_FREE_DISK')?.value, '20G');
    assert.equal(env(c, 'DELETE_OLDER_THAN')?.value, '2d');
    assert.equal(env(c, 'PCAPPER_HOST_NETNS')?.value, '/proc/1/ns/net', 'node captures enter the node netns, since there is no hostNetwork');
    const mount = c.volumeMounts?.find((v) => v.mountPath === '/hostmount');
    assert.ok(mount);
    assert.deepEqual(spec.volumes?.find((v) => v.name === mount.name)?.hostPath, { path: '/var/pcapper', type: 'DirectoryOrCreate' });
    const sc = c.securityContext;
    assert.equal(sc?.privileged, false);
    assert.equal(sc?.allowPrivilegeEscalation, false);
    assert.equal(sc?.readOnlyRootFilesystem, true);
    assert.deepEqual(sc?.capabilities?.drop, ['ALL']);
    assert.deepEqual([...(sc?.capabilities?.add ?? [])].sort(), ['NET_RAW', 'SETGID', 'SYS_ADMIN', 'SYS_PTRACE']);
    assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory && c.resources.limits.cpu);
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/healthz', port: 'https', scheme: 'HTTPS' });
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'https', scheme: 'HTTPS' });
    const ann = (ds as Workload).spec.template.metadata.annotations ?? {};
    assert.equal(ann['prometheus.io/scrape'], 'true');
    assert.equal(ann['prometheus.io/scheme'], 'https');
    assert.equal(ann['prometheus.io/port'], String(c.ports?.[0]?.containerPort));

    // Always mutual TLS with the pcapper-agent-tls Secret; no endpoint address to publish.
    assert.deepEqual(c.ports, [{ name: 'https', containerPort: 9443, protocol: 'TCP' }]);
    assert.equal(env(c, 'PCAPPER_TLS_CERT')?.value, '/etc/pcapper/tls/tls.crt');
    assert.equal(env(c, 'PCAPPER_TLS_KEY')?.value, '/etc/pcapper/tls/tls.key');
    assert.equal(env(c, 'PCAPPER_CA')?.value, '/etc/pcapper/tls/ca.crt');
    assert.equal(env(c, 'PCAPPER_CLIENT_NAMES')?.value, 'pcapper-server');
    assert.equal(env(c, 'PCAPPER_SYSTEM_NAMESPACE')?.value, 'pcapper');
    assert.equal(env(c, 'POD_IP'), undefined, 'status.nodes[].endpoint is gone: nothing publishes the pod IP');
    const tlsMount = c.volumeMounts?.find((v) => v.mountPath === '/etc/pcapper/tls');
    assert.equal(tlsMount?.readOnly, true);
    assert.deepEqual(spec.volumes?.find((v) => v.name === tlsMount?.name)?.secret, { secretName: 'pcapper-agent-tls', defaultMode: 0o400 });

    // Every added capability has its own comment in the template, right above it.
    const tpl = readRepoFile('charts/pcapper/templates/agent-daemonset.yaml').split('\n');
    for (const cap of sc?.capabilities?.add ?? []) {
      const i = tpl.findIndex((l) => l.trim() === `- ${cap}`);
      assert.ok(i > 0 && tpl[i - 1]?.trim().startsWith('#'), `capability ${cap} needs a comment saying why`);
    }
  });

  it('values reach the agent (sizes, duration, data dir, port) and hostNetwork=true drops PCAPPER_HOST_NETNS', async () => {
    const ms = parseManifests(
      await helmTemplate(['--set', 'agent.maxTotalFileSize=5Gi', '--set', 'agent.minFreeDisk=1G', '--set', 'agent.deleteOlderThan=12h', '--set', 'agent.hostDataDir=/data/pcap', '--set', 'agent.port=10443', '--set', 'agent.hostNetwork=true']),
    );
    const spec = podSpec(findManifest(ms, 'DaemonSet', 'pcapper-agent'));
    const c = spec.containers[0];
    assert.ok(c);
    assert.equal(env(c, 'MAX_TOTAL_FILESIZE')?.value, '5Gi');
    assert.equal(env(c, 'MIN_FREE_DISK')?.value, '1G');
    assert.equal(env(c, 'DELETE_OLDER_THAN')?.value, '12h');
    assert.equal(env(c, 'PCAPPER_HOST_DATA_DIR')?.value, '/data/pcap');
    assert.equal(env(c, 'PCAPPER_LISTEN')?.value, '0.0.0.0:10443');
    assert.equal(env(c, 'PCAPPER_HOST_NETNS'), undefined);
    assert.equal(spec.hostNetwork, true);
    assert.equal(spec.volumes?.find((v) => v.name === 'hostmount')?.hostPath?.path, '/data/pcap');
  });

  it('controller Deployment: non-root, read-only root filesystem, no capabilities, leader election wiring; 2 replicas spread', async () => {
    const dep = findManifest(rendered, 'Deployment', 'pcapper-controller') as Workload;
    assert.equal(dep.spec.replicas, 1);
    const spec = dep.spec.template.spec;
    assert.equal(spec.hostPID, undefined);
    assert.equal(spec.securityContext?.runAsNonRoot, true);
    assert.ok((spec.securityContext?.runAsUser ?? 0) > 0);
    assert.equal(spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    const c = spec.containers[0];
    assert.ok(c);
    assert.deepEqual(c.args, ['controller', '--leader-elect']);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'] });
    assert.deepEqual(env(c, 'POD_NAMESPACE')?.valueFrom, { fieldRef: { fieldPath: 'metadata.namespace' } });
    const two = findManifest(parseManifests(await helmTemplate(['--set', 'controller.replicas=2'])), 'Deployment', 'pcapper-controller') as Workload;
    assert.equal(two.spec.replicas, 2);
    assert.ok(JSON.stringify(two.spec.template.spec).includes('podAntiAffinity'));
  });

  it('optional ServiceMonitor scrapes the agents through the headless Service', async () => {
    assert.equal(rendered.filter((m) => m.kind === 'ServiceMonitor').length, 0, 'off by default (needs the Prometheus Operator CRDs)');
    const ms = parseManifests(await helmTemplate(['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.serviceMonitor.labels.release=prom']));
    const sm = findManifest(ms, 'ServiceMonitor', 'pcapper-agent') as Manifest & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] } };
    assert.equal(sm.metadata.labels?.release, 'prom');
    assert.deepEqual(sm.spec.endpoints.map((e) => [e.port, e.path]), [['https', '/metrics']]);
    assert.deepEqual((sm.spec.endpoints[0] as unknown as { tlsConfig: unknown }).tlsConfig, { serverName: 'pcapper-agent.pcapper.svc', ca: { secret: { name: 'pcapper-agent-tls', key: 'ca.crt' } } });
    const svc = findManifest(ms, 'Service', 'pcapper-agent') as Manifest & { spec: { selector: Record<string, string>; clusterIP: string } };
    assert.deepEqual(svc.spec.selector, sm.spec.selector.matchLabels);
    const ds = findManifest(ms, 'DaemonSet', 'pcapper-agent') as Manifest & { spec: { selector: { matchLabels: Record<string, string> } } };
    assert.deepEqual(ds.spec.selector.matchLabels, svc.spec.selector);
  });

  it('optional Grafana dashboard: a ConfigMap for the sidecar (grafana_dashboard: "1") holding files/dashboards/pcapper-pod-pairs.json', async () => {
    assert.equal(rendered.filter((m) => m.kind === 'ConfigMap' && m.metadata.name === 'pcapper-dashboard-pod-pairs').length, 0, 'off by default');
    const ms = parseManifests(
      await helmTemplate(['--set', 'metrics.grafanaDashboard.enabled=true', '--set', 'metrics.grafanaDashboard.namespace=monitoring', '--set', 'metrics.grafanaDashboard.folder=Network']),
    );
    const cm = findManifest(ms, 'ConfigMap', 'pcapper-dashboard-pod-pairs') as Manifest & { data: Record<string, string> };
    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    assert.equal(cm.metadata.namespace, 'monitoring');
    assert.equal(cm.metadata.annotations?.grafana_folder, 'Network');
    const dash = JSON.parse(cm.data['pcapper-pod-pairs.json']!) as { uid: string; panels: unknown[] };
    assert.deepEqual(dash, JSON.parse(readRepoFile('charts/pcapper/files/dashboards/pcapper-pod-pairs.json')));
    assert.equal(dash.uid, 'pcapper-pod-pairs');
    await assert.rejects(helmTemplate(['--set', 'metrics.grafanaDashboard.enabeld=true']), /enabeld/);
  });

  it('server Deployment: `pcapper server`, 2 replicas spread over nodes, HTTPS probes on port https, no privileges, the server Secret; PDB and Service', () => {
    const dep = findManifest(rendered, 'Deployment', 'pcapper-server') as Workload;
    assert.equal(dep.spec.replicas, 2);
    assert.deepEqual(dep.spec.selector.matchLabels, SERVER_LABELS);
    const spec = dep.spec.template.spec;
    assert.equal(spec.serviceAccountName, 'pcapper-server');
    assert.equal(spec.hostPID, undefined);
    assert.equal(spec.hostNetwork, undefined);
    assert.equal(spec.securityContext?.runAsNonRoot, true);
    assert.ok((spec.securityContext?.runAsUser ?? 0) > 0);
    assert.equal(spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    const c = spec.containers[0];
    assert.ok(c && spec.containers.length === 1);
    assert.deepEqual(c.args, ['server']);
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    assert.deepEqual(c.ports, [{ name: 'https', containerPort: 8443, protocol: 'TCP' }]);
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'https', scheme: 'HTTPS' });
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'https', scheme: 'HTTPS' });
    assert.equal(env(c, 'PCAPPER_LISTEN')?.value, '0.0.0.0:8443');
    assert.equal(env(c, 'PCAPPER_SYSTEM_NAMESPACE')?.value, 'pcapper');
    assert.equal(env(c, 'PCAPPER_TLS_CERT')?.value, '/etc/pcapper/tls/tls.crt');
    assert.equal(env(c, 'PCAPPER_TLS_KEY')?.value, '/etc/pcapper/tls/tls.key');
    assert.equal(env(c, 'PCAPPER_CA')?.value, '/etc/pcapper/tls/ca.crt');
    const mount = c.volumeMounts?.find((v) => v.mountPath === '/etc/pcapper/tls');
    assert.equal(mount?.readOnly, true);
    // Non-root reads the Secret's files through the group (fsGroup), not world-readable.
    assert.deepEqual(spec.volumes?.find((v) => v.name === mount?.name)?.secret, { secretName: 'pcapper-server-tls', defaultMode: 0o440 });
    assert.equal(spec.securityContext?.fsGroup, 65532);
    assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory);
    assert.deepEqual(spec.affinity, {
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: SERVER_LABELS } } }] },
    });
    // The why is written down next to the Deployment.
    assert.match(readRepoFile('charts/pcapper/templates/server-deployment.yaml'), /leader-elected/);

    const pdb = findManifest(rendered, 'PodDisruptionBudget', 'pcapper-server') as Manifest & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
    assert.deepEqual(pdb.spec, { minAvailable: 1, selector: { matchLabels: SERVER_LABELS } });
    const svc = findManifest(rendered, 'Service', 'pcapper-server') as Manifest & { spec: { selector: Record<string, string>; ports: unknown[] } };
    assert.deepEqual(svc.spec.selector, SERVER_LABELS);
    assert.deepEqual(svc.spec.ports, [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    assert.deepEqual(dep.spec.template.metadata.labels && Object.fromEntries(Object.entries(dep.spec.template.metadata.labels).filter(([k]) => k in SERVER_LABELS)), SERVER_LABELS);
  });

  it('server values: replicas, resources, nodeSelector, tolerations, affinity, priorityClassName, PDB', async () => {
    const ms = parseManifests(
      await helmTemplate([
        '--set', 'server.replicas=3',
        '--set', 'server.resources.limits.memory=1Gi',
        '--set', 'server.nodeSelector.role=infra',
        '--set', 'server.tolerations[0].key=infra',
        '--set', 'server.tolerations[0].operator=Exists',
        '--set', 'server.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=role',
        '--set', 'server.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists',
        '--set', 'server.priorityClassName=system-cluster-critical',
        '--set', 'server.podDisruptionBudget.minAvailable=2',
      ]),
    );
    const dep = findManifest(ms, 'Deployment', 'pcapper-server') as Workload;
    assert.equal(dep.spec.replicas, 3);
    const spec = dep.spec.template.spec as PodSpec & { nodeSelector?: unknown; priorityClassName?: string };
    assert.equal(spec.containers[0]?.resources?.limits?.memory, '1Gi');
    assert.deepEqual(spec.nodeSelector, { role: 'infra' });
    assert.deepEqual(spec.tolerations, [{ key: 'infra', operator: 'Exists' }]);
    assert.equal(spec.priorityClassName, 'system-cluster-critical');
    assert.ok(!JSON.stringify(spec.affinity).includes('podAntiAffinity'), 'a given affinity replaces the default');
    assert.ok(JSON.stringify(spec.affinity).includes('nodeAffinity'));
    assert.equal((findManifest(ms, 'PodDisruptionBudget', 'pcapper-server') as Manifest & { spec: { minAvailable: number } }).spec.minAvailable, 2);
    const off = parseManifests(await helmTemplate(['--set', 'server.podDisruptionBudget.enabled=false']));
    assert.equal(off.filter((m) => m.kind === 'PodDisruptionBudget').length, 0);
  });

  it('APIService v1alpha1.data.pcapper.dev: group, version, Service pcapper/pcapper-server:443, priorities; caBundle is the CA of both Secrets (tls.mode=helm)', () => {
    const api = findManifest(rendered, 'APIService', 'v1alpha1.data.pcapper.dev') as ApiService;
    assert.equal(api.apiVersion, 'apiregistration.k8s.io/v1');
    const { caBundle, ...rest } = api.spec;
    assert.deepEqual(rest, { group: 'data.pcapper.dev', version: 'v1alpha1', service: { namespace: 'pcapper', name: 'pcapper-server', port: 443 }, groupPriorityMinimum: 1000, versionPriority: 15, insecureSkipTLSVerify: false });
    const ca = Buffer.from(caBundle ?? '', 'base64').toString('utf8');
    assert.match(ca, /^-----BEGIN CERTIFICATE-----\n/);
    assert.equal(secretData(rendered, 'pcapper-server-tls')['ca.crt'], ca);
    assert.equal(secretData(rendered, 'pcapper-agent-tls')['ca.crt'], ca);
  });

  it('tls.mode=helm: genCA/genSignedCert certificates verified with openssl (chain, CN, SANs, EKUs, key pairs) and in a real mutual TLS handshake', async () => {
    const server = secretData(rendered, 'pcapper-server-tls');
    const agent = secretData(rendered, 'pcapper-agent-tls');
    const f = (name: string, text: string): string => {
      const p = join(tmp, name);
      writeFileSync(p, text, { mode: 0o600 });
      return p;
    };
    const ca = f('ca.crt', server['ca.crt'] ?? '');
    const files = { server: [f('server.crt', server['tls.crt'] ?? ''), f('server.key', server['tls.key'] ?? '')], agent: [f('agent.crt', agent['tls.crt'] ?? ''), f('agent.key', agent['tls.key'] ?? '')] } as const;
    assert.match(openssl(['x509', '-in', ca, '-noout', '-subject', '-ext', 'basicConstraints']), /CN\s*=\s*pcapper-ca[\s\S]*CA:TRUE/);
    // Chains to the CA, for the purposes each certificate is used for.
    for (const [cert, purpose] of [[files.server[0], 'sslserver'], [files.server[0], 'sslclient'], [files.agent[0], 'sslserver']] as const) {
      assert.match(openssl(['verify', '-CAfile', ca, '-purpose', purpose, cert]), /: OK\n$/, `${cert} as ${purpose}`);
    }
    const info = (cert: string): string => openssl(['x509', '-in', cert, '-noout', '-subject', '-ext', 'subjectAltName,extendedKeyUsage']);
    const si = info(files.server[0]);
    assert.match(si, /subject=CN\s*=\s*pcapper-server\n/);
    assert.match(si, /DNS:pcapper-server\.pcapper\.svc, DNS:pcapper-server\.pcapper\.svc\.cluster\.local\n/);
    assert.match(si, /TLS Web Server Authentication, TLS Web Client Authentication/);
    const ai = info(files.agent[0]);
    assert.match(ai, /subject=CN\s*=\s*pcapper-agent\n/);
    assert.match(ai, /DNS:pcapper-agent\.pcapper\.svc\n/);
    // Helm's genSignedCert always sets both EKUs; the agent's clientAuth is unused (documented).
    assert.match(ai, /TLS Web Server Authentication, TLS Web Client Authentication/);
    for (const [cert, key] of [files.server, files.agent]) {
      assert.equal(openssl(['x509', '-in', cert, '-noout', '-pubkey']), openssl(['pkey', '-in', key, '-pubout']), `${key} belongs to ${cert}`);
    }
    // The server, as the agents' client, completes a handshake with an agent: each side checks the
    // other against ca.crt; the client checks the agent's name, the agent sees CN pcapper-server.
    const agentSrv = tls.createServer({ cert: agent['tls.crt'], key: agent['tls.key'], ca: server['ca.crt'], requestCert: true, rejectUnauthorized: true }, (sock) => {
      const peer = sock.getPeerCertificate();
      sock.end(String(peer.subject.CN));
    });
    await new Promise<void>((r) => agentSrv.listen(0, '127.0.0.1', r));
    try {
      const port = (agentSrv.address() as { port: number }).port;
      const seen = await new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, servername: 'pcapper-agent.pcapper.svc', ca: server['ca.crt'], cert: server['tls.crt'], key: server['tls.key'] }, () => {
          let got = '';
          s.setEncoding('utf8').on('data', (c: string) => (got += c)).on('end', () => resolve(got));
        });
        s.on('error', reject);
      });
      assert.equal(seen, 'pcapper-server');
      // The agent's certificate does not pass for another name (e.g. the server's).
      await assert.rejects(
        new Promise((resolve, reject) => {
          const s = tls.connect({ host: '127.0.0.1', port, servername: 'pcapper-server.pcapper.svc', ca: server['ca.crt'], cert: server['tls.crt'], key: server['tls.key'] }, () => resolve(s.end()));
          s.on('error', reject);
        }),
        /ERR_TLS_CERT_ALTNAME_INVALID|does not match|altnames/i,
      );
    } finally {
      await new Promise((r) => agentSrv.close(r));
    }
  });

  it('tls.mode=helm without a cluster (`helm template`): every render makes a new CA and new keys (lookup finds nothing to reuse)', async () => {
    const again = parseManifests(await helmTemplate());
    for (const name of ['pcapper-server-tls', 'pcapper-agent-tls']) {
      const a = secretData(rendered, name);
      const b = secretData(again, name);
      assert.notEqual(a['tls.key'], b['tls.key'], `${name}: a fresh key`);
      assert.notEqual(a['ca.crt'], b['ca.crt'], `${name}: a fresh CA`);
    }
    // What makes upgrades keep them is the lookup of both Secrets (shown against a real apiserver
    // with `helm upgrade` in test/deploy.test.ts).
    assert.match(readRepoFile('charts/pcapper/templates/apiservice.yaml'), /lookup "v1" "Secret" \$ns "pcapper-server-tls"[\s\S]*lookup "v1" "Secret" \$ns "pcapper-agent-tls"/);
  });

  it('tls.mode=certManager: self-signed Issuer -> CA Certificate -> CA Issuer -> the two Certificates into the same Secrets; APIService CA injected; no keys in the manifests', async () => {
    const text = await helmTemplate(['--set', 'tls.mode=certManager']);
    assert.doesNotMatch(text, /PRIVATE KEY/);
    const ms = parseManifests(text);
    // the encryption keys are the chart's in every tls mode (docs/storage.md section 5); no TLS Secret here
    assert.deepEqual(ms.filter((m) => m.kind === 'Secret').map((m) => m.metadata.name), ['pcapper-encryption-keys']);
    type Cert = Manifest & { spec: { secretName: string; commonName: string; isCA?: boolean; dnsNames?: string[]; usages?: string[]; issuerRef: { kind: string; name: string } } };
    type Issuer = Manifest & { spec: { selfSigned?: object; ca?: { secretName: string } } };
    assert.deepEqual((findManifest(ms, 'Issuer', 'pcapper-selfsigned') as Issuer).spec, { selfSigned: {} });
    const caCert = findManifest(ms, 'Certificate', 'pcapper-ca') as Cert;
    assert.equal(caCert.spec.isCA, true);
    assert.deepEqual(caCert.spec.issuerRef, { kind: 'Issuer', name: 'pcapper-selfsigned' });
    assert.deepEqual((findManifest(ms, 'Issuer', 'pcapper-ca') as Issuer).spec, { ca: { secretName: caCert.spec.secretName } });
    const server = findManifest(ms, 'Certificate', 'pcapper-server-tls') as Cert;
    assert.equal(server.spec.secretName, 'pcapper-server-tls');
    assert.equal(server.spec.commonName, 'pcapper-server');
    assert.deepEqual(server.spec.dnsNames, ['pcapper-server.pcapper.svc', 'pcapper-server.pcapper.svc.cluster.local']);
    assert.ok(server.spec.usages?.includes('server auth') && server.spec.usages.includes('client auth'));
    assert.deepEqual(server.spec.issuerRef, { kind: 'Issuer', name: 'pcapper-ca' });
    const agent = findManifest(ms, 'Certificate', 'pcapper-agent-tls') as Cert;
    assert.equal(agent.spec.secretName, 'pcapper-agent-tls');
    assert.equal(agent.spec.commonName, 'pcapper-agent');
    assert.deepEqual(agent.spec.dnsNames, ['pcapper-agent.pcapper.svc']);
    assert.deepEqual(agent.spec.issuerRef, { kind: 'Issuer', name: 'pcapper-ca' });
    const api = findManifest(ms, 'APIService', 'v1alpha1.data.pcapper.dev') as ApiService;
    assert.equal(api.metadata.annotations?.['cert-manager.io/inject-ca-from'], 'pcapper/pcapper-server-tls');
    assert.equal(api.spec.caBundle, undefined);
    for (const m of ms) assert.ok(m.apiVersion !== 'cert-manager.io/v1' || m.metadata.namespace === 'pcapper');
  });

  it('tls.mode=external: no Secrets, no keys; tls.caBundle (PEM, --set-file) becomes the APIService caBundle', async () => {
    const pem = join(tmp, 'external-ca.crt');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pcapper-ca', '-keyout', join(tmp, 'external-ca.key'), '-out', pem]);
    const text = await helmTemplate([...STATIC_VALUES, '--set-file', `tls.caBundle=${pem}`]);
    assert.doesNotMatch(text, /PRIVATE KEY/);
    const ms = parseManifests(text);
    assert.equal(ms.filter((m) => m.kind === 'Secret' || m.apiVersion.startsWith('cert-manager.io')).length, 0);
    const api = findManifest(ms, 'APIService', 'v1alpha1.data.pcapper.dev') as ApiService;
    assert.equal(Buffer.from(api.spec.caBundle ?? '', 'base64').toString('utf8'), readFileSync(pem, 'utf8'));
  });

  it('RBAC: the server reads only (captures, agent pods, the agent DaemonSet by name) and delegates auth; the agent lost tokenreviews/subjectaccessreviews; user roles gain exactly the data API', () => {
    const rules = (kind: string, name: string): unknown => rulesOf(findManifest(rendered, kind, name));
    assert.deepEqual(rules('ClusterRole', 'pcapper-server'), [
      { apiGroups: ['pcapper.dev'], resources: ['packetcaptures'], verbs: ['get'] },
      // reads from the store (docs/storage.md section 7): the capture's store, or the default one
      { apiGroups: ['pcapper.dev'], resources: ['packetcapturestores'], verbs: ['get', 'list'] },
      // its one write: a webhook firing recorded in the capture's status (docs/triggers.md)
      { apiGroups: ['pcapper.dev'], resources: ['packetcaptures/status'], verbs: ['patch'] },
    ]);
    const role = findManifest(rendered, 'Role', 'pcapper-server');
    assert.equal(role.metadata.namespace, 'pcapper');
    assert.deepEqual(rulesOf(role), [
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: ['pcapper-agent'], verbs: ['get'] },
    ]);
    type Binding = Manifest & { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] };
    const sa = [{ kind: 'ServiceAccount', name: 'pcapper-server', namespace: 'pcapper' }];
    const bindings = rendered.filter((m): m is Binding => (m.kind === 'RoleBinding' || m.kind === 'ClusterRoleBinding') && JSON.stringify((m as Binding).subjects) === JSON.stringify(sa));
    assert.deepEqual(bindings.map((b) => `${b.kind} ${b.metadata.namespace ?? ''} -> ${b.roleRef.kind}/${b.roleRef.name}`).sort(), [
      'ClusterRoleBinding  -> ClusterRole/pcapper-server',
      'ClusterRoleBinding  -> ClusterRole/system:auth-delegator',
      'RoleBinding kube-system -> Role/extension-apiserver-authentication-reader',
      'RoleBinding pcapper -> Role/pcapper-server',
    ]);
    const agentRules = JSON.stringify(rules('ClusterRole', 'pcapper-agent'));
    assert.doesNotMatch(agentRules, /tokenreviews|subjectaccessreviews/);
    const data = { apiGroups: ['data.pcapper.dev'], resources: ['packetcaptures/files', 'packetcaptures/log'], verbs: ['get'] };
    assert.deepEqual(rules('ClusterRole', 'pcapper-capture-user'), [
      { apiGroups: ['pcapper.dev'], resources: ['packetcaptures'], verbs: ['create', 'get', 'list', 'watch', 'delete'] },
      { apiGroups: ['pcapper.dev'], resources: ['packetcaptureschedules'], verbs: ['create', 'get', 'list', 'watch', 'update', 'patch', 'delete'] },
      data,
      { apiGroups: ['pcapper.dev'], resources: ['packetcaptures/files'], verbs: ['get'] },
      { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] },
    ]);
    assert.deepEqual(rules('ClusterRole', 'pcapper-admin'), [
      { apiGroups: ['pcapper.dev'], resources: ['packetcaptures', 'packetcaptures/status', 'packetcaptures/files', 'packetcaptures/trigger', 'packetcaptureschedules', 'packetcaptureschedules/status'], verbs: ['*'] },
      // only admins create, change or retire stores and sinks (docs/storage.md section 1, docs/kafka.md)
      { apiGroups: ['pcapper.dev'], resources: ['packetcapturestores', 'packetcapturesinks'], verbs: ['*'] },
      data,
      { apiGroups: ['data.pcapper.dev'], resources: ['packetcaptures/trigger'], verbs: ['create'] },
      { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], resourceNames: ['packetcaptures.pcapper.dev', 'packetcaptureschedules.pcapper.dev'], verbs: ['get'] },
    ]);
    assert.deepEqual(rules('ClusterRole', 'pcapper-view'), [{ apiGroups: ['pcapper.dev'], resources: ['packetcaptures', 'packetcaptureschedules'], verbs: ['get', 'list', 'watch'] }]);
    assert.doesNotMatch(JSON.stringify(rules('ClusterRole', 'pcapper-view')), /data\.pcapper\.dev|files|log/, 'view sees captures, never traffic');
  });

  it('NetworkPolicy: agents admit only the server pods and the metrics scraper on port https; the server admits any source on https; the controller only the scraper on metrics', async () => {
    const agent = findManifest(rendered, 'NetworkPolicy', 'pcapper-agent') as NetPol;
    assert.deepEqual(agent.spec.podSelector.matchLabels, AGENT_LABELS);
    assert.deepEqual(agent.spec.policyTypes, ['Ingress']);
    assert.deepEqual(agent.spec.ingress, [
      {
        from: [
          { podSelector: { matchLabels: SERVER_LABELS } },
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } },
        ],
        ports: [{ port: 'https', protocol: 'TCP' }],
      },
    ]);
    const server = findManifest(rendered, 'NetworkPolicy', 'pcapper-server') as NetPol;
    assert.deepEqual(server.spec.podSelector.matchLabels, SERVER_LABELS);
    assert.deepEqual(server.spec.ingress, [{ ports: [{ port: 'https', protocol: 'TCP' }] }], 'no `from`: kube-apiserver cannot be selected portably');
    const ctl = findManifest(rendered, 'NetworkPolicy', 'pcapper-controller') as NetPol;
    assert.deepEqual(ctl.spec.policyTypes, ['Ingress']);
    assert.deepEqual(ctl.spec.ingress, [
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }],
        ports: [{ port: 'metrics', protocol: 'TCP' }],
      },
    ], 'the scraper on the metrics port only');
    // The policies select the pods the workloads make.
    assert.deepEqual((findManifest(rendered, 'DaemonSet', 'pcapper-agent') as Workload).spec.selector.matchLabels, AGENT_LABELS);

    const custom = parseManifests(
      await helmTemplate(['--set', 'networkPolicy.metricsFrom[0].podSelector.matchLabels.app=vmagent', '--set', 'networkPolicy.serverFrom[0].ipBlock.cidr=10.0.0.0/24']),
    );
    assert.deepEqual((findManifest(custom, 'NetworkPolicy', 'pcapper-agent') as NetPol).spec.ingress?.[0]?.from, [{ podSelector: { matchLabels: SERVER_LABELS } }, { podSelector: { matchLabels: { app: 'vmagent' } } }]);
    assert.deepEqual((findManifest(custom, 'NetworkPolicy', 'pcapper-server') as NetPol).spec.ingress?.[0]?.from, [{ ipBlock: { cidr: '10.0.0.0/24' } }]);
    const serverOnly = parseManifests(await helmTemplate(['--set-json', 'networkPolicy.metricsFrom=[]']));
    assert.deepEqual((findManifest(serverOnly, 'NetworkPolicy', 'pcapper-agent') as NetPol).spec.ingress?.[0]?.from, [{ podSelector: { matchLabels: SERVER_LABELS } }]);
    assert.equal((findManifest(serverOnly, 'NetworkPolicy', 'pcapper-controller') as NetPol).spec.ingress, undefined, 'no scraper: no rule (an empty from would admit everyone)');
    const off = parseManifests(await helmTemplate(['--set', 'networkPolicy.enabled=false']));
    assert.equal(off.filter((m) => m.kind === 'NetworkPolicy').length, 0);
  });
});

describe('stores and encryption at rest in the chart (docs/storage.md sections 1, 2, 5)', () => {
  const podOf = (ms: Manifest[], kind: string, name: string): PodSpec => (findManifest(ms, kind, name) as Workload).spec.template.spec;
  const verbsFor = (m: Manifest, resource: string): string[] =>
    rulesOf(m)
      .filter((r) => r.resources?.includes(resource))
      .flatMap((r) => r.verbs)
      .sort();

  it('creates pcapper-encryption-keys once: an active key id and 32 random bytes, kept on uninstall; never in deploy/pcapper.yaml', async () => {
    const a = parseManifests(await helmTemplate());
    const b = parseManifests(await helmTemplate());
    const keysOf = (ms: Manifest[]) => (findManifest(ms, 'Secret', 'pcapper-encryption-keys') as unknown as { data: Record<string, string> }).data;
    const ka = keysOf(a);
    assert.equal(Buffer.from(ka.active ?? '', 'base64').toString(), 'k1');
    assert.equal(Buffer.from(ka['k1.key'] ?? '', 'base64').length, 32, 'a 32-byte KEK');
    assert.notEqual(ka['k1.key'], keysOf(b)['k1.key'], 'random per render (kept across upgrades by lookup, test/deploy.test.ts)');
    assert.equal(findManifest(a, 'Secret', 'pcapper-encryption-keys').metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    const stat = parseManifests(readRepoFile('deploy/pcapper.yaml'));
    assert.equal(stat.find((m) => m.kind === 'Secret' && m.metadata.name === 'pcapper-encryption-keys'), undefined, 'no key material in the static manifest');
  });

  it('mounts both store Secrets read-only into agent, server and controller (files, not the Secrets API)', async () => {
    const ms = parseManifests(await helmTemplate());
    for (const [kind, name, mode] of [
      ['DaemonSet', 'pcapper-agent', 256],
      ['Deployment', 'pcapper-server', 288],
      ['Deployment', 'pcapper-controller', 288],
    ] as const) {
      const pod = podOf(ms, kind, name);
      for (const [vol, secret, path] of [
        ['store-credentials', 'pcapper-store-credentials', '/etc/pcapper/store-credentials'],
        ['encryption-keys', 'pcapper-encryption-keys', '/etc/pcapper/keys'],
      ] as const) {
        const v = pod.volumes?.find((x) => x.name === vol);
        assert.equal(v?.secret?.secretName, secret, `${name} mounts ${secret}`);
        assert.equal(v?.secret?.defaultMode, mode, `${name}: ${secret} mode`);
        const c = pod.containers[0]!;
        const m = c.volumeMounts?.find((x) => x.name === vol);
        assert.equal(m?.mountPath, path);
        assert.equal(m?.readOnly, true);
      }
      const env = pod.containers[0]!.env ?? [];
      assert.equal(env.find((e) => e.name === 'PCAPPER_STORE_CREDENTIALS_DIR')?.value, '/etc/pcapper/store-credentials');
      assert.equal(env.find((e) => e.name === 'PCAPPER_KEYRING_DIR')?.value, '/etc/pcapper/keys');
      if (mode === 288) assert.equal(pod.securityContext?.fsGroup, 65532, `${name}: the non-root user reads 0440 files through fsGroup`);
    }
  });

  it('RBAC: controller, server and agent read stores; only the controller writes their status; nobody reads Secrets; admins manage stores', async () => {
    const ms = parseManifests(await helmTemplate());
    const ctl = findManifest(ms, 'ClusterRole', 'pcapper-controller');
    assert.deepEqual(verbsFor(ctl, 'packetcapturestores'), ['get', 'list', 'watch']);
    assert.deepEqual(verbsFor(ctl, 'packetcapturestores/status'), ['patch']);
    assert.deepEqual(verbsFor(ctl, 'namespaces'), ['list', 'watch']);
    assert.deepEqual(verbsFor(findManifest(ms, 'ClusterRole', 'pcapper-server'), 'packetcapturestores'), ['get', 'list']);
    assert.deepEqual(verbsFor(findManifest(ms, 'ClusterRole', 'pcapper-agent'), 'packetcapturestores'), ['get', 'list', 'watch']);
    for (const role of ms.filter((m) => m.kind === 'ClusterRole' || m.kind === 'Role')) {
      if (role.metadata.name.startsWith('pcapper-admin')) continue;
      assert.deepEqual(verbsFor(role, 'secrets'), [], `${role.metadata.name} has no verb on secrets`);
    }
    assert.deepEqual(verbsFor(findManifest(ms, 'ClusterRole', 'pcapper-admin'), 'packetcapturestores'), ['*']);
    assert.deepEqual(verbsFor(findManifest(ms, 'ClusterRole', 'pcapper-store-viewer'), 'packetcapturestores'), ['get', 'list', 'watch']);
    const binding = findManifest(ms, 'ClusterRoleBinding', 'pcapper-store-viewer') as unknown as { subjects: { kind: string; name: string }[] };
    assert.deepEqual(binding.subjects.map((s) => `${s.kind}/${s.name}`), ['Group/system:authenticated']);
    const off = parseManifests(await helmTemplate(['--set', 'rbac.storesVisibleToAllUsers=false']));
    assert.equal(off.find((m) => m.kind === 'ClusterRoleBinding' && m.metadata.name === 'pcapper-store-viewer'), undefined);
  });

  it('inClusterStore without an image fails with a message that says what to set', async () => {
    const r = await helm(['template', 'pcapper', CHART_DIR(), '--namespace', 'pcapper', '--set', 'inClusterStore.enabled=true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /inClusterStore.enabled needs inClusterStore.image.repository: pcapper's image does not contain versitygw/);
  });

  it('inClusterStore renders versitygw on a kept PVC, its Service, a NetworkPolicy for pcapper only, generated credentials and the in-cluster store', async () => {
    const ms = parseManifests(await helmTemplate(['--set', 'inClusterStore.enabled=true', '--set', 'inClusterStore.image.repository=registry.example/versitygw']));
    const pvc = findManifest(ms, 'PersistentVolumeClaim', 'pcapper-store');
    assert.equal(pvc.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    const pod = podOf(ms, 'Deployment', 'pcapper-store');
    assert.equal(pod.containers[0]!.image, 'registry.example/versitygw:v1.8.0');
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    const np = findManifest(ms, 'NetworkPolicy', 'pcapper-store') as unknown as { spec: { ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[] } };
    assert.deepEqual(np.spec.ingress[0]!.from.map((f) => f.podSelector.matchLabels['app.kubernetes.io/component']).sort(), ['agent', 'controller', 'server']);
    const creds = (findManifest(ms, 'Secret', 'pcapper-store-credentials') as unknown as { data: Record<string, string> }).data;
    assert.ok(Buffer.from(creds['in-cluster.accessKeyId'] ?? '', 'base64').length >= 12);
    assert.ok(Buffer.from(creds['in-cluster.secretAccessKey'] ?? '', 'base64').length >= 40);
    const st = findManifest(ms, 'PacketCaptureStore', 'in-cluster') as unknown as { spec: { s3: { endpoint: string; pathStyle: boolean }; default: boolean } };
    assert.equal(st.spec.s3.endpoint, 'http://pcapper-store.pcapper.svc:7070');
    assert.equal(st.spec.default, true);
  });

  it('stores from values render PacketCaptureStore objects', async () => {
    const spec = { s3: { endpoint: 'https://s3.eu-west-1.amazonaws.com', region: 'eu-west-1', bucket: 'caps', credentials: { accessKeyId: 't.a', secretAccessKey: 't.s' } }, allowedNamespaces: { names: ['shop'] } };
    const ms = parseManifests(await helmTemplate(['--set-json', `stores=${JSON.stringify([{ name: 'team-s3', spec }])}`]));
    assert.deepEqual((findManifest(ms, 'PacketCaptureStore', 'team-s3') as unknown as { spec: unknown }).spec, spec);
    const r = await helm(['template', 'pcapper', CHART_DIR(), '--namespace', 'pcapper', '--set-json', 'stores=[{"name":"x","spec":{}}]']);
    assert.notEqual(r.code, 0, 'a store without s3 is refused by values.schema.json');
    assert.match(r.stderr, /s3/);
  });
});
