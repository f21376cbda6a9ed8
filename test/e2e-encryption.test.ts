// End-to-end mode (spec.encryption.recipients, docs/storage.md "End-to-end encryption") on the real
// stack (test/harness/demo.ts startStack(): kube-apiserver, the controller, an agent pod, the
// aggregated pcapper server) with a real S3 server (versitygw) placed in the fabric as in
// test/store-agent.test.ts (same stand-ins: a minimal store CRD, the test's own ClusterRole for the
// agent to watch stores). Keys from the real age tool (age-keygen); files read back with tshark.
// Needs root (network namespaces, tcpdump) and the Debian packages age, tshark.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacketCapture, TargetStatus } from '../src/api/packetcapture.js';
import { EncryptedFileError, type Keyring } from '../src/crypto/format.js';
import { parseKeyring } from '../src/crypto/keyring.js';
import { EncryptedFileReader } from '../src/crypto/reader.js';
import { kp } from './cli-support.js';
import { startStack, type Stack } from './harness/demo.js';
import type { SimPod } from './harness/kubelet.js';
import { assertRoot, CONTROL_PLANE_IP } from './harness/netns.js';
import { S3Server } from './harness/s3.js';
import { eventually } from './harness/eventually.js';
import { httpGet, startHttpServer, type ServerHandle } from './harness/traffic.js';
import { MINIMAL_STORE_CRD } from './store-control-support.js';

const NS = 'vault';
const BUCKET = 'captures';
const MARKER = `pcapper-e2e-plaintext-${Date.now().toString(36)}`;

