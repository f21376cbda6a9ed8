/**
 * Who may read capture data from this agent: a caller presents a Kubernetes bearer token; the
 * agent asks the apiserver (TokenReview) who it is, then (SubjectAccessReview) whether that user
 * may `get` the `files` subresource of `packetcaptures.pcapper.dev` named after the capture, in
 * the capture's namespace. Decisions are cached for a few seconds by a hash of the token (never
 * the token itself), so a download of many ranges costs two API calls.
 *
 * RBAC the agent's service account needs for this: `create` on tokenreviews
 * (authentication.k8s.io) and subjectaccessreviews (authorization.k8s.io). A user who may
 * download: `get` on `packetcaptures/files` in the namespace (see docs/agent.md).
 */
import { createHash } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL } from '../api/packetcapture.js';
import { clientFor, type KubeClient } from '../k8s/client.js';

export type AuthDecision =
  | { ok: true; user: string }
  | { ok: false; status: 401 | 403 | 503; message: string };

export interface Authorizer {
  authorize(token: string | undefined, namespace: string, capture: string): Promise<AuthDecision>;
}

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
}

export class KubeAuthorizer implements Authorizer {
  private readonly client: KubeClient;
  private readonly cache = new Map<string, { at: number; decision: AuthDecision }>();

  constructor(
    kc: k8s.KubeConfig | KubeClient,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.client = clientFor(kc);
  }

  async authorize(token: string | undefined, namespace: string, capture: string): Promise<AuthDecision> {
    if (!token) return { ok: false, status: 401, message: 'a bearer token is required (Authorization: Bearer <token> or X-Pcapper-Token: <token>)' };
    const key = `${createHash('sha256').update(token).digest('hex')}|${namespace}|${capture}`;
    const hit = this.cache.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.decision;
    const decision = await this.review(token, namespace, capture);
    if (decision.ok || decision.status !== 503) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, { at: this.now(), decision });
    }
    return decision;
  }

  private async review(token: string, namespace: string, capture: string): Promise<AuthDecision> {
    let tr: { status?: TokenReviewStatus };
    try {
      tr = await this.client.request<{ status?: TokenReviewStatus }>({
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
    } catch (e) {
      return { ok: false, status: 503, message: `cannot review the token with the apiserver: ${(e as Error).message}` };
    }
    const st = tr.status ?? {};
    if (!st.authenticated || !st.user?.username) return { ok: false, status: 401, message: 'the token is not valid for this cluster' };
    const user = st.user;
    const username = user.username ?? '';
    let sar: { status?: { allowed?: boolean; reason?: string } };
    try {
      sar = await this.client.request<{ status?: { allowed?: boolean; reason?: string } }>({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: username,
            uid: user.uid,
            groups: user.groups ?? [],
            extra: user.extra ?? {},
            resourceAttributes: { group: GROUP, resource: PLURAL, subresource: 'files', verb: 'get', namespace, name: capture },
          },
        },
      });
    } catch (e) {
      return { ok: false, status: 503, message: `cannot check access with the apiserver: ${(e as Error).message}` };
    }
    if (!sar.status?.allowed) {
      return {
        ok: false,
        status: 403,
        message: `user "${username}" cannot get resource "${PLURAL}/files" in API group "${GROUP}" in the namespace "${namespace}" (capture ${capture})`,
      };
    }
    return { ok: true, user: username };
  }
}
