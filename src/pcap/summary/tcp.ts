/**
 * TCP health per connection: handshake state (completed, refused, unanswered), handshake RTT,
 * resets, FINs, segments and retransmissions; it also decides port reuse for the conversation
 * table ({@link ConnectionSplitter}) and flags retransmitted segments for the trackers after it.
 *
 * - Retransmission: a segment carrying data, SYN or FIN whose sequence number is below the highest
 *   sequence number already seen in that direction, that is not a keep-alive and not an
 *   out-of-order segment (arriving within the out-of-order window after the previous segment in
 *   that direction and not ending exactly at the highest sequence number seen), following
 *   Wireshark's tcp_analyze_sequence_number().
 * - Handshake RTT: time from the client's SYN to the ACK that completes the handshake, as seen at
 *   the capture point.
 */
import { TcpFlag } from '../decode.js';
import { FlowSlots, type PacketContext, type PacketTracker, type ReportedConversation } from './context.js';
import type { ConnectionSplitter } from './conversations.js';
import type { Flow } from './flow.js';
import { Latency } from './latency.js';
import type { TcpHealth, TcpState, TcpSummary } from './types.js';

/** Out-of-order window when no handshake RTT is known (tshark uses 3 ms too). */
const OOO_DEFAULT_SECONDS = 0.003;

/** State of one TCP connection at one capture point. Suffix A/B: the direction's sender. */
export class TcpConnection {
  synTime = -1;
  synSeq = -1;
  clientIsA = true;
  synAckTime = -1;
  hsDone = false;
  rttMs = -1;
  refused = false;
  resets = 0;
  finA = false;
  finB = false;
  retrans = 0;
  segs = 0;
  // sequence analysis per direction: next expected sequence number, when it advanced, last ACK
  // sent, its time, last window, duplicate ACK count
  nextA = 0;
  nextB = 0;
  nextSetA = false;
  nextSetB = false;
  nextTimeA = 0;
  nextTimeB = 0;
  lastAckA = 0;
  lastAckB = 0;
  ackTimeA = 0;
  ackTimeB = 0;
  winA = -1;
  winB = -1;
  dupA = 0;
  dupB = 0;
  /** seconds from the most recent SYN to the handshake ACK (out-of-order window) */
  firstRtt = 0;
  lastSynTime = -1;
  /** order in which handshakes completed (RTT samples are added in this order) */
  hsOrder = -1;
  /** who sent a RST */
  rstA = false;
  rstB = false;
  /** Zeek-style history relative to A (upper case: from A); each letter once per side */
  history = '';
  /** letters seen: bit 2*i (from A) and 2*i+1 (from B) for letter i of HISTORY_LETTERS */
  historyMask = 0;

  /** Adds history letter `i` (index into HISTORY_LETTERS) for the side `ab`. */
  addHistory(i: number, ab: boolean): void {
    const bit = 1 << (i * 2 + (ab ? 0 : 1));
    if ((this.historyMask & bit) !== 0) return;
    this.historyMask |= bit;
    const l = HISTORY_LETTERS[i]!;
    this.history += ab ? l : l.toLowerCase();
  }

  /** Adds the letters of `letters` (bits per letter index, side not applied) in letter order. */
  addHistoryLetters(letters: number, ab: boolean): void {
    for (let i = 0; i < 6; i++) if (letters & (1 << i)) this.addHistory(i, ab);
  }

  state(): TcpState {
    if (this.hsDone) return 'completed';
    if (this.refused) return 'refused';
    if (this.synTime >= 0 && this.synAckTime >= 0) return 'syn-ack-unacked';
    if (this.synTime >= 0) return 'syn-unanswered';
    return 'no-handshake';
  }
}

/** S syn, H syn-ack, A pure ack, D data, F fin, R rst (Zeek's conn.log history letters). */
const HISTORY_LETTERS = 'SHADFR';

