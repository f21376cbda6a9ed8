/**
 * HPACK header decompression (RFC 7541): integers with an N-bit prefix, string literals (plain or
 * Huffman-coded), the static table, the dynamic table with size updates and eviction. Pure: a
 * {@link HpackDecoder} holds the dynamic table of one direction of one connection and decodes
 * header blocks in the order the connection sent them.
 *
 * Written here rather than taken from npm: the maintained HPACK code on npm lives inside HTTP/2
 * client stacks (node's own is native, inside nghttp2) and none exposes a passive decoder; the
 * decoder is about 200 lines and is checked against every example of RFC 7541 Appendix C.
 * Header names and values are decoded as latin1 (one character per octet), so string lengths are
 * the octet counts the table sizes are defined in.
 */

/** A header block could not be decoded (the connection's HPACK state is lost from here on). */
export class HpackError extends Error {
  constructor(message: string) {
    super(`HPACK: ${message}`);
    this.name = 'HpackError';
  }
}

/** RFC 7541 Appendix A. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * Huffman code lengths of symbols 0..256 (256 = EOS) from RFC 7541 Appendix B, one character each
 * (length + 48). The code is canonical (codes assigned in order of length, then symbol), so the
 * codes themselves follow from the lengths; hpack.test.ts checks sample codes against the RFC.
 */
const HUFFMAN_LENGTHS =
  '=GLLLLLLLHNLLNLLLLLLLLNLLLLLLLLL6::<=68;::8;8666555666666678?6<:=67777777777777777777777878=C=>6?56565666577666567655677777?;>=LDFDDFFFGFGGGGGHGHHFGHGGGGEFGFGGHFEDFFGGEGFFHEFGGEEFEGFGGDFFFGFFGJJDCFGFIJJJKKJHICEJKKJKHEEJJLKKKDHDEFEEGFFIIHHJGJKJJKKKKKLKKKKKJN';
const EOS = 256;
const MAX_CODE_LEN = 30;

/** Canonical decoding tables: per length, the first code, how many codes, and where their symbols start in SORTED. */
const FIRST_CODE = new Int32Array(MAX_CODE_LEN + 2);
const COUNT = new Int32Array(MAX_CODE_LEN + 2);
const SYM_START = new Int32Array(MAX_CODE_LEN + 2);
const SORTED = new Uint16Array(257);
/** codes per symbol (for tests and for checking the table) */
export const HUFFMAN_CODES = new Uint32Array(257);
(() => {
  const lens: number[] = [];
  for (let s = 0; s < 257; s++) lens.push(HUFFMAN_LENGTHS.charCodeAt(s) - 48);
  const order = [...lens.keys()].sort((x, y) => lens[x]! - lens[y]! || x - y);
  let code = 0;
  let prev = lens[order[0]!]!;
  order.forEach((s, i) => {
    const l = lens[s]!;
    if (i > 0) code = (code + 1) * 2 ** (l - prev);
    prev = l;
    HUFFMAN_CODES[s] = code;
    SORTED[i] = s;
    if (COUNT[l] === 0) {
      FIRST_CODE[l] = code;
      SYM_START[l] = i;
    }
    COUNT[l]!++;
  });
})();

/** Decodes a Huffman-coded string at `b[o .. o+len)` (RFC 7541 section 5.2) as latin1. */
export function huffmanDecode(b: Uint8Array, o: number, len: number): string {
  let out = '';
  let code = 0;
  let bits = 0;
  for (let i = o; i < o + len; i++) {
    const byte = b[i]!;
    for (let k = 7; k >= 0; k--) {
      code = code * 2 + ((byte >> k) & 1);
      bits++;
      const idx = code - FIRST_CODE[bits]!;
      if (COUNT[bits]! > 0 && idx >= 0 && idx < COUNT[bits]!) {
        const sym = SORTED[SYM_START[bits]! + idx]!;
        if (sym === EOS) throw new HpackError('Huffman string contains EOS');
        out += String.fromCharCode(sym);
        code = 0;
        bits = 0;
      } else if (bits > MAX_CODE_LEN) throw new HpackError('invalid Huffman code');
    }
  }
  // padding: fewer than 8 bits, all ones (the most significant bits of EOS)
  if (bits > 7) throw new HpackError('Huffman padding longer than 7 bits');
  if (code !== 2 ** bits - 1) throw new HpackError('Huffman padding is not all ones');
  return out;
}

