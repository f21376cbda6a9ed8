/**
 * Incremental parser of a classic pcap byte stream (as the agents' live streams send it: a 24-byte
 * global header, then records) — pure, fed chunk by chunk, any split. Both byte orders, micro- and
 * nanosecond timestamps.
 */
export interface PcapStreamHeader {
  linkType: number;
  snapLength: number;
  nanos: boolean;
  littleEndian: boolean;
}

export interface PcapStreamPacket {
  tsSec: number;
  tsNsec: number;
  data: Buffer;
  origLen: number;
}

export class PcapStreamError extends Error {
  override readonly name = 'PcapStreamError';
}

const MAX_RECORD = 256 * 1024;

export class PcapStreamParser {
  header: PcapStreamHeader | undefined;
  private buf: Buffer = Buffer.alloc(0);

  /** Feeds a chunk; returns the complete packets it finished. */
  push(chunk: Buffer): PcapStreamPacket[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: PcapStreamPacket[] = [];
    let o = 0;
    if (!this.header) {
      if (this.buf.length < 24) return out;
      const magicLe = this.buf.readUInt32LE(0);
      let le: boolean;
      let nanos: boolean;
      if (magicLe === 0xa1b2c3d4) [le, nanos] = [true, false];
      else if (magicLe === 0xa1b23c4d) [le, nanos] = [true, true];
      else if (magicLe === 0xd4c3b2a1) [le, nanos] = [false, false];
      else if (magicLe === 0x4d3cb2a1) [le, nanos] = [false, true];
      else throw new PcapStreamError(`not a pcap stream (magic 0x${magicLe.toString(16)})`);
      const u32 = (at: number): number => (le ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at));
      this.header = { littleEndian: le, nanos, snapLength: u32(16), linkType: u32(20) & 0x0fffffff };
      o = 24;
    }
    const le = this.header.littleEndian;
    while (this.buf.length - o >= 16) {
      const u32 = (at: number): number => (le ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at));
      const incl = u32(o + 8);
      if (incl > MAX_RECORD) throw new PcapStreamError(`record of ${incl} bytes is too large`);
      if (this.buf.length - o - 16 < incl) break;
      const frac = u32(o + 4);
      out.push({
        tsSec: u32(o),
        tsNsec: this.header.nanos ? frac : frac * 1000,
        origLen: u32(o + 12),
        data: Buffer.from(this.buf.subarray(o + 16, o + 16 + incl)),
      });
      o += 16 + incl;
    }
    this.buf = this.buf.subarray(o);
    return out;
  }

  /** Bytes of an incomplete record still buffered. */
  get pending(): number {
    return this.buf.length;
  }
}
