/**
 * Tokens of the display-filter language (docs/filters.md). Wireshark's lexical rules where it has
 * them: an unquoted word is a run of letters, digits and `_ . : / -` (so `10.0.0.0/8`,
 * `fe80::1`, `aa:bb:cc:dd:ee:ff` and `ip.src` are single words); strings are double-quoted with
 * C escapes; operators have a symbol and a word form (`==`/`eq`, `&&`/`and`, ...).
 */
import { DisplayFilterError } from './errors.js';

export type TokenKind = 'word' | 'string' | 'op' | 'lparen' | 'rparen' | 'lbrace' | 'rbrace' | 'comma' | 'and' | 'or' | 'not' | 'in' | 'eof';

export interface Token {
  kind: TokenKind;
  /** op: the canonical operator (==, !=, ===, ~=, <, <=, >, >=, contains, matches); word/string: the text. */
  text: string;
  position: number;
  length: number;
}

const WORD_OPS: Record<string, string> = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=', contains: 'contains', matches: 'matches', any_eq: '==', all_ne: '!=', all_eq: '===', any_ne: '~=' };
const SYMBOL_OPS = ['===', '!==', '==', '!=', '~=', '<=', '>=', '<', '>', '~'];

function isWordChar(c: string): boolean {
  return /[A-Za-z0-9_.:/-]/.test(c);
}

export function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fail = (message: string, position: number, length = 1): never => {
    throw new DisplayFilterError(expr, { message, position, length });
  };
  while (i < expr.length) {
    const c = expr[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '(' || c === ')' || c === '{' || c === '}' || c === ',') {
      out.push({ kind: c === '(' ? 'lparen' : c === ')' ? 'rparen' : c === '{' ? 'lbrace' : c === '}' ? 'rbrace' : 'comma', text: c, position: i, length: 1 });
      i++;
      continue;
    }
    if (c === '&' || c === '|') {
      if (expr[i + 1] !== c) fail(`"${c}" is not an operator: use "${c}${c}" (or "${c === '&' ? 'and' : 'or'}")`, i);
      out.push({ kind: c === '&' ? 'and' : 'or', text: c + c, position: i, length: 2 });
      i += 2;
      continue;
    }
    if (c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= expr.length) fail('string has no closing quote (")', start, expr.length - start);
        const ch = expr[i] as string;
        if (ch === '"') {
          i++;
          break;
        }
        if (ch === '\\') {
          const e = expr[i + 1];
          if (e === undefined) fail('string ends with a lone backslash', i);
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };
          if (e === 'x') {
            const h = expr.slice(i + 2, i + 4);
            if (!/^[0-9a-fA-F]{2}$/.test(h)) fail('\\x needs two hex digits', i, 2);
            s += String.fromCharCode(parseInt(h, 16));
            i += 4;
            continue;
          }
          const m = map[e as string];
          if (m === undefined) fail(`unknown escape \\${e}`, i, 2);
          s += m;
          i += 2;
          continue;
        }
        s += ch;
        i++;
      }
      out.push({ kind: 'string', text: s, position: start, length: i - start });
      continue;
    }
    if (c === '!' && expr[i + 1] !== '=') {
      out.push({ kind: 'not', text: '!', position: i, length: 1 });
      i++;
      continue;
    }
    const sym = SYMBOL_OPS.find((o) => expr.startsWith(o, i));
    if (sym !== undefined) {
      const canon = sym === '!==' ? '~=' : sym === '~' ? 'matches' : sym;
      out.push({ kind: 'op', text: canon, position: i, length: sym.length });
      i += sym.length;
      continue;
    }
    if (c === '=') fail('"=" is not an operator: use "==" to compare', i);
    if (isWordChar(c)) {
      while (i < expr.length && isWordChar(expr[i] as string)) i++;
      const w = expr.slice(start, i);
      const lw = w.toLowerCase();
      if (lw === 'and') out.push({ kind: 'and', text: w, position: start, length: w.length });
      else if (lw === 'or') out.push({ kind: 'or', text: w, position: start, length: w.length });
      else if (lw === 'not') out.push({ kind: 'not', text: w, position: start, length: w.length });
      else if (lw === 'in') out.push({ kind: 'in', text: w, position: start, length: w.length });
      else if (WORD_OPS[lw] !== undefined) out.push({ kind: 'op', text: WORD_OPS[lw], position: start, length: w.length });
      else out.push({ kind: 'word', text: w, position: start, length: w.length });
      continue;
    }
    fail(`unexpected character "${c}"`, i);
  }
  out.push({ kind: 'eof', text: '', position: expr.length, length: 0 });
  return out;
}
