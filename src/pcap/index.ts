/**
 * pcapper's pcap library: pure TypeScript, no native code. See docs/pcap-library.md.
 *
 * - Reading: {@link CaptureReader} (fast, pull-based, zero-copy), {@link forEachPacket},
 *   {@link openCapture} (async iterable of copies).
 * - Writing: {@link PcapngWriter}, {@link PcapWriter}.
 * - Merging: {@link mergeCaptures}.
 * - Decoding and summary: {@link decodePacket}, {@link Summarizer}, {@link summarizeFiles},
 *   {@link formatSummaryTable}.
 * - Records (connection, dns, http, http2/grpc; docs/records.md): {@link RecordStream}.
 * - Capture metadata sidecars: {@link parseCaptureMetadata}, {@link writeCaptureMetadata}, ...
 * - Packet view engine and display filters: {@link openCaptureView}, {@link compileFilter} (docs/filters.md).
 */
export * from './errors.js';
export * from './reader.js';
export * from './writer.js';
export * from './merge.js';
export * from './decode.js';
export * from './dns.js';
export * from './http.js';
export * from './summary.js';
export * from './records/index.js';
export { HpackDecoder, HpackError, huffmanDecode } from './h2/hpack.js';
export { H2Connection, type H2Transaction, type GrpcCall } from './h2/connection.js';
export { grpcStatusName } from './grpc/grpc.js';
export * from './format.js';
export * from './metadata.js';
export { formatTimestamp } from './time.js';
export * from './view/index.js';
export { parseFilter, FIELDS, FilterPacket, EndpointIndex, TcpStreams, type CompiledFilter, type FilterAst, type FieldDef } from './filter/index.js';
