import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapngWriter } from '../pcap/writer.js';
import { forEachPacket } from '../pcap/reader.js';
import { parseCaptureMetadata, type CaptureMetadata } from '../pcap/metadata.js';
import { importFile, metadataComment, metadataFromComments, storeDir, storedCaptureFiles } from './store.js';

const meta = (pod: string, node: string, ip: string): CaptureMetadata => ({
  version: 1,
  captureName: 'c',
  captureNamespace: 'shop',
  nodeName: node,
  nodeIPs: ['10.244.0.1'],
  targetKind: 'pod',
  pod: { name: pod, namespace: 'shop', uid: 'u', ips: [ip] },
  interfaces: ['any'],
  linkType: 1,
  startTime: '2026-11-22T01:00:00Z',
  filter: '',
  snapLength: 262144,
  endpoints: { [ip]: { pod, namespace: 'shop', node } },
});

async function writeExport(path: string, metas: CaptureMetadata[]): Promise<void> {
  const ws = createWriteStream(path);
  const w = new PcapngWriter(ws);
  w.writeSection({ comments: ['pcapper capture shop/c'] });
  const ids = metas.map((m) => w.addInterface({ linkType: 1, name: `${m.nodeName}/shop/${m.pod?.name ?? ''}`, comments: ['pcapper.capture=shop/c', metadataComment(m)] }));
  if (ids.length === 0) ids.push(w.addInterface({ linkType: 1, name: 'eth0' }));
  for (let i = 0; i < 6; i++) w.writePacket(ids[i % ids.length] as number, 1000 + i, 0, Buffer.alloc(60, i));
  await w.end();
}

describe('capture store', () => {
  it('store location: flag, PCAPPER_STORE, XDG_DATA_HOME, HOME', () => {
    assert.equal(storeDir('/x', {}), '/x');
    assert.equal(storeDir(undefined, { PCAPPER_STORE: '/s' }), '/s');
    assert.equal(storeDir(undefined, { XDG_DATA_HOME: '/d', HOME: '/h' }), '/d/pcapper/captures');
    assert.equal(storeDir(undefined, { HOME: '/h' }), '/h/.local/share/pcapper/captures');
    assert.throws(() => storeDir(undefined, {}), /cannot find a place/);
  });
  it('metadata round-trips through an interface comment; junk is ignored', () => {
    const m = meta('web', 'n1', '10.244.1.1');
    assert.deepEqual(metadataFromComments(['x', metadataComment(m)]), parseCaptureMetadata(m));
    assert.equal(metadataFromComments(['pcapper.meta={"version":2}']), undefined);
    assert.equal(metadataFromComments([]), undefined);
  });
  it('imports an exported pcapng: one file per interface with its sidecar and its packets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-store-test-'));
    try {
      const src = join(dir, 'exported.pcapng');
      await writeExport(src, [meta('web', 'n1', '10.244.1.1'), meta('db', 'n2', '10.244.2.1')]);
      const into = join(dir, 'store', 'inc');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(into, { recursive: true });
      const res = await importFile(src, into);
      assert.equal(res.length, 2);
      assert.deepEqual(res.map((r) => r.packets), [3, 3]);
      for (const [i, pod] of ['web', 'db'].entries()) {
        const r = res[i];
        assert.ok(r);
        const side = JSON.parse(readFileSync(`${r.path}.meta.json`, 'utf8')) as CaptureMetadata;
        assert.equal(side.pod?.name, pod);
        let n = 0;
        const rd = await forEachPacket(r.path, () => n++);
        assert.equal(n, 3);
        assert.ok(!rd.interfaces[0]?.comments.some((c) => c.startsWith('pcapper.meta=')), 'the sidecar replaces the comment');
      }
      assert.deepEqual((await storedCaptureFiles(join(dir, 'store'), 'inc'))?.length, 2);
      assert.equal(await storedCaptureFiles(join(dir, 'store'), 'nope'), undefined);
      // a plain file is copied, with its sidecar when it has one
      const plain = join(dir, 'plain.pcapng');
      await writeExport(plain, []);
      writeFileSync(`${plain}.meta.json`, JSON.stringify(meta('solo', 'n1', '10.244.1.9')));
      const p = await importFile(plain, into);
      assert.deepEqual(p.map((x) => x.metadata), [true]);
      assert.ok(readdirSync(into).includes('plain.pcapng.meta.json'));
      await assert.rejects(importFile(join(dir, 'missing.pcap'), into), /no such file/);
      writeFileSync(join(dir, 'junk.pcap'), 'not a capture at all, just text');
      await assert.rejects(importFile(join(dir, 'junk.pcap'), into), /not a pcap or pcapng file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
