/**
 * Certificates for tests, the demo and the local cluster, made with the machine's openssl (argv
 * only): what the chart's genCA/genSignedCert (or cert-manager) makes in a real install
 * (docs/data-api.md), plus the control plane's own serving and front-proxy certificates.
 *
 *   pcapper CA ─┬─ pcapper-server  (serverAuth+clientAuth; DNS pcapper-server.pcapper.svc; CN pcapper-server)
 *               └─ pcapper-agent   (serverAuth; DNS pcapper-agent.pcapper.svc; CN pcapper-agent)
 *   front-proxy CA ── front-proxy-client (clientAuth; CN front-proxy-client): kube-apiserver's proxy client
 *   apiserver CA ── kube-apiserver serving cert (IPs/DNS given by the caller)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${(err.stderr?.toString() ?? err.message).trim()}`, { cause: e });
  }
}

/** A self-signed CA in `dir/<name>.crt` / `.key` (P-256, 2 days). */
export function makeCa(dir: string, name: string, cn = name): CertPair {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', pair.key, '-out', pair.cert],
    dir,
  );
  return pair;
}

export interface LeafSpec {
  name: string;
  cn: string;
  dns?: readonly string[];
  ips?: readonly string[];
  usage: 'server' | 'client' | 'both';
  /** Subject O= (groups, for client certs the apiserver authenticates). */
  org?: readonly string[];
}

/** A leaf certificate signed by `ca`, in `dir/<name>.crt` / `.key`. */
export function makeLeaf(dir: string, ca: CertPair, spec: LeafSpec): CertPair {
  const pair = { cert: join(dir, `${spec.name}.crt`), key: join(dir, `${spec.name}.key`) };
  const csr = join(dir, `${spec.name}.csr`);
  const ext = join(dir, `${spec.name}.ext`);
  const subj = `/CN=${spec.cn}${(spec.org ?? []).map((o) => `/O=${o}`).join('')}`;
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', subj, '-keyout', pair.key, '-out', csr], dir);
  const san = [...(spec.dns ?? []).map((d) => `DNS:${d}`), ...(spec.ips ?? []).map((i) => `IP:${i}`)];
  const eku = spec.usage === 'server' ? 'serverAuth' : spec.usage === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
  writeFileSync(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${eku}`,
      ...(san.length ? [`subjectAltName=${san.join(',')}`] : []),
      '',
    ].join('\n'),
  );
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', pair.cert], dir);
  return pair;
}

export const SERVER_DNS = 'pcapper-server.pcapper.svc';
export const AGENT_DNS = 'pcapper-agent.pcapper.svc';
export const SERVER_CN = 'pcapper-server';
export const AGENT_CN = 'pcapper-agent';

export interface PcapperPki {
  dir: string;
  ca: CertPair;
  /** pcapper-server: serving cert for the APIService and client cert towards agents */
  server: CertPair;
  /** pcapper-agent: the agents' serving cert */
  agent: CertPair;
  /** PEM of ca.crt */
  caPem: string;
}

/** The pcapper CA and the server's and agents' certificates (docs/data-api.md). */
export function makePcapperPki(dir: string): PcapperPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = makeCa(dir, 'pcapper-ca', 'pcapper-ca');
  const server = makeLeaf(dir, ca, {
    name: 'pcapper-server',
    cn: SERVER_CN,
    dns: [SERVER_DNS, 'pcapper-server.pcapper.svc.cluster.local', 'pcapper-server.pcapper', 'pcapper-server'],
    usage: 'both',
  });
  const agent = makeLeaf(dir, ca, { name: 'pcapper-agent', cn: AGENT_CN, dns: [AGENT_DNS], usage: 'server' });
  return { dir, ca, server, agent, caPem: readFileSync(ca.cert, 'utf8') };
}

/** A client certificate signed by `ca` with any CN (e.g. an intruder's, for negative tests). */
export function makeClientCert(dir: string, ca: CertPair, name: string, cn: string): CertPair {
  return makeLeaf(dir, ca, { name, cn, usage: 'client' });
}

export interface ControlPlanePki {
  /** CA of the apiserver's serving certificate (Cluster.caData, kubeconfigs' certificate-authority-data) */
  ca: CertPair;
  /** kube-apiserver's serving certificate */
  serving: CertPair;
  /** --requestheader-client-ca-file: aggregated API servers trust front-proxy client certs from it */
  frontProxyCa: CertPair;
  /** --proxy-client-cert-file/--proxy-client-key-file, CN front-proxy-client */
  frontProxyClient: CertPair;
  caPem: string;
}

export const FRONT_PROXY_CN = 'front-proxy-client';

/** The control plane's certificates, as kubeadm lays them out (apiserver CA and front-proxy CA). */
export function makeControlPlanePki(dir: string, san: { ips: readonly string[]; dns: readonly string[] }): ControlPlanePki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = makeCa(dir, 'apiserver-ca', 'kubernetes');
  const serving = makeLeaf(dir, ca, { name: 'apiserver', cn: 'kube-apiserver', dns: san.dns, ips: san.ips, usage: 'server' });
  const frontProxyCa = makeCa(dir, 'front-proxy-ca', 'front-proxy-ca');
  const frontProxyClient = makeLeaf(dir, frontProxyCa, { name: 'front-proxy-client', cn: FRONT_PROXY_CN, usage: 'client' });
  return { ca, serving, frontProxyCa, frontProxyClient, caPem: readFileSync(ca.cert, 'utf8') };
}
