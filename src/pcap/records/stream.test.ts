// RecordStream over every capture of the test data: every record is valid against the schema, and
// the records agree with the summary built by the same loop (one connection record per reported
// conversation, one DNS record per query, one HTTP record per request, answered or not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { CaptureReader, drain } from '../reader.js';
import { RecordStream } from './stream.js';
import { loadRecordSchema, validateRecord } from './validate.js';
import type { PcapRecord } from './types.js';
import { INVALID_VERSION_FILE, testdataFiles } from '../../../test/harness/pcap.js';

const files = testdataFiles().filter((f) => basename(f) !== INVALID_VERSION_FILE);
const schema = loadRecordSchema();

for (const file of files) {
  test(`records agree with the summary and the schema: ${basename(file)}`, async () => {
    const rs = new RecordStream();
    const all: PcapRecord[] = [];
    try {
      const r = await CaptureReader.open(file);
      await drain(r, (p) => {
        rs.add(p);
        all.push(...rs.drain());
      });
    } catch {
      // a file with a format problem: the records cover the packets before it, as the summary does
    }
    const { summary, records } = rs.finish();
    all.push(...records);
    for (const rec of all) assert.deepEqual(validateRecord(rec, schema), [], JSON.stringify(rec).slice(0, 300));
    const n = (k: string) => all.filter((x) => x.kind === k).length;
    assert.equal(n('connection'), summary.conversations.length, 'connections');
    assert.equal(n('dns'), summary.dns.queries, 'one DNS record per query');
    assert.equal(all.filter((x) => x.kind === 'dns' && x.rcode !== null).length, summary.dns.latency?.count ?? 0, 'answered DNS queries');
    assert.equal(n('http'), summary.http.requests, 'one HTTP record per request');
    assert.equal(n('http2'), summary.http2.requests, 'one HTTP/2 record per stream');
  });
}

// Live expiry: connection records come out during the input when a connection ends or idles; every
// connection still gets exactly one record, and the summary is the one without expiry.
for (const file of files) {
  test(`live expiry emits each connection once and leaves the summary unchanged: ${basename(file)}`, async () => {
    const live = new RecordStream();
    const plain = new RecordStream();
    const all: PcapRecord[] = [];
    let lastSweep = 0;
    try {
      const r = await CaptureReader.open(file);
      await drain(r, (p) => {
        live.add(p);
        plain.add(p);
        const t = p.tsSec + p.tsNsec * 1e-9;
        if (t - lastSweep >= 0.5) {
          lastSweep = t;
          live.expire(t, 30, 1);
          all.push(...live.drain());
        }
      });
    } catch {
      // format problem: both streams saw the same packets
    }
    const a = live.finish();
    const b = plain.finish();
    all.push(...a.records);
    assert.deepEqual(a.summary, b.summary, 'the summary does not depend on expiry');
    const conns = all.filter((x) => x.kind === 'connection');
    if (a.summary.capturePoints > 1) {
      // a second capture point appeared after some records: those connections are not recorded again
      assert.ok(conns.length <= a.summary.conversations.length, 'at most one connection record per conversation');
    } else {
      assert.equal(conns.length, a.summary.conversations.length, 'one connection record per conversation');
    }
    {
      const keys = new Set(conns.map((c) => (c.kind === 'connection' ? `${c.protocol} ${c.orig.ip}:${c.orig.port} ${c.resp.ip}:${c.resp.port} ${c.ts}` : '')));
      assert.equal(keys.size, conns.length, 'no connection recorded twice');
    }
  });
}

test('a closed TCP connection is recorded before the end of the input, an open one only at the end', async () => {
  // find a test file with at least one connection that closes (SF) well before its last packet
  let found = false;
  for (const file of files) {
    const rs = new RecordStream();
    let last = 0;
    const early: PcapRecord[] = [];
    try {
      const r = await CaptureReader.open(file);
      await drain(r, (p) => {
        rs.add(p);
        last = p.tsSec + p.tsNsec * 1e-9;
        rs.expire(last, 1e9, 1);
        early.push(...rs.drain().filter((x) => x.kind === 'connection'));
      });
    } catch {
      continue;
    }
    const { summary, records } = rs.finish();
    if (summary.capturePoints > 1 || early.length === 0) continue;
    found = true;
    for (const c of early) assert.ok(c.kind === 'connection' && c.state !== null && ['SF', 'RSTO', 'RSTR', 'REJ'].includes(c.state), `early: ${JSON.stringify(c)}`);
    for (const c of records) if (c.kind === 'connection' && c.state !== null) assert.ok(!['SF', 'RSTO', 'RSTR', 'REJ'].includes(c.state) || c.ts + c.durationSeconds > last - 1, `late: ${JSON.stringify(c)}`);
  }
  assert.ok(found, 'some test capture has a connection closed before its end');
});
