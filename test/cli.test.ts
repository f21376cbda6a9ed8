// kubectl-pcap against a real control plane, run as a separate process as a user runs it, with the
// real controller and one real agent per simulated node (test/harness/demo.ts startStack()) and real
// traffic between pods on two nodes. Needs root (network namespaces, tcpdump).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { PacketCapture } from '../src/api/packetcapture.js';
import { startStack, type Stack } from './harness/demo.js';
import type { SimPod } from './harness/kubelet.js';
import { assertRoot } from './harness/netns.js';
import { httpGet, startHttpServer, type ServerHandle } from './harness/traffic.js';
import { CLI, idbComments, interfaceNames, kp, kpApiOnly, packetsPerInterface, RelayGate, spawnCli, tool, underPty, type CliResult } from './cli-support.js';
import { eventually } from './harness/eventually.js';

const NS = 'shop';

/** A one-line error: exactly `error: ...` (plus kubectl's usage hint for usage errors), no stack. */
function assertOneLineError(r: CliResult, code: number, re: RegExp): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^error: /);
  assert.match(lines[0] ?? '', re);
  if (code === 2) {
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[1] ?? '', /^See 'kubectl pcap( [a-z]+)? --help' for usage\.$/);
  } else assert.equal(lines.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stdout.length, 0, 'no data on stdout');
}

