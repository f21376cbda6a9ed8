// Re-wrapping every encrypted file under a directory with the keyring's active key (key
// rotation, docs/storage.md): the agent runs it over its data directory at start and whenever the
// Secret's active key changes. Each file is re-wrapped in place (rotate.ts: crash-safe, header
// slots only: a file still being written is safe, its writer never touches the header again).
// End-to-end files (age recipients) have no cluster key and are left alone.
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ALG_AGE, MAGIC, type Keyring } from './format.js';
import { rewrapFile } from './rotate.js';

export interface RewrapTreeResult {
  /** Files now wrapped by the active key that were not before. */
  readonly rewrapped: number;
  /** Files that already were. */
  readonly current: number;
  /** End-to-end files (no cluster key to change). */
  readonly endToEnd: number;
  /** Files that could not be re-wrapped (path and why): they still need their old key. */
  readonly failed: ReadonlyArray<{ path: string; error: string }>;
}

async function kindOf(path: string): Promise<'keyring' | 'age' | 'plain'> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(MAGIC.length + 2);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    if (bytesRead < b.length || !b.subarray(0, MAGIC.length).equals(MAGIC)) return 'plain';
    return b[MAGIC.length + 1] === ALG_AGE ? 'age' : 'keyring';
  } finally {
    await fh.close();
  }
}

/** Re-wraps every encrypted file below `dir` (regular files only; symlinks are not followed). */
export async function rewrapTree(dir: string, ring: Keyring): Promise<RewrapTreeResult> {
  let rewrapped = 0;
  let current = 0;
  let endToEnd = 0;
  const failed: { path: string; error: string }[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // removed meanwhile
      throw e;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        try {
          const k = await kindOf(p);
          if (k === 'age') endToEnd++;
          else if (k === 'keyring') {
            if ((await rewrapFile(p, ring)).changed) rewrapped++;
            else current++;
          }
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // a ring file rotated away meanwhile
          failed.push({ path: p, error: (err as Error).message });
        }
      }
    }
  };
  await walk(dir);
  return { rewrapped, current, endToEnd, failed };
}
