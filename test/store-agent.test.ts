// The agent's side of issue 12 on a real cluster (test/harness/demo.ts startStack(): kube-apiserver,
// the controller, agents as DaemonSet pods in the nodes' network namespaces) with a real S3 server
// (versitygw, test/harness/s3.ts) placed in the control plane's network namespace: the agents reach
// it across the pod fabric at 10.244.0.254:7070, as a store outside their node; the test process
// reads it through the harness's Unix-socket path.
//
// Stand-ins, said plainly:
// - the PacketCaptureStore CRD here is a minimal one applied by this test over the chart's: the
//   chart's CEL checks allow plain http only to an in-cluster Service name, and the harness has no
//   cluster DNS, so a test server in the fabric is reached by IP (test/store-control.test.ts covers
//   the real CRD and the controller's store decisions);
// - the agent's ClusterRole gets list/watch on stores here too (belt and braces over the chart's).
// The controller is the chart's Deployment pod (startStack) with the credentials mounted: it probes
// the store over the pod network and aggregates the agents' per-file upload states.
// Needs root (network namespaces, tcpdump).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacketCapture, TargetStatus } from '../src/api/packetcapture.js';
import type { Keyring } from '../src/crypto/format.js';
import { parseKeyring } from '../src/crypto/keyring.js';
import { EncryptedFileReader } from '../src/crypto/reader.js';
import { PcapSplitter } from '../src/capture/ring.js';
import { startStack, type Stack } from './harness/demo.js';
import type { SimPod } from './harness/kubelet.js';
import { assertRoot, CONTROL_PLANE_IP, spawnInNetns } from './harness/netns.js';
import { S3Server } from './harness/s3.js';
import { eventually } from './harness/eventually.js';
import { httpGet, startHttpServer, type ServerHandle } from './harness/traffic.js';
import { BULK_CLIENT, MINIMAL_STORE_CRD } from './store-control-support.js';

const NS = 'shop';
const BUCKET = 'captures';
/** A payload no packet would carry by chance: it must never be found in plaintext at rest. */
const MARKER = `pcapper-known-plaintext-${Date.now().toString(36)}`;




/** {@link eventually} with this file's positional arguments (one polling loop: test/harness/eventually.ts). */
function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  return eventually(fn, { what, timeoutMs, everyMs: 250 });
}

/** The ring files of a target's status (the metadata sidecar, capture-meta.json, is listed too: plaintext JSON). */
function ringFiles(t: TargetStatus): NonNullable<TargetStatus['files']> {
  return (t.files ?? []).filter((f) => f.name !== 'capture-meta.json');
}

