/**
 * STAND-IN for `pcapper server` (being written in parallel): a tiny aggregated API server that is
 * just enough to prove the harness's topology. It serves HTTPS with the given certificate, reads
 * the front-proxy CA and allowed names from kube-system/extension-apiserver-authentication through
 * the API (KUBECONFIG, over the fabric), and answers only requests whose client certificate chains
 * to that CA with an allowed CN, echoing the forwarded identity:
 *   GET /healthz                          200 (no client certificate)
 *   GET /apis/<group>/<version>           APIResourceList (resource `whoami`)
 *   GET /apis/<group>/<version>/whoami    {"user":X-Remote-User,"groups":[X-Remote-Group...],"proxyCN":...}
 * Env: PCAPPER_TLS_CERT, PCAPPER_TLS_KEY, PCAPPER_LISTEN (default 0.0.0.0:8443), STANDIN_GROUP,
 * STANDIN_VERSION, KUBECONFIG.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { parse } from 'yaml';

interface Kubeconfig {
  clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { user: { token: string } }[];
}

function env(name: string, def?: string): string {
  const v = process.env[name] ?? def;
  if (v === undefined) {
    process.stderr.write(`standin: ${name} is required\n`);
    process.exit(2);
  }
  return v;
}

async function frontProxyConfig(): Promise<{ ca: string; names: string[] }> {
  const kc = parse(readFileSync(env('KUBECONFIG'), 'utf8')) as Kubeconfig;
  const cl = kc.clusters[0]?.cluster;
  const token = kc.users[0]?.user.token ?? '';
  if (!cl) throw new Error('kubeconfig has no cluster');
  const ca = Buffer.from(cl['certificate-authority-data'], 'base64').toString();
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get(`${cl.server}/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication`, { ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
        let b = '';
        res.setEncoding('utf8').on('data', (c: string) => (b += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(b) : reject(new Error(`configmap: HTTP ${res.statusCode}: ${b.slice(0, 200)}`))));
      })
      .on('error', reject);
  });
  const data = (JSON.parse(body) as { data: Record<string, string> }).data;
  return { ca: data['requestheader-client-ca-file'] ?? '', names: JSON.parse(data['requestheader-allowed-names'] ?? '[]') as string[] };
}

const group = env('STANDIN_GROUP');
const version = env('STANDIN_VERSION', 'v1alpha1');
const [host, port] = env('PCAPPER_LISTEN', '0.0.0.0:8443').split(':');
const fp = await frontProxyConfig();
process.stderr.write(`standin: front-proxy CA loaded, allowed names ${JSON.stringify(fp.names)}\n`);

const server = https.createServer(
  { cert: readFileSync(env('PCAPPER_TLS_CERT')), key: readFileSync(env('PCAPPER_TLS_KEY')), requestCert: true, rejectUnauthorized: false, ca: fp.ca },
  (req, res) => {
    const send = (code: number, obj: unknown): void => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    if (path === '/healthz' || path === '/readyz') return send(200, 'ok');
    const sock = req.socket as TLSSocket;
    const peer = sock.getPeerCertificate();
    const cn = peer.subject?.CN;
    const cnStr = Array.isArray(cn) ? cn.join(',') : cn;
    let chained = false;
    try {
      chained = !!peer.raw && new X509Certificate(peer.raw).checkIssued(new X509Certificate(fp.ca)) && sock.authorized;
    } catch {
      chained = false;
    }
    if (!chained || !cnStr || (fp.names.length > 0 && !fp.names.includes(cnStr))) {
      process.stderr.write(`standin: refused ${req.method} ${path}: client certificate ${chained ? `CN ${cnStr} not allowed` : 'missing or not from the front-proxy CA'}\n`);
      return send(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401, message: 'front-proxy client certificate required' });
    }
    const base = `/apis/${group}/${version}`;
    if (path === base) {
      return send(200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: `${group}/${version}`,
        resources: [{ name: 'whoami', singularName: 'whoami', namespaced: false, kind: 'WhoAmI', verbs: ['get', 'list'] }],
      });
    }
    if (path === `${base}/whoami`) {
      const groups = req.headersDistinct['x-remote-group'] ?? [];
      process.stderr.write(`standin: whoami for ${String(req.headers['x-remote-user'])}\n`);
      return send(200, { user: req.headers['x-remote-user'] ?? null, groups, proxyCN: cnStr });
    }
    return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` });
  },
);
server.listen(Number(port), host, () => process.stderr.write(`standin: listening on ${host}:${port}\n`));
