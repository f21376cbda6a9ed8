import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { summarizeFiles, type Conversation, type Endpoint } from './summary.js';
import { formatSummaryTable } from './format.js';
import { INVALID_VERSION_FILE, runTool, testdataFiles, tsharkConversations, tsharkStreamTotals, wiresharkSize } from '../../test/harness/pcap.js';
import { endpointMap, parseCaptureMetadata } from './metadata.js';

const files = testdataFiles().filter((f) => basename(f) !== INVALID_VERSION_FILE);

/** tshark prints "addr:port"; IPv6 addresses are printed bare, so split at the last colon. */
function ep(e: Endpoint): string {
  return e.port !== undefined ? `${e.address}:${e.port}` : e.address;
}

function tsharkCount(file: string, filter: string): number {
  return runTool('tshark', ['-n', '-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number']).stdout.split('\n').filter((l) => l !== '').length;
}

for (const file of files) {
  const name = basename(file);
  test(`conversations equal tshark conv,tcp and conv,udp: ${name}`, async () => {
    // tshark treats all interfaces as one stream; so does perCapturePoint: false. With one
    // interface both modes must give the same result.
    const { summary: perCp } = await summarizeFiles([file]);
    const { summary } = await summarizeFiles([file], { perCapturePoint: false });
    if (perCp.capturePoints <= 1) assert.deepEqual(perCp, summary, 'one capture point: perCapturePoint makes no difference');
    else {
      // per capture point, a conversation is reported once; its all-capture-point totals are tshark's
      const total = (xs: { packets: number }[]) => xs.reduce((a, c) => a + c.packets, 0);
      assert.equal(perCp.conversations.reduce((a, c) => a + c.packetsAllCapturePoints, 0), total(summary.conversations));
    }
    for (const proto of ['tcp', 'udp'] as const) {
      const theirs = tsharkConversations(file, proto);
      const ours = summary.conversations.filter((c) => c.protocol === proto);
      assert.equal(ours.length, theirs.length, `${proto} conversation count`);
      // A is the source of the first packet, "->" is A to B, in both tools: compare directionally
      const row = (c: Conversation) => `${ep(c.a)} <-> ${ep(c.b)} ${c.packetsBtoA} ${wiresharkSize(c.bytesBtoA)} ${c.packetsAtoB} ${wiresharkSize(c.bytesAtoB)} ${c.packets} ${wiresharkSize(c.bytes)}`;
      const a = ours.map(row).sort();
      const b = theirs.map((t) => `${t.a} <-> ${t.b} ${t.framesBtoA} ${t.bytesBtoA} ${t.framesAtoB} ${t.bytesAtoB} ${t.frames} ${t.bytes}`).sort();
      assert.deepEqual(a, b, `${proto} conversations`);
      // Exact byte totals (the table rounds to kB) from tshark's per-stream fields, for every stream
      // whose frame count and rounded bytes agree with tshark's own table (the stream fields also
      // include frames the table leaves out, e.g. headers quoted inside ICMP errors).
      const tableKeys = new Set(theirs.map((t) => `${t.frames}/${t.bytes}`));
      const oursExact = ours.map((c) => `${c.packets}/${c.bytes}`);
      for (const v of tsharkStreamTotals(file, proto).values()) {
        if (!tableKeys.has(`${v.frames}/${wiresharkSize(v.bytes)}`)) continue;
        assert.ok(oursExact.includes(`${v.frames}/${v.bytes}`), `${proto} stream with ${v.frames} frames, ${v.bytes} bytes: ours ${oursExact.join(' ')}`);
      }
    }
  });

  test(`TCP retransmissions equal tshark tcp.analysis.retransmission: ${name}`, async () => {
    const { summary } = await summarizeFiles([file], { perCapturePoint: false });
    assert.equal(summary.tcp.retransmissions, tsharkCount(file, 'tcp.analysis.retransmission'));
  });

  test(`DNS and HTTP counts equal tshark: ${name}`, async () => {
    const { summary } = await summarizeFiles([file]);
    // DNS over UDP on port 53 (what we decode); ICMP-quoted DNS is not counted by either
    assert.equal(summary.dns.queries, tsharkCount(file, 'dns && udp.port == 53 && dns.flags.response == 0 && !icmp && !icmpv6'), 'DNS queries');
    assert.equal(summary.dns.responses, tsharkCount(file, 'dns && udp.port == 53 && dns.flags.response == 1 && !icmp && !icmpv6'), 'DNS responses');
    assert.equal(summary.http.requests, tsharkCount(file, 'http.request'), 'HTTP requests');
    assert.equal(summary.http.responses, tsharkCount(file, 'http.response'), 'HTTP responses');
  });
}

