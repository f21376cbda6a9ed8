// Triggered captures with a look-back window (docs/triggers.md, issue 15 item 2) on the real
// control plane: test/harness/demo.ts startStack() (kube-apiserver, the controller pod, agents as
// DaemonSet pods running real tcpdump in the pods' network namespaces, the pcapper server behind
// the APIService). Real HTTP traffic between two pods on two nodes; a marker request is sent
// seconds before each firing and must be in the downloaded file (tshark), with the firing in
// status. Bad trigger specs are refused at admission with their message.
//
// What stands in for what: the simulated kubelet has no container restarts, so for Event triggers
// the test creates the Event a kubelet would (reason BackOff, involvedObject the pod), and for
// OOMKilled it writes the container status a kubelet writes after an OOM kill (lastState
// terminated/OOMKilled, restartCount 1). Readiness is real: the pod's readiness probe fails and
// the simulated kubelet turns the pod not Ready. Traffic triggers see real traffic: RSTs from a
// closed port, HTTP 500s of the app, SERVFAIL answers of a DNS server in the pod. Needs root.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacketCapture } from '../src/api/packetcapture.js';
import { clientFor, getPacketCapture, type KubeClient } from '../src/k8s/client.js';
import { startStack, type Stack } from './harness/demo.js';
import type { ProcessPod, SimPod } from './harness/kubelet.js';
import { assertRoot } from './harness/netns.js';
import { dnsQuery, httpGet, startDnsServer, startHttpServer, type ServerHandle } from './harness/traffic.js';
import { eventually, GiveUp } from './harness/eventually.js';

const NS = 'trg';
const API = '/apis/data.pcapper.dev/v1alpha1';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** An HTTP app whose readiness endpoint answers 200 until /fail was requested; /boom* answers 500. */
const APP = String.raw`
const http = require('node:http');
let ok = true;
http.createServer((req, res) => {
  if (req.url === '/fail') ok = false;
  if (req.url === '/healthz') { res.writeHead(ok ? 200 : 500); res.end(ok ? 'ok' : 'failing'); return; }
  if (req.url.startsWith('/boom')) { res.writeHead(500); res.end('boom'); return; }
  res.writeHead(200); res.end('hello ' + req.url);
}).listen(8080, process.env.POD_IP);
`;

interface Reply {
  status: number;
  body: Buffer;
}

