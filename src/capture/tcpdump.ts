/**
 * Everything pcapper knows about tcpdump's command line and its output, as pure functions:
 * file layout on the node, the argv of a capture, the argv of a filter check, and the parsers of
 * tcpdump's "listening on" and statistics lines.
 *
 * ## File layout (seed 002 naming, one directory per namespace and per target)
 *
 *   <data>/<namespace>/<capture>/<target>/<NODE_NAME>.<capture>.<unix time>.pcap<N>
 *
 * `<target>` is `pod.<pod namespace>.<pod>` or `node.<interface>`, so two targets of one capture on
 * one node never share a file and the directory alone says what was captured; `<N>` is the ring
 * index tcpdump appends with -W. The target directory also holds `capture-meta.json`
 * (src/pcap/metadata.ts). Every name is checked against Kubernetes' name rules first, so no
 * component can be a path (`..`, `/`) or start with `-`.
 *
 * Names Kubernetes accepts can be longer than a file name may be (NAME_MAX, 255 bytes): a pod
 * name of 253 characters, or a node and a capture name of 253 each in one file name. Such a
 * component is shortened to a prefix plus `_` and 16 hex digits of the SHA-256 of the full name
 * (`_` never occurs in a Kubernetes name, so a shortened name cannot collide with a real one);
 * the full names are in capture-meta.json and in status. Short names are unchanged (seed 002).
 */
import { createHash } from 'node:crypto';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN } from '../api/names.js';

/** Longest file name component (NAME_MAX on Linux file systems). */
export const NAME_MAX = 255;

/** `full` if it fits in `max` characters, else a prefix + `_` + 16 hex of its SHA-256. Pure. */
export function shortenName(full: string, max: number): string {
  if (full.length <= max) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 16);
  return `${full.slice(0, max - 17).replace(/[.-]+$/, '')}_${hash}`;
}

export const LINKTYPES: Record<string, number> = {
  EN10MB: 1,
  RAW: 101,
  LINUX_SLL: 113,
  LINUX_SLL2: 276,
  NULL: 0,
  IPV4: 228,
  IPV6: 229,
};

/** What tcpdump is asked to do for one target, already parsed and defaulted. */
export interface TcpdumpOptions {
  /** Interface inside the target's network namespace, or `any`. */
  interface: string;
  /** BPF expression; '' = everything. */
  filter: string;
  /** Bytes kept per packet; 0 = whole packet (tcpdump's 262144). */
  snapLength: number;
  /** Stop after this many packets (-c); undefined = no limit. */
  packetCount?: number | undefined;
  /** Size of one ring file in bytes (-C, rounded to tcpdump's unit of 1,000,000 bytes, at least 1). */
  maxFileSizeBytes: number;
  /** Ring files kept (-W). */
  fileCount: number;
  /** Kernel capture buffer in KiB (-B); undefined = libpcap's default. */
  bufferKiB?: number | undefined;
  /**
   * -U: write every packet to the file as it arrives (one write(2) per packet). Off by default:
   * it costs ~35% of the lossless packet rate on a 2-core node (bench/capture-rate.ts); the agent
   * instead asks tcpdump to flush (SIGUSR2) when a capture is quiet, see src/capture/runner.ts.
   */
  packetBuffered?: boolean | undefined;
  /**
   * --immediate-mode: packets reach tcpdump as they arrive. Without it libpcap uses TPACKET_V3,
   * whose kernel blocks are handed over when full or after tcpdump's fixed 1 s timeout, so a quiet
   * capture's packets reach the file up to 1 s late (bench/live-latency.ts: p50 ~0.6 s). For live
   * captures only: immediate mode falls back to TPACKET_V2 (one wake-up per packet).
   */
  immediateMode?: boolean | undefined;
  /** Armed capture (docs/triggers.md): the agent keeps only this window in memory until released. Pipe mode only. */
  lookBack?: { seconds: number; bytes: number } | undefined;
}

