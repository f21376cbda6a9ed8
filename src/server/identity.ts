/**
 * Pure front-proxy authentication (what kube-apiserver's requestheader authenticator does for an
 * aggregated API server): the front-proxy settings read from the ConfigMap
 * kube-system/extension-apiserver-authentication, the check of the peer's client certificate,
 * and the user, uid, groups and extra taken from the configured headers. The headers mean
 * something only on a connection whose certificate passed checkProxyCert().
 */
import { createHash } from 'node:crypto';

export interface FrontProxyConfig {
  /** PEM bundle of requestheader-client-ca-file (may hold several CAs). */
  caPem: string;
  /** CNs allowed to act as front proxy; empty = any certificate signed by the CA. */
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraPrefixes: string[];
}

function jsonList(data: Record<string, string>, key: string, def: string[]): string[] {
  const raw = data[key];
  if (raw === undefined || raw.trim() === '') return def;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error(`ConfigMap kube-system/extension-apiserver-authentication: ${key} is not a JSON array of strings`);
  }
  if (v === null) return def;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`ConfigMap kube-system/extension-apiserver-authentication: ${key} is not a JSON array of strings`);
  return v;
}

/** Parses the ConfigMap's data; throws a one-line error naming what is missing. */
export function parseFrontProxyConfig(data: Record<string, string> | undefined): FrontProxyConfig {
  const d = data ?? {};
  const caPem = d['requestheader-client-ca-file'] ?? '';
  if (!caPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new Error('ConfigMap kube-system/extension-apiserver-authentication has no requestheader-client-ca-file: start kube-apiserver with --requestheader-client-ca-file (and --proxy-client-cert-file/--proxy-client-key-file) to enable API aggregation');
  }
  const usernameHeaders = jsonList(d, 'requestheader-username-headers', []);
  if (usernameHeaders.length === 0) {
    throw new Error('ConfigMap kube-system/extension-apiserver-authentication has no requestheader-username-headers: start kube-apiserver with --requestheader-username-headers=X-Remote-User');
  }
  return {
    caPem,
    allowedNames: jsonList(d, 'requestheader-allowed-names', []),
    usernameHeaders,
    // Older apiservers do not forward the uid; newer ones list X-Remote-Uid here.
    uidHeaders: jsonList(d, 'requestheader-uid-headers', ['X-Remote-Uid']),
    groupHeaders: jsonList(d, 'requestheader-group-headers', []),
    extraPrefixes: jsonList(d, 'requestheader-extra-headers-prefix', []),
  };
}

/** What the TLS layer knows about the peer's certificate (tls.TLSSocket). */
export interface PeerCertInfo {
  /** socket.authorized: the chain verified against the front-proxy CA. */
  authorized: boolean;
  authorizationError?: string | Error | null;
  /** Subject CN of the leaf (undefined when no certificate was sent). */
  cn: string | undefined;
  /** Extended key usage OIDs of the leaf (undefined when the extension is absent). */
  extKeyUsage: string[] | undefined;
}

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** Whether the connection comes from the front proxy; a one-line reason when not. */
export function checkProxyCert(peer: PeerCertInfo, allowedNames: readonly string[]): { ok: true; cn: string } | { ok: false; reason: string } {
  if (peer.cn === undefined && !peer.authorized) return { ok: false, reason: 'no client certificate: requests must come through kube-apiserver (APIService v1alpha1.data.pcapper.dev)' };
  if (!peer.authorized) return { ok: false, reason: `client certificate not signed by the front-proxy CA (${String(peer.authorizationError ?? 'unverified')})` };
  if (peer.extKeyUsage !== undefined && !peer.extKeyUsage.includes(CLIENT_AUTH_OID)) return { ok: false, reason: 'client certificate is not for client authentication (extended key usage)' };
  const cn = peer.cn ?? '';
  if (allowedNames.length > 0 && !allowedNames.includes(cn)) return { ok: false, reason: `client certificate CN "${cn}" is not in requestheader-allowed-names` };
  return { ok: true, cn };
}

export interface Identity {
  user: string;
  uid: string | undefined;
  groups: string[];
  extra: Record<string, string[]>;
}

/** Node's headersDistinct: lower-cased names, every value of a repeated header kept apart. */
export type DistinctHeaders = Readonly<Record<string, string[] | undefined>>;

function first(h: DistinctHeaders, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = h[n.toLowerCase()]?.find((x) => x !== '');
    if (v !== undefined) return v;
  }
  return undefined;
}

function unescapeKey(k: string): string {
  try {
    return decodeURIComponent(k);
  } catch {
    return k;
  }
}

/**
 * The forwarded identity (k8s.io/apiserver requestheader): user from the first username header
 * set, groups from every value of every group header, extra keys lower-cased and URL-decoded.
 * Undefined when no user header is set (then the request is 401).
 */
export function identityFromHeaders(h: DistinctHeaders, cfg: Pick<FrontProxyConfig, 'usernameHeaders' | 'uidHeaders' | 'groupHeaders' | 'extraPrefixes'>): Identity | undefined {
  const user = first(h, cfg.usernameHeaders);
  if (user === undefined) return undefined;
  const groups: string[] = [];
  for (const g of cfg.groupHeaders) groups.push(...(h[g.toLowerCase()] ?? []));
  const extra: Record<string, string[]> = {};
  const prefixes = cfg.extraPrefixes.map((p) => p.toLowerCase());
  for (const [name, values] of Object.entries(h)) {
    const p = prefixes.find((x) => name.startsWith(x) && name.length > x.length);
    if (p === undefined || values === undefined) continue;
    const key = unescapeKey(name.slice(p.length)).toLowerCase();
    (extra[key] ??= []).push(...values);
  }
  return { user, uid: first(h, cfg.uidHeaders), groups, extra };
}

/** A stable hash of an identity and what it asks for (the authorization cache key). */
export function identityKey(id: Identity, namespace: string, name: string): string {
  const extra = Object.keys(id.extra)
    .sort()
    .map((k) => [k, id.extra[k]]);
  return createHash('sha256').update(JSON.stringify([id.user, id.uid ?? null, id.groups, extra, namespace, name])).digest('hex');
}
