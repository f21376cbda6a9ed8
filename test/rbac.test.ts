/**
 * The chart's RBAC against the real apiserver's RBAC authorizer.
 *
 * Minimality, per verb: every (apiGroup, resource, verb) the chart grants the controller and the
 * agent is tied to a real request of the kind the component makes (same path shape, method and
 * content type as src/k8s, src/controller, src/agent). With the chart's role the request is
 * authorized (`kubectl auth can-i` says yes, the request is not 403); with only that verb removed
 * from the role the same request gets 403 and can-i says no. A rule the table below does not know
 * fails the test, so nothing can be added to the chart without showing what it is for. That each
 * call is one the component really makes is shown from the other side by test/deploy-e2e.test.ts:
 * the real controller and agents run with exactly these roles and are never refused; and below,
 * for one rule each, the real process is run without it and breaks.
 *
 * Users: pcapper-capture-user bound in one namespace gives create/get/list/watch/delete of
 * captures and get of packetcaptures/files there and nowhere else; pcapper-admin covers every
 * namespace including the system one; an authenticated user without roles gets nothing (the
 * agent's own SubjectAccessReview says no). Not shown here: aggregation into admin/edit/view —
 * that is done by kube-controller-manager's clusterrole-aggregation controller, which this test
 * control plane does not run (test/helm.test.ts checks the labels).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { request } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import { startCluster, type Cluster } from './harness/cluster.js';
import { repoRoot } from './harness/paths.js';
import { findManifest, parseManifests, readRepoFile, rulesOf, type Manifest, type PolicyRule } from './tools/helm.js';

const SYSTEM_NS = 'pcapper';
const NS = 'rbac-a';
const PC = '/apis/pcapper.dev/v1alpha1';

interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  contentType?: string;
}
/** One granted verb: how to exercise it, and what in the component needs it. */
interface Grant {
  /** the request, built fresh each time (after `setup`) */
  call: () => Call | Promise<Call>;
  /** admin-side preparation so the request can succeed (e.g. an object to delete) */
  setup?: () => Promise<void>;
  why: string;
}

const merge = 'application/merge-patch+json';
const apply = 'application/apply-patch+yaml';
const capture = (name: string): object => ({
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCapture',
  metadata: { name, namespace: NS },
  spec: { targetPod: 'some-pod', captureSeconds: '5' },
});

