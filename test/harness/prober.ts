/** Client side of prober-main.ts: one prober process per node netns, shared by that node's pods. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inNetns, type HarnessRun } from './netns.js';

export interface ProbeResult {
  status?: number;
  error?: string;
}

export class NodeProber {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, (r: ProbeResult) => void>();

  constructor(
    private readonly netnsPath: string,
    private readonly run: HarnessRun,
  ) {}

  private ensure(): ChildProcess {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this.child;
    const script = fileURLToPath(new URL('./prober-main.js', import.meta.url));
    const [file, args] = inNetns({ netnsPath: this.netnsPath }, [process.execPath, script]);
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    if (child.pid === undefined) throw new Error(`cannot start the prober in ${this.netnsPath}`);
    const pid = child.pid;
    this.run.recordProcess(pid, `prober ${this.netnsPath}`);
    child.on('exit', () => {
      this.run.forgetProcess(pid);
      for (const [, r] of this.waiting) r({ error: 'prober exited' });
      this.waiting.clear();
    });
    child.on('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const m = JSON.parse(line) as { id: number } & ProbeResult;
        const r = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        r?.({ ...(m.status !== undefined ? { status: m.status } : {}), ...(m.error !== undefined ? { error: m.error } : {}) });
      } catch {
        // not a probe answer
      }
    });
    // the prober must not keep the test's event loop alive
    child.unref();
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.child = child;
    return child;
  }

  /** One HTTP(S) GET from inside the node's network namespace. */
  probe(url: string, timeoutMs = 1000): Promise<ProbeResult> {
    const child = this.ensure();
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ error: 'prober did not answer' });
      }, timeoutMs + 2000);
      this.waiting.set(id, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      child.stdin?.write(`${JSON.stringify({ id, url, timeoutMs })}\n`);
    });
  }

  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.ref();
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }
}
