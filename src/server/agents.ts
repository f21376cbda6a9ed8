/**
 * Finding a node's agent, from the API only (docs/data-api.md "Server to agent"): the Pod in the
 * system namespace on that node with label app.kubernetes.io/component=agent, controlled by the
 * agent DaemonSet (ownerReference uid = the DaemonSet's uid), Running, Ready, with a pod IP; the
 * port is the container port named `https` (default 9443). Never from a URL in a status.
 *
 * pickAgent() is the pure decision; AgentLocator adds the API reads (the DaemonSet's uid cached
 * briefly: it changes only when the DaemonSet is re-created).
 */

export interface PodLike {
  metadata?: { name?: string; ownerReferences?: { kind?: string; name?: string; uid?: string; controller?: boolean }[]; deletionTimestamp?: unknown };
  spec?: { nodeName?: string; containers?: { ports?: { name?: string; containerPort?: number }[] }[] };
  status?: { phase?: string; podIP?: string; conditions?: { type?: string; status?: string }[] };
}

export type AgentPick = { ok: true; pod: string; ip: string; port: number } | { ok: false; reason: string };

export const AGENT_COMPONENT_LABEL = 'app.kubernetes.io/component=agent';
export const DEFAULT_AGENT_PORT = 9443;

/** The agent of `node` among `pods`, or a one-line reason why there is none usable. */
export function pickAgent(pods: readonly PodLike[], node: string, daemonSet: { name: string; uid: string }): AgentPick {
  const owned = pods.filter(
    (p) =>
      p.spec?.nodeName === node &&
      (p.metadata?.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet' && o.controller === true && o.name === daemonSet.name && o.uid === daemonSet.uid),
  );
  if (owned.length === 0) return { ok: false, reason: `no agent pod of DaemonSet ${daemonSet.name} on node ${node}` };
  const usable = owned.filter(
    (p) =>
      !p.metadata?.deletionTimestamp &&
      p.status?.phase === 'Running' &&
      (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') &&
      !!p.status.podIP,
  );
  const pod = usable[0];
  if (!pod) return { ok: false, reason: `the agent on node ${node} is not ready (pod ${owned[0]?.metadata?.name ?? '?'})` };
  let port = DEFAULT_AGENT_PORT;
  for (const c of pod.spec?.containers ?? []) {
    const p = (c.ports ?? []).find((x) => x.name === 'https' && typeof x.containerPort === 'number');
    if (p?.containerPort) {
      port = p.containerPort;
      break;
    }
  }
  return { ok: true, pod: pod.metadata?.name ?? '', ip: pod.status?.podIP ?? '', port };
}

export interface LocatorApi {
  /** GET the DaemonSet (apps/v1) `name` in `namespace`; resolves its metadata.uid. Rejects with status 404 when missing. */
  daemonSetUid(namespace: string, name: string): Promise<string | undefined>;
  /** LIST pods in `namespace` with the agent label, optionally only on one node (fieldSelector spec.nodeName). */
  agentPods(namespace: string, node?: string): Promise<PodLike[]>;
}

export interface AgentLocatorOptions {
  api: LocatorApi;
  namespace: string;
  daemonSet: string;
  uidTtlMs?: number;
  now?: () => number;
}

/** Thrown (as the reason of a 503) when the agents cannot be looked up at all. */
export class AgentLookupError extends Error {
  override readonly name = 'AgentLookupError';
}

export class AgentLocator {
  private uid: { value: string; expires: number } | undefined;
  constructor(private readonly o: AgentLocatorOptions) {}

  private async dsUid(): Promise<string> {
    const now = (this.o.now ?? Date.now)();
    if (this.uid && this.uid.expires > now) return this.uid.value;
    let uid: string | undefined;
    try {
      uid = await this.o.api.daemonSetUid(this.o.namespace, this.o.daemonSet);
    } catch (e) {
      throw new AgentLookupError(`cannot read DaemonSet ${this.o.namespace}/${this.o.daemonSet}: ${(e as Error).message}`, { cause: e });
    }
    if (!uid) throw new AgentLookupError(`DaemonSet ${this.o.namespace}/${this.o.daemonSet} not found: is pcapper installed?`);
    this.uid = { value: uid, expires: now + (this.o.uidTtlMs ?? 30_000) };
    return uid;
  }

  /** The agent of one node. */
  async locate(node: string): Promise<AgentPick> {
    const uid = await this.dsUid();
    const pods = await this.listPods(node);
    return pickAgent(pods, node, { name: this.o.daemonSet, uid });
  }

  /** The agents of several nodes with one LIST. */
  async locateAll(nodes: readonly string[]): Promise<Map<string, AgentPick>> {
    const uid = await this.dsUid();
    const pods = await this.listPods();
    return new Map(nodes.map((n) => [n, pickAgent(pods, n, { name: this.o.daemonSet, uid })]));
  }

  private async listPods(node?: string): Promise<PodLike[]> {
    try {
      return await this.o.api.agentPods(this.o.namespace, node);
    } catch (e) {
      throw new AgentLookupError(`cannot list agent pods in namespace ${this.o.namespace}: ${(e as Error).message}`, { cause: e });
    }
  }
}
