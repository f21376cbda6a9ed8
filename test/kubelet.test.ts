// The simulated kubelet against a real kube-apiserver: Node and Pod objects with the status a
// kubelet writes, workload owner chains, real traffic between pods on two nodes, and complete
// removal of kernel state on pod deletion and on teardown.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { startCluster, statusCode, type Cluster } from './harness/cluster.js';
import { findPidsByContainerId } from './harness/cgroup.js';
import { SimKubelet, type SimPod } from './harness/kubelet.js';
import { assertRoot, listNetns, processAlive } from './harness/netns.js';
import { httpGet, startHttpServer } from './harness/traffic.js';

const NS = 'sim';

/** Kernel state a pod owns: netns, processes, cgroup dirs. */
function podKernelState(p: SimPod): { netns: string; pids: number[]; cgroups: string[] } {
  return {
    netns: p.netns,
    pids: p.sandbox?.containers.map((c) => c.pid) ?? [],
    cgroups: p.sandbox?.containers.flatMap((c) => c.cgroup.dirs) ?? [],
  };
}

function assertKernelGone(s: { netns: string; pids: number[]; cgroups: string[] }, what: string): void {
  assert.ok(!listNetns().includes(s.netns), `${what}: netns ${s.netns} removed`);
  for (const pid of s.pids) assert.ok(!processAlive(pid), `${what}: pid ${pid} gone`);
  for (const d of s.cgroups) assert.ok(!existsSync(d), `${what}: cgroup ${d} removed`);
}

