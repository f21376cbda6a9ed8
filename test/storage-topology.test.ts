// The store where a cluster has it: versitygw runs in the simulated control plane's network
// namespace (CONTROL_PLANE_IP, across the fabric bridge), an uploader runs inside a node's network
// namespace like the agent will and uploads to it over the pod network, and the test process
// checks the object through the harness's Unix-socket path, as it reaches the API server.
// Needs root (network namespaces).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIN_PART_SIZE } from '../src/storage/uploader.js';
import { assertRoot, CONTROL_PLANE_IP, HarnessRun, inNetns, PodNetwork, type NodeNet } from './harness/netns.js';
import { repoRoot } from './harness/paths.js';
import { S3Server } from './harness/s3.js';

const BUCKET = 'pcapper-topology';

describe('uploads from a node to a store across the cluster network', { timeout: 180_000 }, () => {
  let run: HarnessRun | undefined;
  let net: PodNetwork | undefined;
  let node: NodeNet;
  let server: S3Server | undefined;
  let dir = '';

  before(async () => {
    assertRoot();
    run = new HarnessRun();
    net = new PodNetwork(run);
    const cp = await net.addControlPlane();
    node = await net.addNode('node-a');
    server = await S3Server.start({ buckets: [BUCKET], placement: { netns: cp, host: CONTROL_PLANE_IP, run } });
    dir = mkdtempSync(join(tmpdir(), 'pcapper-s3-topology-'));
  });

  after(async () => {
    await server?.stop();
    await net?.close().catch(() => undefined);
    run?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an uploader in the node netns uploads to the store at the control-plane address; the object matches', async () => {
    assert.ok(server);
    assert.equal(server.endpoint, `http://${CONTROL_PLANE_IP}:7070`);
    const data = randomBytes(2 * MIN_PART_SIZE + 777);
    const file = join(dir, 'node-a.cap.1.pcap0');
    writeFileSync(file, data, { mode: 0o600 });
    const key = 'pcapper/shop/cap/node-a/pod.shop.web-0/node-a.cap.1.pcap0';
    const dist = join(repoRoot(), 'dist');
    const childSrc = `
      import { S3Client } from ${JSON.stringify(join(dist, 'src/storage/client.js'))};
      import { uploadFile } from ${JSON.stringify(join(dist, 'src/storage/uploader.js'))};
      const a = JSON.parse(process.argv[1]);
      const c = new S3Client(a.config);
      const r = await uploadFile(c, { file: a.file, key: a.key, partSize: a.partSize });
      c.close();
      process.stdout.write(JSON.stringify(r) + '\\n');`;
    const args = JSON.stringify({ config: server.clusterStoreConfig(BUCKET), file, key, partSize: MIN_PART_SIZE });
    const [cmd, argv] = inNetns(node, [process.execPath, '--input-type=module', '-e', childSrc, args]);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `uploader in ${node.netns} failed: ${err}`);
    const res = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { verified: boolean; parts: number; reason?: string };
    assert.equal(res.verified, true, res.reason);
    assert.equal(res.parts, 3);

    const c = server.client(BUCKET);
    try {
      const obj = await c.getObject(key);
      assert.equal(createHash('sha256').update(obj).digest('hex'), createHash('sha256').update(data).digest('hex'));
    } finally {
      c.close();
    }
  });
});
