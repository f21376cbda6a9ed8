/**
 * The server's reads and reviews against kube-apiserver, as its own ServiceAccount (never as the
 * user): the front-proxy ConfigMap, SubjectAccessReviews, PacketCaptures, the agent DaemonSet and
 * its pods. Every answered call (success or a 4xx like 404) counts as "the API server is reachable"
 * for /readyz; transport failures and 5xx do not.
 */
import type { PacketCaptureStore } from '../api/packetcapturestore.js';
import type { PacketCapture } from '../api/packetcapture.js';
import { getPacketCapture, isNotFound, KubeApiError, type KubeClient, type KubeList } from '../k8s/client.js';
import { AGENT_COMPONENT_LABEL, type LocatorApi, type PodLike } from './agents.js';
import type { PostReview } from './authz.js';

export class ServerKubeApi implements LocatorApi {
  /** Time (ms) of the last call the API server answered. */
  lastAnswer = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly now: () => number = Date.now,
  ) {}

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const v = await fn();
      this.lastAnswer = this.now();
      return v;
    } catch (e) {
      if (e instanceof KubeApiError && e.status >= 400 && e.status < 500) this.lastAnswer = this.now();
      throw e;
    }
  }

  async frontProxyConfigMap(): Promise<Record<string, string> | undefined> {
    const cm = await this.call(() => this.client.request<{ data?: Record<string, string> }>({ path: '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication' }));
    return cm.data;
  }

  readonly postReview: PostReview = (body) =>
    this.call(() => this.client.request({ method: 'POST', path: '/apis/authorization.k8s.io/v1/subjectaccessreviews', body, timeoutMs: 10_000 }));

  async getCapture(namespace: string, name: string): Promise<PacketCapture | undefined> {
    try {
      return await this.call(() => getPacketCapture(this.client, namespace, name));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** A PacketCaptureStore by name (cluster-scoped), or undefined when it does not exist. */
  async getStore(name: string): Promise<PacketCaptureStore | undefined> {
    try {
      return await this.call(() => this.client.request<PacketCaptureStore>({ path: `/apis/pcapper.dev/v1alpha1/packetcapturestores/${encodeURIComponent(name)}` }));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Every PacketCaptureStore (for the default store of a capture that names none). */
  async listStores(): Promise<PacketCaptureStore[]> {
    const l = await this.call(() => this.client.request<{ items?: PacketCaptureStore[] }>({ path: '/apis/pcapper.dev/v1alpha1/packetcapturestores' }));
    return l.items ?? [];
  }

  async daemonSetUid(namespace: string, name: string): Promise<string | undefined> {
    try {
      const ds = await this.call(() => this.client.request<{ metadata?: { uid?: string } }>({ path: `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/daemonsets/${encodeURIComponent(name)}` }));
      return ds.metadata?.uid;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async agentPods(namespace: string, node?: string): Promise<PodLike[]> {
    const list = await this.call(() =>
      this.client.request<KubeList<PodLike>>({
        path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
        query: { labelSelector: AGENT_COMPONENT_LABEL, fieldSelector: node === undefined ? undefined : `spec.nodeName=${node}` },
      }),
    );
    return list.items;
  }
}
