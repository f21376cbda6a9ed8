/**
 * The Linux capture backend: /proc/<pid>/cgroup -> /proc/<pid>/ns/net, opened and verified (the
 * fd pins the namespace, netns.ts pinContainerNetns), refused when it is the host's network
 * namespace for a tenant's capture (a hostNetwork pod would expose the whole node), `tcpdump -d`
 * to check the filter in that namespace, then
 * `setpriv --pdeathsig KILL -- nsenter --net=/proc/self/fd/3 -- tcpdump ...`.
 * Directories are created 0700 and files end up 0600: the agent runs with umask 077 (set by the
 * agent at start; tcpdump inherits it) and chmods what it lists, belt and braces.
 */
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { SYSTEM_NAMESPACE } from '../api/names.js';
import { writeCaptureMetadata, type CaptureMetadata } from '../pcap/metadata.js';
import { CaptureSetupError, type CaptureBackend, type CaptureRequest, type PreparedCapture, type RunningCapture } from './backend.js';
import { findSandboxNetns } from './sandbox.js';
import { findContainerNetns, NetnsNotFoundError, pinContainerNetns, type PinnedNetns, type ProcFs, realProcFs } from './netns.js';
import { DEFAULT_PROGRAMS, runTcpdumpOnce, TcpdumpProcess, TcpdumpStartError, type NetnsRef, type Programs, type SpawnFn } from './runner.js';
import { PcapRing, ringFailure, type RingFile } from './ring.js';
import { LookbackGate } from './lookback.js';
import type { OpenSink } from './sinks.js';
import { buildFilterCheckArgv, buildPipeTcpdumpArgv, buildTcpdumpArgv, fileSizeMegabytes, captureDirOf, capturePaths, tcpdumpErrorMessage, UnsafeNameError } from './tcpdump.js';

export interface LinuxBackendOptions {
  nodeName: string;
  dataDir: string;
  hostDataDir: string;
  procRoot: string;
  /** Network namespace of node targets (undefined: the agent's own, i.e. hostNetwork). */
  hostNetns?: string | undefined;
  /** Captures in this namespace may enter the host's network namespace (hostNetwork pods). Default pcapper. */
  systemNamespace?: string | undefined;
  programs?: Programs;
  spawn?: SpawnFn;
  procFs?: ProcFs;
  /**
   * tcpdump writes into a pipe and the agent writes the ring files through `open` (encrypted by
   * default, docs/storage.md section 6). Undefined: tcpdump writes its own files (-w FILE -C -W),
   * used only by tools that compare both ways (bench).
   */
  pipe?: PipeOutput | undefined;
}

export interface PipeOutput {
  open: OpenSink;
  /** A ring file was closed (complete): the upload queue takes it from here. */
  onClosed?: (prep: PreparedCapture, file: RingFile) => void;
  /** May this file be deleted to reuse its ring slot? (with a store: only once uploaded) */
  canDelete?: (prep: PreparedCapture, name: string) => boolean;
  /** Give every ring file a name of its own (with a store: no object is overwritten; PcapRingOptions.uniqueNames). */
  uniqueNames?: (prep: PreparedCapture) => boolean;
}

/** mkdir -p with mode 0700 for every component below `base` (chmod too: umask may differ). */
async function mkdirPrivate(base: string, dir: string): Promise<void> {
  await mkdir(base, { recursive: true, mode: 0o700 });
  const rel = dir.slice(base.length).split('/').filter(Boolean);
  let cur = base;
  for (const part of rel) {
    cur = `${cur}/${part}`;
    await mkdir(cur, { recursive: true, mode: 0o700 });
    await chmod(cur, 0o700);
  }
}

export class LinuxCaptureBackend implements CaptureBackend {
  readonly sandboxLookup = true;
  private readonly programs: Programs;
  /** filter-check argv that compiled (sandbox starts skip a repeat: see setup) */
  private readonly filtersOk = new Set<string>();
  /** container ID -> pid found by the last scan (verified before reuse) */
  private readonly pids = new Map<string, number>();

  constructor(private readonly o: LinuxBackendOptions) {
    this.programs = o.programs ?? DEFAULT_PROGRAMS;
  }