describe('triggered captures: look-back window, firings, webhook (needs root)', () => {
  let stack: Stack;
  let admin: KubeClient;
  let tmp: string;
  const pods: Record<string, SimPod | ProcessPod> = {};
  const servers: ServerHandle[] = [];
  const traffic = new AbortController();
  let trafficDone: Promise<void> | undefined;
  let senderToken = '';

  const apiRequest = (token: string, method: string, path: string, body?: string): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = request(
        `${stack.cluster.server}${path}`,
        { method, ca: stack.cluster.caData, headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) }, timeout: 60_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.end(body);
    });
  const adminToken = (): string => stack.cluster.userToken('admin');

  const kubectlCreate = async (obj: unknown): Promise<{ code: number; stderr: string }> => {
    const r = await stack.cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(obj) });
    return { code: r.code, stderr: r.stderr };
  };
  const capture = (name: string, spec: Record<string, unknown>) =>
    ({ apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name, namespace: NS }, spec });

  const waitFor = async (name: string, what: string, pred: (pc: PacketCapture) => boolean, timeoutMs = 60_000): Promise<PacketCapture> => {
    let last: PacketCapture | undefined;
    return eventually(
      async () => {
        last = await getPacketCapture(admin, NS, name);
        if (last.status?.progress === 'failure') throw new GiveUp(`${name} failed: ${JSON.stringify(last.status)}`);
        return pred(last) ? last : undefined;
      },
      { what: `${name}: ${what}`, timeoutMs, everyMs: 100, describe: () => JSON.stringify(last?.status) },
    );
  };
  const armed = (pc: PacketCapture): boolean =>
    (pc.status?.targets ?? []).length > 0 && (pc.status?.targets ?? []).every((t) => t.phase === 'Running' && t.reason === 'Armed') && pc.status?.conditions?.find((c) => c.type === 'Armed')?.status === 'True';

  /** Downloads every pcap file of the capture through kube-apiserver; returns the local paths. */
  const downloadAll = async (name: string): Promise<string[]> => {
    const list = await apiRequest(adminToken(), 'GET', `${API}/namespaces/${NS}/packetcaptures/${name}/files`);
    assert.equal(list.status, 200, list.body.toString());
    const items = (JSON.parse(list.body.toString()) as { items: { path: string; kind: string; size: number }[] }).items.filter((i) => i.kind === 'pcap');
    assert.ok(items.length > 0, `pcap files of ${name}: ${list.body.toString()}`);
    const out: string[] = [];
    for (const [i, it] of items.entries()) {
      const r = await apiRequest(adminToken(), 'GET', `${API}/namespaces/${NS}/packetcaptures/${name}/files/${it.path}`);
      assert.equal(r.status, 200, `${it.path}: ${r.body.toString().slice(0, 200)}`);
      const p = join(tmp, `${name}-${i}.pcap`);
      writeFileSync(p, r.body);
      out.push(p);
    }
    return out;
  };
  /** (uri, epoch seconds) of every HTTP request in the files, by tshark. */
  const requests = (files: string[]): { uri: string; t: number }[] =>
    files.flatMap((f) => {
      const ts = spawnSync('tshark', ['-r', f, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri', '-e', 'frame.time_epoch'], { encoding: 'utf8' });
      assert.equal(ts.status, 0, ts.stderr);
      return ts.stdout.split('\n').filter(Boolean).map((l) => {
        const [uri, t] = l.split('\t');
        return { uri: uri ?? '', t: Number(t) };
      });
    });

  /** Armed -> marker -> (seconds later) fire -> finished: the marker is in the file, before the firing. */
  const checkLookBack = async (name: string, marker: string, fire: () => Promise<void>, type: string): Promise<void> => {
    await waitFor(name, 'armed', armed);
    const c = await getPacketCapture(admin, NS, name);
    for (const t of c.status?.targets ?? []) assert.ok((t.files ?? []).length === 0 && (t.bytes ?? 0) === 0, `armed: nothing written (${JSON.stringify(t)})`);
    const target = (name === 'on-ready' || name === 'on-5xx' ? pods.app : pods.web) as SimPod;
    const m = await httpGet(pods.client as SimPod, `http://${target.ip}:8080${marker}`, { timeoutMs: 5000 });
    assert.equal(m.status, 200);
    const sentAt = Date.now();
    await sleep(2000); // the scenario: the marker goes 2 s before the trigger
    await fire();
    // a request after the firing: within `after`, so it must be in the file too. Sent once the
    // firing is in status — fire() returns when the trigger's cause exists (an Event, a pod status),
    // the controller decides a moment later; a request sent before that is from the window.
    await waitFor(name, 'fired', (pc) => (pc.status?.firings ?? []).length > 0, 30_000);
    const late = await httpGet(pods.client as SimPod, `http://${target.ip}:8080${marker}-after`, { timeoutMs: 5000 });
    assert.equal(late.status, 200);
    const done = await waitFor(name, 'finished after its window', (pc) => pc.status?.progress === 'finished', 90_000);
    const f = done.status?.firings?.[0];
    assert.ok(f, 'a firing in status');
    assert.equal(f.type, type);
    assert.ok(f.cause, 'the firing says what fired');
    assert.ok(f.windowStart && f.windowEnd, 'window in status');
    for (const t of done.status?.targets ?? []) {
      assert.equal(t.phase, 'Finished', JSON.stringify(t));
      assert.equal(t.reason, 'TriggerWindowEnded', JSON.stringify(t));
      assert.ok(t.triggeredTime && (t.windowPackets ?? 0) > 0, `window released with packets: ${JSON.stringify(t)}`);
    }
    const reqs = requests(await downloadAll(name));
    const hit = reqs.find((r) => r.uri === marker);
    assert.ok(hit, `the marker ${marker}, sent ${Date.parse(f.time) - sentAt} ms before the firing, is in the file (${reqs.length} requests: ${reqs.slice(0, 5).map((r) => r.uri).join(', ')}...)`);
    assert.ok(hit.t * 1000 < Date.parse(f.time) - 1000, `the marker (${hit.t}) is from before the firing (${f.time})`);
    const after = reqs.find((r) => r.uri === `${marker}-after`);
    assert.ok(after && after.t * 1000 > Date.parse(f.time), `the request made after the firing is in the file too (${JSON.stringify(after)})`);
  };

  /** Reports (not asserts: timing on a shared machine) packet time of the firing -> the window frozen. */
  const freezeLag = (t: { diagnostic(m: string): void }, pc: PacketCapture): void => {
    const f = Date.parse(pc.status?.firings?.[0]?.time ?? '');
    t.diagnostic(`traffic firing -> window frozen: ${(pc.status?.targets ?? []).map((x) => `${x.name} ${Date.parse(x.triggeredTime ?? '') - f} ms`).join(', ')}`);
  };

  before(async () => {
    assertRoot();
    tmp = mkdtempSync(join(tmpdir(), 'pcapper-triggers-test-'));
    stack = await startStack({ log: () => undefined });
    admin = clientFor(stack.cluster.kubeConfig);
    const k = stack.kubelet;
    await k.ensureNamespace(NS);
    pods.web = await k.createPod({ namespace: NS, name: 'web', node: 'node-a', labels: { app: 'web' } });
    pods.client = await k.createPod({ namespace: NS, name: 'client', node: 'node-b', labels: { app: 'client' } });
    const web = pods.web;
    servers.push(await startHttpServer({ netnsPath: web.netnsPath, ip: web.ip, ...(web.cgroup ? { cgroup: web.cgroup } : {}) }, 8080, { run: k.run }));
    pods.app = await k.runPod({
      namespace: NS,
      name: 'app',
      node: 'node-a',
      labels: { app: 'app' },
      container: { name: 'app', argv: [process.execPath, '-e', APP], env: { POD_IP: { fieldRef: 'status.podIP' } }, ports: [{ containerPort: 8080 }] },
      readinessProbe: { scheme: 'HTTP', path: '/healthz', port: 8080, periodMs: 200 },
    });
    await k.waitPodReady(pods.app as ProcessPod);
    // the Alertmanager stand-in's identity: a ServiceAccount bound to the chart's trigger role
    const rb = await stack.cluster.kubectl(['create', 'rolebinding', 'am-pcap', '-n', NS, '--clusterrole=pcapper-trigger-sender', `--serviceaccount=${NS}:alertmanager`]);
    assert.equal(rb.code, 0, rb.stderr);
    const rb2 = await stack.cluster.kubectl(['create', 'rolebinding', 'alice-pcap', '-n', NS, '--clusterrole=pcapper-capture-user', '--user=alice']);
    assert.equal(rb2.code, 0, rb2.stderr);
    senderToken = await stack.cluster.serviceAccountToken(NS, 'alertmanager');
    trafficDone = (async () => {
      let i = 0;
      while (!traffic.signal.aborted) {
        i++;
        await httpGet(pods.client as SimPod, `http://${web.ip}:8080/t/${i}`, { timeoutMs: 2000 }).catch(() => undefined);
        await httpGet(pods.client as SimPod, `http://${(pods.app as ProcessPod).ip}:8080/t/${i}`, { timeoutMs: 2000 }).catch(() => undefined);
        await sleep(100);
      }
    })();
  });

  after(async () => {
    traffic.abort();
    await trafficDone;
    for (const s of servers) await s.stop().catch(() => undefined);
    await stack?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('bad triggers are refused at admission with a message saying what is wrong', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ when: [{ type: 'Traffic' }] }, /a Traffic trigger needs traffic \{metric, threshold\}/],
      [{ when: [{ type: 'Traffic', traffic: { metric: 'TcpResetsPerSecond', threshold: 10 } }] }, /Unsupported value: "TcpResetsPerSecond"/],
      [{ when: [{ type: 'Traffic', traffic: { metric: 'TcpResets', threshold: 10, window: '10m' } }] }, /traffic.window must be between 1 second and 5 minutes/],
      [{ when: [{ type: 'NotReady', traffic: { metric: 'TcpResets', threshold: 10 } }] }, /traffic applies only to type Traffic/],
      [{ when: [{ type: 'Event' }] }, /an Event trigger needs reason/],
      [{ when: [{ type: 'NotReady', reason: 'X' }] }, /reason applies only to type Event/],
      [{ lookBack: '20m', when: [{ type: 'NotReady' }] }, /trigger.lookBack must be between 1 second and 10 minutes/],
      [{ lookBackBytes: '10Gi', when: [{ type: 'NotReady' }] }, /trigger.lookBackBytes must be between 64Ki and 1Gi/],
      [{ after: '2h', when: [{ type: 'NotReady' }] }, /trigger.after must be between 0 seconds and 60 minutes/],
      [{ when: [] }, /trigger.when needs at least one trigger/],
      [{ when: [{ type: 'Sometimes' }] }, /Unsupported value: "Sometimes"/],
    ];
    for (const [trigger, re] of cases) {
      const r = await kubectlCreate(capture('bad', { targetPod: 'web', trigger }));
      assert.notEqual(r.code, 0, `refused: ${JSON.stringify(trigger)}`);
      assert.match(r.stderr, re, JSON.stringify(trigger));
    }
    const p = await kubectlCreate(capture('bad', { targetPod: 'web', packetCount: 10, trigger: { when: [{ type: 'NotReady' }] } }));
    assert.match(p.stderr, /packetCount does not apply to a triggered capture/);
    const n = await kubectlCreate({ ...capture('bad', { targetNode: 'node-a', targetInterface: 'eth0', trigger: { when: [{ type: 'OOMKilled' }] } }), metadata: { name: 'bad', namespace: 'pcapper' } });
    assert.match(n.stderr, /a node interface capture has no target pod: its triggers can only be Event, Webhook or Traffic/);
  });

  it('Webhook: an Alertmanager notification to the trigger subresource fires the capture; the marker from 2 s before is in the file; only holders of create packetcaptures/trigger may fire', async () => {
    const r = await kubectlCreate(capture('on-hook', { targetPod: 'web', captureSeconds: 300, trigger: { lookBack: '30s', after: '8s', when: [{ type: 'Webhook', alertName: 'HighErrorRate' }] } }));
    assert.equal(r.code, 0, r.stderr);
    const path = `${API}/namespaces/${NS}/packetcaptures/on-hook/trigger`;
    const note = (status: string, alertname: string): string =>
      JSON.stringify({ version: '4', status, receiver: 'pcapper', groupKey: '{}:{}', alerts: [{ status, labels: { alertname, namespace: NS }, annotations: { summary: '5xx above 5%' }, startsAt: new Date().toISOString() }] });
    await checkLookBack(
      'on-hook',
      '/marker-webhook',
      async () => {
        // refused: no permission (mallory), the capture user without the trigger role (alice)
        for (const user of ['mallory', 'alice'] as const) {
          const d = await apiRequest(stack.cluster.userToken(user), 'POST', path, note('firing', 'HighErrorRate'));
          assert.equal(d.status, 403, `${user}: ${d.body.toString()}`);
        }
        // understood, nothing fired: resolved alerts, another alert, not JSON
        const resolved = await apiRequest(senderToken, 'POST', path, note('resolved', 'HighErrorRate'));
        assert.equal(resolved.status, 200, resolved.body.toString());
        assert.equal((JSON.parse(resolved.body.toString()) as { fired: boolean }).fired, false);
        const other = await apiRequest(senderToken, 'POST', path, note('firing', 'DiskFull'));
        assert.equal((JSON.parse(other.body.toString()) as { fired: boolean; message: string }).fired, false, other.body.toString());
        const junk = await apiRequest(senderToken, 'POST', path, 'not json');
        assert.equal(junk.status, 400, junk.body.toString());
        const still = await getPacketCapture(admin, NS, 'on-hook');
        assert.equal(still.status?.firings?.length ?? 0, 0, 'nothing fired yet');
        const ok = await apiRequest(senderToken, 'POST', path, note('firing', 'HighErrorRate'));
        assert.equal(ok.status, 201, ok.body.toString());
        const again = await apiRequest(senderToken, 'POST', path, note('firing', 'HighErrorRate'));
        assert.match((JSON.parse(again.body.toString()) as { message: string }).message, /already fired/);
      },
      'Webhook',
    );
    const pc = await getPacketCapture(admin, NS, 'on-hook');
    assert.equal(pc.status?.firings?.length, 1, 'a capture fires once');
    assert.equal(pc.status?.firings?.[0]?.source, 'webhook');
    assert.match(pc.status?.firings?.[0]?.cause ?? '', /HighErrorRate: 5xx above 5%/);
    assert.equal(pc.status?.conditions?.find((c) => c.type === 'Triggered')?.status, 'True');
  });

  // before the NotReady case: from then on the app's failing readiness probe answers 500 all the time
  it('Traffic: HTTP 500 responses of the app reach the threshold; the agent fires from the HTTP records of the armed target; the marker from 2 s before is in the file', async (t) => {
    const r = await kubectlCreate(capture('on-5xx', { targetPod: 'app', captureSeconds: 300, trigger: { lookBack: '30s', after: '8s', when: [{ type: 'Traffic', traffic: { metric: 'Http5xx', threshold: 3, window: '5s' } }] } }));
    assert.equal(r.code, 0, r.stderr);
    const app = pods.app as ProcessPod;
    await checkLookBack(
      'on-5xx',
      '/marker-5xx',
      async () => {
        const before = await getPacketCapture(admin, NS, 'on-5xx');
        assert.equal(before.status?.firings?.length ?? 0, 0, 'the background 200s do not fire it');
        for (let i = 1; i <= 3; i++) assert.equal((await httpGet(pods.client as SimPod, `http://${app.ip}:8080/boom-${i}`, { timeoutMs: 5000 })).status, 500);
      },
      'Traffic',
    );
    const pc = await getPacketCapture(admin, NS, 'on-5xx');
    const f = pc.status?.firings?.[0];
    assert.equal(f?.source, 'agent');
    freezeLag(t, pc);
    assert.match(f?.cause ?? '', /^Http5xx on pod\/trg\/app: 3 within 5 s \(threshold 3\), seen by node node-a; last: GET \/boom-3 on .*:8080 answered 500$/);
    const files = await downloadAll('on-5xx');
    const fails = files.flatMap((file) => {
      const ts = spawnSync('tshark', ['-r', file, '-Y', 'http.response.code == 500', '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8' });
      assert.equal(ts.status, 0, ts.stderr);
      return ts.stdout.split('\n').filter(Boolean).map(Number);
    });
    assert.ok(fails.filter((t) => t * 1000 <= Date.parse(f?.time ?? '') + 1).length >= 3, `the three 500s up to the firing (${f?.time}) are in the file: ${fails.join(', ')}`);
  });

  it('NotReady: the pod\'s readiness probe fails, the controller fires; the marker from 2 s before is in the file', async () => {
    const r = await kubectlCreate(capture('on-ready', { targetPod: 'app', captureSeconds: 300, trigger: { lookBack: '20s', after: '8s', when: [{ type: 'NotReady' }, { type: 'OOMKilled' }] } }));
    assert.equal(r.code, 0, r.stderr);
    await checkLookBack(
      'on-ready',
      '/marker-ready',
      async () => {
        const f = await httpGet(pods.client as SimPod, `http://${(pods.app as ProcessPod).ip}:8080/fail`, { timeoutMs: 5000 });
        assert.equal(f.status, 200);
      },
      'NotReady',
    );
    const pc = await getPacketCapture(admin, NS, 'on-ready');
    assert.equal(pc.status?.firings?.[0]?.source, 'controller');
    assert.match(pc.status?.firings?.[0]?.cause ?? '', /pod trg\/app turned not Ready/);
  });

  it('Event: a Kubernetes Event with the reason fires the capture; an Event with another reason does not', async () => {
    const r = await kubectlCreate(capture('on-event', { targetPod: 'web', captureSeconds: 300, trigger: { lookBack: '30s', after: '8s', when: [{ type: 'Event', reason: 'BackOff' }] } }));
    assert.equal(r.code, 0, r.stderr);
    const event = (name: string, reason: string) => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: NS },
      involvedObject: { kind: 'Pod', name: 'web', namespace: NS, apiVersion: 'v1' },
      reason,
      message: `Back-off restarting failed container (${name})`,
      type: 'Warning',
      source: { component: 'kubelet', host: 'node-a' },
      firstTimestamp: new Date().toISOString(),
      lastTimestamp: new Date().toISOString(),
      count: 1,
    });
    await checkLookBack(
      'on-event',
      '/marker-event',
      async () => {
        await admin.request({ method: 'POST', path: `/api/v1/namespaces/${NS}/events`, body: event('web.other', 'Pulled') });
        await admin.request({ method: 'POST', path: `/api/v1/namespaces/${NS}/events`, body: event('web.backoff', 'BackOff') });
      },
      'Event',
    );
    const pc = await getPacketCapture(admin, NS, 'on-event');
    assert.equal(pc.status?.firings?.length, 1);
    assert.match(pc.status?.firings?.[0]?.cause ?? '', /Event BackOff on Pod trg\/web/);
  });

  it('Traffic: TCP resets from connections to a closed port reach the threshold; the agent fires; the marker from 2 s before and the resets are in the file', async (t) => {
    const r = await kubectlCreate(
      capture('on-traffic', { targetPod: 'web', captureSeconds: 300, trigger: { lookBack: '30s', after: '8s', when: [{ type: 'Traffic', traffic: { metric: 'TcpResets', threshold: 5, window: '2s' } }] } }),
    );
    assert.equal(r.code, 0, r.stderr);
    const web = pods.web as SimPod;
    await checkLookBack(
      'on-traffic',
      '/marker-traffic',
      async () => {
        const before = await getPacketCapture(admin, NS, 'on-traffic');
        assert.equal(before.status?.firings?.length ?? 0, 0, 'the background HTTP traffic alone does not fire it');
        // real RSTs: the web pod's kernel refuses connections to a port nothing listens on (the client retries every 100 ms)
        await assert.rejects(httpGet(pods.client as SimPod, `http://${web.ip}:81/refused`, { timeoutMs: 1500 }));
      },
      'Traffic',
    );
    const pc = await getPacketCapture(admin, NS, 'on-traffic');
    const f = pc.status?.firings?.[0];
    assert.equal(pc.status?.firings?.length, 1, 'fires once');
    assert.equal(f?.source, 'agent');
    freezeLag(t, pc);
    assert.match(f?.cause ?? '', /^TcpResets on pod\/trg\/web: 5 within 2 s \(threshold 5\), seen by node node-a; last: .* -> (trg\/web|[0-9.]+):81 refused$/);
    assert.equal(pc.status?.conditions?.find((c) => c.type === 'Triggered')?.reason, 'Traffic');
    // the resets that fired it are in the file, before the firing time (tshark)
    const files = await downloadAll('on-traffic');
    const rsts = files.flatMap((file) => {
      const ts = spawnSync('tshark', ['-r', file, '-Y', 'tcp.flags.reset == 1 && tcp.srcport == 81', '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8' });
      assert.equal(ts.status, 0, ts.stderr);
      return ts.stdout.split('\n').filter(Boolean).map(Number);
    });
    const firedAt = Date.parse(f?.time ?? '');
    // (the firing's time has whole milliseconds, tshark's microseconds)
    assert.ok(rsts.filter((t) => t * 1000 <= firedAt + 1).length >= 5, `at least 5 RSTs from port 81 up to the firing (${f?.time}): ${rsts.join(', ')}`);
  });

  it('Traffic: SERVFAIL answers of a DNS server in the target pod reach the threshold within the window; the agent fires', async (t) => {
    const web = pods.web as SimPod;
    servers.push(await startDnsServer({ netnsPath: web.netnsPath, ip: web.ip, ...(web.cgroup ? { cgroup: web.cgroup } : {}) }, 53, { 'ok.example': '10.9.9.9', 'broken.example': 'SERVFAIL' }, { run: stack.kubelet.run }));
    const r = await kubectlCreate(capture('on-servfail', { targetPod: 'web', captureSeconds: 300, trigger: { lookBack: '30s', after: '8s', when: [{ type: 'Traffic', traffic: { metric: 'DnsServfail', threshold: 3, window: '30s' } }] } }));
    assert.equal(r.code, 0, r.stderr);
    await checkLookBack(
      'on-servfail',
      '/marker-servfail',
      async () => {
        // answered queries and NXDOMAIN do not count; three SERVFAIL do
        assert.equal((await dnsQuery(pods.client as SimPod, web.ip, 'ok.example')).rcode, 0);
        assert.equal((await dnsQuery(pods.client as SimPod, web.ip, 'nothing.example')).rcode, 3);
        for (let i = 0; i < 3; i++) assert.equal((await dnsQuery(pods.client as SimPod, web.ip, 'broken.example')).rcode, 2);
      },
      'Traffic',
    );
    const pc = await getPacketCapture(admin, NS, 'on-servfail');
    const f = pc.status?.firings?.[0];
    assert.equal(f?.source, 'agent');
    freezeLag(t, pc);
    assert.match(f?.cause ?? '', /^DnsServfail on pod\/trg\/web: 3 within 30 s \(threshold 3\), seen by node node-a; last: broken\.example\.? A from .*:53 SERVFAIL$/);
    const files = await downloadAll('on-servfail');
    const fails = files.flatMap((file) => {
      const ts = spawnSync('tshark', ['-r', file, '-Y', 'dns.flags.response == 1 && dns.flags.rcode == 2', '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8' });
      assert.equal(ts.status, 0, ts.stderr);
      return ts.stdout.split('\n').filter(Boolean).map(Number);
    });
    assert.ok(fails.filter((x) => x * 1000 <= Date.parse(f?.time ?? '') + 1).length >= 3, `the three SERVFAIL answers up to the firing (${f?.time}) are in the file: ${fails.join(', ')}`);
  });

  it('OOMKilled: the container status a kubelet writes after an OOM kill fires the capture', async () => {
    const r = await kubectlCreate(capture('on-oom', { targetPod: 'web', captureSeconds: 300, trigger: { lookBack: '30s', after: '8s', when: [{ type: 'OOMKilled' }] } }));
    assert.equal(r.code, 0, r.stderr);
    await checkLookBack(
      'on-oom',
      '/marker-oom',
      async () => {
        const cur = await admin.request<{ status?: { containerStatuses?: Record<string, unknown>[] } }>({ path: `/api/v1/namespaces/${NS}/pods/web/status` });
        const now = new Date().toISOString();
        const cs = (cur.status?.containerStatuses ?? []).map((c) => ({ ...c, restartCount: 1, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: now, finishedAt: now } } }));
        await admin.request({ method: 'PATCH', path: `/api/v1/namespaces/${NS}/pods/web/status`, contentType: 'application/merge-patch+json', body: { status: { containerStatuses: cs } } });
      },
      'OOMKilled',
    );
  });
});
