/**
 * The PacketCaptureStore CRD on a real kube-apiserver: the generated schema is accepted, the CEL
 * rules refuse what docs/storage.md section 1 says they refuse, with messages that say how to fix it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_PLURAL, type PacketCaptureStore } from '../src/api/packetcapturestore.js';
import { clientFor, KubeApiError, type KubeClient } from '../src/k8s/client.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { installStoreCRD } from './store-control-support.js';

let cluster: Cluster;
let admin: KubeClient;

const base = (name: string, s3: Partial<PacketCaptureStore['spec']['s3']> = {}, extra: Partial<PacketCaptureStore['spec']> = {}) => ({
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCaptureStore',
  metadata: { name },
  spec: {
    s3: {
      endpoint: 'https://s3.eu-west-1.amazonaws.com',
      region: 'eu-west-1',
      bucket: 'pcapper-captures',
      credentials: { accessKeyId: `${name}.accessKeyId`, secretAccessKey: `${name}.secretAccessKey` },
      ...s3,
    },
    ...extra,
  },
});

async function create(body: unknown): Promise<unknown> {
  return admin.request({ method: 'POST', path: `/apis/pcapper.dev/v1alpha1/${STORE_PLURAL}`, body });
}
async function refused(body: unknown, re: RegExp): Promise<void> {
  await assert.rejects(create(body), (e: unknown) => {
    assert.ok(e instanceof KubeApiError, String(e));
    assert.equal(e.status, 422);
    assert.match(e.message, re);
    return true;
  });
}

before(async () => {
  cluster = await startCluster();
  admin = clientFor(cluster.kubeConfig);
  await installStoreCRD(admin);
});
after(async () => {
  await cluster?.stop();
});

describe('PacketCaptureStore admission (real kube-apiserver)', () => {
  it('accepts the example of docs/storage.md section 1, cluster-scoped', async () => {
    const created = (await create(
      base('team-s3', { prefix: 'prod', pathStyle: false }, {
        allowedNamespaces: { names: ['shop', 'payments'], selector: { matchLabels: { 'pcapper.dev/store-team-s3': 'allowed' } } },
        default: false,
        upload: { partSize: '16Mi', concurrency: 2 },
        retention: { deleteAfter: '30d' },
      }),
    )) as PacketCaptureStore;
    assert.equal(created.metadata.namespace, undefined, 'cluster-scoped');
    assert.equal(created.spec.upload?.partSize, '16Mi');
  });

  it('accepts http:// to an in-cluster Service', async () => {
    await create(base('in-cluster', { endpoint: 'http://pcapper-store.pcapper.svc:7070', pathStyle: true }));
    await create(base('in-cluster-fqdn', { endpoint: 'http://pcapper-store.pcapper.svc.cluster.local:7070', pathStyle: true }));
  });

  it('refuses plain http outside the cluster, and URLs with paths or user info', async () => {
    await refused(base('plain-http', { endpoint: 'http://s3.example.com' }), /endpoint must be https:\/\/host/);
    await refused(base('with-path', { endpoint: 'https://s3.example.com/bucket' }), /endpoint must be https/);
    await refused(base('with-user', { endpoint: 'https://a:b@s3.example.com' }), /endpoint must be https/);
  });

  it('refuses a part size below S3 minimum, as a quantity or as bytes', async () => {
    await refused(base('small-part', {}, { upload: { partSize: '4Mi' } }), /partSize must be between 5Mi/);
    await refused(base('small-part-int', {}, { upload: { partSize: 1024 } }), /partSize must be between 5Mi/);
    await create(base('exact-part', {}, { upload: { partSize: 5 * 1024 * 1024 } }));
  });

  it('refuses a missing credentials entry and a bad bucket name', async () => {
    const noSecret = base('no-secret');
    delete (noSecret.spec.s3.credentials as { secretAccessKey?: string }).secretAccessKey;
    await refused(noSecret, /secretAccessKey: Required value/);
    await refused(base('bad-bucket', { bucket: 'Bad_Bucket' }), /bucket/);
  });
});
