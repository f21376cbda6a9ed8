// Reads from the store along the user's real path (docs/storage.md section 7): `kubectl pcap
// download` / `export` / `summary`, run as the tenant user alice (static token, RoleBinding to the
// chart's pcapper-capture-user in her namespace) on the host, which reaches ONLY kube-apiserver;
// kube-apiserver's aggregator forwards to the pcapper server pod (test/harness/demo.ts startStack:
// chart Deployment, its mounted store credentials and encryption keys), which reads the objects
// from a real S3 server (versitygw) in the control plane's network namespace over the pod fabric.
// The node's copies are gone first: the agent removes each file once verified in the store, and
// the test then removes the capture's whole directory on the node.
//
// Oracle: the objects themselves, fetched by the test through the harness's socket path and
// decrypted with the cluster keyring (or the age identity), compared field by field with tshark
// against what the CLI wrote; the packet count is also tcpdump's own (status.targets[].packets).
//
// Stand-ins, said plainly (as in test/store-agent.test.ts): a minimal PacketCaptureStore CRD
// (the chart's CEL allows plain http only to an in-cluster Service name and the harness has no
// cluster DNS, so the store is reached by IP); the harness kubelet mounts Secrets when a pod
// starts, so the agent, the controller and the server are rolled after the credentials are filled.
// Needs root (network namespaces, tcpdump) and tshark, capinfos, age-keygen.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacketCapture, TargetStatus } from '../src/api/packetcapture.js';
import type { Keyring } from '../src/crypto/format.js';
import { parseKeyring } from '../src/crypto/keyring.js';
import { describeKeys } from '../src/crypto/rotation.js';
import { EncryptedFileReader } from '../src/crypto/reader.js';
import { kp } from './cli-support.js';
import { startStack, type Stack } from './harness/demo.js';
import type { SimPod } from './harness/kubelet.js';
import { assertRoot, CONTROL_PLANE_IP, spawnInNetns } from './harness/netns.js';
import { S3Server } from './harness/s3.js';
import { eventually } from './harness/eventually.js';
import { httpGet, startHttpServer, type ServerHandle } from './harness/traffic.js';
import { BULK_CLIENT, MINIMAL_STORE_CRD } from './store-control-support.js';

const NS = 'shop';
const BUCKET = 'captures';
const PREFIX = 'prod';
const MARKER = `pcapper-store-read-${Date.now().toString(36)}`;

function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
/** Every packet's time, length, addresses and TCP payload, one line each, sorted (files merge in time order). */
const packetLines = (files: string[]): string[] =>
  files
    .flatMap((f) => tool('tshark', ['-r', f, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'tcp.payload']).split('\n'))
    .filter((l) => l.trim() !== '')
    .sort();
const capinfosCount = (f: string): number => Number(/Number of packets:\s*(\d+)/.exec(tool('capinfos', ['-c', '-M', f]))?.[1] ?? NaN);

