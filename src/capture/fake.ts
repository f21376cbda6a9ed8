/**
 * A fake CaptureBackend beside the real one (Retina's fake provider, Antrea's injected capturer):
 * no root, no tcpdump, no network namespace. It computes the same paths as the Linux backend,
 * creates the target directory (0700) and writes a pcap file header, so the agent's file listing
 * and sizes work as with tcpdump; a test then "captures" packets, ends the capture, or scripts
 * failures of setup, capture and cleanup, and reads what the agent asked for in `calls`.
 *
 * For unit tests of the agent (src/agent/agent.test.ts); the real-kernel tests use linux.ts.
 */
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import type { CaptureMetadata } from '../pcap/metadata.js';
import { CaptureSetupError, type CaptureBackend, type CaptureRequest, type PreparedCapture, type RunningCapture } from './backend.js';
import type { TcpdumpExit } from './runner.js';
import { captureDirOf, capturePaths, type Listening, type TcpdumpStats } from './tcpdump.js';
import type { WindowRelease } from './lookback.js';

/** The 24-byte pcap global header (LINKTYPE_ETHERNET, microseconds), what tcpdump writes first. */
export const PCAP_HEADER = Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex');

export interface FakeBackendOptions {
  nodeName: string;
  dataDir: string;
  hostDataDir?: string;
}

/** A failure the next matching call throws (matched by the request's target, or any target). */
export interface ScriptedFailure {
  /** `pod/<ns>/<pod>` or `node/<interface>`; undefined = any target. */
  target?: string;
  error: Error;
}

const targetKey = (req: CaptureRequest): string => (req.target.kind === 'pod' ? `pod/${req.target.namespace}/${req.target.pod}` : `node/${req.target.interface}`);

export class FakeRunningCapture implements RunningCapture {
  readonly listening: Listening;
  readonly pid = undefined;
  readonly exited: Promise<TcpdumpExit>;
  /** Packets "captured" so far. */
  captured = 0;
  droppedByKernel = 0;
  flushes = 0;
  /** graceMs of each stop() call. */
  readonly stops: (number | undefined)[] = [];
  private done = false;
  private resolveExit!: (e: TcpdumpExit) => void;
  private writes: Promise<void> = Promise.resolve();

  /** Armed captures (options.lookBack): the firing times release() was called with (the fake keeps no window). */
  readonly releases: number[] = [];
  readonly release?: (firedAtMs: number) => WindowRelease;

  constructor(readonly prepared: PreparedCapture) {
    if (prepared.request.options.lookBack) {
      this.release = (firedAtMs) => {
        this.releases.push(firedAtMs);
        return { packets: 0, bytes: 0, oldestMs: undefined, evicted: 0 };
      };
    }
    this.listening = { interface: prepared.request.options.interface, linkTypeName: 'EN10MB', linkType: 1, snapLength: prepared.request.options.snapLength };
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  /** Whether tcpdump "runs". */
  get running(): boolean {
    return !this.done;
  }

  /** Appends `n` packets of `size` bytes (16-byte record header + payload) to the first file. */
  async packets(n: number, size = 100): Promise<void> {
    if (this.done) throw new Error('the fake capture has exited');
    this.captured += n;
    const rec = Buffer.alloc(16 + size);
    rec.writeUInt32LE(size, 8);
    rec.writeUInt32LE(size, 12);
    const all = Buffer.concat(Array.from({ length: n }, () => rec));
    this.writes = this.writes.then(() => appendFile(this.prepared.paths.writePath, all, { mode: 0o600 }));
    await this.writes;
  }

  /** tcpdump exits by itself (packetCount reached: code 0; an error: code 1 and its words; `reason`: the backend ended it, e.g. UploadBacklog). */
  exit(code: number, error = '', reason?: string): void {
    this.finish({ code, signal: null, stats: this.stats(), error, stopped: false, ...(reason !== undefined ? { reason } : {}) });
  }

  requestStats(): Promise<TcpdumpStats | undefined> {
    return Promise.resolve(this.done ? undefined : this.stats());
  }

  flush(): void {
    this.flushes++;
  }

  stop(graceMs?: number): Promise<TcpdumpExit> {
    this.stops.push(graceMs);
    this.finish({ code: 0, signal: null, stats: this.stats(), error: '', stopped: true });
    return this.exited;
  }

  private stats(): TcpdumpStats {
    return { captured: this.captured, received: this.captured + this.droppedByKernel, droppedByKernel: this.droppedByKernel, droppedByInterface: 0 };
  }

  private finish(e: TcpdumpExit): void {
    if (this.done) return;
    this.done = true;
    this.resolveExit(e);
  }
}

export class FakeCaptureBackend implements CaptureBackend {
  readonly calls = { setup: [] as CaptureRequest[], capture: [] as CaptureRequest[], metadata: [] as CaptureMetadata[], cleanup: [] as string[] };
  /** Every capture started, in order. */
  readonly captures: FakeRunningCapture[] = [];
  /** Thrown by the next matching setup() (e.g. a CaptureSetupError BadFilter, or a transient PodNotRunning). */
  readonly setupFailures: ScriptedFailure[] = [];
  /** Thrown by the next matching capture(). */
  readonly captureFailures: ScriptedFailure[] = [];
  /** Thrown by the next cleanup() calls, one each. */
  readonly cleanupFailures: Error[] = [];

  constructor(private readonly o: FakeBackendOptions) {}

  /** The running (not exited) capture of a target, by `pod/<ns>/<pod>` or `node/<interface>`. */
  live(target: string): FakeRunningCapture | undefined {
    return this.captures.find((c) => c.running && targetKey(c.prepared.request) === target);
  }

  async setup(req: CaptureRequest): Promise<PreparedCapture> {
    this.calls.setup.push(req);
    takeFailure(this.setupFailures, req);
    let paths;
    try {
      paths = capturePaths({
        dataDir: this.o.dataDir,
        hostDataDir: this.o.hostDataDir ?? this.o.dataDir,
        nodeName: this.o.nodeName,
        namespace: req.captureNamespace,
        capture: req.captureName,
        target: req.target,
        unixTime: Math.floor(req.now.getTime() / 1000),
      });
    } catch (e) {
      throw new CaptureSetupError('InvalidTarget', (e as Error).message, false, { cause: e });
    }
    await mkdir(paths.targetDir, { recursive: true, mode: 0o700 });
    return { request: req, paths, netnsPath: undefined, pid: undefined };
  }

  async capture(prep: PreparedCapture): Promise<RunningCapture> {
    this.calls.capture.push(prep.request);
    takeFailure(this.captureFailures, prep.request);
    await writeFile(prep.paths.writePath, PCAP_HEADER, { mode: 0o600 });
    const c = new FakeRunningCapture(prep);
    this.captures.push(c);
    return c;
  }

  collectMetadata(prep: PreparedCapture, meta: CaptureMetadata): Promise<string> {
    this.calls.metadata.push(meta);
    return Promise.resolve(`${prep.paths.writePath}.json`);
  }

  async cleanup(captureNamespace: string, captureName: string): Promise<void> {
    this.calls.cleanup.push(`${captureNamespace}/${captureName}`);
    const err = this.cleanupFailures.shift();
    if (err) throw err;
    await rm(captureDirOf(this.o.dataDir, captureNamespace, captureName), { recursive: true, force: true });
  }
}

function takeFailure(list: ScriptedFailure[], req: CaptureRequest): void {
  const i = list.findIndex((f) => f.target === undefined || f.target === targetKey(req));
  if (i < 0) return;
  const [f] = list.splice(i, 1);
  if (f) throw f.error;
}
