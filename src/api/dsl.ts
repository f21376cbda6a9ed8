/**
 * A tiny schema DSL: one definition yields both the TypeScript type (via `Infer<>`) and the
 * Kubernetes structural OpenAPI v3 schema (via `toOpenAPI()`), so the CRD and the code cannot
 * drift apart. Only what CRDs need is supported.
 */

export type JSONSchemaProps = Record<string, unknown>;

/** A CEL rule for `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

interface Common {
  description?: string;
  validations?: CelRule[];
}

export interface StringNode<T extends string = string> extends Common {
  kind: 'string';
  enum?: readonly T[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  format?: 'date-time';
  default?: T;
  /** phantom, for inference only */
  _t?: T;
}
export interface IntNode extends Common {
  kind: 'integer';
  minimum?: number;
  maximum?: number;
  default?: number;
}
export interface BoolNode extends Common {
  kind: 'boolean';
  default?: boolean;
}
/** `x-kubernetes-int-or-string`: seed 002 writes "600" and "100M"; seed 003 writes 10. */
export interface IntOrStringNode extends Common {
  kind: 'int-or-string';
  /** applies to the string form only */
  pattern?: string;
  maxLength?: number;
}
export interface ObjectNode<P extends Record<string, SchemaNode> = Record<string, SchemaNode>, R extends keyof P = keyof P>
  extends Common {
  kind: 'object';
  properties: P;
  required: readonly R[];
  maxProperties?: number;
}
export interface MapNode<V extends SchemaNode = SchemaNode> extends Common {
  kind: 'map';
  values: V;
  maxProperties?: number;
}
export interface ArrayNode<I extends SchemaNode = SchemaNode> extends Common {
  kind: 'array';
  items: I;
  maxItems?: number;
  /** list-type=map with these keys: server-side apply merges entries by key (see status ownership). */
  listMapKeys?: readonly string[];
  listType?: 'atomic' | 'set';
}

export type SchemaNode = StringNode<string> | IntNode | BoolNode | IntOrStringNode | ObjectNode | MapNode | ArrayNode;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

export type Infer<N> = N extends StringNode<infer T>
  ? T
  : N extends IntNode
    ? number
    : N extends BoolNode
      ? boolean
      : N extends IntOrStringNode
        ? number | string
        : N extends ArrayNode<infer I>
          ? Infer<I>[]
          : N extends MapNode<infer V>
            ? Record<string, Infer<V>>
            : N extends ObjectNode<infer P, infer R>
              ? Simplify<{ [K in R & keyof P]: Infer<P[K]> } & { [K in Exclude<keyof P, R>]?: Infer<P[K]> }>
              : never;

type Opts<N> = Omit<N, 'kind' | '_t' | 'properties' | 'required' | 'items' | 'values'>;

export const s = {
  string: (o: Opts<StringNode> = {}): StringNode => ({ kind: 'string', ...o }),
  enum: <const T extends string>(values: readonly T[], o: Opts<StringNode<T>> = {}): StringNode<T> => ({
    kind: 'string',
    enum: values,
    ...o,
  }),
  int: (o: Opts<IntNode> = {}): IntNode => ({ kind: 'integer', ...o }),
  bool: (o: Opts<BoolNode> = {}): BoolNode => ({ kind: 'boolean', ...o }),
  intOrString: (o: Opts<IntOrStringNode> = {}): IntOrStringNode => ({ kind: 'int-or-string', ...o }),
  object: <P extends Record<string, SchemaNode>, R extends keyof P = never>(
    properties: P,
    o: Opts<ObjectNode<P, R>> & { required?: readonly R[] } = {},
  ): ObjectNode<P, R> => ({ kind: 'object', properties, required: o.required ?? [], ...o }),
  map: <V extends SchemaNode>(values: V, o: Opts<MapNode<V>> = {}): MapNode<V> => ({ kind: 'map', values, ...o }),
  array: <I extends SchemaNode>(items: I, o: Opts<ArrayNode<I>> = {}): ArrayNode<I> => ({ kind: 'array', items, ...o }),
};

function common(n: Common, out: JSONSchemaProps): JSONSchemaProps {
  if (n.description) out.description = n.description;
  if (n.validations && n.validations.length > 0) out['x-kubernetes-validations'] = n.validations.map((v) => ({ ...v }));
  return out;
}

/** Renders a node as a Kubernetes structural schema (apiextensions.k8s.io/v1 JSONSchemaProps). */
export function toOpenAPI(n: SchemaNode): JSONSchemaProps {
  switch (n.kind) {
    case 'string': {
      const o: JSONSchemaProps = { type: 'string' };
      if (n.enum) o.enum = [...n.enum];
      if (n.pattern !== undefined) o.pattern = n.pattern;
      if (n.minLength !== undefined) o.minLength = n.minLength;
      if (n.maxLength !== undefined) o.maxLength = n.maxLength;
      if (n.format) o.format = n.format;
      if (n.default !== undefined) o.default = n.default;
      return common(n, o);
    }
    case 'integer': {
      const o: JSONSchemaProps = { type: 'integer', format: 'int64' };
      if (n.minimum !== undefined) o.minimum = n.minimum;
      if (n.maximum !== undefined) o.maximum = n.maximum;
      if (n.default !== undefined) o.default = n.default;
      return common(n, o);
    }
    case 'boolean': {
      const o: JSONSchemaProps = { type: 'boolean' };
      if (n.default !== undefined) o.default = n.default;
      return common(n, o);
    }
    case 'int-or-string': {
      const o: JSONSchemaProps = { 'x-kubernetes-int-or-string': true };
      if (n.pattern !== undefined) o.pattern = n.pattern;
      if (n.maxLength !== undefined) o.maxLength = n.maxLength;
      return common(n, o);
    }
    case 'object': {
      const props: Record<string, JSONSchemaProps> = {};
      for (const [k, v] of Object.entries(n.properties)) props[k] = toOpenAPI(v);
      const o: JSONSchemaProps = { type: 'object', properties: props };
      if (n.required.length > 0) o.required = n.required.map(String);
      if (n.maxProperties !== undefined) o.maxProperties = n.maxProperties;
      return common(n, o);
    }
    case 'map': {
      const o: JSONSchemaProps = { type: 'object', additionalProperties: toOpenAPI(n.values) };
      if (n.maxProperties !== undefined) o.maxProperties = n.maxProperties;
      return common(n, o);
    }
    case 'array': {
      const o: JSONSchemaProps = { type: 'array', items: toOpenAPI(n.items) };
      if (n.maxItems !== undefined) o.maxItems = n.maxItems;
      if (n.listMapKeys) {
        o['x-kubernetes-list-type'] = 'map';
        o['x-kubernetes-list-map-keys'] = [...n.listMapKeys];
      } else if (n.listType) {
        o['x-kubernetes-list-type'] = n.listType;
      }
      return common(n, o);
    }
  }
}
