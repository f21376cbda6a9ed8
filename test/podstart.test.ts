// Pods captured from their first packet (issue 15 item 3), on the real control plane with the real
// controller, agent (a pod on the simulated node, tcpdump in real network namespaces) and pcapper
// server. A selector capture runs; pods created while it runs start as a real runtime starts them
// (the sandbox netns with a pause process first, the pod Pending without container IDs, the app a
// moment later: test/harness/kubelet.ts sandboxFirst), and the app's first action is one DNS query
// with a name unique per pod (sent once: a query the capture missed is not sent again). The user
// downloads the capture through the API server from the laptop netns, and tshark must find each
// pod's query on that pod's interface.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PacketCapture, TargetStatus } from '../src/api/packetcapture.js';
import { assertRoot } from './harness/netns.js';
import { captureYaml, dnsQueries, download, logOf, NS, startAppPod, startPodStartStack, waitUntil, type PodStartStack } from './podstart-support.js';

describe('pods captured from their first packet: sandbox netns found by pod UID (needs root)', () => {
  let s: PodStartStack;
  let tmp: string;

  const getPc = async (name: string): Promise<PacketCapture> => {
    const r = await s.stack.cluster.kubectl(['get', 'packetcaptures.pcapper.dev', name, '-n', NS, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as PacketCapture;
  };
  const target = async (capture: string, pod: string): Promise<TargetStatus | undefined> => (await getPc(capture)).status?.targets?.find((t) => t.pod === pod);

  /**
   * The app starts only once the agent reports the pod's target Running (tcpdump listening): a
   * state, not a race. Before this item the agent found a pod's netns only through container IDs,
   * which exist only once the app runs: the target could not be Running here, and the test fails
   * with this wait's message. The race itself (app 100 ms after its sandbox) is bench/pod-start.ts.
   */
  const capturingBeforeApp = (pod: string) => async (): Promise<void> => {
    const t = await waitUntil(`target of ${pod} Running before its app starts (sandbox found by pod UID)`, async () => {
      const x = await target('starts', pod);
      return x && (x.phase === 'Running' || x.phase === 'Failed') ? x : undefined;
    });
    assert.equal(t.phase, 'Running', `${pod}: ${t.reason ?? ''} ${t.message ?? ''}`);
    const st = await s.stack.kubelet.core.readNamespacedPodStatus({ name: pod, namespace: NS });
    assert.equal(st.status?.phase, 'Pending', 'captured while Pending');
    assert.equal((st.status?.containerStatuses ?? []).length, 0, 'captured before any container ID');
  };

  before(async () => {
    assertRoot();
    tmp = mkdtempSync('/tmp/pcapper-podstart-test-');
    s = await startPodStartStack();
    const r = await s.stack.cluster.kubectl(['apply', '-f', '-'], { input: captureYaml('starts') });
    assert.equal(r.code, 0, r.stderr);
    // the capture is accepted and planned (no pod matches yet: it waits for pods, it does not fail)
    await waitUntil('capture planned', async () => (await getPc('starts')).status?.progress !== undefined);
  });

  after(async () => {
    await s?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("captures each new pod's first DNS query: the target is Running while the pod is Pending without containers, then the app's query is in the download", async () => {
    const pods = ['app-0', 'app-1', 'app-2', 'app-3', 'app-4'];
    for (const p of pods) {
      const pod = await startAppPod(s, p, `${p}.first.podstart.test`, { appStartDelayMs: 0, beforeAppStart: capturingBeforeApp(p) });
      // the app ran and got its answer: the query was on the wire
      await waitUntil(`${p} answered`, () => logOf(pod).includes(`answered ${p}.first.podstart.test`));
    }
    for (const p of pods) {
      const t = await waitUntil(`${p} Running in status`, async () => {
        const x = await target('starts', p);
        return x && (x.phase === 'Running' || x.phase === 'Failed') ? x : undefined;
      });
      assert.equal(t.phase, 'Running', `${p}: ${t.reason ?? ''} ${t.message ?? ''}`);
    }
    const file = join(tmp, 'starts.pcapng');
    // tcpdump gets packets in the kernel's blocks (up to 1 s late without immediate mode): download
    // again until every pod's query is there or 15 s have passed; a query the capture missed is
    // never sent again, so it never appears and the assertion below fails
    let q = new Map<string, Set<string>>();
    await waitUntil('every query in the download', async () => {
      await download(s, 'starts', file, tmp);
      q = dnsQueries(file);
      return pods.every((p) => q.get(`node-a/${NS}/${p}`)?.size);
    }, 15_000).catch(() => undefined);
    for (const p of pods) {
      const names = [...(q.get(`node-a/${NS}/${p}`) ?? [])];
      assert.deepEqual(names, [`${p}.first.podstart.test`], `${p}: the app's first DNS query is on its own interface (got ${JSON.stringify([...q.entries()].map(([k, v]) => [k, [...v]]))})`);
    }
  });

  it('a pod whose sandbox appears late (the Pod exists Pending without one for 1.5 s) is still captured from its first app packet', async () => {
    const p = 'late-0';
    const pod = await startAppPod(s, p, `${p}.late.podstart.test`, { sandboxDelayMs: 1500, appStartDelayMs: 0, beforeAppStart: capturingBeforeApp(p) });
    await waitUntil(`${p} answered`, () => logOf(pod).includes(`answered ${p}.late.podstart.test`));
    const t = await waitUntil(`${p} Running`, async () => {
      const x = await target('starts', p);
      return x && (x.phase === 'Running' || x.phase === 'Failed') ? x : undefined;
    });
    assert.equal(t.phase, 'Running', `${t.reason ?? ''} ${t.message ?? ''}`);
    const file = join(tmp, 'late.pcapng');
    let got: string[] = [];
    await waitUntil('the query in the download', async () => {
      await download(s, 'starts', file, tmp);
      got = [...(dnsQueries(file).get(`node-a/${NS}/${p}`) ?? [])];
      return got.length > 0;
    }, 15_000).catch(() => undefined);
    assert.deepEqual(got, [`${p}.late.podstart.test`]);
  });
});
