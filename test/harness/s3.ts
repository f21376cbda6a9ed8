// A real S3-compatible server for the tests: Versity S3 Gateway over a fresh POSIX directory,
// built from Go modules by scripts/s3server.mjs (cached in ~/.cache/pcapper). Each S3Server has its
// own port, data directory and random root credentials; it can be SIGKILLed and restarted on the
// same port and data (the "object server killed mid-upload" fault) and is cleaned up by stop().
//
// Topology: by default the server listens on 127.0.0.1 for tests whose uploader runs in the test
// process. With `placement` it runs inside a network namespace of the simulated cluster (e.g. the
// control plane's, at CONTROL_PLANE_IP) where agents on the nodes reach it like a store outside
// their node; the test process then reaches it through a Unix socket (versitygw listens on both)
// and an in-process TCP forwarder, as the harness reaches the API server.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, type StoreConfig } from '../../src/storage/client.js';
import { spawnInNetns, type HarnessRun, type NetnsTarget } from './netns.js';
import { repoRoot } from './paths.js';

/** Where the server runs when it is not on the test's loopback. */
export interface S3Placement {
  /** The namespace it runs in, e.g. the cluster's control plane. */
  readonly netns: Pick<NetnsTarget, 'netnsPath'>;
  /** The address it listens on there, e.g. CONTROL_PLANE_IP. */
  readonly host: string;
  /** Default 7070 (versitygw's). */
  readonly port?: number;
  readonly run?: HarnessRun;
}

export interface S3ServerOptions {
  readonly buckets?: readonly string[];
  readonly region?: string;
  readonly placement?: S3Placement;
}

interface Running {
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<unknown>;
  done: boolean;
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
  private proc: Running | undefined;
  private forwarder: Server | undefined;
  private readonly conns = new Set<{ destroy(): void }>();
  readonly accessKeyId = `pcapper${randomBytes(6).toString('hex')}`;
  readonly secretAccessKey = randomBytes(24).toString('base64url');
  readonly region: string;
  /** The URL of the S3 API where the server listens (in its namespace, with a placement). */
  readonly endpoint: string;
  /** The URL the test process uses (the same as `endpoint` without a placement). */
  hostEndpoint: string;

  private constructor(
    private readonly bin: string,
    readonly port: number,
    /** The work directory: data/ (the buckets), server.log, s3.sock. */
    readonly dir: string,
    region: string,
    private readonly placement: S3Placement | undefined,
  ) {
    this.region = region;
    this.endpoint = `http://${placement ? placement.host : '127.0.0.1'}:${port}`;
    this.hostEndpoint = this.endpoint;
  }

  static async start(opts: S3ServerOptions = {}): Promise<S3Server> {
    const bin = await s3ServerBinary();
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-s3-'));
    mkdirSync(join(dir, 'data'), { mode: 0o700 });
    const port = opts.placement ? (opts.placement.port ?? 7070) : await freePort();
    const s = new S3Server(bin, port, dir, opts.region ?? 'us-east-1', opts.placement);
    try {
      if (opts.placement) await s.startForwarder();
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

  private get socketPath(): string {
    return join(this.dir, 's3.sock');
  }

  /** 127.0.0.1:<free> in the test's namespace -> the server's Unix socket. */
  private async startForwarder(): Promise<void> {
    const srv = createServer((c) => {
      const up = createConnection(this.socketPath);
      this.conns.add(c).add(up);
      c.pipe(up);
      up.pipe(c);
      const done = (): void => {
        c.destroy();
        up.destroy();
        this.conns.delete(c);
        this.conns.delete(up);
      };
      c.on('error', done).on('close', done);
      up.on('error', done).on('close', done);
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve());
    });
    this.forwarder = srv;
    const a = srv.address();
    this.hostEndpoint = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  }

  /** A store configuration for the test process (path-style, this server's credentials). */
  storeConfig(bucket: string, overrides: Partial<StoreConfig> = {}): StoreConfig {
    return {
      endpoint: this.hostEndpoint,
      region: this.region,
      bucket,
      pathStyle: true,
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
      requestTimeoutMs: 30_000,
      ...overrides,
    };
  }

  /** The same for a process inside the cluster network (an agent on a node). */
  clusterStoreConfig(bucket: string, overrides: Partial<StoreConfig> = {}): StoreConfig {
    return this.storeConfig(bucket, { endpoint: this.endpoint, ...overrides });
  }

  client(bucket: string, overrides: Partial<StoreConfig> = {}): S3Client {
    return new S3Client(this.storeConfig(bucket, overrides));
  }

  private async launch(): Promise<void> {
    const args = ['--access', this.accessKeyId, '--secret', this.secretAccessKey, '--region', this.region, '--quiet', '--health', '/health', 'posix', '--file-perms', '0600', '--dir-perms', '0700', join(this.dir, 'data')];
    const logFile = join(this.dir, 'server.log');
    let running: Running;
    if (this.placement) {
      // A socket file left by a SIGKILLed server would make the bind fail.
      rmSync(this.socketPath, { force: true });
      const argv = [this.bin, '--port', `${this.placement.host}:${this.port}`, '--port', this.socketPath, ...args];
      const p = spawnInNetns(this.placement.netns, argv, {
        ...(this.placement.run ? { run: this.placement.run } : {}),
        what: 'versitygw (test S3 server)',
        logFile,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        ref: true,
      });
      running = { kill: (sig) => p.kill(sig), exited: p.exited, done: false };
    } else {
      const log = openSync(logFile, 'a', 0o600);
      const p = spawn(this.bin, ['--port', `127.0.0.1:${this.port}`, ...args], { stdio: ['ignore', log, log] });
      closeSync(log);
      running = { kill: (sig) => p.kill(sig), exited: new Promise((resolve) => p.once('exit', resolve)), done: false };
    }
    void running.exited.then(() => (running.done = true));
    this.proc = running;
    // Ready when /health answers (bounded poll; a server that exits fails at once).
    for (let i = 0; i < 300; i++) {
      if (running.done) throw new Error(`the test S3 server exited at start; see ${logFile}`);
      const ok = await fetch(`${this.hostEndpoint}/health`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the test S3 server did not answer on ${this.hostEndpoint}/health within 300 polls; see ${logFile}`);
  }

  /** SIGKILL, and wait until it is gone (its port is closed). */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (!p || p.done) return;
    p.kill('SIGKILL');
    await p.exited;
  }

  /** Starts again on the same port and data (after kill9). */
  async restart(): Promise<void> {
    await this.kill9();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill9();
    const f = this.forwarder;
    this.forwarder = undefined;
    for (const c of this.conns) c.destroy();
    if (f) await new Promise<void>((resolve) => f.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
