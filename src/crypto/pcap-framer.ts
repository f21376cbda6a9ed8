// Cuts a classic pcap byte stream (tcpdump -w - into a pipe) into its global header and whole
// records, however the pipe splits the bytes. Pure state machine; the encrypted ring (ring.ts)
// uses it to rotate files only at record boundaries, so every ring file is a valid pcap.

export const PCAP_GLOBAL_HEADER = 24;
export const PCAP_RECORD_HEADER = 16;
/** Larger than any snap length tcpdump accepts (262144): a bigger length means a broken stream. */
export const MAX_PCAP_RECORD = 16 * 1024 * 1024;

export class PcapStreamError extends Error {
  override readonly name = 'PcapStreamError';
}

export interface Framed {
  /** The 24-byte global header, the first time it is complete. */
  readonly header?: Buffer;
  /** Whole records (record header + data), in order. */
  readonly records: Buffer[];
}

export class PcapFramer {
  private pending: Buffer = Buffer.alloc(0);
  private little: boolean | undefined;
  header: Buffer | undefined;

  push(chunk: Buffer): Framed {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let off = 0;
    let header: Buffer | undefined;
    if (this.little === undefined) {
      if (this.pending.length < PCAP_GLOBAL_HEADER) return { records: [] };
      const magic = this.pending.readUInt32BE(0);
      if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) this.little = false;
      else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) this.little = true;
      else if (magic === 0x0a0d0d0a) throw new PcapStreamError('the capture stream is pcapng; the encrypted ring needs classic pcap (tcpdump writes it unless given --pcapng)');
      else throw new PcapStreamError(`the capture stream does not start with a pcap magic number (0x${magic.toString(16).padStart(8, '0')})`);
      header = Buffer.from(this.pending.subarray(0, PCAP_GLOBAL_HEADER));
      this.header = header;
      off = PCAP_GLOBAL_HEADER;
    }
    const records: Buffer[] = [];
    while (this.pending.length - off >= PCAP_RECORD_HEADER) {
      const incl = this.little ? this.pending.readUInt32LE(off + 8) : this.pending.readUInt32BE(off + 8);
      if (incl > MAX_PCAP_RECORD) {
        throw new PcapStreamError(`a pcap record claims ${incl} bytes (more than ${MAX_PCAP_RECORD}): the capture stream is corrupt`);
      }
      const end = off + PCAP_RECORD_HEADER + incl;
      if (end > this.pending.length) break;
      records.push(this.pending.subarray(off, end));
      off = end;
    }
    // Records are views into this chunk's buffer; the remainder is copied so it does not pin it.
    this.pending = off === 0 ? this.pending : Buffer.from(this.pending.subarray(off));
    return header ? { header, records } : { records };
  }

  /** Bytes of an incomplete record held back (lost if the stream ends now). */
  get pendingBytes(): number {
    return this.pending.length;
  }
}
