import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildFilterCheckArgv,
  buildTcpdumpArgv,
  capturePaths,
  fileSizeMegabytes,
  isCaptureFileName,
  isTargetDirName,
  NAME_MAX,
  shortenName,
  parseListening,
  parseTargetDirName,
  parseTcpdumpStats,
  promisedBytes,
  ringFiles,
  targetDirName,
  tcpdumpErrorMessage,
  UnsafeNameError,
} from './tcpdump.js';
import { blockedInWait, tcpdumpCommand } from './runner.js';

const base = { interface: 'any', filter: '', snapLength: 0, maxFileSizeBytes: 100_000_000, fileCount: 10 };

describe('tcpdump argv (golden)', () => {
  it('seed 002 defaults: ring, root, no filter', () => {
    assert.deepEqual(buildTcpdumpArgv(base, '/hostmount/ns/cap/pod.ns.web/n1.cap.1700000000.pcap'), [
      '-i', 'any', '-w', '/hostmount/ns/cap/pod.ns.web/n1.cap.1700000000.pcap', '-C', '100', '-W', '10', '-s', '0', '-Z', 'root', '-n',
    ]);
  });

  it('packet count, snap length, buffer and a filter after --', () => {
    assert.deepEqual(
      buildTcpdumpArgv({ ...base, interface: 'eth0', filter: 'icmp and host 192.168.1.10', snapLength: 96, packetCount: 25, bufferKiB: 4096, maxFileSizeBytes: 1_048_576, fileCount: 2, packetBuffered: true }, '/d/f.pcap'),
      ['-i', 'eth0', '-w', '/d/f.pcap', '-C', '1', '-W', '2', '-s', '96', '-Z', 'root', '-n', '-U', '-B', '4096', '-c', '25', '--', 'icmp and host 192.168.1.10'],
    );
  });

  it('immediate mode (live captures) adds --immediate-mode before the filter', () => {
    assert.deepEqual(buildTcpdumpArgv({ ...base, filter: 'udp', immediateMode: true }, '/d/f.pcap').slice(-3), ['--immediate-mode', '--', 'udp']);
    assert.ok(!buildTcpdumpArgv(base, '/d/f.pcap').includes('--immediate-mode'));
  });

  it('a flag-looking filter stays an expression (after --)', () => {
    const argv = buildTcpdumpArgv({ ...base, filter: '-z /x.sh' }, '/d/f.pcap');
    assert.deepEqual(argv.slice(-2), ['--', '-z /x.sh']);
    assert.deepEqual(buildFilterCheckArgv({ interface: 'any', filter: '-z /x.sh', snapLength: 0 }), ['-d', '-i', 'any', '-s', '0', '--', '-z /x.sh']);
  });

  it('refuses unsafe interfaces, control characters and bad numbers', () => {
    assert.throws(() => buildTcpdumpArgv({ ...base, interface: '-w' }, '/d/f'), UnsafeNameError);
    assert.throws(() => buildTcpdumpArgv({ ...base, interface: '../etc' }, '/d/f'), UnsafeNameError);
    assert.throws(() => buildTcpdumpArgv({ ...base, filter: 'tcp\nport 80' }, '/d/f'), UnsafeNameError);
    assert.throws(() => buildTcpdumpArgv({ ...base, fileCount: 0 }, '/d/f'), RangeError);
    assert.throws(() => buildTcpdumpArgv({ ...base, packetCount: -1 }, '/d/f'), RangeError);
    assert.throws(() => buildTcpdumpArgv(base, 'relative/f'), UnsafeNameError);
  });

  it('rounds ring file sizes to tcpdump units and computes the promise', () => {
    assert.equal(fileSizeMegabytes(100_000_000), 100);
    assert.equal(fileSizeMegabytes(1024 ** 3), 1074);
    assert.equal(fileSizeMegabytes(10), 1);
    assert.equal(promisedBytes({ maxFileSizeBytes: 100_000_000, fileCount: 10 }), 1_000_000_000);
  });

  it('wraps tcpdump in setpriv (parent-death signal) and nsenter, argv only', () => {
    assert.deepEqual(tcpdumpCommand(['-i', 'any'], '/proc/42/ns/net'), {
      file: 'setpriv',
      args: ['--pdeathsig', 'KILL', '--', 'nsenter', '--net=/proc/42/ns/net', '--', 'tcpdump', '-i', 'any'],
    });
    assert.deepEqual(tcpdumpCommand(['-i', 'eth0'], undefined), { file: 'setpriv', args: ['--pdeathsig', 'KILL', '--', 'tcpdump', '-i', 'eth0'] });
  });
});

