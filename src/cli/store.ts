/**
 * The local capture store used by `import` (and by `summary`/`merge` NAME): one directory per
 * imported capture, `<store>/<name>/`, holding capture files and their metadata sidecars in the
 * format of src/pcap/metadata.ts (docs/metadata.md), plus `import.json` recording the sources.
 *
 * Store location: `--store DIR`, else $PCAPPER_STORE, else $XDG_DATA_HOME/pcapper/captures,
 * else ~/.local/share/pcapper/captures.
 *
 * Exported files (`kubectl pcap export`) carry each interface's sidecar as an interface comment
 * `pcapper.meta=<JSON>`; import splits such a file into one file per interface and writes the
 * sidecars back, so an exported capture imports with its pod names and IP -> pod map intact.
 */
import { copyFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { basename, join } from 'node:path';
import { CaptureReader } from '../pcap/reader.js';
import { PcapngWriter } from '../pcap/writer.js';
import { findCaptureMetadata, formatCaptureMetadata, META_COMMENT_PREFIX, metadataFromComments, metadataPathFor, parseCaptureMetadata, type CaptureMetadata } from '../pcap/metadata.js';
import { CliError } from './errors.js';
import { isDns1123Subdomain } from '../api/names.js';

export { META_COMMENT_PREFIX, metadataFromComments } from '../pcap/metadata.js';

export function storeDir(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  if (flag) return flag;
  if (env.PCAPPER_STORE) return env.PCAPPER_STORE;
  const data = env.XDG_DATA_HOME || (env.HOME ? join(env.HOME, '.local', 'share') : undefined);
  if (!data) throw new CliError('cannot find a place for the capture store: set HOME, XDG_DATA_HOME or PCAPPER_STORE, or pass --store');
  return join(data, 'pcapper', 'captures');
}


/** `pcapper.meta=<JSON>` for an interface comment. */
export function metadataComment(m: CaptureMetadata): string {
  return `${META_COMMENT_PREFIX}${JSON.stringify(parseCaptureMetadata(m))}`;
}

export function checkStoreName(name: string): void {
  if (!isDns1123Subdomain(name)) throw new CliError(`"${name}" is not a valid capture name (lowercase letters, digits, "-" and ".")`);
}

/** Files of an imported capture (capture files only, sorted), or undefined if there is no such import. */
export async function storedCaptureFiles(store: string, name: string): Promise<string[] | undefined> {
  if (!isDns1123Subdomain(name)) return undefined;
  const dir = join(store, name);
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) return undefined;
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  return names
    .filter((n) => /\.(pcap[0-9]*|pcapng|cap)$/.test(n))
    .sort()
    .map((n) => join(dir, n));
}

export interface ImportedFile {
  source: string;
  path: string;
  metadata: boolean;
  packets?: number;
}

function safeBase(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[.-]+/, '') || 'capture';
}

/**
 * Imports one file into `dir`. A pcapng whose interfaces carry `pcapper.meta=` comments is split
 * into one pcapng per interface with its sidecar; any other file is copied with its sidecar (if it
 * has one).
 */
export async function importFile(src: string, dir: string): Promise<ImportedFile[]> {
  let st;
  try {
    st = await stat(src);
  } catch (e) {
    throw new CliError(`${src}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { cause: e });
  }
  if (!st.isFile()) throw new CliError(`${src}: not a file`);
  const reader = await CaptureReader.open(src).catch((e: unknown) => {
    throw new CliError(`${src}: not a pcap or pcapng file: ${(e as Error).message}`, { cause: e });
  });
  // read up to the first packet so every interface known up front is parsed
  let first: boolean;
  try {
    first = await nextPacket(reader);
  } catch (e) {
    await reader.close();
    throw new CliError(`${src}: ${(e as Error).message}`, { cause: e });
  }
  const metas = reader.interfaces.map((i) => metadataFromComments(i.comments));
  if (metas.length > 0 && metas.every((m) => m !== undefined)) {
    // an exported capture: split per interface
    const outs = metas.map((m, i) => {
      const meta = m;
      const who = meta.pod ? `${meta.nodeName}.${meta.pod.namespace}.${meta.pod.name}` : `${meta.nodeName}.${meta.interfaces[0] ?? 'any'}`;
      const path = join(dir, `${safeBase(basename(src).replace(/\.[^.]*$/, ''))}.${i}.${safeBase(who)}.pcapng`);
      const ws = createWriteStream(path, { mode: 0o600 });
      const w = new PcapngWriter(ws);
      const ri = reader.interfaces[i];
      w.addInterface({ linkType: ri?.linkType ?? 1, snapLength: ri?.snapLength, name: ri?.name, description: ri?.description, comments: ri?.comments.filter((c) => !c.startsWith(META_COMMENT_PREFIX)), tsresol: 9 });
      return { path, w, meta, packets: 0 };
    });
    try {
      let have = first;
      while (have) {
        const o = outs[reader.interfaceId];
        if (o) {
          o.w.writePacket(0, reader.tsSec, reader.tsNsec, reader.data.subarray(reader.dataOffset, reader.dataOffset + reader.caplen), reader.origLen);
          o.packets++;
          if (o.w.needsDrain) await o.w.drain();
        }
        have = await nextPacket(reader);
      }
    } finally {
      await reader.close();
      for (const o of outs) await o.w.end();
    }
    const res: ImportedFile[] = [];
    for (const o of outs) {
      await writeFile(metadataPathFor(o.path), formatCaptureMetadata(o.meta), { mode: 0o600 });
      res.push({ source: src, path: o.path, metadata: true, packets: o.packets });
    }
    return res;
  }
  await reader.close();
  const dest = join(dir, safeBase(basename(src)));
  await copyFile(src, dest);
  const found = await findCaptureMetadata(src).catch((e: unknown) => {
    throw new CliError(`${src}: its metadata sidecar is invalid: ${(e as Error).message}`, { cause: e });
  });
  if (found) await writeFile(metadataPathFor(dest), formatCaptureMetadata(found.metadata), { mode: 0o600 });
  return [{ source: src, path: dest, metadata: found !== undefined }];
}

async function nextPacket(r: CaptureReader): Promise<boolean> {
  for (;;) {
    if (r.advance()) return true;
    if (r.done) return false;
    await r.fill();
  }
}

export async function ensureStoreDir(store: string, name: string): Promise<string> {
  checkStoreName(name);
  const dir = join(store, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}
