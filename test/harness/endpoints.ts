/**
 * A simulated endpoints controller (there is no kube-controller-manager): for every Service with a
 * selector it keeps discovery.k8s.io/v1 EndpointSlices (label kubernetes.io/service-name) and the
 * v1 Endpoints object in sync with the pods that match, as the endpointslice and endpoints
 * controllers do: addresses are pod IPs, ports are resolved from the Service's targetPort (a
 * container port name is looked up in each pod's containers), ready follows the pod's Ready
 * condition (not-ready pods are listed with ready=false / in notReadyAddresses).
 *
 * Which one matters for the aggregation layer: v1.34's kube-aggregator with
 * --enable-aggregator-routing resolves an APIService's Service through EndpointSlices
 * (kube-aggregator pkg/apiserver/resolvers.go NewEndpointServiceResolver ->
 * k8s.io/apiserver/pkg/util/proxy.ResolveEndpoint(services, endpointSliceGetter, ...), which picks a
 * slice port whose name equals the Service port's name and an endpoint with ready unset or true),
 * and its availability controller checks the same EndpointSlices. v1 Endpoints are kept too for
 * clients that still read them.
 *
 * decide*() are pure; EndpointsController is the side-effect shell (a bounded-interval resync
 * loop with server-side apply, so it needs no watch bookkeeping and recovers from any error).
 */
import { createHash } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'sim-endpointslice-controller.pcapper.dev';
const FIELD_MANAGER = 'sim-endpoints-controller';
const APPLY = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);

function podReady(pod: k8s.V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** The pod's port for a Service port: a number as is, a name looked up in the containers' ports. */
export function resolveTargetPort(sp: k8s.V1ServicePort, pod: k8s.V1Pod): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === tp && (p.protocol ?? 'TCP') === (sp.protocol ?? 'TCP')) return p.containerPort;
  }
  return undefined;
}

export interface DesiredEndpoints {
  slices: k8s.V1EndpointSlice[];
  endpoints: k8s.V1Endpoints;
}

