/**
 * The capture metadata sidecar (who is who on the wire), built from the pods of this node: a pure
 * function of the capture, the target and the pod cache.
 */
import { CAPTURE_METADATA_VERSION, type CaptureMetadata, type EndpointInfo } from '../pcap/metadata.js';
import type { Pod, Session } from './state.js';

const IP = /^[0-9a-fA-F:.]+$/;

/** The fields of a cached pod that name its owner (the informer keeps whole objects). */
type OwnedPod = Pod & { metadata?: { labels?: Record<string, string>; ownerReferences?: readonly { kind?: string; name?: string; controller?: boolean }[] } };

export function podIPs(p: Pod): string[] {
  const ips = (p.status?.podIPs ?? []).map((x) => x.ip).filter((x): x is string => typeof x === 'string' && x !== '');
  if (ips.length === 0 && p.status?.podIP) ips.push(p.status.podIP);
  return ips.filter((ip) => IP.test(ip));
}

/**
 * The pod's owning workload as `Kind/name`, from its controller owner reference: a ReplicaSet whose
 * name is `<deployment>-<pod-template-hash>` (the pod carries that hash label, as the Deployment
 * controller sets it) stands for its Deployment; StatefulSet, DaemonSet, Job and any other owner are
 * named as they are. No owner: undefined. Pure (no ReplicaSet lookup: the agent watches only pods).
 */
export function workloadOf(p: OwnedPod): string | undefined {
  const refs = p.metadata?.ownerReferences ?? [];
  const o = refs.find((r) => r.controller === true) ?? refs[0];
  if (!o?.kind || !o.name) return undefined;
  if (o.kind === 'ReplicaSet') {
    const hash = p.metadata?.labels?.['pod-template-hash'];
    if (hash && o.name.length > hash.length + 1 && o.name.endsWith(`-${hash}`)) return `Deployment/${o.name.slice(0, -hash.length - 1)}`;
  }
  return `${o.kind}/${o.name}`;
}

export function metadataFor(input: {
  capture: { namespace: string; name: string };
  node: string;
  systemNamespace: string;
  session: Pick<Session, 'entry' | 'opts'>;
  /** The target's pod (pod targets), as cached when tcpdump started. */
  pod: Pod | undefined;
  /** Every pod of this node. */
  pods: readonly Pod[];
  linkType: number;
  startedAt: Date;
}): CaptureMetadata {
  const { capture, session: s, pod } = input;
  const endpoints: Record<string, EndpointInfo> = {};
  // A tenant's file names only its own namespace's pods; the system namespace sees the node.
  const all = capture.namespace === input.systemNamespace;
  for (const p of input.pods) {
    if (!all && p.metadata?.namespace !== capture.namespace) continue;
    const workload = workloadOf(p);
    for (const ip of podIPs(p)) endpoints[ip] = { pod: p.metadata?.name ?? '', namespace: p.metadata?.namespace ?? '', node: input.node, ...(workload ? { workload } : {}) };
  }
  const nodeIPs = pod?.status?.hostIP ? [pod.status.hostIP] : [];
  return {
    version: CAPTURE_METADATA_VERSION,
    captureName: capture.name,
    captureNamespace: capture.namespace,
    nodeName: input.node,
    nodeIPs: nodeIPs.filter((ip) => IP.test(ip)),
    targetKind: s.entry.kind === 'node' ? 'node' : 'pod',
    pod:
      s.entry.kind === 'pod'
        ? { name: s.entry.pod ?? '', namespace: s.entry.namespace ?? '', uid: pod?.metadata?.uid ?? s.entry.podUID ?? '', ips: pod ? podIPs(pod) : [] }
        : null,
    interfaces: [s.opts.interface],
    linkType: input.linkType,
    startTime: input.startedAt.toISOString(),
    filter: s.opts.filter,
    snapLength: s.opts.snapLength,
    endpoints,
  };
}
