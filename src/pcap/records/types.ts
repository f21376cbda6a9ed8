/**
 * The record schema (version {@link RECORD_SCHEMA_VERSION}): one JSON object per connection, DNS
 * transaction, HTTP/1.x transaction and HTTP/2 (or gRPC) stream, produced by the summary engine
 * ({@link RecordStream}, `kubectl pcap summary -o records`) and, next, by the agent for Kafka.
 * docs/records.md documents every field; ./schema.json is the JSON Schema of the same shapes
 * (records.test.ts keeps the two in step). Times are seconds since the epoch (fractional), as in
 * Zeek's logs; durations and latencies say their unit in the name.
 *
 * Versioning: adding an optional field keeps the version; renaming, removing or changing the
 * meaning of a field raises it.
 */

export const RECORD_SCHEMA_VERSION = 1;

/** One end of a connection or transaction. */
export interface RecordEndpoint {
  ip: string;
  /** TCP/UDP port; null for other protocols */
  port: number | null;
  /** from capture metadata; null when the IP is not a known pod */
  pod: string | null;
  namespace: string | null;
  node: string | null;
  /** owning workload (`Kind/name`) when capture metadata records it; null otherwise */
  workload: string | null;
  /** true when capture metadata does not know the IP (outside the cluster, or not captured) */
  external: boolean;
}

/** Zeek's conn_state values, as far as a capture can tell them apart. */
export type ConnState = 'S0' | 'S1' | 'SF' | 'REJ' | 'S2' | 'S3' | 'RSTO' | 'RSTR' | 'SH' | 'OTH';

export interface ConnectionRecord {
  schemaVersion: 1;
  kind: 'connection';
  /** first packet */
  ts: number;
  durationSeconds: number;
  /** tcp, udp, icmp, icmpv6, ... (as in the summary's conversations) */
  protocol: string;
  /** the originator (the SYN's sender for TCP; else the sender of the first packet) */
  orig: RecordEndpoint;
  resp: RecordEndpoint;
  origPackets: number;
  origBytes: number;
  respPackets: number;
  respBytes: number;
  /** TCP only (null otherwise) */
  state: ConnState | null;
  /** Zeek-style history: S syn, H syn-ack, A ack, D data, F fin, R rst; upper case from the originator, each letter once per side */
  history: string;
  handshakeRttMs: number | null;
  retransmissions: number;
  resets: number;
  /** capture points (pod interfaces) that saw the connection; the figures are those of the one that saw most */
  capturePoints: number;
}

export interface DnsRecord {
  schemaVersion: 1;
  kind: 'dns';
  /** the query */
  ts: number;
  client: RecordEndpoint;
  server: RecordEndpoint;
  id: number;
  qname: string;
  qtype: string;
  /** NOERROR, NXDOMAIN, ...; null when no response was seen */
  rcode: string | null;
  /** answer records; null when no response was seen */
  answers: number | null;
  latencyMs: number | null;
}

export interface HttpRecord {
  schemaVersion: 1;
  kind: 'http';
  /** the request */
  ts: number;
  client: RecordEndpoint;
  server: RecordEndpoint;
  method: string;
  path: string;
  /** null when no response was seen */
  status: number | null;
  latencyMs: number | null;
}

export interface GrpcRecordPart {
  service: string;
  method: string;
  /** grpc-status; null when the call ended without one */
  status: number | null;
  /** OK, NOT_FOUND, ... (null with status) */
  statusName: string | null;
  message: string | null;
  requestMessages: number;
  responseMessages: number;
  compressedMessages: number;
}

export interface Http2Record {
  schemaVersion: 1;
  kind: 'http2';
  /** the first byte of the request */
  ts: number;
  client: RecordEndpoint;
  server: RecordEndpoint;
  streamId: number;
  /** the request came as HTTP/1.1 with Upgrade: h2c */
  upgraded: boolean;
  method: string;
  path: string;
  authority: string;
  scheme: string;
  contentType: string | null;
  status: number | null;
  requestBytes: number;
  responseBytes: number;
  latencyMs: number | null;
  /** complete, reset, goaway, incomplete (not ended in the capture), gap (bytes missing), undecodable */
  end: 'complete' | 'reset' | 'goaway' | 'incomplete' | 'gap' | 'undecodable';
  resetCode: number | null;
  resetBy: 'client' | 'server' | null;
  /** present for gRPC calls (content-type application/grpc*) */
  grpc: GrpcRecordPart | null;
}

export type PcapRecord = ConnectionRecord | DnsRecord | HttpRecord | Http2Record;
export type PcapRecordKind = PcapRecord['kind'];
