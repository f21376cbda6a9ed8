/**
 * Wireshark's own filter engine as a test oracle without one tshark start per filter: `sharkd -`
 * (Debian's wireshark-common) reads JSON-RPC requests on stdin, loads a capture once and answers
 * any number of `frames` requests with a display filter. Used by the display-filter tests next to
 * a direct `tshark -Y` cross-check (same dissectors, same filter engine).
 */
import { spawnSync } from 'node:child_process';

export interface SharkdFrame {
  num: number;
  /** columns: No., Time, Source, Destination, Protocol, Length, Info */
  c: string[];
}

/** Frames matching each filter (in order), or the error message sharkd gave for it. */
export function sharkdFrames(file: string, filters: readonly string[]): (SharkdFrame[] | string)[] {
  const reqs = [{ jsonrpc: '2.0', id: 1, method: 'load', params: { file } }, ...filters.map((filter, i) => ({ jsonrpc: '2.0', id: i + 2, method: 'frames', params: filter === '' ? {} : { filter } }))];
  const r = spawnSync('sharkd', ['-'], { input: reqs.map((x) => JSON.stringify(x)).join('\n') + '\n', encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
  if (r.error) throw new Error(`cannot run sharkd: ${r.error.message}`, { cause: r.error });
  const byId = new Map<number, unknown>();
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const m = JSON.parse(line) as { id: number; result?: unknown; error?: { message: string } };
    byId.set(m.id, m.error ? m.error.message : m.result);
  }
  const load = byId.get(1) as { status?: string } | string | undefined;
  if (typeof load !== 'object' || load?.status !== 'OK') throw new Error(`sharkd could not load ${file}: ${JSON.stringify(load)} ${r.stderr}`);
  return filters.map((_, i) => {
    const v = byId.get(i + 2);
    if (v === undefined) throw new Error(`sharkd gave no answer for filter ${i + 1} on ${file}: ${r.stderr}`);
    return typeof v === 'string' ? v : (v as SharkdFrame[]);
  });
}