function tshark(file: string, args: string[]): string {
  const r = spawnSync('tshark', ['-r', file, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, `tshark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Every regular file below `dir`. */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('agent uploads to a store in the cluster network: encrypted at rest, verified, status per file (needs root)', { timeout: 900_000 }, () => {
  let stack: Stack;
  let s3: S3Server;
  let tmp: string;
  let web: SimPod;
  let client: SimPod;
  let http: ServerHandle | undefined;
  let keyring: Keyring;
  const traffic = new AbortController();
  let trafficDone: Promise<void> | undefined;

  const kubectl = (args: string[], input?: string): Promise<string> => stack.cluster.kubectlOk(args, input === undefined ? {} : { input });
  const getPc = async (name: string): Promise<PacketCapture> => JSON.parse(await kubectl(['get', 'packetcaptures.pcapper.dev', name, '-n', NS, '-o', 'json'])) as PacketCapture;

  const store = (name: string, o: { bucket?: string; secretEntry?: string } = {}): Record<string, unknown> => ({
    apiVersion: 'pcapper.dev/v1alpha1',
    kind: 'PacketCaptureStore',
    metadata: { name },
    spec: {
      s3: {
        endpoint: s3.endpoint,
        region: 'us-east-1',
        bucket: o.bucket ?? BUCKET,
        prefix: 'prod',
        pathStyle: true,
        credentials: { accessKeyId: 'good.accessKeyId', secretAccessKey: o.secretEntry ?? 'good.secretAccessKey' },
      },
      allowedNamespaces: { names: [NS] },
      upload: { partSize: '5Mi', concurrency: 2 },
    },
  });

  const capture = async (name: string, storeName: string, spec: Record<string, unknown> = {}): Promise<void> => {
    const pc = { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name, namespace: NS }, spec: { targetPod: 'web', captureSeconds: '4s', store: storeName, ...spec } };
    await kubectl(['create', '-f', '-'], JSON.stringify(pc));
  };

  /** The node-a target of a capture once it ended and every file has an upload state matching `ok`. */
  const targetWhen = (name: string, what: string, ok: (t: TargetStatus) => boolean, timeoutMs?: number): Promise<TargetStatus> =>
    until(
      `${name}: ${what}`,
      async () => {
        const t = (await getPc(name)).status?.targets?.find((x) => x.node === 'node-a');
        return t && (t.phase === 'Finished' || t.phase === 'Failed') && (t.files ?? []).length > 0 && ok(t) ? t : undefined;
      },
      timeoutMs,
    );

  const targetDir = (name: string): string => join(stack.agents['node-a']?.dataDir ?? '', NS, name, `pod.${NS}.web`);

  const decrypt = async (bytes: Buffer): Promise<Buffer> => {
    const f = join(tmp, `obj-${Math.random().toString(36).slice(2)}`);
    writeFileSync(f, bytes, { mode: 0o600 });
    const r = await EncryptedFileReader.open(f, keyring);
    try {
      const info = await r.info();
      assert.ok(info.complete, 'the object is a complete encrypted file');
      return await r.read(0, info.size);
    } finally {
      await r.close();
    }
  };

  before(async () => {
    assertRoot();
    tmp = mkdtempSync(join(tmpdir(), 'pcapper-store-agent-'));
    stack = await startStack({ nodes: ['node-a'], serverReplicas: 1, log: () => undefined, agentEnv: { PCAPPER_UPLOAD_RETRY_MAX: '2s' } });
    s3 = await S3Server.start({ buckets: [BUCKET], placement: { netns: stack.cluster.controlPlane, host: CONTROL_PLANE_IP, run: stack.cluster.run } });
    await kubectl(['apply', '-f', '-'], JSON.stringify(MINIMAL_STORE_CRD));
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/packetcapturestores.pcapper.dev']);
    await kubectl(['create', 'clusterrole', 'pcapper-agent-stores', '--verb=list,watch', '--resource=packetcapturestores.pcapper.dev']);
    await kubectl(['create', 'clusterrolebinding', 'pcapper-agent-stores', '--clusterrole=pcapper-agent-stores', '--serviceaccount=pcapper:pcapper-agent']);
    // the credentials Secret, as an admin fills it: a good pair, and a wrong secret for the "bad" store
    const creds = {
      'good.accessKeyId': s3.accessKeyId,
      'good.secretAccessKey': s3.secretAccessKey,
      'bad.secretAccessKey': 'not-the-secret-key-0000000000000000',
    };
    await kubectl(['-n', 'pcapper', 'create', 'secret', 'generic', 'pcapper-store-credentials', '--dry-run=client', '-o', 'json', ...Object.entries(creds).map(([k, v]) => `--from-literal=${k}=${v}`)]).then((j) =>
      kubectl(['apply', '-f', '-'], j),
    );
    for (const st of [store('good'), store('bad', { secretEntry: 'bad.secretAccessKey' }), store('nobucket', { bucket: 'no-such-bucket' })]) await kubectl(['apply', '-f', '-'], JSON.stringify(st));
    // the kubelet puts Secret contents into a pod when it starts: roll the agent and the controller so they see them
    await stack.agents['node-a']?.restart();
    await stack.controller.restart();
    const sec = JSON.parse(await kubectl(['-n', 'pcapper', 'get', 'secret', 'pcapper-encryption-keys', '-o', 'json'])) as { data: Record<string, string> };
    keyring = parseKeyring(new Map(Object.entries(sec.data).map(([k, v]) => [k, Buffer.from(v, 'base64')])));

    const k = stack.kubelet;
    await k.ensureNamespace(NS);
    web = await k.createPod({ namespace: NS, name: 'web', node: 'node-a', labels: { app: 'web' } });
    client = await k.createPod({ namespace: NS, name: 'client', node: 'node-a', labels: { app: 'client' } });
    // ~110 kB answers (one argv word: under 128 KiB): a 12 MB ring file fills in a few seconds and spans 3 parts of 5 MiB
    http = await startHttpServer({ netnsPath: web.netnsPath, ip: web.ip, ...(web.cgroup ? { cgroup: web.cgroup } : {}) }, 8080, { run: k.run, body: `${MARKER} `.repeat(3000) });
    trafficDone = (async () => {
      let i = 0;
      while (!traffic.signal.aborted) {
        await httpGet(client, `http://${web.ip}:8080/${MARKER}/${i++}`, { timeoutMs: 3000 }).catch(() => undefined);
      }
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

  it('uploads every ring file (multipart) and the sidecar; the objects decrypt to what tcpdump captured; no plaintext at rest; local copies removed only after verification', async () => {
    await capture('up', 'good', { captureSeconds: '10s', maxFileSize: '12M', fileCount: '30' });
    await until('up Running', async () => ((await getPc('up')).status?.targets?.[0]?.phase === 'Running' ? true : undefined));
    // ~5 MB/s for 6 s: several 12 MB ring files, each more than one 5 MiB part
    const bulk = spawnInNetns(client, [process.execPath, '-e', BULK_CLIENT, `http://${web.ip}:8080/${MARKER}`, '6'], { run: stack.kubelet.run, what: 'bulk http client' });
    await bulk.exited;
    const t = await targetWhen('up', 'every file Uploaded', (x) => (x.files ?? []).every((f) => f.upload?.state === 'Uploaded'), 180_000);
    assert.ok((t.files ?? []).some((f) => f.name === 'capture-meta.json' && f.upload?.state === 'Uploaded'), 'the sidecar is listed in status with its upload state');
    const files = ringFiles(t);
    assert.ok(files.length >= 2, `the ring rotated: ${files.map((f) => `${f.name} ${f.size}`).join(', ')}`);
    assert.ok(files.some((f) => (f.upload?.parts ?? 0) >= 2), `a file spans several parts: ${JSON.stringify(files.map((f) => f.upload))}`);
    const c = s3.client(BUCKET);
    try {
      const objects = await c.listObjects(`prod/${NS}/up/`);
      const keys = objects.map((o) => o.key).sort();
      for (const f of files) assert.ok(keys.includes(`prod/${NS}/up/node-a/pod.${NS}.web/${f.name}`), `${f.name} is in the store: ${keys.join(', ')}`);
      assert.ok(keys.includes(`prod/${NS}/up/node-a/pod.${NS}.web/capture-meta.json`), 'the metadata sidecar is in the store');
      let packets = 0;
      for (const f of files) {
        const raw = await c.getObject(`prod/${NS}/up/node-a/pod.${NS}.web/${f.name}`);
        assert.equal(raw.indexOf(MARKER), -1, `no plaintext of the payload in object ${f.name}`);
        const plain = await decrypt(raw);
        assert.equal(plain.length, f.size, `${f.name}: status size = decrypted size`);
        const pf = join(tmp, `${f.name}.pcap`);
        writeFileSync(pf, plain, { mode: 0o600 });
        const n = tshark(pf, ['-T', 'fields', '-e', 'frame.number']).split('\n').filter((l) => l.trim() !== '').length;
        packets += n;
        if (n > 0) assert.match(tshark(pf, ['-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']), new RegExp(MARKER), 'the HTTP requests are in the decrypted capture');
      }
      assert.equal(packets, t.packets, 'tshark counts in the decrypted objects exactly the packets tcpdump reported');
    } finally {
      c.close();
    }
    // verified, then removed from the node; nothing on the node holds the payload in plaintext
    const left = readdirSync(targetDir('up')).filter((n) => /\.pcap[0-9]+$/.test(n));
    assert.deepEqual(left, [], 'ring files removed from the node after verification');
    for (const f of walk(stack.agents['node-a']?.dataDir ?? '')) assert.equal(readFileSync(f).indexOf(MARKER), -1, `no plaintext of the payload in ${f}`);
  });

  it('the object server down during the uploads: status says StoreUnavailable; after its restart every file is uploaded, nothing lost', async () => {
    await s3.kill9();
    await capture('down', 'good', { captureSeconds: '3s' });
    const t = await targetWhen('down', 'a file Failed with StoreUnavailable', (x) => (x.files ?? []).some((f) => f.upload?.state === 'Failed' && f.upload.reason === 'StoreUnavailable'));
    const f = (t.files ?? []).find((x) => x.upload?.reason === 'StoreUnavailable');
    assert.match(f?.upload?.message ?? '', /ECONNREFUSED|unavailable|refused|transient/i, f?.upload?.message);
    for (const x of t.files ?? []) assert.ok(statSync(join(targetDir('down'), x.name)).size > 0, `${x.name} kept on the node while the store is down`);
    await s3.restart();
    const done = await targetWhen('down', 'every file Uploaded after the restart', (x) => (x.files ?? []).every((y) => y.upload?.state === 'Uploaded'));
    const c = s3.client(BUCKET);
    try {
      for (const x of ringFiles(done)) {
        const plain = await decrypt(await c.getObject(`prod/${NS}/down/node-a/pod.${NS}.web/${x.name}`));
        assert.equal(plain.length, x.size);
      }
    } finally {
      c.close();
    }
  });

  it('wrong credentials and a missing bucket: Failed with the store\'s reason and what to fix; local files kept', async () => {
    await capture('badcreds', 'bad');
    await capture('nobucket', 'nobucket');
    const bad = await targetWhen('badcreds', 'Failed upload', (x) => (x.files ?? []).every((f) => f.upload?.state === 'Failed'));
    for (const f of bad.files ?? []) {
      assert.match(f.upload?.reason ?? '', /SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied/, JSON.stringify(f.upload));
      assert.match(f.upload?.message ?? '', /secret access key|access key|credentials/i);
      assert.ok(statSync(join(targetDir('badcreds'), f.name)).size > 0, 'kept on the node');
    }
    const nb = await targetWhen('nobucket', 'Failed upload', (x) => (x.files ?? []).every((f) => f.upload?.state === 'Failed'));
    for (const f of nb.files ?? []) {
      assert.equal(f.upload?.reason, 'NoSuchBucket', JSON.stringify(f.upload));
      assert.match(f.upload?.message ?? '', /bucket "no-such-bucket" does not exist/);
      assert.ok(statSync(join(targetDir('nobucket'), f.name)).size > 0, 'kept on the node');
    }
  });

  it('the agent SIGKILLed while uploading: the restarted agent finishes the interrupted file, resumes the uploads, every file ends Uploaded and decrypts', async () => {
    await capture('killed', 'good', { captureSeconds: '60s', maxFileSize: '12M', fileCount: '30' });
    await until('killed Running', async () => ((await getPc('killed')).status?.targets?.[0]?.phase === 'Running' ? true : undefined));
    const bulk = spawnInNetns(client, [process.execPath, '-e', BULK_CLIENT, `http://${web.ip}:8080/${MARKER}`, '6'], { run: stack.kubelet.run, what: 'bulk http client' });
    await bulk.exited;
    // uploads of the closed ring files have begun while tcpdump still captures
    const before = await until('an upload under way while capturing', async () => {
      const t = (await getPc('killed')).status?.targets?.find((x) => x.node === 'node-a');
      return t?.phase === 'Running' && (t.files ?? []).some((f) => f.upload?.state === 'Uploading' || f.upload?.state === 'Uploaded') ? t : undefined;
    });
    // what is sealed on the node right before the kill (decrypted live view): none of it may be lost
    const sealed = new Map<string, number>();
    for (const n of readdirSync(targetDir('killed')).filter((x) => /\.pcap[0-9]+$/.test(x))) {
      const r = await EncryptedFileReader.open(join(targetDir('killed'), n), keyring).catch(() => undefined);
      if (!r) continue; // uploaded and removed meanwhile
      try {
        const info = await r.info({ live: true });
        const sp = new PcapSplitter();
        sealed.set(n, sp.push(await r.read(0, info.size, { live: true })).length);
      } finally {
        await r.close();
      }
    }
    const agent = stack.agents['node-a'];
    assert.ok(agent?.pod.pid);
    process.kill(agent.pod.pid, 'SIGKILL');
    await agent.restart();
    const t = await targetWhen('killed', 'AgentRestarted and every file Uploaded', (x) => x.reason === 'AgentRestarted' && (x.files ?? []).every((f) => f.upload?.state === 'Uploaded'), 180_000);
    assert.ok((t.files ?? []).length >= (before.files ?? []).length, 'no file forgotten');
    const c = s3.client(BUCKET);
    try {
      let packets = 0;
      for (const f of ringFiles(t)) {
        const raw = await c.getObject(`prod/${NS}/killed/node-a/pod.${NS}.web/${f.name}`);
        assert.equal(raw.indexOf(MARKER), -1, 'no plaintext in the object');
        const plain = await decrypt(raw); // complete: the last file was finished after the restart
        const pf = join(tmp, `killed-${f.name}.pcap`);
        writeFileSync(pf, plain, { mode: 0o600 });
        const n = tshark(pf, ['-T', 'fields', '-e', 'frame.number']).split('\n').filter((l) => l.trim() !== '').length;
        packets += n;
        assert.ok(n >= (sealed.get(f.name) ?? 0), `${f.name}: every packet sealed on the node before the kill is in the object (${n} >= ${sealed.get(f.name) ?? 0})`);
      }
      assert.ok(sealed.size > 0, 'files were on the node at the kill');
      // tcpdump's own count also includes what sat in its stdio buffer, the pipe and the agent's
      // unsealed chunk when the agent died (at most one flush period, docs/storage.md section 6)
      process.stderr.write(`agent SIGKILL: tcpdump had reported ${before.packets ?? 0} packets; the store holds ${packets}\n`);
    } finally {
      c.close();
    }
    const left = readdirSync(targetDir('killed'));
    assert.deepEqual(left.filter((n) => /\.pcap[0-9]+$|upload\.json$/.test(n)), [], 'no ring file or journal left on the node');
  });
});
