// The Linux backend's sandbox path on the real kernel (needs root, no cluster): a pod's sandbox
// found by pod UID in real cgroups before any container runs, captured there, and checked against
// the containers once they appear: a container in the sandbox's namespace passes, one in another
// namespace is reported as a mismatch (the agent then fails the target NetnsMismatch); a pod
// without a sandbox yet is a transient PodNotRunning (the agent looks again).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinuxCaptureBackend } from '../src/capture/linux.js';
import { CaptureSetupError } from '../src/capture/backend.js';
import { ContainerCgroup, newContainerId } from './harness/cgroup.js';
import { assertRoot } from './harness/netns.js';
import { waitUntil } from './podstart-support.js';

const run = randomBytes(4).toString('hex');

function sh(file: string, args: string[]): void {
  const r = spawnSync(file, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr}`);
}

describe('sandbox netns by pod UID on the real kernel (needs root)', () => {
  const uid = randomUUID();
  const nsA = `pcp-sbx-${run}-a`;
  const nsB = `pcp-sbx-${run}-b`;
  const procs: ChildProcess[] = [];
  const cgroups: ContainerCgroup[] = [];
  let data: string;

  /** A `sleep` in netns `ns`, moved into a new container cgroup of pod `uid` (systemd layout). */
  async function inPod(ns: string): Promise<{ id: string; pid: number }> {
    const id = newContainerId();
    const cg = ContainerCgroup.create({ containerId: id, podUid: uid, root: `pcapper-podstart-netns-${run}`, layout: 'containerd-systemd' });
    cgroups.push(cg);
    const p = spawn('ip', ['netns', 'exec', ns, 'sleep', '300'], { stdio: 'ignore' });
    procs.push(p);
    const pid = p.pid ?? 0;
    // ip netns exec execs sleep in place: move it only once it is in the namespace
    await waitUntil(`pid ${pid} in ${ns}`, () => {
      try {
        return readlinkSync(`/proc/${pid}/ns/net`) === `net:[${statSync(`/run/netns/${ns}`).ino}]`;
      } catch {
        return false;
      }
    }, 5_000);
    cg.addProcess(pid);
    return { id, pid };
  }

  before(() => {
    assertRoot();
    data = mkdtempSync(join(tmpdir(), 'pcapper-podstart-netns-'));
    for (const ns of [nsA, nsB]) {
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  });

  after(() => {
    for (const c of cgroups) c.remove();
    for (const p of procs) p.kill('SIGKILL');
    for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns]);
    if (data) rmSync(data, { recursive: true, force: true });
  });

  it('no sandbox yet: transient; then found by pod UID, captured, and verified against the containers', async () => {
    const backend = new LinuxCaptureBackend({ nodeName: 'node-x', dataDir: data, hostDataDir: '/var/pcapper', procRoot: '/proc' });
    const req = {
      captureNamespace: 'ns',
      captureName: 'cap',
      target: { kind: 'pod' as const, namespace: 'ns', pod: 'p' },
      containerIds: [],
      podUid: uid,
      now: new Date(),
      options: { interface: 'lo', filter: 'icmp', snapLength: 0, maxFileSizeBytes: 1_000_000, fileCount: 1 },
    };
    await assert.rejects(backend.setup(req), (e: unknown) => e instanceof CaptureSetupError && e.transient && e.reason === 'PodNotRunning' && /sandbox not created yet/.test(e.message));
    const pause = await inPod(nsA);
    const prep = await backend.setup(req);
    assert.equal(prep.pid, pause.pid, 'the pause process');
    assert.equal(prep.netnsInode, statSync(`/run/netns/${nsA}`).ino, 'its namespace, pinned');
    const running = await backend.capture(prep);
    // a container that has not started: transient
    await assert.rejects(backend.sameNetns(prep, [newContainerId()]), (e: unknown) => e instanceof CaptureSetupError && e.transient);
    const app = await inPod(nsA);
    assert.deepEqual(await backend.sameNetns(prep, [app.id]), { same: true });
    const stray = await inPod(nsB);
    const v = await backend.sameNetns(prep, [stray.id]);
    assert.equal(v.same, false);
    assert.match(v.same ? '' : v.message, new RegExp(`runs in network namespace ${statSync(`/run/netns/${nsB}`).ino}, not in the pod sandbox's ${statSync(`/run/netns/${nsA}`).ino}`));
    const exit = await running.stop();
    assert.ok(exit.stopped);
    await backend.cleanup('ns', 'cap');
  });
});
