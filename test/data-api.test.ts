// The data API (docs/data-api.md) as users and a hostile node see it, end to end on a real cluster
// (test/harness/demo.ts startStack(): kube-apiserver on the simulated pod fabric, the controller,
// agents as DaemonSet pods with mTLS, two pcapper server replicas behind the APIService). Every
// user request goes to kube-apiserver with the user's own token, as kubectl does; real captures of
// real traffic between pods on two nodes. Issue 10's tenancy, forged-status and direct-agent tests,
// and issue 16 item 1 (a finished capture stays downloadable after an agent rollout).
// Needs root (network namespaces, tcpdump).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacketCapture } from '../src/api/packetcapture.js';
import type { StaticUser } from './harness/cluster.js';
import { startStack, type Stack } from './harness/demo.js';
import type { SimPod } from './harness/kubelet.js';
import { assertRoot, inNetns, runCommand, spawnInNetns, type SpawnedProcess } from './harness/netns.js';
import { makeClientCert } from './harness/pki.js';
import { httpGet, startHttpServer, type ServerHandle } from './harness/traffic.js';
import { eventually, GiveUp } from './harness/eventually.js';

const A = 'team-a';
const B = 'team-b';
const API = '/apis/data.pcapper.dev/v1alpha1';
/** An address on the pod fabric that no node or pod has; a forged status points at it. */
const TRAP_IP = '10.244.0.253';
const TRAP_PORTS = [9, 80, 443, 8443, 9443];

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface FileItem {
  node: string;
  target: string;
  name: string;
  path: string;
  size: number;
  modified: string;
  kind: string;
}

interface FileList {
  kind: string;
  metadata: { namespace: string; name: string };
  nodes: { node: string; live?: string[]; error?: string }[];
  items: FileItem[];
}

