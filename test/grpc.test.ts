// Real gRPC and h2c traffic between two simulated pods (network namespaces on two nodes), captured
// with real tcpdump inside pod A, then summarised by the pcap library and compared with tshark's
// http2 and grpc dissectors (decode-as, since the ports are not HTTP/2's registered ones) and with
// what the client itself observed. Needs root (netns); fails, never skips, without it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertRoot, HarnessRun, PodNetwork, runCommand, type PodNet } from './harness/netns.js';
import { curlH2cUpgrade, runGrpcClient, startGrpcServer, startH2cUpgradeServer, type GrpcClientResult } from './harness/grpc.js';
import { Summarizer, summarizeFiles, type Summary } from '../src/pcap/summary.js';
import { Decoded, decodePacket } from '../src/pcap/decode.js';
import { CaptureReader, drain } from '../src/pcap/reader.js';
import { RecordStream } from '../src/pcap/records/stream.js';
import { loadRecordSchema, validateRecord } from '../src/pcap/records/validate.js';
import type { ConnectionRecord, Http2Record, PcapRecord } from '../src/pcap/records/types.js';
import { runSummary } from '../src/cli/commands/summary.js';
import { PassThrough } from 'node:stream';
import { CLI } from './cli-support.js';
import { launchBrowser, screenshotDir, startUiProcess } from './harness/browser.js';
import { repoRoot } from './harness/paths.js';

const GRPC_PORT = 7777;
const H2C_PORT = 8088;
const PLAN = { says: 3, fails: 2, countN: 4, collectN: 3, chatN: 2 };

/**
 * tshark fields with every occurrence, occurrences joined by '|', one line per packet. The gRPC port
 * needs decode-as (HTTP/2 has no registered port); the h2c Upgrade port is one of tshark's HTTP
 * ports, so its HTTP dissector sees the Upgrade and hands the rest of the connection to http2.
 */
async function tsharkFields(file: string, filter: string, fields: string[]): Promise<string[][][]> {
  const args = ['-r', file, '-d', `tcp.port==${GRPC_PORT},http2`, '-Y', filter, '-T', 'fields', '-E', 'aggregator=|', '-E', 'occurrence=a'];
  for (const f of fields) args.push('-e', f);
  const out = await runCommand('tshark', args);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t').map((c) => (c === '' ? [] : c.split('|'))));
}

function tally(values: Iterable<string>): Record<string, number> {
  const r: Record<string, number> = {};
  for (const v of values) r[v] = (r[v] ?? 0) + 1;
  return r;
}

