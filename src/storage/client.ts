// A small S3 client over node:http/node:https with our own SigV4 signer: the nine operations
// pcapper needs (multipart upload, ListParts, HeadObject, GetObject with Range, PutObject,
// ListObjectsV2, DeleteObjects, CreateBucket). Every request is retried on transient failures
// (5xx, 429, connection reset/refused, timeouts) with exponential backoff and full jitter;
// terminal answers (403, NoSuchBucket, ...) throw a StoreError that says what to fix.
// Clock, sleep and randomness are injected.
import http from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import { classifyStatus, isTransientNetworkError, StoreError } from './errors.js';
import { encodeS3Path, sha256Hex, signRequest, type Credentials } from './sigv4.js';
import { elements, escapeXml, text } from './xml.js';

export interface RetryPolicy {
  /** Attempts per request, the first included. */
  readonly attempts: number;
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 10, baseMs: 200, capMs: 20_000 };

export interface StoreConfig {
  /** http(s)://host[:port] of the S3 API. */
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  /** Path-style (`endpoint/bucket/key`) instead of virtual-hosted (`bucket.host/key`). */
  readonly pathStyle: boolean;
  readonly credentials: Credentials;
  /** An idle socket for this long fails the attempt (transient). */
  readonly requestTimeoutMs?: number;
  readonly retry?: RetryPolicy;
  /** PEM CA bundle for an endpoint with a private CA. */
  readonly ca?: string | Buffer;
}

export interface ClientDeps {
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Called before each retry: for logs and tests. */
  readonly onRetry?: (what: string, attempt: number, delayMs: number, error: unknown) => void;
}

