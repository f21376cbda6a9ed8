/**
 * Tenancy: a PacketCapture outside the system namespace may only target pods of its own
 * namespace, and never a hostNetwork pod (its network namespace is the node's: capturing it
 * captures every pod's traffic on the node). Node/interface captures, hostNetwork pods and
 * cross-namespace targets need the system namespace (where only cluster admins can create
 * objects). Pure.
 */
import type { ResolvedTarget } from '../api/validate.js';
import type { Pod } from './types.js';

export interface TenancyRefusal {
  reason: 'CrossNamespaceTarget' | 'NodeTargetNotAllowed';
  message: string;
}

export function checkTenancy(captureNamespace: string, target: ResolvedTarget, systemNamespace: string): TenancyRefusal | undefined {
  if (captureNamespace === systemNamespace) return undefined;
  if (target.kind === 'node') {
    return {
      reason: 'NodeTargetNotAllowed',
      message: `node interface captures (targetNode ${target.node}, targetInterface ${target.interface}) are only allowed in the system namespace "${systemNamespace}"; this PacketCapture is in "${captureNamespace}"`,
    };
  }
  if (target.namespace !== captureNamespace) {
    return {
      reason: 'CrossNamespaceTarget',
      message: `a PacketCapture in namespace "${captureNamespace}" may only target pods in "${captureNamespace}", not in "${target.namespace}"; create it in the system namespace "${systemNamespace}" to capture across namespaces`,
    };
  }
  return undefined;
}

/** A hostNetwork pod as a tenant's target: refused (the agent refuses it too, by netns inode). */
export function checkHostNetwork(captureNamespace: string, pod: Pod, systemNamespace: string): { reason: 'HostNetworkPod'; message: string } | undefined {
  if (captureNamespace === systemNamespace || pod.spec?.hostNetwork !== true) return undefined;
  const name = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
  return {
    reason: 'HostNetworkPod',
    message: `pod ${name} uses hostNetwork: its traffic is the whole node's, so only a PacketCapture in the system namespace "${systemNamespace}" may capture it`,
  };
}
