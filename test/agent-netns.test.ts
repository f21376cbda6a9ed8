// The agent's container ID -> /proc/<pid>/cgroup -> /proc/<pid>/ns/net lookup against the real
// kernel (hybrid cgroup v1 + v2 here): one process per runtime cgroup layout (containerd, CRI-O,
// Docker; systemd and cgroupfs drivers), each in its own network namespace. The lookup must find
// exactly that process, and its ns/net must be that namespace. Then a real capture through the
// Linux backend in one of them: filter check, tcpdump, flush, stop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findContainerNetns } from '../src/capture/netns.js';
import { LinuxCaptureBackend } from '../src/capture/linux.js';
import { CaptureSetupError } from '../src/capture/backend.js';
import { CGROUP_LAYOUTS, ContainerCgroup, newContainerId, type CgroupLayout } from './harness/cgroup.js';
import { assertRoot } from './harness/netns.js';

interface Fixture {
  layout: CgroupLayout;
  id: string;
  netns: string;
  proc: ChildProcess;
  cgroup: ContainerCgroup;
}

const run = randomBytes(4).toString('hex');

function sh(file: string, args: string[]): void {
  const r = spawnSync(file, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr}`);
}

describe('agent netns lookup on the real kernel (needs root)', () => {
  const fixtures: Fixture[] = [];
  let data: string;

  before(() => {
    assertRoot();
    data = mkdtempSync(join(tmpdir(), 'pcapper-agent-netns-'));
    CGROUP_LAYOUTS.forEach((layout, i) => {
      const netns = `pcp-agt-${run}-${i}`;
      sh('ip', ['netns', 'add', netns]);
      sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      const id = newContainerId();
      const cgroup = ContainerCgroup.create({ containerId: id, podUid: `0000${i}000-aaaa-bbbb-cccc-${run}dddd`, root: `pcapper-agent-netns-${run}`, layout });
      const proc = spawn('ip', ['netns', 'exec', netns, 'sleep', '300'], { stdio: 'ignore' });
      fixtures.push({ layout, id, netns, proc, cgroup });
    });
    // ip netns exec execs sleep in place: the pid is sleep's once it has exec'd
    for (const f of fixtures) {
      for (let i = 0; i < 100 && !/sleep/.test(spawnSync('cat', [`/proc/${f.proc.pid ?? 0}/comm`], { encoding: 'utf8' }).stdout); i++) spawnSync('sleep', ['0.02']);
      f.cgroup.addProcess(f.proc.pid ?? 0);
    }
  });

  after(() => {
    for (const f of fixtures) {
      try {
        f.cgroup.remove();
      } catch {
        f.proc.kill('SIGKILL');
      }
      spawnSync('ip', ['netns', 'del', f.netns]);
    }
    if (data) rmSync(data, { recursive: true, force: true });
  });

  for (const layout of CGROUP_LAYOUTS) {
    it(`finds the process and network namespace of a ${layout} container`, async () => {
      const f = fixtures.find((x) => x.layout === layout);
      assert.ok(f);
      const loc = await findContainerNetns([f.id]);
      assert.equal(loc.pid, f.proc.pid);
      assert.equal(loc.netnsPath, `/proc/${f.proc.pid ?? 0}/ns/net`);
      const a = statSync(loc.netnsPath);
      const b = statSync(`/run/netns/${f.netns}`);
      assert.deepEqual([a.dev, a.ino], [b.dev, b.ino], 'the same network namespace');
    });
  }

  it('captures in that namespace through the Linux backend, and refuses a bad filter there', async () => {
    const f = fixtures[0];
    assert.ok(f);
    const backend = new LinuxCaptureBackend({ nodeName: 'node-x', dataDir: data, hostDataDir: '/var/pcapper', procRoot: '/proc' });
    const base = { captureNamespace: 'ns', captureName: 'cap', target: { kind: 'pod' as const, namespace: 'ns', pod: 'p' }, containerIds: [f.id], now: new Date() };
    const options = { interface: 'lo', filter: 'icmp', snapLength: 0, maxFileSizeBytes: 1_000_000, fileCount: 2 };
    await assert.rejects(backend.setup({ ...base, options: { ...options, filter: 'icmp and (' } }), (e: unknown) => e instanceof CaptureSetupError && e.reason === 'BadFilter' && /syntax error/.test(e.message));
    await assert.rejects(backend.setup({ ...base, options: { ...options, interface: 'nosuch0' } }), (e: unknown) => e instanceof CaptureSetupError && e.reason === 'BadInterface');
    const prep = await backend.setup({ ...base, options });
    assert.equal(statSync(prep.paths.targetDir).mode & 0o777, 0o700);
    const running = await backend.capture(prep);
    assert.equal(running.listening.linkTypeName, 'EN10MB');
    sh('ip', ['netns', 'exec', f.netns, 'ping', '-c', '3', '-i', '0.2', '127.0.0.1']);
    await new Promise((r) => setTimeout(r, 1200)); // libpcap block timeout
    running.flush();
    await new Promise((r) => setTimeout(r, 200));
    const files = readdirSync(prep.paths.targetDir).filter((n) => n.startsWith(prep.paths.fileBase));
    assert.equal(files.length, 1);
    const size = statSync(join(prep.paths.targetDir, files[0] ?? '')).size;
    assert.ok(size > 24 + 6 * 16, `SIGUSR2 flushed the 6 ICMP packets to the file (${size} bytes)`);
    const stats = await running.requestStats();
    assert.equal(stats?.captured, 6);
    const exit = await running.stop();
    assert.equal(exit.stats?.captured, 6);
    assert.equal(exit.stats?.droppedByKernel, 0);
    assert.ok(exit.stopped);
    await backend.cleanup('ns', 'cap');
  });

  it("refuses a tenant's pod in the host network namespace (hostNetwork) by inode, and allows it in the system namespace", async () => {
    const f = fixtures[2];
    assert.ok(f);
    // this container's namespace plays the host's: PCAPPER_HOST_NETNS points at it
    const backend = new LinuxCaptureBackend({ nodeName: 'node-x', dataDir: data, hostDataDir: '/var/pcapper', procRoot: '/proc', hostNetns: `/run/netns/${f.netns}`, systemNamespace: 'pcapper' });
    const req = (captureNamespace: string) => ({
      captureNamespace,
      captureName: 'hostnet',
      target: { kind: 'pod' as const, namespace: captureNamespace, pod: 'host-agent' },
      containerIds: [f.id],
      now: new Date(),
      options: { interface: 'lo', filter: '', snapLength: 0, maxFileSizeBytes: 1_000_000, fileCount: 1 },
    });
    await assert.rejects(
      backend.setup(req('team')),
      (e: unknown) => e instanceof CaptureSetupError && e.reason === 'HostNetworkPod' && /shares the node's network namespace \(hostNetwork\)/.test(e.message),
    );
    const prep = await backend.setup(req('pcapper'));
    assert.ok(prep.pinned, 'allowed in the system namespace');
    await prep.pinned.close();
    // a pod in its own namespace is not refused
    const own = new LinuxCaptureBackend({ nodeName: 'node-x', dataDir: data, hostDataDir: '/var/pcapper', procRoot: '/proc', hostNetns: `/run/netns/${fixtures[0]?.netns ?? ''}` });
    const ok = await own.setup(req('team'));
    await ok.pinned?.close();
    await backend.cleanup('team', 'hostnet');
    await backend.cleanup('pcapper', 'hostnet');
  });

  it('tcpdump enters the namespace pinned at lookup, even after the pid it was found through is gone', async () => {
    const f = fixtures[1];
    assert.ok(f);
    const pid = f.proc.pid ?? 0;
    const backend = new LinuxCaptureBackend({ nodeName: 'node-x', dataDir: data, hostDataDir: '/var/pcapper', procRoot: '/proc' });
    const prep = await backend.setup({
      captureNamespace: 'ns',
      captureName: 'pinned',
      target: { kind: 'pod', namespace: 'ns', pod: 'p' },
      containerIds: [f.id],
      now: new Date(),
      options: { interface: 'lo', filter: 'icmp', snapLength: 0, maxFileSizeBytes: 1_000_000, fileCount: 1 },
    });
    assert.equal(prep.pid, pid);
    assert.ok(prep.pinned, 'the namespace is held by an fd');
    // The container's only process exits between lookup and start: its /proc/<pid>/ns/net is gone,
    // so a capture by path could only fail or, with the pid reused, enter someone else's namespace.
    f.proc.kill('SIGKILL');
    for (let i = 0; i < 200 && existsSync(`/proc/${pid}/ns/net`); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!existsSync(`/proc/${pid}/ns/net`), 'the looked-up pid is gone');
    const running = await backend.capture(prep);
    try {
      sh('ip', ['netns', 'exec', f.netns, 'ping', '-c', '2', '-i', '0.2', '127.0.0.1']);
      const stats = await waitStats(running, 4);
      assert.equal(stats, 4, 'tcpdump captured the pinned namespace\'s pings');
    } finally {
      await running.stop();
      await backend.cleanup('ns', 'pinned');
    }
  });
});

/** Polls tcpdump's counters until it reports `n` packets (bounded), returns the last count. */
async function waitStats(running: { requestStats(): Promise<{ captured: number } | undefined> }, n: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < 50; i++) {
    last = (await running.requestStats())?.captured ?? 0;
    if (last >= n) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}
