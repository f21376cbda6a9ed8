// Real-kernel tests of the harness (no apiserver): pod network namespaces on two simulated nodes,
// container processes in runtime-style cgroups, traffic, a tcpdump capture inside a pod's netns found
// only from the container ID, and complete cleanup (also of a run whose process was killed).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CGROUP_LAYOUTS, ContainerCgroup, containerCgroupPath, findPidsByContainerId, newContainerId, parseCgroupMounts } from './harness/cgroup.js';
import { assertRoot, cleanupStale, HarnessRun, listNetns, nodeAddress, podAddress, PodNetwork, processAlive, runCommand, spawnInNetns } from './harness/netns.js';
import { PodSandbox } from './harness/kubelet.js';
import { dnsQuery, httpGet, ping, startDnsServer, startHttpServer } from './harness/traffic.js';

function hostLinks(): string {
  return execFileSync('ip', ['-o', 'link']).toString();
}

/** Everything of a run that could leak: namespaces, host links, cgroup dirs, processes. */
function leftovers(run: HarnessRun, pids: number[], cgroupDirs: string[]): string[] {
  const out: string[] = [];
  for (const n of listNetns()) if (n.startsWith(`pcp-${run.id}-`)) out.push(`netns ${n}`);
  for (const l of hostLinks().split('\n')) if (l.includes(`p${run.id}`)) out.push(`link ${l.slice(0, 60)}`);
  for (const d of cgroupDirs) if (existsSync(d)) out.push(`cgroup ${d}`);
  for (const p of pids) if (processAlive(p)) out.push(`pid ${p}`);
  return out;
}

