/**
 * TCP stream reassembly for "follow stream" (pure): segments in capture order -> the bytes each
 * side sent, in sequence-number order, each byte once (a retransmitted or overlapping segment adds
 * only what was not delivered yet; a segment after a gap waits until the gap is filled, or until
 * the end). Then HTTP/1.x messages are read from each direction's bytes (Content-Length and
 * chunked bodies; a response without either runs to the end of the stream).
 */
import type { HttpMessageSummary, StreamChunk } from './types.js';

export interface Segment {
  frame: number;
  fromClient: boolean;
  seq: number;
  syn: boolean;
  fin: boolean;
  /** captured payload bytes (may be fewer than `length` when the snap length cut the packet) */
  data: Buffer;
  /** payload length in sequence space (per the IP header) */
  length: number;
}

interface Direction {
  next: number | undefined;
  pending: Segment[];
  /** delivered bytes and, per piece, [stream offset, frame] */
  pieces: Buffer[];
  marks: [number, number][];
  length: number;
}

const diff = (a: number, b: number): number => (a - b) | 0;

export interface Reassembled {
  chunks: StreamChunk[];
  client: Buffer;
  server: Buffer;
  /** [byte offset in the direction's stream, frame] per delivered piece */
  clientMarks: [number, number][];
  serverMarks: [number, number][];
}

export function reassemble(segments: readonly Segment[]): Reassembled {
  const dirs: [Direction, Direction] = [
    { next: undefined, pending: [], pieces: [], marks: [], length: 0 },
    { next: undefined, pending: [], pieces: [], marks: [], length: 0 },
  ];
  const chunks: { fromClient: boolean; packet: number; parts: Buffer[] }[] = [];
  const emit = (fromClient: boolean, frame: number, data: Buffer): void => {
    if (data.length === 0) return;
    const d = dirs[fromClient ? 0 : 1];
    d.marks.push([d.length, frame]);
    d.pieces.push(data);
    d.length += data.length;
    const last = chunks[chunks.length - 1];
    if (last && last.fromClient === fromClient) last.parts.push(data);
    else chunks.push({ fromClient, packet: frame, parts: [data] });
  };
  /** delivers what of `s` is new; returns false when it lies after a gap */
  const deliver = (d: Direction, s: Segment): boolean => {
    const start = s.syn ? (s.seq + 1) >>> 0 : s.seq;
    const len = s.length;
    if (d.next === undefined) d.next = start;
    const off = diff(d.next, start);
    if (off < 0) return false;
    if (off < len) {
      // bytes the snap length cut off are missing from the capture: what was captured is shown
      if (off < s.data.length) emit(s.fromClient, s.frame, s.data.subarray(off));
      d.next = (start + len) >>> 0;
    }
    return true;
  };
  const flush = (d: Direction): void => {
    for (let progress = true; progress; ) {
      progress = false;
      for (let i = 0; i < d.pending.length; i++) {
        if (deliver(d, d.pending[i]!)) {
          d.pending.splice(i, 1);
          progress = true;
          break;
        }
      }
    }
  };
  for (const s of segments) {
    const d = dirs[s.fromClient ? 0 : 1];
    if (s.syn && d.next === undefined) d.next = (s.seq + 1) >>> 0;
    if (s.length === 0) continue;
    if (deliver(d, s)) flush(d);
    else d.pending.push(s);
  }
  // what still waits behind a gap (a lost segment): delivered in sequence order after the gap
  for (const d of dirs) {
    d.pending.sort((a, b) => diff(a.seq, b.seq));
    while (d.pending.length > 0) {
      const s = d.pending.shift()!;
      d.next = s.syn ? (s.seq + 1) >>> 0 : s.seq;
      deliver(d, s);
      flush(d);
    }
  }
  return {
    chunks: chunks.map((c) => ({ fromClient: c.fromClient, packet: c.packet, dataBase64: Buffer.concat(c.parts).toString('base64') })),
    client: Buffer.concat(dirs[0].pieces),
    server: Buffer.concat(dirs[1].pieces),
    clientMarks: dirs[0].marks,
    serverMarks: dirs[1].marks,
  };
}

function frameAt(marks: readonly [number, number][], offset: number): number {
  let lo = 0;
  let hi = marks.length - 1;
  let ans = marks[0]?.[1] ?? 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid]![0] <= offset) {
      ans = marks[mid]![1];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

const START = /^(?:(GET|POST|PUT|HEAD|DELETE|OPTIONS|PATCH|CONNECT|TRACE) \S+ HTTP\/1\.[01]|HTTP\/1\.[01] \d{3}(?: .*)?)$/;

/** HTTP/1.x messages in one direction's bytes. */
export function httpMessages(data: Buffer, marks: readonly [number, number][], fromClient: boolean): HttpMessageSummary[] {
  const out: HttpMessageSummary[] = [];
  let p = 0;
  while (p < data.length && out.length < 10000) {
    const headEnd = data.indexOf('\r\n\r\n', p, 'latin1');
    if (headEnd < 0) break;
    const head = data.toString('latin1', p, headEnd);
    const lines = head.split('\r\n');
    const startLine = lines[0] ?? '';
    if (!START.test(startLine)) break;
    const headers: [string, string][] = [];
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      if (c > 0) headers.push([l.slice(0, c), l.slice(c + 1).trim()]);
    }
    const h = (n: string): string | undefined => headers.find(([k]) => k.toLowerCase() === n)?.[1];
    let bodyStart = headEnd + 4;
    let bodyBytes = 0;
    const isResponse = startLine.startsWith('HTTP/');
    const status = isResponse ? Number(startLine.slice(9, 12)) : 0;
    const noBody = isResponse && (status < 200 || status === 204 || status === 304);
    const te = h('transfer-encoding');
    const cl = h('content-length');
    if (noBody) bodyBytes = 0;
    else if (te !== undefined && /chunked/i.test(te)) {
      let q = bodyStart;
      for (;;) {
        const eol = data.indexOf('\r\n', q, 'latin1');
        if (eol < 0) {
          q = data.length;
          break;
        }
        const size = parseInt(data.toString('latin1', q, eol), 16);
        if (!Number.isFinite(size)) {
          q = data.length;
          break;
        }
        q = eol + 2 + size + 2;
        bodyBytes += size;
        if (size === 0) {
          // trailers end with an empty line
          const t = data.indexOf('\r\n', eol + 2, 'latin1');
          q = t < 0 ? data.length : t + 2;
          break;
        }
        if (q > data.length) {
          q = data.length;
          break;
        }
      }
      bodyStart = q;
      bodyBytes = Math.max(0, bodyBytes);
    } else if (cl !== undefined && /^\d+$/.test(cl)) {
      bodyBytes = Math.min(Number(cl), data.length - bodyStart);
      bodyStart += bodyBytes;
    } else if (isResponse) {
      bodyBytes = data.length - bodyStart;
      bodyStart = data.length;
    }
    out.push({ packet: frameAt(marks, p), fromClient, startLine, headers, bodyBytes });
    p = bodyStart;
  }
  return out;
}
