// The capture's `Uploaded` condition from the upload state of its files (pure; docs/storage.md
// section 4). The agent reports each file's state; the controller aggregates with this.

export type UploadState = 'Pending' | 'Uploading' | 'Uploaded' | 'Failed';

export interface FileUpload {
  readonly node: string;
  readonly target: string;
  readonly file: string;
  readonly state: UploadState;
  /** For Failed: `UploadFailed` (terminal: fix the store or credentials) or `StoreUnavailable` (retrying). */
  readonly reason?: string;
  readonly message?: string;
}

export interface UploadedCondition {
  readonly type: 'Uploaded';
  readonly status: 'True' | 'False';
  readonly reason: 'AllUploaded' | 'Uploading' | 'UploadFailed' | 'StoreUnavailable' | 'NodeGone';
  readonly message: string;
}

export interface CaptureUploadView {
  /** The capture names a store (no store: no condition). */
  readonly hasStore: boolean;
  /** Every target has ended (no more files will appear). */
  readonly finished: boolean;
  readonly files: readonly FileUpload[];
  /** Nodes that left the cluster while holding files not uploaded. */
  readonly goneNodes?: readonly string[];
}

const where = (f: FileUpload) => `${f.node}/${f.target}/${f.file}`;

export function uploadedCondition(v: CaptureUploadView): UploadedCondition | undefined {
  if (!v.hasStore) return undefined;
  const done = v.files.filter((f) => f.state === 'Uploaded').length;
  const total = v.files.length;
  const progress = `${done} of ${total} file${total === 1 ? '' : 's'} uploaded`;
  const lostOn = v.files.filter((f) => f.state !== 'Uploaded' && v.goneNodes?.includes(f.node));
  if (lostOn.length > 0) {
    return {
      type: 'Uploaded',
      status: 'False',
      reason: 'NodeGone',
      message: `${progress}; ${lostOn.length} file(s) were on node(s) that left the cluster before their upload and are lost: ${lostOn.slice(0, 5).map(where).join(', ')}${lostOn.length > 5 ? ', …' : ''}`,
    };
  }
  const terminal = v.files.filter((f) => f.state === 'Failed' && f.reason !== 'StoreUnavailable');
  if (terminal.length > 0) {
    const first = terminal[0]!;
    return {
      type: 'Uploaded',
      status: 'False',
      reason: 'UploadFailed',
      message: `${progress}; ${terminal.length} failed: ${where(first)}: ${first.message ?? first.reason ?? 'upload failed'}`,
    };
  }
  const retrying = v.files.filter((f) => f.state === 'Failed');
  if (retrying.length > 0) {
    const first = retrying[0]!;
    return {
      type: 'Uploaded',
      status: 'False',
      reason: 'StoreUnavailable',
      message: `${progress}; the store is unavailable, retrying: ${first.message ?? 'no answer'}`,
    };
  }
  if (!v.finished || done < total) {
    return { type: 'Uploaded', status: 'False', reason: 'Uploading', message: v.finished ? progress : `${progress} (capture still running)` };
  }
  return { type: 'Uploaded', status: 'True', reason: 'AllUploaded', message: progress };
}
