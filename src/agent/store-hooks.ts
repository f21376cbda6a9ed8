/**
 * Where the capture path meets the upload queue (docs/storage.md section 4, "In the agent"):
 * - a ring file closed by the ring -> queued (the capture has a store);
 * - the ring may reuse a file's slot only once that file is verified in the store;
 * - a target that ended -> its metadata sidecar queued after its ring files;
 * - after a restart, the files of the capture's targets on this node are queued again (journals
 *   make the uploads resume);
 * - every upload state change (ring files and the sidecar) -> status.targets[].files[].upload,
 *   through the status writer.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FileUpload } from '../api/packetcapture.js';
import type { PreparedCapture } from '../capture/backend.js';
import type { RingFile } from '../capture/ring.js';
import { DIRECTORY_METADATA_FILE } from '../pcap/metadata.js';
import { markDirty, type AgentContext } from './context.js';
import type { CaptureState } from './state.js';
import { storeOfCapture } from './stores.js';
import type { UploadJob } from './uploads.js';

/** The store of capture `namespace/name`, if it has one (and the agent can upload). */
export function storeOf(ctx: AgentContext, namespace: string, name: string): string | undefined {
  if (!ctx.uploads || !ctx.stores) return undefined;
  const pc = ctx.captures.get(`${namespace}/${name}`);
  return storeOfCapture(pc?.spec, ctx.stores);
}

function targetKeyOf(prep: PreparedCapture): string {
  const t = prep.request.target;
  return t.kind === 'pod' ? `pod/${t.namespace}/${t.pod}` : `node/${t.interface}`;
}

function jobFor(ctx: AgentContext, prep: PreparedCapture, store: string, file: string, inStatus: boolean): UploadJob {
  const r = prep.request;
  const targetDir = prep.paths.targetDir.slice(prep.paths.targetDir.lastIndexOf('/') + 1);
  return {
    captureKey: `${r.captureNamespace}/${r.captureName}`,
    namespace: r.captureNamespace,
    capture: r.captureName,
    node: ctx.config.nodeName,
    target: targetKeyOf(prep),
    targetDir,
    file,
    path: join(prep.paths.targetDir, file),
    store,
    inStatus,
  };
}

/** The ring closed `file`: queue its upload. */
export function ringFileClosed(ctx: AgentContext, prep: PreparedCapture, file: RingFile): void {
  const store = storeOf(ctx, prep.request.captureNamespace, prep.request.captureName);
  if (!store || !ctx.uploads) return;
  // fresh: a reused ring slot is a new file, whatever the upload state of the old one was
  ctx.uploads.add(jobFor(ctx, prep, store, file.name, true), { fresh: true });
}

/** May the ring delete `name` to reuse its slot? Without a store yes; with one only once verified there. */
export function ringMayReuse(ctx: AgentContext, prep: PreparedCapture, name: string): boolean {
  const store = storeOf(ctx, prep.request.captureNamespace, prep.request.captureName);
  if (!store || !ctx.uploads) return true;
  return ctx.uploads.isUploaded(join(prep.paths.targetDir, name));
}

/**
 * Does the ring give each file a name of its own? With a store yes: the object key is the file
 * name, so a reused ring name would overwrite an object of an earlier lap (docs/storage.md
 * section 4, "Ring files"); the store keeps every file the capture wrote, the node the newest
 * fileCount.
 */
export function ringUniqueNames(ctx: AgentContext, prep: PreparedCapture): boolean {
  return storeOf(ctx, prep.request.captureNamespace, prep.request.captureName) !== undefined;
}

/** A target ended: queue its metadata sidecar (after its ring files, which were queued as they closed). */
export function targetEnded(ctx: AgentContext, prep: PreparedCapture): void {
  const store = storeOf(ctx, prep.request.captureNamespace, prep.request.captureName);
  if (!store || !ctx.uploads) return;
  ctx.uploads.add(jobFor(ctx, prep, store, DIRECTORY_METADATA_FILE, true));
}

/** After a restart: queue the files found in a target directory (and its sidecar). */
export function requeueFiles(ctx: AgentContext, st: CaptureState, target: string, targetDir: string, names: readonly string[]): void {
  const store = storeOf(ctx, st.namespace, st.name);
  if (!store || !ctx.uploads) return;
  const dirName = targetDir.slice(targetDir.lastIndexOf('/') + 1);
  const base = { captureKey: st.key, namespace: st.namespace, capture: st.name, node: ctx.config.nodeName, target, targetDir: dirName, store };
  // only what is still on the node: an uploaded file was removed after verification
  for (const n of names) if (existsSync(join(targetDir, n))) ctx.uploads.add({ ...base, file: n, path: join(targetDir, n), inStatus: true });
  if (existsSync(join(targetDir, DIRECTORY_METADATA_FILE))) ctx.uploads.add({ ...base, file: DIRECTORY_METADATA_FILE, path: join(targetDir, DIRECTORY_METADATA_FILE), inStatus: true });
}

/**
 * An upload changed state: record it for status, ring files and the metadata sidecar alike (the
 * sidecar is listed in status.targets[].files[] with its upload state, so the capture's `Uploaded`
 * condition is true only once the sidecar is in the store too).
 */
export function uploadReported(ctx: AgentContext, job: UploadJob, u: FileUpload): void {
  if (!job.inStatus) return;
  const st = ctx.states.get(job.captureKey);
  if (!st) return;
  let m = st.uploads.get(job.target);
  if (!m) st.uploads.set(job.target, (m = new Map<string, FileUpload>()));
  m.set(job.file, u);
  markDirty(ctx, st, u.state === 'Uploaded' || u.state === 'Failed');
}
