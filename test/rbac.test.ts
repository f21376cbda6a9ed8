/**
 * The chart's RBAC against the real apiserver's RBAC authorizer.
 *
 * Minimality, per verb: every (apiGroup, resource, verb) the chart grants the controller, the agent
 * and the pcapper server is tied to a real request of the kind the component makes (same path
 * shape, method and content type as src/k8s, src/controller, src/agent, src/server/kube.ts). With
 * the chart's role the request is
 * authorized (`kubectl auth can-i` says yes, the request is not 403); with only that verb removed
 * from the role the same request gets 403 and can-i says no. A rule the table below does not know
 * fails the test, so nothing can be added to the chart without showing what it is for, and an entry
 * no role grants any more fails it too. An entry may say `notMade` (a grant no request of the
 * component makes): it is still checked against the authorizer and listed in the test's output;
 * today there is none. That each
 * call is one the component really makes is shown from the other side by test/deploy-e2e.test.ts:
 * the real controller and agents run with exactly these roles and are never refused; and below,
 * for one rule each, the real process is run without it and breaks.
 *
 * The server's bindings to built-in roles (system:auth-delegator, extension-apiserver-authentication-
 * reader) are checked with `kubectl auth can-i` and with the server's own reads (src/server/kube.ts
 * ServerKubeApi, as its ServiceAccount); without the auth-delegator binding the server's real
 * SubjectAccessReview authorizer (src/server/authz.ts) fails closed.
 *
 * Users: pcapper-capture-user bound in one namespace gives create/get/list/watch/delete of
 * captures, get of packetcaptures/files, and get of the data API's packetcaptures/files and
 * packetcaptures/log (data.pcapper.dev) there and nowhere else; pcapper-view never the traffic;
 * pcapper-admin covers every namespace including the system one; an authenticated user without
 * roles gets nothing (the server's SubjectAccessReview says no). Data API permissions are asked
 * with a SubjectAccessReview (what kube-apiserver asks before it proxies): with no pcapper server
 * running here data.pcapper.dev is not discoverable and `kubectl auth can-i` would resolve the
 * resource unreliably. Not shown here: aggregation into admin/edit/view —
 * that is done by kube-controller-manager's clusterrole-aggregation controller, which this test
 * control plane does not run (test/helm.test.ts checks the labels).
 */
import { startProcess } from './harness/process.js';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as k8s from '@kubernetes/client-node';
import { clientFor, KubeApiError, loadKubeConfig } from '../src/k8s/client.js';
import { reviewFor, SarAuthorizer } from '../src/server/authz.js';
import type { Identity } from '../src/server/identity.js';
import { ServerKubeApi } from '../src/server/kube.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { repoRoot } from './harness/paths.js';
import { findManifest, parseManifests, readRepoFile, rulesOf, type Manifest, type PolicyRule } from './tools/helm.js';
import { eventually } from './harness/eventually.js';

