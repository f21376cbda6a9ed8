import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupMatchesContainer, containerIdOfSegment, containerIdsInCgroup, findContainerNetns, NetnsNotFoundError, parseContainerId, parseProcCgroup, parseStartTime, pinContainerNetns } from './netns.js';

const ID = 'a3f1c2d4e5b6978812345678901234567890abcdefabcdefabcdefabcdef0123';
const OTHER = 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff';
const UID = '6f0c1a2b-3c4d-5e6f-7081-92a3b4c5d6e7';
const UID_ = UID.replace(/-/g, '_');

const v1 = (path: string): string =>
  ['12:pids:' + path, '11:memory:' + path, '4:cpu,cpuacct:' + path, '1:name=systemd:' + path, '0::/'].join('\n') + '\n';
const v2 = (path: string): string => `0::${path}\n`;

/** Literal cgroup files, one per runtime x driver x cgroup version. */
const SHAPES: Array<[string, string]> = [
  ['containerd, cgroupfs, v1', v1(`/kubepods/besteffort/pod${UID}/${ID}`)],
  ['containerd, cgroupfs, v2', v2(`/kubepods/burstable/pod${UID}/${ID}`)],
  ['containerd, systemd, v1', v1(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`)],
  ['containerd, systemd, v2', v2(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`)],
  ['containerd, systemd, v2, nested (kind)', v2(`/../../kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`)],
  ['containerd, systemd, v2, sub-cgroup', v2(`/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope/init`)],
  ['CRI-O, cgroupfs, v1', v1(`/kubepods/burstable/pod${UID}/crio-${ID}`)],
  ['CRI-O, systemd, v1', v1(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope`)],
  ['CRI-O, systemd, v2', v2(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`)],
  ['Docker, cgroupfs, v1 (plain)', v1(`/docker/${ID}`)],
  ['Docker, cgroupfs, v1 (kubelet)', v1(`/kubepods/besteffort/pod${UID}/${ID}`)],
  ['Docker, systemd, v1', v1(`/system.slice/docker-${ID}.scope`)],
  ['Docker, systemd, v2', v2(`/system.slice/docker-${ID}.scope`)],
  ['Docker, systemd, v2 (kubelet)', v2(`/kubepods.slice/kubepods-pod${UID_}.slice/docker-${ID}.scope`)],
  ['hybrid v1 + v2 (systemd line only in v1)', `5:devices:/\n1:name=systemd:/kubepods/pod${UID}/${ID}\n0::/\n`],
];

describe('netns: cgroup parsing', () => {
  it('parses v1 and v2 lines', () => {
    assert.deepEqual(parseProcCgroup('4:cpu,cpuacct:/a/b\n0::/x\n1:name=systemd:/\n'), [
      { hierarchy: 4, controllers: ['cpu', 'cpuacct'], path: '/a/b' },
      { hierarchy: 0, controllers: [], path: '/x' },
      { hierarchy: 1, controllers: ['name=systemd'], path: '/' },
    ]);
    assert.deepEqual(parseProcCgroup('garbage\n\n'), []);
  });

  for (const [name, content] of SHAPES) {
    it(`matches the container in: ${name}`, () => {
      assert.ok(cgroupMatchesContainer(content, ID), content);
      assert.ok(!cgroupMatchesContainer(content, OTHER));
      assert.deepEqual([...containerIdsInCgroup(content)], [ID]);
    });
  }

  it('never matches conmon (CRI-O monitor process, outside the pod netns)', () => {
    assert.ok(!cgroupMatchesContainer(v2(`/kubepods.slice/kubepods-pod${UID_}.slice/crio-conmon-${ID}.scope`), ID));
    assert.ok(!cgroupMatchesContainer(v1(`/machine.slice/libpod-conmon-${ID}.scope`), ID));
  });

  it('does not match a prefix, a pod UID or an unrelated hex string', () => {
    assert.ok(!cgroupMatchesContainer(v2(`/kubepods/pod${UID}/${ID.slice(0, 63)}`), ID));
    assert.ok(!cgroupMatchesContainer(v2(`/kubepods/pod${UID}/${ID}x`), ID));
    assert.ok(!cgroupMatchesContainer(v2('/user.slice/user-0.slice/session-3.scope'), ID));
    assert.equal(containerIdOfSegment('session-3.scope'), undefined);
    assert.equal(containerIdOfSegment(`cri-containerd-${ID}.scope`), ID);
  });

  it('parses pod status container IDs', () => {
    assert.deepEqual(parseContainerId(`containerd://${ID}`), { runtime: 'containerd', id: ID });
    assert.deepEqual(parseContainerId(`cri-o://${ID}`), { runtime: 'cri-o', id: ID });
    assert.deepEqual(parseContainerId(`docker://${ID.toUpperCase()}`), { runtime: 'docker', id: ID });
    assert.equal(parseContainerId(''), undefined);
    assert.equal(parseContainerId(undefined), undefined);
    assert.equal(parseContainerId('containerd://../../etc'), undefined);
    assert.equal(parseContainerId(ID), undefined);
  });
});