describe('download / export / summary from the store through kube-apiserver and the aggregated pcapper server, as a tenant (needs root)', { timeout: 900_000 }, () => {
  let stack: Stack;
  let s3: S3Server;
  let tmp: string;
  let web: SimPod;
  let client: SimPod;
  let http: ServerHandle | undefined;
  let keyring: Keyring;
  let alice: string;
  let keyFile: string;
  let recipient: string;
  const traffic = new AbortController();
  let trafficDone: Promise<void> | undefined;

  const kubectl = (args: string[], input?: string): Promise<string> => stack.cluster.kubectlOk(args, input === undefined ? {} : { input });
  const getPc = async (name: string): Promise<PacketCapture> => JSON.parse(await kubectl(['get', 'packetcaptures.pcapper.dev', name, '-n', NS, '-o', 'json'])) as PacketCapture;

  /** alice creates the capture with the CLI's own path (kubectl create as her), then waits until every file is verified in the store. */
  const captureUploaded = async (name: string, spec: Record<string, unknown>, whileRunning?: () => Promise<void>): Promise<TargetStatus> => {
    const pc = { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name, namespace: NS }, spec: { targetPod: 'web', captureSeconds: '4s', store: 'good', ...spec } };
    const r = await stack.cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(pc), kubeconfig: alice });
    assert.equal(r.code, 0, r.stderr);
    if (whileRunning) {
      await eventually(async () => ((await getPc(name)).status?.targets?.[0]?.phase === 'Running' ? true : undefined), { what: `${name} Running`, timeoutMs: 90_000, everyMs: 250 });
      await whileRunning();
    }
    return eventually(
      async () => {
        const t = (await getPc(name)).status?.targets?.find((x) => x.node === 'node-a');
        return t && t.phase === 'Finished' && (t.packets ?? 0) > 0 && (t.files ?? []).length > 1 && (t.files ?? []).every((f) => f.upload?.state === 'Uploaded') ? t : undefined;
      },
      { what: `${name}: finished and every file Uploaded`, timeoutMs: 180_000, everyMs: 250 },
    );
  };

  /** The node loses the capture: the agent already removed each verified file; remove the whole directory. */
  const dropNodeCopy = (name: string): void => {
    const d = join(stack.agents['node-a']?.dataDir ?? '', NS, name);
    rmSync(d, { recursive: true, force: true });
    assert.equal(existsSync(d), false);
  };

  /** The capture's ring-file objects, fetched from the store by the test (socket path) and written as they are. */
  const objects = async (name: string, t: TargetStatus): Promise<{ name: string; path: string }[]> => {
    const c = s3.client(BUCKET);
    try {
      const out: { name: string; path: string }[] = [];
      for (const f of t.files ?? []) {
        if (f.name === 'capture-meta.json') continue;
        const raw = await c.getObject(`${PREFIX}/${NS}/${name}/node-a/pod.${NS}.web/${f.name}`);
        assert.equal(raw.indexOf(MARKER), -1, `no plaintext in object ${f.name}`);
        const p = join(tmp, `${name}-obj-${f.name}`);
        writeFileSync(p, raw, { mode: 0o600 });
        out.push({ name: f.name, path: p });
      }
      return out;
    } finally {
      c.close();
    }
  };
  const decryptTo = async (src: string, dst: string, opener: Keyring | { ageIdentities: string[] }): Promise<string> => {
    const r = await EncryptedFileReader.open(src, opener);
    try {
      const info = await r.info();
      assert.ok(info.complete, `${src}: a complete encrypted file`);
      writeFileSync(dst, await r.read(0, info.size), { mode: 0o600 });
    } finally {
      await r.close();
    }
    return dst;
  };

  before(async () => {
    assertRoot();
    tmp = mkdtempSync(join(tmpdir(), 'pcapper-store-reads-'));
    keyFile = join(tmp, 'key.txt');
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'pipe' });
    recipient = execFileSync('age-keygen', ['-y', keyFile]).toString().trim();
    stack = await startStack({ nodes: ['node-a'], serverReplicas: 1, log: () => undefined, agentEnv: { PCAPPER_UPLOAD_RETRY_MAX: '2s' } });
    alice = stack.cluster.userKubeconfigPath('alice');
    s3 = await S3Server.start({ buckets: [BUCKET], placement: { netns: stack.cluster.controlPlane, host: CONTROL_PLANE_IP, run: stack.cluster.run } });
    await kubectl(['apply', '-f', '-'], JSON.stringify(MINIMAL_STORE_CRD));
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/packetcapturestores.pcapper.dev']);
    const creds = { 'good.accessKeyId': s3.accessKeyId, 'good.secretAccessKey': s3.secretAccessKey };
    await kubectl(['-n', 'pcapper', 'create', 'secret', 'generic', 'pcapper-store-credentials', '--dry-run=client', '-o', 'json', ...Object.entries(creds).map(([k, v]) => `--from-literal=${k}=${v}`)]).then((j) => kubectl(['apply', '-f', '-'], j));
    const store = {
      apiVersion: 'pcapper.dev/v1alpha1',
      kind: 'PacketCaptureStore',
      metadata: { name: 'good' },
      spec: {
        s3: { endpoint: s3.endpoint, region: 'us-east-1', bucket: BUCKET, prefix: PREFIX, pathStyle: true, credentials: { accessKeyId: 'good.accessKeyId', secretAccessKey: 'good.secretAccessKey' } },
        allowedNamespaces: { names: [NS] },
        upload: { partSize: '5Mi', concurrency: 2 },
      },
    };
    await kubectl(['apply', '-f', '-'], JSON.stringify(store));
    // the kubelet puts Secret contents into a pod when it starts: roll everything that reads them
    await stack.agents['node-a']?.restart();
    await stack.controller.restart();
    await stack.restartServers();
    const sec = JSON.parse(await kubectl(['-n', 'pcapper', 'get', 'secret', 'pcapper-encryption-keys', '-o', 'json'])) as { data: Record<string, string> };
    keyring = parseKeyring(new Map(Object.entries(sec.data).map(([k, v]) => [k, Buffer.from(v, 'base64')])));

    const k = stack.kubelet;
    await k.ensureNamespace(NS);
    await kubectl(['create', 'rolebinding', 'alice-pcap', '-n', NS, '--clusterrole=pcapper-capture-user', '--user=alice']);
    web = await k.createPod({ namespace: NS, name: 'web', node: 'node-a', labels: { app: 'web' } });
    client = await k.createPod({ namespace: NS, name: 'client', node: 'node-a', labels: { app: 'client' } });
    http = await startHttpServer({ netnsPath: web.netnsPath, ip: web.ip, ...(web.cgroup ? { cgroup: web.cgroup } : {}) }, 8080, { run: k.run, body: `${MARKER} `.repeat(200) });
    trafficDone = (async () => {
      let i = 0;
      while (!traffic.signal.aborted) await httpGet(client, `http://${web.ip}:8080/${MARKER}/${i++}`, { timeoutMs: 3000 }).catch(() => undefined);
    })();
  });

  after(async () => {
    traffic.abort();
    await trafficDone;
    await http?.stop().catch(() => undefined);
    await s3?.stop().catch(() => undefined);
    await stack?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the node\'s copy gone: the file list says "store", download / export / summary as alice give exactly the packets in the objects', async () => {
    const t = await captureUploaded('kept', {});
    dropNodeCopy('kept');

    // the data API's file list through the aggregator, as alice: every file from the store, plaintext sizes
    const listed = await stack.cluster.kubectl(['get', '--raw', `/apis/data.pcapper.dev/v1alpha1/namespaces/${NS}/packetcaptures/kept/files`], { kubeconfig: alice });
    assert.equal(listed.code, 0, listed.stderr);
    const list = JSON.parse(listed.stdout) as { items: { name: string; location?: string; size: number }[]; store?: { name: string; error?: string } };
    assert.deepEqual(list.store, { name: 'good' });
    assert.deepEqual(list.items.map((i) => i.name).sort(), (t.files ?? []).map((f) => f.name).sort(), 'the list names the files status names');
    assert.ok(list.items.every((i) => i.location === 'store'), `every file from the store: ${JSON.stringify(list.items)}`);

    // the oracle: the objects decrypted by the test with the cluster keyring
    const objs = await objects('kept', t);
    const plain = await Promise.all(objs.map((o) => decryptTo(o.path, `${o.path}.pcap`, keyring)));
    const expected = packetLines(plain);
    assert.equal(expected.length, t.packets, 'the objects hold every packet tcpdump reported');
    for (const o of objs) assert.equal(list.items.find((i) => i.name === o.name)?.size, readFileSync(`${o.path}.pcap`).length, `${o.name}: plaintext size in the list`);

    const dl = join(tmp, 'kept.pcapng');
    const d = await kp(['download', 'kept', '-n', NS, '-w', dl], { kubeconfig: alice, cwd: tmp });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(capinfosCount(dl), t.packets, 'capinfos: the download holds the packets tcpdump reported');
    assert.deepEqual(packetLines([dl]), expected, 'tshark: every packet of the download equals the objects\'');
    assert.ok(tool('tshark', ['-r', dl, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']).includes(MARKER), 'the HTTP requests are there in plaintext');

    const ex = join(tmp, 'kept-export.pcapng');
    const e = await kp(['export', 'kept', '-n', NS, '-w', ex], { kubeconfig: alice, cwd: tmp });
    assert.equal(e.code, 0, e.stderr);
    assert.deepEqual(packetLines([ex]), expected, 'tshark: the export holds the same packets');

    const s = await kp(['summary', 'kept', '-n', NS, '-o', 'json'], { kubeconfig: alice, cwd: tmp });
    assert.equal(s.code, 0, s.stderr);
    const sum = JSON.parse(s.stdout.toString()) as { packets: number; http: { requests?: number } };
    assert.equal(sum.packets, t.packets, 'summary counts the packets tcpdump reported');

    // another tenant may not read it (SubjectAccessReview before any store read)
    const mallory = await kp(['download', 'kept', '-n', NS, '-w', join(tmp, 'm.pcapng')], { kubeconfig: stack.cluster.userKubeconfigPath('mallory'), cwd: tmp });
    assert.notEqual(mallory.code, 0);
    assert.match(mallory.stderr, /forbidden|Forbidden|403/);
  });

  it('the ring wraps (fileCount 2): every file keeps an object of its own, and status, describe, the file list and the download agree', async () => {
    // bigger answers on another port, fetched by a keep-alive client in the client pod for this
    // capture only (~5 MB/s for 6 s): 1 MB ring files fill many times over
    const big = await startHttpServer({ netnsPath: web.netnsPath, ip: web.ip, ...(web.cgroup ? { cgroup: web.cgroup } : {}) }, 8081, { run: stack.kubelet.run, body: `${MARKER} `.repeat(3000) });
    let t: TargetStatus;
    try {
      const done = captureUploaded('wraps', { fileCount: 2, maxFileSize: 1, captureSeconds: '10s', captureFilter: 'tcp port 8081' }, async () => {
        const bulk = spawnInNetns(client, [process.execPath, '-e', BULK_CLIENT, `http://${web.ip}:8081/${MARKER}`, '6'], { run: stack.kubelet.run, what: 'bulk http client' });
        await bulk.exited;
      });
      t = await done;
    } finally {
      await big.stop().catch(() => undefined);
    }
    const ring = (t.files ?? []).filter((f) => f.name !== 'capture-meta.json').map((f) => f.name);
    assert.ok(ring.length > 2, `the ring wrapped: ${ring.length} files for fileCount 2 (${ring.join(', ')})`);
    assert.equal(new Set(ring).size, ring.length, 'every file has a name of its own');
    dropNodeCopy('wraps');

    const c = s3.client(BUCKET);
    let keys: string[];
    try {
      keys = (await c.listObjects(`${PREFIX}/${NS}/wraps/`)).map((o) => o.key.slice(o.key.lastIndexOf('/') + 1));
    } finally {
      c.close();
    }
    assert.deepEqual(keys.filter((k) => k !== 'capture-meta.json').sort(), [...ring].sort(), 'one object per file the capture wrote: nothing overwritten');

    const listed = await stack.cluster.kubectl(['get', '--raw', `/apis/data.pcapper.dev/v1alpha1/namespaces/${NS}/packetcaptures/wraps/files`], { kubeconfig: alice });
    assert.equal(listed.code, 0, listed.stderr);
    const items = (JSON.parse(listed.stdout) as { items: { name: string; location?: string }[] }).items;
    assert.deepEqual(items.map((i) => i.name).filter((n) => n !== 'capture-meta.json').sort(), [...ring].sort(), 'the data API lists the files status lists');

    const described = await kp(['describe', 'wraps', '-n', NS], { kubeconfig: alice, cwd: tmp });
    assert.equal(described.code, 0, described.stderr);
    for (const n of ring) assert.ok(described.stdout.toString().includes(n), `describe names ${n}`);

    const objs = await objects('wraps', t);
    const expected = packetLines(await Promise.all(objs.map((o) => decryptTo(o.path, `${o.path}.pcap`, keyring))));
    assert.equal(expected.length, t.packets, 'the objects hold every packet tcpdump reported: no lap lost');
    const dl = join(tmp, 'wraps.pcapng');
    const d = await kp(['download', 'wraps', '-n', NS, '-w', dl], { kubeconfig: alice, cwd: tmp });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(capinfosCount(dl), t.packets);
    assert.deepEqual(packetLines([dl]), expected);
  });

  it('end-to-end mode from the store: download --identity as alice gives the packets; without it, a clear refusal', async () => {
    const t = await captureUploaded('sealed', { encryption: { recipients: [recipient] } });
    dropNodeCopy('sealed');
    const identities = readFileSync(keyFile, 'utf8').split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-1'));
    const objs = await objects('sealed', t);
    const plain = await Promise.all(objs.map((o) => decryptTo(o.path, `${o.path}.pcap`, { ageIdentities: identities })));
    const expected = packetLines(plain);
    assert.equal(expected.length, t.packets, 'the objects hold every packet tcpdump reported');

    const out = join(tmp, 'sealed.pcapng');
    const r = await kp(['download', 'sealed', '-n', NS, '-w', out, '--identity', keyFile], { kubeconfig: alice, cwd: tmp });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /decrypted \d+ end-to-end file/);
    assert.equal(capinfosCount(out), t.packets);
    assert.deepEqual(packetLines([out]), expected, 'tshark: every packet equals the objects\' (decrypted with the identity)');

    const noId = await kp(['download', 'sealed', '-n', NS, '-w', join(tmp, 'x.pcapng')], { kubeconfig: alice, cwd: tmp });
    assert.notEqual(noId.code, 0);
    assert.match(noId.stderr, /encrypted end to end.*--identity FILE/);
  });

  it('key rotation and the store: retire refuses while objects in the store need the old key, naming the captures; once they are deleted (objects with them) it retires; a capture on the new key still downloads from the store', async () => {
    const admin = stack.cluster.kubeconfigPath;
    const secretKeys = async (): Promise<{ active: string; ids: string[] }> =>
      describeKeys((JSON.parse(await kubectl(['-n', 'pcapper', 'get', 'secret', 'pcapper-encryption-keys', '-o', 'json'])) as { data: Record<string, string> }).data);
    const old = (await secretKeys()).active;
    const rot = await kp(['keys', 'rotate', '--id', 'k2'], { kubeconfig: admin, cwd: tmp });
    assert.equal(rot.code, 0, rot.stderr);
    // the harness kubelet mounts a Secret when a pod starts: roll the pods that read the keys
    await stack.agents['node-a']?.restart();
    await stack.restartServers();
    const t = await captureUploaded('fresh', {});
    dropNodeCopy('fresh');

    const keyIdsOf = async (name: string): Promise<string[][]> => {
      const r = await stack.cluster.kubectl(['get', '--raw', `/apis/data.pcapper.dev/v1alpha1/namespaces/${NS}/packetcaptures/${name}/files`], { kubeconfig: admin });
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { items: { kind: string; storeKeyIds?: string[] }[] }).items.filter((i) => i.kind === 'pcap').map((i) => i.storeKeyIds ?? ['?']);
    };
    assert.deepEqual([...new Set((await keyIdsOf('fresh')).flat())], ['k2'], 'the new capture\'s objects are wrapped by the new key');
    assert.deepEqual([...new Set((await keyIdsOf('kept')).flat())], [old], 'objects uploaded before the rotation still need the old key (the store is not re-wrapped)');
    assert.deepEqual((await keyIdsOf('sealed')).flat(), [], 'end-to-end objects need no cluster key');

    const refused = await kp(['keys', 'retire', old], { kubeconfig: admin, cwd: tmp });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`key "${old}" still wraps \\d+ objects? in a store, of 2 captures`));
    for (const c of ['kept', 'wraps']) assert.ok(refused.stderr.includes(`${NS}/${c}:`), `the refusal names ${NS}/${c}: ${refused.stderr}`);
    for (const c of ['fresh', 'sealed']) assert.ok(!refused.stderr.includes(`${NS}/${c}:`), `not ${NS}/${c}`);
    assert.match(refused.stderr, /Keep the key until those captures are deleted/);
    assert.deepEqual((await secretKeys()).ids, [old, 'k2'].sort(), 'the key is still in the Secret');

    // the way out the message gives: delete those captures; the finalizer deletes their objects
    await kubectl(['delete', 'packetcaptures.pcapper.dev', 'kept', 'wraps', '-n', NS, '--wait=false']);
    await eventually(
      async () => {
        const c = s3.client(BUCKET);
        try {
          const left = [...(await c.listObjects(`${PREFIX}/${NS}/kept/`)), ...(await c.listObjects(`${PREFIX}/${NS}/wraps/`))];
          const pcs = await stack.cluster.kubectl(['get', 'packetcaptures.pcapper.dev', '-n', NS, '-o', 'name']);
          return left.length === 0 && !/\/(kept|wraps)$/m.test(pcs.stdout) ? true : undefined;
        } finally {
          c.close();
        }
      },
      { what: 'kept and wraps deleted, with their objects', timeoutMs: 120_000, everyMs: 500 },
    );
    const retired = await kp(['keys', 'retire', old], { kubeconfig: admin, cwd: tmp });
    assert.equal(retired.code, 0, retired.stderr);
    assert.deepEqual(await secretKeys(), { active: 'k2', ids: ['k2'] });

    await stack.restartServers();
    const dl = join(tmp, 'fresh.pcapng');
    const d = await kp(['download', 'fresh', '-n', NS, '-w', dl], { kubeconfig: alice, cwd: tmp });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(capinfosCount(dl), t.packets, 'the capture on the new key downloads from the store after the old key is gone');
  });
});