describe('file layout', () => {
  it('follows seed 002 naming with a directory per namespace, capture and target', () => {
    const p = capturePaths({
      dataDir: '/hostmount',
      hostDataDir: '/var/pcapper',
      nodeName: 'worker-01',
      namespace: 'pcapper',
      capture: 'pcap1',
      target: { kind: 'pod', namespace: 'test-namespace', pod: 'test-pod' },
      unixTime: 1700000000.7,
    });
    assert.deepEqual(p, {
      captureDir: '/hostmount/pcapper/pcap1',
      targetDir: '/hostmount/pcapper/pcap1/pod.test-namespace.test-pod',
      hostTargetDir: '/var/pcapper/pcapper/pcap1/pod.test-namespace.test-pod',
      fileBase: 'worker-01.pcap1.1700000000.pcap',
      writePath: '/hostmount/pcapper/pcap1/pod.test-namespace.test-pod/worker-01.pcap1.1700000000.pcap',
    });
    assert.equal(targetDirName({ kind: 'node', interface: 'eno1' }), 'node.eno1');
    assert.deepEqual(parseTargetDirName('pod.shop.web-7d9c.x'), { kind: 'pod', namespace: 'shop', pod: 'web-7d9c.x' });
    assert.deepEqual(parseTargetDirName('node.eth0.100'), { kind: 'node', interface: 'eth0.100' });
    assert.equal(parseTargetDirName('..'), undefined);
  });

  it('fits every name Kubernetes accepts into NAME_MAX: long names are shortened with a hash, short ones kept', () => {
    const label = (c: string, n: number): string => c.repeat(n);
    const longPod = `${label('a', 63)}.${label('b', 63)}.${label('c', 63)}.${label('d', 61)}`; // 253
    const longNode = `${label('n', 63)}.${label('o', 63)}.${label('d', 63)}.${label('e', 61)}`;
    const longCapture = `${label('x', 63)}.${label('y', 63)}.${label('z', 63)}.${label('w', 61)}`;
    const p = capturePaths({ dataDir: '/hostmount', hostDataDir: '/var/pcapper', nodeName: longNode, namespace: label('s', 63), capture: longCapture, target: { kind: 'pod', namespace: label('s', 63), pod: longPod }, unixTime: 1700000000 });
    const dir = p.targetDir.split('/').at(-1) ?? '';
    assert.ok(dir.length <= NAME_MAX, `target dir ${dir.length}`);
    assert.match(dir, /^pod\.s{63}\.a{63}\.b{63}\.c+_[0-9a-f]{16}$/);
    assert.ok(isTargetDirName(dir));
    assert.ok((p.fileBase + '999').length <= NAME_MAX, `file name ${p.fileBase.length}`);
    assert.match(p.fileBase, /_[0-9a-f]{16}\.1700000000\.pcap$/);
    assert.ok(isCaptureFileName(`${p.fileBase}999`));
    // distinct long names stay distinct; the same name always maps to the same short name
    const other = targetDirName({ kind: 'pod', namespace: label('s', 63), pod: longPod.replace(/d$/, 'e') });
    assert.notEqual(other, dir);
    assert.equal(targetDirName({ kind: 'pod', namespace: label('s', 63), pod: longPod }), dir);
    assert.equal(shortenName('short', 10), 'short');
    assert.ok(!isTargetDirName('pod.shop.x_zz'), 'only the shortened form has an underscore');
  });

  it('refuses path-like names', () => {
    const p = { dataDir: '/h', hostDataDir: '/v', nodeName: 'n', namespace: 'ns', capture: 'c', unixTime: 1 };
    assert.throws(() => capturePaths({ ...p, capture: '../../etc', target: { kind: 'node', interface: 'eth0' } }), UnsafeNameError);
    assert.throws(() => capturePaths({ ...p, namespace: '..', target: { kind: 'node', interface: 'eth0' } }), UnsafeNameError);
    assert.throws(() => capturePaths({ ...p, target: { kind: 'pod', namespace: 'ns', pod: 'a/b' } }), UnsafeNameError);
    assert.throws(() => capturePaths({ ...p, target: { kind: 'node', interface: '-x' } }), UnsafeNameError);
  });

  it('lists ring files in index order', () => {
    const names = ['n.c.1.pcap1', 'n.c.1.pcap0', 'capture-meta.json', 'n.c.1.pcap10', 'n.c.2.pcap0', 'n.c.1.pcapx'];
    assert.deepEqual(ringFiles(names, 'n.c.1.pcap').map((f) => f.name), ['n.c.1.pcap0', 'n.c.1.pcap1', 'n.c.1.pcap10']);
    assert.ok(isCaptureFileName('worker-01.pcap1.1700000000.pcap3'));
    assert.ok(!isCaptureFileName('capture-meta.json'));
  });
});

