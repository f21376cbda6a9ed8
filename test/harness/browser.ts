/**
 * A real browser for the UI tests: Debian's Chromium (/usr/bin/chromium, scripts/prereqs.mjs)
 * driven by playwright-core (no browser download). With `netns`, Chromium runs inside that network
 * namespace (the cluster's client netns, the "laptop"), where it reaches the UI server on
 * 127.0.0.1 and nothing of the cluster but the API server: playwright talks to it over a pipe, so
 * the namespace does not get in the way. Console errors and CSP violations of every page are
 * collected so a test can assert there were none.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface TestBrowser {
  readonly browser: Browser;
  /** A fresh context (own cookies), with a download directory and console capture. */
  context(): Promise<BrowserContext>;
  /** Console errors and page errors seen so far (CSP violations show up here). */
  readonly problems: string[];
  close(): Promise<void>;
}

export async function launchBrowser(o: { dir: string; netns?: { netnsPath: string } }): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/prereqs.mjs installs it as root)`);
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  let executablePath = CHROMIUM;
  if (o.netns) {
    // exec keeps the pid and the pipe fds (3, 4) playwright hands to the browser; "$@" is argv
    executablePath = join(o.dir, 'chromium-in-netns');
    writeFileSync(executablePath, `#!/bin/sh\nexec nsenter "--net=${o.netns.netnsPath}" -- ${CHROMIUM} "$@"\n`);
    chmodSync(executablePath, 0o700);
  }
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--disable-dev-shm-usage', '--no-first-run', '--disable-gpu'], timeout: 60_000 });
  const problems: string[] = [];
  const watch = (p: Page): void => {
    p.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  };
  return {
    browser,
    problems,
    context: async () => {
      const c = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
      c.on('page', watch);
      return c;
    },
    close: () => browser.close(),
  };
}

/** Where screenshots go: $PCAPPER_UI_SCREENSHOTS, else dist/ui-screenshots. */
export function screenshotDir(repoRoot: string): string {
  const d = process.env.PCAPPER_UI_SCREENSHOTS || join(repoRoot, 'dist', 'ui-screenshots');
  mkdirSync(d, { recursive: true });
  return d;
}

export interface UiProcess {
  /** The URL printed as the last line on stdout (with the one-time token). */
  readonly url: string;
  readonly port: number;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** SIGTERM (as Ctrl-C) and wait for the exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `kubectl pcap ui --no-open ARGS` as a user would (its own process; in `command`'s
 * namespace when given, e.g. cluster.clientCommand) and waits for its URL line (bounded).
 */
export async function startUiProcess(
  cli: string,
  args: string[],
  o: { env: Record<string, string>; cwd: string; command?: (argv: readonly string[]) => [string, string[]]; timeoutMs?: number },
): Promise<UiProcess> {
  const { spawn } = await import('node:child_process');
  const argv = [process.execPath, cli, 'ui', '--no-open', ...args];
  const [file, fargs] = o.command ? o.command(argv) : [process.execPath, argv.slice(1)];
  const child = spawn(file, fargs, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kubectl pcap ui printed no URL within ${o.timeoutMs ?? 60_000} ms; stderr: ${err}`)), o.timeoutMs ?? 60_000);
    child.stdout.on('data', (c: string) => {
      out += c;
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl pcap ui exited with ${String(code)} before printing its URL; stderr: ${err}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    stderr: () => err,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls `check` until it returns a value (not undefined), at most `timeoutMs`; the last error is reported. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
