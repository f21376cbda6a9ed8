/**
 * Checks a record against ./schema.json. Supports the part of JSON Schema that file uses (type,
 * const, enum, minimum, maximum, pattern, properties, required, additionalProperties: false,
 * $ref to #/$defs, oneOf), so a consumer or a test can verify records without a validator library.
 * Pure: the schema is passed in (read it once with {@link loadRecordSchema}).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface JsonSchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  $ref?: string;
  oneOf?: JsonSchema[];
  $defs?: Record<string, JsonSchema>;
  $id?: string;
  description?: string;
}

/** Reads src/pcap/records/schema.json (from src/ or dist/src/). */
export function loadRecordSchema(): JsonSchema {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'schema.json'), join(here, '..', '..', '..', '..', 'src', 'pcap', 'records', 'schema.json')];
  for (const c of candidates) {
    try {
      return JSON.parse(readFileSync(c, 'utf8')) as JsonSchema;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Error(`record schema not found (looked at ${candidates.join(', ')})`);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Problems of `value` against `schema` (empty when valid); each says where and what. */
export function validateRecord(value: unknown, root: JsonSchema, schema: JsonSchema = root, path = '$'): string[] {
  if (schema.$ref !== undefined) {
    const name = schema.$ref.replace('#/$defs/', '');
    const def = root.$defs?.[name];
    if (def === undefined) return [`${path}: unknown $ref ${schema.$ref}`];
    return validateRecord(value, root, def, path);
  }
  if (schema.oneOf !== undefined) {
    const results = schema.oneOf.map((s) => validateRecord(value, root, s, path));
    const ok = results.filter((r) => r.length === 0).length;
    if (ok === 1) return [];
    if (ok > 1) return [`${path}: matches ${ok} alternatives, expected exactly one`];
    return [`${path}: matches no alternative (${results.map((r) => r[0]).join('; ')})`];
  }
  const errs: string[] = [];
  const t = typeOf(value);
  if (schema.const !== undefined && value !== schema.const) errs.push(`${path}: must be ${JSON.stringify(schema.const)}, is ${JSON.stringify(value)}`);
  if (schema.enum !== undefined && !schema.enum.includes(value)) errs.push(`${path}: must be one of ${JSON.stringify(schema.enum)}, is ${JSON.stringify(value)}`);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const ok = types.includes(t) || (t === 'integer' && types.includes('number'));
    if (!ok) return [...errs, `${path}: must be ${types.join(' or ')}, is ${t}`];
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errs.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errs.push(`${path}: above ${schema.maximum}`);
  }
  if (typeof value === 'string' && schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) errs.push(`${path}: does not match ${schema.pattern}`);
  if (t === 'object' && schema.properties !== undefined) {
    const o = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in o)) errs.push(`${path}.${r}: missing`);
    for (const [k, v] of Object.entries(o)) {
      const ps = schema.properties[k];
      if (ps === undefined) {
        if (schema.additionalProperties === false) errs.push(`${path}.${k}: not in the schema`);
      } else errs.push(...validateRecord(v, root, ps, `${path}.${k}`));
    }
  }
  return errs;
}