function tsharkFields(file: string, args: string[]): string[] {
  const r = spawnSync('tshark', ['-r', file, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, `tshark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

async function refusedByKeyring(path: string, ring: Keyring): Promise<void> {
  await assert.rejects(EncryptedFileReader.open(path, ring), (e: unknown) => e instanceof EncryptedFileError && e.code === 'EndToEnd', `${path} must not open with the cluster keyring`);
}

describe('end-to-end encryption to age recipients on a real cluster (needs root)', { timeout: 900_000 }, () => {
  let stack: Stack;
  let s3: S3Server;
  let tmp: string;
  let web: SimPod;
  let client: SimPod;
  let http: ServerHandle | undefined;
  let keyring: Keyring;
  let keyFile: string;
  let otherKeyFile: string;
  let recipient: string;
  let admin: string;
  const traffic = new AbortController();
  let trafficDone: Promise<void> | undefined;

  const kubectl = (args: string[], input?: string): Promise<string> => stack.cluster.kubectlOk(args, input === undefined ? {} : { input });
  const getPc = async (name: string): Promise<PacketCapture> => JSON.parse(await kubectl(['get', 'packetcaptures.pcapper.dev', name, '-n', NS, '-o', 'json'])) as PacketCapture;
  const create = async (name: string, spec: Record<string, unknown>): Promise<{ code: number; stderr: string }> => {
    const pc = { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name, namespace: NS }, spec: { targetPod: 'web', captureSeconds: '4s', ...spec } };
    return stack.cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(pc) });
  };
  const finished = (name: string, ok: (t: TargetStatus) => boolean = () => true): Promise<TargetStatus> =>
    eventually(
      async () => {
        const t = (await getPc(name)).status?.targets?.find((x) => x.node === 'node-a');
        return t && t.phase === 'Finished' && (t.files ?? []).length > 0 && ok(t) ? t : undefined;
      },
      { what: `${name} finished`, timeoutMs: 180_000, everyMs: 250 },
    );

  before(async () => {
    assertRoot();
    tmp = mkdtempSync(join(tmpdir(), 'pcapper-e2e-'));
    keyFile = join(tmp, 'key.txt');
    otherKeyFile = join(tmp, 'other.txt');
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'pipe' });
    execFileSync('age-keygen', ['-o', otherKeyFile], { stdio: 'pipe' });
    recipient = execFileSync('age-keygen', ['-y', keyFile]).toString().trim();
    stack = await startStack({ nodes: ['node-a'], serverReplicas: 1, log: () => undefined, agentEnv: { PCAPPER_UPLOAD_RETRY_MAX: '2s' } });
    admin = stack.cluster.kubeconfigPath;
    s3 = await S3Server.start({ buckets: [BUCKET], placement: { netns: stack.cluster.controlPlane, host: CONTROL_PLANE_IP, run: stack.cluster.run } });
    await kubectl(['apply', '-f', '-'], JSON.stringify(MINIMAL_STORE_CRD));
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/packetcapturestores.pcapper.dev']);
    await kubectl(['create', 'clusterrole', 'pcapper-agent-stores', '--verb=list,watch', '--resource=packetcapturestores.pcapper.dev']);
    await kubectl(['create', 'clusterrolebinding', 'pcapper-agent-stores', '--clusterrole=pcapper-agent-stores', '--serviceaccount=pcapper:pcapper-agent']);
    const creds = { 'good.accessKeyId': s3.accessKeyId, 'good.secretAccessKey': s3.secretAccessKey };
    await kubectl(['-n', 'pcapper', 'create', 'secret', 'generic', 'pcapper-store-credentials', '--dry-run=client', '-o', 'json', ...Object.entries(creds).map(([k, v]) => `--from-literal=${k}=${v}`)]).then((j) => kubectl(['apply', '-f', '-'], j));
    const store = {
      apiVersion: 'pcapper.dev/v1alpha1',
      kind: 'PacketCaptureStore',
      metadata: { name: 'good' },
      spec: {
        s3: { endpoint: s3.endpoint, region: 'us-east-1', bucket: BUCKET, prefix: 'prod', pathStyle: true, credentials: { accessKeyId: 'good.accessKeyId', secretAccessKey: 'good.secretAccessKey' } },
        allowedNamespaces: { names: [NS] },
        upload: { partSize: '5Mi', concurrency: 2 },
      },
    };
    await kubectl(['apply', '-f', '-'], JSON.stringify(store));
    await stack.agents['node-a']?.restart();
    await stack.controller.restart();
    const sec = JSON.parse(await kubectl(['-n', 'pcapper', 'get', 'secret', 'pcapper-encryption-keys', '-o', 'json'])) as { data: Record<string, string> };
    keyring = parseKeyring(new Map(Object.entries(sec.data).map(([k, v]) => [k, Buffer.from(v, 'base64')])));
    const k = stack.kubelet;
    await k.ensureNamespace(NS);
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

  it('refuses a recipient that is not an age X25519 public key, at admission, with what to fix', async () => {
    const bad = await create('bad-recipient', { encryption: { recipients: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5'] } });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.encryption\.recipients\[0\]/);
    const none = await create('no-recipient', { encryption: { recipients: [] } });
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /at least one age X25519 recipient/);
  });

  it('on the node: files the cluster keyring cannot open, no plaintext; download --identity gives what tcpdump captured; no identity, a wrong one, and live are refused clearly', async () => {
    const created = await create('sealed', { encryption: { recipients: [recipient] } });
    assert.equal(created.code, 0, created.stderr);
    const t = await finished('sealed');
    const dataDir = stack.agents['node-a']?.dataDir ?? '';
    const files = walk(join(dataDir, NS, 'sealed')).filter((p) => /\.pcap[0-9]+$/.test(p));
    assert.ok(files.length > 0, 'ring files on the node');
    for (const f of files) await refusedByKeyring(f, keyring);
    for (const f of walk(dataDir)) assert.equal(readFileSync(f).indexOf(MARKER), -1, `no plaintext of the payload in ${f}`);

    const out = join(tmp, 'sealed.pcapng');
    const r = await kp(['download', 'sealed', '-n', NS, '-w', out, '--identity', keyFile], { kubeconfig: admin, cwd: tmp });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /decrypted \d+ end-to-end file/);
    assert.equal(tsharkFields(out, ['-T', 'fields', '-e', 'frame.number']).length, t.packets, 'tshark counts the packets tcpdump reported');
    assert.ok(tsharkFields(out, ['-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']).some((u) => u.includes(MARKER)), 'the HTTP requests are in the decrypted capture');

    const noId = await kp(['download', 'sealed', '-n', NS, '-w', join(tmp, 'x.pcapng')], { kubeconfig: admin, cwd: tmp });
    assert.notEqual(noId.code, 0);
    assert.match(noId.stderr, /encrypted end to end.*--identity FILE/);
    const wrong = await kp(['download', 'sealed', '-n', NS, '-w', join(tmp, 'y.pcapng'), '--identity', otherKeyFile], { kubeconfig: admin, cwd: tmp });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /none of the 1 age identity given opens this file/);
    const summary = await kp(['summary', 'sealed', '-n', NS], { kubeconfig: admin, cwd: tmp });
    assert.notEqual(summary.code, 0);
    assert.match(summary.stderr, /--identity FILE/);
    // the live view through the aggregated API: refused (409) with what to do instead
    const live = await stack.cluster.kubectl(['get', '--raw', `/apis/data.pcapper.dev/v1alpha1/namespaces/${NS}/packetcaptures/sealed/log?node=node-a`]);
    assert.notEqual(live.code, 0);
    assert.match(live.stderr, /encrypted end to end|409|Conflict/);
  });

  it('with a store: every object is end to end (the keyring cannot open it, no plaintext); the identity opens each one to what tcpdump captured', async () => {
    // (the objects are read here with the crypto reader directly; `download --identity` from the
    // store through kube-apiserver and the aggregated server is test/store-reads-api.test.ts's)
    const created = await create('sealed-store', { encryption: { recipients: [recipient] }, store: 'good' });
    assert.equal(created.code, 0, created.stderr);
    const t = await finished('sealed-store', (x) => (x.files ?? []).every((f) => f.upload?.state === 'Uploaded'));
    const identities = readFileSync(keyFile, 'utf8').split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-1'));
    const c = s3.client(BUCKET);
    let packets = 0;
    try {
      for (const f of t.files ?? []) {
        const raw = await c.getObject(`prod/${NS}/sealed-store/node-a/pod.${NS}.web/${f.name}`);
        assert.equal(raw.indexOf(MARKER), -1, `no plaintext in object ${f.name}`);
        // the metadata sidecar (pod names and IPs, no packet) is uploaded too, as JSON: not a capture file
        if (f.name === 'capture-meta.json') continue;
        const p = join(tmp, `obj-${f.name}`);
        writeFileSync(p, raw, { mode: 0o600 });
        await refusedByKeyring(p, keyring);
        const r = await EncryptedFileReader.open(p, { ageIdentities: identities });
        const plain = await r.read(0, (await r.info()).size);
        await r.close();
        const pf = `${p}.pcap`;
        writeFileSync(pf, plain, { mode: 0o600 });
        packets += tsharkFields(pf, ['-T', 'fields', '-e', 'frame.number']).length;
      }
    } finally {
      c.close();
    }
    assert.equal(packets, t.packets, 'the objects hold every packet tcpdump reported');
    // verified in the store, then removed from the node
    const left = readdirSync(join(stack.agents['node-a']?.dataDir ?? '', NS, 'sealed-store', `pod.${NS}.web`)).filter((n) => /\.pcap[0-9]+$/.test(n));
    assert.deepEqual(left, []);
  });
});