test('TCP health: refused connection, completed handshake with RTT, HTTP method/path/status', async () => {
  const web = files.find((f) => basename(f) === 'zeek__web.pcap');
  assert.ok(web);
  const { summary } = await summarizeFiles([web]);
  const tcp = summary.conversations.filter((c) => c.protocol === 'tcp');
  const refused = tcp.find((c) => c.b.port === 12345);
  assert.equal(refused?.tcp?.state, 'refused');
  assert.equal(refused?.tcp?.resets, 1);
  const http = tcp.find((c) => c.b.port === 80);
  assert.equal(http?.tcp?.state, 'completed');
  // handshake RTT = ACK time - SYN time, checked against tshark's timestamps of those frames
  const times = runTool('tshark', ['-n', '-r', web, '-Y', 'tcp.port == 80 && (tcp.flags.syn == 1 || tcp.seq == 1 && tcp.ack == 1 && tcp.len == 0)', '-T', 'fields', '-e', 'frame.time_epoch']).stdout.split('\n').filter(Boolean).map(Number);
  const expectedRtt = ((times[2] ?? NaN) - (times[0] ?? NaN)) * 1000;
  assert.ok(Math.abs((http?.tcp?.rttMs ?? NaN) - expectedRtt) < 0.002, `rtt ${http?.tcp?.rttMs} vs ${expectedRtt}`);
  assert.equal(summary.tcp.refused, 1);
  const req = runTool('tshark', ['-n', '-r', web, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.method', '-e', 'http.request.uri']).stdout.trim().split('\t');
  const code = runTool('tshark', ['-n', '-r', web, '-Y', 'http.response', '-T', 'fields', '-e', 'http.response.code']).stdout.trim();
  assert.equal(summary.http.endpoints[0]?.method, req[0]);
  assert.equal(summary.http.endpoints[0]?.path, req[1]);
  assert.deepEqual(Object.keys(summary.http.endpoints[0]?.statuses ?? {}), [code]);
});

test('SYN answered by nothing is reported as unanswered; DNS latency and names', async () => {
  const dnsFile = files.find((f) => basename(f) === 'zeek__pcapng-multi-interface.pcapng');
  assert.ok(dnsFile);
  const { summary } = await summarizeFiles([dnsFile]);
  const names = runTool('tshark', ['-n', '-r', dnsFile, '-Y', 'dns.flags.response == 0', '-T', 'fields', '-e', 'dns.qry.name']).stdout.split('\n').filter(Boolean);
  assert.deepEqual([...new Set(summary.dns.names.map((n) => n.name))].sort(), [...new Set(names)].sort());
  const lat = runTool('tshark', ['-n', '-r', dnsFile, '-Y', 'dns.flags.response == 1', '-T', 'fields', '-e', 'dns.time']).stdout.split('\n').filter(Boolean).map((x) => Number(x) * 1000);
  assert.equal(summary.dns.latency?.count, lat.length);
  assert.ok(Math.abs((summary.dns.latency?.maxMs ?? 0) - Math.max(...lat)) < 0.002);
  assert.equal(summary.dns.unanswered, 0);
  const answers = runTool('tshark', ['-n', '-r', dnsFile, '-Y', 'dns.flags.response == 1', '-T', 'fields', '-e', 'dns.count.answers']).stdout.split('\n').filter(Boolean).map(Number);
  assert.equal(summary.dns.answers, answers.reduce((a, b) => a + b, 0));
});

test('endpoints are named by pod from capture metadata; the table fits 80 columns', async () => {
  const web = files.find((f) => basename(f) === 'zeek__web.pcap');
  assert.ok(web);
  const meta = parseCaptureMetadata({
    version: 1,
    captureName: 'cap',
    captureNamespace: 'shop',
    nodeName: 'node-a',
    nodeIPs: ['10.0.0.1'],
    targetKind: 'pod',
    pod: { name: 'client-0', namespace: 'shop', uid: 'u1', ips: ['141.42.64.125'] },
    interfaces: ['eth0'],
    linkType: 1,
    startTime: '2026-11-22T00:00:00Z',
    filter: '',
    snapLength: 262144,
    endpoints: { '125.190.109.199': { pod: 'web-7d9c4f6b8-abcde', namespace: 'shop', node: 'node-b' } },
  });
  const { summary } = await summarizeFiles([web], { endpoints: endpointMap([meta]) });
  const c = summary.conversations.find((x) => x.b.port === 80);
  assert.equal(c?.a.name, 'shop/client-0');
  assert.equal(c?.b.pod, 'web-7d9c4f6b8-abcde');
  assert.equal(c?.b.node, 'node-b');
  const table = formatSummaryTable(summary);
  // every pod is in namespace shop: the table leaves it out of the endpoints and says so once
  assert.match(table, /pods in namespace shop/);
  assert.match(table, / client-0:56730 /);
  for (const line of table.split('\n')) assert.ok([...line].length <= 80, `line longer than 80 columns: ${line}`);
  for (const f of files) {
    const t = formatSummaryTable((await summarizeFiles([f])).summary);
    for (const line of t.split('\n')) assert.ok([...line].length <= 80, `${basename(f)}: ${line}`);
  }
});

test('several files are summarised together; a truncated one adds an error, not a crash', async () => {
  const two = files.filter((f) => /zeek__web|RICS2021/.test(f));
  const { summary, errors } = await summarizeFiles(two);
  assert.equal(errors.length, 1);
  assert.match(summary.errors[0] ?? '', /offset 536552/);
  const counts = two.map((f) => Number(/Number of packets:\s*(\d+)/.exec(runTool('capinfos', ['-c', '-M', f]).stdout)?.[1]));
  assert.equal(summary.packets, counts.reduce((x, y) => x + y, 0));
});
