/**
 * Streaming k-way merge of capture files into one time-ordered pcapng.
 *
 * - Every input interface becomes one output Interface Description Block, named
 *   `input.name` (e.g. `<node>/<namespace>/<pod>` from capture metadata) and carrying the input's
 *   comments; when an input has several interfaces, the original interface name is appended
 *   (`name#ifname` or `name#N`).
 * - Packets are emitted in (timestamp, input order) order: ties keep the order of `inputs`, and
 *   packets of one input keep their file order. Each input is assumed to be time-ordered itself
 *   (as tcpdump writes it); an input that goes backwards in time is merged as-is, like mergecap.
 * - Memory is bounded: one read buffer per input (4 MiB, less with many inputs) plus 1 MiB chunks,
 *   independent of file sizes.
 * - Little-endian EPBs are copied byte for byte (interface id patched); classic pcap records, SPBs,
 *   obsolete packet blocks and big-endian EPBs are re-encoded (big-endian EPB options are dropped).
 * - An input that turns out to be corrupt stops contributing at the error; its complete packets
 *   before the error are merged, the error is returned in `errors` and the merge continues with the
 *   other inputs.
 */
import { basename } from 'node:path';
import { CaptureReader, RecordKind, type ByteSource } from './reader.js';
import { PcapFormatError, PcapIoError } from './errors.js';
import { PcapngWriter, type ByteSink } from './writer.js';
import { mulAdd64 } from './time.js';

/** One input of {@link mergeCaptures}. */
export interface MergeInput {
  path: string;
  /** Interface name in the output (default: the file's base name). */
  name?: string;
  /** Comments for the interface block(s) of this input. */
  comments?: readonly string[];
  /** Read from this source instead of opening `path` (tests, in-memory data). */
  source?: ByteSource;
}

export interface MergeOptions {
  /** Read buffer per input (default: 64 MiB shared by the inputs, 256 KiB to 4 MiB each). */
  bufferSize?: number;
  /** Section comments of the output. */
  sectionComments?: readonly string[];
  /** End (close) the output stream when done (default true; pass false for process.stdout). */
  endOutput?: boolean;
  /** Read inputs with fs.readSync (faster for command-line use; blocks the event loop per read). */
  syncReads?: boolean;
  /**
   * Called for each packet in output order (the reader's current packet, and the input's index);
   * a packet is written only when it returns true (`merge --filter`). Default: every packet.
   */
  keep?: (r: CaptureReader, input: number) => boolean;
}

export interface MergeResult {
  packets: number;
  /** Output interfaces in id order. */
  interfaces: { name: string; input: number; linkType: number }[];
  /** Problems with inputs; the merge still contains every packet read before each problem. */
  errors: (PcapFormatError | PcapIoError)[];
}

interface Source {
  index: number;
  input: MergeInput;
  reader: CaptureReader;
  /** reader interface index -> output interface id */
  ifaceMap: number[];
  live: boolean;
}

/** Advances a reader to its next packet (reading as needed); false at end. */
async function next(r: CaptureReader): Promise<boolean> {
  for (;;) {
    if (r.advance()) return true;
    if (r.done) return false;
    await r.fill();
  }
}

/** Like {@link next} after `advance()` already returned false: reads more input first. */
async function nextAfterRefill(r: CaptureReader, w: PcapngWriter): Promise<boolean> {
  while (!r.done) {
    w.releaseRefs(); // the writer may still point into this reader's buffer
    await r.fill();
    if (r.advance()) return true;
  }
  return false;
}

/** True when a's current packet sorts before b's. */
function before(a: Source, b: Source): boolean {
  const ra = a.reader;
  const rb = b.reader;
  if (ra.tsSec !== rb.tsSec) return ra.tsSec < rb.tsSec;
  if (ra.tsNsec !== rb.tsNsec) return ra.tsNsec < rb.tsNsec;
  return a.index < b.index;
}

/** Minimal binary heap over sources ordered by {@link before}. */
class SourceHeap {
  readonly items: Source[] = [];
  push(s: Source): void {
    const h = this.items;
    h.push(s);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const hp = h[p] as Source;
      if (!before(s, hp)) break;
      h[i] = hp;
      i = p;
    }
    h[i] = s;
  }
  pop(): Source | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) this.siftDown(last);
    return top;
  }
  /** The top's key changed (its reader advanced): restore heap order. */
  updateTop(): void {
    const top = this.items[0];
    if (top !== undefined && this.items.length > 1) this.siftDown(top);
  }
  private siftDown(s: Source): void {
    const h = this.items;
    const n = h.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(h[r] as Source, h[l] as Source)) c = r;
      const hc = h[c] as Source;
      if (!before(hc, s)) break;
      h[i] = hc;
      i = c;
    }
    h[i] = s;
  }
}

/**
 * Merges `inputs` into one pcapng written to `out` (which is ended when done). Resolves with the
 * packet count, the interfaces written and any per-input errors.
 */
