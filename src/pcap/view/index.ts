/**
 * The packet view engine: {@link openCaptureView} over one or more capture files (index, rows,
 * detail, display filters, follow TCP stream, timeline). The contract is ./types.ts.
 */
export * from './types.js';
export { openCaptureView, type OpenedCaptureView, type ViewInfo } from './view.js';
export { INDEX_SUFFIX, INDEX_VERSION, PacketIndex, encodeIndex, decodeIndex, IndexFileError } from './packetindex.js';
export { loadOrBuildIndex, scanCapture } from './indexer.js';
export { DisplayFilterError, caretLines, compileFilter } from '../filter/index.js';
