/** One conversation at one capture point, as the conversation table tracks it. */

/** Mutable per-conversation counters and identity. Trackers keep their own per-flow state by {@link Flow.id}. */
export class Flow {
  // endpoints: A is the source of the first packet
  aAddr = '';
  bAddr = '';
  aPort = -1;
  bPort = -1;
  /** true when A is the lexically lower (address, port) side used in the key */
  aIsLo = true;
  pktsAB = 0;
  bytesAB = 0;
  pktsBA = 0;
  bytesBA = 0;
  /** seconds since the epoch */
  first = 0;
  last = 0;
  /** capture point (0 unless per-capture-point analysis sees several) */
  cp = 0;
  /** n-th connection on this tuple at this capture point (port reuse) */
  inst = 0;
  /** capture-point independent tuple key: IPv6 string key, or the IPv4 numbers */
  gKey = '';
  ga = 0;
  gb = 0;
  gp = 0;
  constructor(
    /** dense index, in order of creation (0, 1, 2, ...) */
    readonly id: number,
    /** IP protocol number; 255 for TCP/UDP packets cut short before the ports */
    readonly proto: number,
  ) {}

  /** Capture-point independent identity of the tuple (the same at every capture point). */
  tupleKey(): string {
    return this.gKey || `${this.ga}:${this.gb}:${this.gp}`;
  }
}
