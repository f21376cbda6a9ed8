/**
 * Checks an output file (-w) before anything is created in the cluster, so a directory, a missing
 * parent or a read-only place is reported in one line at once, not after the whole capture ran
 * (issue 16 item 4). Nothing is created here.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError } from './errors.js';

/** Throws a UsageError (exit 2) unless `path` can be written as a file; `-` (stdout) passes. */
export async function checkOutputFile(path: string, command: string): Promise<void> {
  if (path === '-') return;
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  if (st?.isDirectory()) throw new UsageError(`cannot write ${path}: it is a directory; give a file name with -w (e.g. -w ${path.replace(/\/$/, '')}/capture.pcapng)`, command);
  if (st && !st.isFile()) {
    // a FIFO or a device (e.g. /dev/null) is fine if writable
    if (!(st.isFIFO() || st.isCharacterDevice())) throw new UsageError(`cannot write ${path}: not a regular file`, command);
  }
  const target = st ? path : dirname(path);
  const dst = st ? st : await stat(target).catch(() => undefined);
  if (!dst) throw new UsageError(`cannot write ${path}: the directory ${target} does not exist`, command);
  if (!st && !dst.isDirectory()) throw new UsageError(`cannot write ${path}: ${target} is not a directory`, command);
  try {
    await access(target, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new UsageError(`cannot write ${path}: ${code === 'EROFS' ? 'read-only file system' : `permission denied on ${target}`}`, command);
  }
}
