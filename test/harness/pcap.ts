/**
 * Helpers for the pcap library's tests: where the third-party capture files are, and how to run
 * Wireshark's command-line tools on them. Not used by production code (and so not in src/, which
 * is what ships).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { testdataDir } from './paths.js';
import { CAPTURE_METADATA_VERSION, type CaptureMetadata } from '../../src/pcap/metadata.js';

/** Every capture file in the test-data directory, sorted. */
export function testdataFiles(): string[] {
  return readdirSync(testdataDir())
    .filter((f) => /\.(pcap|pcapng)$/.test(f))
    .sort()
    .map((f) => join(testdataDir(), f));
}

/** The file that every tool rejects (pcap version 1.4). */
export const INVALID_VERSION_FILE = 'libpcap__pcap-invalid-version-1.pcap';

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command (argv, no shell) and returns its output; throws if it cannot be started. */
export function runTool(cmd: string, args: string[]): ToolResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`, { cause: r.error });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One row of tshark's `-z conv,tcp|udp` table. */
export interface TsharkConv {
  a: string;
  b: string;
  framesBtoA: number;
  bytesBtoA: string;
  framesAtoB: number;
  bytesAtoB: string;
  frames: number;
  bytes: string;
}

/** Runs `tshark -q -z conv,PROTO -r FILE` and parses its table. */
export function tsharkConversations(file: string, proto: 'tcp' | 'udp'): TsharkConv[] {
  const r = runTool('tshark', ['-n', '-q', '-z', `conv,${proto}`, '-r', file]);
  const rows: TsharkConv[] = [];
  const re = /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d[\d,]* \S+)\s+(\d+)\s+(\d[\d,]* \S+)\s+(\d+)\s+(\d[\d,]* \S+)\s+/;
  for (const line of r.stdout.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    rows.push({
      a: m[1]!,
      b: m[2]!,
      framesBtoA: Number(m[3]),
      bytesBtoA: m[4]!,
      framesAtoB: Number(m[5]),
      bytesAtoB: m[6]!,
      frames: Number(m[7]),
      bytes: m[8]!,
    });
  }
  if (!r.stdout.includes(`${proto.toUpperCase()} Conversations`)) throw new Error(`tshark conv,${proto} on ${file} printed no table: ${r.stderr}`);
  return rows;
}

/** Wireshark's format_size() with SI prefixes as used in conversation tables (integer division). */
export function wiresharkSize(n: number): string {
  if (n / 1e12 >= 10) return `${Math.floor(n / 1e12)} TB`;
  if (n / 1e9 >= 10) return `${Math.floor(n / 1e9)} GB`;
  if (n / 1e6 >= 10) return `${Math.floor(n / 1e6)} MB`;
  if (n / 1e3 >= 10) return `${Math.floor(n / 1e3)} kB`;
  return `${n} bytes`;
}

/** Exact per-stream frame and byte totals from `tshark -T fields -e PROTO.stream -e frame.len`. */
export function tsharkStreamTotals(file: string, proto: 'tcp' | 'udp'): Map<number, { frames: number; bytes: number }> {
  const r = runTool('tshark', ['-n', '-r', file, '-Y', proto, '-T', 'fields', '-e', `${proto}.stream`, '-e', 'frame.len']);
  const m = new Map<number, { frames: number; bytes: number }>();
  for (const line of r.stdout.split('\n')) {
    const [s, len] = line.split('\t');
    if (s === undefined || len === undefined || s === '') continue;
    // a frame can carry several (e.g. inner headers in ICMP errors): the first is the outer one
    const stream = Number(s.split(',')[0]);
    const e = m.get(stream) ?? { frames: 0, bytes: 0 };
    e.frames++;
    e.bytes += Number(len);
    m.set(stream, e);
  }
  return m;
}

/** One frame as tshark sees it. */
export interface TsharkFrame {
  /** frame.time_epoch as printed ("" for blocks without a timestamp). */
  time: string;
  len: number;
  caplen: number;
  /** "" for classic pcap files. */
  interfaceId: string;
  md5: string;
}

/** Frames of a capture via `tshark -T fields`; non-packet frames (custom blocks) are left out. */
export function tsharkFrames(file: string): TsharkFrame[] {
  const r = runTool('tshark', ['-n', '-o', 'frame.generate_md5_hash:TRUE', '-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.interface_id', '-e', 'frame.md5_hash']);
  const out: TsharkFrame[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const [time, len, caplen, iface, md5] = line.split('\t');
    // pcapng custom blocks are shown as frames by tshark 4.0, with neither time nor interface
    if ((iface === undefined || iface === '') && (time === undefined || time === '')) continue;
    out.push({ time: time ?? '', len: Number(len), caplen: Number(caplen), interfaceId: iface ?? '', md5: md5 ?? '' });
  }
  return out;
}

/**
 * Normalises a tshark `frame.time_epoch` string to "SEC.NNNNNNNNN". tshark prints invalid
 * nanosecond fields (>= 1e9) unnormalised, e.g. "1418145370.1000000000" or, past 2^31 ns,
 * "-1418145370.2147483648"; the seconds are carried here so they compare with a proper reading.
 */
export function normaliseEpoch(t: string): string {
  const neg = t.startsWith('-');
  const [s, f = '0'] = (neg ? t.slice(1) : t).split('.');
  let sec = BigInt(s ?? '0');
  let frac = BigInt(f.length > 9 ? f : f.padEnd(9, '0'));
  sec += frac / 1000000000n;
  frac %= 1000000000n;
  return `${sec}.${frac.toString().padStart(9, '0')}`;
}

/** A valid capture metadata document for tests, with overrides. */
export function sampleMetadata(over: Partial<CaptureMetadata> = {}): CaptureMetadata {
  return {
    version: CAPTURE_METADATA_VERSION,
    captureName: 'web-debug',
    captureNamespace: 'shop',
    nodeName: 'node-a',
    nodeIPs: ['10.0.0.11'],
    targetKind: 'pod',
    pod: { name: 'web-7d9c', namespace: 'shop', uid: '6f0c-11', ips: ['10.244.1.7', 'fd00::7'] },
    interfaces: ['eth0'],
    linkType: 1,
    startTime: '2026-11-22T01:43:26.123Z',
    filter: 'tcp port 80',
    snapLength: 262144,
    endpoints: { '10.244.2.3': { pod: 'db-0', namespace: 'shop', node: 'node-b' } },
    ...over,
  };
}