describe('tcpdump output parsers', () => {
  it('parses the SIGUSR1 one-line report', () => {
    const s = 'tcpdump: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes\ntcpdump: 4514 packets captured, 12000 packets received by filter, 2972 packets dropped by kernel\n';
    assert.deepEqual(parseTcpdumpStats(s), { captured: 4514, received: 12000, droppedByKernel: 2972, droppedByInterface: undefined });
  });

  it('parses the exit report and keeps the last one', () => {
    const s = 'tcpdump: 1 packet captured, 1 packet received by filter, 0 packets dropped by kernel\n7 packets captured\n7 packets received by filter\n0 packets dropped by kernel\n3 packets dropped by interface\n';
    assert.deepEqual(parseTcpdumpStats(s), { captured: 7, received: 7, droppedByKernel: 0, droppedByInterface: 3 });
    assert.deepEqual(parseTcpdumpStats('0 packets captured\n0 packets received by filter\n0 packets dropped by kernel\n'), {
      captured: 0,
      received: 0,
      droppedByKernel: 0,
      droppedByInterface: undefined,
    });
    assert.equal(parseTcpdumpStats('tcpdump: listening on any'), undefined);
  });

  it('parses the listening line', () => {
    assert.deepEqual(parseListening('tcpdump: listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes'), {
      interface: 'any',
      linkTypeName: 'LINUX_SLL2',
      linkType: 276,
      snapLength: 262144,
    });
    assert.equal(parseListening('tcpdump: syntax error'), undefined);
  });

  it("extracts tcpdump's own error message", () => {
    assert.equal(tcpdumpErrorMessage("tcpdump: can't parse filter expression: syntax error\n"), "can't parse filter expression: syntax error");
    assert.equal(tcpdumpErrorMessage(''), 'tcpdump failed without a message');
  });
});

describe('flush only while tcpdump waits for packets (/proc/<pid>/syscall)', () => {
  it('tells a wait syscall from running and other syscalls', () => {
    assert.equal(blockedInWait('7 0x7ffc 0x1 0x3e8 0x0 0x0 0x0 0x7ffc 0x7f12\n', 'x64'), true); // poll
    assert.equal(blockedInWait('271 0x1 0x2 0x3 0x0 0x8 0x0 0x7ffc 0x7f12\n', 'x64'), true); // ppoll
    assert.equal(blockedInWait('1 0x3 0x55 0x10 0x0 0x0 0x0 0x7ffc 0x7f12\n', 'x64'), false); // write
    assert.equal(blockedInWait('running\n', 'x64'), false);
    assert.equal(blockedInWait('73 0x1 0x2 0x3 0x0 0x8 0x0 0x7ffc 0x7f12\n', 'arm64'), true); // ppoll
    assert.equal(blockedInWait('7 0x1\n', 'mips'), undefined);
    assert.equal(blockedInWait('', 'x64'), undefined);
  });

  it('reads a real process: blocked in its event loop vs spinning', { skip: process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch) ? 'needs Linux x64/arm64' : false }, async () => {
    const { spawn } = await import('node:child_process');
    const { readFileSync } = await import('node:fs');
    const idle = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    try {
      const state = (pid: number | undefined): boolean | undefined => blockedInWait(readFileSync(`/proc/${pid}/syscall`, 'utf8'));
      const deadline = Date.now() + 10_000;
      while (state(idle.pid) !== true) {
        if (Date.now() > deadline) assert.fail(`idle process never seen blocked in a wait: ${readFileSync(`/proc/${idle.pid}/syscall`, 'utf8')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // a spinning process is running (or preempted mid-loop: -1), never in a wait syscall
      for (let i = 0; i < 5; i++) assert.notEqual(state(busy.pid), true);
    } finally {
      idle.kill('SIGKILL');
      busy.kill('SIGKILL');
    }
  });
});