describe('simulated kubelet with a real apiserver (needs root)', () => {
  let cluster: Cluster;
  let kubelet: SimKubelet;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  const kernel: { netns: string; pids: number[]; cgroups: string[] }[] = [];

  before(async () => {
    assertRoot();
    cluster = await startCluster();
    core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
    kubelet = new SimKubelet(cluster.kubeConfig);
    await kubelet.addNode('node-a', { labels: { zone: 'a' } });
    await kubelet.addNode('node-b', { labels: { zone: 'b' } });
  });

  after(async () => {
    const errors = (await kubelet?.close()) ?? [];
    await cluster?.stop();
    assert.deepEqual(errors, [], 'kubelet teardown reported no errors');
  });

  it('registers Ready nodes whose InternalIP is the node netns address', async () => {
    const node = await core.readNode({ name: 'node-a' });
    assert.equal(node.metadata?.labels?.zone, 'a');
    assert.equal(node.metadata?.labels?.['kubernetes.io/hostname'], 'node-a');
    assert.equal(node.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    const internal = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    assert.equal(internal, kubelet.node('node-a')?.net?.ip);
    assert.match(node.status?.nodeInfo?.kubeletVersion ?? '', /^v1\.34\./);
  });

  it('creates a bound, Running pod whose containerID leads to a real process in the pod netns', async () => {
    const sim = await kubelet.createPod({ namespace: NS, name: 'web', node: 'node-a', labels: { app: 'web' } });
    kernel.push(podKernelState(sim));
    const pod = await core.readNamespacedPod({ namespace: NS, name: 'web' });
    assert.equal(pod.spec?.nodeName, 'node-a');
    assert.equal(pod.status?.phase, 'Running');
    assert.equal(pod.status?.podIP, sim.ip);
    assert.deepEqual(pod.status?.podIPs?.map((i) => i.ip), [sim.ip]);
    assert.equal(pod.status?.hostIP, kubelet.node('node-a')?.ip);
    assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    const cs = pod.status?.containerStatuses?.[0];
    assert.match(cs?.containerID ?? '', /^containerd:\/\/[0-9a-f]{64}$/);
    assert.ok(cs?.state?.running, 'container state running');
    const id = (cs?.containerID ?? '').slice('containerd://'.length);
    const pids = findPidsByContainerId(id);
    assert.deepEqual(pids, [sim.pid]);
    const line = readFileSync(`/proc/${sim.pid}/cgroup`, 'utf8');
    assert.ok(line.includes(`kubepods-besteffort-pod${sim.uid.replace(/-/g, '_')}.slice/cri-containerd-${id}.scope`), line);
  });

  it('builds a Deployment -> ReplicaSet -> Pods chain with controller owner references', async () => {
    const labels = { app: 'shop' };
    const { workload, replicaSet, pods } = await kubelet.makeDeployment(NS, 'shop', 3, labels, ['node-a', 'node-b'], { network: false });
    const rs = await apps.readNamespacedReplicaSet({ namespace: NS, name: replicaSet.metadata?.name ?? '' });
    const rsOwner = rs.metadata?.ownerReferences?.[0];
    assert.equal(rsOwner?.kind, 'Deployment');
    assert.equal(rsOwner?.uid, workload.metadata?.uid);
    assert.equal(rsOwner?.controller, true);
    const listed = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=shop' });
    assert.equal(listed.items.length, 3);
    for (const p of listed.items) {
      const o = p.metadata?.ownerReferences?.[0];
      assert.equal(o?.kind, 'ReplicaSet');
      assert.equal(o?.uid, rs.metadata?.uid);
      assert.equal(o?.controller, true);
      assert.ok(p.metadata?.name?.startsWith(`${rs.metadata?.name}-`));
      assert.equal(p.metadata?.labels?.['pod-template-hash'], rs.metadata?.labels?.['pod-template-hash']);
      assert.equal(p.status?.phase, 'Running');
      assert.match(p.status?.containerStatuses?.[0]?.containerID ?? '', /^containerd:\/\/[0-9a-f]{64}$/);
    }
    assert.deepEqual(pods.map((p) => p.node).sort(), ['node-a', 'node-a', 'node-b']);
    const dep = await apps.readNamespacedDeployment({ namespace: NS, name: 'shop' });
    assert.equal(dep.status?.readyReplicas, 3);

    const sts = await kubelet.makeStatefulSet(NS, 'db', 2, { app: 'db' }, ['node-b'], { network: false });
    assert.deepEqual(sts.pods.map((p) => p.name), ['db-0', 'db-1']);
    assert.equal(sts.pods[0]?.object.metadata?.ownerReferences?.[0]?.kind, 'StatefulSet');
    const ds = await kubelet.makeDaemonSet(NS, 'agent', { app: 'agent' }, ['node-a', 'node-b'], { network: false });
    assert.deepEqual(ds.pods.map((p) => p.node), ['node-a', 'node-b']);
    assert.equal(ds.pods[1]?.object.metadata?.ownerReferences?.[0]?.uid, ds.workload.metadata?.uid);
  });

  it('lets pods on two nodes exchange HTTP', async () => {
    const client = kubelet.pod(NS, 'web');
    assert.ok(client);
    const server = await kubelet.createPod({ namespace: NS, name: 'api', node: 'node-b', labels: { app: 'api' } });
    kernel.push(podKernelState(server));
    const srv = await startHttpServer(server, 8080, { run: kubelet.run });
    try {
      const r = await httpGet(client, `http://${server.ip}:8080/orders`);
      assert.equal(r.status, 200);
      assert.match(r.body, /GET \/orders/);
    } finally {
      await srv.stop();
    }
  });

  it('deletePod removes the netns, veth, cgroup, process and the Pod object at once', async () => {
    const p = await kubelet.createPod({ namespace: NS, name: 'short-lived', node: 'node-b' });
    const state = podKernelState(p);
    assert.ok(listNetns().includes(state.netns));
    await kubelet.deletePod(NS, 'short-lived');
    assertKernelGone(state, 'short-lived');
    // gracePeriodSeconds=0: the apiserver removes the object without waiting for a kubelet
    await assert.rejects(core.readNamespacedPod({ namespace: NS, name: 'short-lived' }), (e) => statusCode(e) === 404);
  });

  it('teardown removes every pod sandbox (checked after close)', async () => {
    const errors = await kubelet.close();
    assert.deepEqual(errors, []);
    for (const s of kernel) assertKernelGone(s, 'after close');
    assert.deepEqual(listNetns().filter((n) => n.startsWith(`pcp-${kubelet.run.id}-`)), []);
    assert.ok(!existsSync(kubelet.run.stateFile));
    const pods = await core.listNamespacedPod({ namespace: NS });
    assert.deepEqual(pods.items.map((p) => p.metadata?.name), []);
    const nodes = await core.listNode();
    assert.deepEqual(nodes.items.map((n) => n.metadata?.name), []);
  });
});
