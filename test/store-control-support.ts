/**
 * Helpers of the store tests (test/store-control*.test.ts): install the PacketCaptureStore CRD,
 * create stores, write the mounted credentials Secret as the kubelet would (one 0600 file per entry).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packetCaptureStoreCRD } from '../src/api/crd.js';
import { STORE_CRD_NAME, STORE_PLURAL, type PacketCaptureStore, type PacketCaptureStoreSpec } from '../src/api/packetcapturestore.js';
import { KubeApiError, type KubeClient } from '../src/k8s/client.js';
import { eventually } from './harness/eventually.js';

export async function installStoreCRD(c: KubeClient): Promise<void> {
  try {
    await c.request({ method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: packetCaptureStoreCRD() });
  } catch (e) {
    if (!(e instanceof KubeApiError && e.status === 409)) throw e;
  }
  await eventually(async () => {
    const crd = await c.request<{ status?: { conditions?: { type: string; status: string }[] } }>({ path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${STORE_CRD_NAME}` });
    if (!crd.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) return undefined;
    await c.request({ path: `/apis/pcapper.dev/v1alpha1/${STORE_PLURAL}` });
    return true;
  }, { what: 'store CRD served', timeoutMs: 30_000 });
}

export async function createStore(c: KubeClient, name: string, spec: DeepPartial<PacketCaptureStoreSpec>): Promise<PacketCaptureStore> {
  return c.request<PacketCaptureStore>({
    method: 'POST',
    path: `/apis/pcapper.dev/v1alpha1/${STORE_PLURAL}`,
    body: { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCaptureStore', metadata: { name }, spec },
  });
}

export async function getStore(c: KubeClient, name: string): Promise<PacketCaptureStore> {
  return c.request<PacketCaptureStore>({ path: `/apis/pcapper.dev/v1alpha1/${STORE_PLURAL}/${name}` });
}

export async function waitStoreReady(c: KubeClient, name: string, status: 'True' | 'False', timeoutMs = 20_000): Promise<{ reason?: string; message?: string }> {
  return eventually(async () => {
    const st = await getStore(c, name);
    const r = st.status?.conditions?.find((x) => x.type === 'Ready');
    return r?.status === status ? r : undefined;
  }, { what: `store ${name} Ready=${status}`, timeoutMs: timeoutMs, describe: async () => JSON.stringify((await getStore(c, name)).status) });
}

/** The mounted Secret pcapper-store-credentials: a 0700 directory with one 0600 file per entry. */
export function writeCredentialsDir(dir: string, entries: Record<string, string>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [k, v] of Object.entries(entries)) writeFileSync(join(dir, k), v, { mode: 0o600 });
}

/** The DSL types every schema field as present; a store as written by an admin has only some. */
export type DeepPartial<T> = T extends readonly (infer I)[] ? DeepPartial<I>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * A PacketCaptureStore CRD with no schema checks, for the real-stack store tests
 * (test/store-agent.test.ts, test/e2e-encryption.test.ts, test/store-reads-api.test.ts): the chart's
 * CEL allows plain http only to an in-cluster Service name, and the harness has no cluster DNS, so
 * the test S3 server in the fabric is reached by IP (test/store-control.test.ts covers the real CRD).
 */
export const MINIMAL_STORE_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'packetcapturestores.pcapper.dev' },
  spec: {
    group: 'pcapper.dev',
    scope: 'Cluster',
    names: { plural: 'packetcapturestores', singular: 'packetcapturestore', kind: 'PacketCaptureStore' },
    versions: [{ name: 'v1alpha1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

/** A client inside a pod (`node -e BULK_CLIENT URL SECONDS`): keep-alive GETs of url for `seconds`, paced (~50 requests/s), then exits. */
export const BULK_CLIENT = String.raw`
const http = require('node:http');
const [url, seconds] = [process.argv[1], Number(process.argv[2])];
const agent = new http.Agent({ keepAlive: true });
const end = Date.now() + seconds * 1000;
let i = 0;
const next = () => {
  if (Date.now() > end) { agent.destroy(); return; }
  http.get(url + '/' + i++, { agent }, (res) => { res.resume(); res.on('end', () => setTimeout(next, 15)); }).on('error', () => setTimeout(next, 100));
};
next();
`;
