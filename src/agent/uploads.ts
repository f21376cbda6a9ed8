/**
 * The node-wide upload queue (docs/storage.md section 4, "In the agent"): a ring file is queued
 * when the ring closes it (complete on disk), then its `capture-meta.json` sidecar; at most
 * `concurrency` files upload at once. Each attempt:
 *
 *   resolve the store (StoreResolver) -> read the credentials from the mounted Secret (again, every
 *   attempt: a rotated Secret applies at the next one) -> src/storage/uploader.ts uploadFile
 *   (multipart, per-part checksums, journal beside the file, resume by ListParts) -> verified?
 *   -> delete the local copy and the journal. Never deleted otherwise.
 *
 * Failures, as src/storage/errors.ts classifies them:
 * - transient (store unreachable, 5xx, throttled; the client's own retries exhausted): state
 *   Failed, reason StoreUnavailable, retried with exponential backoff (full jitter) on the clock;
 * - terminal (credentials, missing bucket, access denied): state Failed, reason = the store's code
 *   (InvalidAccessKeyId, NoSuchBucket, ...), message = what to fix. Retried slowly (at the backoff
 *   cap) so that a fixed Secret or a created bucket is picked up without a restart.
 *
 * Journals live beside the file as `.<file>.upload.json` (hidden from the file server's listing).
 * After a restart, `requeueOnDisk()` queues every closed file of a capture with a store again; a
 * journal makes the upload resume.
 */
import { unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import type { FileUpload } from '../api/packetcapture.js';
import type { Clock } from '../k8s/clock.js';
import { S3Client, type RetryPolicy } from '../storage/client.js';
import { StoreError } from '../storage/errors.js';
import { objectKey } from '../storage/keys.js';
import type { Credentials } from '../storage/sigv4.js';
import { UploadError, uploadFile, type UploadOptions, type UploadResult } from '../storage/uploader.js';
import type { Logger } from '../telemetry/log.js';
import type { StoreConfigRef, StoreResolver } from './stores.js';

export interface UploadJob {
  /** `<namespace>/<capture>` */
  readonly captureKey: string;
  readonly namespace: string;
  readonly capture: string;
  readonly node: string;
  /** The target's status key (`pod/<ns>/<pod>`), for the status report. */
  readonly target: string;
  /** The target's directory name: the object key's target segment (the data API's path). */
  readonly targetDir: string;
  readonly file: string;
  readonly path: string;
  readonly store: string;
  /** Reported in status.targets[].files[] (ring files and the metadata sidecar: both, since the sidecar's upload state counts for `Uploaded`). */
  readonly inStatus: boolean;
}

export interface UploadQueueDeps {
  readonly concurrency: number;
  readonly clock: Clock;
  readonly resolver: StoreResolver;
  /** The store's credentials, read from the mounted Secret (called before every attempt). */
  readonly credentials: (store: StoreConfigRef) => Promise<Credentials>;
  /** A state change of a job, for status (and tests). */
  readonly report: (job: UploadJob, u: FileUpload) => void;
  readonly log: Logger;
  readonly upload?: (client: S3Client, opts: UploadOptions) => Promise<UploadResult>;
  /** Queue-level backoff between attempts (default 1 s doubling to 60 s). */
  readonly backoff?: { baseMs: number; capMs: number };
  /** Per-request retries inside one attempt (default 3 attempts, 0.2 s .. 2 s): status says why soon. */
  readonly requestRetry?: RetryPolicy;
  readonly random?: () => number;
  /** Deletes the local copy after verification (default unlink). */
  readonly remove?: (path: string) => Promise<void>;
}

interface Entry {
  job: UploadJob;
  attempts: number;
  state: FileUpload['state'];
  queued: boolean;
  running: boolean;
  timer: { cancel(): void } | undefined;
  last: FileUpload;
}

/** The journal of an upload: hidden beside the file. */
export function journalPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.upload.json`);
}

/** Full-jitter exponential backoff. Pure. */
export function retryDelay(attempt: number, base: number, cap: number, random: () => number): number {
  return Math.floor(random() * Math.min(cap, base * 2 ** Math.min(attempt, 30)));
}

/** What a failed attempt means for status. Pure. */
export function failureOf(e: unknown): { reason: string; message: string; transient: boolean } {
  const store = e instanceof StoreError ? e : e instanceof Error && e.cause instanceof StoreError ? e.cause : undefined;
  const transient = e instanceof UploadError || e instanceof StoreError ? e.transient : false;
  const message = e instanceof Error ? e.message : String(e);
  if (transient) return { reason: 'StoreUnavailable', message, transient };
  return { reason: store?.code ?? (e instanceof Error && e.name === 'CredentialsError' ? 'StoreCredentialsMissing' : 'UploadFailed'), message, transient };
}

export class UploadQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly waiting: Entry[] = [];
  private active = 0;
  private stopped = false;
  private readonly idle = new Set<() => void>();
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly d: UploadQueueDeps) {}

  /**
   * Queues a closed file (again: a no-op while it is queued, running or uploaded). `fresh`: the
   * ring just closed a new file under this name (a reused ring slot), so an earlier `Uploaded`
   * entry of the same path belongs to the old file and must not count for the new one.
   */
  add(job: UploadJob, opts: { fresh?: boolean } = {}): void {
    if (this.stopped) return;
    let e = this.entries.get(job.path);
    if (e && opts.fresh && e.state === 'Uploaded' && !e.queued && !e.running) {
      e.timer?.cancel();
      this.entries.delete(job.path);
      e = undefined;
    }
    if (e && (e.queued || e.running || e.state === 'Uploaded')) return;
    if (!e) {
      e = { job, attempts: 0, state: 'Pending', queued: false, running: false, timer: undefined, last: { state: 'Pending' } };
      this.entries.set(job.path, e);
      this.report(e, { state: 'Pending' });
    }
    e.timer?.cancel();
    e.timer = undefined;
    this.enqueue(e);
  }

  /** Whether this file is verified in the store (the ring may then reuse its slot). */
  isUploaded(path: string): boolean {
    return this.entries.get(path)?.state === 'Uploaded';
  }

  /** The current upload state of a file (undefined: never queued). */
  stateOf(path: string): FileUpload | undefined {
    return this.entries.get(path)?.last;
  }

  /** Forgets a capture's files (its directory was removed). */
  forget(captureKey: string): void {
    for (const [p, e] of this.entries) {
      if (e.job.captureKey !== captureKey) continue;
      e.timer?.cancel();
      if (!e.running) this.entries.delete(p);
      const i = this.waiting.indexOf(e);
      if (i >= 0) this.waiting.splice(i, 1);
    }
  }

  /** Stops retries and waits for running uploads (their journals let the next agent resume). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.entries.values()) e.timer?.cancel();
    this.waiting.length = 0;
    await Promise.allSettled([...this.inflight]);
  }

  get running(): number {
    return this.active;
  }

  get pending(): number {
    return this.waiting.length;
  }

  private enqueue(e: Entry): void {
    e.queued = true;
    this.waiting.push(e);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.d.concurrency && this.waiting.length > 0) {
      const e = this.waiting.shift() as Entry;
      e.queued = false;
      e.running = true;
      this.active++;
      const p = this.attempt(e).finally(() => {
        e.running = false;
        this.active--;
        this.inflight.delete(p);
        this.pump();
      });
      this.inflight.add(p);
    }
  }

  private report(e: Entry, u: FileUpload): void {
    e.state = u.state ?? e.state;
    e.last = u;
    this.d.report(e.job, u);
  }

  private async attempt(e: Entry): Promise<void> {
    const { job } = e;
    const now = new Date(this.d.clock.now()).toISOString();
    const store = this.d.resolver.resolve(job.store);
    if (!store) {
      this.report(e, { state: 'Failed', reason: 'StoreNotFound', message: `the PacketCaptureStore "${job.store}" does not exist (or is being deleted): the file stays on the node`, lastAttemptTime: now });
      this.retryLater(e, false);
      return;
    }
    let client: S3Client | undefined;
    try {
      const credentials = await this.d.credentials(store);
      client = new S3Client(
        {
          endpoint: store.endpoint,
          region: store.region,
          bucket: store.bucket,
          pathStyle: store.pathStyle,
          credentials,
          retry: this.d.requestRetry ?? { attempts: 3, baseMs: 200, capMs: 2000 },
          ...(store.caBundle ? { ca: store.caBundle } : {}),
        },
        { ...(this.d.random ? { random: this.d.random } : {}) },
      );
      const key = objectKey({ prefix: store.prefix, namespace: job.namespace, capture: job.capture, node: job.node, target: job.targetDir, file: job.file });
      this.report(e, { state: 'Uploading', parts: e.last.parts ?? 0, partsDone: 0, lastAttemptTime: now });
      let partsDone = 0;
      const result = await (this.d.upload ?? uploadFile)(client, {
        file: job.path,
        key,
        journal: journalPath(job.path),
        ...(store.partSize !== undefined ? { partSize: store.partSize } : {}),
        ...(store.concurrency !== undefined ? { concurrency: store.concurrency } : {}),
        onPart: (p) => {
          partsDone++;
          this.report(e, { state: 'Uploading', parts: p.parts, partsDone, lastAttemptTime: now });
        },
      });
      if (!result.verified) {
        // never delete: the object does not match the local bytes
        this.report(e, { state: 'Failed', reason: 'VerificationFailed', message: `${key}: ${result.reason ?? 'the stored object does not match the local file'}; the local file is kept`, lastAttemptTime: now });
        this.retryLater(e, false);
        return;
      }
      await (this.d.remove ?? unlink)(job.path).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      });
      await unlink(journalPath(job.path)).catch(() => undefined);
      e.attempts = 0;
      this.report(e, { state: 'Uploaded', parts: result.parts, partsDone: result.parts, lastAttemptTime: now });
      this.d.log.info('uploaded and verified; local copy removed', { file: job.path, key, parts: result.parts, resumed: result.partsResumed });
    } catch (err) {
      const f = failureOf(err);
      this.report(e, { state: 'Failed', reason: f.reason, message: f.message.slice(0, 2000), lastAttemptTime: now, ...(e.last.parts !== undefined ? { parts: e.last.parts } : {}) });
      this.d.log.warn('upload failed', { file: job.path, reason: f.reason, transient: f.transient, err });
      this.retryLater(e, f.transient);
    } finally {
      client?.close();
    }
  }

  private retryLater(e: Entry, transient: boolean): void {
    if (this.stopped) return;
    const { baseMs, capMs } = this.d.backoff ?? { baseMs: 1000, capMs: 60_000 };
    const delay = transient ? Math.max(baseMs / 2, retryDelay(e.attempts, baseMs, capMs, this.d.random ?? Math.random)) : capMs;
    e.attempts++;
    e.timer = this.d.clock.setTimer(() => {
      e.timer = undefined;
      if (!this.stopped && this.entries.get(e.job.path) === e) this.enqueue(e);
    }, delay);
  }
}