export interface CapturePaths {
  /** `<data>/<namespace>/<capture>` */
  captureDir: string;
  /** `<captureDir>/<target>` */
  targetDir: string;
  /** The same directory as seen on the node (status fileLocation). */
  hostTargetDir: string;
  /** `<NODE_NAME>.<capture>.<unix time>.pcap`, the -w base; ring files append a number. */
  fileBase: string;
  /** `<targetDir>/<fileBase>` */
  writePath: string;
}

export type TargetRef = { kind: 'pod'; namespace: string; pod: string } | { kind: 'node'; interface: string };

// one definition of the name formats (src/api/names.ts)
const DNS_LABEL = new RegExp(DNS1123_LABEL);
const DNS_SUBDOMAIN = new RegExp(DNS1123_SUBDOMAIN);
const IFACE = /^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,14}$/;

export class UnsafeNameError extends Error {
  override readonly name = 'UnsafeNameError';
}

function check(re: RegExp, what: string, v: string, max: number): string {
  if (v.length > max || !re.test(v)) throw new UnsafeNameError(`${what} "${v.slice(0, 80)}" is not a valid name (refusing to use it in a path)`);
  return v;
}

/** Directory name of one target inside its capture's directory (shortened past NAME_MAX). */
export function targetDirName(t: TargetRef): string {
  if (t.kind === 'pod') return shortenName(`pod.${check(DNS_LABEL, 'namespace', t.namespace, 63)}.${check(DNS_SUBDOMAIN, 'pod', t.pod, 253)}`, NAME_MAX);
  return `node.${check(IFACE, 'interface', t.interface, 15)}`;
}

/** Is `name` a target directory name targetDirName() can produce (full or shortened)? */
export function isTargetDirName(name: string): boolean {
  if (name.length > NAME_MAX) return false;
  if (parseTargetDirName(name)) return true;
  return /^pod\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9][-a-z0-9.]*_[0-9a-f]{16}$/.test(name);
}

/** Inverse of targetDirName (undefined for anything else). */
export function parseTargetDirName(name: string): TargetRef | undefined {
  let m = /^pod\.([a-z0-9-]+)\.(.+)$/.exec(name);
  if (m && DNS_LABEL.test(m[1] ?? '') && DNS_SUBDOMAIN.test(m[2] ?? '')) return { kind: 'pod', namespace: m[1] ?? '', pod: m[2] ?? '' };
  m = /^node\.(.+)$/.exec(name);
  if (m && IFACE.test(m[1] ?? '')) return { kind: 'node', interface: m[1] ?? '' };
  return undefined;
}

/** `<data>/<namespace>/<capture>` after checking both names. */
export function captureDirOf(dataDir: string, namespace: string, capture: string): string {
  return `${dataDir}/${check(DNS_LABEL, 'namespace', namespace, 63)}/${check(DNS_SUBDOMAIN, 'capture name', capture, 253)}`;
}

export function capturePaths(p: {
  dataDir: string;
  hostDataDir: string;
  nodeName: string;
  namespace: string;
  capture: string;
  target: TargetRef;
  /** Start time in whole seconds since the epoch (seed 002's $(date +%s)). */
  unixTime: number;
}): CapturePaths {
  const captureDir = captureDirOf(p.dataDir, p.namespace, p.capture);
  const t = targetDirName(p.target);
  // room for `.<unix time>.pcap` and tcpdump's ring index (up to 4 digits: fileCount <= 1000)
  const stem = shortenName(`${check(DNS_SUBDOMAIN, 'node name', p.nodeName, 253)}.${p.capture}`, NAME_MAX - 4 - '.pcap'.length - 11);
  const fileBase = `${stem}.${Math.floor(p.unixTime)}.pcap`;
  const targetDir = `${captureDir}/${t}`;
  return {
    captureDir,
    targetDir,
    hostTargetDir: `${captureDirOf(p.hostDataDir, p.namespace, p.capture)}/${t}`,
    fileBase,
    writePath: `${targetDir}/${fileBase}`,
  };
}

