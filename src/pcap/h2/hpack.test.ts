// HPACK decoder against every example of RFC 7541 Appendix C (C.2 to C.6), plus Huffman codes
// from Appendix B and malformed input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackError, HUFFMAN_CODES, huffmanDecode } from './hpack.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const REQ1 = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQ2 = [...REQ1, ['cache-control', 'no-cache']];
const REQ3 = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];
const RESP1 = [
  [':status', '302'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
  ['location', 'https://www.example.com'],
];
const RESP2 = [[':status', '307'], ...RESP1.slice(1)];
const RESP3 = [
  [':status', '200'],
  ['cache-control', 'private'],
  ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
  ['location', 'https://www.example.com'],
  ['content-encoding', 'gzip'],
  ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
];

function run(d: HpackDecoder, blocks: string[], want: string[][][], sizes: number[]): void {
  blocks.forEach((b, i) => {
    assert.deepEqual(d.decode(hex(b)), want[i], `block ${i + 1}`);
    assert.equal(d.tableSize, sizes[i], `table size after block ${i + 1}`);
  });
}

describe('HPACK (RFC 7541 Appendix C)', () => {
  it('C.2.1-C.2.4 single representations', () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')), [['custom-key', 'custom-header']]);
    assert.equal(d.tableSize, 55);
    assert.deepEqual(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468')), [[':path', '/sample/path']]);
    assert.deepEqual(d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')), [['password', 'secret']]);
    assert.deepEqual(d.decode(hex('82')), [[':method', 'GET']]);
    assert.equal(d.tableSize, 55, 'only the literal with incremental indexing was added');
  });

  it('C.3 requests without Huffman coding', () => {
    run(new HpackDecoder(), ['828684410f7777772e6578616d706c652e636f6d', '828684be58086e6f2d6361636865', '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'], [REQ1, REQ2, REQ3], [57, 110, 164]);
  });

  it('C.4 requests with Huffman coding', () => {
    const d = new HpackDecoder();
    run(d, ['828684418cf1e3c2e5f23a6ba0ab90f4ff', '828684be5886a8eb10649cbf', '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'], [REQ1, REQ2, REQ3], [57, 110, 164]);
    assert.deepEqual(d.entries(), [
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ]);
  });

  it('C.5 responses without Huffman coding (table of 256 octets: evictions)', () => {
    const d = new HpackDecoder(256);
    run(
      d,
      [
        '4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d',
        '4803333037c1c0bf',
        '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31',
      ],
      [RESP1, RESP2, RESP3],
      [222, 222, 215],
    );
  });

  it('C.6 responses with Huffman coding', () => {
    const d = new HpackDecoder(256);
    run(
      d,
      [
        '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3',
        '4883640effc1c0bf',
        '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
      ],
      [RESP1, RESP2, RESP3],
      [222, 222, 215],
    );
    assert.deepEqual(d.entries(), [
      ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
      ['content-encoding', 'gzip'],
      ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
    ]);
  });

  it('dynamic table size update evicts and limits', () => {
    const d = new HpackDecoder();
    d.decode(hex('400a637573746f6d2d6b65790d637573746f6d2d686561646572'));
    assert.equal(d.tableSize, 55);
    assert.deepEqual(d.decode(hex('20')), []); // size update to 0: table emptied
    assert.equal(d.tableSize, 0);
    assert.throws(() => d.decode(hex('be')), HpackError); // index 62 no longer exists
    assert.throws(() => new HpackDecoder().decode(hex('3fe1ff03')), /above the limit/); // 65536 > 4096
  });

  it('Huffman codes match Appendix B samples; bad padding and EOS are errors', () => {
    assert.equal(HUFFMAN_CODES[48], 0x0); // '0' 00000
    assert.equal(HUFFMAN_CODES[97], 0x3); // 'a' 00011
    assert.equal(HUFFMAN_CODES[0], 0x1ff8);
    assert.equal(HUFFMAN_CODES[255], 0x3ffffee);
    assert.equal(HUFFMAN_CODES[256], 0x3fffffff); // EOS
    assert.equal(huffmanDecode(hex('f1e3c2e5f23a6ba0ab90f4ff'), 0, 12), 'www.example.com');
    assert.throws(() => huffmanDecode(hex('f1e3c2e5f23a6ba0ab90f4fe'), 0, 12), /padding/);
    assert.throws(() => huffmanDecode(hex('ffffffff'), 0, 4), /EOS|padding/);
  });

  it('truncated blocks are errors, not garbage', () => {
    assert.throws(() => new HpackDecoder().decode(hex('410f7777')), /longer than the header block/);
    assert.throws(() => new HpackDecoder().decode(hex('ff')), /inside an integer/);
  });
});
