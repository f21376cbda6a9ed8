/**
 * SubjectAccessReview authorizer: may this forwarded identity `get packetcaptures/files` (group
 * pcapper.dev) in the namespace, for this capture? The permission that has always meant "may read
 * this namespace's captured traffic" (docs/data-api.md).
 *
 * Allowed and denied answers are cached briefly (default 5 s) under a hash of the whole identity
 * and the capture, so a file list fanning out or a CLI resuming a download does not ask the API
 * server each time; errors are never cached.
 */
import type { Identity } from './identity.js';
import { identityKey } from './identity.js';

/** What a request does: read traffic (get packetcaptures/files) or fire a capture (create packetcaptures/trigger, docs/triggers.md). */
export type Access = 'files' | 'trigger';
const ACCESS: Record<Access, { verb: string; subresource: string }> = { files: { verb: 'get', subresource: 'files' }, trigger: { verb: 'create', subresource: 'trigger' } };

export type Decision = { allowed: true } | { allowed: false; reason: string };

/** Posts a SubjectAccessReview and returns the created object (KubeClient.request in production). */
export type PostReview = (body: unknown) => Promise<{ status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string } }>;

export interface AuthorizerOptions {
  post: PostReview;
  ttlMs?: number;
  now?: () => number;
  maxEntries?: number;
}

export class SarAuthorizer {
  private readonly cache = new Map<string, { decision: Decision; expires: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(private readonly opts: AuthorizerOptions) {
    this.ttlMs = Math.min(opts.ttlMs ?? 5000, 5000);
    this.now = opts.now ?? Date.now;
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** Rejects (uncached) when the API server cannot be asked. */
  async authorize(id: Identity, namespace: string, name: string, access: Access = 'files'): Promise<Decision> {
    const key = `${access}|${identityKey(id, namespace, name)}`;
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return hit.decision;
    const created = await this.opts.post(reviewFor(id, namespace, name, access));
    const st = created.status ?? {};
    const decision: Decision =
      st.allowed === true && st.denied !== true
        ? { allowed: true }
        : { allowed: false, reason: `user "${id.user}" cannot ${ACCESS[access].verb} packetcaptures/${ACCESS[access].subresource} (group pcapper.dev) in namespace "${namespace}"${st.reason ? `: ${st.reason}` : ''}` };
    if (this.cache.size >= this.maxEntries) this.evict(now);
    this.cache.set(key, { decision, expires: now + this.ttlMs });
    return decision;
  }

  private evict(now: number): void {
    for (const [k, v] of this.cache) if (v.expires <= now) this.cache.delete(k);
    // Still full: drop the oldest (Map keeps insertion order).
    while (this.cache.size >= this.maxEntries) {
      const k = this.cache.keys().next().value;
      if (k === undefined) break;
      this.cache.delete(k);
    }
  }
}

/** The SubjectAccessReview body for one request. */
export function reviewFor(id: Identity, namespace: string, name: string, access: Access = 'files'): unknown {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: id.user,
      ...(id.uid !== undefined ? { uid: id.uid } : {}),
      groups: id.groups,
      ...(Object.keys(id.extra).length ? { extra: id.extra } : {}),
      resourceAttributes: { namespace, verb: ACCESS[access].verb, group: 'pcapper.dev', resource: 'packetcaptures', subresource: ACCESS[access].subresource, name },
    },
  };
}