describe('kubectl-pcap against a real cluster with the controller and two node agents (needs root)', () => {
  let stack: Stack;
  let tmp: string;
  let admin: string;
  let alice: string;
  const pods: Record<string, SimPod> = {};
  const servers: ServerHandle[] = [];
  let rsName = '';
  const traffic = new AbortController();
  let trafficDone: Promise<void> | undefined;

  const kubectl = (args: string[], input?: string): Promise<string> => stack.cluster.kubectlOk(args, input === undefined ? {} : { input });
  const getPc = async (name: string, ns = NS): Promise<PacketCapture | undefined> => {
    const r = await stack.cluster.kubectl(['get', 'packetcaptures.pcapper.dev', name, '-n', ns, '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as PacketCapture) : undefined;
  };
  const waitGone = async (name: string, ns = NS): Promise<void> => {
    await eventually(async () => (await getPc(name, ns)) === undefined, { what: `${ns}/${name} to be deleted` });
  };

  before(async () => {
    assertRoot();
    tmp = mkdtempSync('/tmp/pcapper-cli-test-');
    stack = await startStack({ log: () => undefined });
    admin = stack.cluster.kubeconfigPath;
    alice = stack.cluster.userKubeconfigPath('alice');
    const k = stack.kubelet;
    await k.ensureNamespace(NS);
    // alice may capture in shop (the chart's user role), nothing else
    await kubectl(['create', 'rolebinding', 'alice-pcap', '-n', NS, '--clusterrole=pcapper-capture-user', '--user=alice']);
    const dep = await k.makeDeployment(NS, 'web', 2, { app: 'web' }, ['node-a', 'node-b']);
    dep.pods.forEach((p, i) => (pods[`web-${i}`] = p));
    rsName = dep.pods[0]?.object.metadata?.ownerReferences?.[0]?.name ?? '';
    const sts = await k.makeStatefulSet(NS, 'db', 1, { app: 'db' }, ['node-b']);
    pods['db-0'] = sts.pods[0] as SimPod;
    const ds = await k.makeDaemonSet(NS, 'logs', { app: 'logs' }, ['node-a', 'node-b']);
    ds.pods.forEach((p, i) => (pods[`logs-${i}`] = p));
    pods.solo = await k.createPod({ namespace: NS, name: 'solo', node: 'node-a', labels: { app: 'solo', tier: 'edge' } });
    for (const p of Object.values(pods)) servers.push(await startHttpServer({ netnsPath: p.netnsPath, ip: p.ip, ...(p.cgroup ? { cgroup: p.cgroup } : {}) }, 8080, { run: k.run }));
    // every pod calls the next one (across nodes) every ~300 ms until the suite ends
    const all = Object.values(pods);
    trafficDone = (async () => {
      let i = 0;
      while (!traffic.signal.aborted) {
        const from = all[i % all.length] as SimPod;
        const to = all[(i + 1) % all.length] as SimPod;
        i++;
        await httpGet(from, `http://${to.ip}:8080/bg/${i}`, { timeoutMs: 2000 }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 150));
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

  const web0 = (): SimPod => pods['web-0'] as SimPod;

  it('bad flags, unknown commands and unknown targets: one line, exit 2; without the cluster', async () => {
    assertOneLineError(await kp(['capture', 'pod/x', '--bogus'], { kubeconfig: admin }), 2, /^error: unknown flag: --bogus$/);
    assertOneLineError(await kp(['capture', 'svc/x'], { kubeconfig: admin }), 2, /unknown target kind "svc"/);
    assertOneLineError(await kp(['capture', 'pod/x', '--duration', 'soon'], { kubeconfig: admin }), 2, /invalid --duration "soon"/);
    assertOneLineError(await kp(['capture', 'pod/x', '--filter', '-z /x.sh', '--dry-run'], { kubeconfig: admin }), 2, /invalid --filter/);
    assertOneLineError(await kp(['capture', 'node/node-a', '--dry-run'], { kubeconfig: admin }), 2, /needs --interface/);
    assertOneLineError(await kp(['list', '-o', 'xml'], { kubeconfig: admin }), 2, /invalid value "xml" for -o/);
    assertOneLineError(await kp(['describe'], { kubeconfig: admin }), 2, /NAME is required/);
    const unknown = await kp(['frobnicate'], { kubeconfig: admin });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error: unknown command "frobnicate" for "kubectl pcap"\n/);
    const help = await kp(['capture', '-h']);
    assert.equal(help.code, 0);
    assert.match(help.stdout.toString(), /Usage:\n {2}kubectl pcap capture TARGET/);
    for (const cmd of ['live', 'list', 'get', 'describe', 'delete', 'download', 'export', 'import', 'init', 'summary', 'merge', 'version']) {
      const r = await kp([cmd, '--help']);
      assert.equal(r.code, 0, `${cmd} --help: ${r.stderr}`);
      assert.ok(r.stdout.length > 0, `${cmd} --help prints help`);
    }
  });

  it('unreachable clusters, missing kubeconfigs and missing targets: one line, exit 1', async () => {
    const dead = join(tmp, 'dead-kubeconfig');
    writeFileSync(dead, readFileSync(admin, 'utf8').replace(/server: https:\/\/127\.0\.0\.1:[0-9]+/, 'server: https://127.0.0.1:1'));
    assertOneLineError(await kp(['list'], { kubeconfig: dead }), 1, /^error: cannot reach the cluster at https:\/\/127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1$/);
    assertOneLineError(await kp(['capture', 'pod/x', '-n', NS], { kubeconfig: dead }), 1, /cannot reach the cluster at https:\/\/127\.0\.0\.1:1/);
    assertOneLineError(await kp(['list', '--kubeconfig', join(tmp, 'nope')]), 1, /kubeconfig ".*nope" does not exist/);
    assertOneLineError(await kp(['list', '--context', 'nope'], { kubeconfig: admin }), 1, /context "nope" does not exist/);
    assertOneLineError(await kp(['capture', 'pod/nope', '-n', NS], { kubeconfig: admin }), 1, /^error: pod "nope" not found in namespace "shop"$/);
    assertOneLineError(await kp(['capture', 'deploy/nope', '-n', NS], { kubeconfig: admin }), 1, /^error: deployment "nope" not found in namespace "shop"$/);
    assertOneLineError(await kp(['capture', 'node/nope', '-i', 'eth0'], { kubeconfig: admin }), 1, /^error: node "nope" not found$/);
    assertOneLineError(await kp(['get', 'nope', '-n', NS], { kubeconfig: admin }), 1, /^error: packetcapture "nope" not found in namespace "shop"$/);
    assertOneLineError(await kp(['list', '-n', NS], { kubeconfig: stack.cluster.userKubeconfigPath('mallory') }), 1, /forbidden: User "mallory" cannot list/);
    const none = await kp(['list', '-n', 'kube-system'], { kubeconfig: admin });
    assert.equal(none.code, 0);
    assert.equal(none.stderr, 'No packet captures found in kube-system namespace.\n');
  });

  it('--dry-run prints each target form as a PacketCapture (yaml and json) that kubectl applies cleanly; list/get/describe/delete', async () => {
    const forms: [string[], Record<string, unknown>][] = [
      [['pod/solo'], { targetPod: 'solo' }],
      [['solo'], { targetPod: 'solo' }],
      [['deploy/web'], { targetDeployment: 'web' }],
      [[`rs/${rsName}`], { workloadRef: { kind: 'ReplicaSet', name: rsName } }],
      [['sts/db'], { workloadRef: { kind: 'StatefulSet', name: 'db' } }],
      [['ds/logs'], { workloadRef: { kind: 'DaemonSet', name: 'logs' } }],
      [['-l', 'app in (web,db),!canary'], { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'db'] }, { key: 'canary', operator: 'DoesNotExist' }] } }],
    ];
    const names: string[] = [];
    for (const [i, [target, want]] of forms.entries()) {
      const name = `dry-${i}`;
      const output = i % 2 === 0 ? 'yaml' : 'json';
      const r = await kp(['capture', ...target, '-n', NS, '--name', name, '--duration', '1h', '--filter', 'tcp port 8080', '--count', '1000', '--dry-run', '-o', output], { kubeconfig: admin });
      assert.equal(r.code, 0, r.stderr);
      const pc = (output === 'yaml' ? parseYaml(r.stdout.toString()) : JSON.parse(r.stdout.toString())) as PacketCapture;
      assert.equal(pc.apiVersion, 'pcapper.dev/v1alpha1');
      assert.equal(pc.kind, 'PacketCapture');
      assert.deepEqual(pc.metadata.name, name);
      assert.deepEqual(pc.metadata.namespace, NS);
      assert.deepEqual(pc.spec, { ...want, captureSeconds: '1h', captureFilter: 'tcp port 8080', packetCount: 1000 });
      assert.equal(await getPc(name), undefined, 'dry-run creates nothing');
      const applied = await stack.cluster.kubectl(['apply', '-f', '-'], { input: r.stdout.toString() });
      assert.equal(applied.code, 0, `kubectl apply of ${target.join(' ')}: ${applied.stderr}`);
      assert.match(applied.stdout, new RegExp(`packetcapture.pcapper.dev/${name} created`));
      names.push(name);
    }
    // node target: the system namespace by default
    const node = await kp(['capture', 'node/node-a', '--interface', 'eth0', '--name', 'dry-node', '--dry-run=client', '-o', 'yaml'], { kubeconfig: admin });
    assert.equal(node.code, 0, node.stderr);
    const npc = parseYaml(node.stdout.toString()) as PacketCapture;
    assert.equal(npc.metadata.namespace, 'pcapper');
    assert.deepEqual(npc.spec, { targetNode: 'node-a', targetInterface: 'eth0' });
    const applied = await stack.cluster.kubectl(['apply', '-f', '-'], { input: node.stdout.toString() });
    assert.equal(applied.code, 0, applied.stderr);

    // list / get / describe
    const list = await kp(['list', '-n', NS], { kubeconfig: admin });
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout.toString().trimEnd().split('\n');
    assert.match(rows[0] ?? '', /^NAME\s+STATE\s+TARGET\s+TARGETS\s+PACKETS\s+BYTES\s+DROPS\s+AGE$/);
    for (const n of names) assert.ok(rows.some((r) => r.startsWith(`${n} `)), `${n} listed:\n${list.stdout.toString()}`);
    assert.ok(rows.some((r) => /^dry-2\s+\S+\s+deploy\/web\s/.test(r)), list.stdout.toString());
    const all = await kp(['list', '-A', '-o', 'wide'], { kubeconfig: admin });
    assert.match(all.stdout.toString(), /^NAMESPACE\s+NAME\s+.*\s+DURATION\s+FILTER\s+NODES\n/);
    assert.match(all.stdout.toString(), /\npcapper\s+dry-node\s+\S+\s+node\/node-a:eth0\s/);
    const asName = await kp(['get', '-n', NS, '-o', 'name'], { kubeconfig: admin });
    assert.ok(asName.stdout.toString().split('\n').includes('packetcapture.pcapper.dev/dry-0'));
    const json = await kp(['get', 'dry-0', '-n', NS, '-o', 'json'], { kubeconfig: admin });
    assert.equal((JSON.parse(json.stdout.toString()) as PacketCapture).spec.targetPod, 'solo');
    const yamlList = parseYaml((await kp(['list', '-n', NS, '-o', 'yaml'], { kubeconfig: admin })).stdout.toString()) as { kind: string; items: PacketCapture[] };
    assert.equal(yamlList.kind, 'List');
    assert.ok(yamlList.items.length >= names.length);
    const desc = await kp(['describe', 'dry-2', '-n', NS], { kubeconfig: admin });
    assert.equal(desc.code, 0, desc.stderr);
    assert.match(desc.stdout.toString(), /^Name:\s+dry-2$/m);
    assert.match(desc.stdout.toString(), /Target:\s+deploy\/web/);
    assert.match(desc.stdout.toString(), /Filter:\s+tcp port 8080/);

    // delete (the controller's finalizer lets go once the agents cleaned up)
    const del = await kp(['delete', ...names, '-n', NS, '--wait'], { kubeconfig: admin, timeoutMs: 60_000 });
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(del.stdout.toString().trimEnd().split('\n'), names.map((n) => `packetcapture.pcapper.dev "${n}" deleted`));
    for (const n of names) assert.equal(await getPc(n), undefined, `${n} gone`);
    const again = await kp(['delete', 'dry-0', '-n', NS], { kubeconfig: admin });
    assertOneLineError(again, 1, /^error: packetcapture "dry-0" not found in namespace "shop"$/);
    assert.equal((await kp(['delete', 'dry-node', '-n', 'pcapper', '--wait'], { kubeconfig: admin, timeoutMs: 60_000 })).code, 0);

    // --detach creates and returns at once
    const det = await kp(['capture', 'pod/solo', '-n', NS, '--name', 'detached', '--duration', '1m', '--detach', '-o', 'name'], { kubeconfig: admin });
    assert.equal(det.code, 0, det.stderr);
    assert.equal(det.stdout.toString(), 'packetcapture.pcapper.dev/detached\n');
    assert.equal((await getPc('detached'))?.spec.targetPod, 'solo');
    assert.equal((await kp(['delete', 'detached', '-n', NS, '--wait'], { kubeconfig: admin, timeoutMs: 60_000 })).code, 0);
  });

  /** Runs a capture to completion; returns the merged file and the CLI result. */
  async function capture(target: string[], extra: string[] = [], kubeconfig = admin): Promise<{ file: string; r: CliResult }> {
    const file = join(tmp, `cap-${target.join('_').replace(/[^a-z0-9]+/gi, '_')}-${Date.now()}.pcapng`);
    const limits = extra.includes('--duration') ? [] : ['--duration', '3s'];
    const r = await kp(['capture', ...target, '-n', NS, ...limits, '-w', file, ...extra], { kubeconfig, timeoutMs: 150_000 });
    assert.equal(r.code, 0, `capture ${target.join(' ')} failed:\n${r.stderr}`);
    return { file, r };
  }

  it('captures each target form: one merged pcapng, one named interface per pod, summary on stdout, capture deleted', async () => {
    const cases: [string[], string[]][] = [
      [['pod/solo'], ['node-a/shop/solo']],
      [['deploy/web'], Object.entries(pods).filter(([k]) => k.startsWith('web-')).map(([, p]) => `${p.node}/shop/${p.name}`)],
      [[`rs/${rsName}`], Object.entries(pods).filter(([k]) => k.startsWith('web-')).map(([, p]) => `${p.node}/shop/${p.name}`)],
      [['sts/db'], ['node-b/shop/db-0']],
      [['ds/logs'], Object.entries(pods).filter(([k]) => k.startsWith('logs-')).map(([, p]) => `${p.node}/shop/${p.name}`)],
      [['-l', 'app in (web,solo),tier!=back'], [...Object.entries(pods).filter(([k]) => k.startsWith('web-')).map(([, p]) => `${p.node}/shop/${p.name}`), 'node-a/shop/solo']],
    ];
    for (const [target, want] of cases) {
      // By state, not by a time window: each target stops after 2 packets (the suite's background
      // traffic reaches every pod), so on a loaded machine a late-starting target still gets its
      // packets; the duration is only a bound.
      const { file, r } = await capture(target, ['--count', '2', '--duration', '120s']);
      const names = interfaceNames(file).sort();
      assert.deepEqual(names, [...want].sort(), `interfaces of ${target.join(' ')}`);
      const per = packetsPerInterface(file);
      for (const n of want) assert.ok((per.get(n) ?? 0) > 0, `${target.join(' ')}: packets on ${n} (${JSON.stringify([...per])})`);
      // the summary names endpoints by pod (metadata sidecars)
      assert.match(r.stdout.toString(), /Conversations/);
      assert.match(r.stdout.toString(), /shop\/(web|solo|db|logs)/);
      assert.match(r.stderr, /capture shop\/\S+: finished/);
      assert.match(r.stderr, /deleted packetcapture shop\//);
      const created = /packetcapture shop\/(\S+) created/.exec(r.stderr)?.[1] ?? '';
      await waitGone(created);
    }
  });

  it('a node interface capture lands in the system namespace; a limited user captures her own namespace', async () => {
    const file = join(tmp, 'node.pcapng');
    const r = await kp(['capture', 'node/node-a', '--interface', 'any', '--duration', '3s', '-w', file, '--no-summary'], { kubeconfig: admin, timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /packetcapture pcapper\/node-a-\S+ created/);
    assert.deepEqual(interfaceNames(file), ['node-a/any']);
    assert.ok((packetsPerInterface(file).get('node-a/any') ?? 0) > 0);
    // alice: pcapper-capture-user in shop (no pod read access: the CLI skips its existence check)
    const { file: af } = await capture(['pod/solo'], ['--no-summary'], alice);
    assert.deepEqual(interfaceNames(af), ['node-a/shop/solo']);
    const denied = await kp(['capture', 'pod/x', '-n', 'default', '--duration', '3s'], { kubeconfig: alice });
    assertOneLineError(denied, 1, /forbidden: User "alice" cannot create resource "packetcaptures"/);
  });

  it('-w - writes the pcapng to stdout (summary to stderr); --keep keeps it; download, export and import', async () => {
    const r = await kp(['capture', 'pod/solo', '-n', NS, '--name', 'kept', '--duration', '3s', '-w', '-', '--keep'], { kubeconfig: admin, timeoutMs: 90_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Conversations/, 'summary on stderr');
    const stdoutFile = join(tmp, 'stdout.pcapng');
    writeFileSync(stdoutFile, r.stdout);
    assert.deepEqual(interfaceNames(stdoutFile), ['node-a/shop/solo']);
    // piped as a user would: kubectl pcap capture ... -w - | tshark -r -
    const fromStdin = tool('sh', ['-c', 'cat "$1" | tshark -r - -T fields -e frame.interface_name', 'sh', stdoutFile]);
    assert.match(fromStdin, /node-a\/shop\/solo/);
    const kept = await getPc('kept');
    assert.equal(kept?.status?.progress, 'finished');
    const desc = (await kp(['describe', 'kept', '-n', NS], { kubeconfig: admin })).stdout.toString();
    assert.match(desc, /Progress:\s+finished/);
    assert.match(desc, /shop\/solo\s+node-a\s+Finished\s+[1-9]\d*\s/, desc);
    assert.match(desc, /Nodes:\n\s+NODE\s+FILES\s+BYTES\s+CLEANED UP[\s\S]*node-a\s+[1-9]/, desc);
    assert.doesNotMatch(desc, /ENDPOINT|https?:\/\/10\./, 'no agent address anywhere');
    assert.match(desc, /Events:\n\s+TYPE\s+REASON\s+AGE\s+MESSAGE\n\s+Normal\s+\S+/, desc);

    // download: merged by default, raw files + sidecars with --raw
    const dl = await kp(['download', 'kept', '-n', NS], { kubeconfig: admin, cwd: tmp });
    assert.equal(dl.code, 0, dl.stderr);
    assert.deepEqual(interfaceNames(join(tmp, 'kept.pcapng')), ['node-a/shop/solo']);
    const raw = join(tmp, 'raw');
    const dr = await kp(['download', 'kept', '-n', NS, '--raw', raw], { kubeconfig: admin, cwd: tmp });
    assert.equal(dr.code, 0, dr.stderr);
    assert.ok(existsSync(join(raw, 'node-a', 'pod.shop.solo', 'capture-meta.json')), 'sidecar downloaded');

    // export -> import -> summary/merge by name, without the cluster
    const ex = join(tmp, 'exported.pcapng');
    const e = await kp(['export', 'kept', '-n', NS, '-w', ex], { kubeconfig: admin });
    assert.equal(e.code, 0, e.stderr);
    const comments = (await idbComments(ex)).join('\n');
    assert.match(comments, /^pcapper\.pod=shop\/solo$/m);
    assert.match(comments, /^pcapper\.meta=\{/m);
    const store = join(tmp, 'store');
    const im = await kp(['import', ex, '--name', 'incident', '--store', store]);
    assert.equal(im.code, 0, im.stderr);
    assert.equal(im.stdout.toString(), 'incident\n');
    const ls = await kp(['import', '--list', '--store', store]);
    assert.match(ls.stdout.toString(), /^incident\s+1\s+/m);
    const sum = await kp(['summary', 'incident', '--store', store, '-o', 'json']);
    assert.equal(sum.code, 0, sum.stderr);
    assert.match(sum.stdout.toString(), /shop\/solo|"pod": "solo"/, 'endpoints named from the imported metadata');
    const merged = join(tmp, 'merged-import.pcapng');
    const mg = await kp(['merge', 'incident', '--store', store, '-w', merged]);
    assert.equal(mg.code, 0, mg.stderr);
    assert.deepEqual(interfaceNames(merged), ['node-a/shop/solo']);
    // summary NAME of a capture still in the cluster
    const live = await kp(['summary', 'kept', '-n', NS], { kubeconfig: admin });
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout.toString(), /Conversations/);
    assert.equal((await kp(['delete', 'kept', '-n', NS, '--wait'], { kubeconfig: admin, timeoutMs: 60_000 })).code, 0);
  });

  it('from a machine that reaches only the API server (own network namespace, no other route): capture, download, export, live and summary NAME', async () => {
    const server = stack.cluster.server;
    const file = join(tmp, 'api-only.pcapng');
    const c = await kpApiOnly(['capture', 'pod/solo', '-n', NS, '--name', 'api-only', '--duration', '3s', '-w', file, '--keep', '--no-summary'], server, { kubeconfig: alice, dir: tmp, timeoutMs: 90_000 });
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(interfaceNames(file), ['node-a/shop/solo']);
    assert.ok((packetsPerInterface(file).get('node-a/shop/solo') ?? 0) > 0);
    const d = await kpApiOnly(['download', 'api-only', '-n', NS, '-w', join(tmp, 'api-only-dl.pcapng')], server, { kubeconfig: alice, dir: tmp });
    assert.equal(d.code, 0, d.stderr);
    assert.ok(readFileSync(join(tmp, 'api-only-dl.pcapng')).equals(readFileSync(file)), 'download = what capture wrote');
    const e = await kpApiOnly(['export', 'api-only', '-n', NS, '-w', join(tmp, 'api-only-export.pcapng')], server, { kubeconfig: alice, dir: tmp });
    assert.equal(e.code, 0, e.stderr);
    assert.match((await idbComments(join(tmp, 'api-only-export.pcapng'))).join('\n'), /^pcapper\.meta=\{/m);
    const sum = await kpApiOnly(['summary', 'api-only', '-n', NS], server, { kubeconfig: alice, dir: tmp });
    assert.equal(sum.code, 0, sum.stderr);
    assert.match(sum.stdout.toString(), /Conversations/);
    const liveFile = join(tmp, 'api-only-live.pcapng');
    const l = await kpApiOnly(['live', 'pod/solo', '-n', NS, '--duration', '4s', '-w', liveFile], server, { kubeconfig: alice, dir: tmp, timeoutMs: 90_000 });
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stderr, /streaming shop\/solo from node node-a/);
    assert.ok((packetsPerInterface(liveFile).get('node-a/shop/solo') ?? 0) > 0, 'live packets through the API server');
    // alice's files, not another namespace's: the data API answers 403 there
    const other = await kpApiOnly(['download', 'api-only', '-n', 'default', '-w', join(tmp, 'x.pcapng')], server, { kubeconfig: alice, dir: tmp });
    assert.equal(other.code, 1, other.stderr);
    assert.match(other.stderr, /forbidden/);
    assert.equal((await kp(['delete', 'api-only', '-n', NS, '--wait'], { kubeconfig: admin, timeoutMs: 60_000 })).code, 0);
  });

  it('the pcapper server restarted mid-download: the CLI resumes and the merged file equals a download with no restart', async () => {
    // Stack.restartServers() kills every pcapper server replica at once (as a crash would) and
    // replaces them, resolving once they are Ready. The relay gate of kpApiOnly() holds the
    // download at a third of the file, so the restart happens mid-file by state.
    const name = 'restart-dl';
    // ends by state: after 6,000 packets (the 5 min duration is only a backstop), so a slow machine
    // still gets a file of several MB however long the traffic below takes
    const made = await kp(['capture', 'pod/solo', '-n', NS, '--name', name, '--count', '6000', '--duration', '5m', '--snaplen', '0', '--detach'], { kubeconfig: admin });
    assert.equal(made.code, 0, made.stderr);
    await eventually(async () => (await getPc(name))?.status?.targets?.[0]?.phase === 'Running' || undefined, { what: `${name} Running`, timeoutMs: 60_000 });
    // traffic into solo (100 kB request bodies: argv-sized), 10 at a time, until the capture has its packets
    const solo = pods.solo as SimPod;
    const body = 'x'.repeat(100_000);
    for (let round = 0; round < 200 && (await getPc(name))?.status?.progress !== 'finished'; round++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => httpGet(web0(), `http://${solo.ip}:8080/big/${round}/${i}`, { method: 'POST', body }).catch(() => undefined)));
    }
    await eventually(async () => (await getPc(name))?.status?.progress === 'finished', { what: `${name} finished`, timeoutMs: 60_000 });
    const list = JSON.parse(await kubectl(['get', '--raw', `/apis/data.pcapper.dev/v1alpha1/namespaces/${NS}/packetcaptures/${name}/files`])) as { items: { size: number; kind: string }[] };
    const total = list.items.filter((i) => i.kind === 'pcap').reduce((a, i) => a + i.size, 0);
    // big enough that the gate (a third of the bytes) stops the transfer well inside the file
    assert.ok(total > 2_000_000, `the capture is big enough to be cut mid-file (${total} bytes)`);
    const server = stack.cluster.server;
    const clean = join(tmp, 'restart-clean.pcapng');
    const c = await kpApiOnly(['download', name, '-n', NS, '-w', clean], server, { kubeconfig: admin, dir: tmp });
    assert.equal(c.code, 0, c.stderr);
    const gate = new RelayGate(Math.floor(total / 3));
    const resumed = join(tmp, 'restart-resumed.pcapng');
    const running = kpApiOnly(['download', name, '-n', NS, '-w', resumed], server, { kubeconfig: admin, dir: tmp, gate, timeoutMs: 180_000 });
    await eventually(() => gate.paused, { what: `the download to reach ${gate.pauseAt} bytes`, timeoutMs: 60_000, everyMs: 20, describe: () => `${gate.downstreamBytes} bytes relayed` });
    await stack.restartServers();
    gate.resume();
    const r = await running;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: resuming node-a\/pod\.shop\.solo\/\S+ at byte [1-9]\d*/, 'the download was resumed, not restarted');
    assert.ok(readFileSync(resumed).equals(readFileSync(clean)), 'merged file identical to the download with no restart');
    assert.equal((await kp(['delete', name, '-n', NS, '--wait'], { kubeconfig: admin, timeoutMs: 60_000 })).code, 0);
  });

  it('Ctrl-C stops a capture cleanly: what was captured is saved, the capture is deleted, exit 130', async () => {
    const file = join(tmp, 'interrupted.pcapng');
    const child = spawnCli(['capture', 'pod/solo', '-n', NS, '--duration', '10m', '-w', file, '--no-summary'], { kubeconfig: admin });
    let err = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => (err += c));
    child.stdout?.resume();
    await eventually(() => /solo on node-a: Running/.test(err), { what: 'the target Running', describe: () => err });
    const name = /packetcapture shop\/(\S+) created/.exec(err)?.[1] ?? '';
    // interrupt once the agent has reported packets (the background traffic reaches solo), so
    // "what was captured is saved" has something to save
    await eventually(async () => ((await getPc(name))?.status?.packets ?? 0) > 0, { what: `${name} to report packets`, describe: () => err });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    assert.equal(code, 130, err);
    assert.match(err, /interrupted: saving what was captured so far/);
    assert.ok(statSync(file).size > 100, 'partial capture saved');
    assert.ok((packetsPerInterface(file).get('node-a/shop/solo') ?? 0) > 0);
    await waitGone(name);
  });

  it('live: packets appear in `tshark -r -` while the capture runs; Ctrl-C deletes the capture', async (t) => {
    // a real pipe between the two processes (tshark refuses sockets on stdin), as `|` makes
    const fifo = join(tmp, 'live.fifo');
    tool('mkfifo', [fifo]);
    const tshark = spawn('sh', ['-c', 'exec tshark -l -r - -T fields -e frame.interface_name -e http.request.uri < "$1"', 'sh', fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    const wfd = openSync(fifo, 'w');
    const cli = spawn(process.execPath, [CLI, 'live', 'pod/solo', '-n', NS], {
      env: { PATH: process.env.PATH ?? '', KUBECONFIG: admin, HOME: '/nonexistent' },
      stdio: ['ignore', wfd, 'pipe'],
    });
    closeSync(wfd);
    let err = '';
    let seen = '';
    cli.stderr?.setEncoding('utf8');
    cli.stderr?.on('data', (c: string) => (err += c));
    tshark.stdout.setEncoding('utf8');
    tshark.stdout.on('data', (c: string) => (seen += c));
    try {
      await eventually(() => /streaming shop\/solo from node node-a/.test(err), { what: 'the live stream to start', describe: () => err });
      const liveName = /packetcapture shop\/(\S+) created/.exec(err)?.[1] ?? '';
      assert.equal((await getPc(liveName))?.spec.captureSeconds, '1h', 'live without --duration runs until stopped (at most 1h)');
      // a request with a unique path, then how long until tshark prints it
      const marks: number[] = [];
      for (let i = 0; i < 3; i++) {
        const path = `/live-mark-${i}-${Date.now()}`;
        const t0 = Date.now();
        await httpGet(web0(), `http://${(pods.solo as SimPod).ip}:8080${path}`);
        await eventually(() => seen.includes(path), { what: `request ${path} in tshark's output`, everyMs: 20, describe: () => `tshark saw:\n${seen.slice(-2000)}\ncli:\n${err}` });
        marks.push(Date.now() - t0);
        assert.match(seen, new RegExp(`node-a/shop/solo\\t${path}`));
      }
      // Every request reached tshark while the live capture was still running; the delay is
      // reported, not asserted (no timing thresholds in tests).
      t.diagnostic(`request -> tshark output: ${marks.join(', ')} ms`);
    } finally {
      cli.kill('SIGINT');
    }
    const code = await new Promise<number | null>((r) => cli.once('close', (c) => r(c)));
    await new Promise<void>((r) => tshark.once('close', () => r()));
    assert.equal(code, 130, err);
    assert.match(err, /deleted packetcapture shop\//);
    const name = /packetcapture shop\/(\S+) created/.exec(err)?.[1] ?? '';
    await waitGone(name);
  });

  it('live across two nodes into a file: one interface per pod, ends when the capture finishes', async () => {
    const file = join(tmp, 'live-web.pcapng');
    // ends by state: each target stops after 2 packets (the suite's background traffic reaches every pod)
    const r = await kp(['live', '-l', 'app=web', '-n', NS, '--count', '2', '-w', file], { kubeconfig: admin, timeoutMs: 180_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /capture shop\/\S+: finished/);
    const want = Object.entries(pods).filter(([k]) => k.startsWith('web-')).map(([, p]) => `${p.node}/shop/${p.name}`).sort();
    assert.deepEqual(interfaceNames(file).sort(), want);
    const per = packetsPerInterface(file);
    for (const n of want) assert.ok((per.get(n) ?? 0) > 0, `packets on ${n}`);
  });

  it('live: when the reader goes away (| head), the stream stops and the capture is deleted', async () => {
    const errFile = join(tmp, 'live-head.err');
    // async: the suite's background traffic (this process) must keep flowing meanwhile
    const sh = spawn('sh', ['-c', `"$1" "$2" live pod/solo -n ${NS} --duration 5m 2>"$3" | head -c 400 | wc -c`, 'sh', process.execPath, CLI, errFile], {
      env: { PATH: process.env.PATH ?? '', KUBECONFIG: admin, HOME: '/nonexistent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    sh.stdout.setEncoding('utf8');
    sh.stdout.on('data', (c: string) => (stdout += c));
    const killer = setTimeout(() => sh.kill('SIGKILL'), 90_000);
    const status = await new Promise<number | null>((res) => sh.once('close', (c) => res(c)));
    clearTimeout(killer);
    const r = { status, stdout, stderr: '' };
    const err = readFileSync(errFile, 'utf8');
    assert.equal(r.status, 0, `${r.stderr}\n${err}`);
    assert.equal(r.stdout.trim(), '400', 'head got its bytes');
    assert.match(err, /deleted packetcapture shop\//, err);
    const name = /packetcapture shop\/(\S+) created/.exec(err)?.[1] ?? '';
    await waitGone(name);
  });

  it('on a terminal the progress is a per-target table redrawn in place; kubectl finds the plugin on PATH', () => {
    const dir = mkdtempSync(join(tmp, 'tty-'));
    const file = join(dir, 'tty.pcapng');
    const { code, transcript } = underPty([process.execPath, CLI, 'capture', 'deploy/web', '-n', NS, '--duration', '4s', '-w', file, '--no-summary'], [], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', KUBECONFIG: admin, HOME: '/nonexistent', TERM: 'xterm' },
    });
    assert.equal(code, 0, transcript);
    const ESC = String.fromCharCode(27);
    assert.match(transcript, /TARGET\s+NODE\s+STATE\s+PACKETS\s+BYTES\s+DROPS/);
    assert.match(transcript, /capture shop\/web-\S+: running\s+2 target\(s\)\s+\d+ packets\s+.*\d+s left/);
    assert.ok(new RegExp(`${ESC}\\[\\d+A\r${ESC}\\[J`).test(transcript), 'frames are redrawn in place (cursor up + clear)');
    for (const p of Object.entries(pods).filter(([k]) => k.startsWith('web-')).map(([, x]) => x.name)) assert.match(transcript, new RegExp(`shop/${p}\\s+node-[ab]\\s+(Running|Finished)`));
    assert.equal(interfaceNames(file).length, 2);

    // kubectl's plugin mechanism: an executable kubectl-pcap on PATH is `kubectl pcap`
    const bin = join(dir, 'bin');
    tool('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'kubectl-pcap'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
    const viaKubectl = tool('sh', ['-c', `PATH="${bin}:$PATH" KUBECONFIG="${admin}" kubectl pcap -n ${NS} list -o name && PATH="${bin}:$PATH" kubectl pcap version`]);
    assert.match(viaKubectl, /^kubectl-pcap \d+\.\d+\.\d+ \(API pcapper\.dev\/v1alpha1\)$/m);
  });

  it('init: prompts under a pseudo-terminal, lists what the cluster has, writes YAML the apiserver accepts; flags without a terminal', async () => {
    const dir = mkdtempSync(join(tmp, 'init-'));
    const { code, transcript } = underPty(
      [process.execPath, CLI, 'init'],
      [
        { expect: 'What do you want to capture\\?[\\s\\S]*Choose \\[pod\\]: ', send: '2' },
        { expect: 'Namespaces in the cluster:[\\s\\S]*\\) shop\\r?\\n[\\s\\S]*Namespace \\[default\\]: ', send: NS },
        { expect: 'Found in namespace shop:[\\s\\S]*web[\\s\\S]*Deploy name \\(number or name\\) \\[\\S+\\]: ', send: 'web' },
        { expect: 'Duration .*\\[60s\\]: ', send: 'bogus' },
        { expect: 'is not a duration[\\s\\S]*Duration .*\\[60s\\]: ', send: '2m' },
        { expect: 'BPF filter .*: ', send: 'tcp port 8080' },
        { expect: 'Stop after N packets .*: ', send: '500' },
        { expect: 'Size of one ring file \\[100M\\]: ', send: '10M' },
        { expect: 'Ring files kept per target \\[10\\]: ', send: '3' },
        { expect: 'Schedule \\(cron[^\\n]*empty = now\\): ', send: '' },
        { expect: 'Name of the capture \\[web-\\S+\\]: ', send: 'web-init' },
      ],
      { cwd: dir, env: { PATH: process.env.PATH ?? '', KUBECONFIG: admin, HOME: '/nonexistent', TERM: 'dumb' } },
    );
    assert.equal(code, 0, transcript);
    const file = join(dir, 'web-init.yaml');
    assert.ok(existsSync(file), transcript);
    const pc = parseYaml(readFileSync(file, 'utf8')) as PacketCapture;
    assert.deepEqual(pc.metadata, { name: 'web-init', namespace: NS });
    assert.deepEqual(pc.spec, { targetDeployment: 'web', captureSeconds: '2m', packetCount: 500, captureFilter: 'tcp port 8080', maxFileSize: '10M', fileCount: 3 });
    const created = await stack.cluster.kubectl(['create', '-f', file]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await kp(['delete', 'web-init', '-n', NS, '--wait'], { kubeconfig: admin, timeoutMs: 60_000 })).code, 0);

    // no terminal: flags answer every prompt; a missing target is a usage error
    const flags = await kp(['init', '-n', NS, '--target', 'sts/db', '--duration', '30s', '--name', 'db-init'], { kubeconfig: admin, cwd: dir });
    assert.equal(flags.code, 0, flags.stderr);
    const db = parseYaml(readFileSync(join(dir, 'db-init.yaml'), 'utf8')) as PacketCapture;
    assert.deepEqual(db.spec, { workloadRef: { kind: 'StatefulSet', name: 'db' }, captureSeconds: '30s' });
    const accepted = await stack.cluster.kubectl(['apply', '--dry-run=server', '-f', join(dir, 'db-init.yaml')]);
    assert.equal(accepted.code, 0, accepted.stderr);
    const again = await kp(['init', '-n', NS, '--target', 'sts/db', '--name', 'db-init'], { kubeconfig: admin, cwd: dir });
    assertOneLineError(again, 1, /already exists \(use --force/);
    const missing = await kp(['init', '-n', NS, '--non-interactive'], { kubeconfig: admin, cwd: dir });
    assertOneLineError(missing, 2, /without a terminal, give the target/);
  });
});