  async setup(req: CaptureRequest): Promise<PreparedCapture> {
    let paths;
    try {
      paths = capturePaths({
        dataDir: this.o.dataDir,
        hostDataDir: this.o.hostDataDir,
        nodeName: this.o.nodeName,
        namespace: req.captureNamespace,
        capture: req.captureName,
        target: req.target,
        unixTime: Math.floor(req.now.getTime() / 1000),
      });
    } catch (e) {
      if (e instanceof UnsafeNameError) throw new CaptureSetupError('InvalidTarget', e.message, false, { cause: e });
      throw e;
    }
    let netnsPath: string | undefined;
    let pid: number | undefined;
    let pinned: PinnedNetns | undefined;
    if (req.target.kind === 'pod') {
      try {
        const fs = this.o.procFs ?? realProcFs;
        // before the app containers start: the sandbox, by pod UID (issue 15 item 3)
        const loc =
          req.containerIds.length === 0 && req.podUid !== undefined
            ? await findSandboxNetns(req.podUid, this.o.procRoot, fs)
            : await findContainerNetns(req.containerIds, this.o.procRoot, fs, this.pids);
        pinned = await pinContainerNetns(loc, this.o.procRoot);
        netnsPath = loc.netnsPath;
        pid = loc.pid;
      } catch (e) {
        if (e instanceof NetnsNotFoundError) {
          for (const id of req.containerIds) this.pids.delete(id); // look again next time
          throw new CaptureSetupError('PodNotRunning', e.message, true, { cause: e });
        }
        throw e;
      }
    } else {
      netnsPath = this.o.hostNetns;
    }
    const ns: NetnsRef = pinned ? { fd: pinned.fh.fd } : netnsPath;
    try {
      if (pinned && req.captureNamespace !== (this.o.systemNamespace ?? SYSTEM_NAMESPACE)) await this.refuseHostNetns(pinned, req);
      // Compile the filter in the target's namespace on the same interface: a bad filter or a missing
      // interface fails here with tcpdump's own message, before anything is written.
      // A pod found by its sandbox is starting now: its first packets come within ~100 ms, so a
      // filter+interface that already compiled (an earlier target of a selector capture) is not
      // compiled again; should this pod lack the interface, tcpdump's start fails with its words.
      const checkArgv = buildFilterCheckArgv(req.options);
      const checkKey = JSON.stringify(checkArgv);
      const bySandbox = req.containerIds.length === 0 && req.podUid !== undefined;
      const check = bySandbox && this.filtersOk.has(checkKey) ? { code: 0, stderr: '' } : await runTcpdumpOnce(checkArgv, ns, { programs: this.programs, ...(this.o.spawn ? { spawn: this.o.spawn } : {}) });
      if (check.code !== 0) {
        const msg = tcpdumpErrorMessage(check.stderr);
        if (/nsenter: /.test(check.stderr)) throw new CaptureSetupError('PodNotRunning', msg, true);
        const badIface = /No such device|doesn't exist|no such interface|SIOCGIFHWADDR|That device is not up/i.test(msg) && !/filter/i.test(msg);
        throw new CaptureSetupError(badIface ? 'BadInterface' : 'BadFilter', msg);
      }
      if (this.filtersOk.size >= 256) this.filtersOk.clear(); // bounded: distinct filters of live captures
      this.filtersOk.add(checkKey);
    } catch (e) {
      await pinned?.fh.close();
      throw e;
    }
    try {
      await mkdirPrivate(this.o.dataDir, paths.targetDir);
    } catch (e) {
      await pinned?.fh.close();
      throw e;
    }
    const fh = pinned?.fh;
    return { request: req, paths, netnsPath, pid, pinned: fh ? { fd: fh.fd, close: () => fh.close() } : undefined, netnsInode: pinned?.ino };
  }

  async sameNetns(prep: PreparedCapture, containerIds: readonly string[]): Promise<{ same: true } | { same: false; message: string }> {
    let loc;
    try {
      loc = await findContainerNetns(containerIds, this.o.procRoot, this.o.procFs ?? realProcFs, this.pids);
    } catch (e) {
      if (e instanceof NetnsNotFoundError) throw new CaptureSetupError('PodNotRunning', e.message, true, { cause: e });
      throw e;
    }
    const ino = loc.inode ?? (await stat(loc.netnsPath)).ino;
    if (prep.netnsInode !== undefined && ino === prep.netnsInode) return { same: true };
    return {
      same: false,
      message: `container ${loc.containerId.slice(0, 12)} runs in network namespace ${ino}, not in the pod sandbox's ${prep.netnsInode ?? '(unknown)'} that was captured since before the containers started`,
    };
  }

  /**
   * Defence in depth behind the controller's HostNetworkPod refusal: a tenant's pod target must
   * not be in the host's network namespace (PCAPPER_HOST_NETNS, else <proc>/1/ns/net).
   */
  private async refuseHostNetns(pinned: PinnedNetns, req: CaptureRequest): Promise<void> {
    // Without PCAPPER_HOST_NETNS: init's namespace (hostPID), else the agent's own, which is the
    // node's when the agent runs with hostNetwork as the chart deploys it.
    const candidates = this.o.hostNetns ? [this.o.hostNetns] : [`${this.o.procRoot}/1/ns/net`, '/proc/self/ns/net'];
    let host;
    let hostPath = candidates[0] ?? '';
    try {
      for (const c of candidates) {
        hostPath = c;
        host = await stat(c).catch((e: unknown) => {
          if (c === candidates[candidates.length - 1]) throw e;
          return undefined;
        });
        if (host) break;
      }
      if (!host) throw new Error('not readable');
    } catch (e) {
      throw new CaptureSetupError('CaptureFailed', `cannot check the host network namespace ${hostPath}: ${(e as Error).message}; refusing a pod capture outside the system namespace`, false, { cause: e });
    }
    if (host.ino === pinned.ino && host.dev === pinned.dev) {
      const t = req.target.kind === 'pod' ? `${req.target.namespace}/${req.target.pod}` : '';
      throw new CaptureSetupError(
        'HostNetworkPod',
        `pod ${t} shares the node's network namespace (hostNetwork); capturing it would capture the whole node, which only a PacketCapture in the system namespace "${this.o.systemNamespace ?? SYSTEM_NAMESPACE}" may do`,
      );
    }
  }

