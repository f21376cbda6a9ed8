// Raw mode: the packets of one target cut into Kafka messages of pcapng blocks, and the consumer-side
// rebuild. Pure.
//
// Every message is a readable pcapng file on its own: it starts with the section's SHB and every IDB seen
// so far (the "prefix"), then whole blocks (EPBs, and any other block, in their original order), at most
// maxBytes in all. Two message headers let a consumer put the original stream back together byte for byte:
//   pcapng-seq   the message's number in its target's stream, from 0 (duplicates of an at-least-once
//                retry share it);
//   pcapng-skip  how many leading bytes are a repeated prefix (0 when the prefix is the stream's own
//                bytes: the first message of a section).
// rebuildPcapng() orders by seq, drops duplicates, and concatenates each value after its skip.

export const SHB = 0x0a0d0d0a;
export const IDB = 0x00000001;
const BOM = 0x1a2b3c4d;

export class PcapngFormatError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PcapngFormatError';
  }
}

/** Splits a pcapng byte stream into whole blocks (views into buf). Throws PcapngFormatError on a bad or cut block. */
export function splitPcapngBlocks(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let le = true;
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 12) throw new PcapngFormatError(`truncated block header at offset ${off}`);
    const type = buf.readUInt32LE(off);
    if (type === SHB) {
      const bom = buf.readUInt32LE(off + 8);
      if (bom === BOM) le = true;
      else if (buf.readUInt32BE(off + 8) === BOM) le = false;
      else throw new PcapngFormatError(`section header at offset ${off} has no byte-order magic`);
    } else if (off === 0) {
      throw new PcapngFormatError('not a pcapng stream: it does not start with a Section Header Block');
    }
    const len = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
    if (len < 12 || len % 4 !== 0) throw new PcapngFormatError(`block at offset ${off} has a bad length ${len}`);
    if (off + len > buf.length) throw new PcapngFormatError(`block at offset ${off} (${len} bytes) runs past the end (${buf.length})`);
    out.push(buf.subarray(off, off + len));
    off += len;
  }
  return out;
}

function blockType(block: Buffer): number {
  const t = block.readUInt32LE(0);
  if (t === SHB) return SHB;
  // Non-SHB block types are in the section's byte order; IDB is 1 in either.
  return t === IDB || block.readUInt32BE(0) === IDB ? IDB : t;
}

export interface PcapngMessage {
  readonly seq: number;
  readonly skip: number;
  readonly value: Buffer;
}

export type CutResult = { readonly messages: PcapngMessage[]; readonly oversize?: number };

/**
 * Cuts one target's stream of pcapng blocks into messages of at most maxBytes. push() returns the
 * messages completed by that block; flush() the one in progress. A block too large to fit in any message
 * (with the prefix) is not sent: `oversize` gives its length so the caller counts it as lost.
 */
export class PcapngMessageCutter {
  private prefix: Buffer[] = [];
  private prefixLen = 0;
  /** The message in progress: its own leading bytes are original (skip 0) until it has a body. */
  private sectionStart = false;
  private body: Buffer[] = [];
  private bodyLen = 0;
  private skip = 0;
  private seq = 0;

  constructor(readonly maxBytes: number) {}

  push(block: Buffer): CutResult {
    const type = blockType(block);
    const messages: PcapngMessage[] = [];
    if (type === SHB) {
      const m = this.flush();
      if (m) messages.push(m);
      this.prefix = [block];
      this.prefixLen = block.length;
      this.sectionStart = true;
      this.skip = 0;
      return { messages };
    }
    if (this.prefix.length === 0) throw new PcapngFormatError('a block came before any Section Header Block');
    if (type === IDB && this.sectionStart && this.bodyLen === 0) {
      this.prefix.push(block);
      this.prefixLen += block.length;
      return { messages };
    }
    if (this.prefixLen + block.length > this.maxBytes) return { messages, oversize: block.length };
    if (this.bodyLen > 0 && this.prefixLen + this.bodyLen + block.length > this.maxBytes) {
      const m = this.flush();
      if (m) messages.push(m);
    }
    // A late IDB: goes out in its place, and into the prefix of the messages after this one.
    const laterPrefix = type === IDB ? [...(this.pendingPrefix ?? this.prefix), block] : undefined;
    if (this.bodyLen === 0 && !this.sectionStart) this.skip = this.prefixLen;
    this.body.push(block);
    this.bodyLen += block.length;
    if (laterPrefix) this.pendingPrefix = laterPrefix;
    return { messages };
  }

  private pendingPrefix: Buffer[] | undefined;

  flush(): PcapngMessage | undefined {
    // Nothing new since the last message (a section's own SHB+IDBs are new until sent once).
    if (this.bodyLen === 0 && !(this.sectionStart && this.prefix.length > 0)) return undefined;
    const value = Buffer.concat([...this.prefix, ...this.body], this.prefixLen + this.bodyLen);
    const m: PcapngMessage = { seq: this.seq++, skip: this.sectionStart ? 0 : this.skip, value };
    if (this.pendingPrefix) {
      this.prefix = this.pendingPrefix;
      this.prefixLen = this.prefix.reduce((n, b) => n + b.length, 0);
      this.pendingPrefix = undefined;
    }
    this.body = [];
    this.bodyLen = 0;
    this.sectionStart = false;
    this.skip = this.prefixLen;
    return m;
  }
}

export interface RawMessageIn {
  readonly value: Buffer;
  readonly seq: number;
  readonly skip: number;
}

export interface Rebuilt {
  readonly pcapng: Buffer;
  /** Sequence numbers never received (lost): the file is then not byte-identical, but still valid. */
  readonly missing: readonly number[];
  /** Messages received more than once (at-least-once delivery), ignored. */
  readonly duplicates: number;
}

/** Headers as Kafka carries them, to the numbers rebuildPcapng needs. */
export function rawMessageFrom(value: Buffer, headers: ReadonlyMap<string, string> | Readonly<Record<string, string>>): RawMessageIn {
  const isMap = (h: typeof headers): h is ReadonlyMap<string, string> => h instanceof Map;
  const get = (k: string): string | undefined => (isMap(headers) ? headers.get(k) : headers[k]);
  const seq = Number(get('pcapng-seq'));
  const skip = Number(get('pcapng-skip'));
  if (!Number.isInteger(seq) || !Number.isInteger(skip) || skip < 0 || skip > value.length) {
    throw new PcapngFormatError(`raw message without valid pcapng-seq/pcapng-skip headers (seq=${get('pcapng-seq')}, skip=${get('pcapng-skip')})`);
  }
  return { value, seq, skip };
}

/**
 * Rebuilds one target's pcapng stream from its messages (any order, duplicates allowed). With no message
 * missing the result is byte-identical to the stream the agent cut. After a gap, the next message is
 * kept whole (its repeated SHB and IDBs start a new section), so the file stays readable.
 */
export function rebuildPcapng(messages: readonly RawMessageIn[]): Rebuilt {
  const bySeq = new Map<number, RawMessageIn>();
  let duplicates = 0;
  for (const m of messages) {
    if (bySeq.has(m.seq)) duplicates++;
    else bySeq.set(m.seq, m);
  }
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  const missing: number[] = [];
  const parts: Buffer[] = [];
  let expect = 0;
  for (const s of seqs) {
    const m = bySeq.get(s)!;
    const gap = s !== expect;
    for (let g = expect; g < s; g++) missing.push(g);
    parts.push(gap ? m.value : m.value.subarray(m.skip));
    expect = s + 1;
  }
  return { pcapng: Buffer.concat(parts), missing, duplicates };
}
