/**
 * Support for the pod-start tests and benchmark (issue 15 item 3): the whole stack (real
 * kube-apiserver, controller, one agent pod per node, one pcapper server replica), a DNS responder
 * pod, app pods whose first action is one DNS query with a name unique per pod, and the check of
 * what was captured: `kubectl pcap download` from the laptop netns (only the API server reachable)
 * and `tshark -Y dns` on the file.
 *
 * The app and the responder are `node -e` one-liners (argv only, no shell): the machine has no
 * dig/nslookup. Node takes some tens of ms to start before it sends, so the app's first packet
 * comes that long after its process starts; the benchmark's sandbox -> capturing latency shows
 * how much room there is regardless.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runKubectlPcap, startStack, type Stack } from './harness/demo.js';
import type { ProcessPod } from './harness/kubelet.js';
import { eventually } from './harness/eventually.js';

/** Answers every DNS query with NOERROR and no answer (QR=1, RD+RA), on UDP port 53. */
export const DNS_RESPONDER_JS = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => { const a = Buffer.from(m); a[2] = 0x81; a[3] = 0x80; s.send(a, r.port, r.address); });
s.bind(53, () => console.log('dns responder bound'));
`;

/** argv: NAME SERVER_IP. Sends ONE A query for NAME (no retry: a query missed is missed), then idles. */
export const DNS_APP_JS = `
const [name, server] = process.argv.slice(1);
const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
const q = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
const s = require('node:dgram').createSocket('udp4');
s.on('message', () => console.log('answered ' + name));
s.send(q, 53, server, (e) => { if (e) { console.error(e.message); process.exit(1); } });
setInterval(() => undefined, 1 << 30);
`;

export const NS = 'podstart';
export const APP_LABEL = { app: 'starter' };

export interface PodStartStack {
  stack: Stack;
  responder: ProcessPod;
  stop(): Promise<void>;
}

export async function startPodStartStack(log: (m: string) => void = () => undefined): Promise<PodStartStack> {
  const stack = await startStack({ nodes: ['node-a'], serverReplicas: 1, log, agentEnv: { PCAPPER_PACKET_BUFFERED: 'true' } });
  try {
    await stack.kubelet.ensureNamespace(NS);
    const responder = await stack.kubelet.runPod({
      namespace: NS,
      name: 'dns',
      node: 'node-a',
      labels: { app: 'dns' },
      container: { name: 'dns', argv: [process.execPath, '-e', DNS_RESPONDER_JS] },
    });
    await waitUntil('the DNS responder bound', () => logOf(responder).includes('dns responder bound'), 20_000);
    return { stack, responder, stop: () => stack.stop() };
  } catch (e) {
    await stack.stop();
    throw e;
  }
}

/** Starts an app pod (sandbox first, app `appStartDelayMs` later) whose first action is the query `name`. */
export function startAppPod(
  s: PodStartStack,
  pod: string,
  queryName: string,
  o: { appStartDelayMs?: number; sandboxDelayMs?: number; beforeAppStart?: () => Promise<void> } = {},
): Promise<ProcessPod> {
  return s.stack.kubelet.runPod({
    namespace: NS,
    name: pod,
    node: 'node-a',
    labels: APP_LABEL,
    sandboxFirst: true,
    ...(o.appStartDelayMs !== undefined ? { appStartDelayMs: o.appStartDelayMs } : {}),
    ...(o.sandboxDelayMs !== undefined ? { sandboxDelayMs: o.sandboxDelayMs } : {}),
    ...(o.beforeAppStart ? { beforeAppStart: o.beforeAppStart } : {}),
    container: { name: 'app', argv: [process.execPath, '-e', DNS_APP_JS, queryName, s.responder.ip] },
  });
}

export function logOf(p: ProcessPod): string {
  const r = spawnSync('cat', [p.logFile], { encoding: 'utf8' });
  return r.stdout ?? '';
}

/** {@link eventually} with the positional arguments the pod-start tests use (one polling loop). */
export function waitUntil<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  return eventually(fn, { what, timeoutMs });
}

/** `kubectl pcap download NAME -n NS -w FILE` as a user on the laptop (reaches only the API server). */
export async function download(s: PodStartStack, capture: string, file: string, cwd: string): Promise<void> {
  const { child, done } = runKubectlPcap(['download', capture, '-n', NS, '-w', file], { cwd, kubeconfig: s.stack.cluster.kubeconfigPath, stdio: 'pipe', laptop: s.stack.cluster });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout?.resume();
  const r = await done;
  if (r.code !== 0) throw new Error(`kubectl pcap download ${capture} failed (${r.code ?? r.signal}): ${err.trim()}`);
}

/** DNS query names (responses excluded) per pcapng interface name, read by tshark. */
export function dnsQueries(file: string): Map<string, Set<string>> {
  const r = spawnSync('tshark', ['-r', file, '-Y', 'dns.flags.response == 0', '-T', 'fields', '-e', 'frame.interface_name', '-e', 'dns.qry.name'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tshark -r ${file}: ${r.stderr}`);
  const m = new Map<string, Set<string>>();
  for (const line of r.stdout.split('\n')) {
    const [iface, name] = line.split('\t');
    if (!iface || !name) continue;
    let set = m.get(iface);
    if (!set) m.set(iface, (set = new Set()));
    set.add(name);
  }
  return m;
}

export const captureYaml = (name: string): string => `
apiVersion: pcapper.dev/v1alpha1
kind: PacketCapture
metadata: {name: ${name}, namespace: ${NS}}
spec:
  podSelector: {matchLabels: {app: starter}}
  captureSeconds: "3600"
  captureFilter: "udp port 53"
  maxFileSize: "10M"
  fileCount: "2"
`;

export const fileIn = (dir: string, name: string): string => join(dir, name);
