/** The display-filter language: parsing, errors with positions, every field, value kinds. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter } from './compile.js';
import { DisplayFilterError, caretLines } from './errors.js';
import { FIELDS } from './fields.js';
import { parseFilter } from './parser.js';
import { FilterPacket } from './packet.js';

function problem(expr: string): { message: string; position: number; length: number } {
  try {
    compileFilter(expr);
  } catch (err) {
    assert.ok(err instanceof DisplayFilterError, `${expr}: ${String(err)}`);
    return err.problem;
  }
  assert.fail(`"${expr}" compiled but should not`);
}

describe('parser', () => {
  it('gives and precedence over or, not over and, and honours parentheses', () => {
    assert.deepEqual(parseFilter('a or b and not c'), {
      type: 'or',
      left: { type: 'exists', field: { name: 'a', position: 0, length: 1 } },
      right: { type: 'and', left: { type: 'exists', field: { name: 'b', position: 5, length: 1 } }, right: { type: 'not', expr: { type: 'exists', field: { name: 'c', position: 15, length: 1 } } } },
    });
    const p = parseFilter('(a || b) && !c');
    assert.equal(p.type, 'and');
  });

  it('reads sets with commas, spaces and ranges', () => {
    const p = parseFilter('tcp.port in {80 443, 8000..8999}');
    assert.equal(p.type, 'in');
    if (p.type === 'in') assert.deepEqual(p.items.map((i) => i.kind), ['value', 'value', 'range']);
  });
});

describe('errors name the problem and its position', () => {
  const cases: [string, RegExp, number, number][] = [
    ['ip.sorc == 10.0.0.1', /unknown field "ip\.sorc" at 0: did you mean ip\.src\?/, 0, 7],
    ['tcp and tcp.prot == 80', /did you mean tcp\.port\?/, 8, 8],
    ['tcp.port = 80', /"=" is not an operator: use "=="/, 9, 1],
    ['tcp.port == ', /needs a value/, 12, 1],
    ['(tcp', /expected "\)" to close the "\(" at 0/, 4, 1],
    ['tcp)', /"\)" without a matching "\("/, 3, 1],
    ['', /the filter is empty/, 0, 1],
    ['tcp.port == "80"', /tcp\.port is a number; "80" is not a whole number/, 12, 4],
    ['tcp.port == http', /is not a whole number/, 12, 4],
    ['ip.addr == 10.0.0.300', /not an IPv4 address/, 11, 10],
    ['ip.addr == 10.0.0.0/33', /not a prefix length 0\.\.32/, 11, 11],
    ['ip.addr > 10.0.0.0/8', /cannot compare with a network/, 10, 10],
    ['ipv6.addr == 1:2:3', /not an IPv6 address/, 13, 5],
    ['eth.src == 00:11:22', /not a MAC address/, 11, 8],
    ['dns.qry.name matches "("', /invalid regular expression/, 21, 3],
    ['tcp.port matches "8"', /"matches" works on text fields/, 17, 3],
    ['tcp == 1', /tcp is a protocol: test it alone/, 4, 2],
    ['"abc" == tcp', /expected a field or protocol name/, 0, 5],
    ['10.0.0.1 == ip.src', /is a value, not a field/, 0, 8],
    ['tcp.port 80', /expected an operator/, 9, 2],
    ['tcp & udp', /"&" is not an operator: use "&&"/, 4, 1],
    ['dns.qry.name == "abc', /string has no closing quote/, 16, 4],
    ['len(frame) > 3', /functions are not supported/, 0, 3],
    ['tcp.port in {}', /empty set/, 13, 1],
    ['tcp.port in {80 ..90}', /a range needs a lower bound/, 16, 4],
    ['tcp.flags.syn == 2', /is a flag .* not 0, 1, true or false/, 17, 1],
    ['tcp udp', /expected an operator/, 4, 3],
  ];
  for (const [expr, re, pos, len] of cases) {
    it(JSON.stringify(expr), () => {
      const p = problem(expr);
      assert.match(p.message, re);
      assert.equal(p.position, pos, `position of ${JSON.stringify(expr)}: ${p.message}`);
      assert.equal(p.length, len, `length of ${JSON.stringify(expr)}`);
    });
  }

  it('prints a caret under the problem', () => {
    const p = problem('tcp and ip.sorc == 1');
    assert.equal(caretLines('tcp and ip.sorc == 1', p), '  tcp and ip.sorc == 1\n          ^~~~~~~');
  });
});

describe('every field', () => {
  it('compiles alone and in a comparison of its kind, and its getters run on an empty packet', () => {
    const sample: Record<string, string> = { uint: '1', bool: '1', float: '0.5', ipv4: '10.0.0.1', ipv6: 'fe80::1', mac: '00:11:22:33:44:55', string: '"x"' };
    const p = new FilterPacket();
    p.set(new Uint8Array(0), 0, 0, 0, 1);
    for (const f of FIELDS.values()) {
      const exists = compileFilter(f.name);
      assert.equal(typeof exists.test(p), 'boolean', f.name);
      if (f.type === 'proto') {
        assert.equal(typeof compileFilter(`${f.name} contains "x"`).test(p), 'boolean', f.name);
        continue;
      }
      const c = compileFilter(`${f.name} == ${sample[f.type]}`);
      assert.equal(c.test(p), false, `${f.name} on an empty packet`);
      const alwaysThere = f.name.startsWith('frame.') || f.name === 'capture_point';
      if (!alwaysThere) assert.equal(compileFilter(`${f.name} != ${sample[f.type]}`).test(p), false, `${f.name} != on an empty packet (absent field)`);
      assert.ok(f.description.length >= 3, f.name);
    }
  });

  it('accepts the word forms and Wireshark aliases', () => {
    for (const e of ['tcp.port eq 80 and udp.port ne 53', 'not tcp or udp', 'frame.len ge 60 && frame.len le 1500', 'ip.src gt 10.0.0.1 || ip.src lt 10.0.0.1', 'tcp.flags.syn == true', 'dns.qry.name ~ "(?i)EXAMPLE"', 'tcp.port any_eq 80', 'ip.addr all_ne 10.0.0.1', 'tcp.port !== 80', 'ip.addr === 10.0.0.1']) {
      assert.doesNotThrow(() => compileFilter(e), e);
    }
  });

  it('marks a filter that needs tcp.stream', () => {
    assert.equal(compileFilter('tcp.stream == 3').needsStream, true);
    assert.equal(compileFilter('tcp.port == 3').needsStream, false);
  });
});
