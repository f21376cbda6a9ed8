import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsNotFoundError, pinContainerNetns } from './netns.js';
import { cgroupInPod, findSandboxNetns, normalisePodUid, podLookup, podPlaceOfCgroup, podUidOfSegment, sandboxIdOfCgroup } from './sandbox.js';

const SB = 'b00c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7';
const APP = 'a3f1c2d4e5b6978812345678901234567890abcdefabcdefabcdefabcdef0123';
const UID = '6f0c1a2b-3c4d-5e6f-7081-92a3b4c5d6e7';
const UID_ = UID.replace(/-/g, '_');
const OTHER_UID = '11111111-2222-3333-4444-555555555555';

const v1 = (path: string): string => ['12:pids:' + path, '11:memory:' + path, '4:cpu,cpuacct:' + path, '1:name=systemd:' + path, '0::/'].join('\n') + '\n';
const v2 = (path: string): string => `0::${path}\n`;

/** The sandbox (pause) process's cgroup file in every runtime x driver x cgroup version shape. */
const SANDBOX_SHAPES: Array<[string, string]> = [
  ['containerd, cgroupfs, v1', v1(`/kubepods/besteffort/pod${UID}/${SB}`)],
  ['containerd, cgroupfs, v2', v2(`/kubepods/burstable/pod${UID}/${SB}`)],
  ['containerd, cgroupfs, v2, Guaranteed', v2(`/kubepods/pod${UID}/${SB}`)],
  ['containerd, systemd, v1', v1(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${SB}.scope`)],
  ['containerd, systemd, v2', v2(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${SB}.scope`)],
  ['containerd, systemd, v2, Guaranteed', v2(`/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${SB}.scope`)],
  ['containerd, systemd, v2, nested (kind)', v2(`/../../kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${SB}.scope`)],
  ['containerd, cgroupfs, v2, node in a container', v2(`/system.slice/docker-${APP}.scope/kubepods/besteffort/pod${UID}/${SB}`)],
  ['CRI-O, cgroupfs, v1', v1(`/kubepods/burstable/pod${UID}/crio-${SB}`)],
  ['CRI-O, systemd, v1', v1(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${SB}.scope`)],
  ['CRI-O, systemd, v2', v2(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${SB}.scope`)],
  ['Docker (cri-dockerd), cgroupfs, v1', v1(`/kubepods/besteffort/pod${UID}/${SB}`)],
  ['Docker (cri-dockerd), systemd, v2', v2(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/docker-${SB}.scope`)],
  ['hybrid v1 + v2 (systemd line only in v1)', `5:devices:/\n1:name=systemd:/kubepods/pod${UID}/${SB}\n0::/\n`],
];

describe('sandbox: pod UID in cgroup paths', () => {
  for (const [what, content] of SANDBOX_SHAPES) {
    it(`finds the pod UID and the sandbox ID: ${what}`, () => {
      assert.ok(cgroupInPod(content, UID));
      assert.ok(cgroupInPod(content, UID.toUpperCase()), 'case-insensitive');
      assert.ok(!cgroupInPod(content, OTHER_UID));
      assert.deepEqual([...podPlaceOfCgroup(content).podUids], [UID]);
      assert.equal(sandboxIdOfCgroup(content), SB);
    });
  }

  it('reads both segment shapes and nothing else', () => {
    assert.equal(podUidOfSegment(`pod${UID}`), UID);
    assert.equal(podUidOfSegment(`kubepods-besteffort-pod${UID_}.slice`), UID);
    assert.equal(podUidOfSegment(`kubepods-burstable-pod${UID_}.slice`), UID);
    assert.equal(podUidOfSegment(`kubepods-pod${UID_}.slice`), UID);
    assert.equal(podUidOfSegment(`kubelet-kubepods-pod${UID_}.slice`), UID);
    for (const seg of ['kubepods', 'kubepods.slice', 'besteffort', `pod${UID}x`, `pod${UID.slice(1)}`, `kubepods-besteffort-pod${UID_}`, `cri-containerd-${SB}.scope`, 'pods', `pod${'z'.repeat(36)}`]) {
      assert.equal(podUidOfSegment(seg), undefined, seg);
    }
  });

  it('a process outside any pod (host, plain docker, system services) is in no pod', () => {
    for (const c of [v2('/'), v2('/system.slice/containerd.service'), v1(`/docker/${SB}`), v2(`/system.slice/docker-${SB}.scope`), v2('/user.slice/user-0.slice/session-1.scope')]) {
      assert.equal(podPlaceOfCgroup(c).podUids.size, 0, c);
      assert.ok(!cgroupInPod(c, UID));
    }
  });

  it("refuses CRI-O's conmon (in the pod slice on some versions, but in the host network namespace)", () => {
    const conmon = v2(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-conmon-${SB}.scope`);
    assert.ok(podPlaceOfCgroup(conmon).conmon);
    assert.ok(!cgroupInPod(conmon, UID));
  });

  it('normalises pod UIDs and refuses what is not one', () => {
    assert.equal(normalisePodUid(UID.toUpperCase()), UID);
    assert.equal(normalisePodUid('uid-web-1'), undefined);
    assert.equal(normalisePodUid(''), undefined);
    assert.equal(normalisePodUid(undefined), undefined);
  });
});

