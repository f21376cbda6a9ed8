/** The record schema: types, JSON Schema validation, builders and the feed/drain stream. See docs/records.md. */
export * from './types.js';
export * from './stream.js';
export { loadRecordSchema, validateRecord, type JsonSchema } from './validate.js';