describe('RBAC of the chart against the real RBAC authorizer (needs root: starts the local control plane)', () => {
  let cluster: Cluster;
  let manifests: Manifest[];
  const tokens: Record<string, string> = {};
  let deleteSeq = 0;
  let tmp: string;

  /** A request with a bearer token; resolves with the HTTP status (watch requests end after 1 s). */
  function send(token: string, c: Call): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const url = new URL(c.path, cluster.server);
      const body = c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
      const req = request(
        url,
        {
          method: c.method,
          ca: cluster.caData,
          headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(body ? { 'Content-Type': c.contentType ?? 'application/json' } : {}) },
          timeout: 10_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`timeout: ${c.method} ${c.path}`)));
      req.end(body);
    });
  }
  const admin = (c: Call): Promise<{ status: number; body: string }> => send(tokens.admin ?? '', c);
  async function adminOk(c: Call): Promise<void> {
    const r = await admin(c);
    assert.ok(r.status < 300 || r.status === 409, `admin ${c.method} ${c.path}: ${r.status} ${r.body}`);
  }

  async function canI(user: string, verb: string, resource: string, ns?: string, extra: string[] = []): Promise<boolean> {
    const r = await cluster.kubectl(['auth', 'can-i', verb, resource, `--as=${user}`, ...(ns ? ['-n', ns] : ['--all-namespaces']), ...extra]);
    assert.ok(r.code === 0 || r.stdout.trim() === 'no', `kubectl auth can-i ${verb} ${resource}: ${r.stderr}`);
    return r.stdout.trim() === 'yes';
  }

  /** What each verb the chart grants is for; keys are `group/resource:verb`. */
  const GRANTS: Record<string, Grant> = {
    'pcapper.dev/packetcaptures:get': {
      call: () => ({ method: 'GET', path: `${PC}/namespaces/${NS}/packetcaptures/probe` }),
      why: 'controller re-reads a capture before a forced status write (src/controller/controller.ts getPacketCapture)',
    },
    'pcapper.dev/packetcaptures:list': {
      call: () => ({ method: 'GET', path: `${PC}/packetcaptures` }),
      why: 'informer over all namespaces (src/k8s/informer.ts list)',
    },
    'pcapper.dev/packetcaptures:watch': {
      call: () => ({ method: 'GET', path: `${PC}/packetcaptures?watch=1&timeoutSeconds=1` }),
      why: 'informer watch',
    },
    'pcapper.dev/packetcaptures:patch': {
      call: () => ({ method: 'PATCH', path: `${PC}/namespaces/${NS}/packetcaptures/probe`, contentType: 'application/json-patch+json', body: [{ op: 'add', path: '/metadata/finalizers', value: [] }] }),
      why: 'controller adds/removes the pcapper.dev/cleanup finalizer (src/k8s/client.ts setFinalizers, JSON patch)',
    },
    'pcapper.dev/packetcaptures:delete': {
      setup: async () => adminOk({ method: 'POST', path: `${PC}/namespaces/${NS}/packetcaptures`, body: capture(`doomed-${++deleteSeq}`) }),
      call: () => ({ method: 'DELETE', path: `${PC}/namespaces/${NS}/packetcaptures/doomed-${deleteSeq}` }),
      why: 'controller deletes finished captures after ttlSecondsAfterFinished',
    },
    'pcapper.dev/packetcaptures/status:patch': {
      call: () => ({ method: 'PATCH', path: `${PC}/namespaces/${NS}/packetcaptures/probe/status?fieldManager=rbac-test&force=true`, contentType: apply, body: { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name: 'probe', namespace: NS }, status: {} } }),
      why: 'server-side apply of status (src/k8s/status.ts applyStatus): controller aggregate, agent its node entries',
    },
    '/pods:list': { call: () => ({ method: 'GET', path: '/api/v1/pods' }), why: 'pod informer (controller: all pods; agent: fieldSelector spec.nodeName)' },
    '/pods:watch': { call: () => ({ method: 'GET', path: '/api/v1/pods?watch=1&timeoutSeconds=1' }), why: 'pod informer watch' },
    '/nodes:list': { call: () => ({ method: 'GET', path: '/api/v1/nodes' }), why: 'controller node informer (node-interface targets)' },
    '/nodes:watch': { call: () => ({ method: 'GET', path: '/api/v1/nodes?watch=1&timeoutSeconds=1' }), why: 'controller node informer watch' },
    '/events:create': {
      call: () => ({ method: 'POST', path: `/api/v1/namespaces/${NS}/events`, body: { metadata: { generateName: 'probe.' }, involvedObject: { kind: 'PacketCapture', name: 'probe', namespace: NS }, reason: 'Probe', message: 'rbac test', type: 'Normal' } }),
      why: 'src/k8s/events.ts EventRecorder POST',
    },
    '/events:patch': {
      call: () => ({ method: 'PATCH', path: `/api/v1/namespaces/${NS}/events/probe-event`, contentType: merge, body: { count: 2 } }),
      why: 'EventRecorder bumps the count of a repeated event (merge patch)',
    },
    'coordination.k8s.io/leases:create': {
      call: () => ({ method: 'POST', path: `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NS}/leases`, body: { metadata: { name: 'pcapper-controller' }, spec: {} } }),
      why: 'the first candidate creates the Lease (src/k8s/leader.ts POST); 409 once it exists is still authorized',
    },
    'coordination.k8s.io/leases:get': {
      call: () => ({ method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NS}/leases/pcapper-controller` }),
      why: 'candidates read the Lease',
    },
    'coordination.k8s.io/leases:update': {
      call: async () => {
        const cur = JSON.parse((await admin({ method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NS}/leases/pcapper-controller` })).body) as object;
        return { method: 'PUT', path: `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NS}/leases/pcapper-controller`, body: cur };
      },
      why: 'take over / renew the Lease (src/k8s/leader.ts PUT with resourceVersion)',
    },
    'authentication.k8s.io/tokenreviews:create': {
      call: () => ({ method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'not-a-token' } } }),
      why: 'agent file server: who is the caller (src/agent/auth.ts)',
    },
    'authorization.k8s.io/subjectaccessreviews:create': {
      call: () => ({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'mallory', resourceAttributes: { group: 'pcapper.dev', resource: 'packetcaptures', subresource: 'files', verb: 'get', namespace: NS, name: 'probe' } } },
      }),
      why: 'agent file server: may the caller get packetcaptures/files (src/agent/auth.ts)',
    },
  };
  for (const kind of ['deployments', 'statefulsets', 'daemonsets', 'replicasets']) {
    GRANTS[`apps/${kind}:list`] = { call: () => ({ method: 'GET', path: `/apis/apps/v1/${kind}` }), why: `controller ${kind} informer (targetDeployment / workloadRef and owner chains)` };
    GRANTS[`apps/${kind}:watch`] = { call: () => ({ method: 'GET', path: `/apis/apps/v1/${kind}?watch=1&timeoutSeconds=1` }), why: `controller ${kind} informer watch` };
  }

  /** The role's rules expanded to one entry per (group, resource, verb). */
  function grantsOf(role: Manifest): { key: string; group: string; resource: string; verb: string; names: string[] | undefined }[] {
    return rulesOf(role).flatMap((r) =>
      (r.apiGroups ?? ['']).flatMap((group) => (r.resources ?? []).flatMap((resource) => r.verbs.map((verb) => ({ key: `${group}/${resource}:${verb}`, group, resource, verb, names: r.resourceNames })))),
    );
  }
  function withoutVerb(role: Manifest, group: string, resource: string, verb: string): Manifest {
    const rules: PolicyRule[] = [];
    for (const r of rulesOf(role)) {
      if (!(r.apiGroups ?? ['']).includes(group) || !(r.resources ?? []).includes(resource) || !r.verbs.includes(verb)) {
        rules.push(r);
        continue;
      }
      // Split the rule so that only this one (group, resource, verb) goes.
      for (const g of r.apiGroups ?? ['']) {
        for (const res of r.resources ?? []) {
          const verbs = g === group && res === resource ? r.verbs.filter((v) => v !== verb) : r.verbs;
          if (verbs.length > 0) rules.push({ ...r, apiGroups: [g], resources: [res], verbs });
        }
      }
    }
    return { ...role, rules };
  }
  async function replaceRole(role: Manifest): Promise<void> {
    const r = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=pcapper-install', '-f', '-'], { input: JSON.stringify(role) });
    assert.equal(r.code, 0, r.stderr);
  }
  const resourceArg = (group: string, resource: string): string[] => {
    const [res, sub] = resource.split('/');
    return [`${res ?? ''}${group ? `.${group}` : ''}`, ...(sub ? [`--subresource=${sub}`] : [])];
  };

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pcapper-rbac-'));
    cluster = await startCluster();
    const text = readRepoFile('deploy/pcapper.yaml');
    manifests = parseManifests(text);
    const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=pcapper-install', '-f', '-'], { input: text });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/packetcaptures.pcapper.dev'])).code, 0);
    tokens.admin = cluster.kubeConfig.getCurrentUser()?.token ?? '';
    for (const sa of ['pcapper-controller', 'pcapper-agent']) {
      const kc: k8s.KubeConfig = await cluster.serviceAccountKubeConfig(SYSTEM_NS, sa);
      tokens[sa] = kc.getCurrentUser()?.token ?? '';
    }
    for (const u of ['alice', 'bob', 'mallory'] as const) tokens[u] = cluster.userKubeConfig(u).getCurrentUser()?.token ?? '';
    await adminOk({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: NS } } });
    await adminOk({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: 'rbac-b' } } });
    await adminOk({ method: 'POST', path: `${PC}/namespaces/${NS}/packetcaptures`, body: capture('probe') });
    await adminOk({ method: 'POST', path: `/api/v1/namespaces/${NS}/events`, body: { metadata: { name: 'probe-event' }, involvedObject: { kind: 'PacketCapture', name: 'probe', namespace: NS }, reason: 'Probe', message: 'x', type: 'Normal' } });
  });
  after(async () => {
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  for (const [sa, roleKind, roleName] of [
    ['pcapper-controller', 'ClusterRole', 'pcapper-controller'],
    ['pcapper-controller', 'Role', 'pcapper-controller-leader-election'],
    ['pcapper-agent', 'ClusterRole', 'pcapper-agent'],
  ] as const) {
    it(`${roleKind} ${roleName}: every granted verb is needed by a real request (authorized with it, 403 without it)`, async () => {
      const role = findManifest(manifests, roleKind, roleName);
      const user = `system:serviceaccount:${SYSTEM_NS}:${sa}`;
      const ns = roleKind === 'Role' ? SYSTEM_NS : NS;
      const grants = grantsOf(role);
      assert.ok(grants.length > 0);
      const unknown = grants.filter((g) => !GRANTS[g.key]).map((g) => g.key);
      assert.deepEqual(unknown, [], 'every rule of the chart has a request that needs it (add it to GRANTS with the reason)');
      for (const g of grants) {
        const grant = GRANTS[g.key];
        assert.ok(grant);
        const canArgs = resourceArg(g.group, g.resource);
        const name = g.names?.[0];
        // a rule limited by resourceNames is asked about its named object
        const target = name ? [`${canArgs[0] ?? ''}/${name}`, ...canArgs.slice(1)] : canArgs;
        // with the chart's role
        await grant.setup?.();
        assert.ok(await canI(user, g.verb, target[0] ?? '', ns, target.slice(1)), `${user} can ${g.verb} ${g.key}`);
        const ok = await send(tokens[sa] ?? '', await grant.call());
        assert.notEqual(ok.status, 403, `${g.key} (${grant.why}) must be authorized: ${ok.body}`);
        // without exactly this verb
        await replaceRole(withoutVerb(role, g.group, g.resource, g.verb));
        for (let i = 0; i < 50 && (await canI(user, g.verb, target[0] ?? '', ns, target.slice(1))); i++) await new Promise((r) => setTimeout(r, 100));
        assert.equal(await canI(user, g.verb, target[0] ?? '', ns, target.slice(1)), false, `without the rule ${user} cannot ${g.verb} ${g.key}`);
        await grant.setup?.();
        const denied = await send(tokens[sa] ?? '', await grant.call());
        assert.equal(denied.status, 403, `${g.key} without its rule must be refused (${grant.why}): ${denied.status} ${denied.body}`);
        await replaceRole(role);
        for (let i = 0; i < 50 && !(await canI(user, g.verb, target[0] ?? '', ns, target.slice(1))); i++) await new Promise((r) => setTimeout(r, 100));
      }
    });
  }

  it('the Lease rule is limited to pcapper-controller; the ServiceAccounts get nothing beyond their roles', async () => {
    const ctl = `system:serviceaccount:${SYSTEM_NS}:pcapper-controller`;
    const agent = `system:serviceaccount:${SYSTEM_NS}:pcapper-agent`;
    assert.equal((await send(tokens['pcapper-controller'] ?? '', { method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NS}/leases/someone-else` })).status, 403);
    assert.equal(await canI(ctl, 'get', 'leases', 'kube-system'), false);
    for (const [user, verb, res, ns] of [
      [ctl, 'get', 'secrets', NS],
      [ctl, 'create', 'pods', NS],
      [ctl, 'create', 'pods/exec', NS],
      [ctl, 'update', 'packetcaptures.pcapper.dev', NS],
      [ctl, 'get', 'packetcaptures.pcapper.dev/files', NS],
      [agent, 'get', 'secrets', NS],
      [agent, 'get', 'pods', NS],
      [agent, 'patch', 'pods', NS],
      [agent, 'create', 'packetcaptures.pcapper.dev', NS],
      [agent, 'delete', 'packetcaptures.pcapper.dev', NS],
      [agent, 'patch', 'packetcaptures.pcapper.dev', NS],
      [agent, 'get', 'packetcaptures.pcapper.dev', NS],
      [agent, 'list', 'nodes', undefined],
      [agent, 'create', 'leases.coordination.k8s.io', SYSTEM_NS],
    ] as const) {
      const [r, sub] = res.split('/');
      assert.equal(await canI(user, verb, r ?? '', ns, sub ? [`--subresource=${sub}`] : []), false, `${user} must not ${verb} ${res}`);
    }
  });

  it('pcapper-capture-user bound in one namespace: captures and their files there, nothing elsewhere', async () => {
    const rb = await cluster.kubectl(['create', 'rolebinding', 'alice-pcap', '-n', NS, '--clusterrole=pcapper-capture-user', '--user=alice']);
    assert.equal(rb.code, 0, rb.stderr);
    for (const verb of ['create', 'get', 'list', 'watch', 'delete']) {
      assert.ok(await canI('alice', verb, 'packetcaptures.pcapper.dev', NS), `alice can ${verb} in ${NS}`);
      assert.equal(await canI('alice', verb, 'packetcaptures.pcapper.dev', 'rbac-b'), false, `alice cannot ${verb} in rbac-b`);
      assert.equal(await canI('alice', verb, 'packetcaptures.pcapper.dev', SYSTEM_NS), false, `alice cannot ${verb} in ${SYSTEM_NS}`);
    }
    assert.ok(await canI('alice', 'get', 'packetcaptures.pcapper.dev', NS, ['--subresource=files']));
    assert.equal(await canI('alice', 'get', 'packetcaptures.pcapper.dev', 'rbac-b', ['--subresource=files']), false);
    for (const [verb, sub] of [['update', ''], ['patch', ''], ['patch', 'status'], ['update', 'status']] as const) {
      assert.equal(await canI('alice', verb, 'packetcaptures.pcapper.dev', NS, sub ? [`--subresource=${sub}`] : []), false, `alice cannot ${verb} ${sub || 'packetcaptures'}`);
    }
    assert.equal(await canI('alice', 'get', 'secrets', NS), false);
    // Real requests with her token.
    const mine = await send(tokens.alice ?? '', { method: 'POST', path: `${PC}/namespaces/${NS}/packetcaptures`, body: capture('alices') });
    assert.equal(mine.status, 201, mine.body);
    assert.equal((await send(tokens.alice ?? '', { method: 'GET', path: `${PC}/namespaces/${NS}/packetcaptures/alices` })).status, 200);
    const other = await send(tokens.alice ?? '', { method: 'POST', path: `${PC}/namespaces/rbac-b/packetcaptures`, body: { ...capture('alices'), metadata: { name: 'alices', namespace: 'rbac-b' } } });
    assert.equal(other.status, 403);
    assert.equal((await send(tokens.alice ?? '', { method: 'GET', path: `${PC}/packetcaptures` })).status, 403, 'no cluster-wide list');
    assert.equal((await send(tokens.alice ?? '', { method: 'DELETE', path: `${PC}/namespaces/${NS}/packetcaptures/alices` })).status, 200);
  });

  it('an authenticated user without roles (mallory) may not read capture files: the agent\'s SubjectAccessReview says no', async () => {
    const sar = (user: string, groups: string[], ns: string) =>
      send(tokens['pcapper-agent'] ?? '', {
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups, resourceAttributes: { group: 'pcapper.dev', resource: 'packetcaptures', subresource: 'files', verb: 'get', namespace: ns, name: 'probe' } } },
      });
    const m = JSON.parse((await sar('mallory', ['system:authenticated'], NS)).body) as { status: { allowed: boolean } };
    assert.equal(m.status.allowed, false);
    const a = JSON.parse((await sar('alice', ['pcapper:users', 'system:authenticated'], NS)).body) as { status: { allowed: boolean } };
    assert.equal(a.status.allowed, true, 'the same review allows alice in her namespace');
    assert.equal((await send(tokens.mallory ?? '', { method: 'GET', path: `${PC}/namespaces/${NS}/packetcaptures` })).status, 403);
  });

  it('pcapper-view: captures and their status, never the traffic', async () => {
    const rb = await cluster.kubectl(['create', 'rolebinding', 'bob-view', '-n', NS, '--clusterrole=pcapper-view', '--user=bob']);
    assert.equal(rb.code, 0, rb.stderr);
    for (const verb of ['get', 'list', 'watch']) assert.ok(await canI('bob', verb, 'packetcaptures.pcapper.dev', NS));
    for (const verb of ['create', 'delete', 'patch']) assert.equal(await canI('bob', verb, 'packetcaptures.pcapper.dev', NS), false);
    assert.equal(await canI('bob', 'get', 'packetcaptures.pcapper.dev', NS, ['--subresource=files']), false);
    assert.equal((await cluster.kubectl(['delete', 'rolebinding', 'bob-view', '-n', NS])).code, 0);
  });

  it('pcapper-admin (ClusterRoleBinding): captures and files in every namespace including the system namespace', async () => {
    const crb = await cluster.kubectl(['create', 'clusterrolebinding', 'bob-pcapper-admin', '--clusterrole=pcapper-admin', '--user=bob']);
    assert.equal(crb.code, 0, crb.stderr);
    for (const ns of [NS, 'rbac-b', SYSTEM_NS]) {
      for (const verb of ['create', 'get', 'list', 'delete', 'update']) assert.ok(await canI('bob', verb, 'packetcaptures.pcapper.dev', ns), `bob can ${verb} in ${ns}`);
      assert.ok(await canI('bob', 'get', 'packetcaptures.pcapper.dev', ns, ['--subresource=files']));
    }
    assert.equal(await canI('bob', 'get', 'secrets', SYSTEM_NS), false, 'pcapper-admin is about pcapper only');
    assert.equal(await canI('bob', 'get', 'pods', SYSTEM_NS), false, 'the system namespace Role is bound separately (rbac.adminSubjects)');
    const node = await send(tokens.bob ?? '', { method: 'POST', path: `${PC}/namespaces/${SYSTEM_NS}/packetcaptures`, body: { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name: 'node-eth0', namespace: SYSTEM_NS }, spec: { targetNode: 'node-a', targetInterface: 'eth0', captureSeconds: '5' } } });
    assert.equal(node.status, 201, node.body);
  });

  // ---- a rule removed, the real component breaks --------------------------------------------

  /** Starts a component process with a service-account kubeconfig; returns it and a log accessor. */
  function startProcess(argv: string[], env: Record<string, string>): { child: ChildProcess; log: () => string; stop: () => Promise<void> } {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PCAPPER_LOG_FORMAT: 'text', ...env } });
    let log = '';
    for (const s of [child.stdout, child.stderr]) s?.setEncoding('utf8').on('data', (c: string) => (log += c));
    return {
      child,
      log: () => log,
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      },
    };
  }
  const kubeconfigFor = (sa: string): string => cluster.writeKubeconfig(`rbac-${sa}`, tokens[sa] ?? '');
  async function waitLog(p: { child: ChildProcess; log: () => string }, re: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const line = p.log().split('\n').find((l) => re.test(l));
      if (line) return line;
      if (p.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no ${re} in the log:\n${p.log().slice(-3000)}`);
  }

  it('controller without `list` on deployments: the real controller\'s Deployment informer is refused (403 in its log)', async () => {
    const role = findManifest(manifests, 'ClusterRole', 'pcapper-controller');
    await replaceRole(withoutVerb(role, 'apps', 'deployments', 'list'));
    const bin = join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js');
    const p = startProcess([bin, 'controller', '--kubeconfig', kubeconfigFor('pcapper-controller'), '--identity', 'rbac-test'], {});
    try {
      const line = await waitLog(p, /403|forbidden/i);
      assert.match(line, /deployments/);
    } finally {
      await p.stop();
      await replaceRole(role);
    }
  });

  it('agent without `create` on subjectaccessreviews: downloads fail closed (503), never open', async () => {
    const role = findManifest(manifests, 'ClusterRole', 'pcapper-agent');
    await replaceRole(withoutVerb(role, 'authorization.k8s.io', 'subjectaccessreviews', 'create'));
    const dataDir = join(tmp, 'agent-data');
    const agentArgs = [join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js'), 'agent', '--kubeconfig', kubeconfigFor('pcapper-agent')];
    const p = startProcess(agentArgs, { NODE_NAME: 'node-a', PCAPPER_DATA_DIR: dataDir, PCAPPER_LISTEN: '127.0.0.1:0', MIN_FREE_DISK: '1G' });
    try {
      const started = await waitLog(p, /agent started .*endpoint=(\S+)/);
      const endpoint = /endpoint=(\S+)/.exec(started)?.[1] ?? '';
      const status = (): Promise<number> =>
        new Promise<number>((resolve, reject) => {
          http
            .get(`${endpoint}/v1/captures/${NS}/probe/files`, { headers: { Authorization: `Bearer ${tokens.alice ?? ''}` } }, (r) => {
              r.resume();
              resolve(r.statusCode ?? 0);
            })
            .on('error', reject);
        });
      assert.equal(await status(), 503, 'the agent cannot ask the apiserver, so it refuses');
      // The same request once the rule is back: answered (alice may read rbac-a), not 503.
      await replaceRole(role);
      let after = 0;
      for (let i = 0; i < 50 && (after = await status()) === 503; i++) await new Promise((r) => setTimeout(r, 100));
      assert.notEqual(after, 503);
      assert.ok(after === 200 || after === 404, `authorized answer, got ${after}`);
    } finally {
      await p.stop();
      await replaceRole(role);
    }
  });
});
