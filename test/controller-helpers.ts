/**
 * Helpers for the controller's real-cluster tests and the controller-scale benchmark: install the
 * CRD, create captures, wait for status, and stand in for node agents.
 *
 * Standing in for agents: an agent reports by server-side applying its observation fields under
 * the field manager `pcapper-agent-<node>` with force (the documented contract in
 * src/api/packetcapture.ts). Tests do exactly that, so the controller meets the same writes it
 * meets in production — no mock of the controller's side.
 */
import type * as k8s from '@kubernetes/client-node';
import { agentFieldManager, type NodeStatus, type PacketCapture, type PacketCaptureSpec, type TargetStatus } from '../src/api/packetcapture.js';
import { packetCaptureCRD, CRD_NAME } from '../src/api/crd.js';
import { clientFor, createPacketCapture, getPacketCapture, isNotFound, KubeApiError, type KubeClient } from '../src/k8s/client.js';
import { applyStatus } from '../src/k8s/status.js';
import { listEvents } from '../src/k8s/events.js';
import { eventually } from './harness/eventually.js';

export async function installCRD(kc: k8s.KubeConfig | KubeClient): Promise<void> {
  const c = clientFor(kc);
  try {
    await c.request({ method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: packetCaptureCRD() });
  } catch (e) {
    if (!(e instanceof KubeApiError && e.status === 409)) throw e;
  }
  await eventually(async () => {
    const crd = await c.request<{ status?: { conditions?: { type: string; status: string }[] } }>({ path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}` });
    return crd.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ? true : undefined;
  }, { what: 'CRD established', timeoutMs: 30_000 });
  // the discovery/handler for the new resource can lag behind Established by a moment
  await eventually(async () => {
    try {
      await c.request({ path: '/apis/pcapper.dev/v1alpha1/packetcaptures' });
      return true;
    } catch {
      return undefined;
    }
  }, { what: 'CRD served', timeoutMs: 30_000 });
}

export async function ensureNamespace(kc: k8s.KubeConfig | KubeClient, name: string): Promise<void> {
  try {
    await clientFor(kc).request({ method: 'POST', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
  } catch (e) {
    if (!(e instanceof KubeApiError && e.status === 409)) throw e;
  }
}


export async function createCapture(kc: k8s.KubeConfig | KubeClient, namespace: string, name: string, spec: PacketCaptureSpec | Record<string, unknown>): Promise<PacketCapture> {
  return createPacketCapture(kc, { metadata: { name, namespace }, spec: spec });
}

/** Waits until the capture satisfies `pred`; the error shows the last status. */
export async function waitCapture(kc: k8s.KubeConfig | KubeClient, namespace: string, name: string, what: string, pred: (pc: PacketCapture) => boolean, timeoutMs = 15_000): Promise<PacketCapture> {
  let last: PacketCapture | undefined;
  return eventually(
    async () => {
      last = await getPacketCapture(kc, namespace, name);
      return pred(last) ? last : undefined;
    },
    {
      what: `${namespace}/${name}: ${what}`,
      timeoutMs,
      describe: () => JSON.stringify({ metadata: { finalizers: last?.metadata.finalizers, deletionTimestamp: last?.metadata.deletionTimestamp }, status: last?.status }),
    },
  );
}

export async function waitGone(kc: k8s.KubeConfig | KubeClient, namespace: string, name: string, timeoutMs = 15_000): Promise<void> {
  await eventually(async () => {
    try {
      await getPacketCapture(kc, namespace, name);
      return undefined;
    } catch (e) {
      if (isNotFound(e)) return true;
      throw e;
    }
  }, { what: `${namespace}/${name} to be deleted`, timeoutMs });
}

/** Stands in for the agent of `node`: applies its observation fields (see the file comment). */
export async function agentReport(
  kc: k8s.KubeConfig | KubeClient,
  namespace: string,
  name: string,
  node: string,
  targets: (Partial<TargetStatus> & { name: string })[],
  nodeEntry?: Omit<NodeStatus, 'node'>,
): Promise<PacketCapture> {
  return applyStatus(
    kc,
    namespace,
    name,
    { targets: targets.map((t) => ({ node, ...t })), ...(nodeEntry ? { nodes: [{ node, ...nodeEntry }] } : {}) },
    agentFieldManager(node),
    { force: true },
  );
}

export async function eventsOf(kc: k8s.KubeConfig | KubeClient, pc: PacketCapture): Promise<{ reason: string; message: string; type: string; count: number }[]> {
  return listEvents(kc, pc.metadata.namespace ?? '', pc.metadata.uid ?? '');
}

export async function waitEvent(kc: k8s.KubeConfig | KubeClient, pc: PacketCapture, reason: string, timeoutMs = 10_000): Promise<{ reason: string; message: string; type: string }> {
  return eventually(async () => (await eventsOf(kc, pc)).find((e) => e.reason === reason), {
    what: `event ${reason} on ${pc.metadata.name}`,
    timeoutMs,
    describe: async () => JSON.stringify(await eventsOf(kc, pc)),
  });
}

export const nowIso = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
