import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { uploadedCondition, type FileUpload } from './status.js';

const f = (file: string, state: FileUpload['state'], extra: Partial<FileUpload> = {}): FileUpload => ({ node: 'node-a', target: 'pod.shop.web-0', file, state, ...extra });

describe('Uploaded condition', () => {
  it('is absent without a store', () => {
    assert.equal(uploadedCondition({ hasStore: false, finished: true, files: [f('a', 'Uploaded')] }), undefined);
  });
  it('is True only when the capture finished and every file is uploaded', () => {
    assert.deepEqual(uploadedCondition({ hasStore: true, finished: true, files: [f('a', 'Uploaded'), f('b', 'Uploaded')] }), {
      type: 'Uploaded',
      status: 'True',
      reason: 'AllUploaded',
      message: '2 of 2 files uploaded',
    });
    assert.equal(uploadedCondition({ hasStore: true, finished: false, files: [f('a', 'Uploaded')] })?.reason, 'Uploading');
    assert.equal(uploadedCondition({ hasStore: true, finished: true, files: [f('a', 'Uploaded'), f('b', 'Pending')] })?.message, '1 of 2 files uploaded');
  });
  it('names the first terminal failure with its message, before transient ones', () => {
    const c = uploadedCondition({
      hasStore: true,
      finished: true,
      files: [f('a', 'Failed', { reason: 'StoreUnavailable', message: 'connect ECONNREFUSED' }), f('b', 'Failed', { reason: 'UploadFailed', message: 'bucket "x" does not exist' })],
    });
    assert.equal(c?.reason, 'UploadFailed');
    assert.match(c?.message ?? '', /0 of 2 files uploaded; 1 failed: node-a\/pod.shop.web-0\/b: bucket "x" does not exist/);
    assert.equal(uploadedCondition({ hasStore: true, finished: true, files: [f('a', 'Failed', { reason: 'StoreUnavailable', message: 'ECONNREFUSED' })] })?.reason, 'StoreUnavailable');
  });
  it('says plainly when files were lost with a node', () => {
    const c = uploadedCondition({ hasStore: true, finished: true, files: [f('a', 'Uploaded'), f('b', 'Pending')], goneNodes: ['node-a'] });
    assert.equal(c?.reason, 'NodeGone');
    assert.match(c?.message ?? '', /1 file\(s\) were on node\(s\) that left the cluster before their upload and are lost: node-a\/pod.shop.web-0\/b/);
  });
});
