/**
 * HTTP/1.x start-line recognition on the first bytes of a TCP segment (no reassembly): a request
 * line `METHOD SP target SP HTTP/1.x` or a status line `HTTP/1.x SP code`. Pure and bounded
 * (looks at most at the first 4 KiB).
 */

const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
const FIRST = new Set(METHODS.map((m) => m.charCodeAt(0)));

export interface HttpRequestLine {
  method: string;
  path: string;
}

/** Request line at `b[o .. o+len)`, or undefined. */
export function parseHttpRequest(b: Uint8Array, o: number, len: number): HttpRequestLine | undefined {
  if (len < 14 || !FIRST.has(b[o]!)) return undefined;
  const max = Math.min(len, 4096);
  let sp = -1;
  for (let i = 0; i < 8 && i < max; i++) {
    if (b[o + i] === 0x20) {
      sp = i;
      break;
    }
  }
  if (sp < 3) return undefined;
  let method = '';
  for (let i = 0; i < sp; i++) method += String.fromCharCode(b[o + i]!);
  if (!METHODS.includes(method)) return undefined;
  let eol = -1;
  for (let i = sp + 1; i < max; i++) {
    if (b[o + i] === 0x0d || b[o + i] === 0x0a) {
      eol = i;
      break;
    }
  }
  const lineEnd = eol < 0 ? max : eol;
  let sp2 = -1;
  for (let i = lineEnd - 1; i > sp; i--) {
    if (b[o + i] === 0x20) {
      sp2 = i;
      break;
    }
  }
  if (sp2 < 0) return undefined;
  // version must be HTTP/1.x
  if (lineEnd - sp2 - 1 < 8 || b[o + sp2 + 1] !== 0x48 || b[o + sp2 + 5] !== 0x2f || b[o + sp2 + 6] !== 0x31) return undefined;
  const path = Buffer.from(b.buffer, b.byteOffset + o + sp + 1, Math.min(sp2 - sp - 1, 512)).toString('latin1');
  return { method, path };
}

/** Status code of a status line at `b[o .. o+len)`, or -1. */
export function parseHttpStatus(b: Uint8Array, o: number, len: number): number {
  // "HTTP/1.x NNN"
  if (len < 12) return -1;
  if (b[o] !== 0x48 || b[o + 1] !== 0x54 || b[o + 2] !== 0x54 || b[o + 3] !== 0x50 || b[o + 4] !== 0x2f || b[o + 5] !== 0x31 || b[o + 6] !== 0x2e || b[o + 8] !== 0x20) return -1;
  const d0 = b[o + 9]! - 48;
  const d1 = b[o + 10]! - 48;
  const d2 = b[o + 11]! - 48;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return -1;
  return d0 * 100 + d1 * 10 + d2;
}