const SYSTEM_NS = 'pcapper';
const NS = 'rbac-a';
const PC = '/apis/pcapper.dev/v1alpha1';
let createSeq = 0;
const schedule = (name: string): object => ({ apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCaptureSchedule', metadata: { name }, spec: { schedule: '0 0 1 1 *', suspend: true, captureTemplate: { spec: { targetPod: 'probe' } } } });

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
  /** Granted by the chart but made by no request of the component today (reported, still checked). */
  notMade?: true;
}

const merge = 'application/merge-patch+json';
const apply = 'application/apply-patch+yaml';
/** Identities as kube-apiserver forwards them to the server (static users of the harness). */
const ALICE: Identity = { user: 'alice', uid: undefined, groups: ['pcapper:users', 'system:authenticated'], extra: {} };
const MALLORY: Identity = { user: 'mallory', uid: undefined, groups: ['system:authenticated'], extra: {} };
const AUTH_DELEGATOR_BINDING = 'pcapper-server:system:auth-delegator';
const AGENT_PODS = `labelSelector=${encodeURIComponent('app.kubernetes.io/component=agent')}`;
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
      why: 'controller re-reads a capture before a forced status write (src/controller/controller.ts getPacketCapture); the server reads the capture a data request names (src/server/kube.ts getCapture)',
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
    'pcapper.dev/packetcaptures:create': {
      call: () => ({ method: 'POST', path: `${PC}/namespaces/${NS}/packetcaptures`, body: capture(`scheduled-${++createSeq}`) }),
      why: 'the schedule controller creates each run\'s capture (src/controller/schedule-controller.ts)',
    },
    'pcapper.dev/packetcaptureschedules:list': {
      call: () => ({ method: 'GET', path: `${PC}/packetcaptureschedules` }),
      why: 'schedule informer over all namespaces',
    },
    'pcapper.dev/packetcaptureschedules:watch': {
      call: () => ({ method: 'GET', path: `${PC}/packetcaptureschedules?watch=1&timeoutSeconds=1` }),
      why: 'schedule informer watch',
    },
    'pcapper.dev/packetcaptureschedules/status:patch': {
      setup: async () => adminOk({ method: 'POST', path: `${PC}/namespaces/${NS}/packetcaptureschedules`, body: schedule('probe-sched') }),
      call: () => ({ method: 'PATCH', path: `${PC}/namespaces/${NS}/packetcaptureschedules/probe-sched/status?fieldManager=rbac-test&force=true`, contentType: apply, body: { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCaptureSchedule', metadata: { name: 'probe-sched', namespace: NS }, status: {} } }),
      why: 'server-side apply of a schedule\'s status (src/controller/schedule-controller.ts)',
    },
    'pcapper.dev/packetcaptureschedules/finalizers:update': {
      setup: async () => adminOk({ method: 'POST', path: `${PC}/namespaces/${NS}/packetcaptureschedules`, body: schedule('probe-sched') }),
      call: () => ({ method: 'PUT', path: `${PC}/namespaces/${NS}/packetcaptureschedules/probe-sched/finalizers`, body: schedule('probe-sched') }),
      why: 'blockOwnerDeletion on the captures\' ownerReferences needs it where OwnerReferencesPermissionEnforcement is on (the harness does not enable that plugin: the request made here is the authorization check alone; nothing serves the subresource)',
      notMade: true,
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
    '/events:list': { call: () => ({ method: 'GET', path: `/api/v1/namespaces/${NS}/events` }), why: 'controller: Event informer of a namespace an Event trigger watches (src/controller/trigger-controller.ts)' },
    '/events:watch': { call: () => ({ method: 'GET', path: `/api/v1/namespaces/${NS}/events?watch=1&timeoutSeconds=1` }), why: 'controller: Event informer watch (Event triggers)' },
    '/events:patch': {
      call: () => ({ method: 'PATCH', path: `/api/v1/namespaces/${NS}/events/probe-event`, contentType: merge, body: { count: 2 } }),
      why: 'EventRecorder bumps the count of a repeated event (merge patch)',
    },
    'pcapper.dev/packetcapturestores:get': {
      call: () => ({ method: 'GET', path: `${PC}/packetcapturestores/probe-store` }),
      why: "the server reads the store a capture names (src/server/kube.ts getStore); the agent's store lookups",
    },
    'pcapper.dev/packetcapturestores:list': {
      call: () => ({ method: 'GET', path: `${PC}/packetcapturestores` }),
      why: 'store informer (controller, agent); the server finds the default store (src/server/kube.ts listStores)',
    },
    'pcapper.dev/packetcapturesinks:list': {
      call: () => ({ method: 'GET', path: `${PC}/packetcapturesinks` }),
      why: 'sink informer (controller: spec.sink must exist and allow the namespace; agent: where to publish)',
    },
    'pcapper.dev/packetcapturesinks:watch': {
      call: () => ({ method: 'GET', path: `${PC}/packetcapturesinks?watch=1&timeoutSeconds=1` }),
      why: 'sink informer watch (controller, agent)',
    },
    'pcapper.dev/packetcapturestores:watch': {
      call: () => ({ method: 'GET', path: `${PC}/packetcapturestores?watch=1&timeoutSeconds=1` }),
      why: 'store informer watch (controller, agent)',
    },
    'pcapper.dev/packetcapturestores/status:patch': {
      call: () => ({ method: 'PATCH', path: `${PC}/packetcapturestores/probe-store/status?fieldManager=pcapper-controller-store&force=true`, contentType: apply, body: { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCaptureStore', metadata: { name: 'probe-store' }, status: {} } }),
      why: "the controller applies a store's Ready condition after probing its bucket (src/controller/store-shell.ts probeAndRecord)",
    },
    '/namespaces:list': { call: () => ({ method: 'GET', path: '/api/v1/namespaces' }), why: "controller namespace informer (stores' allowedNamespaces.selector)" },
    '/namespaces:watch': { call: () => ({ method: 'GET', path: '/api/v1/namespaces?watch=1&timeoutSeconds=1' }), why: 'controller namespace informer watch' },
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
  };
  for (const kind of ['deployments', 'statefulsets', 'daemonsets', 'replicasets']) {
    GRANTS[`apps/${kind}:list`] = { call: () => ({ method: 'GET', path: `/apis/apps/v1/${kind}` }), why: `controller ${kind} informer (targetDeployment / workloadRef and owner chains)` };
    GRANTS[`apps/${kind}:watch`] = { call: () => ({ method: 'GET', path: `/apis/apps/v1/${kind}?watch=1&timeoutSeconds=1` }), why: `controller ${kind} informer watch` };
  }

  /**
   * Where one role's real request for a key differs from GRANTS (the server lists pods only in the
   * system namespace, with selectors), or the role does not make it at all; keys `Kind/name`.
   */
  const ROLE_GRANTS: Record<string, Record<string, Grant>> = {
    'ClusterRole/pcapper-server': {
    },
    'Role/pcapper-server': {
      '/pods:list': {
        call: () => ({ method: 'GET', path: `/api/v1/namespaces/${SYSTEM_NS}/pods?${AGENT_PODS}&fieldSelector=${encodeURIComponent('spec.nodeName=node-a')}` }),
        why: "the agent of a node: agent pods on it (src/server/kube.ts agentPods, AgentLocator.locate; locateAll without the field selector)",
      },
      'apps/daemonsets:get': {
        call: () => ({ method: 'GET', path: `/apis/apps/v1/namespaces/${SYSTEM_NS}/daemonsets/pcapper-agent` }),
        why: "the agent DaemonSet's uid, which agent pods must be controlled by (src/server/kube.ts daemonSetUid)",
      },
    },
  };
  /** The roles whose every verb is checked: [ServiceAccount, kind, name]. */
  const CHECKED_ROLES = [
    ['pcapper-controller', 'ClusterRole', 'pcapper-controller'],
    ['pcapper-controller', 'Role', 'pcapper-controller-leader-election'],
    ['pcapper-agent', 'ClusterRole', 'pcapper-agent'],
    ['pcapper-server', 'ClusterRole', 'pcapper-server'],
    ['pcapper-server', 'Role', 'pcapper-server'],
  ] as const;
  const grantFor = (roleKind: string, roleName: string, key: string): Grant | undefined => ROLE_GRANTS[`${roleKind}/${roleName}`]?.[key] ?? GRANTS[key];

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

  /** Waits (bounded) until `cond` holds, e.g. for the authorizer to see a changed binding. */
  async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
    await eventually(cond, { what, timeoutMs });
  }
  /**
   * May `user` do `verb` on the data API's packetcaptures/<sub> (group data.pcapper.dev) in `ns`?
   * Asked as admin with a SubjectAccessReview: what kube-apiserver asks before it proxies.
   */
  async function dataAllowed(user: string, groups: string[], sub: string, ns: string, verb = 'get'): Promise<boolean> {
    const r = await admin({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups, resourceAttributes: { namespace: ns, verb, group: 'data.pcapper.dev', resource: 'packetcaptures', subresource: sub, name: 'probe' } } },
    });
    assert.equal(r.status, 201, r.body);
    return (JSON.parse(r.body) as { status?: { allowed?: boolean } }).status?.allowed === true;
  }
  /** alice holds pcapper-capture-user in NS (idempotent: later tests do not depend on test order). */
  async function bindAlice(): Promise<void> {
    const rb = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'alice-pcap', namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'pcapper-capture-user' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }] };
    const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=rbac-test', '-f', '-'], { input: JSON.stringify(rb) });
    assert.equal(r.code, 0, r.stderr);
    await until(() => canI('alice', 'create', 'packetcaptures.pcapper.dev', NS), 'the binding of alice never took effect');
  }
  /** The server's API reads and reviews exactly as src/server/server.ts builds them, as pcapper-server. */
  const serverApi = (): ServerKubeApi => new ServerKubeApi(clientFor(loadKubeConfig({ kubeconfig: kubeconfigFor('pcapper-server'), inCluster: false })));

  before(async () => {
    cluster = await startCluster();
    const text = readRepoFile('deploy/pcapper.yaml');
    manifests = parseManifests(text);
    const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=pcapper-install', '-f', '-'], { input: text });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/packetcaptures.pcapper.dev', 'crd/packetcapturestores.pcapper.dev'])).code, 0);
    tokens.admin = cluster.kubeConfig.getCurrentUser()?.token ?? '';
    for (const sa of ['pcapper-controller', 'pcapper-agent', 'pcapper-server']) {
      const kc: k8s.KubeConfig = await cluster.serviceAccountKubeConfig(SYSTEM_NS, sa);
      tokens[sa] = kc.getCurrentUser()?.token ?? '';
    }
    for (const u of ['alice', 'bob', 'mallory'] as const) tokens[u] = cluster.userKubeConfig(u).getCurrentUser()?.token ?? '';
    await adminOk({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: NS } } });
    await adminOk({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: 'rbac-b' } } });
    await adminOk({ method: 'POST', path: `${PC}/namespaces/${NS}/packetcaptures`, body: capture('probe') });
    // The chart binds pcapper-store-viewer to every authenticated user (rbac.storesVisibleToAllUsers),
    // ServiceAccounts included; the per-verb checks of the components' own roles run without that
    // binding (as with rbac.storesVisibleToAllUsers=false), the stores test below puts it back.
    assert.equal((await cluster.kubectl(['delete', 'clusterrolebinding', 'pcapper-store-viewer'])).code, 0);
    await adminOk({
      method: 'POST',
      path: `${PC}/packetcapturestores`,
      body: { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCaptureStore', metadata: { name: 'probe-store' }, spec: { s3: { endpoint: 'https://s3.example.com', region: 'us-east-1', bucket: 'probe', credentials: { accessKeyId: 'p.a', secretAccessKey: 'p.s' } } } },
    });
    await adminOk({ method: 'POST', path: `/api/v1/namespaces/${NS}/events`, body: { metadata: { name: 'probe-event' }, involvedObject: { kind: 'PacketCapture', name: 'probe', namespace: NS }, reason: 'Probe', message: 'x', type: 'Normal' } });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('the table has no stale entries: each request above is for a verb some checked role grants', () => {
    const stale: string[] = [];
    const shared = new Set<string>();
    for (const [, roleKind, roleName] of CHECKED_ROLES) {
      const keys = new Set(grantsOf(findManifest(manifests, roleKind, roleName)).map((g) => g.key));
      const own = ROLE_GRANTS[`${roleKind}/${roleName}`] ?? {};
      for (const k of Object.keys(own)) if (!keys.has(k)) stale.push(`ROLE_GRANTS['${roleKind}/${roleName}']['${k}']`);
      for (const k of keys) if (!own[k]) shared.add(k);
    }
    for (const k of Object.keys(ROLE_GRANTS)) if (!CHECKED_ROLES.some(([, kind, name]) => `${kind}/${name}` === k)) stale.push(`ROLE_GRANTS['${k}']`);
    for (const k of Object.keys(GRANTS)) if (!shared.has(k)) stale.push(`GRANTS['${k}']`);
    assert.deepEqual(stale, [], 'entries for verbs no role grants any more: remove them');
  });

  for (const [sa, roleKind, roleName] of CHECKED_ROLES) {
    it(`${roleKind} ${roleName}: every granted verb is needed by a real request (authorized with it, 403 without it)`, async (t) => {
      const role = findManifest(manifests, roleKind, roleName);
      const user = `system:serviceaccount:${SYSTEM_NS}:${sa}`;
      const ns = roleKind === 'Role' ? SYSTEM_NS : NS;
      const grants = grantsOf(role);
      assert.ok(grants.length > 0);
      const unknown = grants.filter((g) => !grantFor(roleKind, roleName, g.key)).map((g) => g.key);
      assert.deepEqual(unknown, [], 'every rule of the chart has a request that needs it (add it to GRANTS with the reason)');
      for (const g of grants) {
        const grant = grantFor(roleKind, roleName, g.key);
        assert.ok(grant);
        if (grant.notMade) t.diagnostic(`granted but made by no request of ${sa}: ${g.key} (${grant.why})`);
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
    const server = `system:serviceaccount:${SYSTEM_NS}:pcapper-server`;
    assert.equal((await send(tokens['pcapper-controller'] ?? '', { method: 'GET', path: `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NS}/leases/someone-else` })).status, 403);
    assert.equal(await canI(ctl, 'get', 'leases', 'kube-system'), false);
    for (const [user, verb, res, ns] of [
      [ctl, 'get', 'secrets', NS],
      [ctl, 'create', 'pods', NS],
      [ctl, 'create', 'pods#exec', NS],
      [ctl, 'update', 'packetcaptures.pcapper.dev', NS],
      [ctl, 'get', 'packetcaptures.pcapper.dev#files', NS],
      [agent, 'get', 'secrets', NS],
      [agent, 'get', 'pods', NS],
      [agent, 'patch', 'pods', NS],
      [agent, 'create', 'packetcaptures.pcapper.dev', NS],
      [agent, 'delete', 'packetcaptures.pcapper.dev', NS],
      [agent, 'patch', 'packetcaptures.pcapper.dev', NS],
      [agent, 'get', 'packetcaptures.pcapper.dev', NS],
      [agent, 'list', 'nodes', undefined],
      [agent, 'create', 'leases.coordination.k8s.io', SYSTEM_NS],
      [agent, 'create', 'tokenreviews.authentication.k8s.io', undefined],
      [agent, 'create', 'subjectaccessreviews.authorization.k8s.io', undefined],
      [server, 'create', 'packetcaptures.pcapper.dev', NS],
      [server, 'patch', 'packetcaptures.pcapper.dev', NS],
      [server, 'update', 'packetcaptures.pcapper.dev', NS],
      [server, 'delete', 'packetcaptures.pcapper.dev', NS],
      [server, 'get', 'secrets', SYSTEM_NS],
      [server, 'get', 'secrets', NS],
      [server, 'list', 'pods', NS],
      [server, 'list', 'pods', undefined],
      [server, 'patch', 'pods', SYSTEM_NS],
      [server, 'create', 'pods#exec', SYSTEM_NS],
      [server, 'get', 'daemonsets.apps/other', SYSTEM_NS],
      [server, 'list', 'daemonsets.apps', SYSTEM_NS],
      [server, 'patch', 'daemonsets.apps/pcapper-agent', SYSTEM_NS],
      [server, 'list', 'nodes', undefined],
      [server, 'create', 'events', SYSTEM_NS],
      [server, 'list', 'configmaps', SYSTEM_NS],
    ] as const) {
      // `resource#sub` asks about a subresource (`resource/name` is an object, as for kubectl)
      const [r, sub] = res.split('#');
      assert.equal(await canI(user, verb, r ?? '', ns, sub ? [`--subresource=${sub}`] : []), false, `${user} must not ${verb} ${res}`);
    }
  });

  it('pcapper-server bound to system:auth-delegator and extension-apiserver-authentication-reader: SubjectAccessReviews and the front-proxy ConfigMap, no other ConfigMap or Secret', async () => {
    const server = `system:serviceaccount:${SYSTEM_NS}:pcapper-server`;
    assert.ok(await canI(server, 'create', 'subjectaccessreviews.authorization.k8s.io'), 'system:auth-delegator: create subjectaccessreviews');
    assert.ok(await canI(server, 'get', 'configmaps/extension-apiserver-authentication', 'kube-system'), 'extension-apiserver-authentication-reader');
    for (const [verb, res] of [
      ['get', 'configmaps/kube-root-ca.crt'],
      ['get', 'configmaps/other'],
      ['get', 'configmaps'],
      ['update', 'configmaps/extension-apiserver-authentication'],
      ['get', 'secrets'],
      ['list', 'secrets'],
      ['get', 'secrets/other'],
    ] as const) {
      assert.equal(await canI(server, verb, res, 'kube-system'), false, `pcapper-server must not ${verb} ${res} in kube-system`);
    }
    // Real requests with its token.
    assert.equal((await send(tokens['pcapper-server'] ?? '', { method: 'GET', path: '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication' })).status, 200);
    assert.equal((await send(tokens['pcapper-server'] ?? '', { method: 'GET', path: '/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt' })).status, 403);
    assert.equal((await send(tokens['pcapper-server'] ?? '', { method: 'GET', path: '/api/v1/namespaces/kube-system/secrets' })).status, 403);
  });

  it("the server's real reads (src/server/kube.ts, as pcapper-server with the chart's roles) are answered; beyond them refused", async () => {
    const api = serverApi();
    const cm = await api.frontProxyConfigMap();
    assert.match(cm?.['requestheader-client-ca-file'] ?? '', /BEGIN CERTIFICATE/, 'the front-proxy CA is read');
    assert.equal((await api.getCapture(NS, 'probe'))?.metadata.name, 'probe');
    assert.equal(await api.getCapture(NS, 'absent'), undefined, '404 is an answer, not a refusal');
    assert.equal((await api.getStore('probe-store'))?.metadata.name, 'probe-store', 'the store a capture names');
    assert.ok((await api.listStores()).some((s) => s.metadata.name === 'probe-store'), 'the stores (for the default one)');
    assert.ok(await api.daemonSetUid(SYSTEM_NS, 'pcapper-agent'), "the agent DaemonSet's uid");
    assert.deepEqual(await api.agentPods(SYSTEM_NS, 'node-a'), [], 'no kubelet here: no agent pods, but the list is allowed');
    assert.ok(Array.isArray(await api.agentPods(SYSTEM_NS)));
    const review = await api.postReview(reviewFor(MALLORY, NS, 'probe'));
    assert.equal(review.status?.allowed, false);
    const forbidden = (e: unknown): boolean => e instanceof KubeApiError && e.status === 403;
    await assert.rejects(api.daemonSetUid(SYSTEM_NS, 'other'), forbidden, 'only the DaemonSet pcapper-agent');
    await assert.rejects(api.agentPods(NS), forbidden, 'pods only in the system namespace');
    await assert.rejects(api.daemonSetUid(NS, 'pcapper-agent'), forbidden);
  });

  it('pcapper-capture-user bound in one namespace: captures and their files there, nothing elsewhere', async () => {
    await bindAlice();
    for (const verb of ['create', 'get', 'list', 'watch', 'delete']) {
      assert.ok(await canI('alice', verb, 'packetcaptures.pcapper.dev', NS), `alice can ${verb} in ${NS}`);
      assert.equal(await canI('alice', verb, 'packetcaptures.pcapper.dev', 'rbac-b'), false, `alice cannot ${verb} in rbac-b`);
      assert.equal(await canI('alice', verb, 'packetcaptures.pcapper.dev', SYSTEM_NS), false, `alice cannot ${verb} in ${SYSTEM_NS}`);
    }
    assert.ok(await canI('alice', 'get', 'packetcaptures.pcapper.dev', NS, ['--subresource=files']));
    assert.equal(await canI('alice', 'get', 'packetcaptures.pcapper.dev', 'rbac-b', ['--subresource=files']), false);
    // The data API (what kube-apiserver checks before it proxies to the pcapper server).
    for (const sub of ['files', 'log']) {
      assert.ok(await dataAllowed('alice', ALICE.groups, sub, NS), `alice can get packetcaptures/${sub} (data.pcapper.dev) in ${NS}`);
      for (const ns of ['rbac-b', SYSTEM_NS]) assert.equal(await dataAllowed('alice', ALICE.groups, sub, ns), false, `alice cannot get packetcaptures/${sub} (data.pcapper.dev) in ${ns}`);
      for (const verb of ['create', 'list', 'delete', 'update']) assert.equal(await dataAllowed('alice', ALICE.groups, sub, NS, verb), false, `alice cannot ${verb} packetcaptures/${sub} (data.pcapper.dev)`);
    }
    assert.equal(await dataAllowed('alice', ALICE.groups, 'exec', NS), false, 'only files and log');
    assert.equal(await dataAllowed('alice', ALICE.groups, '', NS), false, 'not the data resource itself');
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

  it("an authenticated user without roles (mallory) may not read capture files: the pcapper server's SubjectAccessReview says no", async () => {
    await bindAlice();
    // The review the server sends (src/server/authz.ts reviewFor), made with the server's token.
    const sar = async (id: Identity): Promise<boolean | undefined> => {
      const r = await send(tokens['pcapper-server'] ?? '', { method: 'POST', path: '/apis/authorization.k8s.io/v1/subjectaccessreviews', body: reviewFor(id, NS, 'probe') });
      assert.equal(r.status, 201, `the server may create SubjectAccessReviews: ${r.body}`);
      return (JSON.parse(r.body) as { status?: { allowed?: boolean } }).status?.allowed;
    };
    assert.equal(await sar(MALLORY), false);
    assert.equal(await sar(ALICE), true, 'the same review allows alice in her namespace');
    for (const sub of ['files', 'log']) assert.equal(await dataAllowed('mallory', MALLORY.groups, sub, NS), false, `kube-apiserver refuses mallory packetcaptures/${sub} too`);
    assert.equal((await send(tokens.mallory ?? '', { method: 'GET', path: `${PC}/namespaces/${NS}/packetcaptures` })).status, 403);
  });

  it('stores: every authenticated user may see them (pcapper-store-viewer), only admins change them; nobody reads the credentials Secret', async () => {
    assert.equal(await canI('mallory', 'list', 'packetcapturestores.pcapper.dev'), false, 'without the chart binding, no user sees stores');
    const binding = findManifest(manifests, 'ClusterRoleBinding', 'pcapper-store-viewer');
    const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=pcapper-install', '-f', '-'], { input: JSON.stringify(binding) });
    assert.equal(r.code, 0, r.stderr);
    await until(() => canI('mallory', 'list', 'packetcapturestores.pcapper.dev'), 'the pcapper-store-viewer binding never took effect');
    for (const u of ['alice', 'mallory']) {
      assert.ok(await canI(u, 'list', 'packetcapturestores.pcapper.dev'), `${u} lists stores (kubectl pcap init offers them)`);
      assert.ok(await canI(u, 'get', 'packetcapturestores.pcapper.dev'), `${u} gets a store`);
      for (const verb of ['create', 'update', 'patch', 'delete']) assert.equal(await canI(u, verb, 'packetcapturestores.pcapper.dev'), false, `${u} may not ${verb} stores`);
    }
    for (const sa of ['pcapper-controller', 'pcapper-agent', 'pcapper-server']) {
      assert.equal(await canI(`system:serviceaccount:${SYSTEM_NS}:${sa}`, 'get', 'secrets', SYSTEM_NS), false, `${sa} reads no Secret (credentials and keys are mounted)`);
    }
    assert.equal((await cluster.kubectl(['delete', 'clusterrolebinding', 'pcapper-store-viewer'])).code, 0);
  });

  it('pcapper-view: captures and their status, never the traffic', async () => {
    const rb = await cluster.kubectl(['create', 'rolebinding', 'bob-view', '-n', NS, '--clusterrole=pcapper-view', '--user=bob']);
    assert.equal(rb.code, 0, rb.stderr);
    for (const verb of ['get', 'list', 'watch']) assert.ok(await canI('bob', verb, 'packetcaptures.pcapper.dev', NS));
    for (const verb of ['create', 'delete', 'patch']) assert.equal(await canI('bob', verb, 'packetcaptures.pcapper.dev', NS), false);
    assert.equal(await canI('bob', 'get', 'packetcaptures.pcapper.dev', NS, ['--subresource=files']), false);
    for (const sub of ['files', 'log']) assert.equal(await dataAllowed('bob', ['pcapper:users', 'system:authenticated'], sub, NS), false, `pcapper-view: no packetcaptures/${sub} (data.pcapper.dev)`);
    assert.equal((await cluster.kubectl(['delete', 'rolebinding', 'bob-view', '-n', NS])).code, 0);
  });

  it('pcapper-admin (ClusterRoleBinding): captures and files in every namespace including the system namespace', async () => {
    const crb = await cluster.kubectl(['create', 'clusterrolebinding', 'bob-pcapper-admin', '--clusterrole=pcapper-admin', '--user=bob']);
    assert.equal(crb.code, 0, crb.stderr);
    for (const ns of [NS, 'rbac-b', SYSTEM_NS]) {
      for (const verb of ['create', 'get', 'list', 'delete', 'update']) assert.ok(await canI('bob', verb, 'packetcaptures.pcapper.dev', ns), `bob can ${verb} in ${ns}`);
      assert.ok(await canI('bob', 'get', 'packetcaptures.pcapper.dev', ns, ['--subresource=files']));
      for (const sub of ['files', 'log']) assert.ok(await dataAllowed('bob', ['pcapper:users', 'system:authenticated'], sub, ns), `bob can get packetcaptures/${sub} (data.pcapper.dev) in ${ns}`);
    }
    assert.equal(await canI('bob', 'get', 'secrets', SYSTEM_NS), false, 'pcapper-admin is about pcapper only');
    for (const verb of ['create', 'update', 'delete']) assert.ok(await canI('bob', verb, 'packetcapturestores.pcapper.dev', undefined), `admins ${verb} stores`);
    assert.equal(await canI('bob', 'get', 'pods', SYSTEM_NS), false, 'the system namespace Role is bound separately (rbac.adminSubjects)');
    const node = await send(tokens.bob ?? '', { method: 'POST', path: `${PC}/namespaces/${SYSTEM_NS}/packetcaptures`, body: { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name: 'node-eth0', namespace: SYSTEM_NS }, spec: { targetNode: 'node-a', targetInterface: 'eth0', captureSeconds: '5' } } });
    assert.equal(node.status, 201, node.body);
  });

  // ---- a rule removed, the real component breaks --------------------------------------------

  const kubeconfigFor = (sa: string): string => cluster.writeKubeconfig(`rbac-${sa}`, tokens[sa] ?? '');


  it('controller without `list` on deployments: the real controller\'s Deployment informer is refused (403 in its log)', async () => {
    const role = findManifest(manifests, 'ClusterRole', 'pcapper-controller');
    await replaceRole(withoutVerb(role, 'apps', 'deployments', 'list'));
    const bin = join(repoRoot(), 'dist', 'src', 'bin', 'pcapper.js');
    const p = startProcess('controller', [process.execPath, bin, 'controller', '--kubeconfig', kubeconfigFor('pcapper-controller'), '--identity', 'rbac-test'], { env: { PCAPPER_LOG_FORMAT: 'text' } });
    try {
      const [line] = await p.waitLog(/^.*(?:403|forbidden).*$/im, 20_000);
      assert.match(line, /deployments/);
    } finally {
      await p.stop();
      await replaceRole(role);
    }
  });

  it('server without its system:auth-delegator binding: the real SubjectAccessReview authorizer fails closed, never open', async () => {
    await bindAlice();
    const binding = findManifest(manifests, 'ClusterRoleBinding', AUTH_DELEGATOR_BINDING);
    // As src/server/server.ts builds it, with the cache off so that every decision asks the API server.
    const authz = new SarAuthorizer({ post: serverApi().postReview, ttlMs: 0 });
    const decide = async (id: Identity): Promise<string> => {
      try {
        return (await authz.authorize(id, NS, 'probe')).allowed ? 'allowed' : 'denied';
      } catch (e) {
        return e instanceof KubeApiError ? `error ${e.status}` : `error ${(e as Error).message}`;
      }
    };
    assert.equal(await decide(ALICE), 'allowed');
    assert.equal(await decide(MALLORY), 'denied');
    const del = await cluster.kubectl(['delete', 'clusterrolebinding', AUTH_DELEGATOR_BINDING]);
    assert.equal(del.code, 0, del.stderr);
    try {
      await until(async () => (await decide(ALICE)) !== 'allowed', 'the deleted binding never took effect');
      const decisions: string[] = [];
      for (let i = 0; i < 5; i++) decisions.push(await decide(ALICE), await decide(MALLORY));
      assert.deepEqual(
        decisions.filter((d) => d === 'allowed'),
        [],
        `never allowed without the binding: ${decisions.join(', ')}`,
      );
      assert.ok(
        decisions.every((d) => d === 'error 403'),
        `the server may not ask, and its authorizer says so (403 from kube-apiserver): ${decisions.join(', ')}`,
      );
    } finally {
      await replaceRole(binding);
    }
    await until(async () => (await decide(ALICE)) === 'allowed', 'alice is allowed again once the binding is back');
    assert.equal(await decide(MALLORY), 'denied');
  });
});