/** What the controllers would write for `svc` given all pods of its namespace. */
export function decideEndpoints(svc: k8s.V1Service, pods: readonly k8s.V1Pod[]): DesiredEndpoints {
  const ns = svc.metadata?.namespace ?? '';
  const name = svc.metadata?.name ?? '';
  const selector = svc.spec?.selector ?? {};
  const owner: k8s.V1OwnerReference = { apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true };
  // group pods by their resolved ports: one slice / subset per distinct port mapping
  const groups = new Map<string, { ports: { name: string; port: number; protocol: string }[]; pods: k8s.V1Pod[] }>();
  const candidates = pods
    .filter((p) => p.metadata?.namespace === ns && !p.metadata?.deletionTimestamp && p.status?.podIP && matches(selector, p.metadata?.labels))
    .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const pod of candidates) {
    const ports: { name: string; port: number; protocol: string }[] = [];
    for (const sp of svc.spec?.ports ?? []) {
      const port = resolveTargetPort(sp, pod);
      if (port !== undefined) ports.push({ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' });
    }
    if (ports.length === 0) continue;
    const key = JSON.stringify(ports);
    const g = groups.get(key) ?? { ports, pods: [] };
    g.pods.push(pod);
    groups.set(key, g);
  }
  const slices: k8s.V1EndpointSlice[] = [];
  const subsets: k8s.V1EndpointSubset[] = [];
  for (const [key, g] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    slices.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${name}-${createHash('sha256').update(key).digest('hex').slice(0, 5)}`,
        namespace: ns,
        labels: { [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: MANAGED_BY },
        ownerReferences: [owner],
      },
      addressType: 'IPv4',
      ports: g.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
      endpoints: g.pods.map((p) => {
        const ready = podReady(p);
        return {
          addresses: [p.status?.podIP ?? ''],
          conditions: { ready, serving: ready, terminating: false },
          ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
          targetRef: { kind: 'Pod', namespace: ns, name: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '' },
        };
      }),
    });
    const addr = (p: k8s.V1Pod): k8s.V1EndpointAddress => ({
      ip: p.status?.podIP ?? '',
      ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
      targetRef: { kind: 'Pod', namespace: ns, name: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '' },
    });
    const ready = g.pods.filter(podReady).map(addr);
    const notReady = g.pods.filter((p) => !podReady(p)).map(addr);
    subsets.push({
      ...(ready.length ? { addresses: ready } : {}),
      ...(notReady.length ? { notReadyAddresses: notReady } : {}),
      ports: g.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
    });
  }
  const endpoints: k8s.V1Endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace: ns, labels: { ...svc.metadata?.labels } },
    subsets,
  };
  return { slices, endpoints };
}

/** Keeps EndpointSlices and Endpoints in sync, every `intervalMs` (default 200 ms), until stop(). */
export class EndpointsController {
  private readonly core: k8s.CoreV1Api;
  private readonly discovery: k8s.DiscoveryV1Api;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** last body written per object, so an unchanged state costs no write */
  private readonly written = new Map<string, string>();
  lastError: string | undefined;

  constructor(
    kc: k8s.KubeConfig,
    private readonly intervalMs = 200,
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  }

  start(): this {
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.sync()
        .then(() => (this.lastError = undefined))
        .catch((e: unknown) => {
          this.lastError = e instanceof Error ? e.message : String(e);
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    tick();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One full resync. */
  async sync(): Promise<void> {
    const [services, pods, slices] = await Promise.all([
      this.core.listServiceForAllNamespaces(),
      this.core.listPodForAllNamespaces(),
      this.discovery.listEndpointSliceForAllNamespaces({ labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` }),
    ]);
    const want = new Set<string>();
    for (const svc of services.items) {
      if (!svc.spec?.selector || Object.keys(svc.spec.selector).length === 0) continue; // selectorless: managed by hand
      const d = decideEndpoints(svc, pods.items);
      for (const s of d.slices) {
        const key = `slice/${s.metadata?.namespace}/${s.metadata?.name}`;
        want.add(key);
        await this.apply(key, s, () =>
          this.discovery.patchNamespacedEndpointSlice(
            { name: s.metadata?.name ?? '', namespace: s.metadata?.namespace ?? '', body: s, fieldManager: FIELD_MANAGER, force: true },
            APPLY,
          ),
        );
      }
      const e = d.endpoints;
      want.add(`endpoints/${e.metadata?.namespace}/${e.metadata?.name}`);
      await this.apply(`endpoints/${e.metadata?.namespace}/${e.metadata?.name}`, e, () =>
        this.core.patchNamespacedEndpoints({ name: e.metadata?.name ?? '', namespace: e.metadata?.namespace ?? '', body: e, fieldManager: FIELD_MANAGER, force: true }, APPLY),
      );
    }
    // no garbage collector either: remove slices whose Service or port mapping is gone
    for (const s of slices.items) {
      const key = `slice/${s.metadata?.namespace}/${s.metadata?.name}`;
      if (want.has(key)) continue;
      try {
        await this.discovery.deleteNamespacedEndpointSlice({ name: s.metadata?.name ?? '', namespace: s.metadata?.namespace ?? '' });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
      this.written.delete(key);
    }
    for (const key of [...this.written.keys()]) {
      if (!key.startsWith('endpoints/') || want.has(key)) continue;
      const [, namespace = '', name = ''] = key.split('/');
      try {
        await this.core.deleteNamespacedEndpoints({ name, namespace });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
      this.written.delete(key);
    }
  }

  private async apply(key: string, body: object, write: () => Promise<unknown>): Promise<void> {
    const json = JSON.stringify(body);
    if (this.written.get(key) === json) return;
    await write();
    this.written.set(key, json);
  }
}
