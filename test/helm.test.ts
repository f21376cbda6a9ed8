/**
 * The Helm chart without a cluster: `helm lint`, `helm template`, values.schema.json rejections,
 * the generated files (deploy/pcapper.yaml, charts/pcapper/files/crd.yaml) against their sources,
 * and the security-relevant shape of what the chart renders. Applying it to a real apiserver is
 * test/deploy.test.ts; its RBAC against the real authorizer is test/rbac.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import { parse } from 'yaml';
import { CHART_DIR, GEN_COMMAND, findManifest, helm, helmTemplate, parseManifests, readRepoFile, type Manifest } from './tools/helm.js';

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
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  hostPID?: boolean;
  hostNetwork?: boolean;
  serviceAccountName?: string;
  tolerations?: { operator?: string; key?: string }[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  containers: Container[];
  volumes?: { name: string; hostPath?: { path: string; type?: string } }[];
}
interface Workload extends Manifest {
  spec: { replicas?: number; template: { metadata: { annotations?: Record<string, string> }; spec: PodSpec } };
}

const podSpec = (m: Manifest): PodSpec => (m as Workload).spec.template.spec;
const env = (c: Container, name: string): EnvVar | undefined => c.env?.find((e) => e.name === name);

describe('helm chart charts/pcapper', () => {
  let rendered: Manifest[];
  before(async () => {
    rendered = parseManifests(await helmTemplate());
  });

  it('passes `helm lint --strict` with default values and with every optional feature on', async () => {
    for (const sets of [
      [],
      ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'agent.tlsSecretName=pcapper-agent-tls', '--set', 'controller.replicas=2', '--set', 'agent.hostNetwork=true'],
      ['--set', 'namespace.create=false', '--set', 'crds.install=false', '--set', 'rbac.adminSubjects[0].kind=Group', '--set', 'rbac.adminSubjects[0].name=platform-admins'],
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

  it(`deploy/pcapper.yaml is the chart rendered with default values (regenerate: ${GEN_COMMAND})`, async () => {
    const r = await helm(['template', 'pcapper', CHART_DIR(), '--namespace', 'pcapper', '--kube-version', 'v1.34.0']);
    assert.equal(r.code, 0, r.stderr);
    const expected = `# Generated by \`${GEN_COMMAND}\` from charts/pcapper with default values; do not edit.\n${r.stdout}`;
    assert.ok(readRepoFile('deploy/pcapper.yaml') === expected, `deploy/pcapper.yaml is stale: run \`${GEN_COMMAND}\` and commit the result`);
  });

  it(`the chart's CRD is deploy/crd.yaml (one source; regenerate: ${GEN_COMMAND})`, async () => {
    const source = readRepoFile('deploy/crd.yaml');
    assert.ok(readRepoFile('charts/pcapper/files/crd.yaml') === source, `charts/pcapper/files/crd.yaml differs from deploy/crd.yaml: run \`${GEN_COMMAND}\``);
    const want = parse(source) as Manifest & { spec: unknown };
    const crd = findManifest(rendered, 'CustomResourceDefinition', want.metadata.name) as Manifest & { spec: unknown };
    // Only labels and the keep policy are added; the schema goes through Helm's YAML round trip
    // (fromYaml/toYaml) unchanged.
    assert.deepEqual(crd.spec, want.spec);
    assert.equal(crd.apiVersion, want.apiVersion);
    assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    const off = parseManifests(await helmTemplate(['--set', 'crds.install=false']));
    assert.equal(off.filter((m) => m.kind === 'CustomResourceDefinition').length, 0);
  });

  it('labels only the system namespace privileged for Pod Security admission', () => {
    const nss = rendered.filter((m) => m.kind === 'Namespace');
    assert.deepEqual(nss.map((n) => n.metadata.name), ['pcapper']);
    assert.equal(nss[0]?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    for (const m of rendered) {
      if (m.kind === 'Namespace' || m.kind.startsWith('Cluster') || m.kind === 'CustomResourceDefinition') continue;
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
    assert.equal(c.readinessProbe?.httpGet?.path, '/healthz');
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
    const ann = (ds as Workload).spec.template.metadata.annotations ?? {};
    assert.equal(ann['prometheus.io/scrape'], 'true');
    assert.equal(ann['prometheus.io/port'], String(c.ports?.[0]?.containerPort));

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
    assert.deepEqual(sm.spec.endpoints.map((e) => [e.port, e.path]), [['files', '/metrics']]);
    const svc = findManifest(ms, 'Service', 'pcapper-agent') as Manifest & { spec: { selector: Record<string, string>; clusterIP: string } };
    assert.deepEqual(svc.spec.selector, sm.spec.selector.matchLabels);
    const ds = findManifest(ms, 'DaemonSet', 'pcapper-agent') as Manifest & { spec: { selector: { matchLabels: Record<string, string> } } };
    assert.deepEqual(ds.spec.selector.matchLabels, svc.spec.selector);
  });
});
