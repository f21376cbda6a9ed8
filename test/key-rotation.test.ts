// Key rotation on the real stack (test/harness/demo.ts startStack()): `kubectl pcap keys rotate`
// adds a key to the Secret pcapper/pcapper-encryption-keys and makes it active; new captures use
// it; the agent re-wraps its node's older files; `kubectl pcap keys retire` removes the old key;
// both captures still download to the same packets as before (tshark, capinfos).
// Stand-in, said plainly: the harness's kubelet puts a Secret into a pod when the pod starts (no
// live refresh of the mounted files, which a real kubelet does within about a minute), so the test
// rolls the agent after each change of the Secret. Needs root (network namespaces, tcpdump).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PacketCapture, TargetStatus } from '../src/api/packetcapture.js';
import { HEADER_SIZE, parseHeader } from '../src/crypto/format.js';
import { describeKeys } from '../src/crypto/rotation.js';
import { kp } from './cli-support.js';
import { startStack, type Stack } from './harness/demo.js';
import type { SimPod } from './harness/kubelet.js';
import { assertRoot } from './harness/netns.js';
import { eventually } from './harness/eventually.js';
import { httpGet, startHttpServer, type ServerHandle } from './harness/traffic.js';

const NS = 'rot';

function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
/** What must not change across a rotation: every packet's time, length, addresses and payload. */
const packetsOf = (f: string): string => tool('tshark', ['-r', f, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'tcp.payload']);
const countOf = (f: string): string => (/Number of packets:\s*(\S+)/.exec(tool('capinfos', ['-c', f]))?.[1] ?? '?');

