/**
 * One HTTP/2 cleartext (h2c) connection seen passively, fed the in-order bytes of each direction
 * (from {@link ReassemblyDirection}). Pure; completed request/response exchanges (streams) go to a
 * callback as {@link H2Transaction}s.
 *
 * Recognition, on any port (no port list):
 * - prior knowledge: a direction starts with the connection preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`
 *   (that side is the client; the server may have sent its SETTINGS first: those bytes wait);
 * - Upgrade: an HTTP/1.1 request with `Upgrade: h2c` answered by `101 Switching Protocols`; the
 *   request becomes stream 1 (RFC 7540 section 3.2), its response comes as HTTP/2 frames.
 * Anything else is not HTTP/2 and costs nothing more. The start of the connection must be in the
 * capture (HPACK state cannot be recovered mid-connection).
 *
 * Streams: request pseudo-headers (:method, :path, :authority, :scheme), content-type, response
 * :status, trailers (grpc-status, grpc-message), END_STREAM, RST_STREAM, GOAWAY; gRPC calls
 * (content-type application/grpc*) count their length-prefixed messages per direction. Latency is
 * from the packet carrying the first byte of the request's HEADERS frame to the packet carrying the
 * end of the response (END_STREAM from the server).
 */
import { GrpcMessageCounter, decodeGrpcMessage, isGrpcContentType, splitGrpcPath } from '../grpc/grpc.js';
import { FrameFlag, FrameReader, FrameType, H2FrameError, type FrameSink } from './frames.js';
import { HpackDecoder, HpackError, type HeaderField } from './hpack.js';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Bytes kept per direction while deciding whether a connection is HTTP/2. */
const MAX_SNIFF = 16 * 1024;
/** Open streams kept per connection (more are counted in `droppedStreams`). */
const MAX_OPEN_STREAMS = 4096;
const MAX_HEADER_BLOCK = 256 * 1024;

/** How a stream ended. */
export type H2End = 'complete' | 'reset' | 'goaway' | 'incomplete' | 'gap' | 'undecodable';

export interface GrpcCall {
  service: string;
  method: string;
  /** grpc-status from the trailers (or a trailers-only response); null when none was seen */
  status: number | null;
  message: string | null;
  requestMessages: number;
  responseMessages: number;
  /** messages (both directions) with the compressed flag */
  compressedMessages: number;
}

/** One HTTP/2 stream (request and response) as observed. */
export interface H2Transaction {
  streamId: number;
  /** stream 1 of a connection upgraded from HTTP/1.1 (its request was an HTTP/1.1 message) */
  upgraded: boolean;
  method: string;
  path: string;
  authority: string;
  scheme: string;
  /** request content-type */
  contentType: string | null;
  /** response :status, null when no response headers were seen */
  status: number | null;
  /** DATA payload bytes (padding excluded) */
  requestBytes: number;
  responseBytes: number;
  /** seconds since the epoch: the packet carrying the first byte of the request */
  startTime: number;
  /** the packet carrying the end of the response, or the reset; null when the stream did not end */
  endTime: number | null;
  /** endTime - startTime for complete streams, in milliseconds */
  latencyMs: number | null;
  end: H2End;
  /** RST_STREAM error code, and who sent it */
  resetCode: number | null;
  resetBy: 'client' | 'server' | null;
  grpc: GrpcCall | null;
}

type Mode = 'sniff' | 'upgrade' | 'h2' | 'not-h2' | 'broken';

interface Stream {
  tx: H2Transaction;
  requestEnded: boolean;
  responseEnded: boolean;
  responseHeaders: boolean;
  reqMsgs: GrpcMessageCounter | null;
  respMsgs: GrpcMessageCounter | null;
  /** the server answered a stream whose request was never seen (client bytes missing) */
  requestMissing: boolean;
}

const METHOD_START = /^[A-Z]{3,10} /;

function headerValue(fields: readonly HeaderField[], name: string): string | null {
  for (const [n, v] of fields) if (n === name) return v;
  return null;
}