export async function mergeCaptures(inputs: readonly MergeInput[], out: ByteSink, opts: MergeOptions = {}): Promise<MergeResult> {
  const w = new PcapngWriter(out);
  const errors: (PcapFormatError | PcapIoError)[] = [];
  const result: MergeResult = { packets: 0, interfaces: [], errors };
  w.writeSection({ comments: opts.sectionComments ?? [`merged by pcapper from ${inputs.length} file(s)`] });
  const sources: Source[] = [];
  const heap = new SourceHeap();

  const fail = async (s: Source, err: unknown): Promise<void> => {
    s.live = false;
    await s.reader.close().catch(() => undefined);
    if (err instanceof PcapFormatError || err instanceof PcapIoError) errors.push(err);
    else throw err;
  };

  /** Output interface ids of explicitly named single-interface inputs, by what makes them equal. */
  const shared = new Map<string, number>();
  const interfaceFor = (s: Source, readerIface: number): number => {
    const have = s.ifaceMap[readerIface];
    if (have !== undefined) return have;
    const r = s.reader;
    const ri = r.interfaces[readerIface];
    if (ri === undefined) throw new Error(`internal: reader interface ${readerIface} missing`);
    const base = s.input.name ?? basename(s.input.path);
    const many = r.interfaces.length > 1;
    const name = many ? `${base}#${ri.name ?? readerIface}` : base;
    const shareKey =
      s.input.name !== undefined && !many ? JSON.stringify([name, ri.linkType, ri.snapLength, ri.tsresol ?? null, ri.tsOffset ?? null]) : undefined;
    const same = shareKey !== undefined ? shared.get(shareKey) : undefined;
    if (same !== undefined) {
      s.ifaceMap[readerIface] = same;
      return same;
    }
    const desc = [ri.name, ri.description].filter((x) => x !== undefined).join(' ') || undefined;
    const id = w.addInterface({
      linkType: ri.linkType,
      snapLength: ri.snapLength,
      name,
      description: desc ?? `${basename(s.input.path)}`,
      comments: [...(s.input.comments ?? []), ...ri.comments],
      tsresol: ri.tsresol,
      tsOffset: ri.tsOffset,
    });
    s.ifaceMap[readerIface] = id;
    if (shareKey !== undefined) shared.set(shareKey, id);
    result.interfaces.push({ name, input: s.index, linkType: ri.linkType });
    return id;
  };

  // Open every input and read its first packet (which also reads the IDBs before it).
  for (const [index, input] of inputs.entries()) {
    let reader: CaptureReader;
    try {
      const ro = { bufferSize: opts.bufferSize ?? Math.min(4 << 20, Math.max(256 << 10, Math.floor((64 << 20) / Math.max(1, inputs.length)))), syncReads: opts.syncReads ?? false };
      reader = input.source ? await CaptureReader.fromSource(input.source, ro) : await CaptureReader.open(input.path, ro);
    } catch (err) {
      if (err instanceof PcapFormatError || err instanceof PcapIoError) {
        errors.push(err);
        continue;
      }
      throw err;
    }
    const s: Source = { index, input, reader, ifaceMap: [], live: true };
    sources.push(s);
    try {
      if (await next(reader)) heap.push(s);
      else {
        s.live = false;
        await reader.close();
      }
    } catch (err) {
      await fail(s, err);
    }
  }
  // Interfaces known up front are written in input order, even if they carry no packets.
  for (const s of sources) for (let i = 0; i < s.reader.interfaces.length; i++) interfaceFor(s, i);

  const scratch = new Float64Array(2);
  try {
    for (;;) {
      const s = heap.items[0];
      if (s === undefined) break;
      const r = s.reader;
      const id = s.ifaceMap[r.interfaceId] ?? interfaceFor(s, r.interfaceId);
      const kept = opts.keep === undefined || opts.keep(r, s.index);
      if (!kept) {
        // filtered out: nothing written
      } else if (r.recordKind === RecordKind.Epb && r.littleEndian) {
        w.copyEpb(id, r.data, r.recordOffset, r.recordLength);
      } else {
        let hi = r.rawTsHi;
        let lo = r.rawTsLo;
        if (r.recordKind === RecordKind.Pcap) {
          mulAdd64(r.rawTsHi, r.interfaces[0]?.unitsPerSecond ?? 1e6, r.rawTsLo, scratch);
          hi = scratch[0] ?? 0;
          lo = scratch[1] ?? 0;
        } else if (r.recordKind === RecordKind.Spb) {
          const iface = r.interfaces[r.interfaceId];
          const ups = iface?.unitsPerSecond ?? 1e6;
          if (ups <= 1073741824) {
            mulAdd64(Math.max(0, r.tsSec - (iface?.tsOffset ?? 0)), ups, Math.floor((r.tsNsec * ups) / 1e9), scratch);
            hi = scratch[0] ?? 0;
            lo = scratch[1] ?? 0;
          }
        }
        w.writeEpbRaw(id, hi, lo, r.data, r.dataOffset, r.caplen, r.origLen);
      }
      if (kept) result.packets++;
      if (w.needsDrain) await w.drain();
      let more: boolean;
      try {
        // synchronous fast path; one await per buffer refill, not per packet
        more = r.advance() || (await nextAfterRefill(r, w));
      } catch (err) {
        heap.pop();
        await fail(s, err);
        continue;
      }
      if (more) heap.updateTop();
      else {
        heap.pop();
        s.live = false;
        await r.close();
      }
    }
    await w.end(opts.endOutput ?? true);
  } finally {
    for (const s of sources) if (s.live) await s.reader.close().catch(() => undefined);
  }
  return result;
}
