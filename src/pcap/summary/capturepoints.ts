/**
 * Capture points (every interface of every input file) and the recognition of a DNS/HTTP message
 * recorded at several of them (a packet between two captured pods is recorded at both).
 */

/** Dense ids for (file index, interface id) pairs, in order of first appearance. */
export class CapturePoints {
  private readonly ids = new Map<number, number>();
  // the last pair looked up: consecutive packets nearly always share it
  private lastFile = -1;
  private lastIf = -1;
  private lastId = 0;

  /** Number of capture points that recorded a packet. */
  get count(): number {
    return this.ids.size;
  }

  id(fileIndex: number, interfaceId: number): number {
    if (interfaceId !== this.lastIf || fileIndex !== this.lastFile) {
      const k = fileIndex * 0x100000000 + interfaceId;
      let id = this.ids.get(k);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(k, id);
      }
      this.lastIf = interfaceId;
      this.lastFile = fileIndex;
      this.lastId = id;
    }
    return this.lastId;
  }
}

/** A message seen at another capture point within this time is a copy of the same message. */
export const COPY_WINDOW_SECONDS = 2;
const MAX_SEEN_MESSAGES = 100_000;

/** A DNS/HTTP message (capture-point independent identity) and where it was seen. */
export interface SeenMessage {
  k: string;
  t: number;
  cps: number[];
  /** a response that was already paired with its request at some capture point */
  matched: boolean;
}

/**
 * Recognises copies of a DNS/HTTP message by its capture-point independent identity. Memory is
 * bounded: within one file, messages older than the copy window are forgotten; at most
 * {@link MAX_SEEN_MESSAGES} are kept.
 */
export class CopyDetector {
  private readonly messages = new Map<string, SeenMessage>();
  /** messages in arrival order, for forgetting the oldest */
  private readonly queue: SeenMessage[] = [];
  private head = 0;
  /** several files are summarised one after the other: times may go back, keep up to the cap */
  severalFiles = false;

  /** `enabled` false (one capture point for everything, as tshark): nothing is ever a copy. */
  constructor(private readonly enabled: boolean) {}

  /**
   * Looks up message `k` seen at capture point `cp` at time `t`: a copy when it was seen at another
   * capture point (and not yet at this one) within {@link COPY_WINDOW_SECONDS}.
   */
  seen(k: string, cp: number, t: number): { m: SeenMessage; copy: boolean } {
    if (!this.enabled) return { m: { k, t, cps: [cp], matched: false }, copy: false };
    const m = this.messages.get(k);
    if (m !== undefined && !m.cps.includes(cp) && Math.abs(t - m.t) <= COPY_WINDOW_SECONDS) {
      m.cps.push(cp);
      return { m, copy: true };
    }
    const n: SeenMessage = { k, t, cps: [cp], matched: false };
    // forget messages that can no longer have copies (the queue is in arrival order; within one
    // file packets arrive (nearly) in time order; files summarised together may go back in time)
    const seen = this.messages;
    const q = this.queue;
    while (this.head < q.length) {
      const o = q[this.head]!;
      if (seen.get(o.k) !== o) this.head++; // replaced by a newer message with the same identity
      else if (seen.size >= MAX_SEEN_MESSAGES || (!this.severalFiles && o.t < t - COPY_WINDOW_SECONDS)) {
        seen.delete(o.k);
        this.head++;
      } else break;
    }
    if (this.head > 4096 && this.head * 2 > q.length) {
      q.splice(0, this.head);
      this.head = 0;
    }
    seen.set(k, n);
    q.push(n);
    return { m: n, copy: false };
  }
}