describe('sandbox: the lookup decision (pure)', () => {
  it('container IDs win; else the sandbox by pod UID when the backend can; else wait', () => {
    assert.deepEqual(podLookup([APP], UID, true), { by: 'containers', containerIds: [APP] });
    assert.deepEqual(podLookup([APP], UID, false), { by: 'containers', containerIds: [APP] });
    assert.deepEqual(podLookup([], UID, true), { by: 'sandbox', podUid: UID });
    assert.deepEqual(podLookup([], UID.toUpperCase(), true), { by: 'sandbox', podUid: UID });
    assert.deepEqual(podLookup([], UID, false), { by: 'wait' }, 'a backend without sandbox lookup (the fake) waits for containers');
    assert.deepEqual(podLookup([], undefined, true), { by: 'wait' });
    assert.deepEqual(podLookup([], 'not-a-uid', true), { by: 'wait' });
  });
});

describe('sandbox: scanning a (fake) /proc and pinning what was found', () => {
  const stat = (pid: string, start: number): string => `${pid} (pause) S 1 77 77 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 ${start} 1000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;

  it('finds the lowest pid in the pod (never conmon, never another pod), pins it, and refuses a recycled pid', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pcapper-sandbox-'));
    try {
      const proc = (dir: string, cgroup: string, start: number, ns: string): void => {
        mkdirSync(join(root, dir, 'ns'), { recursive: true });
        writeFileSync(join(root, dir, 'cgroup'), cgroup);
        writeFileSync(join(root, dir, 'stat'), stat(dir, start));
        writeFileSync(join(root, dir, 'ns', 'net'), ns);
      };
      mkdirSync(join(root, 'self'));
      proc('10', v2(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-conmon-${SB}.scope`), 500, 'host');
      proc('20', v2(`/kubepods/besteffort/pod${OTHER_UID}/${SB}`), 600, 'other pod');
      await assert.rejects(findSandboxNetns(UID, root), (e: unknown) => e instanceof NetnsNotFoundError && /sandbox not created yet/.test((e as Error).message));
      proc('40', v2(`/kubepods/besteffort/pod${UID}/${APP}`), 1100, 'sandbox A');
      proc('30', v2(`/kubepods/besteffort/pod${UID}/${SB}`), 1000, 'sandbox A');
      const loc = await findSandboxNetns(UID.toUpperCase(), root);
      assert.deepEqual({ pid: loc.pid, podUid: loc.podUid, containerId: loc.containerId }, { pid: 30, podUid: UID, containerId: SB });
      const pinned = await pinContainerNetns(loc, root);
      assert.equal(await pinned.fh.readFile('utf8'), 'sandbox A');
      await pinned.fh.close();
      // the pause process dies and pid 30 is reused by another pod's process
      proc('30-new', v2(`/kubepods/besteffort/pod${OTHER_UID}/${APP}`), 2000, 'other pod');
      rmSync(join(root, '30'), { recursive: true });
      renameSync(join(root, '30-new'), join(root, '30'));
      await assert.rejects(pinContainerNetns(loc, root), /changed between lookup and capture/);
      await assert.rejects(findSandboxNetns('uid-web-1', root), /is not a UID/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
