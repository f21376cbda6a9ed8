/**
 * Opening files under the data directory without following a symlink anywhere below it.
 *
 * Node has no openat(2), so each component is opened relative to the fd of its parent through
 * /proc/self/fd/<parent>/<name> with O_NOFOLLOW (O_DIRECTORY for directories): the kernel
 * resolves the parent's magic link to exactly the directory that fd holds, and refuses the
 * component when it is a symlink (ELOOP) or not a directory (ENOTDIR). A directory swapped for a
 * symlink between checks cannot redirect the open, because nothing is looked up by path twice.
 * The data directory itself (set by the administrator) is opened as configured.
 */
import { constants } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function under(parent: FileHandle, name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) throw Object.assign(new Error(`"${name}" is not a plain name`), { code: 'EINVAL' });
  return `/proc/self/fd/${parent.fd}/${name}`;
}

/** Opens `<root>/<parts...>` as a directory, each part with O_NOFOLLOW. Throws (ENOENT, ELOOP, ENOTDIR, ...). */
export async function openDirNoFollow(root: string, parts: readonly string[]): Promise<FileHandle> {
  let cur = await open(root, constants.O_RDONLY | constants.O_DIRECTORY);
  for (const p of parts) {
    let next: FileHandle;
    try {
      next = await open(under(cur, p), DIR_FLAGS);
    } finally {
      await cur.close();
    }
    cur = next;
  }
  return cur;
}

/**
 * Opens the regular file `<root>/<dirs...>/<file>` for reading with no symlink anywhere below
 * root; resolves undefined when it does not exist, is not a regular file, or a component is a symlink.
 */
export async function openFileNoFollow(root: string, dirs: readonly string[], file: string): Promise<{ fh: FileHandle; size: number; mtime: Date } | undefined> {
  let dir: FileHandle;
  try {
    dir = await openDirNoFollow(root, dirs);
  } catch {
    return undefined;
  }
  let fh: FileHandle;
  try {
    fh = await open(under(dir, file), FILE_FLAGS);
  } catch {
    return undefined;
  } finally {
    await dir.close();
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    return undefined;
  }
  return { fh, size: st.size, mtime: st.mtime };
}

/** Names in an open directory. */
export async function readdirOf(dir: FileHandle): Promise<string[]> {
  return readdir(`/proc/self/fd/${dir.fd}`);
}

/** lstat-like information of `name` inside an open directory (not following a symlink). */
export async function entryOf(dir: FileHandle, name: string): Promise<{ kind: 'file' | 'dir' | 'other'; size: number; mtime: Date } | undefined> {
  // Opening (not lstat) so that the answer is about the same object that would be served.
  let fh: FileHandle;
  try {
    fh = await open(under(dir, name), FILE_FLAGS);
  } catch {
    return undefined; // symlink (ELOOP), gone, or not openable
  }
  try {
    const st = await fh.stat();
    return { kind: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other', size: st.size, mtime: st.mtime };
  } finally {
    await fh.close();
  }
}
