/**
 * gRPC over HTTP/2 (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md): recognising a
 * call, service and method from `:path`, status codes by name, and counting the length-prefixed
 * messages of one direction of a call. Pure.
 */

/** grpc-status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GRPC_STATUS_NAMES: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** `OK`, `NOT_FOUND`, ... or the number for codes outside the list. */
export function grpcStatusName(code: number): string {
  return GRPC_STATUS_NAMES[code] ?? String(code);
}

/** A request is a gRPC call when its content-type is application/grpc or application/grpc+FORMAT. */
export function isGrpcContentType(ct: string | null): boolean {
  return ct !== null && (ct === 'application/grpc' || ct.startsWith('application/grpc+') || ct.startsWith('application/grpc;'));
}

/** `/package.Service/Method` -> service and method; a path of another shape keeps the whole path as service. */
export function splitGrpcPath(path: string): { service: string; method: string } {
  const i = path.lastIndexOf('/');
  if (path.startsWith('/') && i > 0) return { service: path.slice(1, i), method: path.slice(i + 1) };
  return { service: path, method: '' };
}

/** grpc-message is percent-encoded (PROTOCOL-HTTP2.md); undo it, keeping malformed escapes as they are. */
export function decodeGrpcMessage(v: string): string {
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/**
 * Counts the messages of one direction of a call: each is a 1-byte compressed flag, a 4-byte
 * big-endian length and the message. Fed the DATA bytes of the stream in order.
 */
export class GrpcMessageCounter {
  /** complete messages */
  messages = 0;
  /** complete messages with the compressed flag set */
  compressed = 0;
  /** header bytes read of the current message prefix (0..5) */
  private hdr = 0;
  private flag = 0;
  private msgLen = 0;
  /** message bytes still to come */
  private remaining = 0;

  feed(b: Uint8Array, off: number, len: number): void {
    let o = off;
    const end = off + len;
    while (o < end) {
      if (this.hdr < 5) {
        const c = b[o++]!;
        if (this.hdr === 0) {
          this.flag = c;
          this.msgLen = 0;
        } else this.msgLen = this.msgLen * 256 + c;
        this.hdr++;
        if (this.hdr === 5) {
          this.remaining = this.msgLen;
          if (this.remaining === 0) this.complete();
        }
        continue;
      }
      const n = Math.min(this.remaining, end - o);
      o += n;
      this.remaining -= n;
      if (this.remaining === 0) this.complete();
    }
  }

  /** True when the bytes so far end inside a message. */
  get partial(): boolean {
    return this.hdr > 0;
  }

  private complete(): void {
    this.messages++;
    if (this.flag & 1) this.compressed++;
    this.hdr = 0;
  }
}
