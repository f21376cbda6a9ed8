/**
 * The simulated kubelet's prober, one long-lived process per node, started inside the node's
 * network namespace (`nsenter --net=<node netns>`), so probes travel over the pod network exactly
 * as a kubelet's do. Reads JSON lines `{"id":1,"url":"https://10.244.1.3:9443/healthz","timeoutMs":1000}`
 * on stdin, answers `{"id":1,"status":200}` or `{"id":1,"error":"..."}` on stdout. Like the kubelet
 * it does not verify the serving certificate of an HTTPS probe. Exits when stdin closes.
 */
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';

interface Probe {
  id: number;
  url: string;
  timeoutMs?: number;
}

function probe(p: Probe): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve) => {
    const u = new URL(p.url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method: 'GET', rejectUnauthorized: false, timeout: p.timeoutMs ?? 1000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${p.timeoutMs ?? 1000} ms`)));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let p: Probe;
  try {
    p = JSON.parse(line) as Probe;
  } catch {
    return;
  }
  void probe(p).then((r) => process.stdout.write(`${JSON.stringify({ id: p.id, ...r })}\n`));
});
rl.on('close', () => process.exit(0));