describe('harness: cgroup layouts (pure)', () => {
  it('builds runtime paths with the container ID', () => {
    const id = 'a'.repeat(64);
    const uid = '1234-5678';
    assert.equal(
      containerCgroupPath({ containerId: id, podUid: uid, root: '', layout: 'containerd-systemd' }),
      `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234_5678.slice/cri-containerd-${id}.scope`,
    );
    assert.equal(containerCgroupPath({ containerId: id, podUid: uid, root: 'r', layout: 'containerd-cgroupfs' }), `r/kubepods/besteffort/pod1234-5678/${id}`);
    assert.equal(containerCgroupPath({ containerId: id, podUid: uid, root: '', layout: 'crio-cgroupfs', qos: 'guaranteed' }), `kubepods/pod1234-5678/crio-${id}`);
    assert.equal(containerCgroupPath({ containerId: id, podUid: uid, root: '', layout: 'docker-plain' }), `docker/${id}`);
    assert.throws(() => containerCgroupPath({ containerId: 'xyz', podUid: uid, root: '' }), /64 lowercase hex/);
  });

  it('parses cgroup mounts of a hybrid host', () => {
    const m = parseCgroupMounts(
      [
        '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
        '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
        '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
        '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
      ].join('\n'),
    );
    assert.equal(m.v2, '/sys/fs/cgroup/unified');
    assert.equal(m.v1.get('pids'), '/sys/fs/cgroup/pids');
    assert.equal(m.v1.get('name=systemd'), '/sys/fs/cgroup/systemd');
    assert.equal(m.v1.get('cpu,cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
  });

  it('plans addresses in one /16', () => {
    assert.equal(nodeAddress(3), '10.244.0.3');
    assert.equal(podAddress(3, 7), '10.244.3.7');
    assert.throws(() => podAddress(0, 1), RangeError);
    assert.throws(() => podAddress(1, 255), RangeError);
  });
});

describe('harness: pod network namespaces (real kernel, needs root)', () => {
  let run: HarnessRun;
  let net: PodNetwork;
  let podA: PodSandbox;
  let podB: PodSandbox;
  const pids: number[] = [];
  const cgroupDirs: string[] = [];
  let workDir: string;

  before(async () => {
    assertRoot();
    run = new HarnessRun();
    net = new PodNetwork(run);
    workDir = mkdtempSync(join(tmpdir(), 'pcapper-netns-test-'));
    await net.addNode('node-a');
    await net.addNode('node-b');
    podA = await PodSandbox.start(net, { key: 'default/pod-a', podUid: 'aaaaaaaa-0000-4000-8000-000000000001', node: 'node-a' });
    podB = await PodSandbox.start(net, {
      key: 'default/pod-b',
      podUid: 'bbbbbbbb-0000-4000-8000-000000000002',
      node: 'node-b',
      layout: 'crio-cgroupfs',
    });
    for (const p of [podA, podB]) for (const c of p.containers) {
      pids.push(c.pid);
      cgroupDirs.push(...c.cgroup.dirs);
    }
  });

  after(async () => {
    // safety net: whatever a failed test left behind
    await net?.close().catch(() => undefined);
    run?.cleanup();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('puts each pod on its node with the planned address and a veth to the node bridge', async () => {
    assert.equal(podA.ip, '10.244.1.1');
    assert.equal(podB.ip, '10.244.2.1');
    const inPod = await runCommand('ip', ['-n', podA.net.netns, '-o', 'addr', 'show', 'dev', 'eth0']);
    assert.match(inPod, /inet 10\.244\.1\.1\/16/);
    const nodeLinks = await runCommand('ip', ['-n', net.node('node-a')?.netns ?? '', '-o', 'link', 'show', 'master', 'cbr0']);
    assert.match(nodeLinks, new RegExp(podA.net.hostVeth));
    assert.ok(!hostLinks().includes(podA.net.hostVeth), 'nothing is added to the host netns');
  });

  it('finds each container process from its container ID alone, inside the pod netns', () => {
    for (const p of [podA, podB]) {
      const c = p.containers[0];
      assert.ok(c);
      assert.deepEqual(findPidsByContainerId(c.id), [c.pid]);
      const podNs = statSync(p.netnsPath).ino;
      assert.equal(statSync(`/proc/${c.pid}/ns/net`).ino, podNs, 'container process lives in the pod netns');
    }
  });

  it('places a container in every runtime layout so its ID shows in /proc/<pid>/cgroup', async () => {
    for (const layout of CGROUP_LAYOUTS) {
      const id = newContainerId();
      const cg = ContainerCgroup.create({ containerId: id, podUid: 'cccccccc-0000-4000-8000-000000000003', root: run.cgroupRoot, layout }, { recorder: run });
      cgroupDirs.push(...cg.dirs);
      const proc = spawnInNetns(podA.net, ['sleep', 'infinity'], { run });
      pids.push(proc.pid);
      try {
        cg.addProcess(proc.pid);
        assert.deepEqual(findPidsByContainerId(id), [proc.pid], layout);
      } finally {
        proc.kill();
        await proc.exited;
        cg.remove();
      }
      for (const d of cg.dirs) assert.ok(!existsSync(d), `${layout}: ${d} removed`);
    }
  });

  it('lets pods on two nodes ping and talk HTTP to each other', async () => {
    // ping -w stops after <count> replies; a fresh veth may make it send a few more first
    const p = await ping(podA.net, podB.ip, 3);
    assert.ok(p.received >= 3, p.output);
    const p2 = await ping(podB.net, nodeAddress(1), 1);
    assert.ok(p2.received >= 1, `a pod reaches the other node too: ${p2.output}`);
    const srv = await startHttpServer({ ...podB.net, cgroup: podB.containers[0]?.cgroup }, 8080, { run });
    pids.push(srv.pid);
    try {
      assert.ok(findPidsByContainerId(podB.containers[0]?.id ?? 'x').includes(srv.pid), 'server runs in the container cgroup');
      const r = await httpGet(podA.net, `http://${podB.ip}:8080/hello`);
      assert.equal(r.status, 200);
      assert.match(r.body, /GET \/hello/);
      const back = await startHttpServer(podA.net, 8081, { run, body: 'pong\n' });
      pids.push(back.pid);
      assert.equal((await httpGet(podB.net, `http://${podA.ip}:8081/`)).body, 'pong\n');
      await back.stop();
    } finally {
      await srv.stop();
    }
  });

  it('answers DNS A queries from a tiny DNS server in a pod', async () => {
    const dns = await startDnsServer(podB.net, 53, { 'api.example.test': '10.244.9.9', 'multi.example.test': ['1.2.3.4', '5.6.7.8'] }, { run });
    pids.push(dns.pid);
    try {
      const r = await dnsQuery(podA.net, podB.ip, 'api.example.test');
      assert.equal(r.rcode, 0);
      assert.deepEqual(r.answers, ['10.244.9.9']);
      assert.deepEqual((await dnsQuery(podA.net, podB.ip, 'MULTI.example.test.')).answers, ['1.2.3.4', '5.6.7.8']);
      const nx = await dnsQuery(podA.net, podB.ip, 'missing.example.test');
      assert.equal(nx.rcode, 3);
      assert.deepEqual(nx.answers, []);
    } finally {
      await dns.stop();
    }
  });

  it('captures an HTTP exchange with tcpdump inside pod A, entered via the container ID', async () => {
    const id = podA.containers[0]?.id ?? '';
    const [pid] = findPidsByContainerId(id);
    assert.ok(pid, `a process of container ${id}`);
    const file = join(workDir, 'pod-a.pcap');
    const srv = await startHttpServer(podB.net, 8080, { run });
    pids.push(srv.pid);
    let stderr = '';
    const tcpdump = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'tcpdump', '-i', 'eth0', '-n', '--immediate-mode', '-U', '-w', file, 'tcp port 8080'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => tcpdump.on('exit', (code) => r(code)));
    try {
      assert.ok(tcpdump.pid);
      pids.push(tcpdump.pid);
      run.recordProcess(tcpdump.pid, 'tcpdump');
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 10_000);
        tcpdump.stderr.setEncoding('utf8').on('data', (c: string) => {
          stderr += c;
          if (stderr.includes('listening on')) {
            clearTimeout(t);
            resolve();
          }
        });
        tcpdump.on('exit', () => reject(new Error(`tcpdump exited: ${stderr}`)));
      });
      const r = await httpGet(podA.net, `http://${podB.ip}:8080/captured-path`);
      assert.equal(r.status, 200);
    } finally {
      tcpdump.kill('SIGINT');
      await exited;
      await srv.stop();
    }
    const requests = await runCommand('tshark', ['-r', file, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'ip.src', '-e', 'ip.dst']);
    assert.match(requests, new RegExp(`GET\\t/captured-path\\t${podA.ip.replace(/\./g, '\\.')}\\t${podB.ip.replace(/\./g, '\\.')}`));
    const responses = await runCommand('tshark', ['-r', file, '-Y', 'http.response', '-T', 'fields', '-e', 'http.response.code', '-e', 'ip.src']);
    assert.match(responses, new RegExp(`200\\t${podB.ip.replace(/\./g, '\\.')}`));
  });

  it('leaves no netns, veth, cgroup or process behind after cleanup', async () => {
    const before = listNetns().filter((n) => n.startsWith(`pcp-${run.id}-`));
    assert.equal(before.length, 5, 'fabric + 2 nodes + 2 pods exist before cleanup');
    await podA.stop();
    assert.ok(!listNetns().includes(podA.net.netns), 'stopping a sandbox removes its netns');
    for (const c of podA.containers) assert.ok(!processAlive(c.pid));
    await net.close();
    const report = run.cleanup();
    assert.deepEqual(report.errors, []);
    assert.deepEqual(leftovers(run, pids, cgroupDirs), []);
    for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/systemd']) {
      assert.ok(!existsSync(join(root, run.cgroupRoot)), `${root}/${run.cgroupRoot} removed`);
    }
    assert.ok(!existsSync(run.stateFile), 'state file removed');
  });
});