/** What identifies a file in a list (not its modification time). */
const ident = (i: FileItem): string => `${i.node}/${i.target}/${i.name} ${i.size} ${i.kind}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A small HTTPS client run INSIDE a pod's network namespace: GET url with an optional bearer token
 * and client certificate, verifying the agent's serving certificate (pcapper CA, its DNS name).
 * Prints {status, body} or {error} as JSON.
 */
const AGENT_CLIENT = String.raw`
const https = require('node:https');
const fs = require('node:fs');
const [url, token, cert, key, ca] = process.argv.slice(1);
const opts = { ca: fs.readFileSync(ca), servername: 'pcapper-agent.pcapper.svc', timeout: 10000, headers: {} };
if (token) opts.headers.Authorization = 'Bearer ' + token;
if (cert) { opts.cert = fs.readFileSync(cert); opts.key = fs.readFileSync(key); }
const req = https.get(url, opts, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') })));
  res.on('error', (e) => process.stdout.write(JSON.stringify({ error: e.code || e.message })));
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => process.stdout.write(JSON.stringify({ error: (e.code || '') + ' ' + e.message })));
`;

/** Accepts TCP on TRAP_PORTS and prints one line per connection (who connected to which port). */
const TRAP_LISTENER = String.raw`
const net = require('node:net');
const [ip, ports] = [process.argv[1], process.argv[2].split(',').map(Number)];
let pending = ports.length;
for (const port of ports) {
  const srv = net.createServer((s) => { process.stdout.write('conn ' + port + ' ' + s.remoteAddress + '\n'); s.destroy(); });
  srv.on('error', (e) => { process.stderr.write(String(e) + '\n'); process.exit(1); });
  srv.listen(port, ip, () => { if (--pending === 0) process.stdout.write('listening\n'); });
}
`;

describe('the data API through kube-apiserver: tenancy, forged status, direct agent access, agent rollout (needs root)', () => {
  let stack: Stack;
  let tmp: string;
  const pods: Record<string, SimPod> = {};
  const servers: ServerHandle[] = [];
  const traffic = new AbortController();
  let trafficDone: Promise<void> | undefined;
  let trap: SpawnedProcess | undefined;
  let trapOut = '';

  /** A request to kube-apiserver with a bearer token (what kubectl and client-node send). */
  const apiRequest = (token: string, method: string, path: string, o: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = request(
        `${stack.cluster.server}${path}`,
        { method, ca: stack.cluster.caData, headers: { Authorization: `Bearer ${token}`, Accept: '*/*', ...o.headers }, timeout: 60_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.end(o.body);
    });

  /** GET through kube-apiserver with a static user's own token (what kubectl get --raw sends). */
  const apiGet = (user: StaticUser, path: string, headers: Record<string, string> = {}): Promise<Reply> => apiRequest(stack.cluster.userToken(user), 'GET', path, { headers });

  const kubectl = (args: string[], o: { input?: string; kubeconfig?: string } = {}): Promise<string> => stack.cluster.kubectlOk(args, o);

  const getPc = async (ns: string, name: string): Promise<PacketCapture> =>
    JSON.parse(await kubectl(['get', 'packetcaptures.pcapper.dev', name, '-n', ns, '-o', 'json'])) as PacketCapture;

  const filesPath = (ns: string, name: string): string => `${API}/namespaces/${ns}/packetcaptures/${name}/files`;

  /** The file list as `user`; asserts 200. */
  const listAs = async (user: StaticUser, ns: string, name: string): Promise<FileList> => {
    const r = await apiGet(user, filesPath(ns, name));
    assert.equal(r.status, 200, `${user} lists ${ns}/${name}: ${r.body.toString()}`);
    return JSON.parse(r.body.toString()) as FileList;
  };

  /** Downloads one listed file as `user`; asserts 200 and the listed size. */
  const download = async (user: StaticUser, ns: string, name: string, item: FileItem): Promise<Buffer> => {
    const r = await apiGet(user, `${filesPath(ns, name)}/${item.path}`);
    assert.equal(r.status, 200, `${user} downloads ${item.path}: ${r.body.toString().slice(0, 300)}`);
    assert.equal(r.body.length, item.size, `${item.path}: the listed size`);
    return r.body;
  };

  /** A Kubernetes Status with this code (and a message matching `re`). */
  const assertStatus = (r: Reply, code: number, re: RegExp, what: string): void => {
    assert.equal(r.status, code, `${what}: ${r.body.toString().slice(0, 300)}`);
    const s = JSON.parse(r.body.toString()) as { kind?: string; code?: number; message?: string };
    assert.equal(s.kind, 'Status', what);
    assert.equal(s.code, code, what);
    assert.match(s.message ?? '', re, what);
  };

  const createCapture = async (ns: string, name: string, pod: string): Promise<void> => {
    const pc = { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name, namespace: ns }, spec: { targetPod: pod, captureSeconds: '4s' } };
    await kubectl(['create', '-f', '-'], { input: JSON.stringify(pc) });
  };

  const waitFinished = async (ns: string, name: string): Promise<PacketCapture> => {
    let last: PacketCapture | undefined;
    return eventually(
      async () => {
        last = await getPc(ns, name);
        if (last.status?.progress === 'failure') throw new GiveUp(`${ns}/${name} failed`);
        return last.status?.progress === 'finished' ? last : undefined;
      },
      { what: `${ns}/${name} finished`, timeoutMs: 120_000, everyMs: 250, describe: () => JSON.stringify(last?.status) },
    );
  };

  /** Runs AGENT_CLIENT inside a tenant pod's network namespace against the node-a agent. */
  const fromTenantPod = async (path: string, token: string, pair?: { cert: string; key: string }): Promise<{ status?: number; body?: string; error?: string }> => {
    const agent = stack.agents['node-a'];
    assert.ok(agent);
    const [file, args] = inNetns(pods.b as SimPod, [process.execPath, '-e', AGENT_CLIENT, `${agent.endpoint}${path}`, token, pair?.cert ?? '', pair?.key ?? '', stack.pki.ca.cert]);
    return JSON.parse(await runCommand(file, args, { timeoutMs: 30_000 })) as { status?: number; body?: string; error?: string };
  };

  before(async () => {
    assertRoot();
    tmp = mkdtempSync(join(tmpdir(), 'pcapper-data-api-test-'));
    stack = await startStack({ log: () => undefined });
    const k = stack.kubelet;
    await k.ensureNamespace(A);
    await k.ensureNamespace(B);
    // alice: the chart's user role in team-a only
    await kubectl(['create', 'rolebinding', 'alice-pcap', '-n', A, '--clusterrole=pcapper-capture-user', '--user=alice']);
    pods.a = await k.createPod({ namespace: A, name: 'web', node: 'node-a', labels: { app: 'web' } });
    pods.b = await k.createPod({ namespace: B, name: 'web', node: 'node-b', labels: { app: 'web' } });
    // another tenant's pod beside alice's, on node-a: its name must not reach alice's metadata
    pods.neighbour = await k.createPod({ namespace: B, name: 'neighbour', node: 'node-a', labels: { app: 'neighbour' } });
    for (const p of [pods.a, pods.b]) {
      servers.push(await startHttpServer({ netnsPath: p.netnsPath, ip: p.ip, ...(p.cgroup ? { cgroup: p.cgroup } : {}) }, 8080, { run: k.run }));
    }
    // the two pods call each other across the nodes until the suite ends
    trafficDone = (async () => {
      let i = 0;
      while (!traffic.signal.aborted) {
        const [from, to] = i % 2 === 0 ? [pods.a as SimPod, pods.b as SimPod] : [pods.b as SimPod, pods.a as SimPod];
        i++;
        await httpGet(from, `http://${to.ip}:8080/t/${i}`, { timeoutMs: 2000 }).catch(() => undefined);
        await sleep(100);
      }
    })();
    // cap-a: alice's; cap-b: another tenant's; cap-r: for the agent rollout (all targets on their pods' nodes)
    await createCapture(A, 'cap-a', 'web');
    await createCapture(B, 'cap-b', 'web');
    await createCapture(A, 'cap-r', 'web');
    for (const [ns, n] of [[A, 'cap-a'], [B, 'cap-b'], [A, 'cap-r']] as const) await waitFinished(ns, n);
  });

  after(async () => {
    traffic.abort();
    await trafficDone;
    for (const s of servers) await s.stop().catch(() => undefined);
    if (trap) {
      trap.kill('SIGKILL');
      await trap.exited;
    }
    await stack?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("discovery: any authenticated user sees packetcaptures/files and packetcaptures/log (namespaced, get) in data.pcapper.dev/v1alpha1", async () => {
    for (const user of ['alice', 'mallory'] as const) {
      const out = await kubectl(['get', '--raw', API], { kubeconfig: stack.cluster.userKubeconfigPath(user) });
      const l = JSON.parse(out) as { kind: string; groupVersion: string; resources: { name: string; namespaced: boolean; verbs: string[] }[] };
      assert.equal(l.kind, 'APIResourceList');
      assert.equal(l.groupVersion, 'data.pcapper.dev/v1alpha1');
      assert.deepEqual(l.resources.map((r) => r.name).sort(), ['packetcaptures/files', 'packetcaptures/log', 'packetcaptures/trigger']);
      for (const r of l.resources) {
        assert.equal(r.namespaced, true, r.name);
        assert.deepEqual(r.verbs, r.name === 'packetcaptures/trigger' ? ['create'] : ['get'], r.name);
      }
    }
    const versions = await kubectl(['api-versions'], { kubeconfig: stack.cluster.userKubeconfigPath('alice') });
    assert.ok(versions.split('\n').includes('data.pcapper.dev/v1alpha1'), versions);
  });

  it("alice lists and downloads her namespace's files (bytes = the admin's; Range 206 exact); metadata names only her pods; 403 for team-b and for mallory; 404 only where she may look", async () => {
    // the list, through kubectl get --raw as alice and as a raw request: one answer
    const viaKubectl = JSON.parse(await kubectl(['get', '--raw', filesPath(A, 'cap-a')], { kubeconfig: stack.cluster.userKubeconfigPath('alice') })) as FileList;
    const list = await listAs('alice', A, 'cap-a');
    const adminList = await listAs('admin', A, 'cap-a');
    assert.equal(list.kind, 'PacketCaptureFileList');
    assert.deepEqual(list.metadata, { namespace: A, name: 'cap-a' });
    assert.deepEqual(viaKubectl.items.map(ident), list.items.map(ident));
    assert.deepEqual(adminList.items.map(ident), list.items.map(ident));
    assert.ok(list.items.length > 0, 'files listed');
    for (const i of list.items) {
      assert.equal(i.node, 'node-a', `only the target's node: ${i.path}`);
      assert.equal(i.target, 'pod.team-a.web', i.path);
    }
    assert.deepEqual(list.nodes.find((n) => n.node === 'node-a'), { node: 'node-a', live: [] });
    const pcaps = list.items.filter((i) => i.kind === 'pcap');
    assert.ok(pcaps.length > 0, `a pcap file among ${list.items.map((i) => i.path).join(', ')}`);
    assert.ok(list.items.some((i) => i.kind === 'metadata'), 'the metadata sidecar is listed');

    // every file: alice's bytes = the admin's bytes, of the listed size
    for (const item of list.items) {
      const mine = await download('alice', A, 'cap-a', item);
      const admins = await download('admin', A, 'cap-a', item);
      assert.ok(mine.equals(admins), `${item.path}: alice's download equals the admin's`);
    }
    // issue 10 6c: the metadata sidecar alice downloads names her namespace's pods only, not the
    // other tenant's pod on the same node
    const metaItem = list.items.find((i) => i.kind === 'metadata') as FileItem;
    const meta = JSON.parse((await download('alice', A, 'cap-a', metaItem)).toString()) as { endpoints?: Record<string, { pod: string; namespace: string }> };
    const a = pods.a as SimPod;
    const neighbour = pods.neighbour as SimPod;
    assert.deepEqual(meta.endpoints?.[a.ip], { pod: 'web', namespace: A, node: 'node-a' }, `alice's own pod is named: ${JSON.stringify(meta.endpoints)}`);
    for (const [ip, e] of Object.entries(meta.endpoints ?? {})) assert.equal(e.namespace, A, `${ip} belongs to ${e.namespace}/${e.pod}`);
    assert.equal(meta.endpoints?.[neighbour.ip], undefined, `no entry for ${B}/neighbour (${neighbour.ip}) on the same node`);
    const pcap = pcaps[0] as FileItem;
    const whole = await download('alice', A, 'cap-a', pcap);
    assert.ok(whole.length > 200, `the capture has packets (${whole.length} bytes)`);
    assert.ok([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(whole.readUInt32BE(0)), 'a pcap file');
    // a resumed download: Range through kube-apiserver, exactly that slice
    const [from, to] = [24, Math.min(whole.length - 1, 24 + 150)];
    const part = await apiGet('alice', `${filesPath(A, 'cap-a')}/${pcap.path}`, { Range: `bytes=${from}-${to}` });
    assert.equal(part.status, 206, part.body.toString().slice(0, 300));
    assert.equal(part.headers['content-range'], `bytes ${from}-${to}/${whole.length}`);
    assert.ok(part.body.equals(whole.subarray(from, to + 1)), 'exactly the requested slice');
    const tail = await apiGet('alice', `${filesPath(A, 'cap-a')}/${pcap.path}`, { Range: 'bytes=-7' });
    assert.equal(tail.status, 206);
    assert.ok(tail.body.equals(whole.subarray(whole.length - 7)));

    // another namespace's capture: 403 on the list, a file and the live stream
    const bList = await listAs('admin', B, 'cap-b');
    const bFile = bList.items.find((i) => i.kind === 'pcap');
    assert.ok(bFile, 'team-b has a pcap file (so the 403 is not a 404 in disguise)');
    assertStatus(await apiGet('alice', filesPath(B, 'cap-b')), 403, /alice.*forbidden|forbidden.*alice|cannot get/i, 'alice lists team-b');
    assertStatus(await apiGet('alice', `${filesPath(B, 'cap-b')}/${bFile.path}`), 403, /alice/, 'alice downloads a team-b file');
    assertStatus(await apiGet('alice', `${API}/namespaces/${B}/packetcaptures/cap-b/log?node=node-b&target=${bFile.target}`), 403, /alice/, "alice streams team-b's capture");
    // mallory: nothing anywhere
    for (const [ns, name, item] of [[A, 'cap-a', pcap], [B, 'cap-b', bFile]] as const) {
      assertStatus(await apiGet('mallory', filesPath(ns, name)), 403, /mallory/, `mallory lists ${ns}/${name}`);
      assertStatus(await apiGet('mallory', `${filesPath(ns, name)}/${item.path}`), 403, /mallory/, `mallory downloads from ${ns}/${name}`);
      assertStatus(await apiGet('mallory', `${API}/namespaces/${ns}/packetcaptures/${name}/log?node=${item.node}&target=${item.target}`), 403, /mallory/, `mallory streams ${ns}/${name}`);
    }
    // no existence leak: a missing capture is 404 only where alice may read; in team-b it is 403 like an existing one
    assertStatus(await apiGet('alice', filesPath(A, 'no-such-capture')), 404, /no-such-capture.*not found/, 'missing capture in team-a');
    const missingB = await apiGet('alice', filesPath(B, 'no-such-capture'));
    const existingB = await apiGet('alice', filesPath(B, 'cap-b'));
    assertStatus(missingB, 403, /alice/, 'missing capture in team-b');
    assert.doesNotMatch(missingB.body.toString(), /not found/);
    assert.equal(
      missingB.body.toString().replaceAll('no-such-capture', 'X'),
      existingB.body.toString().replaceAll('cap-b', 'X'),
      'the 403 for a missing capture is the 403 for an existing one',
    );
  });

  it('an agent that forges status changes nothing for users: endpoint pruned, no connection to it, same files; unsafe node names refused', async () => {
    const cluster = stack.cluster;
    // A listener on TRAP_IP, in a pod of its own on the fabric: if anything ever followed a URL
    // written in status, it would connect here. First prove the trap catches connections.
    const trapPod = await stack.kubelet.createPod({ namespace: 'trap', name: 'trap', node: 'node-b' });
    await runCommand('ip', ['-n', trapPod.netns, 'addr', 'add', `${TRAP_IP}/16`, 'dev', 'eth0']);
    await new Promise<void>((resolve, reject) => {
      const p = spawnInNetns(trapPod, [process.execPath, '-e', TRAP_LISTENER, TRAP_IP, TRAP_PORTS.join(',')], {
        run: stack.kubelet.run,
        what: 'trap listener',
        onStdout: (c) => {
          trapOut += c;
          if (trapOut.includes('listening\n')) resolve();
        },
        onStderr: (c) => reject(new Error(`trap listener: ${c}`)),
      });
      trap = p;
      void p.exited.then((code) => reject(new Error(`trap listener exited (${code})`)));
    });
    const probe = `require('net').connect(9, ${JSON.stringify(TRAP_IP)}).on('connect', function () { this.destroy(); console.log('ok'); }).on('error', (e) => { console.log(e.message); })`;
    const [pf, pa] = inNetns(pods.a as SimPod, [process.execPath, '-e', probe]);
    assert.equal((await runCommand(pf, pa, { timeoutMs: 20_000 })).trim(), 'ok', 'the trap is reachable on the fabric');
    await eventually(() => /^conn 9 /m.test(trapOut), { what: 'the probe connection at the trap', timeoutMs: 10_000, everyMs: 50, describe: () => trapOut });
    const trapBaseline = trapOut;

    const before = await listAs('alice', A, 'cap-a');
    const pc = await getPc(A, 'cap-a');
    const own = (pc.status?.nodes ?? []).map((n) => n.node);
    assert.deepEqual(own, ['node-a'], "the capture's only node is its target's");
    // the agent's real identity: its ServiceAccount may patch (not even get) any capture's status
    const agentToken = await cluster.serviceAccountToken('pcapper', 'pcapper-agent');
    const statusPath = `/apis/pcapper.dev/v1alpha1/namespaces/${A}/packetcaptures/cap-a/status`;
    const patchStatus = (nodes: unknown[]): Promise<Reply> =>
      apiRequest(agentToken, 'PATCH', statusPath, { headers: { 'Content-Type': 'application/merge-patch+json', Accept: 'application/json' }, body: JSON.stringify({ status: { nodes } }) });
    const forged = await patchStatus([
      ...(pc.status?.nodes ?? []),
      { node: 'node-b', endpoint: `http://${TRAP_IP}:9/steal`, files: 99, bytes: 12345 },
      { node: 'evil.example', endpoint: `http://${TRAP_IP}:9/steal`, files: 1, bytes: 1 },
    ]);
    assert.equal(forged.status, 200, `the agent's status patch: ${forged.body.toString()}`);
    const patched = JSON.parse(forged.body.toString()) as PacketCapture;
    assert.deepEqual((patched.status?.nodes ?? []).map((n) => n.node).sort(), ['evil.example', 'node-a', 'node-b'], 'the forged node entries were stored');
    const stored = await getPc(A, 'cap-a');
    for (const n of stored.status?.nodes ?? []) assert.equal('endpoint' in n, false, `status.nodes[${n.node}].endpoint is pruned by the apiserver`);
    assert.doesNotMatch(JSON.stringify(stored), /steal|10\.244\.0\.253/, 'no forged URL anywhere in the stored object');

    // users see the same files; the forged nodes contribute nothing
    const after = await listAs('alice', A, 'cap-a');
    assert.deepEqual(after.items.map(ident), before.items.map(ident), 'exactly the same files');
    assert.deepEqual(after.nodes.map((n) => n.node).sort(), ['evil.example', 'node-a', 'node-b']);
    for (const n of after.nodes.filter((x) => x.node !== 'node-a')) {
      assert.ok(n.error !== undefined || (n.live ?? []).length === 0, `forged node ${n.node}: an error or nothing live (${JSON.stringify(n)})`);
    }
    assert.match(after.nodes.find((n) => n.node === 'evil.example')?.error ?? '', /evil\.example/, 'no agent for a node that does not exist');
    // downloads still work and name no forged node
    const pcap = after.items.find((i) => i.kind === 'pcap') as FileItem;
    await download('alice', A, 'cap-a', pcap);
    assert.equal((await apiGet('alice', `${filesPath(A, 'cap-a')}/evil.example/${pcap.target}/${pcap.name}`)).status === 200, false, 'nothing served for the forged node');
    // the admin's view (pcapper-admin) too: the server is the same for everyone
    assert.deepEqual((await listAs('admin', A, 'cap-a')).items.map(ident), before.items.map(ident));
    assert.equal(trapOut, trapBaseline, `nothing connected to the forged endpoint:\n${trapOut}`);

    // names a client would turn into paths are refused by the CRD pattern
    for (const bad of ['../x', 'a/b', '-x', 'X']) {
      const r = await patchStatus([...(pc.status?.nodes ?? []), { node: bad }]);
      assert.equal(r.status, 422, `node name ${JSON.stringify(bad)}: ${r.body.toString()}`);
      assert.match(r.body.toString(), /status\.nodes\[\d+\]\.node.*should match/, r.body.toString());
    }
    assert.deepEqual(((await getPc(A, 'cap-a')).status?.nodes ?? []).map((n) => n.node).sort(), ['evil.example', 'node-a', 'node-b']);
  });

  it("a user's token sent straight to an agent is refused: 401 without a client certificate, 403 with the agent's own; only the server's certificate is served", async () => {
    const list = await listAs('alice', A, 'cap-a');
    const pcap = list.items.find((i) => i.kind === 'pcap') as FileItem;
    const token = stack.cluster.userToken('alice');
    const aliceClient = makeClientCert(tmp, stack.pki.ca, 'alice-client', 'alice');
    const listPath = `/v1/captures/${A}/cap-a/files`;
    const filePath = `/v1/captures/${A}/cap-a/files/${pcap.target}/${pcap.name}`;
    for (const path of [listPath, filePath]) {
      const bare = await fromTenantPod(path, token);
      if (bare.error === undefined) {
        assert.equal(bare.status, 401, `${path}, alice's token, no certificate: ${JSON.stringify(bare)}`);
        assert.match(bare.body ?? '', /client certificate is required/);
      } else assert.match(bare.error, /certificate|handshake|alert|ECONNRESET|socket hang up/i, `${path}: refused at the TLS level`);
      assert.doesNotMatch(bare.body ?? '', new RegExp(pcap.name.replace(/\./g, '\\.')), 'no file names leak');
      const agentCert = await fromTenantPod(path, token, stack.pki.agent);
      assert.equal(agentCert.status, 403, `${path}, alice's token + the agent's certificate: ${JSON.stringify(agentCert)}`);
      assert.match(agentCert.body ?? '', /not issued by the pcapper CA for TLS clients/);
      assert.doesNotMatch(agentCert.body ?? '', new RegExp(pcap.name.replace(/\./g, '\\.')));
      // a TLS client certificate from the pcapper CA, but for alice: the CN is not the server's
      const aliceCert = await fromTenantPod(path, token, aliceClient);
      assert.equal(aliceCert.status, 403, `${path}, alice's token + a pcapper-CA client cert with CN alice: ${JSON.stringify(aliceCert)}`);
      assert.match(aliceCert.body ?? '', /CN "alice" may not read capture data/);
    }
    // the server's certificate is what counts: with it the same request works, with or without a token
    const withServer = await fromTenantPod(listPath, token, stack.pki.server);
    assert.equal(withServer.status, 200, JSON.stringify(withServer));
    const files = (JSON.parse(withServer.body ?? '{}') as { files?: { name?: string }[] }).files ?? [];
    assert.ok(files.some((f) => f.name === pcap.name), `the agent lists ${pcap.name}: ${withServer.body}`);
    const noToken = await fromTenantPod(listPath, '', stack.pki.server);
    assert.equal(noToken.status, 200, JSON.stringify(noToken));
  });

  it('an agent rollout (new pod, new IP) keeps a finished capture downloadable through the API with identical bytes (issue 16 item 1)', async () => {
    const before = await listAs('alice', A, 'cap-r');
    assert.ok(before.items.some((i) => i.kind === 'pcap'), 'a pcap file before the rollout');
    const bytes = new Map<string, Buffer>();
    for (const i of before.items) bytes.set(i.path, await download('alice', A, 'cap-r', i));
    const agent = stack.agents['node-a'];
    assert.ok(agent);
    const [oldName, oldIp] = [agent.pod.name, agent.pod.ip];
    await agent.restart();
    assert.notEqual(agent.pod.name, oldName);
    assert.notEqual(agent.pod.ip, oldIp, 'the new agent pod has a new IP');
    await stack.kubelet.waitPodGone('pcapper', oldName);
    // the server follows the DaemonSet's pods: bounded wait until node-a answers again
    let seen: FileList | undefined;
    const now = await eventually(
      async () => {
        seen = await listAs('alice', A, 'cap-r');
        const n = seen.nodes.find((x) => x.node === 'node-a');
        return n && n.error === undefined ? seen : undefined;
      },
      { what: 'node-a listed again after the rollout', timeoutMs: 60_000, everyMs: 250, describe: () => JSON.stringify(seen?.nodes) },
    );
    assert.deepEqual(now.items.map(ident), before.items.map(ident), 'the same files after the rollout');
    for (const i of now.items) assert.ok((await download('alice', A, 'cap-r', i)).equals(bytes.get(i.path) as Buffer), `${i.path}: identical bytes after the rollout`);
    assert.equal((await getPc(A, 'cap-r')).status?.progress, 'finished');
  });
});
