/**
 * Tenancy: a PacketCapture outside the system namespace may only target pods of its own
 * namespace. Node/interface captures and cross-namespace targets need the system namespace
 * (where only cluster admins can create objects). Pure.
 */
import type { ResolvedTarget } from '../api/validate.js';

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
