/**
 * Download progress on stderr, the way kubectl shows long operations: on a terminal, once a
 * download takes longer than a second, one line redrawn in place (5 times a second), cleared when done; on a non-terminal nothing
 * per chunk (a log file must not fill with progress), only the per-node summary lines the caller
 * prints. Rendering is pure.
 */
import { formatBytes } from './printers.js';

/** `downloading 3 file(s) from 2 node(s): 12.0 MB / 40.0 MB (30%)  5.9 MB/s`. */
export function renderTransfer(files: number, nodes: number, done: number, total: number | undefined, elapsedMs: number): string {
  const parts = [`downloading ${files} file(s) from ${nodes} node(s): ${formatBytes(done)}`];
  if (total !== undefined && total > 0) parts[0] += ` / ${formatBytes(total)} (${Math.min(100, Math.floor((done / total) * 100))}%)`;
  if (elapsedMs >= 1000) parts.push(`${formatBytes(Math.round(done / (elapsedMs / 1000)))}/s`);
  return parts.join('  ');
}

export class TransferProgress {
  private readonly perFile = new Map<string, number>();
  private readonly totals = new Map<string, number>();
  private lastDraw = 0;
  private drawn = false;
  private readonly started: number;

  constructor(
    private readonly out: { write(s: string): unknown; isTTY?: boolean; columns?: number },
    private readonly files: number,
    private readonly nodes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  /** Bytes of `key` on disk so far, and its expected size. */
  update(key: string, have: number, total: number | undefined): void {
    this.perFile.set(key, have);
    if (total !== undefined) this.totals.set(key, total);
    if (this.out.isTTY !== true) return;
    const t = this.now();
    // only long downloads get a progress line (nothing flashes for a quick one), redrawn 5x a second
    if (t - this.started < 1000 || t - this.lastDraw < 200) return;
    this.lastDraw = t;
    this.draw();
  }

  /** Sets the expected size of a file before it starts (from the file list). */
  expect(key: string, size: number): void {
    if (!this.totals.has(key)) this.totals.set(key, size);
  }

  private draw(): void {
    const done = [...this.perFile.values()].reduce((a, b) => a + b, 0);
    const total = [...this.totals.values()].reduce((a, b) => a + b, 0);
    const cols = this.out.columns !== undefined && this.out.columns > 0 ? this.out.columns : 120;
    const line = renderTransfer(this.files, this.nodes, done, total, this.now() - this.started).slice(0, cols - 1);
    this.out.write(`\r\x1b[K${line}`);
    this.drawn = true;
  }

  /** Clears the line (before other output, and at the end). */
  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