/** Both directions of one connection; `dir` 0 is A->B of the conversation, 1 is B->A. */
export class H2Connection {
  mode: Mode = 'sniff';
  /** why the connection was given up (mode 'broken') */
  problem = '';
  /** which direction is the client (-1 until known) */
  client = -1;
  upgraded = false;
  droppedStreams = 0;
  private readonly sniff: (Buffer | null)[] = [null, null];
  private readonly readers: (FrameReader | null)[] = [null, null];
  private readonly hpack = [new HpackDecoder(), new HpackDecoder()];
  private readonly streams = new Map<number, Stream>();
  /** header block being assembled per direction (HEADERS/PUSH_PROMISE + CONTINUATION) */
  private readonly block: ({ stream: number; flags: number; parts: Buffer[]; size: number; t: number; promised: number } | null)[] = [null, null];
  /** Upgrade: server side waits for the end of its 101 response; client side for the end of the request body and the preface */
  private upgradeServerPending = false;
  private upgradeClientSkip = 0;
  private upgradeClientPreface = false;

  constructor(private readonly emit: (tx: H2Transaction) => void) {}

  /** True once the connection is known not to be HTTP/2 (or broken): feeding it more is pointless. */
  get done(): boolean {
    return this.mode === 'not-h2' || this.mode === 'broken';
  }

  /** In-order bytes of direction `dir` from the packet at time `t`. */
  onData(dir: number, b: Uint8Array, off: number, len: number, t: number): void {
    if (this.done || len <= 0) return;
    try {
      const r = this.readers[dir] ?? null;
      if (this.mode === 'h2' && r !== null) r.feed(b, off, len, t);
      else this.buffered(dir, b, off, len, t);
    } catch (err) {
      if (err instanceof HpackError || err instanceof H2FrameError) this.breakConnection('undecodable', err.message, t);
      else throw err;
    }
  }

  /** Bytes are missing in direction `dir` for good: streams still open end as 'gap'. */
  onGap(dir: number, t: number): void {
    if (this.mode === 'h2' || this.mode === 'upgrade') this.breakConnection('gap', `bytes missing in the ${dir === this.client ? 'client' : 'server'} direction`, t);
    else this.mode = 'not-h2';
  }

  /** End of the capture (or connection): streams still open are reported as incomplete. */
  finish(): void {
    for (const s of this.streams.values()) this.close(s, 'incomplete', null);
    this.streams.clear();
  }

  private breakConnection(end: H2End, why: string, _t: number): void {
    this.mode = 'broken';
    this.problem = why;
    for (const s of this.streams.values()) this.close(s, end, null);
    this.streams.clear();
    this.sniff[0] = this.sniff[1] = null;
    this.readers[0] = this.readers[1] = null;
  }

  // ---- recognition -------------------------------------------------------------------------

  private buffered(dir: number, b: Uint8Array, off: number, len: number, t: number): void {
    const prev = this.sniff[dir] ?? null;
    const chunk = Buffer.from(b.buffer, b.byteOffset + off, len);
    const buf = prev === null ? chunk : Buffer.concat([prev, chunk]);
    if (this.mode === 'upgrade') {
      this.sniff[dir] = Buffer.from(buf);
      this.advanceUpgrade(t);
      return;
    }
    // mode 'sniff'
    if (buf.length >= PREFACE.length ? buf.subarray(0, PREFACE.length).equals(PREFACE) : PREFACE.subarray(0, buf.length).equals(buf)) {
      if (buf.length < PREFACE.length) {
        this.sniff[dir] = Buffer.from(buf);
        return;
      }
      this.client = dir;
      this.startFrames(t, buf.subarray(PREFACE.length), dir);
      return;
    }
    const head = buf.subarray(0, 12).toString('latin1');
    if (METHOD_START.test(head)) {
      const endOfHeaders = buf.indexOf('\r\n\r\n');
      if (endOfHeaders < 0) {
        if (buf.length > MAX_SNIFF) this.mode = 'not-h2';
        else this.sniff[dir] = Buffer.from(buf);
        return;
      }
      const text = buf.subarray(0, endOfHeaders).toString('latin1');
      const lines = text.split('\r\n');
      const [method = '', target = ''] = (lines[0] ?? '').split(' ');
      const hdr = (name: string) => {
        for (const l of lines) {
          const i = l.indexOf(':');
          if (i > 0 && l.slice(0, i).trim().toLowerCase() === name) return l.slice(i + 1).trim();
        }
        return null;
      };
      const upgrade = hdr('upgrade');
      if (upgrade === null || !upgrade.toLowerCase().split(/\s*,\s*/).includes('h2c')) {
        this.mode = 'not-h2';
        this.sniff[0] = this.sniff[1] = null;
        return;
      }
      this.client = dir;
      this.mode = 'upgrade';
      this.upgraded = true;
      const cl = Number(hdr('content-length') ?? '0');
      this.upgradeClientSkip = Number.isFinite(cl) && cl > 0 ? cl : 0;
      this.upgradeClientPreface = true;
      this.upgradeServerPending = true;
      const s = this.newStream(1, t);
      if (s !== null) {
        s.tx.upgraded = true;
        s.tx.method = method;
        s.tx.path = target;
        s.tx.authority = hdr('host') ?? '';
        s.tx.scheme = 'http';
        s.tx.contentType = hdr('content-type');
        s.tx.requestBytes = this.upgradeClientSkip;
        s.requestEnded = true;
      }
      this.sniff[dir] = Buffer.from(buf.subarray(endOfHeaders + 4));
      this.advanceUpgrade(t);
      return;
    }
    // the server may speak first (its SETTINGS) before the client's preface is seen
    if (this.client < 0 && buf.length >= 9 && buf[3] === FrameType.SETTINGS && buf[5] === 0 && buf[6] === 0 && buf[7] === 0 && buf[8] === 0 && buf.length <= MAX_SNIFF) {
      this.sniff[dir] = Buffer.from(buf);
      return;
    }
    if (buf.length < 9 && buf.length < 24 && this.client < 0 && buf[0] === 0 && prev === null) {
      // too short to tell (a frame header split across segments)
      this.sniff[dir] = Buffer.from(buf);
      return;
    }
    this.mode = 'not-h2';
    this.sniff[0] = this.sniff[1] = null;
  }