export interface Response {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RequestSpec {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';
  readonly key?: string;
  /** No bucket in the path (ListBuckets-style requests); default false. */
  readonly noBucket?: boolean;
  readonly bucket?: string;
  readonly query?: ReadonlyArray<readonly [string, string]>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /** Hex SHA-256 of the body when the caller already has it (saves hashing every byte twice). */
  readonly bodySha256Hex?: string;
  /** Statuses answered without throwing (e.g. 404 for HeadObject). */
  readonly accept?: readonly number[];
}

export interface PartInfo {
  readonly partNumber: number;
  readonly size: number;
  readonly etag: string;
  /** Base64 SHA-256 of the part, when the store keeps it. */
  readonly checksumSha256?: string;
}

export interface ObjectHead {
  readonly size: number;
  readonly etag: string;
  /** As the store reports it: base64 SHA-256, or for a multipart object `<base64>-<parts>`. */
  readonly checksumSha256?: string;
}

/** Full-jitter exponential backoff: a random delay in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  return Math.floor(random() * Math.min(policy.capMs, policy.baseMs * 2 ** attempt));
}

export class S3Client {
  readonly retry: RetryPolicy;
  private readonly agent: http.Agent;
  private readonly url: URL;
  private readonly now: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    readonly config: StoreConfig,
    private readonly deps: ClientDeps = {},
  ) {
    this.url = new URL(config.endpoint);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') {
      throw new StoreError(`store endpoint ${config.endpoint} must start with https:// (or http:// for a test server)`, false);
    }
    this.retry = config.retry ?? DEFAULT_RETRY;
    this.agent = this.url.protocol === 'https:' ? new https.Agent({ keepAlive: true, ca: config.ca }) : new http.Agent({ keepAlive: true });
    this.now = deps.now ?? (() => new Date());
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = deps.random ?? Math.random;
  }

  close(): void {
    this.agent.destroy();
  }

  /** One attempt, signed; throws StoreError (transient or not) on failure. */
  async send(spec: RequestSpec, what: string): Promise<Response> {
    const bucket = spec.bucket ?? this.config.bucket;
    let host = this.url.host;
    let path: string;
    if (spec.noBucket) path = '/';
    else if (this.config.pathStyle) path = encodeS3Path(bucket, spec.key);
    else {
      host = `${bucket}.${this.url.host}`;
      path = spec.key === undefined ? '/' : encodeS3Path(bucket, spec.key).slice(bucket.length + 1);
    }
    const body = spec.body ?? Buffer.alloc(0);
    const headers: Record<string, string> = { host, ...spec.headers };
    // Always a length on PUT/POST (S3 refuses chunked uploads without one: 411 MissingContentLength).
    if (spec.body || spec.method === 'PUT' || spec.method === 'POST') headers['content-length'] = String(body.length);
    Object.assign(
      headers,
      signRequest({
        method: spec.method,
        path,
        query: spec.query ?? [],
        headers,
        payloadHash: spec.bodySha256Hex ?? sha256Hex(body),
        region: this.config.region,
        now: this.now(),
        credentials: this.config.credentials,
      }),
    );
    const qs = (spec.query ?? []).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    const mod = this.url.protocol === 'https:' ? https : http;
    let res: Response;
    try {
      res = await new Promise<Response>((resolve, reject) => {
        const req = mod.request(
          {
            protocol: this.url.protocol,
            hostname: this.url.hostname,
            port: this.url.port || undefined,
            method: spec.method,
            path: qs ? `${path}?${qs}` : path,
            headers,
            agent: this.agent,
            servername: this.config.pathStyle ? undefined : host.replace(/:\d+$/, ''),
          },
          (r) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
            r.on('error', reject);
          },
        );
        req.setTimeout(this.config.requestTimeoutMs ?? 60_000, () => req.destroy(Object.assign(new Error(`${what}: no answer within ${this.config.requestTimeoutMs ?? 60_000} ms`), { code: 'ETIMEDOUT' })));
        req.on('error', reject);
        req.end(spec.body);
      });
    } catch (e) {
      if (isTransientNetworkError(e)) {
        throw new StoreError(`${what}: cannot reach the object store at ${this.config.endpoint}: ${(e as Error).message} (transient, retrying)`, true, undefined, (e as { code?: string }).code, { cause: e });
      }
      throw new StoreError(`${what}: request to ${this.config.endpoint} failed: ${(e as Error).message}`, false, undefined, undefined, { cause: e });
    }
    if ((res.status >= 200 && res.status < 300) || spec.accept?.includes(res.status)) return res;
    const xml = res.body.toString('utf8');
    const code = text(xml, 'Code') ?? (spec.method === 'HEAD' && res.status === 403 ? 'AccessDenied' : spec.method === 'HEAD' && res.status === 404 ? 'NotFound' : undefined);
    const err = classifyStatus(res.status, code, what, bucket, this.config.endpoint);
    const detail = text(xml, 'Message');
    if (detail && !err.transient) err.message += ` (store says: ${detail})`;
    throw err;
  }

  /** send() with retries of transient failures (exponential backoff, full jitter). */
  async call(spec: RequestSpec, what: string): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send(spec, what);
      } catch (e) {
        if (!(e instanceof StoreError) || !e.transient || attempt + 1 >= this.retry.attempts) {
          if (e instanceof StoreError && e.transient) {
            throw new StoreError(`${e.message.replace(/ \(transient, retrying\)$/, '')}; gave up after ${attempt + 1} attempts`, true, e.status, e.code, { cause: e });
          }
          throw e;
        }
        const delay = backoffDelay(this.retry, attempt, this.random);
        this.deps.onRetry?.(what, attempt + 1, delay, e);
        await this.sleep(delay);
      }
    }
  }

  async createBucket(name: string): Promise<void> {
    await this.call({ method: 'PUT', bucket: name, accept: [409] }, `create bucket ${name}`);
  }

  async createMultipartUpload(key: string): Promise<string> {
    const r = await this.call(
      { method: 'POST', key, query: [['uploads', '']], headers: { 'x-amz-checksum-algorithm': 'SHA256', 'content-type': 'application/octet-stream' } },
      `start the upload of ${key}`,
    );
    const id = text(r.body.toString('utf8'), 'UploadId');
    if (!id) throw new StoreError(`start the upload of ${key}: the store's answer has no UploadId`, false);
    return id;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, checksumSha256: string): Promise<string> {
    const bodySha256Hex = Buffer.from(checksumSha256, 'base64').toString('hex');
    const r = await this.call(
      {
        method: 'PUT',
        key,
        query: [
          ['partNumber', String(partNumber)],
          ['uploadId', uploadId],
        ],
        headers: { 'x-amz-checksum-sha256': checksumSha256 },
        body,
        bodySha256Hex,
      },
      `upload part ${partNumber} of ${key}`,
    );
    const etag = r.headers.etag;
    if (typeof etag !== 'string') throw new StoreError(`upload part ${partNumber} of ${key}: the store's answer has no ETag`, false);
    return etag;
  }

  /** Every part the store holds for an upload; undefined when the upload is gone (NoSuchUpload). */
  async listParts(key: string, uploadId: string): Promise<PartInfo[] | undefined> {
    const out: PartInfo[] = [];
    let marker = '0';
    for (;;) {
      let r: Response;
      try {
        r = await this.call(
          {
            method: 'GET',
            key,
            query: [
              ['uploadId', uploadId],
              ['part-number-marker', marker],
              ['max-parts', '1000'],
            ],
          },
          `list the uploaded parts of ${key}`,
        );
      } catch (e) {
        if (e instanceof StoreError && (e.code === 'NoSuchUpload' || e.status === 404)) return undefined;
        throw e;
      }
      const xml = r.body.toString('utf8');
      for (const p of elements(xml, 'Part')) {
        const cs = text(p, 'ChecksumSHA256');
        out.push({
          partNumber: Number(text(p, 'PartNumber')),
          size: Number(text(p, 'Size')),
          etag: text(p, 'ETag') ?? '',
          ...(cs ? { checksumSha256: cs } : {}),
        });
      }
      if (text(xml, 'IsTruncated') !== 'true') return out;
      marker = text(xml, 'NextPartNumberMarker') ?? String(out[out.length - 1]?.partNumber ?? 0);
    }
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: readonly PartInfo[]): Promise<void> {
    const body = Buffer.from(
      `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts
        .map(
          (p) =>
            `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(p.etag)}</ETag>${p.checksumSha256 ? `<ChecksumSHA256>${p.checksumSha256}</ChecksumSHA256>` : ''}</Part>`,
        )
        .join('')}</CompleteMultipartUpload>`,
    );
    const r = await this.call({ method: 'POST', key, query: [['uploadId', uploadId]], body, headers: { 'content-type': 'application/xml' } }, `complete the upload of ${key}`);
    // S3 can answer 200 with an error document once the response has started.
    const code = text(r.body.toString('utf8'), 'Code');
    if (code) throw classifyStatus(500, code, `complete the upload of ${key}`, this.config.bucket, this.config.endpoint);
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.call({ method: 'DELETE', key, query: [['uploadId', uploadId]], accept: [404] }, `abort the upload of ${key}`);
  }

  async putObject(key: string, body: Buffer, checksumSha256: string): Promise<string> {
    const bodySha256Hex = Buffer.from(checksumSha256, 'base64').toString('hex');
    const r = await this.call({ method: 'PUT', key, body, bodySha256Hex, headers: { 'x-amz-checksum-sha256': checksumSha256 } }, `upload ${key}`);
    return typeof r.headers.etag === 'string' ? r.headers.etag : '';
  }

  async headObject(key: string): Promise<ObjectHead | undefined> {
    const r = await this.call({ method: 'HEAD', key, headers: { 'x-amz-checksum-mode': 'ENABLED' }, accept: [404] }, `look up ${key}`);
    if (r.status === 404) return undefined;
    const cs = r.headers['x-amz-checksum-sha256'];
    return {
      size: Number(r.headers['content-length']),
      etag: typeof r.headers.etag === 'string' ? r.headers.etag : '',
      ...(typeof cs === 'string' ? { checksumSha256: cs } : {}),
    };
  }

  /** The object's bytes [start, end] (inclusive, as HTTP Range), or all of it. */
  async getObject(key: string, range?: { start: number; end: number }, ifMatch?: string): Promise<Buffer> {
    const headers: Record<string, string> = {};
    if (range) headers.range = `bytes=${range.start}-${range.end}`;
    if (ifMatch) headers['if-match'] = ifMatch;
    const r = await this.call({ method: 'GET', key, headers }, `read ${key}`);
    return r.body;
  }

  async listObjects(prefix: string): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    for (;;) {
      const query: [string, string][] = [
        ['list-type', '2'],
        ['prefix', prefix],
      ];
      if (token) query.push(['continuation-token', token]);
      const r = await this.call({ method: 'GET', query }, `list ${prefix}`);
      const xml = r.body.toString('utf8');
      for (const c of elements(xml, 'Contents')) out.push({ key: text(c, 'Key') ?? '', size: Number(text(c, 'Size')) });
      token = text(xml, 'NextContinuationToken');
      if (text(xml, 'IsTruncated') !== 'true' || !token) return out;
    }
  }

  /** Deletes the keys (batches of 1000); returns how many the store confirmed. */
  async deleteObjects(keys: readonly string[]): Promise<number> {
    let done = 0;
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const body = Buffer.from(`<Delete><Quiet>true</Quiet>${batch.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('')}</Delete>`);
      const md5 = createHash('md5').update(body).digest('base64');
      const r = await this.call({ method: 'POST', query: [['delete', '']], body, headers: { 'content-md5': md5, 'content-type': 'application/xml' } }, `delete ${batch.length} objects`);
      const errors = elements(r.body.toString('utf8'), 'Error');
      if (errors.length > 0) {
        throw new StoreError(`delete: the store could not delete ${errors.length} of ${batch.length} objects (first: ${text(errors[0] ?? '', 'Key')}: ${text(errors[0] ?? '', 'Code')})`, false);
      }
      done += batch.length;
    }
    return done;
  }
}
