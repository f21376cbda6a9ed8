/**
 * The contract between the packet view engine (this folder: index, display filters, dissection,
 * stream follow) and its users (the UI server in src/ui, `summary --filter`, `merge --filter`,
 * bench/ui). Everything here is JSON-serialisable so the UI server can send it as it is.
 *
 * The engine opens one or more capture files, builds a compact index once (kept beside the file,
 * rebuilt when stale), and decodes only the packets a view asks for. Dissection results are never
 * stored. Packets of several files are shown in one timestamp order (as `merge` writes them).
 */

/** One row of the packet list. */
export interface PacketRow {
  /** 1-based frame number in the view's order (timestamp order across all files). */
  number: number;
  /** Nanoseconds since the epoch, as a decimal string (exact). */
  timestampNs: string;
  /** Seconds since the first packet of the view (fractional). */
  relativeTime: number;
  /** Where the packet was captured: `namespace/pod`, `node:NAME/IFACE` or the interface name. */
  capturePoint: string;
  /** Source and destination, named by pod when capture metadata knows the address (`ns/pod`), else the address. */
  source: string;
  destination: string;
  /** Ports, when the packet has a TCP/UDP header. */
  sourcePort?: number;
  destinationPort?: number;
  /** Highest decoded protocol, upper case as Wireshark shows it: ETH, ARP, IPv4, IPv6, TCP, UDP, ICMP, ICMPv6, DNS, HTTP, ... */
  protocol: string;
  /** Original (wire) length. */
  length: number;
  /** One-line summary, like Wireshark's Info column. */
  info: string;
}

/** A node of the packet detail tree; the bytes it covers are [offset, offset + length) of the packet. */
export interface FieldNode {
  /** Display-filter field name (e.g. `ip.src`, `tcp.flags.syn`) or `` for a heading. */
  field: string;
  /** What the user reads, e.g. `Source Address: 10.244.1.5 (default/web-0)`. */
  label: string;
  offset: number;
  length: number;
  children?: FieldNode[];
}

export interface PacketDetail {
  row: PacketRow;
  /** One node per layer (frame, link, network, transport, application). */
  layers: FieldNode[];
  /** The captured bytes, base64. */
  bytesBase64: string;
}

/** A display filter that does not parse or names an unknown field. */
export interface DisplayFilterProblem {
  message: string;
  /** 0-based character offset of the problem in the expression, and its length. */
  position: number;
  length: number;
}

/** One direction-change chunk of a followed TCP stream, in order. */
export interface StreamChunk {
  /** true: client -> server (the side that sent the SYN, or the first packet's source). */
  fromClient: boolean;
  /** Frame number of the first packet in this chunk. */
  packet: number;
  dataBase64: string;
}

export interface HttpMessageSummary {
  packet: number;
  fromClient: boolean;
  /** `GET /path HTTP/1.1` or `HTTP/1.1 200 OK`. */
  startLine: string;
  headers: [string, string][];
  bodyBytes: number;
}

export interface FollowedStream {
  /** Index of the stream (tcp.stream). */
  stream: number;
  client: string;
  server: string;
  /** Frame numbers of every packet of the stream. */
  packets: number[];
  chunks: StreamChunk[];
  /** HTTP/1.x messages found in the stream (empty when it is not HTTP). */
  http: HttpMessageSummary[];
}

/** Packets and bytes over time per capture point (the dashboard chart). */
export interface Timeline {
  /** Start of the first bucket, seconds since the epoch. */
  start: number;
  bucketSeconds: number;
  series: { capturePoint: string; packets: number[]; bytes: number[] }[];
}

/** Matches of a display filter: frame numbers in view order. */
export interface FilterResult {
  expression: string;
  matches: Uint32Array;
  /** Packets examined (the view's count when the filter ran). */
  examined: number;
}

export interface CaptureView {
  /** Packets indexed so far. */
  readonly packetCount: number;
  /** Index packets appended since the last call (a growing file during a live capture); returns the new count. */
  refresh(): Promise<number>;
  /** Rows `from` (0-based position) .. `from + count - 1`, of all packets or of a filter's matches. */
  rows(from: number, count: number, within?: FilterResult): Promise<PacketRow[]>;
  /** Runs a display filter over every packet; throws DisplayFilterError (with a DisplayFilterProblem) on a bad expression. */
  filter(expression: string): Promise<FilterResult>;
  /** Full dissection of one frame (1-based). */
  detail(frame: number): Promise<PacketDetail>;
  /** The TCP stream that frame belongs to; throws when the frame is not TCP. */
  follow(frame: number): Promise<FollowedStream>;
  timeline(buckets: number): Promise<Timeline>;
  close(): Promise<void>;
}

export interface OpenViewOptions {
  /**
   * Where index files go. Default: beside each capture file (`<file>.pcapper-idx`), or a cache
   * directory when that is not writable. The index is rebuilt when the file's size or mtime changed.
   */
  indexDir?: string;
  /** Do not read or write index files (build in memory only). */
  noIndexFiles?: boolean;
  /**
   * Fallback directory for index files when a capture's own directory is not writable (e.g.
   * `~/.cache/pcapper/index`; the caller decides, the engine reads no environment). Without it the
   * index is kept in memory only in that case.
   */
  cacheDir?: string;
}