/** tcpdump -C counts millions of bytes (integers only in tcpdump 4.99). */
export function fileSizeMegabytes(bytes: number): number {
  return Math.max(1, Math.round(bytes / 1_000_000));
}

/** The disk a target may use at most: ring file size (as tcpdump rounds it) x ring files. */
export function promisedBytes(o: Pick<TcpdumpOptions, 'maxFileSizeBytes' | 'fileCount'>): number {
  return fileSizeMegabytes(o.maxFileSizeBytes) * 1_000_000 * o.fileCount;
}

function checkOptions(o: TcpdumpOptions): void {
  check(IFACE, 'interface', o.interface, 15);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(o.filter)) throw new UnsafeNameError('the capture filter contains control characters');
  if (!Number.isInteger(o.snapLength) || o.snapLength < 0 || o.snapLength > 262144) throw new RangeError(`snapLength ${o.snapLength} is out of range 0..262144`);
  if (!Number.isInteger(o.fileCount) || o.fileCount < 1) throw new RangeError(`fileCount ${o.fileCount} must be a positive integer`);
  if (o.packetCount !== undefined && (!Number.isInteger(o.packetCount) || o.packetCount < 1)) throw new RangeError(`packetCount ${o.packetCount} must be a positive integer`);
}

/** The filter as trailing argv: always after `--`, so it can never be read as a flag. */
function filterArgv(filter: string): string[] {
  return filter.trim() === '' ? [] : ['--', filter];
}

/**
 * argv (without the program name) of the capturing tcpdump:
 * `-i IFACE -w PATH -C MB -W N -s SNAP -Z root -n [-U] [-B KiB] [-c N] [-- FILTER]`.
 */
export function buildTcpdumpArgv(o: TcpdumpOptions, writePath: string): string[] {
  checkOptions(o);
  if (!writePath.startsWith('/')) throw new UnsafeNameError(`write path "${writePath}" is not absolute`);
  const argv = [
    '-i',
    o.interface,
    '-w',
    writePath,
    '-C',
    String(fileSizeMegabytes(o.maxFileSizeBytes)),
    '-W',
    String(o.fileCount),
    '-s',
    String(o.snapLength),
    '-Z',
    'root',
    '-n',
  ];
  if (o.packetBuffered) argv.push('-U');
  if (o.immediateMode) argv.push('--immediate-mode');
  if (o.bufferKiB !== undefined) argv.push('-B', String(o.bufferKiB));
  if (o.packetCount !== undefined) argv.push('-c', String(o.packetCount));
  return [...argv, ...filterArgv(o.filter)];
}

/**
 * argv of a capturing tcpdump that writes its pcap stream to stdout (`-w -`), for the agent to cut
 * into (encrypted) ring files itself (src/capture/ring.ts): no `-C`/`-W`.
 * `-i IFACE -w - -s SNAP -Z root -n [-U] [--immediate-mode] [-B KiB] [-c N] [-- FILTER]`.
 */
export function buildPipeTcpdumpArgv(o: TcpdumpOptions): string[] {
  checkOptions(o);
  const argv = ['-i', o.interface, '-w', '-', '-s', String(o.snapLength), '-Z', 'root', '-n'];
  if (o.packetBuffered) argv.push('-U');
  if (o.immediateMode) argv.push('--immediate-mode');
  if (o.bufferKiB !== undefined) argv.push('-B', String(o.bufferKiB));
  if (o.packetCount !== undefined) argv.push('-c', String(o.packetCount));
  return [...argv, ...filterArgv(o.filter)];
}

/** argv of the filter check: compile only (`-d`) on the same interface, nothing is captured. */
export function buildFilterCheckArgv(o: Pick<TcpdumpOptions, 'interface' | 'filter' | 'snapLength'>): string[] {
  check(IFACE, 'interface', o.interface, 15);
  return ['-d', '-i', o.interface, '-s', String(o.snapLength), ...filterArgv(o.filter)];
}

