/**
 * Who may read capture data from this agent: only the pcapper server, proven by mutual TLS
 * (docs/data-api.md). The TLS layer asks every client for a certificate but lets the handshake
 * finish without one (requestCert, rejectUnauthorized: false) so that /healthz and /metrics stay
 * reachable for probes and the metrics scraper; data paths then require a certificate that
 * chains to PCAPPER_CA and whose CN is in PCAPPER_CLIENT_NAMES (default `pcapper-server`).
 * The agents' own certificate (CN pcapper-agent, serverAuth only) is not a client identity.
 *
 * Users are never authenticated here: kube-apiserver authenticates them and the pcapper server
 * authorizes them (SubjectAccessReview) before it asks an agent. Bearer tokens are ignored, so
 * the agent needs no TokenReview/SubjectAccessReview RBAC and no user credential reaches a node.
 * Pure: the server hands in what the TLS socket says about the peer.
 */

export interface PeerCertificate {
  /** The client sent a certificate at all. */
  present: boolean;
  /** OpenSSL verified its chain against PCAPPER_CA (and its purpose: TLS client). */
  authorized: boolean;
  /** OpenSSL's reason when not authorized (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
  authorizationError?: string | undefined;
  /** Subject CN. */
  cn?: string | undefined;
}

export type AuthDecision = { ok: true; client: string } | { ok: false; status: 401 | 403; message: string };

export function authorizeClient(peer: PeerCertificate, allowed: readonly string[]): AuthDecision {
  if (!peer.present) {
    return { ok: false, status: 401, message: 'a client certificate is required: capture data is served only to the pcapper server over mutual TLS (user tokens are not accepted; use kubectl pcap, which goes through the Kubernetes API)' };
  }
  if (!peer.authorized) {
    return { ok: false, status: 403, message: `the client certificate was not issued by the pcapper CA for TLS clients (${peer.authorizationError ?? 'not verified'})` };
  }
  const cn = peer.cn ?? '';
  if (!allowed.includes(cn)) {
    return { ok: false, status: 403, message: `client certificate CN "${cn.slice(0, 80)}" may not read capture data (allowed: ${allowed.join(', ')}; PCAPPER_CLIENT_NAMES)` };
  }
  return { ok: true, client: cn };
}
