/**
 * Parser of the display-filter language to an AST (docs/filters.md). Precedence, highest first:
 * `not`/`!`, `and`/`&&`, `or`/`||` (as in Wireshark 4); parentheses group. A test is a field alone
 * (present in the packet), `field OP value` or `field in {v1, v2, lo..hi}`. Field names are checked
 * by the compiler, which knows them; the parser only checks the shape.
 */
import { DisplayFilterError } from './errors.js';
import { tokenize, type Token } from './lexer.js';

export interface NameRef {
  name: string;
  position: number;
  length: number;
}

export interface ValueRef {
  text: string;
  /** true when the value was written as a quoted string */
  quoted: boolean;
  position: number;
  length: number;
}

export type SetItem = { kind: 'value'; value: ValueRef } | { kind: 'range'; low: ValueRef; high: ValueRef };

export type FilterAst =
  | { type: 'and' | 'or'; left: FilterAst; right: FilterAst }
  | { type: 'not'; expr: FilterAst }
  | { type: 'exists'; field: NameRef }
  | { type: 'compare'; field: NameRef; op: string; opPosition: number; value: ValueRef }
  | { type: 'in'; field: NameRef; items: SetItem[] };

export function parseFilter(expr: string): FilterAst {
  const toks = tokenize(expr);
  let i = 0;
  const peek = (): Token => toks[i] as Token;
  const next = (): Token => toks[i++] as Token;
  const fail = (message: string, t: Token): never => {
    throw new DisplayFilterError(expr, { message, position: t.position, length: Math.max(1, t.length) });
  };
  const describe = (t: Token): string => (t.kind === 'eof' ? 'the end of the filter' : `"${expr.slice(t.position, t.position + t.length)}"`);

  const parseOr = (): FilterAst => {
    let left = parseAnd();
    while (peek().kind === 'or') {
      next();
      left = { type: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): FilterAst => {
    let left = parseUnary();
    while (peek().kind === 'and') {
      next();
      left = { type: 'and', left, right: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): FilterAst => {
    if (peek().kind === 'not') {
      next();
      return { type: 'not', expr: parseUnary() };
    }
    return parsePrimary();
  };
  const value = (): ValueRef => {
    const t = next();
    if (t.kind === 'word' || t.kind === 'string') return { text: t.text, quoted: t.kind === 'string', position: t.position, length: t.length };
    return fail(`expected a value, found ${describe(t)}`, t);
  };
  const parsePrimary = (): FilterAst => {
    const t = next();
    if (t.kind === 'lparen') {
      if (peek().kind === 'rparen') fail('empty parentheses: put a test inside, e.g. (tcp.port == 80)', peek());
      const e = parseOr();
      const close = next();
      if (close.kind !== 'rparen') fail(`expected ")" to close the "(" at ${t.position}, found ${describe(close)}`, close);
      return e;
    }
    if (t.kind === 'eof') {
      if (t.position === 0) fail('the filter is empty: write a test such as "tcp" or "ip.addr == 10.0.0.1"', t);
      fail('the filter ends where a test was expected', t);
    }
    if (t.kind !== 'word') fail(`expected a field or protocol name, found ${describe(t)}`, t);
    const field: NameRef = { name: t.text, position: t.position, length: t.length };
    const o = peek();
    if (o.kind === 'op') {
      next();
      const v = peek();
      if (v.kind !== 'word' && v.kind !== 'string') fail(`"${o.text}" needs a value after it, found ${describe(v)}`, v);
      return { type: 'compare', field, op: o.text, opPosition: o.position, value: value() };
    }
    if (o.kind === 'in') {
      next();
      const open = next();
      if (open.kind !== 'lbrace') fail(`"in" needs a set in braces, e.g. {80, 443}; found ${describe(open)}`, open);
      const items: SetItem[] = [];
      for (;;) {
        const p = peek();
        if (p.kind === 'rbrace') {
          if (items.length === 0) fail('empty set: list at least one value', p);
          next();
          break;
        }
        if (p.kind === 'comma') {
          next();
          continue;
        }
        if (p.kind === 'eof') fail('the set has no closing "}"', open);
        const v = value();
        const dots = v.quoted ? -1 : v.text.indexOf('..');
        if (dots === 0) fail('a range needs a lower bound, e.g. 8000..8999', { ...p, position: v.position, length: v.length });
        if (dots > 0) {
          const low: ValueRef = { text: v.text.slice(0, dots), quoted: false, position: v.position, length: dots };
          const high: ValueRef = { text: v.text.slice(dots + 2), quoted: false, position: v.position + dots + 2, length: v.length - dots - 2 };
          if (high.text === '') fail('a range needs an upper bound, e.g. 8000..8999', { ...p, position: v.position, length: v.length });
          items.push({ kind: 'range', low, high });
        } else items.push({ kind: 'value', value: v });
      }
      return { type: 'in', field, items };
    }
    if (o.kind === 'lparen') fail(`functions are not supported: "${t.text}(" (see docs/filters.md for what is)`, t);
    if (o.kind === 'word' || o.kind === 'string') fail(`expected an operator (==, !=, <, >, contains, matches, in, and, or) after "${t.text}", found ${describe(o)}`, o);
    return { type: 'exists', field };
  };

  const ast = parseOr();
  const rest = peek();
  if (rest.kind !== 'eof') {
    if (rest.kind === 'rparen') fail('")" without a matching "("', rest);
    fail(`expected "and", "or" or the end of the filter, found ${describe(rest)}`, rest);
  }
  return ast;
}
