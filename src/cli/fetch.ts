/**
 * Collecting a capture's files: download every node's files (pcap ring files and their metadata
 * sidecars) into a local directory, then merge them into one time-ordered pcapng with one named
 * interface per pod/node (names and comments from the sidecars, src/pcap/metadata.ts).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PacketCapture } from '../api/packetcapture.js';
import { mergeCaptures, type MergeInput, type MergeResult } from '../pcap/merge.js';
import { findCaptureMetadata, interfaceCommentsFor, interfaceNameFor, type CaptureMetadata } from '../pcap/metadata.js';
import { describeError } from '../pcap/errors.js';
import { downloadAgentFile, listAgentFiles, localPathOf, type AgentAuth } from './agent-client.js';
import { CliError } from './errors.js';
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
  /** Nodes that could not be reached or refused (one line each). */
  problems: string[];
}

/**
 * Downloads every node's files of `pc` into `dir` (`<dir>/<node>/<target>/<file>`). Nodes that
 * fail are reported in `problems`; the others are still downloaded.
 */
export async function downloadCapture(pc: PacketCapture, dir: string, auth: AgentAuth, io: Pick<CliIo, 'stderr'>, signal?: AbortSignal): Promise<DownloadResult> {
  const ns = pc.metadata.namespace ?? 'default';
  const name = pc.metadata.name ?? '';
  const out: DownloadResult = { files: [], bytes: 0, problems: [] };
  const nodes = pc.status?.nodes ?? [];
  // nodes in parallel (each node's files one after the other: one connection per agent)
  await Promise.all(
    nodes.map(async (n) => {
      if (!n.endpoint) {
        out.problems.push(`node ${n.node}: the agent published no endpoint`);
        return;
      }
      try {
        const list = await listAgentFiles(n.endpoint, ns, name, auth, n.node, signal);
        if (!list) return;
        for (const f of list.files) {
          if (f.kind === 'other') continue;
          const dest = localPathOf(dir, n.node, f);
          out.bytes += await downloadAgentFile(n.endpoint, ns, name, f, dest, auth, { node: n.node, signal });
        }
        const count = list.files.filter((f) => f.kind === 'pcap').length;
        io.stderr.write(`downloaded ${count} file(s) from node ${n.node}\n`);
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        out.problems.push(`node ${n.node}: ${(e as Error).message}`);
      }
    }),
  );
  out.files = await localCaptureFiles(dir);
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
