import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PcapngMessageCutter, rebuildPcapng, splitPcapngBlocks, type PcapngMessage } from './pcapng-messages.js';

function block(type: number, body: Buffer): Buffer {
  const len = 12 + body.length + ((4 - (body.length % 4)) % 4);
  const b = Buffer.alloc(len);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(len, 4);
  body.copy(b, 8);
  b.writeUInt32LE(len, len - 4);
  return b;
}
const shb = () => {
  const body = Buffer.alloc(16);
  body.writeUInt32LE(0x1a2b3c4d, 0);
  body.writeUInt16LE(1, 4);
  body.writeBigInt64LE(-1n, 8);
  return block(0x0a0d0d0a, body);
};
const idb = (snap: number) => {
  const body = Buffer.alloc(8);
  body.writeUInt16LE(1, 0);
  body.writeUInt32LE(snap, 4);
  return block(1, body);
};
const epb = (n: number, size: number) => block(6, Buffer.alloc(20 + size, n & 0xff));

function cutAll(blocks: Buffer[], max: number): PcapngMessage[] {
  const c = new PcapngMessageCutter(max);
  const out: PcapngMessage[] = [];
  for (const b of blocks) out.push(...c.push(b).messages);
  const last = c.flush();
  if (last) out.push(last);
  return out;
}

test('messages are at most maxBytes, each a valid pcapng on its own, and rebuild is byte-identical', () => {
  const blocks = [shb(), idb(262144), idb(65535)];
  for (let i = 0; i < 500; i++) blocks.push(epb(i, (i * 37) % 1500));
  const stream = Buffer.concat(blocks);
  const msgs = cutAll(splitPcapngBlocks(stream), 16_384);
  assert.ok(msgs.length > 10);
  for (const m of msgs) {
    assert.ok(m.value.length <= 16_384);
    const bs = splitPcapngBlocks(m.value);
    assert.equal(bs[0]!.readUInt32LE(0), 0x0a0d0d0a);
    assert.equal(bs[1]!.readUInt32LE(0), 1);
    assert.equal(bs[2]!.readUInt32LE(0), 1);
  }
  assert.equal(msgs[0]!.skip, 0);
  assert.ok(msgs.slice(1).every((m) => m.skip === blocks[0]!.length + blocks[1]!.length + blocks[2]!.length));
  const shuffled = [...msgs].reverse().concat([msgs[3]!, msgs[7]!]);
  const r = rebuildPcapng(shuffled);
  assert.deepEqual([r.missing, r.duplicates], [[], 2]);
  assert.ok(r.pcapng.equals(stream));
});

test('a late IDB stays in place and joins the prefix of later messages; a second section survives', () => {
  const blocks = [shb(), idb(100), epb(1, 100), epb(2, 100), idb(200), epb(3, 100), epb(4, 100), shb(), idb(300), epb(5, 100)];
  const stream = Buffer.concat(blocks);
  const msgs = cutAll(blocks, 400);
  const r = rebuildPcapng(msgs);
  assert.ok(r.pcapng.equals(stream));
  const afterLate = msgs.find((m) => m.value.includes(Buffer.alloc(120, 4)));
  assert.ok(afterLate);
  assert.equal(splitPcapngBlocks(afterLate.value).filter((b) => b.readUInt32LE(0) === 1).length, 2);
});

test('a lost message is reported and the rebuilt file is still valid pcapng', () => {
  const blocks = [shb(), idb(100)];
  for (let i = 0; i < 40; i++) blocks.push(epb(i, 200));
  const msgs = cutAll(blocks, 2_000);
  const r = rebuildPcapng(msgs.filter((m) => m.seq !== 2));
  assert.deepEqual(r.missing, [2]);
  assert.doesNotThrow(() => splitPcapngBlocks(r.pcapng));
});

test('a block too large for any message is reported as oversize, not sent', () => {
  const c = new PcapngMessageCutter(1_000);
  c.push(shb());
  c.push(idb(100));
  const r = c.push(epb(1, 2_000));
  assert.equal(r.oversize, 2_032);
  assert.throws(() => splitPcapngBlocks(Buffer.from('not pcapng at all')), /Section Header Block/);
});
