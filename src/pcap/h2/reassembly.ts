/**
 * In-order byte stream of one direction of a TCP connection, by sequence number. Pure.
 *
 * - In-order data is passed on without copying (the caller's buffer, valid during the call).
 * - Retransmitted bytes (below the next expected sequence number) are dropped; a segment that
 *   overlaps the delivered data delivers only its new part.
 * - A segment beyond the next expected sequence number waits (copied) until the gap is filled, up
 *   to {@link MAX_PENDING_BYTES}; when the gap is not filled by then, or the stream ends (FIN or
 *   {@link ReassemblyDirection.end}) with a gap, the direction is marked `gap` and delivers nothing
 *   more: a consumer must never parse bytes that do not follow each other.
 */

/** Out-of-order bytes kept per direction before the gap is declared permanent. */
export const MAX_PENDING_BYTES = 1 << 20;

export type DeliverFn = (b: Uint8Array, off: number, len: number) => void;

function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

interface Pending {
  seq: number;
  data: Buffer;
}

export class ReassemblyDirection {
  /** next expected sequence number (valid once `started`) */
  next = 0;
  started = false;
  /** true once bytes are missing for good; nothing is delivered after that */
  gap = false;
  /** bytes delivered in order */
  delivered = 0;
  /** bytes dropped as already delivered (retransmissions) */
  duplicateBytes = 0;
  private pending: Pending[] = [];
  private pendingBytes = 0;

  /** A SYN with sequence number `seq`: data starts at seq + 1. */
  syn(seq: number): void {
    if (this.started) return;
    this.next = (seq + 1) >>> 0;
    this.started = true;
  }

  /**
   * A segment carrying `len` bytes at `b[off..]` starting at sequence number `seq`. Calls `deliver`
   * for each run of new in-order bytes (possibly several when it fills a gap).
   */
  segment(seq: number, b: Uint8Array, off: number, len: number, deliver: DeliverFn): void {
    if (this.gap || len <= 0) return;
    if (!this.started) {
      // no SYN seen: the stream starts at the first data
      this.next = seq;
      this.started = true;
    }
    const end = (seq + len) >>> 0;
    if (!seqLt(this.next, end)) {
      this.duplicateBytes += len;
      return;
    }
    if (seqLt(this.next, seq)) {
      // ahead of the stream: keep until the gap is filled
      if (this.pendingBytes + len > MAX_PENDING_BYTES) {
        this.markGap();
        return;
      }
      this.pending.push({ seq, data: Buffer.from(b.subarray(off, off + len)) });
      this.pendingBytes += len;
      return;
    }
    const skip = (this.next - seq) >>> 0;
    this.duplicateBytes += skip;
    this.next = end;
    this.delivered += len - skip;
    deliver(b, off + skip, len - skip);
    if (this.pending.length > 0) this.drainPending(deliver);
  }

  /** The stream ended (FIN, RST or end of capture): waiting bytes mean bytes are missing. */
  end(): void {
    if (this.pending.length > 0) this.markGap();
  }

  /** Bytes waiting for a gap to be filled. */
  get waiting(): number {
    return this.pendingBytes;
  }

  private drainPending(deliver: DeliverFn): void {
    let progress = true;
    while (progress && this.pending.length > 0 && !this.gap) {
      progress = false;
      for (let i = 0; i < this.pending.length; i++) {
        const p = this.pending[i]!;
        const end = (p.seq + p.data.length) >>> 0;
        if (seqLt(this.next, p.seq)) continue;
        this.pending.splice(i, 1);
        this.pendingBytes -= p.data.length;
        if (seqLt(this.next, end)) {
          const skip = (this.next - p.seq) >>> 0;
          this.duplicateBytes += skip;
          this.next = end;
          this.delivered += p.data.length - skip;
          deliver(p.data, skip, p.data.length - skip);
        } else this.duplicateBytes += p.data.length;
        progress = true;
        break;
      }
    }
  }

  /** Bytes of this direction are known to be missing (e.g. cut by the snapshot length). */
  lose(): void {
    this.markGap();
  }

  private markGap(): void {
    this.gap = true;
    this.pending = [];
    this.pendingBytes = 0;
  }
}
