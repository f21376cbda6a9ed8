/**
 * Compiles a display-filter AST to a predicate over a {@link FilterPacket}: field names are
 * resolved against {@link FIELDS}, values are parsed once for the field's type (numbers, IPv4/IPv6
 * with an optional /prefix, MACs, strings, regular expressions), so evaluating a packet only reads
 * bytes and compares numbers.
 */
import { DisplayFilterError } from './errors.js';
import { FIELDS, suggestField, type FieldDef, type FieldType, type FieldValue, type Getter } from './fields.js';
import type { FilterPacket } from './packet.js';
import { parseFilter, type FilterAst, type NameRef, type ValueRef } from './parser.js';

export interface CompiledFilter {
  readonly expression: string;
  /** true when the packet matches */
  readonly test: (p: FilterPacket) => boolean;
  /** the filter uses tcp.stream: the caller must set {@link FilterPacket.stream} */
  readonly needsStream: boolean;
  /** field names used (for tools) */
  readonly fields: readonly string[];
}

type ValueTest = (p: FilterPacket, v: number | string) => boolean;

const OP_WORDS = ['==', '!=', '===', '~=', '<', '<=', '>', '>=', 'contains', 'matches'];

function parseUint(s: string): number | undefined {
  if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s.slice(2), 16);
  if (/^0[0-7]+$/.test(s)) return parseInt(s.slice(1), 8);
  if (/^\d+$/.test(s)) return Number(s);
  return undefined;
}

function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((x) => x > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** 16 bytes of an IPv6 address in text form, or undefined. */
export function parseIPv6(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const part of h.split(':')) {
      if (part.includes('.')) {
        const v4 = parseIPv4(part);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) out.push(parseInt(part, 16));
      else return undefined;
    }
    return out;
  };
  const a = words(halves[0]!);
  const b = halves.length === 2 ? words(halves[1]!) : [];
  if (a === undefined || b === undefined) return undefined;
  const fill = 8 - a.length - b.length;
  if ((halves.length === 1 && fill !== 0) || (halves.length === 2 && fill < 1)) return undefined;
  const all = [...a, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...b];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 255;
  });
  return out;
}