/** tcpdump's own error message from its stderr (the `tcpdump: ...` lines, without the prefix). */
export function tcpdumpErrorMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^tcpdump: listening on /.test(l) && !/^\(\d{3}\)/.test(l));
  const msg = lines.map((l) => l.replace(/^tcpdump: /, '')).join('; ');
  // never cut: the end of a message ("File name too long", "Permission denied") is the point
  return msg.length > 0 ? msg : 'tcpdump failed without a message';
}

export interface Listening {
  interface: string;
  linkTypeName: string;
  /** LINKTYPE_* number, or undefined for a name pcapper does not know. */
  linkType: number | undefined;
  snapLength: number | undefined;
}

/** Parses `tcpdump: listening on IF, link-type NAME (Desc), snapshot length N bytes`. */
export function parseListening(line: string): Listening | undefined {
  const m = /listening on (\S+), link-type ([A-Z0-9_]+)(?: \([^)]*\))?(?:, snapshot length (\d+) bytes)?/.exec(line);
  if (!m) return undefined;
  const name = m[2] ?? '';
  return { interface: m[1] ?? '', linkTypeName: name, linkType: LINKTYPES[name], snapLength: m[3] !== undefined ? Number(m[3]) : undefined };
}

export interface TcpdumpStats {
  /** Packets tcpdump wrote ("packets captured"). */
  captured: number;
  /** "packets received by filter" (undefined if not printed). */
  received: number | undefined;
  /** "packets dropped by kernel". */
  droppedByKernel: number;
  /** "packets dropped by interface" (undefined if not printed). */
  droppedByInterface: number | undefined;
}

function lastNumber(text: string, re: RegExp): number | undefined {
  let last: number | undefined;
  for (const m of text.matchAll(re)) last = Number(m[1]);
  return last;
}

/**
 * The last statistics in tcpdump's stderr: the one-line form printed on SIGUSR1
 * (`tcpdump: 10 packets captured, 12 packets received by filter, 0 packets dropped by kernel`)
 * or the multi-line form printed at exit. Undefined if none was printed yet.
 */
export function parseTcpdumpStats(text: string): TcpdumpStats | undefined {
  let at = -1;
  let captured = 0;
  for (const m of text.matchAll(/(\d+) packets? captured/g)) {
    at = m.index;
    captured = Number(m[1]);
  }
  if (at < 0) return undefined;
  // Only look at the text after the last "captured" so the counters of one report stay together.
  const tail = text.slice(at);
  return {
    captured,
    received: lastNumber(tail, /(\d+) packets? received by filter/g),
    droppedByKernel: lastNumber(tail, /(\d+) packets? dropped by kernel/g) ?? 0,
    droppedByInterface: lastNumber(tail, /(\d+) packets? dropped by interface/g),
  };
}

/** Ring files of one tcpdump run in a directory listing: `<fileBase>` or `<fileBase><digits>`. */
export function ringFiles(names: readonly string[], fileBase: string): Array<{ name: string; index: number }> {
  const out: Array<{ name: string; index: number }> = [];
  for (const n of names) {
    if (!n.startsWith(fileBase)) continue;
    const rest = n.slice(fileBase.length);
    if (rest === '') out.push({ name: n, index: 0 });
    else if (/^[0-9]+$/.test(rest)) out.push({ name: n, index: Number(rest) });
  }
  return out.sort((a, b) => a.index - b.index);
}

/** Is this file name a capture file written by the agent (`<node>.<capture>.<unix>.pcap[N]`)? */
export function isCaptureFileName(name: string): boolean {
  return /^[a-z0-9][-a-z0-9.]*(_[0-9a-f]{16})?\.[0-9]+\.pcap[0-9]*$/.test(name);
}