describe('HTTP/2 and gRPC decoding on real traffic between pods (needs root)', () => {
  let run: HarnessRun;
  let net: PodNetwork;
  let podA: PodNet;
  let podB: PodNet;
  let dir: string;
  let file: string;
  let client: GrpcClientResult;
  let curlOut: string;
  let summary: Summary;

  before(async () => {
    assertRoot();
    run = new HarnessRun();
    net = new PodNetwork(run);
    dir = mkdtempSync(join(tmpdir(), 'pcapper-grpc-test-'));
    file = join(dir, 'pod-a.pcap');
    await net.addNode('node-a');
    await net.addNode('node-b');
    podA = await net.addPod('node-a', 'default/client');
    podB = await net.addPod('node-b', 'default/server');
    const grpcSrv = await startGrpcServer(podB, GRPC_PORT, run);
    const h2cSrv = await startH2cUpgradeServer(podB, H2C_PORT, 404, 'no page here', run);
    let stderr = '';
    const tcpdump = spawn('nsenter', [`--net=${podA.netnsPath}`, '--', 'tcpdump', '-i', 'eth0', '-n', '-s', '0', '--immediate-mode', '-U', '-w', file, `tcp port ${GRPC_PORT} or tcp port ${H2C_PORT}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    assert.ok(tcpdump.pid);
    run.recordProcess(tcpdump.pid, 'tcpdump');
    const exited = new Promise<void>((r) => tcpdump.on('exit', () => r()));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 10_000);
        tcpdump.stderr.setEncoding('utf8').on('data', (c: string) => {
          stderr += c;
          if (stderr.includes('listening on')) {
            clearTimeout(t);
            resolve();
          }
        });
        tcpdump.on('exit', () => reject(new Error(`tcpdump exited: ${stderr}`)));
      });
      client = await runGrpcClient(podA, `${podB.ip}:${GRPC_PORT}`, PLAN);
      curlOut = await curlH2cUpgrade(podA, `http://${podB.ip}:${H2C_PORT}/upgrade/path`);
      // both servers close their connections; stopping them closes anything left
      await grpcSrv.stop();
      await h2cSrv.stop();
    } finally {
      tcpdump.kill('SIGINT');
      await exited;
      await grpcSrv.stop();
      await h2cSrv.stop();
    }
    ({ summary } = await summarizeFiles([file]));
  });

  after(async () => {
    await net?.close().catch(() => undefined);
    run?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the client saw what the plan asked for (the traffic is real)', () => {
    assert.deepEqual(client.say, [0, 0, 0]);
    assert.deepEqual(client.fail, [5, 5]);
    assert.equal(client.count, PLAN.countN);
    assert.equal(client.collect, 'm0,m1,m2');
    assert.equal(client.chat, PLAN.chatN);
    assert.equal(curlOut, 'no page here');
  });

  it('gRPC calls per service/method and their grpc-status match the client and tshark', async () => {
    const g = summary.grpc;
    const byMethod = Object.fromEntries(g.methods.map((m) => [`${m.service}/${m.method}`, m]));
    assert.equal(g.calls, 3 + 2 + 1 + 1 + 1);
    assert.deepEqual(byMethod['demo.v1.Echo/Say']?.statuses, { OK: 3 });
    assert.deepEqual(byMethod['demo.v1.Echo/Fail']?.statuses, { NOT_FOUND: 2 });
    for (const m of ['Count', 'Collect', 'Chat']) assert.deepEqual(byMethod[`demo.v1.Echo/${m}`]?.statuses, { OK: 1 }, m);
    // tshark: request paths (one :path per request HEADERS frame)
    const paths = (await tsharkFields(file, 'http2.headers.path', ['http2.headers.path'])).flatMap((r) => r[0] ?? []);
    // the upgraded request is an HTTP/1.1 message (stream 1 of the HTTP/2 connection)
    paths.push(...(await tsharkFields(file, 'http.upgrade == "h2c" && http.request', ['http.request.uri'])).flatMap((r) => r[0] ?? []));
    const ours: Record<string, number> = {};
    for (const m of g.methods) ours[`/${m.service}/${m.method}`] = m.calls;
    for (const e of summary.http2.endpoints) ours[e.path] = (ours[e.path] ?? 0) + e.requests;
    assert.deepEqual(ours, tally(paths), 'requests per path, ours vs tshark http2.headers.path');
    // tshark: grpc-status header values
    const rows = await tsharkFields(file, 'http2.header.name == "grpc-status"', ['http2.header.name', 'http2.header.value']);
    const statuses: string[] = [];
    for (const [names = [], values = []] of rows) names.forEach((n, i) => n === 'grpc-status' && statuses.push(values[i] ?? '?'));
    assert.deepEqual(tally(statuses), { '0': 6, '5': 2 }, 'tshark grpc-status values');
    assert.deepEqual(g.statuses, { OK: 6, NOT_FOUND: 2 });
    const msg = g.methods.find((m) => m.method === 'Fail');
    assert.ok(msg);
  });

  it('gRPC message counts per direction match tshark grpc', async () => {
    const rows = await tsharkFields(file, 'grpc', ['ip.src', 'grpc.message_length']);
    let toServer = 0;
    let toClient = 0;
    for (const [src = [], lens = []] of rows) {
      if (src[0] === podA.ip) toServer += lens.length;
      else toClient += lens.length;
    }
    const req = summary.grpc.methods.reduce((n, m) => n + m.requestMessages, 0);
    const resp = summary.grpc.methods.reduce((n, m) => n + m.responseMessages, 0);
    // plan: Say 3 + Fail 2 + Count 1 + Collect 3 + Chat 2 requests; Say 3 + Count 4 + Collect 1 + Chat 2 responses
    assert.equal(req, 3 + 2 + 1 + PLAN.collectN + PLAN.chatN);
    assert.equal(resp, 3 + PLAN.countN + 1 + PLAN.chatN);
    assert.deepEqual({ req, resp }, { req: toServer, resp: toClient }, 'ours vs tshark grpc.message_length occurrences by direction');
    const byMethod = Object.fromEntries(summary.grpc.methods.map((m) => [m.method, m]));
    assert.equal(byMethod.Count?.responseMessages, PLAN.countN);
    assert.equal(byMethod.Collect?.requestMessages, PLAN.collectN);
    assert.ok((byMethod.Say?.latency?.count ?? 0) === 3, 'every unary call has a latency');
  });

  it('h2c via Upgrade: the request, its :status, and all :status values match tshark', async () => {
    const h2 = summary.http2;
    assert.equal(h2.upgraded, 1);
    assert.equal(h2.connections, 2);
    const up = h2.endpoints.find((e) => e.path === '/upgrade/path');
    assert.deepEqual(up && { method: up.method, requests: up.requests, statuses: up.statuses }, { method: 'GET', requests: 1, statuses: { '404': 1 } });
    const st = (await tsharkFields(file, 'http2.headers.status', ['http2.headers.status'])).flatMap((r) => r[0] ?? []);
    assert.deepEqual(h2.statuses, tally(st), 'responses by :status, ours vs tshark http2.headers.status');
    assert.equal(h2.requests, 8 + 1);
    assert.equal(h2.unfinished, 0);
  });

  it('records: feed/drain gives schema-valid http2/grpc and connection records; -o records prints the same', async () => {
    const rs = new RecordStream();
    const drained: PcapRecord[] = [];
    const r = await CaptureReader.open(file);
    await drain(r, (p) => {
      rs.add(p);
      drained.push(...rs.drain());
    });
    const { records } = rs.finish();
    const all = [...drained, ...records];
    const schema = loadRecordSchema();
    for (const rec of all) assert.deepEqual(validateRecord(rec, schema), [], JSON.stringify(rec));
    const h2 = all.filter((x): x is Http2Record => x.kind === 'http2');
    assert.equal(h2.length, 9);
    assert.ok(drained.filter((x) => x.kind === 'http2').length >= 8, 'streams come out while packets are fed, not only at the end');
    const fails = h2.filter((x) => x.grpc?.method === 'Fail');
    assert.deepEqual(
      fails.map((x) => [x.grpc?.statusName, x.grpc?.message, x.client.ip, x.server.ip, x.server.port]),
      [
        ['NOT_FOUND', 'no such thing: x0', podA.ip, podB.ip, GRPC_PORT],
        ['NOT_FOUND', 'no such thing: x1', podA.ip, podB.ip, GRPC_PORT],
      ],
    );
    const conns = all.filter((x): x is ConnectionRecord => x.kind === 'connection');
    assert.equal(conns.length, summary.conversations.length);
    for (const c of conns) {
      assert.equal(c.orig.ip, podA.ip, 'pod A opened every connection');
      assert.match(c.history, /^ShA/, 'handshake in the history');
      assert.ok(c.handshakeRttMs !== null);
      // established, then closed by FINs or by a reset (grpc-js may close a socket with RST,
      // depending on timing): never a connection the decoder failed to see established
      assert.ok(['SF', 'RSTO', 'RSTR'].includes(c.state ?? ''), `${c.resp.port}: established and closed, not ${c.state} (${c.history})`);
    }
    // the CLI prints the same records, one JSON object per line
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const code = await runSummary([file, '-o', 'records'], { stdout: out, stderr: new PassThrough() });
    assert.equal(code, 0);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as PcapRecord);
    assert.deepEqual(lines, all);
  });

  it('reordered and retransmitted segments give the same calls; a missing segment ends streams as gap, never misparsed', async () => {
    interface Pkt { data: Buffer; origLen: number; linkType: number; tsSec: number; tsNsec: number; fromServer: boolean; payload: number }
    const pkts: Pkt[] = [];
    const d = new Decoded();
    const r = await CaptureReader.open(file);
    await drain(r, (p) => {
      const data = Buffer.from(p.data.subarray(p.dataOffset, p.dataOffset + p.caplen));
      decodePacket(data, 0, data.length, p.linkType, d);
      pkts.push({ data, origLen: p.origLen, linkType: p.linkType, tsSec: p.tsSec, tsNsec: p.tsNsec, fromServer: d.srcPort === GRPC_PORT, payload: d.transport && (d.srcPort === GRPC_PORT || d.dstPort === GRPC_PORT) ? d.payloadLength : 0 });
    });
    const run = (list: Pkt[]) => {
      const sm = new Summarizer();
      for (const p of list) sm.addPacket(p.data, 0, p.data.length, p.origLen, p.linkType, p.tsSec, p.tsNsec);
      return sm.finish();
    };
    const serverData = pkts.map((p, i) => (p.fromServer && p.payload > 0 ? i : -1)).filter((i) => i >= 0);
    const clientData = pkts.map((p, i) => (!p.fromServer && p.payload > 0 ? i : -1)).filter((i) => i >= 0);
    assert.ok(serverData.length >= 6 && clientData.length >= 6, 'enough data segments to play with');
    // reorder two server segments and retransmit a client segment later
    const shuffled = [...pkts];
    const [i, j] = [serverData[2]!, serverData[3]!];
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    shuffled.splice(clientData[5]! + 1, 0, pkts[clientData[3]!]!);
    const again = run(shuffled);
    assert.ok(again.tcp.retransmissions > summary.tcp.retransmissions, 'the copy is seen as a retransmission');
    assert.deepEqual(again.grpc.methods.map((m) => [m.service, m.method, m.calls, m.statuses, m.requestMessages, m.responseMessages]), summary.grpc.methods.map((m) => [m.service, m.method, m.calls, m.statuses, m.requestMessages, m.responseMessages]));
    // drop a client data segment in the middle of the gRPC connection: bytes are missing for good
    const dropped = pkts.filter((_, k) => k !== clientData[4]);
    const gap = run(dropped);
    assert.ok(gap.http2.unfinished > 0, 'streams after the gap are unfinished');
    let okCalls = 0;
    for (const m of gap.grpc.methods) {
      const orig = summary.grpc.methods.find((o) => o.service === m.service && o.method === m.method);
      assert.ok(orig, `no invented method ${m.service}/${m.method}`);
      for (const [st, n] of Object.entries(m.statuses)) if (st !== 'none') assert.ok(n <= (orig.statuses[st] ?? 0), `${m.method}: no invented ${st}`);
      okCalls += m.statuses.OK ?? 0;
    }
    assert.ok(okCalls < 6, 'calls after the gap are not counted as OK');
  });

  it('kubectl pcap summary lists gRPC calls per service/method and HTTP/2 paths', async () => {
    const { formatSummaryTable } = await import('../src/pcap/format.js');
    const table = formatSummaryTable(summary, { width: 120 });
    assert.match(table, /gRPC +8 calls; status OK 6, NOT_FOUND 2/);
    assert.match(table, /demo\.v1\.Echo\/Fail +2 +2\/0 +NOT_FOUNDx2/);
    assert.match(table, /HTTP\/2 +9 requests on 2 connections \(1 upgraded\)/);
    assert.match(table, /GET +\/upgrade\/path +1 +404x1/);
  });
  it('the UI dashboard (real browser) lists the gRPC calls per service/method and the HTTP/2 streams with their statuses', async () => {
    const uiDir = join(dir, 'ui');
    mkdirSync(uiDir, { recursive: true });
    const ui = await startUiProcess(CLI, [file], { cwd: uiDir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: uiDir, KUBECONFIG: join(uiDir, 'no-kubeconfig'), PCAPPER_STORE: join(uiDir, 'store') } });
    const browser = await launchBrowser({ dir: join(uiDir, 'browser') });
    try {
      const page = await (await browser.context()).newPage();
      await page.goto(ui.url);
      await page.locator('#sources tr[data-source="file:0"] a', { hasText: 'Dashboard' }).click();
      await page.locator('#grpc-calls').waitFor();
      const rows = async (id: string): Promise<string[]> => (await page.locator(`#${id} tbody tr`).allInnerTexts()).map((r) => r.replace(/\s+/g, ' ').trim());
      const grpc = await rows('grpc-calls');
      // what the client saw (and tshark agrees, above): Say OK ×3, Fail NOT_FOUND ×2, the streaming calls OK ×1
      assert.equal(grpc.length, 5, grpc.join('\n'));
      assert.match(grpc[0]!, /^demo\.v1\.Echo\/Say 3 OK: 3 \d/);
      assert.match(grpc[1]!, /^demo\.v1\.Echo\/Fail 2 NOT_FOUND: 2 \d/);
      for (const m of ['Chat', 'Collect', 'Count']) assert.ok(grpc.some((r) => new RegExp(`^demo\\.v1\\.Echo/${m} 1 OK: 1 \\d`).test(r)), `${m} in ${grpc.join(' | ')}`);
      assert.match(await page.locator('#grpc-calls').locator('..').locator('h2').innerText(), /gRPC calls \(8\)/);
      assert.deepEqual(await rows('http2-streams'), [expect404()]);
      assert.match(await page.locator('#http2').innerText(), /Connections\s+2 \(1 by Upgrade\)/);
      await page.screenshot({ path: join(screenshotDir(repoRoot()), 'ui-dashboard-grpc.png'), fullPage: true });
    } finally {
      await browser.close();
      await ui.stop();
    }
    function expect404(): string {
      // the Upgrade request: GET /upgrade/path answered 404 (curl saw the body)
      const e = summary.http2.endpoints.find((x) => x.path === '/upgrade/path');
      assert.ok(e?.latency, 'the summary has the Upgrade stream with a latency');
      return `GET /upgrade/path 1 404: 1 ${e.latency.p50Ms.toFixed(2)} ${e.latency.maxMs.toFixed(2)}`;
    }
  });
});
