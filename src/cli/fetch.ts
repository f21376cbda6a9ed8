/**
 * Collecting a capture's files: download every node's files (pcap ring files and their metadata
 * sidecars) through the API server into a local directory, then merge them into one time-ordered pcapng with one named
 * interface per pod/node (names and comments from the sidecars, src/pcap/metadata.ts).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PacketCapture } from '../api/packetcapture.js';
import { mergeCaptures, type MergeInput, type MergeResult } from '../pcap/merge.js';
import { findCaptureMetadata, interfaceCommentsFor, interfaceNameFor, type CaptureMetadata } from '../pcap/metadata.js';
import { describeError } from '../pcap/errors.js';
import { downloadFile, listFiles } from './data-api.js';
import { decryptEndToEnd } from './e2e-files.js';
import { CliError, oneLine } from './errors.js';
import { KubeError, type KubeClient } from './kube.js';
import { safeLocalPath } from './safe-names.js';
import { TransferProgress } from './transfer-progress.js';
import type { CliIo } from './io.js';
import { metadataComment } from './store.js';

export interface LocalCaptureFile {
  path: string;
  node: string;
  target: string;
  /** Its sidecar (per file or per directory), if there is one. */
  metadata?: CaptureMetadata;
  metadataPath?: string;
}

export interface DownloadResult {
  files: LocalCaptureFile[];
  bytes: number;
  /** Nodes whose files could not be downloaded, one line each (`node X: why`). */
  problems: string[];
  /** Nodes the file list named. */
  nodes: number;
}

/**
 * Downloads every node's files of `pc` into `dir` (`<dir>/<node>/<target>/<file>`) through the
 * data API (the API server only): nodes in parallel, each node's files one after another, each
 * file resumed with Range when cut (data-api.ts). A node the list reports with an error, or whose
 * download fails, is reported in `problems` (never silently dropped); the others are still
 * downloaded.
 */
export async function downloadCapture(client: KubeClient, pc: PacketCapture, dir: string, io: Pick<CliIo, 'stderr'>, signal?: AbortSignal, identities?: readonly string[]): Promise<DownloadResult> {
  const ns = pc.metadata.namespace ?? 'default';
  const name = pc.metadata.name ?? '';
  const list = await listFiles(client, ns, name, signal);
  const out: DownloadResult = { files: [], bytes: 0, problems: [], nodes: list.byNode.size + list.problems.size };
  for (const [node, why] of list.problems) out.problems.push(`node ${node}: ${why}`);
  const wanted = [...list.byNode].map(([node, items]) => [node, items.filter((f) => f.kind === 'pcap' || f.kind === 'metadata')] as const);
  const count = wanted.reduce((a, [, items]) => a + items.length, 0);
  const progress = new TransferProgress(io.stderr, count, wanted.filter(([, items]) => items.length > 0).length);
  for (const [, items] of wanted) for (const f of items) progress.expect(`${f.node}/${f.target}/${f.name}`, f.size);
  const say = (line: string): void => {
    progress.clear();
    io.stderr.write(`${line}\n`);
  };
  await Promise.all(
    wanted.map(async ([node, items]) => {
      let pcaps = 0;
      let dest: string | undefined;
      try {
        for (const f of items) {
          const key = `${f.node}/${f.target}/${f.name}`;
          dest = safeLocalPath(dir, f.node, f.target, f.name, 'the file list');
          try {
            out.bytes += await downloadFile(client, ns, name, f, dest, {
              ...(signal ? { signal } : {}),
              onProgress: (have, total) => progress.update(key, have, total),
              onRetry: (why, have) => say(`note: resuming ${key} at byte ${have} (${why})`),
            });
          } catch (e) {
            // a ring file of a running capture may be rotated away between the list and its
            // download: that file is gone, the node's other files are still wanted
            if (!(e instanceof KubeError && e.status === 404 && f.kind === 'pcap')) throw e;
            await rm(dest, { force: true });
            dest = undefined;
            out.problems.push(`node ${node}: ${key} is gone (rotated or removed since the list): ${oneLine(e.message)}`);
            continue;
          }
          if (f.kind === 'pcap') pcaps++;
          dest = undefined;
        }
        say(`downloaded ${pcaps} file(s) from node ${node}`);
      } catch (e) {
        // an incomplete file must not reach the merge
        if (dest !== undefined) await rm(dest, { force: true });
        if ((e as Error).name === 'AbortError' || signal?.aborted) throw e;
        out.problems.push(`node ${node}: ${oneLine((e as Error).message)}`);
      }
    }),
  );
  progress.clear();
  out.files = await localCaptureFiles(dir);
  // end-to-end captures arrive as stored: opened here with the user's age identity, or refused
  // with a message naming --identity (summary and the UI end here too)
  const opened = await decryptEndToEnd(
    out.files.map((f) => f.path),
    identities,
    `capture ${ns}/${name}`,
    name,
  );
  if (opened > 0) io.stderr.write(`decrypted ${opened} end-to-end file(s) with the age identity\n`);
  return out;
}