function parseMac(s: string): Uint8Array | undefined {
  const parts = s.split(/[:\-.]/);
  let hex: string;
  if (parts.length === 6 && parts.every((x) => /^[0-9a-fA-F]{1,2}$/.test(x))) hex = parts.map((x) => x.padStart(2, '0')).join('');
  else if (parts.length === 3 && parts.every((x) => /^[0-9a-fA-F]{4}$/.test(x))) hex = parts.join('');
  else return undefined;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** Bytes for `contains` on a protocol: a quoted string, or hex bytes aa:bb:cc. */
function parseBytes(v: ValueRef): Uint8Array | undefined {
  if (v.quoted) return Uint8Array.from(Buffer.from(v.text, 'latin1'));
  if (/^[0-9a-fA-F]{2}([:\-.][0-9a-fA-F]{2})*$/.test(v.text)) return Uint8Array.from(Buffer.from(v.text.replace(/[:\-.]/g, ''), 'hex'));
  return undefined;
}

function indexOfBytes(b: Uint8Array, from: number, to: number, needle: Uint8Array): boolean {
  const n = needle.length;
  if (n === 0) return true;
  const first = needle[0]!;
  outer: for (let i = from; i + n <= to; i++) {
    if (b[i] !== first) continue;
    for (let k = 1; k < n; k++) if (b[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}

function compileRegex(expr: string, v: ValueRef): RegExp {
  let src = v.text;
  let flags = 's';
  if (src.startsWith('(?i)')) {
    src = src.slice(4);
    flags += 'i';
  }
  try {
    return new RegExp(src, flags);
  } catch (err) {
    throw new DisplayFilterError(expr, { message: `invalid regular expression: ${(err as Error).message}`, position: v.position, length: v.length }, { cause: err });
  }
}

export function compileFilter(expression: string): CompiledFilter {
  const ast = parseFilter(expression);
  let needsStream = false;
  const used = new Set<string>();
  const fail = (message: string, at: { position: number; length: number }): never => {
    throw new DisplayFilterError(expression, { message, position: at.position, length: Math.max(1, at.length) });
  };

  const field = (ref: NameRef): FieldDef => {
    const f = FIELDS.get(ref.name) ?? FIELDS.get(ref.name.toLowerCase());
    if (f === undefined) {
      if (OP_WORDS.includes(ref.name)) fail(`expected a field or protocol name before "${ref.name}"`, ref);
      if (/^[\d"]/.test(ref.name) || /^\d+\.\d+\.\d+\.\d+/.test(ref.name)) fail(`"${ref.name}" is a value, not a field: write the field first, e.g. ip.addr == ${ref.name}`, ref);
      const s = suggestField(ref.name);
      return fail(`unknown field "${ref.name}" at ${ref.position}${s ? `: did you mean ${s}?` : ': see docs/filters.md for the fields'}`, ref);
    }
    used.add(f.name);
    if (f.needsStream) needsStream = true;
    return f;
  };

  /** value -> test of one field value */
  const valueTest = (f: FieldDef, op: string, v: ValueRef): ValueTest => {
    const t = f.type;
    const bad = (what: string): never => fail(`${f.name} is ${describeType(t)}; "${v.text}" is not ${what}`, v);
    if (op === 'matches') {
      if (t !== 'string') fail(`"matches" works on text fields; ${f.name} is ${describeType(t)}`, v);
      const re = compileRegex(expression, v);
      return (_p, x) => re.test(x as string);
    }
    if (op === 'contains') {
      if (t === 'string') {
        const s = v.text;
        return (_p, x) => (x as string).includes(s);
      }
      fail(`"contains" works on text fields and protocols; ${f.name} is ${describeType(t)}`, v);
    }
    switch (t) {
      case 'uint':
      case 'bool': {
        let n = parseUint(v.text);
        if (t === 'bool' && n === undefined) {
          const l = v.text.toLowerCase();
          if (l === 'true') n = 1;
          else if (l === 'false') n = 0;
        }
        if (n === undefined || v.quoted || (t === 'bool' && n > 1)) bad(t === 'bool' ? '0, 1, true or false' : 'a whole number');
        return numericTest(op, n as number);
      }
      case 'float': {
        const n = Number(v.text);
        if (v.quoted || v.text === '' || !Number.isFinite(n)) bad('a number');
        return numericTest(op, n);
      }
      case 'ipv4': {
        const [addr, prefixText] = v.text.split('/', 2) as [string, string | undefined];
        const a = parseIPv4(addr);
        if (a === undefined) bad('an IPv4 address (a.b.c.d or a.b.c.d/prefix)');
        let prefix = 32;
        if (prefixText !== undefined) {
          const pl = parseUint(prefixText);
          if (pl === undefined || pl > 32) fail(`"/${prefixText}" is not a prefix length 0..32`, v);
          prefix = pl as number;
        }
        const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
        const net = ((a as number) & mask) >>> 0;
        if (prefix < 32) {
          if (op !== '==' && op !== '!=' && op !== '===' && op !== '~=') fail(`"${op}" cannot compare with a network; use == or !=`, v);
          const eq: ValueTest = (_p, x) => (((x as number) & mask) >>> 0) === net;
          return op === '~=' ? (p, x) => !eq(p, x) : eq;
        }
        return numericTest(op, a as number);
      }
      case 'ipv6': {
        const [addr, prefixText] = v.text.split('/', 2) as [string, string | undefined];
        const a = parseIPv6(addr);
        if (a === undefined) bad('an IPv6 address (e.g. fe80::1 or 2001:db8::/32)');
        let prefix = 128;
        if (prefixText !== undefined) {
          const pl = parseUint(prefixText);
          if (pl === undefined || pl > 128) fail(`"/${prefixText}" is not a prefix length 0..128`, v);
          prefix = pl as number;
        }
        if (op !== '==' && op !== '!=' && op !== '===' && op !== '~=') fail(`"${op}" is not defined for IPv6 addresses; use == or !=`, v);
        const addrBytes = a as Uint8Array;
        const eq: ValueTest = (p, x) => {
          const o = x as number;
          const b = p.b;
          let bits = prefix;
          for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
            const m = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
            if ((b[o + i]! & m) !== (addrBytes[i]! & m)) return false;
          }
          return true;
        };
        return op === '~=' ? (p, x) => !eq(p, x) : eq;
      }
      case 'mac': {
        const m = parseMac(v.text);
        if (m === undefined) bad('a MAC address (aa:bb:cc:dd:ee:ff)');
        if (op !== '==' && op !== '!=' && op !== '===' && op !== '~=') fail(`"${op}" is not defined for MAC addresses; use == or !=`, v);
        const mb = m as Uint8Array;
        const eq: ValueTest = (p, x) => {
          const o = x as number;
          for (let i = 0; i < 6; i++) if (p.b[o + i] !== mb[i]) return false;
          return true;
        };
        return op === '~=' ? (p, x) => !eq(p, x) : eq;
      }
      case 'string': {
        const s = v.text;
        switch (op) {
          case '==':
          case '!=':
          case '===':
            return (_p, x) => x === s;
          case '~=':
            return (_p, x) => x !== s;
          case '<':
            return (_p, x) => (x as string) < s;
          case '<=':
            return (_p, x) => (x as string) <= s;
          case '>':
            return (_p, x) => (x as string) > s;
          case '>=':
            return (_p, x) => (x as string) >= s;
        }
        break;
      }
      case 'proto':
        break;
    }
    return fail(`"${op}" cannot be used here`, v);
  };

  const combine = (getters: Getter[], op: string, vt: ValueTest): ((p: FilterPacket) => boolean) => {
    const any = (p: FilterPacket): boolean => {
      for (let i = 0; i < getters.length; i++) {
        const x = getters[i]!(p);
        if (x !== undefined && vt(p, x)) return true;
      }
      return false;
    };
    if (op === '!=' || op === '===') {
      // Wireshark 4: "a != b" is "all_ne": the field is present and no occurrence equals b
      const want = op === '===';
      return (p) => {
        let seen = false;
        for (let i = 0; i < getters.length; i++) {
          const x = getters[i]!(p);
          if (x === undefined) continue;
          seen = true;
          if (vt(p, x) !== want) return false;
        }
        return seen;
      };
    }
    if (getters.length === 1) {
      const g = getters[0]!;
      return (p) => {
        const x = g(p);
        return x !== undefined && vt(p, x);
      };
    }
    return any;
  };

  const build = (n: FilterAst): ((p: FilterPacket) => boolean) => {
    switch (n.type) {
      case 'and': {
        const l = build(n.left);
        const r = build(n.right);
        return (p) => l(p) && r(p);
      }
      case 'or': {
        const l = build(n.left);
        const r = build(n.right);
        return (p) => l(p) || r(p);
      }
      case 'not': {
        const e = build(n.expr);
        return (p) => !e(p);
      }
      case 'exists': {
        const f = field(n.field);
        const gs = f.getters;
        if (gs.length === 1) {
          const g = gs[0]!;
          return (p) => g(p) !== undefined;
        }
        return (p) => gs.some((g) => g(p) !== undefined);
      }
      case 'compare': {
        const f = field(n.field);
        if (f.type === 'proto') {
          if (n.op !== 'contains') fail(`${f.name} is a protocol: test it alone ("${f.name}") or with "contains"`, { position: n.opPosition, length: n.op.length });
          const bytes = parseBytes(n.value);
          if (bytes === undefined) fail('"contains" on a protocol needs a quoted string or hex bytes like 47:45:54', n.value);
          const start = f.start ?? ((p: FilterPacket) => p.off);
          const g = f.getters[0]!;
          const needle = bytes as Uint8Array;
          return (p) => {
            if (g(p) === undefined) return false;
            const s = start(p);
            return s >= 0 && indexOfBytes(p.b, s, p.off + p.caplen, needle);
          };
        }
        return combine(f.getters, n.op, valueTest(f, n.op, n.value));
      }
      case 'in': {
        const f = field(n.field);
        if (f.type === 'proto') fail(`${f.name} is a protocol and has no value to look up in a set`, n.field);
        const tests: ValueTest[] = n.items.map((it) => {
          if (it.kind === 'value') return valueTest(f, '==', it.value);
          if (f.type !== 'uint' && f.type !== 'float' && f.type !== 'ipv4') fail(`ranges work on numbers and IPv4 addresses; ${f.name} is ${describeType(f.type)}`, it.low);
          const lo = valueTest(f, '>=', it.low);
          const hi = valueTest(f, '<=', it.high);
          return (p, x) => lo(p, x) && hi(p, x);
        });
        const inSet: ValueTest = (p, x) => {
          for (let i = 0; i < tests.length; i++) if (tests[i]!(p, x)) return true;
          return false;
        };
        return combine(f.getters, '==', inSet);
      }
    }
  };

  const test = build(ast);
  return { expression, test, needsStream, fields: [...used] };
}

function numericTest(op: string, n: number): ValueTest {
  switch (op) {
    case '==':
    case '!=':
    case '===':
      return (_p, x) => x === n;
    case '~=':
      return (_p, x) => x !== n;
    case '<':
      return (_p, x) => (x as number) < n;
    case '<=':
      return (_p, x) => (x as number) <= n;
    case '>':
      return (_p, x) => (x as number) > n;
    case '>=':
      return (_p, x) => (x as number) >= n;
  }
  return () => false;
}

function describeType(t: FieldType): string {
  switch (t) {
    case 'uint':
      return 'a number';
    case 'bool':
      return 'a flag (0 or 1)';
    case 'float':
      return 'a number (seconds)';
    case 'ipv4':
      return 'an IPv4 address';
    case 'ipv6':
      return 'an IPv6 address';
    case 'mac':
      return 'a MAC address';
    case 'string':
      return 'text';
    case 'proto':
      return 'a protocol';
  }
}

export type { FieldValue };
