import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PcapStreamParser, PcapStreamError } from './pcap-stream.js';

function stream(le: boolean, nanos: boolean): Buffer {
  const h = Buffer.alloc(24);
  const w32 = (b: Buffer, v: number, at: number): number => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  w32(h, nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  (le ? h.writeUInt16LE.bind(h) : h.writeUInt16BE.bind(h))(2, 4);
  (le ? h.writeUInt16LE.bind(h) : h.writeUInt16BE.bind(h))(4, 6);
  w32(h, 65535, 16);
  w32(h, 1, 20);
  const rec = (sec: number, frac: number, data: number[]): Buffer => {
    const r = Buffer.alloc(16 + data.length);
    w32(r, sec, 0);
    w32(r, frac, 4);
    w32(r, data.length, 8);
    w32(r, data.length + 10, 12);
    Buffer.from(data).copy(r, 16);
    return r;
  };
  return Buffer.concat([h, rec(100, 5, [1, 2, 3]), rec(101, 7, [4])]);
}

describe('PcapStreamParser', () => {
  for (const le of [true, false]) {
    for (const nanos of [false, true]) {
      it(`parses ${le ? 'little' : 'big'}-endian ${nanos ? 'ns' : 'us'} streams split at every byte`, () => {
        const s = stream(le, nanos);
        for (let split = 1; split < s.length; split++) {
          const p = new PcapStreamParser();
          const pk = [...p.push(s.subarray(0, split)), ...p.push(s.subarray(split))];
          assert.equal(pk.length, 2, `split ${split}`);
          assert.deepEqual(p.header, { littleEndian: le, nanos, snapLength: 65535, linkType: 1 });
          assert.deepEqual(pk.map((x) => [x.tsSec, x.tsNsec, [...x.data], x.origLen]), [
            [100, nanos ? 5 : 5000, [1, 2, 3], 13],
            [101, nanos ? 7 : 7000, [4], 11],
          ]);
          assert.equal(p.pending, 0);
        }
      });
    }
  }
  it('rejects what is not pcap', () => {
    assert.throws(() => new PcapStreamParser().push(Buffer.alloc(24, 7)), PcapStreamError);
  });
});
