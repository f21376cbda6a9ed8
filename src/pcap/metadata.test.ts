import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CaptureMetadataError,
  endpointLabel,
  endpointMap,
  findCaptureMetadata,
  formatCaptureMetadata,
  interfaceCommentsFor,
  interfaceNameFor,
  parseCaptureMetadata,
  writeCaptureMetadata,
} from './metadata.js';
import { sampleMetadata } from '../../test/harness/pcap.js';

test('a valid document parses and round-trips through JSON', () => {
  const m = sampleMetadata();
  const back = parseCaptureMetadata(JSON.parse(formatCaptureMetadata(m)));
  assert.deepEqual(back, m);
});

test('node captures have no pod', () => {
  const m = parseCaptureMetadata({ ...sampleMetadata(), targetKind: 'node', pod: null, interfaces: ['eth1'] });
  assert.equal(m.pod, null);
  assert.equal(interfaceNameFor(m, 'eth1'), 'node-a/eth1');
});

test('invalid documents are rejected with the path of the bad field', () => {
  const cases: [unknown, RegExp][] = [
    [null, /\$: must be an object/],
    [{ ...sampleMetadata(), version: 2 }, /\$\.version: unsupported version 2/],
    [{ ...sampleMetadata(), targetKind: 'deployment' }, /\$\.targetKind: must be "pod" or "node"/],
    [{ ...sampleMetadata(), pod: undefined }, /\$\.pod: is required for targetKind "pod"/],
    [{ ...sampleMetadata(), targetKind: 'node' }, /\$\.pod: must be absent or null/],
    [{ ...sampleMetadata(), nodeIPs: ['10.0.0.300'] }, /\$\.nodeIPs\[0\]: is not an IP address/],
    [{ ...sampleMetadata(), snapLength: -1 }, /\$\.snapLength: must be a non-negative integer/],
    [{ ...sampleMetadata(), startTime: 'yesterday' }, /\$\.startTime: is not an RFC 3339 time/],
    [{ ...sampleMetadata(), endpoints: { 'not-an-ip': {} } }, /endpoints\["not-an-ip"\]: key is not an IP address/],
    [{ ...sampleMetadata(), endpoints: { '10.1.1.1': { pod: 7 } } }, /endpoints\["10\.1\.1\.1"\]\.pod: must be a non-empty string/],
    [{ ...sampleMetadata(), captureName: '' }, /\$\.captureName: must not be empty/],
    [{ ...sampleMetadata(), interfaces: 'eth0' }, /\$\.interfaces: must be an array/],
  ];
  for (const [doc, re] of cases) {
    assert.throws(() => parseCaptureMetadata(doc), (err: unknown) => err instanceof CaptureMetadataError && re.test(err.message), `expected ${re}`);
  }
});

test('sidecars: per-file first, then per-directory; written 0600 atomically', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pcapper-meta-test-'));
  try {
    const pcap = join(dir, 'web.pcap0');
    writeFileSync(pcap, '');
    assert.equal(await findCaptureMetadata(pcap), undefined);
    const dirMeta = await writeCaptureMetadata(pcap, sampleMetadata({ captureName: 'from-dir' }), { perDirectory: true });
    assert.equal(dirMeta, join(dir, 'capture-meta.json'));
    assert.equal((await findCaptureMetadata(pcap))?.metadata.captureName, 'from-dir');
    const fileMeta = await writeCaptureMetadata(pcap, sampleMetadata({ captureName: 'from-file' }));
    assert.equal(fileMeta, `${pcap}.meta.json`);
    assert.equal(statSync(fileMeta).mode & 0o777, 0o600);
    assert.equal((await findCaptureMetadata(pcap))?.metadata.captureName, 'from-file');
    assert.equal((JSON.parse(readFileSync(fileMeta, 'utf8')) as { version: unknown }).version, 1);
    writeFileSync(fileMeta, '{ broken');
    await assert.rejects(findCaptureMetadata(pcap), (err: unknown) => err instanceof CaptureMetadataError && err.message.includes(fileMeta) && /not valid JSON/.test(err.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('endpoint map: pod IPs, endpoints and node IPs; names and interface comments', () => {
  const m = endpointMap([sampleMetadata()]);
  assert.equal(endpointLabel(m.get('10.244.1.7')), 'shop/web-7d9c');
  assert.equal(endpointLabel(m.get('fd00::7')), 'shop/web-7d9c');
  assert.equal(endpointLabel(m.get('10.244.2.3')), 'shop/db-0');
  assert.equal(endpointLabel(m.get('10.0.0.11')), 'node:node-a');
  assert.equal(m.get('192.0.2.1'), undefined);
  assert.equal(interfaceNameFor(sampleMetadata()), 'node-a/shop/web-7d9c');
  const c = interfaceCommentsFor(sampleMetadata(), '/x/web.pcap0');
  assert.ok(c.includes('pcapper.pod=shop/web-7d9c'));
  assert.ok(c.includes('pcapper.file=web.pcap0'));
  assert.ok(c.includes('pcapper.filter=tcp port 80'));
});