function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export class TcpTracker implements PacketTracker<TcpSummary>, ConnectionSplitter {
  private readonly conns = new FlowSlots<TcpConnection>();
  private hsCount = 0;

  /** The connection state of a TCP flow (null if it saw no TCP packet). */
  connection(f: Flow): TcpConnection | null {
    return this.conns.get(f);
  }

  /** A new SYN on a closed connection (FIN both ways, reset or refused) with another ISN. */
  startsNewConnection(f: Flow, seq: number): boolean {
    const c = this.conns.get(f);
    return c !== null && c.synSeq >= 0 && c.synSeq !== seq && (c.resets > 0 || (c.finA && c.finB) || c.refused);
  }

  /** A TCP packet with ports (`p.flow` set). Sets `p.retransmission`. */
  onPacket(p: PacketContext): void {
    let c = this.conns.get(p.flow);
    if (c === null) {
      c = new TcpConnection();
      this.conns.set(p.flow, c);
    }
    const d = p.d;
    const ab = p.ab;
    const t = p.t;
    const flags = d.tcpFlags;
    const seq = d.seq;
    const seglen = d.payloadLength;
    c.segs++;
    const syn = (flags & TcpFlag.SYN) !== 0;
    const ackf = (flags & TcpFlag.ACK) !== 0;
    const fin = (flags & TcpFlag.FIN) !== 0;
    const rst = (flags & TcpFlag.RST) !== 0;
    const fromClient = ab === c.clientIsA;
    // handshake
    if (syn && !ackf) {
      c.lastSynTime = t;
      if (c.synTime < 0) {
        c.synTime = t;
        c.synSeq = seq;
        c.clientIsA = ab;
      }
    } else if (syn && ackf) {
      if (c.synTime >= 0 && !fromClient && c.synAckTime < 0) c.synAckTime = t;
    } else if (ackf && !rst && c.synAckTime >= 0 && !c.hsDone && fromClient) {
      c.hsDone = true;
      c.rttMs = (t - c.synTime) * 1000;
      c.firstRtt = t - c.lastSynTime;
      c.hsOrder = this.hsCount++;
    }
    // history letters of this packet (S H A D F R = bits 0..5); most packets add nothing new
    const letters = (syn ? (ackf ? 2 : 1) : 0) | (seglen > 0 ? 8 : ackf && !syn && !fin && !rst ? 4 : 0) | (fin ? 16 : 0) | (rst ? 32 : 0);
    let spread = 0;
    for (let l = letters, i = 0; l !== 0; l >>= 1, i++) if (l & 1) spread |= 1 << (i * 2 + (ab ? 0 : 1));
    if ((spread & ~c.historyMask) !== 0) c.addHistoryLetters(letters, ab);
    if (rst) {
      if (ab) c.rstA = true;
      else c.rstB = true;
      c.resets++;
      if (c.synTime >= 0 && c.synAckTime < 0 && !fromClient) c.refused = true;
    }
    if (fin) {
      if (ab) c.finA = true;
      else c.finB = true;
    }
    // sequence analysis (per direction), following Wireshark's tcp_analyze_sequence_number()
    const ack = ackf ? d.ack : 0;
    const synfin = syn || fin ? 1 : 0;
    const nextSet = ab ? c.nextSetA : c.nextSetB;
    const next = ab ? c.nextA : c.nextB;
    const keepAlive = seglen <= 1 && !syn && !fin && !rst && nextSet && ((seq + 1) >>> 0) === next;
    // duplicate ACKs (needed for fast retransmissions)
    const fLastAck = ab ? c.lastAckA : c.lastAckB;
    if (seglen === 0 && d.window !== 0 && d.window === (ab ? c.winA : c.winB) && nextSet && seq === next && ack === fLastAck && !syn && !fin && !rst) {
      if (ab) c.dupA++;
      else c.dupB++;
    } else if (ack !== fLastAck) {
      if (ab) c.dupA = 0;
      else c.dupB = 0;
    }
    let retrans = false;
    if ((seglen > 0 || synfin === 1) && !keepAlive) {
      let notAdvanced = nextSet && seqLt(seq, next);
      if (seglen > 1 && ((next - 1) >>> 0) === seq) notAdvanced = false;
      const rLastAck = ab ? c.lastAckB : c.lastAckA;
      if (seglen > 0 && rLastAck !== 0 && !seqLt(rLastAck, (seq + seglen) >>> 0)) {
        retrans = true; // spurious retransmission: already acknowledged
      } else if (notAdvanced) {
        const rDup = ab ? c.dupB : c.dupA;
        const rAckTime = ab ? c.ackTimeB : c.ackTimeA;
        if (rDup >= 2 && rLastAck === seq && t - rAckTime < 0.02) {
          retrans = true; // fast retransmission
        } else {
          const ooo = c.firstRtt > 0 ? c.firstRtt : OOO_DEFAULT_SECONDS;
          const nextTime = ab ? c.nextTimeA : c.nextTimeB;
          const outOfOrder = t - nextTime < ooo && next !== ((seq + seglen + synfin) >>> 0);
          if (!outOfOrder) retrans = true;
        }
      }
    }
    if (retrans) c.retrans++;
    p.retransmission = retrans;
    const end = (seq + seglen + synfin) >>> 0;
    if (!nextSet || seqLt(next, end)) {
      if (ab) {
        c.nextA = end;
        c.nextSetA = true;
        c.nextTimeA = t;
      } else {
        c.nextB = end;
        c.nextSetB = true;
        c.nextTimeB = t;
      }
    }
    if (ab) {
      c.lastAckA = ack;
      c.ackTimeA = t;
      c.winA = d.window;
    } else {
      c.lastAckB = ack;
      c.ackTimeB = t;
      c.winB = d.window;
    }
  }

  /** Adds `tcp` to every reported TCP conversation and returns the totals over them. */
  finish(reported: readonly ReportedConversation[]): TcpSummary {
    const tcp: TcpSummary = { connections: 0, completed: 0, refused: 0, synUnanswered: 0, synAckUnacked: 0, noHandshake: 0, resets: 0, retransmissions: 0, segments: 0, handshakeRtt: null };
    const handshakes: TcpConnection[] = [];
    for (const { flow, conversation } of reported) {
      const c = this.conns.get(flow);
      if (c === null) continue; // not TCP
      const state = c.state();
      const h: TcpHealth = { state, resets: c.resets, retransmissions: c.retrans, finA: c.finA, finB: c.finB };
      if (c.rttMs >= 0) h.rttMs = Math.round(c.rttMs * 1000) / 1000;
      if (c.synTime >= 0) h.client = c.clientIsA ? 'a' : 'b';
      conversation.tcp = h;
      tcp.connections++;
      if (state === 'completed') tcp.completed++;
      else if (state === 'refused') tcp.refused++;
      else if (state === 'syn-unanswered') tcp.synUnanswered++;
      else if (state === 'syn-ack-unacked') tcp.synAckUnacked++;
      else tcp.noHandshake++;
      tcp.resets += c.resets;
      tcp.retransmissions += c.retrans;
      tcp.segments += c.segs;
      if (c.hsOrder >= 0) handshakes.push(c);
    }
    handshakes.sort((x, y) => x.hsOrder - y.hsOrder);
    const rtt = new Latency();
    for (const c of handshakes) rtt.add(c.rttMs);
    tcp.handshakeRtt = rtt.result();
    return tcp;
  }
}
