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
