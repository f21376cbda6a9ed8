// The record types (./types.ts) and the JSON Schema (./schema.json) describe the same shapes: one
// fully populated sample per kind is type-checked against the TypeScript interface by tsc (an
// object literal must have exactly the interface's fields) and checked here against the schema's
// property and required lists; changing one without the other fails.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadRecordSchema, validateRecord } from './validate.js';
import type { ConnectionRecord, DnsRecord, Http2Record, HttpRecord, PcapRecord, RecordEndpoint } from './types.js';
import { RECORD_SCHEMA_VERSION } from './types.js';

const pod: RecordEndpoint = { ip: '10.244.1.2', port: 43210, pod: 'client', namespace: 'default', node: 'node-a', workload: null, external: false };
const ext: RecordEndpoint = { ip: '93.184.216.34', port: 443, pod: null, namespace: null, node: null, workload: null, external: true };

const connection: ConnectionRecord = {
  schemaVersion: 1,
  kind: 'connection',
  ts: 1764262800.5,
  durationSeconds: 1.25,
  protocol: 'tcp',
  orig: pod,
  resp: ext,
  origPackets: 10,
  origBytes: 1200,
  respPackets: 8,
  respBytes: 5000,
  state: 'SF',
  history: 'ShADadFf',
  handshakeRttMs: 0.42,
  retransmissions: 1,
  resets: 0,
  capturePoints: 1,
};
const dns: DnsRecord = { schemaVersion: 1, kind: 'dns', ts: 1764262800.1, client: pod, server: { ...ext, port: 53 }, id: 4660, qname: 'example.com', qtype: 'A', rcode: 'NOERROR', answers: 1, latencyMs: 2.5 };
const http: HttpRecord = { schemaVersion: 1, kind: 'http', ts: 1764262800.2, client: pod, server: ext, method: 'GET', path: '/', status: 200, latencyMs: 3.1 };
const http2: Http2Record = {
  schemaVersion: 1,
  kind: 'http2',
  ts: 1764262800.3,
  client: pod,
  server: ext,
  streamId: 1,
  upgraded: false,
  method: 'POST',
  path: '/demo.v1.Echo/Say',
  authority: 'echo:7777',
  scheme: 'http',
  contentType: 'application/grpc',
  status: 200,
  requestBytes: 12,
  responseBytes: 20,
  latencyMs: 1.5,
  end: 'complete',
  resetCode: null,
  resetBy: null,
  grpc: { service: 'demo.v1.Echo', method: 'Say', status: 0, statusName: 'OK', message: null, requestMessages: 1, responseMessages: 1, compressedMessages: 0 },
};
const SAMPLES: PcapRecord[] = [connection, dns, http, http2];

describe('record schema', () => {
  const schema = loadRecordSchema();

  it('has one definition per kind whose properties and required fields are the TypeScript fields', () => {
    for (const s of SAMPLES) {
      const def = schema.$defs?.[s.kind];
      assert.ok(def, `schema defines ${s.kind}`);
      assert.deepEqual(Object.keys(def.properties ?? {}).sort(), Object.keys(s).sort(), `${s.kind}: properties`);
      assert.deepEqual([...(def.required ?? [])].sort(), Object.keys(s).sort(), `${s.kind}: every field is required (null when unknown)`);
      assert.equal(def.additionalProperties, false);
    }
    assert.deepEqual(Object.keys(schema.$defs?.endpoint?.properties ?? {}).sort(), Object.keys(pod).sort());
    assert.deepEqual(Object.keys(schema.$defs?.grpc?.properties ?? {}).sort(), Object.keys(http2.grpc ?? {}).sort());
    assert.equal(schema.$id, `https://pcapper.dev/schemas/records-v${RECORD_SCHEMA_VERSION}.json`);
  });

  it('accepts the samples and rejects broken records with a clear path', () => {
    for (const s of SAMPLES) assert.deepEqual(validateRecord(s, schema), [], s.kind);
    const bad = { ...http2, grpc: { ...http2.grpc, status: 'OK' }, extra: 1 };
    const errs = validateRecord(bad, schema);
    assert.equal(errs.length, 1);
    assert.match(errs[0]!, /no alternative/);
    assert.deepEqual(validateRecord({ ...connection, state: "XX" }, schema, schema.$defs!.connection), ['$.state: must be one of ["S0","S1","SF","REJ","S2","S3","RSTO","RSTR","SH","OTH",null], is "XX"']);
    assert.deepEqual(validateRecord({ ...dns, extra: true }, schema, schema.$defs!.dns), ['$.extra: not in the schema']);
  });
});
