// `npm run bench -- trigger [N]`: trigger -> frozen window latency (issue 15 item 2, docs/triggers.md).
//
// Real path: test/harness/demo.ts startStack() (kube-apiserver, the controller pod, agents as pods
// running real tcpdump, the pcapper server behind the APIService), HTTP traffic into pod web.
// N times (default 10): an armed capture on web (Webhook + NotReady-free, lookBack 10s, after 0s);
// once its target reports Armed, a firing is POSTed to the trigger subresource through
// kube-apiserver (Alertmanager format, admin token). Measured per run:
//   trigger_freeze_ms  = targets[].triggeredTime (the agent froze its window) - firings[0].time
//                        (the server recorded the firing): the goal is <= 1000 ms;
//   request_freeze_ms  = triggeredTime - the moment the POST was sent (adds kube-apiserver's
//                        proxy, the SubjectAccessReview and the status write).
// Baseline in the same run: status_watch_ms = a status write by one client -> seen by a watch
// (what every firing pays at least once: the agents learn of it through their capture watch).
// Last line: trigger_freeze_ms=P50 trigger_freeze_p90_ms=… request_freeze_ms=P50 status_watch_ms=P50 n=N
import { request } from 'node:https';
import type { PacketCapture } from '../src/api/packetcapture.js';
import { clientFor, getPacketCapture, packetCapturePath } from '../src/k8s/client.js';
import { applyStatus } from '../src/k8s/status.js';
import { startStack } from '../test/harness/demo.js';
import { httpGet, startHttpServer } from '../test/harness/traffic.js';

const N = Number(process.argv[2] ?? 10);
const NS = 'bench-trg';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(everyMs);
  }
}

async function main(): Promise<void> {
  const stack = await startStack({ log: () => undefined });
  const traffic = new AbortController();
  try {
    const admin = clientFor(stack.cluster.kubeConfig);
    const k = stack.kubelet;
    await k.ensureNamespace(NS);
    const web = await k.createPod({ namespace: NS, name: 'web', node: 'node-a', labels: { app: 'web' } });
    const client = await k.createPod({ namespace: NS, name: 'client', node: 'node-b', labels: { app: 'client' } });
    const srv = await startHttpServer({ netnsPath: web.netnsPath, ip: web.ip, ...(web.cgroup ? { cgroup: web.cgroup } : {}) }, 8080, { run: k.run });
    const loop = (async () => {
      for (let i = 0; !traffic.signal.aborted; i++) {
        await httpGet(client, `http://${web.ip}:8080/b/${i}`, { timeoutMs: 2000 }).catch(() => undefined);
        await sleep(50);
      }
    })();
    const token = stack.cluster.userToken('admin');
    const post = (path: string, body: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(`${stack.cluster.server}${path}`, { method: 'POST', ca: stack.cluster.caData, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    const freeze: number[] = [];
    const reqFreeze: number[] = [];
    const watch: number[] = [];
    for (let i = 0; i < N; i++) {
      const name = `t${i}`;
      await admin.request({
        method: 'POST',
        path: packetCapturePath(NS),
        body: { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name, namespace: NS }, spec: { targetPod: 'web', captureSeconds: 120, trigger: { lookBack: '10s', after: '1s', when: [{ type: 'Webhook' }] } } },
      });
      await until(`${name} armed`, async () => ((await getPacketCapture(admin, NS, name)).status?.targets?.[0]?.reason === 'Armed' ? true : undefined));
      await sleep(300); // some traffic into the window
      const sent = Date.now();
      const code = await post(`/apis/data.pcapper.dev/v1alpha1/namespaces/${NS}/packetcaptures/${name}/trigger`, JSON.stringify({ version: '4', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'Bench' } }] }));
      if (code !== 201) throw new Error(`trigger answered ${code}`);
      const pc = await until<PacketCapture>(`${name} frozen`, async () => {
        const p = await getPacketCapture(admin, NS, name);
        return p.status?.targets?.[0]?.triggeredTime ? p : undefined;
      });
      const frozen = Date.parse(pc.status?.targets?.[0]?.triggeredTime ?? '');
      freeze.push(frozen - Date.parse(pc.status?.firings?.[0]?.time ?? ''));
      reqFreeze.push(frozen - sent);
      // baseline: a status write seen by a watch on the same object
      const watched = new Promise<number>((resolve, reject) => {
        const rv = pc.metadata.resourceVersion ?? '0';
        const req = request(
          `${stack.cluster.server}${packetCapturePath(NS)}?watch=1&resourceVersion=${rv}&fieldSelector=metadata.name%3D${name}`,
          { ca: stack.cluster.caData, headers: { Authorization: `Bearer ${token}` } },
          (res) => {
            let buf = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => {
              buf += d;
              if (buf.includes('bench-probe')) {
                resolve(Date.now());
                req.destroy();
              }
            });
          },
        );
        req.on('error', (e) => (e.message.includes('aborted') || e.message.includes('socket hang up') ? undefined : reject(e)));
        req.end();
      });
      await sleep(100);
      const w0 = Date.now();
      await applyStatus(admin, NS, name, { conditions: [{ type: 'BenchProbe', status: 'True', reason: 'bench-probe', message: 'bench-probe', lastTransitionTime: new Date().toISOString() }] }, 'bench-probe');
      watch.push((await watched) - w0);
      await admin.request({ method: 'DELETE', path: packetCapturePath(NS, name) });
      process.stdout.write(`run ${i}: trigger_freeze_ms=${freeze[i]} request_freeze_ms=${reqFreeze[i]} status_watch_ms=${watch[i]}\n`);
    }
    traffic.abort();
    await loop;
    await srv.stop();
    process.stdout.write(
      `trigger_freeze_ms=${pct(freeze, 50)} trigger_freeze_p90_ms=${pct(freeze, 90)} trigger_freeze_max_ms=${Math.max(...freeze)} request_freeze_ms=${pct(reqFreeze, 50)} status_watch_ms=${pct(watch, 50)} n=${freeze.length}\n`,
    );
  } finally {
    traffic.abort();
    await stack.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