  private advanceUpgrade(t: number): void {
    const c = this.client;
    const sv = 1 - c;
    // server: "HTTP/1.1 101 ...\r\n...\r\n\r\n" then frames
    const sb = this.sniff[sv] ?? null;
    if (this.upgradeServerPending && sb !== null && sb.length >= 12) {
      const code = sb.subarray(9, 12).toString('latin1');
      if (!sb.subarray(0, 5).equals(Buffer.from('HTTP/'))) return this.notH2();
      if (code !== '101') {
        // the server declined the upgrade: an HTTP/1.1 exchange
        return this.notH2();
      }
      const e = sb.indexOf('\r\n\r\n');
      if (e < 0) {
        if (sb.length > MAX_SNIFF) this.notH2();
        return;
      }
      this.upgradeServerPending = false;
      this.sniff[sv] = Buffer.from(sb.subarray(e + 4));
    }
    // client: request body, then the preface
    let cb = this.sniff[c] ?? null;
    if (cb !== null && this.upgradeClientSkip > 0) {
      const n = Math.min(cb.length, this.upgradeClientSkip);
      this.upgradeClientSkip -= n;
      cb = this.sniff[c] = Buffer.from(cb.subarray(n));
    }
    if (cb !== null && this.upgradeClientSkip === 0 && this.upgradeClientPreface && cb.length >= PREFACE.length) {
      if (!cb.subarray(0, PREFACE.length).equals(PREFACE)) return this.breakConnection('undecodable', 'no connection preface after the h2c upgrade', t);
      this.upgradeClientPreface = false;
      this.sniff[c] = Buffer.from(cb.subarray(PREFACE.length));
    }
    if (!this.upgradeServerPending && !this.upgradeClientPreface) {
      const rest = this.sniff[c] ?? Buffer.alloc(0);
      this.startFrames(t, rest, c);
    }
  }

  private notH2(): void {
    this.mode = 'not-h2';
    this.streams.clear();
    this.sniff[0] = this.sniff[1] = null;
  }

  /** Both directions now carry frames: replay what waited. */
  private startFrames(t: number, clientRest: Uint8Array, c: number): void {
    this.mode = 'h2';
    this.readers[c] = new FrameReader(this.sink(c));
    this.readers[1 - c] = new FrameReader(this.sink(1 - c));
    const serverRest = this.sniff[1 - c] ?? null;
    this.sniff[0] = this.sniff[1] = null;
    const cr = this.readers[c] ?? null;
    if (clientRest.length > 0 && cr !== null) cr.feed(clientRest, 0, clientRest.length, t);
    // the client's frames may have broken the connection (readers dropped)
    const sr = this.readers[1 - c] ?? null;
    if (serverRest !== null && serverRest.length > 0 && sr !== null) sr.feed(serverRest, 0, serverRest.length, t);
  }

  // ---- frames ------------------------------------------------------------------------------

  private sink(dir: number): FrameSink {
    return {
      frame: (type, flags, stream, p, off, len, t) => this.onFrame(dir, type, flags, stream, p, off, len, t),
      data: (stream, b, off, len) => {
        const s = this.streams.get(stream);
        if (s === undefined) return;
        if (dir === this.client) {
          s.tx.requestBytes += len;
          s.reqMsgs?.feed(b, off, len);
        } else {
          s.tx.responseBytes += len;
          s.respMsgs?.feed(b, off, len);
        }
      },
      dataEnd: (stream, flags, t) => {
        if (flags & FrameFlag.END_STREAM) this.endStream(dir, stream, t);
      },
    };
  }

