// Hand-built packets for the decoders, checked against tshark: each case is written to a pcap with
// our writer and tshark's view of it (addresses, ports, protocols) must equal our decoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decoded, decodePacket, formatIPv6, srcAddress, dstAddress, LinkType } from './decode.js';
import { PcapWriter, fileSink } from './writer.js';
import { runTool } from '../../test/harness/pcap.js';

const tmp = mkdtempSync(join(tmpdir(), 'pcapper-decode-test-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

const ipv6src = '20010db8000000000000000000000001';
const ipv6dst = '20010db8000000000000000000000002';
const tcpHdr = (sp: number, dp: number) => hex(`${sp.toString(16).padStart(4, '0')}${dp.toString(16).padStart(4, '0')} 00000001 00000000 5002 ffff 0000 0000`);
const udpHdr = (sp: number, dp: number, len: number) => hex(`${sp.toString(16).padStart(4, '0')}${dp.toString(16).padStart(4, '0')}${(8 + len).toString(16).padStart(4, '0')}0000`);
function ipv6(nextHeader: number, payload: Buffer): Buffer {
  return Buffer.concat([hex(`60000000 ${payload.length.toString(16).padStart(4, '0')} ${nextHeader.toString(16).padStart(2, '0')} 40`), hex(ipv6src), hex(ipv6dst), payload]);
}
function ipv4(proto: number, payload: Buffer): Buffer {
  const h = hex(`4500 ${(20 + payload.length).toString(16).padStart(4, '0')} 0000 4000 40 ${proto.toString(16).padStart(2, '0')} 0000 0a000001 0a000002`);
  return Buffer.concat([h, payload]);
}
const eth = (type: string, tags = '') => hex(`020000000002 020000000001 ${tags} ${type}`);

interface Case {
  name: string;
  linkType: number;
  frame: Buffer;
  /** expected "src sport dst dport proto" */
  expect: string;
}

// IPv6: hop-by-hop (8 bytes) -> destination options (8) -> fragment (atomic: offset 0, M=0) -> TCP
const extChain = Buffer.concat([hex('3c00 010400000000'), hex('2c00 010400000000'), hex('06 00 0000 00000001'), tcpHdr(40000, 443)]);
const cases: Case[] = [
  { name: 'Ethernet + IPv4 + TCP', linkType: LinkType.ETHERNET, frame: Buffer.concat([eth('0800'), ipv4(6, tcpHdr(1234, 80))]), expect: '10.0.0.1 1234 10.0.0.2 80 6' },
  { name: '802.1ad + 802.1Q + IPv4 + UDP', linkType: LinkType.ETHERNET, frame: Buffer.concat([eth('0800', '88a8 00c8 8100 07d1'), ipv4(17, Buffer.concat([udpHdr(5353, 53, 4), hex('00000000')]))]), expect: '10.0.0.1 5353 10.0.0.2 53 17' },
  { name: 'Ethernet + IPv6 ext headers + TCP', linkType: LinkType.ETHERNET, frame: Buffer.concat([eth('86dd'), ipv6(0, extChain)]), expect: '2001:db8::1 40000 2001:db8::2 443 6' },
  { name: 'SLL + IPv6 + UDP', linkType: LinkType.LINUX_SLL, frame: Buffer.concat([hex('0000 0001 0006 020000000001 0000 86dd'), ipv6(17, Buffer.concat([udpHdr(1000, 2000, 2), hex('abcd')]))]), expect: '2001:db8::1 1000 2001:db8::2 2000 17' },
  { name: 'SLL2 + IPv4 + TCP', linkType: LinkType.LINUX_SLL2, frame: Buffer.concat([hex('0800 0000 00000002 0001 00 06 020000000001 0000'), ipv4(6, tcpHdr(22, 50000))]), expect: '10.0.0.1 22 10.0.0.2 50000 6' },
  { name: 'BSD NULL (host order) + IPv6 + TCP', linkType: LinkType.NULL, frame: Buffer.concat([hex('1e000000'), ipv6(6, tcpHdr(8080, 9090))]), expect: '2001:db8::1 8080 2001:db8::2 9090 6' },
  { name: 'raw IPv4 + UDP', linkType: LinkType.RAW, frame: ipv4(17, Buffer.concat([udpHdr(123, 123, 0)])), expect: '10.0.0.1 123 10.0.0.2 123 17' },
];

for (const c of cases) {
  test(`decode ${c.name} like tshark`, async () => {
    const d = new Decoded();
    assert.ok(decodePacket(c.frame, 0, c.frame.length, c.linkType, d));
    const ours = `${srcAddress(c.frame, d)} ${d.srcPort} ${dstAddress(c.frame, d)} ${d.dstPort} ${d.proto}`;
    assert.equal(ours, c.expect);
    const file = join(tmp, `${c.name.replace(/\W+/g, '_')}.pcap`);
    const w = new PcapWriter(fileSink(file), { linkType: c.linkType });
    w.writePacket(1_700_000_000, 0, c.frame);
    await w.end();
    const proto = d.proto === 6 ? 'tcp' : 'udp';
    const ipf = d.ipVersion === 6 ? 'ipv6' : 'ip';
    const t = runTool('tshark', ['-n', '-r', file, '-o', 'tcp.check_checksum:FALSE', '-T', 'fields', '-e', `${ipf}.src`, '-e', `${proto}.srcport`, '-e', `${ipf}.dst`, '-e', `${proto}.dstport`]).stdout.trim();
    assert.equal(t.split('\t').join(' '), ours.replace(/ \d+$/, ''));
  });
}

test('IPv6 text form follows RFC 5952', () => {
  assert.equal(formatIPv6(hex('20010db8000000000000000000000001'), 0), '2001:db8::1');
  assert.equal(formatIPv6(hex('fe800000000000000202b3fffe1e8329'), 0), 'fe80::202:b3ff:fe1e:8329');
  assert.equal(formatIPv6(hex('00000000000000000000000000000000'), 0), '::');
  assert.equal(formatIPv6(hex('20010db8000100000001000000000001'), 0), '2001:db8:1:0:1::1');
  assert.equal(formatIPv6(hex('00000000000000000000ffffc0000201'), 0), '::ffff:192.0.2.1');
});

test('a non-first fragment has no transport header; truncated headers decode partially', () => {
  const d = new Decoded();
  const frag = Buffer.concat([eth('0800'), hex('4500 0030 0000 0010 40 06 0000 0a000001 0a000002'), tcpHdr(1, 2)]);
  assert.ok(decodePacket(frag, 0, frag.length, LinkType.ETHERNET, d));
  assert.equal(d.fragment, true);
  assert.equal(d.transport, false);
  const short = Buffer.concat([eth('0800'), ipv4(6, tcpHdr(1, 2))]).subarray(0, 14 + 20 + 10);
  assert.ok(decodePacket(short, 0, short.length, LinkType.ETHERNET, d));
  assert.equal(d.ipVersion, 4);
  assert.equal(d.transport, false);
  assert.equal(decodePacket(short, 0, 10, LinkType.ETHERNET, d), false);
});