  async capture(prep: PreparedCapture): Promise<RunningCapture> {
    let proc: TcpdumpProcess;
    let listening;
    const pipe = this.o.pipe;
    let ring: PcapRing | undefined;
    let consumed: Promise<void> | undefined;
    let gate: LookbackGate | undefined;
    try {
      const o = prep.request.options;
      const argv = pipe ? buildPipeTcpdumpArgv(o) : buildTcpdumpArgv(o, prep.paths.writePath);
      proc = new TcpdumpProcess(argv, prep.pinned ? { fd: prep.pinned.fd } : prep.netnsPath, {
        programs: this.programs,
        ...(this.o.spawn ? { spawn: this.o.spawn } : {}),
        // cwd: the target directory, so `ls -l /proc/<pid>/cwd` tells which capture a tcpdump writes for
        ...(pipe ? { stdout: 'pipe' as const, cwd: prep.paths.targetDir } : {}),
      });
      if (pipe && proc.stdout) {
        ring = new PcapRing({
          dir: prep.paths.targetDir,
          fileBase: prep.paths.fileBase,
          maxFileSize: fileSizeMegabytes(o.maxFileSizeBytes) * 1_000_000,
          fileCount: o.fileCount,
          open: (path: string) => pipe.open(path, prep.request.recipients),
          remove: (p) => rm(p, { force: true }),
          ...(pipe.canDelete ? { canDelete: (n: string) => pipe.canDelete?.(prep, n) ?? true } : {}),
          ...(pipe.onClosed ? { onClosed: (f: RingFile) => pipe.onClosed?.(prep, f) } : {}),
          ...(pipe.uniqueNames?.(prep) ? { uniqueNames: true } : {}),
        });
        const r = ring;
        const p = proc;
        // A ring error (disk full, backlog, a damaged stream) ends tcpdump: nothing is captured
        // that could not be written. It is reported as the capture's error.
        // armed (docs/triggers.md): the window stays in memory until release(); nothing reaches the ring before
        let input = p.stdout as unknown as import('node:stream').Readable;
        if (o.lookBack) {
          const g = (gate = new LookbackGate(o.lookBack));
          input.on('error', (e: Error) => g.destroy(e));
          input = input.pipe(g);
        }
        consumed = r.consume(input).catch(async () => {
          await p.stop();
        });
      }
      listening = await proc.started;
    } catch (e) {
      if (e instanceof TcpdumpStartError) throw new CaptureSetupError('CaptureFailed', e.message, false, { cause: e });
      throw e;
    } finally {
      // the child holds its own copy of the fd from spawn on
      await prep.pinned?.close().catch(() => undefined);
    }
    const r = ring;
    // With a pipe, the capture has ended when tcpdump exited AND its last bytes are in the last file.
    const exited = r
      ? Promise.all([proc.exited, consumed]).then(([exit]) => {
          if (!r.error) return exit;
          // the ring's error is the cause: tcpdump's own words then only say that its pipe closed
          const f = ringFailure(r.error);
          return { ...exit, code: exit.code === 0 ? 1 : exit.code, error: exit.error ? `${f.message} (tcpdump: ${exit.error})` : f.message, reason: f.reason };
        })
      : proc.exited;
    return {
      prepared: prep,
      listening,
      pid: proc.pid,
      ring: r,
      exited,
      requestStats: () => proc.requestStats(),
      flush: () => {
        proc.flush();
        if (r) void r.flush().catch(() => undefined); // an error ends the capture through consume()
      },
      ...(r ? { seal: () => r.flush() } : {}),
      ...(gate ? { release: (firedAtMs: number) => gate.release(firedAtMs), input: gate } : {}),
      stop: async (graceMs?: number) => {
        await proc.stop(graceMs);
        return exited;
      },
    };
  }

  async collectMetadata(prep: PreparedCapture, meta: CaptureMetadata): Promise<string> {
    return writeCaptureMetadata(prep.paths.writePath, meta, { perDirectory: true });
  }

  async cleanup(captureNamespace: string, captureName: string): Promise<void> {
    await rm(captureDirOf(this.o.dataDir, captureNamespace, captureName), { recursive: true, force: true });
  }
}
