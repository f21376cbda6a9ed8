// A real S3-compatible server for the tests: Versity S3 Gateway over a fresh POSIX directory,
// built from Go modules by scripts/s3server.mjs (cached in ~/.cache/pcapper). Each S3Server has its
// own port, data directory and random root credentials; it can be SIGKILLed and restarted on the
// same port and data (the "object server killed mid-upload" fault) and is cleaned up by stop().
//
// Topology: the server listens on 127.0.0.1 and the uploader runs in the test process. In a cluster
// the agent reaches the store from the node network; the uploader's transport is plain HTTP(S) to a
// URL, so nothing here depends on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, type StoreConfig } from '../../src/storage/client.js';
import { repoRoot } from './paths.js';

export interface S3ServerOptions {
  readonly buckets?: readonly string[];
  readonly region?: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Builds the server if needed (the first run prints its progress) and returns the binary's path. */
export async function s3ServerBinary(): Promise<string> {
  const mod = (await import(join(repoRoot(), 'scripts', 's3server.mjs'))) as { ensureS3Server: (o?: { quiet?: boolean }) => string };
  return mod.ensureS3Server();
}

export class S3Server {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  readonly accessKeyId = `pcapper${randomBytes(6).toString('hex')}`;
  readonly secretAccessKey = randomBytes(24).toString('base64url');
  readonly region: string;
  readonly endpoint: string;

  private constructor(
    private readonly bin: string,
    readonly port: number,
    /** The work directory: data/ (the buckets) and server.log. */
    readonly dir: string,
    region: string,
  ) {
    this.region = region;
    this.endpoint = `http://127.0.0.1:${port}`;
  }

  static async start(opts: S3ServerOptions = {}): Promise<S3Server> {
    const bin = await s3ServerBinary();
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-s3-'));
    mkdirSync(join(dir, 'data'), { mode: 0o700 });
    const s = new S3Server(bin, await freePort(), dir, opts.region ?? 'us-east-1');
    try {
      await s.launch();
      const c = s.client('unused');
      try {
        for (const b of opts.buckets ?? []) await c.createBucket(b);
      } finally {
        c.close();
      }
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  /** A store configuration for this server (path-style, its credentials). */
  storeConfig(bucket: string, overrides: Partial<StoreConfig> = {}): StoreConfig {
    return {
      endpoint: this.endpoint,
      region: this.region,
      bucket,
      pathStyle: true,
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
      requestTimeoutMs: 30_000,
      ...overrides,
    };
  }

  client(bucket: string, overrides: Partial<StoreConfig> = {}): S3Client {
    return new S3Client(this.storeConfig(bucket, overrides));
  }

  private async launch(): Promise<void> {
    const log = openSync(join(this.dir, 'server.log'), 'a', 0o600);
    const proc = spawn(
      this.bin,
      ['--port', `127.0.0.1:${this.port}`, '--access', this.accessKeyId, '--secret', this.secretAccessKey, '--region', this.region, '--quiet', '--health', '/health', 'posix', '--file-perms', '0600', '--dir-perms', '0700', join(this.dir, 'data')],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    // Ready when /health answers (bounded poll; a server that exits fails at once).
    let dead = false;
    void this.exited.then(() => (dead = true));
    for (let i = 0; i < 300; i++) {
      if (dead) throw new Error(`the test S3 server exited at start; see ${join(this.dir, 'server.log')}`);
      const ok = await fetch(`${this.endpoint}/health`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the test S3 server did not answer on ${this.endpoint}/health within 300 polls; see ${join(this.dir, 'server.log')}`);
  }

  /** SIGKILL, and wait until it is gone (its port is closed). */
  async kill9(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Starts again on the same port and data (after kill9). */
  async restart(): Promise<void> {
    await this.kill9();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill9();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
