import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { backoffDelay } from './client.js';
import { classifyStatus } from './errors.js';
import { capturePrefix, normalisePrefix, objectKey, ObjectKeyError, parseObjectKey } from './keys.js';
import { canonicalQuery, signRequest, uriEncode } from './sigv4.js';
import { checkHead, choosePartSize, compositeChecksum, MIN_PART_SIZE, UploadError } from './uploader.js';
import { decodeEntities, elements, text } from './xml.js';

describe('sigv4', () => {
  it('matches the AWS S3 documentation example (GET /test.txt with Range)', () => {
    const h = signRequest({
      method: 'GET',
      path: '/test.txt',
      query: [],
      headers: { Host: 'examplebucket.s3.amazonaws.com', Range: 'bytes=0-9' },
      payloadHash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      region: 'us-east-1',
      now: new Date('2013-05-24T00:00:00Z'),
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    });
    assert.equal(
      h.authorization,
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });
  it('encodes like RFC 3986 and sorts the query', () => {
    assert.equal(uriEncode('a b/ü~', true), 'a%20b/%C3%BC~');
    assert.equal(uriEncode('a/b'), 'a%2Fb');
    assert.equal(canonicalQuery([['uploadId', 'x y'], ['partNumber', '2'], ['uploads', '']]), 'partNumber=2&uploadId=x%20y&uploads=');
  });
});

describe('object keys', () => {
  const base = { prefix: '/captures/', namespace: 'shop', capture: 'web', node: 'node-a', target: 'pod.shop.web-0', file: 'node-a.web.1.pcap0' };
  it('lays out <prefix>/<namespace>/<capture>/<node>/<target>/<file>', () => {
    assert.equal(objectKey(base), 'captures/shop/web/node-a/pod.shop.web-0/node-a.web.1.pcap0');
    assert.equal(objectKey({ ...base, prefix: '' }), 'shop/web/node-a/pod.shop.web-0/node-a.web.1.pcap0');
    assert.equal(capturePrefix('a/b', 'shop', 'web'), 'a/b/shop/web/');
    assert.deepEqual(parseObjectKey('/captures', 'shop', 'web', objectKey(base)), { node: 'node-a', target: 'pod.shop.web-0', file: 'node-a.web.1.pcap0' });
    assert.equal(parseObjectKey('captures', 'shop', 'web', 'captures/shop/web-2/n/t/f'), undefined);
  });
  it('refuses segments that would change the layout', () => {
    assert.throws(() => objectKey({ ...base, target: '../x' }), ObjectKeyError);
    assert.throws(() => objectKey({ ...base, file: '' }), /must be a non-empty plain name/);
    assert.throws(() => normalisePrefix('a/../b'), /store prefix segment/);
  });
});

describe('uploads (pure parts)', () => {
  it('grows the part size so a file fits in 10,000 parts', () => {
    assert.equal(choosePartSize(1e9, MIN_PART_SIZE), MIN_PART_SIZE);
    assert.equal(choosePartSize(100e9, MIN_PART_SIZE), 10 * 1024 * 1024);
    assert.throws(() => choosePartSize(1, 1024), (e: unknown) => e instanceof UploadError && /5 MiB/.test(e.message));
  });
  it('computes S3 composite checksums', () => {
    const d = [Buffer.from('a'), Buffer.from('b')].map((b) => createHash('sha256').update(b).digest());
    assert.equal(compositeChecksum(d), `${createHash('sha256').update(Buffer.concat(d)).digest('base64')}-2`);
  });
  it('verifies size and checksum', () => {
    const exp = { size: 10, checksumSha256: 'abc-2' };
    assert.deepEqual(checkHead({ size: 10, etag: '', checksumSha256: 'abc-2' }, exp), { verified: true });
    assert.match(checkHead(undefined, exp).reason ?? '', /not in the store/);
    assert.match(checkHead({ size: 9, etag: '', checksumSha256: 'abc-2' }, exp).reason ?? '', /9 bytes, the local file 10/);
    assert.match(checkHead({ size: 10, etag: '' }, exp).reason ?? '', /no SHA-256 checksum/);
    assert.match(checkHead({ size: 10, etag: '', checksumSha256: 'abd-2' }, exp).reason ?? '', /differs/);
  });
  it('backs off exponentially with full jitter, capped', () => {
    const p = { attempts: 5, baseMs: 100, capMs: 1000 };
    assert.equal(backoffDelay(p, 0, () => 0.999), 99);
    assert.equal(backoffDelay(p, 3, () => 0.5), 400);
    assert.equal(backoffDelay(p, 10, () => 0.5), 500);
    assert.equal(backoffDelay(p, 2, () => 0), 0);
  });
  it('classifies store answers', () => {
    assert.equal(classifyStatus(503, 'SlowDown', 'x', 'b', 'e').transient, true);
    assert.equal(classifyStatus(500, undefined, 'x', 'b', 'e').transient, true);
    const nb = classifyStatus(404, 'NoSuchBucket', 'upload k', 'logs', 'https://s3');
    assert.equal(nb.transient, false);
    assert.match(nb.message, /bucket "logs" does not exist at https:\/\/s3: create it, or fix the bucket name/);
    assert.match(classifyStatus(403, 'InvalidAccessKeyId', 'x', 'b', 'e').message, /does not know the access key/);
    assert.match(classifyStatus(403, 'SignatureDoesNotMatch', 'x', 'b', 'e').message, /secret access key .* is wrong/);
    assert.match(classifyStatus(400, 'ExpiredToken', 'x', 'b', 'e').message, /expired/);
    assert.equal(classifyStatus(403, 'AccessDenied', 'x', 'b', 'e').transient, false);
  });
});

describe('S3 XML', () => {
  it('reads flat elements and entities', () => {
    const xml = '<ListBucketResult><Contents><Key>a&amp;b</Key><Size>3</Size></Contents><Contents><Key>c&#x2F;d</Key><Size>4</Size></Contents><IsTruncated>false</IsTruncated></ListBucketResult>';
    assert.deepEqual(elements(xml, 'Contents').map((c) => text(c, 'Key')), ['a&b', 'c/d']);
    assert.equal(text(xml, 'IsTruncated'), 'false');
    assert.equal(decodeEntities('&lt;&gt;&quot;&apos;&#65;'), `<>"'A`);
  });
});
