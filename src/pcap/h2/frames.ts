/**
 * HTTP/2 frame parser (RFC 9113 section 4): incremental over the in-order bytes of one direction.
 * DATA payloads stream through without copying (padding removed); every other frame is handed over
 * whole, copied only when it spans segments. Pure.
 */

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const FrameFlag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** Largest non-DATA frame payload kept (header blocks, settings, ...); larger ones break the connection. */
export const MAX_CONTROL_FRAME = 1 << 20;

/** What the parser calls; `t` is the time of the packet that carried the frame's first byte. */
export interface FrameSink {
  /** A complete non-DATA frame; the payload is valid during the call only. */
  frame(type: number, flags: number, stream: number, p: Uint8Array, off: number, len: number, t: number): void;
  /** Bytes of a DATA frame's payload (padding excluded), in order; valid during the call only. */
  data(stream: number, b: Uint8Array, off: number, len: number, t: number): void;
  /** The end of a DATA frame (`flags` carries END_STREAM). `t`: the packet carrying its last byte. */
  dataEnd(stream: number, flags: number, t: number): void;
}

export class H2FrameError extends Error {
  constructor(message: string) {
    super(`HTTP/2: ${message}`);
    this.name = 'H2FrameError';
  }
}

export class FrameReader {
  /** frames seen, by type (index = type; 10 = unknown types) */
  readonly counts = new Array<number>(11).fill(0);
  private readonly hdr = Buffer.alloc(9);
  private hdrFill = 0;
  private len = 0;
  private type = 0;
  private flags = 0;
  private stream = 0;
  /** payload bytes of the current frame consumed */
  private pos = 0;
  private startT = 0;
  /** DATA: pad length (-1 until read) */
  private pad = 0;
  /** buffered payload of a non-DATA frame that spans segments */
  private buf: Buffer | null = null;

  constructor(private readonly sink: FrameSink) {}

  /** In-order bytes `b[off .. off+len)` of the packet at time `t`. Throws {@link H2FrameError}. */
  feed(b: Uint8Array, off: number, len: number, t: number): void {
    const end = off + len;
    let o = off;
    while (o < end) {
      if (this.hdrFill < 9) {
        if (this.hdrFill === 0) this.startT = t;
        // fast path: a whole header in this segment
        if (this.hdrFill === 0 && end - o >= 9) {
          this.startFrame(b, o);
          o += 9;
        } else {
          this.hdr[this.hdrFill++] = b[o++]!;
          if (this.hdrFill < 9) continue;
          this.startFrame(this.hdr, 0);
        }
        if (this.len === 0) {
          this.finishFrame(b, o, 0, t);
          continue;
        }
        if (o === end) break;
      }
      const n = Math.min(this.len - this.pos, end - o);
      if (this.type === FrameType.DATA) this.dataBytes(b, o, n, t);
      else if (this.buf !== null) this.buf.set(b.subarray(o, o + n), this.pos);
      else if (n === this.len) {
        // the whole payload is in this segment: no copy
        this.pos = n;
        this.finishFrame(b, o, n, t);
        o += n;
        continue;
      } else {
        this.buf = Buffer.allocUnsafe(this.len);
        this.buf.set(b.subarray(o, o + n), 0);
      }
      this.pos += n;
      o += n;
      if (this.pos === this.len) this.finishFrame(this.buf ?? b, 0, this.len, t);
    }
  }

  private startFrame(h: Uint8Array, o: number): void {
    this.len = (h[o]! << 16) | (h[o + 1]! << 8) | h[o + 2]!;
    this.type = h[o + 3]!;
    this.flags = h[o + 4]!;
    this.stream = ((h[o + 5]! & 0x7f) << 24) | (h[o + 6]! << 16) | (h[o + 7]! << 8) | h[o + 8]!;
    this.hdrFill = 9;
    this.pos = 0;
    this.pad = this.type === FrameType.DATA && (this.flags & FrameFlag.PADDED) !== 0 ? -1 : 0;
    this.counts[this.type < 10 ? this.type : 10]!++;
    if (this.type !== FrameType.DATA && this.len > MAX_CONTROL_FRAME) throw new H2FrameError(`frame of type ${this.type} with ${this.len} bytes (more than ${MAX_CONTROL_FRAME} kept)`);
  }

  private dataBytes(b: Uint8Array, o: number, n: number, t: number): void {
    let s = o;
    let pos = this.pos;
    const e = o + n;
    if (this.pad < 0 && s < e) {
      this.pad = b[s]!;
      if (this.pad >= this.len) throw new H2FrameError(`DATA padding ${this.pad} not below frame length ${this.len}`);
      s++;
      pos++;
    }
    // data occupies payload positions [1 or 0, len - pad)
    const dataEnd = this.len - Math.max(this.pad, 0);
    const take = Math.min(e - s, dataEnd - pos);
    if (take > 0) this.sink.data(this.stream, b, s, take, t);
  }

  private finishFrame(p: Uint8Array, off: number, len: number, t: number): void {
    const type = this.type;
    this.hdrFill = 0;
    this.buf = null;
    if (type === FrameType.DATA) this.sink.dataEnd(this.stream, this.flags, t);
    else this.sink.frame(type, this.flags, this.stream, p, off, len, this.startT);
  }
}
