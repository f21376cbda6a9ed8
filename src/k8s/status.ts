/**
 * Server-side apply of PacketCapture status (the status subresource). Every writer — the
 * controller and each node's agent — applies only the fields it owns under its own field
 * manager; see the ownership rules at the top of src/api/packetcapture.ts.
 *
 * Remember SSA semantics: an apply states the manager's WHOLE intent. A field the manager
 * applied before and omits now is removed (unless another manager also owns it). So always apply
 * every field you own, e.g. an agent applies all of its node's target entries each time.
 */
import type * as k8s from '@kubernetes/client-node';
import { API_VERSION, KIND, type PacketCapture, type PacketCaptureStatus } from '../api/packetcapture.js';
import { clientFor, CONTENT_TYPE, packetCapturePath, type KubeClient } from './client.js';

export interface ApplyOptions {
  /**
   * Take ownership of fields another manager owns (default false: the apiserver answers 409
   * Conflict instead, which the caller handles by re-reading). Agents force-apply their
   * observations; the controller does not, except after a re-read (see src/controller).
   */
  force?: boolean;
  signal?: AbortSignal;
}

/**
 * Applies `status` (a partial PacketCaptureStatus: only the fields this manager owns) to
 * /apis/pcapper.dev/v1alpha1/namespaces/NS/packetcaptures/NAME/status as `fieldManager`.
 * Resolves with the updated object. Throws KubeApiError (404 when the capture is gone, 409 on a
 * conflict without force, 422 when the status violates the schema).
 */
export async function applyStatus(
  kc: k8s.KubeConfig | KubeClient,
  namespace: string,
  name: string,
  status: PacketCaptureStatus,
  fieldManager: string,
  opts: ApplyOptions = {},
): Promise<PacketCapture> {
  return clientFor(kc).request<PacketCapture>({
    method: 'PATCH',
    path: packetCapturePath(namespace, name, 'status'),
    query: { fieldManager, force: opts.force ? 'true' : undefined },
    contentType: CONTENT_TYPE.apply,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, status },
    signal: opts.signal,
  });
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

/**
 * Which fields of which status.targets entries a field manager owns, read from
 * metadata.managedFields: a map from target name to the set of field names (e.g. "phase").
 */
export function ownedTargetFields(obj: { metadata?: { managedFields?: unknown } }, manager: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const mf = (obj.metadata?.managedFields ?? []) as ManagedFieldsEntry[];
  for (const e of mf) {
    if (e.manager !== manager || e.operation !== 'Apply') continue;
    const targets = ((e.fieldsV1?.['f:status'] as Record<string, unknown> | undefined)?.['f:targets'] ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(targets)) {
      if (!k.startsWith('k:')) continue;
      let name: string | undefined;
      try {
        name = (JSON.parse(k.slice(2)) as { name?: string }).name;
      } catch {
        continue;
      }
      if (!name) continue;
      const set = out.get(name) ?? new Set<string>();
      for (const f of Object.keys((v ?? {}))) if (f.startsWith('f:')) set.add(f.slice(2));
      out.set(name, set);
    }
  }
  return out;
}
