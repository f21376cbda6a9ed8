import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEADER_SIZE, parseHeader } from './format.js';
import { parseKeyring } from './keyring.js';
import { rewrapTree } from './rewrap-tree.js';
import { addActiveKey, describeKeys, keyIdFor, objectsNeedingKey, removeKey, retireRefusal } from './rotation.js';
import { EncryptedFileReader } from './reader.js';
import { EncryptedFileWriter } from './writer.js';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const k1 = randomBytes(32);
const secret = { active: b64('k1'), 'k1.key': b64(k1) };

describe('key rotation decisions (Secret data)', () => {
  it('rotate adds the key and makes it active; the old key stays', () => {
    const next = addActiveKey(secret, 'k2', randomBytes(32));
    assert.deepEqual(describeKeys(next), { active: 'k2', ids: ['k1', 'k2'] });
    assert.equal(next['k1.key'], secret['k1.key']);
  });
  it('refuses a bad id, a duplicate id, a broken Secret', () => {
    assert.throws(() => addActiveKey(secret, 'Bad_Id', randomBytes(32)), /key id "Bad_Id" is not valid/);
    assert.throws(() => addActiveKey(secret, 'k1', randomBytes(32)), /already has a key "k1"/);
    assert.throws(() => addActiveKey({ 'k1.key': b64(k1) }, 'k2', randomBytes(32)), /no "active" entry/);
  });
  it('retire removes an old key, never the active one or an unknown one', () => {
    const two = addActiveKey(secret, 'k2', randomBytes(32));
    assert.deepEqual(describeKeys(removeKey(two, 'k1')), { active: 'k2', ids: ['k2'] });
    assert.throws(() => removeKey(two, 'k2'), /is the active key: rotate first/);
    assert.throws(() => removeKey(two, 'k9'), /has no key "k9"/);
  });
  it('retire: objects in a store that still need the key are named, unreadable stores refuse too, end-to-end and other keys do not', () => {
    const lists = [
      { capture: 'shop/web', items: [
        { path: 'n/t/a.pcap0', kind: 'pcap', location: 'store', storeKeyIds: ['k1'] },
        { path: 'n/t/a.pcap1', kind: 'pcap', location: 'both', storeKeyIds: ['k1', 'k2'] },
        { path: 'n/t/a.pcap2', kind: 'pcap', location: 'node' },
        { path: 'n/t/capture-meta.json', kind: 'metadata', location: 'store', storeKeyIds: [] },
      ] },
      { capture: 'shop/new', items: [{ path: 'n/t/b.pcap0', kind: 'pcap', location: 'store', storeKeyIds: ['k2'] }] },
      { capture: 'vault/sealed', items: [{ path: 'n/t/c.pcap0', kind: 'pcap', location: 'store', storeKeyIds: [] }] },
    ];
    const r = objectsNeedingKey('k1', lists);
    assert.deepEqual(r, { needing: [{ capture: 'shop/web', path: 'n/t/a.pcap0' }, { capture: 'shop/web', path: 'n/t/a.pcap1' }], unknown: [] });
    const msg = retireRefusal('k1', r) ?? '';
    assert.match(msg, /^key "k1" still wraps 2 objects in a store, of 1 capture:\n {2}shop\/web: n\/t\/a\.pcap0, n\/t\/a\.pcap1\n/);
    assert.match(msg, /Keep the key until those captures are deleted/);
    assert.match(msg, /--force/);
    assert.equal(retireRefusal('k0', objectsNeedingKey('k0', lists)), undefined, 'no object needs k0');
    const unknown = objectsNeedingKey('k0', [{ capture: 'shop/x', error: 'store "s" could not be listed: NoSuchBucket', items: [] }, { capture: 'shop/y', items: [{ path: 'n/t/d.pcap0', kind: 'pcap', location: 'store' }] }]);
    assert.equal(unknown.unknown.length, 2);
    assert.match(retireRefusal('k0', unknown) ?? '', /could not check 2 captures with a store:\n {2}shop\/x: store "s" could not be listed: NoSuchBucket\n {2}shop\/y: the header of n\/t\/d\.pcap0 could not be read/);
  });

  it('default ids sort by time and are valid key ids', () => {
    const a = keyIdFor(new Date('2026-11-27T21:53:00Z'));
    assert.equal(a, 'k20261127-2153');
    assert.doesNotThrow(() => addActiveKey(secret, a, randomBytes(32)));
  });
});

describe('rewrapTree', () => {
  it('re-wraps every keyring file below a directory with the active key; plain files are left alone; the plaintext is unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-rewrap-'));
    try {
      const ring1 = parseKeyring({ active: Buffer.from('k1'), 'k1.key': k1 });
      const k2 = randomBytes(32);
      const ring2 = parseKeyring({ active: Buffer.from('k2'), 'k1.key': k1, 'k2.key': k2 });
      const only2 = parseKeyring({ active: Buffer.from('k2'), 'k2.key': k2 });
      const data = randomBytes(5000);
      const paths = [join(dir, 'a.pcap0'), join(dir, 'b.pcap1')];
      for (const p of paths) {
        const w = await EncryptedFileWriter.create(p, ring1, { chunkSize: 1024 });
        await w.write(data);
        await w.close();
      }
      writeFileSync(join(dir, 'capture-meta.json'), '{}');
      const r = await rewrapTree(dir, ring2);
      assert.deepEqual({ ...r, failed: r.failed.length }, { rewrapped: 2, current: 0, endToEnd: 0, failed: 0 });
      for (const p of paths) {
        assert.deepEqual(parseHeader(readFileSync(p).subarray(0, HEADER_SIZE)).slots.filter((s) => s).map((s) => s?.keyId), ['k2']);
        const rd = await EncryptedFileReader.open(p, only2);
        assert.ok((await rd.read(0, data.length)).equals(data));
        await rd.close();
      }
      const again = await rewrapTree(dir, ring2);
      assert.equal(again.current, 2);
      // a file whose key is not in the keyring is reported, not lost
      const lost = await rewrapTree(dir, parseKeyring({ active: Buffer.from('k3'), 'k3.key': randomBytes(32) }));
      assert.equal(lost.failed.length, 2);
      assert.match(lost.failed[0]?.error ?? '', /not in the keyring/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
