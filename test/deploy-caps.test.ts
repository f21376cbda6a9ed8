/**
 * The agent's capability set, as rendered by the chart, against the real kernel and the real
 * binaries: the exact command the agent runs (src/capture/runner.ts tcpdumpCommand +
 * src/capture/tcpdump.ts buildTcpdumpArgv: setpriv -> nsenter --net=/proc/<pid>/ns/net ->
 * tcpdump -Z root) is started as uid 0 limited to the chart's capabilities the way a container
 * runtime limits a container (bounding set, no inheritable/ambient capabilities, no_new_privs from
 * allowPrivilegeEscalation=false). With exactly that set a capture of a pod and of a node
 * interface succeeds; without any one of them it fails with the error each comment in
 * templates/agent-daemonset.yaml names. NET_ADMIN, which the chart leaves out, is not needed even
 * for promiscuous mode.
 *
 * The pod's process is a real process in its own network namespace, as test/harness/kubelet.ts
 * makes them, running as root with full capabilities (like a container's root process would hold
 * capabilities the agent lacks): that is what makes the ptrace access check bite.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tcpdumpCommand } from '../src/capture/runner.js';
import { buildTcpdumpArgv } from '../src/capture/tcpdump.js';
import { HarnessRun, PodNetwork, assertRoot, runCommand, spawnInNetns, type NodeNet, type PodNet, type SpawnedProcess } from './harness/netns.js';
import { ping } from './harness/traffic.js';
import { findManifest, helmTemplate, parseManifests } from './tools/helm.js';
import { eventually } from './harness/eventually.js';

interface Result {
  code: number | null;
  stderr: string;
  files: string[];
}

/** Runs the agent's tcpdump command for `netnsPath` as root limited to `caps`, while `traffic` runs. */
async function captureWith(caps: readonly string[], netnsPath: string, iface: string, traffic: () => Promise<unknown>): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'pcapper-caps-'));
  try {
    const argv = buildTcpdumpArgv({ interface: iface, filter: 'icmp', snapLength: 0, packetCount: 2, maxFileSizeBytes: 1_000_000, fileCount: 2 }, join(dir, 'node-a.cap.1.pcap'));
    const cmd = tcpdumpCommand(argv, netnsPath);
    const bounding = ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',');
    // What a runtime does for a container with drop: [ALL], add: caps, allowPrivilegeEscalation: false.
    const child = spawn('setpriv', ['--no-new-privs', '--inh-caps=-all', `--bounding-set=${bounding}`, '--', cmd.file, ...cmd.args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
    // tcpdump prints "listening on IFACE" once its socket is open; one refused a capability
    // exits instead. Traffic only then, so a socket opened late cannot miss it.
    let exitedEarly = false;
    void exited.then(() => (exitedEarly = true));
    await eventually(() => exitedEarly || /listening on /.test(stderr), { what: 'tcpdump to open its socket or exit', timeoutMs: 8000, describe: () => stderr });
    if (!exitedEarly) await traffic();
    const code = await exited;
    clearTimeout(timer);
    const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).size > 24);
    return { code, stderr, files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('agent capabilities from the chart, on the real kernel (needs root)', () => {
  let run: HarnessRun;
  let network: PodNetwork;
  let node: NodeNet;
  let pod: PodNet;
  let peer: PodNet;
  let podProc: SpawnedProcess;
  let nodeProc: SpawnedProcess;
  let caps: string[];

  before(async () => {
    assertRoot();
    const ds = findManifest(parseManifests(await helmTemplate()), 'DaemonSet', 'pcapper-agent') as unknown as {
      spec: { template: { spec: { containers: { securityContext: { capabilities: { add: string[]; drop: string[] }; allowPrivilegeEscalation: boolean } }[] } } };
    };
    const sc = ds.spec.template.spec.containers[0]?.securityContext;
    assert.deepEqual(sc?.capabilities.drop, ['ALL']);
    assert.equal(sc?.allowPrivilegeEscalation, false, 'the test runs with no_new_privs because the chart does');
    caps = sc?.capabilities.add ?? [];
    run = new HarnessRun();
    network = new PodNetwork(run);
    node = await network.addNode('node-a');
    pod = await network.addPod('node-a', 'caps/target');
    peer = await network.addPod('node-a', 'caps/peer');
    // The pod's "container" and a process standing for the node's pid 1 (PCAPPER_HOST_NETNS=/proc/1/ns/net).
    podProc = spawnInNetns(pod, ['sleep', 'infinity'], { run, what: 'caps target container' });
    nodeProc = spawnInNetns(node, ['sleep', 'infinity'], { run, what: 'caps node init' });
  });

  after(async () => {
    podProc?.kill();
    nodeProc?.kill();
    await network?.close();
    run?.cleanup();
  });

  const podTraffic = (): Promise<unknown> => ping(peer, pod.ip, 4);

  it('the chart adds exactly SYS_ADMIN, SYS_PTRACE, NET_RAW, SETGID', () => {
    assert.deepEqual([...caps].sort(), ['NET_RAW', 'SETGID', 'SYS_ADMIN', 'SYS_PTRACE']);
  });

  it("captures a pod's traffic inside its network namespace with exactly the chart's capabilities, promiscuous without NET_ADMIN", async () => {
    assert.ok(!caps.includes('NET_ADMIN'));
    let promiscuity = -1;
    const r = await captureWith(caps, `/proc/${podProc.pid}/ns/net`, pod.ifname, async () => {
      // libpcap turns promiscuous mode on with a PACKET_MR_PROMISC membership: no NET_ADMIN needed.
      const link = await runCommand('ip', ['-n', pod.netns, '-d', 'link', 'show', pod.ifname]);
      promiscuity = Number(/promiscuity (\d+)/.exec(link)?.[1] ?? -1);
      await podTraffic();
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(promiscuity >= 1, `the pod interface was promiscuous while capturing (promiscuity ${promiscuity})`);
    assert.match(r.stderr, /2 packets captured/);
    assert.equal(r.files.length, 1, `one ring file with packets: ${r.stderr}`);
  });

  it("captures a node interface through the node's /proc/<pid>/ns/net (no hostNetwork)", async () => {
    const r = await captureWith(caps, `/proc/${nodeProc.pid}/ns/net`, node.bridge, podTraffic);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /2 packets captured/);
  });

  const expectedFailure: Record<string, RegExp> = {
    SYS_ADMIN: /reassociate to namespace 'ns\/net' failed: Operation not permitted/,
    SYS_PTRACE: /cannot open \/proc\/\d+\/ns\/net: Permission denied/,
    NET_RAW: /You don't have permission to perform this capture on that device[\s\S]*socket: Operation not permitted/,
    SETGID: /Couldn't change to 'root' uid=0 gid=0: Operation not permitted/,
  };
  for (const cap of Object.keys(expectedFailure)) {
    it(`fails without ${cap}, with the error its comment in the chart names`, async () => {
      assert.ok(caps.includes(cap));
      const r = await captureWith(
        caps.filter((c) => c !== cap),
        `/proc/${podProc.pid}/ns/net`,
        pod.ifname,
        podTraffic,
      );
      assert.notEqual(r.code, 0, `tcpdump must fail without ${cap}`);
      assert.match(r.stderr, expectedFailure[cap] ?? /$^/);
      assert.deepEqual(r.files, []);
    });
  }
});