/** A decoded header field. */
export type HeaderField = readonly [name: string, value: string];

/** Cursor over one header block. */
class Cursor {
  constructor(
    readonly b: Uint8Array,
    public o: number,
    readonly end: number,
  ) {}

  /** Integer with an N-bit prefix (RFC 7541 section 5.1); the first octet is at `o`. */
  int(prefixBits: number): number {
    if (this.o >= this.end) throw new HpackError('header block ends inside an integer');
    const max = (1 << prefixBits) - 1;
    let v = this.b[this.o++]! & max;
    if (v < max) return v;
    let m = 0;
    for (;;) {
      if (this.o >= this.end) throw new HpackError('header block ends inside an integer');
      const c = this.b[this.o++]!;
      v += (c & 0x7f) * 2 ** m;
      m += 7;
      if ((c & 0x80) === 0) break;
      if (m > 28) throw new HpackError('integer too large');
    }
    return v;
  }

  str(): string {
    if (this.o >= this.end) throw new HpackError('header block ends before a string');
    const huffman = (this.b[this.o]! & 0x80) !== 0;
    const len = this.int(7);
    if (this.o + len > this.end) throw new HpackError('string longer than the header block');
    const s = huffman ? huffmanDecode(this.b, this.o, len) : latin1(this.b, this.o, len);
    this.o += len;
    return s;
  }
}

function latin1(b: Uint8Array, o: number, len: number): string {
  return Buffer.from(b.buffer, b.byteOffset + o, len).toString('latin1');
}

/** Decoder state of one direction of a connection (its dynamic table). */
export class HpackDecoder {
  /** newest first */
  private readonly table: HeaderField[] = [];
  private size = 0;
  private maxSize: number;

  /**
   * `maxTableSize`: the largest table a size update may ask for (the receiver's
   * SETTINGS_HEADER_TABLE_SIZE, 4096 by default). A passive observer does not enforce it strictly:
   * see {@link setLimit}.
   */
  constructor(private limit = 4096) {
    this.maxSize = limit;
  }

  /** The receiver announced SETTINGS_HEADER_TABLE_SIZE. */
  setLimit(n: number): void {
    this.limit = Math.max(this.limit, n);
  }

  /** Current dynamic table size in octets (RFC 7541 section 4.1). */
  get tableSize(): number {
    return this.size;
  }

  /** Dynamic table entries, newest first (for tests). */
  entries(): readonly HeaderField[] {
    return this.table;
  }

  /** Decodes one complete header block. Throws {@link HpackError}; the state is then unusable. */
  decode(b: Uint8Array, o = 0, len = b.length - o): HeaderField[] {
    const c = new Cursor(b, o, o + len);
    const out: HeaderField[] = [];
    while (c.o < c.end) {
      const first = b[c.o]!;
      if (first & 0x80) {
        const i = c.int(7);
        out.push(this.get(i));
      } else if (first & 0x40) {
        const f = this.literal(c, 6);
        this.insert(f);
        out.push(f);
      } else if (first & 0x20) {
        const n = c.int(5);
        if (n > this.limit) throw new HpackError(`dynamic table size update to ${n} above the limit ${this.limit}`);
        this.maxSize = n;
        this.evict(0);
      } else {
        out.push(this.literal(c, 4));
      }
    }
    return out;
  }

  private literal(c: Cursor, prefix: number): HeaderField {
    const i = c.int(prefix);
    const name = i === 0 ? c.str() : this.get(i)[0];
    return [name, c.str()];
  }

  private get(i: number): HeaderField {
    if (i === 0) throw new HpackError('index 0');
    if (i <= STATIC.length) return STATIC[i - 1]!;
    const f = this.table[i - STATIC.length - 1];
    if (f === undefined) throw new HpackError(`index ${i} beyond the tables (dynamic table has ${this.table.length} entries)`);
    return f;
  }

  private insert(f: HeaderField): void {
    const n = f[0].length + f[1].length + 32;
    this.evict(n);
    if (n > this.maxSize) return; // larger than the table: the table is emptied, nothing added
    this.table.unshift(f);
    this.size += n;
  }

  private evict(incoming: number): void {
    while (this.table.length > 0 && this.size + incoming > this.maxSize) {
      const f = this.table.pop()!;
      this.size -= f[0].length + f[1].length + 32;
    }
  }
}