describe('key rotation: rotate, new files use the new key, the agent re-wraps old files, the old key is retired, downloads unchanged (needs root)', { timeout: 900_000 }, () => {
  let stack: Stack;
  let tmp: string;
  let web: SimPod;
  let client: SimPod;
  let http: ServerHandle | undefined;
  let admin: string;
  const traffic = new AbortController();
  let trafficDone: Promise<void> | undefined;

  const kubectl = (args: string[], input?: string): Promise<string> => stack.cluster.kubectlOk(args, input === undefined ? {} : { input });
  const secretKeys = async (): Promise<{ active: string; ids: string[] }> =>
    describeKeys((JSON.parse(await kubectl(['-n', 'pcapper', 'get', 'secret', 'pcapper-encryption-keys', '-o', 'json'])) as { data: Record<string, string> }).data);
  const getPc = async (name: string): Promise<PacketCapture> => JSON.parse(await kubectl(['get', 'packetcaptures.pcapper.dev', name, '-n', NS, '-o', 'json'])) as PacketCapture;
  const captureFinished = async (name: string): Promise<TargetStatus> => {
    await kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name, namespace: NS }, spec: { targetPod: 'web', captureSeconds: '10s' } }));
    return eventually(
      async () => {
        const t = (await getPc(name)).status?.targets?.[0];
        return t?.phase === 'Finished' && (t.packets ?? 0) > 0 ? t : undefined;
      },
      { what: `${name} finished with packets`, timeoutMs: 120_000, everyMs: 250 },
    );
  };
  const ringFiles = (name: string): string[] => {
    const d = join(stack.agents['node-a']?.dataDir ?? '', NS, name, `pod.${NS}.web`);
    return readdirSync(d).filter((n) => /\.pcap[0-9]+$/.test(n)).map((n) => join(d, n));
  };
  /** Key ids in the header slots of each ring file of a capture. */
  const slotKeys = (name: string): string[][] => ringFiles(name).map((f) => parseHeader(readFileSync(f).subarray(0, HEADER_SIZE)).slots.filter((s) => s !== undefined).map((s) => s?.keyId ?? ''));
  const download = async (name: string, out: string): Promise<void> => {
    const r = await kp(['download', name, '-n', NS, '-w', out], { kubeconfig: admin, cwd: tmp });
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    assertRoot();
    tmp = mkdtempSync(join(tmpdir(), 'pcapper-rotation-'));
    stack = await startStack({ nodes: ['node-a'], serverReplicas: 1, log: () => undefined, ...(process.env.PCAPPER_TEST_KEEP_DIR ? { dir: process.env.PCAPPER_TEST_KEEP_DIR } : {}) });
    admin = stack.cluster.kubeconfigPath;
    const k = stack.kubelet;
    await k.ensureNamespace(NS);
    web = await k.createPod({ namespace: NS, name: 'web', node: 'node-a', labels: { app: 'web' } });
    client = await k.createPod({ namespace: NS, name: 'client', node: 'node-a', labels: { app: 'client' } });
    http = await startHttpServer({ netnsPath: web.netnsPath, ip: web.ip, ...(web.cgroup ? { cgroup: web.cgroup } : {}) }, 8080, { run: k.run, body: 'rotation '.repeat(100) });
    trafficDone = (async () => {
      let i = 0;
      while (!traffic.signal.aborted) await httpGet(client, `http://${web.ip}:8080/${i++}`, { timeoutMs: 3000 }).catch(() => undefined);
    })();
  });

  after(async () => {
    traffic.abort();
    await trafficDone;
    await http?.stop().catch(() => undefined);
    await stack?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('capture -> rotate -> new capture on the new key -> re-wrap -> retire the old key -> both downloads unchanged', async () => {
    const old = (await secretKeys()).active;
    await captureFinished('before');
    assert.deepEqual([...new Set(slotKeys('before').flat())], [old], 'the first capture is wrapped by the chart\'s key');
    await download('before', join(tmp, 'before-1.pcapng'));

    // rotate (refusals first: a bad id, retiring the active key)
    const badId = await kp(['keys', 'rotate', '--id', 'Bad_Id'], { kubeconfig: admin, cwd: tmp });
    assert.equal(badId.code, 1, badId.stderr);
    assert.match(badId.stderr, /key id "Bad_Id" is not valid/);
    const rot = await kp(['keys', 'rotate', '--id', 'k2'], { kubeconfig: admin, cwd: tmp });
    assert.equal(rot.code, 0, rot.stderr);
    assert.deepEqual(await secretKeys(), { active: 'k2', ids: [old, 'k2'].sort() });
    const listed = await kp(['keys', 'list'], { kubeconfig: admin, cwd: tmp });
    assert.match(listed.stdout.toString(), /^k2\tactive$/m);
    const activeRetire = await kp(['keys', 'retire', 'k2'], { kubeconfig: admin, cwd: tmp });
    assert.equal(activeRetire.code, 1);
    assert.match(activeRetire.stderr, /is the active key: rotate first/);

    // the agent sees the new Secret (pod roll: see the header comment); it re-wraps the old files
    await stack.agents['node-a']?.restart();
    await eventually(() => Promise.resolve(slotKeys('before').every((ks) => ks.length === 1 && ks[0] === 'k2') ? true : undefined), { what: 'the agent re-wrapped the first capture with k2', timeoutMs: 60_000, everyMs: 250 });
    await captureFinished('after');
    assert.deepEqual([...new Set(slotKeys('after').flat())], ['k2'], 'the new capture is wrapped by the new key');
    await download('after', join(tmp, 'after-1.pcapng'));

    // retire the old key; the agent now holds only k2
    const ret = await kp(['keys', 'retire', old], { kubeconfig: admin, cwd: tmp });
    assert.equal(ret.code, 0, ret.stderr);
    assert.deepEqual(await secretKeys(), { active: 'k2', ids: ['k2'] });
    await stack.agents['node-a']?.restart();

    await download('before', join(tmp, 'before-2.pcapng'));
    await download('after', join(tmp, 'after-2.pcapng'));
    for (const n of ['before', 'after']) {
      const a = join(tmp, `${n}-1.pcapng`);
      const b = join(tmp, `${n}-2.pcapng`);
      assert.equal(countOf(b), countOf(a), `${n}: capinfos packet count unchanged`);
      assert.ok(Number(countOf(a)) > 0);
      assert.equal(packetsOf(b), packetsOf(a), `${n}: every packet unchanged (tshark)`);
    }
  });
});