const PCAP_FILE = /\.(pcap[0-9]*|pcapng|cap)$/;

/** Capture files under `dir` (recursively, sorted) with their sidecars. */
export async function localCaptureFiles(dir: string): Promise<LocalCaptureFile[]> {
  const out: LocalCaptureFile[] = [];
  const walk = async (d: string, rel: string[]): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(d)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = await stat(p);
      if (st.isDirectory()) await walk(p, [...rel, n]);
      else if (PCAP_FILE.test(n) && st.size > 0) {
        const f: LocalCaptureFile = { path: p, node: rel[0] ?? '', target: rel[1] ?? '' };
        const found = await findCaptureMetadata(p).catch(() => undefined);
        if (found) {
          f.metadata = found.metadata;
          f.metadataPath = found.path;
        }
        out.push(f);
      }
    }
  };
  await walk(dir, []);
  return out;
}

/** Merge inputs for local files: interface named `<node>/<namespace>/<pod>` from the sidecar. */
export function mergeInputsFor(files: readonly LocalCaptureFile[], embedMetadata = false): MergeInput[] {
  return files.map((f) => {
    const input: MergeInput = { path: f.path };
    if (f.metadata) {
      const m = f.metadata;
      input.name = interfaceNameFor(m, m.interfaces.length === 1 ? m.interfaces[0] : undefined);
      input.comments = [...interfaceCommentsFor(m, f.path), ...(embedMetadata ? [metadataComment(m)] : [])];
    } else if (f.node && f.target) {
      input.name = `${f.node}/${f.target.replace(/^pod\./, '').replace(/\./, '/')}`;
    }
    return input;
  });
}

/**
 * Merges `files` into `dest` (a path, or a Writable that is not ended, e.g. stdout). Format
 * problems of single inputs are reported on stderr; the merge keeps every packet read before them.
 */
export async function mergeTo(
  files: readonly LocalCaptureFile[],
  dest: string | Writable,
  io: Pick<CliIo, 'stderr'>,
  sectionComments?: readonly string[],
  embedMetadata = false,
): Promise<MergeResult> {
  if (files.length === 0) throw new CliError('no capture files to merge');
  const inputs = mergeInputsFor(files, embedMetadata);
  let r: MergeResult;
  if (typeof dest === 'string') {
    const ws = createWriteStream(dest, { mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (e) => reject(new CliError(`cannot write ${dest}: ${e.message}`, { cause: e })));
    });
    r = await mergeCaptures(inputs, ws, { sectionComments });
  } else {
    r = await mergeCaptures(inputs, dest, { sectionComments, endOutput: false });
  }
  for (const e of r.errors) io.stderr.write(`warning: ${describeError(e)}\n`);
  return r;
}

/** Copies a file to a stream without ending it (stdout). */
export async function copyToStream(path: string, out: Writable): Promise<void> {
  await pipeline(createReadStream(path), out, { end: false });
}
