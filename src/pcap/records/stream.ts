/**
 * The incremental form of the records: feed packets, drain the records finished so far. The same
 * engine as `kubectl pcap summary` (a {@link Summarizer} with `onRecord`), not a second analyser.
 *
 * ```ts
 * const rs = new RecordStream({ endpoints });
 * for (const p of packets) { rs.add(p); publish(rs.drain()); }
 * const { summary, records } = rs.finish(); // unanswered transactions and the connections
 * ```
 *
 * HTTP/2, HTTP/1.x and DNS records come out as their transactions finish; connection records come
 * out when {@link expire} finds them ended (FIN/RST) or idle, the rest (and unanswered transactions)
 * at {@link finish}.
 */
import { Summarizer, type Summary, type SummaryOptions } from '../summary.js';
import type { PacketView } from '../reader.js';
import type { PcapRecord } from './types.js';

export class RecordStream {
  private queue: PcapRecord[] = [];
  private readonly s: Summarizer;
  private finished = false;

  constructor(opts: Omit<SummaryOptions, 'onRecord' | 'syncReads'> = {}) {
    this.s = new Summarizer({ ...opts, onRecord: (r) => this.queue.push(r) });
  }

  /** The underlying summary (addFile, expectFiles, addError). */
  get summarizer(): Summarizer {
    return this.s;
  }

  add(p: PacketView): void {
    this.s.add(p);
  }

  addPacket(b: Buffer, off: number, caplen: number, origLen: number, linkType: number, tsSec: number, tsNsec: number, interfaceId = 0): void {
    this.s.addPacket(b, off, caplen, origLen, linkType, tsSec, tsNsec, interfaceId);
  }

  /**
   * Queues the connection records of connections that ended (FIN both ways, RST, refused) at least
   * `closedSeconds` before `now`, or idle for `idleSeconds` (`now`: seconds since the epoch, the
   * packets' clock). Call it periodically on a live capture (one capture point); returns how many.
   */
  expire(now: number, idleSeconds = 60, closedSeconds = 1): number {
    return this.s.expireConnections(now, idleSeconds, closedSeconds);
  }

  /** Records finished since the last drain, oldest first. */
  drain(): PcapRecord[] {
    const q = this.queue;
    this.queue = [];
    return q;
  }

  /** Ends the input: the summary, and the records not drained yet (including every connection). */
  finish(): { summary: Summary; records: PcapRecord[] } {
    if (this.finished) throw new Error('RecordStream.finish() called twice');
    this.finished = true;
    const summary = this.s.finish();
    return { summary, records: this.drain() };
  }
}
