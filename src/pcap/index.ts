/**
 * pcapper's pcap library: pure TypeScript, no native code. See docs/pcap-library.md.
 *
 * - Reading: {@link CaptureReader} (fast, pull-based, zero-copy), {@link forEachPacket},
 *   {@link openCapture} (async iterable of copies).
 * - Writing: {@link PcapngWriter}, {@link PcapWriter}.
 * - Merging: {@link mergeCaptures}.
 * - Decoding and summary: {@link decodePacket}, {@link Summarizer}, {@link summarizeFiles},
 *   {@link formatSummaryTable}.
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
export * from './format.js';
export * from './metadata.js';
export { formatTimestamp } from './time.js';
export * from './view/index.js';
export { parseFilter, FIELDS, FilterPacket, EndpointIndex, TcpStreams, type CompiledFilter, type FilterAst, type FieldDef } from './filter/index.js';