  private onFrame(dir: number, type: number, flags: number, stream: number, p: Uint8Array, off: number, len: number, t: number): void {
    const pending = this.block[dir] ?? null;
    if (pending !== null && type !== FrameType.CONTINUATION) throw new H2FrameError(`frame of type ${type} inside a header block (CONTINUATION expected)`);
    switch (type) {
      case FrameType.HEADERS:
      case FrameType.PUSH_PROMISE: {
        let o = off;
        let e = off + len;
        if (flags & FrameFlag.PADDED) {
          const pad = p[o++]!;
          e -= pad;
        }
        let promised = 0;
        if (type === FrameType.HEADERS && flags & FrameFlag.PRIORITY) o += 5;
        if (type === FrameType.PUSH_PROMISE) {
          promised = ((p[o]! & 0x7f) << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!;
          o += 4;
        }
        if (e < o) throw new H2FrameError('header frame shorter than its padding and fields');
        const frag = Buffer.from(p.buffer, p.byteOffset + o, e - o);
        if (flags & FrameFlag.END_HEADERS) this.headerBlock(dir, type, flags, stream, promised, frag, t);
        else this.block[dir] = { stream, flags: flags | (type === FrameType.PUSH_PROMISE ? 0x100 : 0), parts: [Buffer.from(frag)], size: frag.length, t, promised };
        return;
      }
      case FrameType.CONTINUATION: {
        if (pending === null || pending.stream !== stream) throw new H2FrameError('CONTINUATION without a header block');
        pending.parts.push(Buffer.from(p.subarray(off, off + len)));
        pending.size += len;
        if (pending.size > MAX_HEADER_BLOCK) throw new H2FrameError(`header block larger than ${MAX_HEADER_BLOCK} bytes`);
        if (flags & FrameFlag.END_HEADERS) {
          this.block[dir] = null;
          const push = (pending.flags & 0x100) !== 0;
          this.headerBlock(dir, push ? FrameType.PUSH_PROMISE : FrameType.HEADERS, pending.flags & 0xff, stream, pending.promised, Buffer.concat(pending.parts), pending.t);
        }
        return;
      }
      case FrameType.RST_STREAM: {
        const s = this.streams.get(stream);
        if (s !== undefined && len >= 4) {
          s.tx.resetCode = ((p[off]! << 24) | (p[off + 1]! << 16) | (p[off + 2]! << 8) | p[off + 3]!) >>> 0;
          s.tx.resetBy = dir === this.client ? 'client' : 'server';
          this.close(s, 'reset', t);
        }
        return;
      }
      case FrameType.SETTINGS: {
        if (flags & FrameFlag.ACK) return;
        // SETTINGS_HEADER_TABLE_SIZE sent by `dir` bounds the table of the header blocks it receives
        for (let o = off; o + 6 <= off + len; o += 6) {
          const id = (p[o]! << 8) | p[o + 1]!;
          const v = ((p[o + 2]! << 24) | (p[o + 3]! << 16) | (p[o + 4]! << 8) | p[o + 5]!) >>> 0;
          if (id === 1) this.hpack[1 - dir]!.setLimit(v);
        }
        return;
      }
      case FrameType.GOAWAY: {
        if (len < 8) return;
        const last = ((p[off]! & 0x7f) << 24) | (p[off + 1]! << 16) | (p[off + 2]! << 8) | p[off + 3]!;
        // streams initiated by the receiver above the last id were not processed
        const receiverIsClient = dir !== this.client;
        for (const s of [...this.streams.values()]) {
          const initiatedByClient = s.tx.streamId % 2 === 1;
          if (initiatedByClient === receiverIsClient && s.tx.streamId > last) this.close(s, 'goaway', t);
        }
        return;
      }
      default:
        // PRIORITY, PING, WINDOW_UPDATE and unknown types carry nothing a transaction needs
        return;
    }
  }

  private headerBlock(dir: number, type: number, flags: number, stream: number, promised: number, block: Uint8Array, t: number): void {
    const fields = this.hpack[dir]!.decode(block, 0, block.length);
    if (type === FrameType.PUSH_PROMISE) {
      const s = this.newStream(promised, t);
      if (s !== null) {
        this.requestHeaders(s, fields);
        s.requestEnded = true;
      }
      return;
    }
    const fromClient = dir === this.client;
    let s = this.streams.get(stream);
    if (fromClient) {
      if (s === undefined) {
        const n = this.newStream(stream, t);
        if (n === null) return;
        s = n;
        this.requestHeaders(s, fields);
      } else {
        // request trailers
      }
      if (flags & FrameFlag.END_STREAM) this.endStream(dir, stream, t);
      return;
    }
    if (s === undefined) {
      // a response to a request we never saw: the client's bytes are missing (the capture holds
      // the connection's start, so nothing else explains it); reported as 'gap', not dropped
      if (stream % 2 === 0) return;
      const n = this.newStream(stream, t);
      if (n === null) return;
      s = n;
      s.requestMissing = true;
    }
    const status = headerValue(fields, ':status');
    if (status !== null && !s.responseHeaders) {
      const code = Number(status);
      // 1xx responses are informational: the final response follows
      if (code >= 200 || Number.isNaN(code)) {
        s.responseHeaders = true;
        s.tx.status = Number.isNaN(code) ? null : code;
      }
    }
    if (s.tx.grpc !== null) {
      const gs = headerValue(fields, 'grpc-status');
      if (gs !== null) {
        const n = Number(gs);
        s.tx.grpc.status = Number.isInteger(n) ? n : null;
      }
      const gm = headerValue(fields, 'grpc-message');
      if (gm !== null) s.tx.grpc.message = decodeGrpcMessage(gm);
    }
    if (flags & FrameFlag.END_STREAM) this.endStream(dir, stream, t);
  }

  private requestHeaders(s: Stream, fields: readonly HeaderField[]): void {
    const tx = s.tx;
    for (const [n, v] of fields) {
      if (n === ':method') tx.method = v;
      else if (n === ':path') tx.path = v;
      else if (n === ':authority') tx.authority = v;
      else if (n === ':scheme') tx.scheme = v;
      else if (n === 'content-type') tx.contentType = v;
      else if (n === 'host' && tx.authority === '') tx.authority = v;
    }
    if (isGrpcContentType(tx.contentType)) {
      const { service, method } = splitGrpcPath(tx.path);
      tx.grpc = { service, method, status: null, message: null, requestMessages: 0, responseMessages: 0, compressedMessages: 0 };
      s.reqMsgs = new GrpcMessageCounter();
      s.respMsgs = new GrpcMessageCounter();
    }
  }

  private newStream(id: number, t: number): Stream | null {
    if (this.streams.size >= MAX_OPEN_STREAMS) {
      this.droppedStreams++;
      return null;
    }
    const s: Stream = {
      tx: {
        streamId: id,
        upgraded: false,
        method: '',
        path: '',
        authority: '',
        scheme: '',
        contentType: null,
        status: null,
        requestBytes: 0,
        responseBytes: 0,
        startTime: t,
        endTime: null,
        latencyMs: null,
        end: 'incomplete',
        resetCode: null,
        resetBy: null,
        grpc: null,
      },
      requestEnded: false,
      responseEnded: false,
      responseHeaders: false,
      reqMsgs: null,
      respMsgs: null,
      requestMissing: false,
    };
    this.streams.set(id, s);
    return s;
  }

  private endStream(dir: number, stream: number, t: number): void {
    const s = this.streams.get(stream);
    if (s === undefined) return;
    if (dir === this.client) s.requestEnded = true;
    else s.responseEnded = true;
    if (s.responseEnded && (s.requestEnded || s.tx.upgraded)) this.close(s, 'complete', t);
    else if (s.responseEnded) {
      // the server finished before the client (allowed): the exchange is complete from here
      this.close(s, 'complete', t);
    }
  }

  private close(s: Stream, endIn: H2End, t: number | null): void {
    const tx = s.tx;
    const end = s.requestMissing && endIn === 'complete' ? 'gap' : endIn;
    tx.end = end;
    tx.endTime = t;
    if (end === 'complete' && t !== null) tx.latencyMs = Math.round((t - tx.startTime) * 1e6) / 1e3;
    if (tx.grpc !== null) {
      tx.grpc.requestMessages = s.reqMsgs?.messages ?? 0;
      tx.grpc.responseMessages = s.respMsgs?.messages ?? 0;
      tx.grpc.compressedMessages = (s.reqMsgs?.compressed ?? 0) + (s.respMsgs?.compressed ?? 0);
    }
    this.streams.delete(tx.streamId);
    this.emit(tx);
  }
}
