/**
 * What the summary loop hands to its trackers: the decoded packet ({@link PacketContext}, one
 * object reused for every packet so that the hot path allocates nothing), the tracker interface,
 * and {@link FlowSlots} for a tracker's own per-conversation state.
 */
import { Decoded } from '../decode.js';
import { Flow } from './flow.js';
import type { Conversation } from './types.js';

/** The current packet. Valid only during the `onPacket` call; trackers must not keep it. */
export class PacketContext {
  readonly d = new Decoded();
  /** the buffer the decoded offsets refer to */
  b: Buffer = Buffer.alloc(0);
  /** seconds since the epoch (fractional) */
  t = 0;
  /** capture point id (0 when not analysing per capture point) */
  cp = 0;
  /** original (wire) length */
  origLen = 0;
  /** the packet's conversation (set by the conversation table before the per-flow trackers run) */
  flow: Flow = new Flow(-1, -1);
  /** true when the packet goes from A to B of {@link flow} */
  ab = true;
  /** set by the TCP tracker: a retransmitted segment (HTTP ignores those) */
  retransmission = false;
}

/** A conversation as reported (one per group of capture points) with the flow whose figures it shows. */
export interface ReportedConversation {
  flow: Flow;
  conversation: Conversation;
}

/**
 * A tracker does one job. The loop (Summarizer) calls `onPacket` for the packets routed to it, in
 * a fixed order, and `finish` once for its part of the result. The loop calls each tracker through
 * a field of its own concrete type (monomorphic call sites), not through an array of trackers.
 */
export interface PacketTracker<R> {
  onPacket(p: PacketContext): void;
  /** `reported`: the conversations as reported (for trackers that add per-conversation figures). */
  finish(reported: readonly ReportedConversation[]): R;
}

/** Per-flow state of one tracker, indexed by {@link Flow.id} (a dense array: no hashing per packet). */
export class FlowSlots<T> {
  private readonly items: (T | null)[] = [];

  get(f: Flow): T | null {
    const a = this.items;
    return f.id < a.length ? (a[f.id] ?? null) : null;
  }

  set(f: Flow, v: T): void {
    const a = this.items;
    // fill the gap (flows this tracker never saw) so the array stays dense
    while (a.length < f.id) a.push(null);
    a[f.id] = v;
  }
}
