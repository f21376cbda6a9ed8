/**
 * A real Prometheus server for tests (test/dashboard.test.ts): Debian's package, unpacked by
 * scripts/prometheus.mjs (cached in ~/.cache/pcapper), started on a free port with a scrape
 * configuration the test writes, its storage in a temporary directory. Queries go through its HTTP
 * API (/api/v1/query).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { eventually } from './eventually.js';
import { repoRoot } from './paths.js';
import { startProcess, type LoggedProcess } from './process.js';

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

/** Builds Prometheus if needed (the first run prints its progress) and returns the binary's path. */
export async function prometheusBinary(): Promise<string> {
  const mod = (await import(join(repoRoot(), 'scripts', 'prometheus.mjs'))) as { ensurePrometheus: (o?: { quiet?: boolean }) => string };
  return mod.ensurePrometheus();
}

/** One instant vector element of /api/v1/query. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export class PrometheusServer {
  private constructor(
    private readonly proc: LoggedProcess,
    private readonly dir: string,
    readonly url: string,
  ) {}

  /** Starts Prometheus with these scrape_configs (scrape and evaluation every second). */
  static async start(scrapeConfigs: unknown[]): Promise<PrometheusServer> {
    const bin = await prometheusBinary();
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-prom-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: scrapeConfigs }), { mode: 0o600 });
    const port = await freePort();
    const proc = startProcess('prometheus', [bin, `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      logFile: join(dir, 'prometheus.log'),
    });
    const p = new PrometheusServer(proc, dir, `http://127.0.0.1:${port}`);
    await eventually(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`prometheus exited (${proc.child.exitCode}): ${proc.log().slice(-2000)}`);
        try {
          return (await fetch(`${p.url}/-/ready`)).status === 200;
        } catch {
          return false;
        }
      },
      { what: 'Prometheus /-/ready', timeoutMs: 60_000, describe: () => proc.log().slice(-3000) },
    );
    return p;
  }

  log(): string {
    return this.proc.log();
  }

  /** An instant query (at `time`, seconds since the epoch, default now); throws on a query error. */
  async query(expr: string, time?: number): Promise<PromSample[]> {
    const q = new URLSearchParams({ query: expr });
    if (time !== undefined) q.set('time', String(time));
    const res = await fetch(`${this.url}/api/v1/query?${q.toString()}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== 'success' || !body.data) throw new Error(`query ${expr} failed: ${body.error ?? res.status}`);
    if (body.data.resultType !== 'vector') throw new Error(`query ${expr}: a ${body.data.resultType}, not an instant vector`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The scrape targets' health (/api/v1/targets), for failure messages. */
  async targets(): Promise<string> {
    return JSON.stringify(await (await fetch(`${this.url}/api/v1/targets`)).json());
  }

  async stop(): Promise<void> {
    await this.proc.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
