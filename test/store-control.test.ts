/**
 * Stores in the controller, against a real kube-apiserver and a real S3 server (versitygw) running
 * in the simulated control plane's network namespace (CONTROL_PLANE_IP:7070), like a store outside
 * the nodes. The controller runs in the test process; its store endpoint is the in-cluster Service
 * name http://pcapper-store.pcapper.svc:7070, which the harness cannot resolve (no cluster DNS), so
 * `resolveEndpoint` maps it to the harness's forwarder of that server: the one stand-in, said here.
 * Agents are not running: the test writes each node's report as `pcapper-agent-<node>` through the
 * real API (the documented contract; the store-agent branch writes the same fields).
 * Needs root (network namespaces).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONDITIONS, type PacketCapture } from '../src/api/packetcapture.js';
import { clientFor, deletePacketCapture, getPacketCapture, KubeApiError, type KubeClient } from '../src/k8s/client.js';
import { runController, type ControllerHandle } from '../src/controller/controller.js';
import { capturePrefix, objectKey } from '../src/storage/keys.js';
import { sha256Hex } from '../src/storage/sigv4.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { CONTROL_PLANE_IP } from './harness/netns.js';
import { SimKubelet } from './harness/kubelet.js';
import { S3Server } from './harness/s3.js';
import { agentReport, createCapture, ensureNamespace, installCRD, nowIso, waitCapture, waitEvent, waitGone } from './controller-helpers.js';
import { createStore, installStoreCRD, waitStoreReady, writeCredentialsDir } from './store-control-support.js';

const SYS = 'pcapper';
const BUCKET = 'captures';
const SVC = 'http://pcapper-store.pcapper.svc:7070';

let cluster: Cluster;
let kubelet: SimKubelet;
let admin: KubeClient;
let server: S3Server;
let ctl: ControllerHandle | undefined;
let credDir = '';

const cond = (pc: PacketCapture, type: string) => pc.status?.conditions?.find((c) => c.type === type);
const s3 = (creds: string, bucket = BUCKET) => ({
  endpoint: SVC,
  region: 'us-east-1',
  bucket,
  pathStyle: true,
  credentials: { accessKeyId: `${creds}.accessKeyId`, secretAccessKey: `${creds}.secretAccessKey` },
});

before(async () => {
  cluster = await startCluster();
  admin = clientFor(cluster.kubeConfig);
  await installCRD(admin);
  await installStoreCRD(admin);
  for (const ns of [SYS, 'team-a', 'team-b', 'team-c']) await ensureNamespace(admin, ns);
  kubelet = new SimKubelet(cluster.kubeConfig);
  await kubelet.addNode('worker-01', { network: false });
  for (const ns of ['team-a', 'team-b', 'team-c']) await kubelet.createPod({ namespace: ns, name: 'web', node: 'worker-01', network: false });
  server = await S3Server.start({ buckets: [BUCKET], placement: { netns: cluster.controlPlane, host: CONTROL_PLANE_IP, run: cluster.run } });
  credDir = mkdtempSync(join(tmpdir(), 'pcapper-store-creds-'));
  writeCredentialsDir(credDir, {
    'main.accessKeyId': server.accessKeyId,
    'main.secretAccessKey': server.secretAccessKey,
    'wrong.accessKeyId': server.accessKeyId,
    'wrong.secretAccessKey': 'not-the-secret',
  });
  await createStore(admin, 'main', { s3: s3('main'), allowedNamespaces: { names: ['team-a'], selector: { matchLabels: { 'pcapper.dev/store-main': 'allowed' } } } });
  await createStore(admin, 'wrong-secret', { s3: s3('wrong'), allowedNamespaces: { names: ['team-a'] } });
  await createStore(admin, 'no-bucket', { s3: s3('main', 'no-such-bucket'), allowedNamespaces: { names: ['team-a'] } });
  await createStore(admin, 'no-entry', { s3: s3('absent'), allowedNamespaces: { names: ['team-a'] } });
  ctl = runController({
    kc: cluster.kubeConfig,
    systemNamespace: SYS,
    reconcile: { resolveGraceMs: 2_000, deadlineGraceMs: 2_000, cleanupTimeoutMs: 60_000 },
    minIntervalMs: 100,
    stores: {
      credentialsDir: credDir,
      resolveEndpoint: (e) => (e === SVC ? server.hostEndpoint : e),
      retry: { attempts: 2, baseMs: 50, capMs: 200 },
      requestTimeoutMs: 10_000,
      probeIntervalMs: 2_000,
      cleanupRetryBaseMs: 300,
    },
  });
  await ctl.ready;
});

after(async () => {
  await ctl?.stop();
  await kubelet?.close();
  await server?.stop();
  await cluster?.stop();
  if (credDir) rmSync(credDir, { recursive: true, force: true });
});

describe('store Ready probe (signed request with the mounted credentials)', () => {
  it('a reachable bucket with good credentials is Ready', async () => {
    const r = await waitStoreReady(admin, 'main', 'True');
    assert.equal(r.reason, 'BucketReachable');
  });
  it('a wrong secret key: Ready False with the store\'s error', async () => {
    const r = await waitStoreReady(admin, 'wrong-secret', 'False');
    assert.equal(r.reason, 'SignatureDoesNotMatch');
    assert.match(r.message ?? '', /secret access key .* is wrong/);
  });
  it('a missing bucket: Ready False, NoSuchBucket, naming the bucket', async () => {
    const r = await waitStoreReady(admin, 'no-bucket', 'False');
    assert.equal(r.reason, 'NoSuchBucket');
    assert.match(r.message ?? '', /bucket "no-such-bucket" does not exist/);
  });
  it('credentials entries missing from the mounted Secret: Ready False, CredentialsMissing', async () => {
    const r = await waitStoreReady(admin, 'no-entry', 'False');
    assert.equal(r.reason, 'CredentialsMissing');
    assert.match(r.message ?? '', /no entry "absent.accessKeyId"/);
  });
});

describe('spec.store resolution', () => {
  it('an unknown store fails the capture with StoreNotFound and a Warning Event listing usable stores', async () => {
    await createCapture(admin, 'team-a', 'unknown-store', { targetPod: 'web', store: 'nope' });
    const pc = await waitCapture(admin, 'team-a', 'unknown-store', 'failure', (p) => p.status?.progress === 'failure');
    assert.equal(cond(pc, CONDITIONS.Invalid)?.reason, 'StoreNotFound');
    const ev = await waitEvent(admin, pc, 'StoreNotFound');
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /PacketCaptureStore "nope" does not exist; stores this namespace may use: .*main/);
  });

  it('a store that does not allow the namespace fails the capture with StoreNotAllowed', async () => {
    await createCapture(admin, 'team-b', 'not-allowed', { targetPod: 'web', store: 'main' });
    const pc = await waitCapture(admin, 'team-b', 'not-allowed', 'failure', (p) => p.status?.progress === 'failure');
    assert.equal(cond(pc, CONDITIONS.Invalid)?.reason, 'StoreNotAllowed');
    const ev = await waitEvent(admin, pc, 'StoreNotAllowed');
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /does not allow namespace "team-b": the cluster admin must add "team-b"/);
    assert.equal(cond(pc, CONDITIONS.Uploaded), undefined, 'no Uploaded condition on a refused capture');
  });

  it('a namespace allowed by the store\'s label selector may use it', async () => {
    await admin.request({ method: 'PATCH', path: '/api/v1/namespaces/team-c', contentType: 'application/merge-patch+json', body: { metadata: { labels: { 'pcapper.dev/store-main': 'allowed' } } } });
    await createCapture(admin, 'team-c', 'by-label', { targetPod: 'web', store: 'main' });
    const pc = await waitCapture(admin, 'team-c', 'by-label', 'scheduled with Uploaded', (p) => p.status?.progress === 'scheduled' && !!cond(p, CONDITIONS.Uploaded));
    assert.equal(cond(pc, CONDITIONS.Invalid)?.status, 'False');
    assert.equal(cond(pc, CONDITIONS.Uploaded)?.reason, 'Uploading');
  });

  it('the system namespace may use any store', async () => {
    await kubelet.createPod({ namespace: SYS, name: 'sys-web', node: 'worker-01', network: false });
    await createCapture(admin, SYS, 'sys-store', { targetPod: 'sys-web', store: 'main' });
    const pc = await waitCapture(admin, SYS, 'sys-store', 'scheduled', (p) => p.status?.progress === 'scheduled');
    assert.equal(cond(pc, CONDITIONS.Invalid)?.status, 'False');
  });

  it('no spec.store and no default store: no Uploaded condition (files stay on the nodes)', async () => {
    await createCapture(admin, 'team-a', 'no-store', { targetPod: 'web' });
    const pc = await waitCapture(admin, 'team-a', 'no-store', 'scheduled', (p) => p.status?.progress === 'scheduled');
    assert.equal(cond(pc, CONDITIONS.Uploaded), undefined);
  });
});

describe('Uploaded condition from the agents\' per-file upload states', () => {
  const T = 'pod/team-a/web';
  const file = (name: string, upload: Record<string, unknown>) => ({ name, size: 1000, upload });
  it('follows Uploading -> UploadFailed -> AllUploaded', async () => {
    await createCapture(admin, 'team-a', 'up', { targetPod: 'web', store: 'main', captureSeconds: 600 });
    await waitCapture(admin, 'team-a', 'up', 'scheduled', (p) => p.status?.progress === 'scheduled');
    const t0 = nowIso();
    await agentReport(admin, 'team-a', 'up', 'worker-01', [
      { name: T, phase: 'Running', startTime: t0, lastUpdateTime: t0, files: [file('a.pcap0', { state: 'Uploaded', parts: 1, partsDone: 1 }), file('a.pcap1', { state: 'Uploading', parts: 3, partsDone: 1 })] },
    ]);
    let pc = await waitCapture(admin, 'team-a', 'up', 'Uploading 1 of 2', (p) => /1 of 2 files uploaded/.test(cond(p, CONDITIONS.Uploaded)?.message ?? ''));
    assert.equal(cond(pc, CONDITIONS.Uploaded)?.status, 'False');
    assert.equal(cond(pc, CONDITIONS.Uploaded)?.reason, 'Uploading');

    await agentReport(admin, 'team-a', 'up', 'worker-01', [
      {
        name: T,
        phase: 'Running',
        files: [
          file('a.pcap0', { state: 'Uploaded', parts: 1, partsDone: 1 }),
          file('a.pcap1', { state: 'Failed', reason: 'UploadFailed', message: 'bucket "x" does not exist at https://s3: create it' }),
        ],
      },
    ]);
    pc = await waitCapture(admin, 'team-a', 'up', 'UploadFailed', (p) => cond(p, CONDITIONS.Uploaded)?.reason === 'UploadFailed');
    assert.match(cond(pc, CONDITIONS.Uploaded)?.message ?? '', /1 failed: worker-01\/pod\/team-a\/web\/a.pcap1: bucket "x" does not exist/);

    await agentReport(admin, 'team-a', 'up', 'worker-01', [
      { name: T, phase: 'Finished', finishTime: nowIso(), files: [file('a.pcap0', { state: 'Uploaded' }), file('a.pcap1', { state: 'Uploaded' })] },
    ]);
    pc = await waitCapture(admin, 'team-a', 'up', 'AllUploaded', (p) => cond(p, CONDITIONS.Uploaded)?.status === 'True');
    assert.equal(cond(pc, CONDITIONS.Uploaded)?.reason, 'AllUploaded');
    assert.equal(cond(pc, CONDITIONS.Uploaded)?.message, '2 of 2 files uploaded');
    assert.equal(pc.status?.progress, 'finished');
  });
});

describe('delete removes the capture\'s objects through the finalizer', () => {
  it('StoreCleanedUp False while the store refuses, then the objects are deleted and the capture goes', async () => {
    await createCapture(admin, 'team-a', 'del', { targetPod: 'web', store: 'main', captureSeconds: 600 });
    const created = await waitCapture(admin, 'team-a', 'del', 'scheduled', (p) => p.status?.progress === 'scheduled');
    // objects as the agent uploads them, plus one of a capture whose name shares the prefix
    const c = server.client(BUCKET);
    try {
      const keys = ['del.pcap0', 'del.pcap0.meta.json', 'del.pcap1'].map((f) => objectKey({ prefix: '', namespace: 'team-a', capture: 'del', node: 'worker-01', target: 'pod.team-a.web', file: f }));
      const other = objectKey({ prefix: '', namespace: 'team-a', capture: 'del-2', node: 'worker-01', target: 'pod.team-a.web', file: 'x.pcap0' });
      for (const k of [...keys, other]) {
        const body = Buffer.from(`object ${k}`);
        await c.putObject(k, body, Buffer.from(sha256Hex(body), 'hex').toString('base64'));
      }
      assert.equal((await c.listObjects(capturePrefix('', 'team-a', 'del'))).length, 3);
      await agentReport(admin, 'team-a', 'del', 'worker-01', [{ name: 'pod/team-a/web', phase: 'Running', startTime: nowIso(), lastUpdateTime: nowIso() }], { files: 2, bytes: 10, cleanedUp: true });

      // the store refuses: the controller's credentials are wrong now (the Secret was edited badly)
      writeCredentialsDir(credDir, { 'main.secretAccessKey': 'broken' });
      await deletePacketCapture(admin, 'team-a', 'del', { uid: created.metadata.uid });
      const refusing = await waitCapture(admin, 'team-a', 'del', 'StoreCleanedUp False', (p) => cond(p, CONDITIONS.StoreCleanedUp)?.status === 'False');
      assert.ok(refusing.metadata.deletionTimestamp, 'Terminating');
      assert.match(cond(refusing, CONDITIONS.StoreCleanedUp)?.message ?? '', /refused to delete team-a\/del\/: .*secret access key .* is wrong/);
      await waitEvent(admin, refusing, 'StoreCleanupFailed');
      assert.equal((await c.listObjects(capturePrefix('', 'team-a', 'del'))).length, 3, 'objects still there');
      // still there after a retry with backoff (state, not time: a second False observed with a newer probe is not needed; the object exists)
      const still = await getPacketCapture(admin, 'team-a', 'del');
      assert.ok(still.metadata.finalizers?.includes('pcapper.dev/cleanup'), 'the finalizer stays while the store refuses');

      // fixed: the next retry deletes the objects and releases the finalizer
      writeCredentialsDir(credDir, { 'main.secretAccessKey': server.secretAccessKey });
      await waitGone(admin, 'team-a', 'del', 30_000);
      assert.deepEqual(await c.listObjects(capturePrefix('', 'team-a', 'del')), []);
      const done = await waitEvent(admin, refusing, 'StoreCleanedUp');
      assert.match(done.message, /3 object\(s\) deleted from store "main"/);
      assert.equal((await c.listObjects(capturePrefix('', 'team-a', 'del-2'))).length, 1, "another capture's objects stay");
    } finally {
      c.close();
    }
  });

  it('a capture without files in the store goes as before (StoreCleanedUp True, 0 objects)', async () => {
    await createCapture(admin, 'team-a', 'del-empty', { targetPod: 'web', store: 'main' });
    await waitCapture(admin, 'team-a', 'del-empty', 'scheduled', (p) => p.status?.progress === 'scheduled');
    await deletePacketCapture(admin, 'team-a', 'del-empty');
    await waitGone(admin, 'team-a', 'del-empty', 20_000);
  });
});

describe('TTL deletes through the same path', () => {
  it('ttlSecondsAfterFinished deletes the capture and its objects', async () => {
    await createCapture(admin, 'team-a', 'ttl', { targetPod: 'web', store: 'main', captureSeconds: 600, ttlSecondsAfterFinished: 1 });
    const created = await waitCapture(admin, 'team-a', 'ttl', 'scheduled', (p) => p.status?.progress === 'scheduled');
    const c = server.client(BUCKET);
    try {
      const k = objectKey({ prefix: '', namespace: 'team-a', capture: 'ttl', node: 'worker-01', target: 'pod.team-a.web', file: 'ttl.pcap0' });
      const body = Buffer.from('encrypted bytes stand here');
      await c.putObject(k, body, Buffer.from(sha256Hex(body), 'hex').toString('base64'));
      const t0 = nowIso();
      await agentReport(admin, 'team-a', 'ttl', 'worker-01', [{ name: 'pod/team-a/web', phase: 'Finished', startTime: t0, finishTime: t0, files: [{ name: 'ttl.pcap0', size: 10, upload: { state: 'Uploaded' } }] }], { files: 0, bytes: 0, cleanedUp: true });
      await waitGone(admin, 'team-a', 'ttl', 30_000);
      assert.deepEqual(await c.listObjects(capturePrefix('', 'team-a', 'ttl')), []);
      await waitEvent(admin, created, 'Expired');
      await waitEvent(admin, created, 'StoreCleanedUp');
    } finally {
      c.close();
    }
  });
});

describe('the default store', () => {
  it('a capture naming no store uses the single default store that allows its namespace', async () => {
    await createStore(admin, 'dflt', { s3: s3('main'), allowedNamespaces: { names: ['team-a'] }, default: true });
    await waitStoreReady(admin, 'dflt', 'True');
    await createCapture(admin, 'team-a', 'uses-default', { targetPod: 'web' });
    const pc = await waitCapture(admin, 'team-a', 'uses-default', 'Uploaded present', (p) => !!cond(p, CONDITIONS.Uploaded));
    assert.equal(cond(pc, CONDITIONS.Uploaded)?.reason, 'Uploading');
  });
  it('two default stores: both Ready False MultipleDefaults, and neither is used', async () => {
    await createStore(admin, 'dflt2', { s3: s3('main'), allowedNamespaces: { names: ['team-a'] }, default: true });
    for (const n of ['dflt', 'dflt2']) {
      const r = await waitStoreReady(admin, n, 'False');
      assert.equal(r.reason, 'MultipleDefaults');
      assert.match(r.message ?? '', /2 stores are marked default \(dflt, dflt2\)/);
    }
    await createCapture(admin, 'team-a', 'two-defaults', { targetPod: 'web' });
    const pc = await waitCapture(admin, 'team-a', 'two-defaults', 'scheduled', (p) => p.status?.progress === 'scheduled');
    assert.equal(cond(pc, CONDITIONS.Uploaded), undefined);
  });
});

void KubeApiError;
