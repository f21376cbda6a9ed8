import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DEFAULT_MAX_UPLOAD, parseMaxUpload, receiveUpload, uploadName, UploadError } from './upload.js';
import { findOnPath, openBrowser } from './open-browser.js';

describe('uploads', () => {
  it('--max-upload: sizes as the CLI parses them, a clear error otherwise', () => {
    assert.equal(parseMaxUpload(undefined), DEFAULT_MAX_UPLOAD);
    assert.equal(parseMaxUpload('2G'), 2_000_000_000);
    assert.equal(parseMaxUpload('1Gi'), 1024 ** 3);
    assert.throws(() => parseMaxUpload('lots'), /--max-upload "lots": give a size such as 512M/);
  });
  it('the browser\'s file name becomes a safe base name', () => {
    assert.equal(uploadName(encodeURIComponent('my capture (1).pcapng')), 'my_capture_1_.pcapng');
    assert.equal(uploadName('..%2F..%2Fetc%2Fpasswd'), 'passwd');
    assert.equal(uploadName('.hidden'), 'hidden');
    assert.equal(uploadName(undefined), 'upload.pcapng');
    assert.equal(uploadName('%E0%A4%A'), '_E0_A4_A', 'a malformed escape is kept, made safe');
  });
  it('stops at the limit while reading and leaves no file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upload-test-'));
    try {
      const dest = join(dir, 'x.pcap');
      await assert.rejects(receiveUpload(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), dest, 1000, undefined), (e: unknown) => e instanceof UploadError && e.status === 413);
      assert.deepEqual(readdirSync(dir), []);
      await assert.rejects(receiveUpload(Readable.from([]), dest, 1000, '2000'), (e: unknown) => e instanceof UploadError && e.status === 413);
      await assert.rejects(receiveUpload(Readable.from([]), dest, 1000, undefined), /the upload is empty/);
      await assert.rejects(receiveUpload(Readable.from([]), dest, 1000, 'abc'), (e: unknown) => e instanceof UploadError && e.status === 400);
      assert.deepEqual(readdirSync(dir), []);
      assert.equal(await receiveUpload(Readable.from([Buffer.alloc(10), Buffer.alloc(5)]), dest, 1000, '15'), 15);
      assert.deepEqual(readdirSync(dir), ['x.pcap']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('opening the browser', () => {
  it('finds xdg-open on PATH and spawns it with the URL as one argument (no shell)', () => {
    const seen: { file: string; args: readonly string[]; shell: unknown }[] = [];
    const spawn = (file: string, args: readonly string[], opts: { shell?: unknown }) => {
      seen.push({ file, args, shell: opts.shell });
      return { unref: () => undefined, once: () => undefined };
    };
    assert.equal(findOnPath('xdg-open', '/nope:/bin2', (p) => assert.equal(p, '/bin2/xdg-open')), '/bin2/xdg-open');
    assert.equal(findOnPath('xdg-open', '/a:/b', () => { throw new Error('ENOENT'); }), undefined);
    assert.equal(openBrowser('http://127.0.0.1:1/?token=a;b', { PATH: '' }, spawn), false);
    assert.deepEqual(seen, []);
    const dir = mkdtempSync(join(tmpdir(), 'xdg-test-'));
    try {
      writeFileSync(join(dir, 'xdg-open'), '', { mode: 0o755 });
      assert.equal(openBrowser('http://127.0.0.1:1/?token=a;b', { PATH: dir }, spawn), true);
      assert.deepEqual(seen, [{ file: join(dir, 'xdg-open'), args: ['http://127.0.0.1:1/?token=a;b'], shell: undefined }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
