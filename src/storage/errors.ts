// Errors of the object store client: transient ones are retried with backoff; terminal ones stop
// the upload with a message that says what to fix. Pure classification.

/** A request the store refused or that could not be made; `transient` says whether retrying may help. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    message: string,
    readonly transient: boolean,
    readonly status?: number,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);

/** Connection-level failures (reset, refused, timeouts) are transient. */
export function isTransientNetworkError(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  const msg = e instanceof Error ? e.message : '';
  return /socket hang up|timed out|aborted/i.test(msg);
}

/** What an S3 error answer means for the caller. */
export function classifyStatus(status: number, code: string | undefined, what: string, bucket: string, endpoint: string): StoreError {
  const c = code ?? `HTTP ${status}`;
  if (status >= 500 || status === 429 || c === 'SlowDown' || c === 'RequestTimeout' || c === 'InternalError') {
    return new StoreError(`${what}: the object store answered ${status} ${c} (transient, retrying)`, true, status, code);
  }
  switch (c) {
    case 'NoSuchBucket':
      return new StoreError(
        `${what}: bucket "${bucket}" does not exist at ${endpoint}: create it, or fix the bucket name in the store's configuration`,
        false,
        status,
        code,
      );
    case 'InvalidAccessKeyId':
    case 'XAdminUserNotFound': // versitygw's answer (404) for an unknown access key
      return new StoreError(
        `${what}: the object store at ${endpoint} does not know the access key in the store's credentials Secret: fix accessKeyId`,
        false,
        status,
        code,
      );
    case 'SignatureDoesNotMatch':
      return new StoreError(
        `${what}: the object store at ${endpoint} rejected the signature: the secret access key in the store's credentials Secret is wrong (or the region is; check both)`,
        false,
        status,
        code,
      );
    case 'RequestTimeTooSkewed':
      return new StoreError(
        `${what}: the object store at ${endpoint} refused the request's time: this node's clock differs from the store's by more than 15 minutes; synchronise the node's clock (NTP)`,
        false,
        status,
        code,
      );
    case 'ExpiredToken':
    case 'TokenRefreshRequired':
      return new StoreError(`${what}: the store's credentials have expired: renew the session token in the credentials Secret`, false, status, code);
    case 'AccessDenied':
      return new StoreError(
        `${what}: access denied by the object store at ${endpoint}: the credentials may not write bucket "${bucket}" (grant s3:PutObject, s3:GetObject, s3:ListBucket, s3:DeleteObject, s3:AbortMultipartUpload, s3:ListMultipartUploadParts)`,
        false,
        status,
        code,
      );
    default:
      return new StoreError(`${what}: the object store answered ${status} ${c}`, false, status, code);
  }
}