describe('netns: /proc scan (fake proc root)', () => {
  it('finds the lowest pid of the container and its ns/net path', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pcapper-proc-'));
    try {
      const proc = (pid: number, cgroup: string, withNs = true): void => {
        mkdirSync(join(root, String(pid), 'ns'), { recursive: true });
        writeFileSync(join(root, String(pid), 'cgroup'), cgroup);
        if (withNs) writeFileSync(join(root, String(pid), 'ns', 'net'), '');
      };
      proc(1, v2('/init.scope'));
      proc(40, v2(`/kubepods.slice/kubepods-pod${UID_}.slice/crio-conmon-${ID}.scope`)); // conmon: skipped
      proc(77, v2(`/kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID}.scope`));
      proc(120, v2(`/kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID}.scope`));
      proc(9, v2(`/kubepods.slice/kubepods-pod${UID_}.slice/crio-${OTHER}.scope`), false); // no ns/net: skipped
      mkdirSync(join(root, 'self'));
      const loc = await findContainerNetns(['deadbeef'.repeat(8), ID], root);
      assert.deepEqual(loc, { pid: 77, netnsPath: join(root, '77', 'ns', 'net'), containerId: ID, inode: statSync(join(root, '77', 'ns', 'net')).ino });
      await assert.rejects(findContainerNetns([OTHER], root), NetnsNotFoundError);
      // cache: reused while the pid still belongs to the container, re-scanned when it does not
      const cache = new Map<string, number>();
      assert.equal((await findContainerNetns([ID], root, undefined, cache)).pid, 77);
      assert.equal(cache.get(ID), 77);
      writeFileSync(join(root, '77', 'cgroup'), v2('/user.slice/other.scope')); // pid reused by another process
      assert.equal((await findContainerNetns([ID], root, undefined, cache)).pid, 120);
      assert.equal(cache.get(ID), 120);
      await assert.rejects(findContainerNetns([], root), /no started container/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('netns: pinning the namespace between lookup and nsenter (fake proc root)', () => {
  const stat = (start: number): string => `77 (sleep) S 1 77 77 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 ${start} 1000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;

  it('reads the start time (field 22), also when the command name has spaces and parentheses', () => {
    assert.equal(parseStartTime(stat(4242)), '4242');
    assert.equal(parseStartTime(stat(4242).replace('(sleep)', '(a) b (c)')), '4242');
    assert.equal(parseStartTime('garbage'), undefined);
  });

  it('pins the namespace found, and refuses when the pid was recycled or its namespace changed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pcapper-pin-'));
    try {
      const proc = (dir: string, cgroup: string, start: number, ns: string): void => {
        mkdirSync(join(root, dir, 'ns'), { recursive: true });
        writeFileSync(join(root, dir, 'cgroup'), cgroup);
        writeFileSync(join(root, dir, 'stat'), stat(start));
        writeFileSync(join(root, dir, 'ns', 'net'), ns);
      };
      proc('77', v2(`/kubepods/pod${UID}/${ID}`), 1000, 'namespace A');
      const loc = await findContainerNetns([ID], root);
      const pinned = await pinContainerNetns(loc, root);
      assert.equal(pinned.ino, loc.inode);
      assert.equal((await pinned.fh.readFile('utf8')), 'namespace A', 'the fd is the namespace looked up');
      await pinned.fh.close();

      // the container exits and pid 77 is reused by a process of another pod, in another namespace
      proc('77-new', v2(`/kubepods/pod${UID}/${OTHER}`), 2000, 'namespace B');
      rmSync(join(root, '77'), { recursive: true });
      renameSync(join(root, '77-new'), join(root, '77'));
      await assert.rejects(pinContainerNetns(loc, root), (e: unknown) => e instanceof NetnsNotFoundError && /changed between lookup and capture/.test((e as Error).message));

      // same container, but the namespace file is not the one looked up (inode differs)
      proc('78', v2(`/kubepods/pod${UID}/${ID}`), 3000, 'namespace C');
      const loc78 = { ...(await findContainerNetns([ID], root)), inode: 1 };
      assert.equal(loc78.pid, 78);
      await assert.rejects(pinContainerNetns(loc78, root), /network namespace inode/);
      // pid gone
      await assert.rejects(pinContainerNetns({ ...loc78, pid: 999, netnsPath: join(root, '999', 'ns', 'net') }, root), /it exited/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
