/**
 * The capture backend behind a small interface (Retina-style): set up, capture, collect metadata,
 * clean up. The agent only talks to this interface; src/capture/linux.ts implements it with
 * /proc scanning, nsenter and tcpdump.
 */
import type { CaptureMetadata } from '../pcap/metadata.js';
import type { Listening, TcpdumpOptions, CapturePaths, TargetRef } from './tcpdump.js';
import type { TcpdumpExit } from './runner.js';
import type { TcpdumpStats } from './tcpdump.js';
import type { WindowRelease } from './lookback.js';

export interface CaptureRequest {
  captureNamespace: string;
  captureName: string;
  target: TargetRef;
  /** Pod targets: container IDs from the pod status (64 hex, no scheme). */
  containerIds: readonly string[];
  /** Pod targets with no container ID yet: find the sandbox's network namespace by this pod UID (sandbox.ts). */
  podUid?: string | undefined;
  options: TcpdumpOptions;
  /** End-to-end mode (spec.encryption.recipients): ring files are encrypted to these age recipients only. */
  recipients?: readonly string[] | undefined;
  /** Start time (file name uses its unix seconds). */
  now: Date;
}

export interface PreparedCapture {
  readonly request: CaptureRequest;
  readonly paths: CapturePaths;
  /** Network namespace to enter (by path); undefined = the agent's own. Pod targets use `pinned`. */
  readonly netnsPath: string | undefined;
  /** Pod targets: the namespace held open since it was verified (entered through this fd). capture() closes it. */
  readonly pinned?: { readonly fd: number; close(): Promise<void> } | undefined;
  /** pid whose netns is used (pod targets). */
  readonly pid: number | undefined;
  /** Pod targets: inode of the namespace pinned (to check it against the containers' later). */
  readonly netnsInode?: number | undefined;
}

/** The ring of a capture whose tcpdump writes into a pipe (src/capture/ring.ts): sizes and live records from memory. */
export interface LiveRing {
  /** Ring files on disk with their plaintext sizes (oldest first). */
  files(): Array<{ name: string; size: number; closed: boolean }>;
  /** The pcap global header once tcpdump wrote it. */
  readonly header: Buffer | undefined;
  subscribe(l: { data(record: Buffer): void; end(): void }): () => void;
  /** True once tcpdump's stream ended and the last file is closed. */
  readonly finished: boolean;
}

export interface RunningCapture {
  /** Present when the agent writes the ring files itself (tcpdump -w -). */
  readonly ring?: LiveRing | undefined;
  readonly prepared: PreparedCapture;
  readonly listening: Listening;
  readonly pid: number | undefined;
  /** Resolves when tcpdump has exited. */
  readonly exited: Promise<TcpdumpExit>;
  requestStats(): Promise<TcpdumpStats | undefined>;
  /** Asks tcpdump to write what it buffered (call when the capture is quiet). */
  flush(): void;
  /**
   * Seals what the agent's ring received but has not sealed yet (the encrypted writer keeps up to
   * one chunk of plaintext), so readers of the growing file see it. Called every status interval.
   */
  seal?: () => Promise<void>;
  /** Stops tcpdump (SIGTERM, SIGKILL after graceMs). */
  stop(graceMs?: number): Promise<TcpdumpExit>;
  /** Armed captures (options.lookBack): freezes the look-back window at `firedAtMs` and starts the ring (src/capture/lookback.ts). */
  release?: (firedAtMs: number) => WindowRelease;
  /** Armed captures: every record as tcpdump wrote it, before the look-back window (the ring gets nothing until release). */
  readonly input?: Pick<LiveRing, 'header' | 'subscribe'> | undefined;
}

/**
 * Why a capture could not be set up or started. `transient` errors are retried (the pod's container
 * is not running yet); the others fail the target with `reason` and tcpdump's or the kernel's words.
 */
export class CaptureSetupError extends Error {
  override readonly name = 'CaptureSetupError';
  constructor(
    readonly reason: 'PodNotRunning' | 'BadFilter' | 'BadInterface' | 'CaptureFailed' | 'InvalidTarget' | 'HostNetworkPod',
    message: string,
    readonly transient = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface CaptureBackend {
  /** The backend can find a pod's sandbox network namespace by pod UID before its containers start. */
  readonly sandboxLookup?: boolean;
  /**
   * For a capture set up by pod UID: whether the containers `containerIds` (now in the pod status)
   * run in the namespace being captured. Throws CaptureSetupError (transient) while their process
   * is not visible yet.
   */
  sameNetns?(prep: PreparedCapture, containerIds: readonly string[]): Promise<{ same: true } | { same: false; message: string }>;
  /** Finds the network namespace, compiles the filter there, creates the directories (0700). */
  setup(req: CaptureRequest): Promise<PreparedCapture>;
  /** Starts tcpdump; resolves once it is capturing. Releases what setup() held open (pinned namespace) either way. */
  capture(prep: PreparedCapture): Promise<RunningCapture>;
  /** Writes the capture metadata sidecar next to the files (0600). */
  collectMetadata(prep: PreparedCapture, meta: CaptureMetadata): Promise<string>;
  /** Removes everything the capture wrote on this node (`<data>/<namespace>/<capture>`). */
  cleanup(captureNamespace: string, captureName: string): Promise<void>;
}
