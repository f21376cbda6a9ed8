/** Display filters: the language of docs/filters.md, compiled to a predicate over a decoded packet. */
export { DisplayFilterError, caretLines } from './errors.js';
export { compileFilter, parseIPv6, type CompiledFilter } from './compile.js';
export { parseFilter, type FilterAst } from './parser.js';
export { tokenize, type Token } from './lexer.js';
export { FIELDS, suggestField, type FieldDef, type FieldType } from './fields.js';
export { FilterPacket, EndpointIndex, LinkInfo, parseLink, type CapturePointInfo } from './packet.js';
export { TcpStreams } from './streams.js';
export { PacketFilter } from './apply.js';
