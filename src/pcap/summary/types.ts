/**
 * The result types of the traffic summary ({@link Summary} and its parts) and its options. Shared by
 * the trackers under this folder and re-exported by ../summary.ts (the public entry point).
 */
import type { EndpointInfo } from '../metadata.js';
import type { PcapRecord } from '../records/types.js';

/** One side of a conversation. */
export interface Endpoint {
  address: string;
  /** TCP/UDP port (absent for ICMP and other protocols). */
  port?: number;
  /** `namespace/pod` or `node:NAME` when capture metadata knows the address. */
  name?: string;
  pod?: string;
  namespace?: string;
  node?: string;
}

export type TcpState = 'completed' | 'refused' | 'syn-unanswered' | 'syn-ack-unacked' | 'no-handshake';

export interface TcpHealth {
  state: TcpState;
  resets: number;
  retransmissions: number;
  /** Handshake round trip (SYN -> handshake ACK) in milliseconds. */
  rttMs?: number;
  /** Which side sent the SYN ("a" or "b") when a handshake was seen. */
  client?: 'a' | 'b';
  finA: boolean;
  finB: boolean;
}

export interface Conversation {
  /** tcp, udp, icmp, icmpv6, ospf, gre, ..., `ip/N` for other IP protocols, `ip` for IP packets whose TCP/UDP header is cut short. */
  protocol: string;
  a: Endpoint;
  b: Endpoint;
  packets: number;
  bytes: number;
  packetsAtoB: number;
  bytesAtoB: number;
  packetsBtoA: number;
  bytesBtoA: number;
  /** Seconds since the epoch (fractional). */
  firstTime: number;
  lastTime: number;
  durationSeconds: number;
  tcp?: TcpHealth;
  /**
   * How many capture points (interfaces of the input files) saw this conversation. The packet,
   * byte, time and TCP figures above are those of one of them (the one that saw the most packets).
   */
  capturePoints: number;
  /** Packets at all capture points together (= `packets` when `capturePoints` is 1; tshark's count). */
  packetsAllCapturePoints: number;
  bytesAllCapturePoints: number;
}

export interface LatencySummary {
  count: number;
  minMs: number;
  avgMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface Talker {
  address: string;
  name?: string;
  packets: number;
  bytes: number;
}

export interface DnsNameStats {
  name: string;
  qtype: string;
  queries: number;
  responses: number;
  rcodes: Record<string, number>;
}

export interface DnsSummary {
  queries: number;
  responses: number;
  /** Answer records in all responses (sum of ANCOUNT). */
  answers: number;
  unanswered: number;
  rcodes: Record<string, number>;
  latency: LatencySummary | null;
  names: DnsNameStats[];
}

export interface HttpEndpointStats {
  method: string;
  path: string;
  requests: number;
  statuses: Record<string, number>;
  latency: LatencySummary | null;
}

export interface HttpSummary {
  requests: number;
  responses: number;
  methods: Record<string, number>;
  statuses: Record<string, number>;
  latency: LatencySummary | null;
  endpoints: HttpEndpointStats[];
}

export interface TcpSummary {
  connections: number;
  completed: number;
  refused: number;
  synUnanswered: number;
  synAckUnacked: number;
  noHandshake: number;
  resets: number;
  retransmissions: number;
  segments: number;
  handshakeRtt: LatencySummary | null;
}

export interface Summary {
  files: string[];
  /** Records in the input (a packet recorded at two capture points counts twice). */
  packets: number;
  /** Interfaces (of all input files) that recorded at least one packet. */
  capturePoints: number;
  /** Sum of original (wire) lengths. */
  bytes: number;
  capturedBytes: number;
  firstTime: string | null;
  lastTime: string | null;
  durationSeconds: number;
  linkTypes: Record<string, number>;
  protocols: Record<string, number>;
  conversations: Conversation[];
  topTalkers: Talker[];
  tcp: TcpSummary;
  dns: DnsSummary;
  http: HttpSummary;
  /** HTTP/2 cleartext streams (added in summary format 2). */
  http2: Http2Summary;
  /** gRPC calls over HTTP/2 (added in summary format 2). */
  grpc: GrpcSummary;
  /** Format problems (one line each); the summary covers every packet before each problem. */
  errors: string[];
}

export interface SummaryOptions {
  /** IP -> owner, from capture metadata ({@link endpointMap}). */
  endpoints?: ReadonlyMap<string, EndpointInfo>;
  /** How many talkers, DNS names and HTTP endpoints to keep in the result (default 20). */
  top?: number;
  /**
   * Analyse TCP/DNS/HTTP per capture point (interface of an input file) and report a conversation
   * seen at several capture points once (default true). false: all packets form one stream, as in
   * tshark (conversation counts sum over interfaces, a copy of a packet is a retransmission).
   */
  perCapturePoint?: boolean;
  /** Read files with fs.readSync ({@link summarizeFiles}; faster for command-line use). */
  syncReads?: boolean;
  /**
   * Receives one record (docs/records.md) per finished HTTP/2 stream, HTTP/1.x and DNS transaction
   * as the packets are added, and at `finish()` the unanswered transactions and one connection
   * record per reported conversation. See {@link RecordStream} for the feed/drain form.
   */
  onRecord?: (r: PcapRecord) => void;
}

export interface Http2EndpointStats {
  method: string;
  path: string;
  requests: number;
  /** by response :status; `none` when no response headers were seen */
  statuses: Record<string, number>;
  latency: LatencySummary | null;
}

/** HTTP/2 cleartext (h2c) streams; gRPC calls are counted here too and listed in {@link GrpcSummary}. */
export interface Http2Summary {
  /** connections recognised as HTTP/2 (preface or Upgrade) */
  connections: number;
  /** of which started as HTTP/1.1 with Upgrade: h2c */
  upgraded: number;
  /** streams with a request (gRPC calls included) */
  requests: number;
  /** streams with response headers */
  responses: number;
  /** streams ended by RST_STREAM */
  resets: number;
  /** streams that did not end in the capture, or whose bytes were missing or undecodable */
  unfinished: number;
  statuses: Record<string, number>;
  latency: LatencySummary | null;
  /** non-gRPC requests by method and path */
  endpoints: Http2EndpointStats[];
}

export interface GrpcMethodStats {
  service: string;
  method: string;
  calls: number;
  /** by grpc-status name (OK, NOT_FOUND, ...); `none` when the call ended without one */
  statuses: Record<string, number>;
  requestMessages: number;
  responseMessages: number;
  latency: LatencySummary | null;
}

export interface GrpcSummary {
  calls: number;
  statuses: Record<string, number>;
  latency: LatencySummary | null;
  methods: GrpcMethodStats[];
}