/** Runs a child that builds one node + one pod sandbox and prints its run state; `then` decides its end. */
async function childRun(then: 'sigkill-self' | 'wait'): Promise<{ state: RunStateLike; child: ReturnType<typeof spawn>; exited: Promise<number | string | null> }> {
  const netnsModule = fileURLToPath(new URL('./harness/netns.js', import.meta.url));
  const kubeletModule = fileURLToPath(new URL('./harness/kubelet.js', import.meta.url));
  const script = `
    const { HarnessRun, PodNetwork } = await import(${JSON.stringify(netnsModule)});
    const { PodSandbox } = await import(${JSON.stringify(kubeletModule)});
    const run = new HarnessRun();
    const net = new PodNetwork(run);
    await net.addNode('n');
    await PodSandbox.start(net, { key: 'x/y', podUid: 'dddddddd-0000-4000-8000-000000000004', node: 'n' });
    process.stdout.write(JSON.stringify(run.snapshot()) + '\\n', () => {
      if (${JSON.stringify(then)} === 'sigkill-self') process.kill(process.pid, 'SIGKILL');
      else setInterval(() => undefined, 1000);
    });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | string | null>((r) => child.on('exit', (code, sig) => r(code ?? sig)));
  const line = await new Promise<string>((resolve, reject) => {
    let s = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      s += c;
      if (s.includes('\n')) resolve(s.slice(0, s.indexOf('\n')));
    });
    void exited.then(() => reject(new Error(`child exited before printing its state: ${s}`)));
  });
  return { state: JSON.parse(line) as RunStateLike, child, exited };
}

interface RunStateLike {
  runId: string;
  netns: string[];
  cgroups: string[];
  processes: { pid: number }[];
}

describe('harness: the exit handlers clean up an interrupted test process (real kernel, needs root)', () => {
  it('removes everything of the run when the process gets SIGTERM', async () => {
    assertRoot();
    const { state, child, exited } = await childRun('wait');
    const fake = { id: state.runId } as HarnessRun;
    const pids = state.processes.map((p) => p.pid);
    try {
      assert.ok(leftovers(fake, pids, state.cgroups).length > 0, 'the child built a sandbox');
      child.kill('SIGTERM');
      assert.equal(await exited, 'SIGTERM', 'the default action still applies after cleanup');
      await new Promise((r) => setTimeout(r, 50)); // let init reap the killed orphans
      assert.deepEqual(leftovers(fake, pids, state.cgroups), []);
    } finally {
      child.kill('SIGKILL');
      cleanupStale();
    }
  });
});

describe('harness: cleanupStale after a killed test process (real kernel, needs root)', () => {
  it('removes the namespaces, cgroups and processes of a run whose owner was SIGKILLed', async () => {
    assertRoot();
    // a child process builds a node + pod sandbox, prints its run state and SIGKILLs itself
    const { state, exited } = await childRun('sigkill-self');
    assert.equal(await exited, 'SIGKILL');
    const fake = { id: state.runId } as HarnessRun;
    const pids = state.processes.map((p) => p.pid);
    try {
      assert.equal(state.netns.length, 3);
      assert.ok(state.cgroups.length > 0);
      assert.ok(pids.every(processAlive), 'the orphaned container process survives its owner');
      assert.ok(leftovers(fake, pids, state.cgroups).length > 0);
      const reports = cleanupStale();
      const mine = reports.find((r) => r.runId === state.runId);
      assert.ok(mine, 'the dead run was cleaned');
      assert.deepEqual(mine.errors, []);
      await new Promise((r) => setTimeout(r, 50)); // let init reap the killed orphans
      assert.deepEqual(leftovers(fake, pids, state.cgroups), []);
    } finally {
      // never leave the child's leftovers behind, even if an assertion failed
      for (const p of pids) if (processAlive(p)) process.kill(p, 'SIGKILL');
      cleanupStale();
    }
  });
});
