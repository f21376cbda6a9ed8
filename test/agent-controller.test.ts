// End to end with the real controller: the controller plans a label-selector capture over two
// simulated nodes, each node's agent process captures its pods, the controller aggregates the
// agents' observations into seed 002's progress/node/fileLocation, and deleting the capture goes
// through the finalizer: agents stop tcpdump and remove files, report cleanedUp, the controller
// releases the finalizer and the object disappears.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FINALIZER } from '../src/api/packetcapture.js';
import { createPacketCapture, deletePacketCapture } from '../src/k8s/client.js';
import { listEvents } from '../src/k8s/events.js';
import { assertRoot } from './harness/netns.js';
import { httpGet, startHttpServer, type ServerHandle } from './harness/traffic.js';
import { getCapture, startAgentEnv, tcpdumpPids, waitFor, type AgentEnv } from './agent-support.js';

const NS = 'team';

describe('agents with the real controller (needs root)', () => {
  let env: AgentEnv;
  const servers: ServerHandle[] = [];

  before(async () => {
    assertRoot();
    env = await startAgentEnv({
      nodes: ['node-1', 'node-2'],
      pods: [
        { namespace: NS, name: 'api-1', node: 'node-1', labels: { app: 'api' } },
        { namespace: NS, name: 'api-2', node: 'node-2', labels: { app: 'api' } },
        { namespace: NS, name: 'other', node: 'node-2', labels: { app: 'other' } },
      ],
      controller: true,
    });
    for (const name of ['api-1', 'api-2']) {
      const p = env.pods.get(`${NS}/${name}`);
      assert.ok(p);
      servers.push(await startHttpServer({ netnsPath: p.netnsPath, ip: p.ip }, 8080));
    }
  });

  after(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    const left = env ? tcpdumpPids(env.tmp) : [];
    await env?.stop();
    assert.deepEqual(left, [], 'no tcpdump left');
  });

  it('selector capture: planned by the controller, captured by both agents, aggregated to finished; delete releases the finalizer after cleanup', async () => {
    const name = 'api-traffic';
    await createPacketCapture(env.cluster.kubeConfig, {
      metadata: { name, namespace: NS },
      spec: { podSelector: { matchLabels: { app: 'api' } }, captureSeconds: '4', maxFileSize: '1M', fileCount: '2' },
    });
    await waitFor('both targets Running', async () => {
      const pc = await getCapture(env.cluster.kubeConfig, NS, name);
      const ts = pc.status?.targets ?? [];
      return ts.length === 2 && ts.every((t) => t.phase === 'Running') ? pc : undefined;
    }, 20_000);
    const a1 = env.pods.get(`${NS}/api-1`);
    const a2 = env.pods.get(`${NS}/api-2`);
    assert.ok(a1 && a2);
    assert.equal((await httpGet(a1, `http://${a2.ip}:8080/cross-node`)).status, 200);
    const done = await waitFor('progress finished', async () => {
      const pc = await getCapture(env.cluster.kubeConfig, NS, name);
      return pc.status?.progress === 'finished' ? pc : undefined;
    }, 30_000);
    assert.deepEqual(done.metadata.finalizers, [FINALIZER], 'the controller added its finalizer');
    const targets = done.status?.targets ?? [];
    assert.deepEqual(targets.map((t) => `${t.name}@${t.node ?? ''}:${t.phase ?? ''}`).sort(), [`pod/${NS}/api-1@node-1:Finished`, `pod/${NS}/api-2@node-2:Finished`]);
    for (const t of targets) assert.ok((t.packets ?? 0) > 0 && (t.files ?? []).length > 0, JSON.stringify(t));
    assert.ok(done.status?.node?.includes('node-1') && done.status.node.includes('node-2'), `seed 002 node: ${done.status?.node ?? ''}`);
    for (const n of ['node-1', 'node-2']) {
      const entry = done.status?.nodes?.find((x) => x.node === n);
      assert.ok(entry && !('endpoint' in entry), `${n}: the agent publishes no address in status`);
      assert.ok(existsSync(join(env.dataDir(n), NS, name)));
    }

    await deletePacketCapture(env.cluster.kubeConfig, NS, name);
    await waitFor('object gone after the agents cleaned up', async () => {
      try {
        await getCapture(env.cluster.kubeConfig, NS, name);
        return undefined;
      } catch {
        return true;
      }
    }, 20_000);
    for (const n of ['node-1', 'node-2']) assert.ok(!existsSync(join(env.dataDir(n), NS, name)), `${n} removed the files before the finalizer went`);
  });

  it('a capture deleted while running: tcpdumps stop, files go, the object goes', async () => {
    const name = 'long';
    await createPacketCapture(env.cluster.kubeConfig, {
      metadata: { name, namespace: NS },
      spec: { podSelector: { matchLabels: { app: 'api' } }, captureSeconds: '300', maxFileSize: '1M', fileCount: '2' },
    });
    await waitFor('both targets Running', async () => {
      const pc = await getCapture(env.cluster.kubeConfig, NS, name);
      const ts = pc.status?.targets ?? [];
      return ts.length === 2 && ts.every((t) => t.phase === 'Running');
    }, 20_000);
    assert.equal(tcpdumpPids(env.tmp).length, 2);
    await deletePacketCapture(env.cluster.kubeConfig, NS, name);
    await waitFor('tcpdumps stopped', () => tcpdumpPids(env.tmp).length === 0); // a bound for a hang, not a speed claim
    await waitFor('object gone', async () => {
      try {
        await getCapture(env.cluster.kubeConfig, NS, name);
        return undefined;
      } catch {
        return true;
      }
    }, 20_000);
    for (const n of ['node-1', 'node-2']) assert.ok(!existsSync(join(env.dataDir(n), NS, name)));
  });

  it('a hostNetwork pod is refused as a tenant target (HostNetworkPod, Event) and captured from the system namespace', async () => {
    // A Pod object with hostNetwork: true bound to node-1 (API only: the controller decides from
    // the object; the agent's own netns-inode refusal is tested in test/agent-netns.test.ts).
    const node = 'node-1';
    await env.kubelet.ensureNamespace('pcapper');
    const podYaml = (ns: string): string => `
apiVersion: v1
kind: Pod
metadata: {name: host-agent, namespace: ${ns}, labels: {app: hostnet}}
spec:
  nodeName: ${node}
  hostNetwork: true
  containers: [{name: app, image: pause}]
`;
    for (const ns of [NS, 'pcapper']) {
      const r = await env.cluster.kubectl(['apply', '-f', '-'], { input: podYaml(ns) });
      assert.equal(r.code, 0, r.stderr);
    }
    const name = 'hostnet';
    const pc = await createPacketCapture(env.cluster.kubeConfig, { metadata: { name, namespace: NS }, spec: { targetPod: 'host-agent', captureSeconds: '30', maxFileSize: '1M', fileCount: '1' } });
    const refused = await waitFor('target refused', async () => {
      const x = await getCapture(env.cluster.kubeConfig, NS, name);
      return x.status?.targets?.[0]?.phase === 'Failed' ? x : undefined;
    }, 20_000);
    const t = refused.status?.targets?.[0];
    assert.equal(t?.reason, 'HostNetworkPod');
    assert.match(t?.message ?? '', new RegExp(`pod ${NS}/host-agent uses hostNetwork: .*system namespace "pcapper"`));
    assert.deepEqual(tcpdumpPids(env.tmp), [], 'no tcpdump was started for it');
    const events = await waitFor('HostNetworkPod event', async () => {
      const ev = await listEvents(env.cluster.kubeConfig, NS, pc.metadata.uid ?? '');
      return ev.some((e) => e.type === 'Warning' && /HostNetworkPod/.test(e.message ?? '')) ? ev : undefined;
    });
    assert.ok(events.length > 0);
    await deletePacketCapture(env.cluster.kubeConfig, NS, name);

    // In the system namespace the controller plans it and hands it to the agent (which waits for
    // the pod's container: no kubelet runs this one), never a HostNetworkPod failure.
    const sys = 'hostnet-admin';
    await createPacketCapture(env.cluster.kubeConfig, { metadata: { name: sys, namespace: 'pcapper' }, spec: { targetPod: 'host-agent', captureSeconds: '30', maxFileSize: '1M', fileCount: '1' } });
    const planned = await waitFor('planned in the system namespace', async () => {
      const x = await getCapture(env.cluster.kubeConfig, 'pcapper', sys);
      const tt = x.status?.targets?.[0];
      return tt && tt.phase !== undefined ? tt : undefined;
    }, 20_000);
    assert.notEqual(planned.reason, 'HostNetworkPod', JSON.stringify(planned));
    await deletePacketCapture(env.cluster.kubeConfig, 'pcapper', sys);
    for (const ns of [NS, 'pcapper']) await env.cluster.kubectl(['delete', 'pod', 'host-agent', '-n', ns, '--wait=false']);
  });
});
