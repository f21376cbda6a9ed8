/** Opens a URL in the user's browser: xdg-open when it is on PATH, argv only (never a shell). */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawn as nodeSpawn, type SpawnOptions } from 'node:child_process';

/** The first executable `name` on `path`, or undefined. */
export function findOnPath(name: string, path: string | undefined, access: (p: string) => void = (p) => accessSync(p, constants.X_OK)): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      access(p);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export type Spawn = (file: string, args: readonly string[], opts: SpawnOptions) => { unref(): void; once(ev: 'error', cb: (e: Error) => void): unknown };

/** Returns false (nothing opened) when no opener is found. */
export function openBrowser(url: string, env: Readonly<Record<string, string | undefined>>, spawn: Spawn = nodeSpawn): boolean {
  const opener = findOnPath('xdg-open', env.PATH);
  if (!opener) return false;
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
  child.once('error', () => undefined);
  child.unref();
  return true;
}
