/**
 * When a stopping tcpdump has everything the kernel accepted before the stop instant (pure).
 *
 * Without --immediate-mode libpcap reads the packet socket through TPACKET_V3 blocks: the kernel
 * hands a block to tcpdump when it is full or when its retire timer fires (tcpdump's 1 s timeout;
 * libpcap sets tp_retire_blk_tov from it). tcpdump's SIGTERM/SIGINT handler breaks its loop and it
 * exits without ever seeing the block that was still open, so a SIGTERM right after a packet lost
 * it (a pod deleted right after its first DNS query had an empty file). Even in immediate mode a
 * SIGTERM that arrives before tcpdump was scheduled to read loses the packets waiting in the ring.
 *
 * So stop() drains first: it asks tcpdump for its counters (SIGUSR1) and sends SIGTERM once
 * - tcpdump wrote as many packets as the kernel accepted ("captured" >= "received by filter" -
 *   "dropped by kernel"): exact, and the usual case on a pod's interface; or
 * - the counters cannot agree (on `lo` and on `any`, the kernel counts each loopback packet twice,
 *   in and out, and libpcap drops the outgoing copy itself), and tcpdump is blocked waiting for
 *   packets with nothing readable, after the kernel's block timeout has passed since the stop
 *   instant (immediately in immediate mode): every block open at the stop instant has then been
 *   retired and read; or
 * - a hard bound passed (tcpdump stuck, counters never printed): stop anyway.
 */

/** tcpdump's packet buffer timeout (tcpdump sets pcap_set_timeout(1000)): the kernel's block retire timer. */
export const BLOCK_TIMEOUT_MS = 1000;
/** Margin over the block timeout (the kernel timer runs on jiffies, tcpdump must be scheduled). */
export const BLOCK_MARGIN_MS = 150;
/** Never drain longer than this. */
export const DRAIN_MAX_MS = 2500;

export interface DrainLook {
  /** ms since the stop instant */
  elapsedMs: number;
  /** tcpdump runs with --immediate-mode (no blocks) */
  immediate: boolean;
  /** the last counters ("captured", "received by filter", "dropped by kernel"); undefined: none printed */
  stats: { captured: number; received: number | undefined; droppedByKernel: number } | undefined;
  /** tcpdump is blocked in its wait for packets (/proc/<pid>/syscall); undefined: cannot tell */
  idle: boolean | undefined;
}

export type DrainVerdict = 'stop' | 'wait';

export function drainVerdict(l: DrainLook, maxMs = DRAIN_MAX_MS): DrainVerdict {
  if (l.elapsedMs >= maxMs) return 'stop';
  const s = l.stats;
  if (s && s.received !== undefined && s.captured >= s.received - s.droppedByKernel) return 'stop';
  const blocksRetired = l.immediate || l.elapsedMs >= BLOCK_TIMEOUT_MS + BLOCK_MARGIN_MS;
  // idle unknown (no /proc/<pid>/syscall): the block timeout alone
  if (blocksRetired && l.idle !== false && (l.idle === true || l.elapsedMs >= BLOCK_TIMEOUT_MS + BLOCK_MARGIN_MS)) return 'stop';
  return 'wait';
}
