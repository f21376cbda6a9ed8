import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { PacketCapture } from '../api/packetcapture.js';
import type { PreparedCapture } from '../capture/backend.js';
import { uploadedFor } from '../controller/stores.js';
import { FakeClock } from '../k8s/clock.js';
import { DIRECTORY_METADATA_FILE } from '../pcap/metadata.js';
import type { UploadOptions, UploadResult } from '../storage/uploader.js';
import { silentLogger } from '../telemetry/log.js';
import type { AgentContext } from './context.js';
import { newCaptureState, observe, statusOf } from './state.js';
import { ringFileClosed, ringMayReuse, targetEnded, uploadReported } from './store-hooks.js';
import { cacheResolver, type StoreObject } from './stores.js';
import { UploadQueue } from './uploads.js';

const root = mkdtempSync(join(tmpdir(), 'store-hooks-'));
after(() => rmSync(root, { recursive: true, force: true }));

const STORE: StoreObject = {
  metadata: { name: 's' },
  spec: { s3: { endpoint: 'http://127.0.0.1:1', bucket: 'b', prefix: 'p', pathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'k' } } },
};
const TARGET = 'pod/ns/web';

/** Bounded poll (real time, 5 s at most) until `ok()`. */
async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

/** The agent context pieces the store hooks use; uploads "succeed" when `release` says so. */
function setup(dirName: string) {
  const targetDir = join(root, dirName);
  mkdirSync(targetDir, { recursive: true });
  const pc: PacketCapture = { apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name: 'c', namespace: 'ns', uid: 'u1', generation: 1 }, spec: { store: 's' } } as unknown as PacketCapture;
  const st = newCaptureState(pc, 'n1');
  observe(st, TARGET, { phase: 'Running', files: [{ name: 'web.pcap0', size: 100 }] });
  const blocked = new Set<string>();
  const uploaded: string[] = [];
  const ctx = {
    config: { nodeName: 'n1' },
    captures: new Map([['ns/c', pc]]),
    states: new Map([['ns/c', st]]),
    stores: cacheResolver(() => [STORE]),
    status: { markDirty: () => undefined },
  } as unknown as AgentContext & { uploads: UploadQueue };
  ctx.uploads = new UploadQueue({
    concurrency: 2,
    clock: new FakeClock(),
    resolver: cacheResolver(() => [STORE]),
    credentials: () => Promise.resolve({ accessKeyId: 'a', secretAccessKey: 'k' }),
    report: (j, u) => uploadReported(ctx, j, u),
    log: silentLogger,
    upload: async (_c, o: UploadOptions): Promise<UploadResult> => {
      await until(`${o.file} released`, () => !blocked.has(o.file));
      uploaded.push(o.key);
      return { key: o.key, size: 100, checksumSha256: 'x', parts: 1, partsSent: 1, partsResumed: 0, verified: true };
    },
  });
  const prep = {
    request: { captureNamespace: 'ns', captureName: 'c', target: { kind: 'pod', namespace: 'ns', pod: 'web' } },
    paths: { targetDir, fileBase: 'web.pcap' },
  } as unknown as PreparedCapture;
  return { ctx, st, pc, prep, targetDir, blocked, uploaded };
}

describe('store hooks: the capture path meets the upload queue', () => {
  it('the metadata sidecar is in status with its upload state, and Uploaded is true only once it is in the store', async () => {
    const { ctx, st, pc, prep, targetDir, blocked } = setup('sidecar');
    writeFileSync(join(targetDir, 'web.pcap0'), 'x'.repeat(100));
    writeFileSync(join(targetDir, DIRECTORY_METADATA_FILE), '{}');
    const sidecar = join(targetDir, DIRECTORY_METADATA_FILE);
    blocked.add(sidecar);
    ringFileClosed(ctx, prep, { name: 'web.pcap0', size: 100, closed: true });
    observe(st, TARGET, { phase: 'Finished' });
    targetEnded(ctx, prep);
    const files = () => statusOf(st, 'n1').targets?.[0]?.files ?? [];
    const upload = (n: string) => files().find((f) => f.name === n)?.upload?.state;
    await until('the ring file uploaded', () => upload('web.pcap0') === 'Uploaded');
    assert.ok(upload(DIRECTORY_METADATA_FILE) !== undefined, 'the sidecar is listed in status.targets[].files[]');
    assert.notEqual(upload(DIRECTORY_METADATA_FILE), 'Uploaded');
    const cond = (): string => {
      const c = uploadedFor({ ...pc, status: { ...statusOf(st, 'n1'), targets: (statusOf(st, 'n1').targets ?? []).map((t) => ({ ...t, node: 'n1' })) } }, true, true, () => true, new Date(0).toISOString());
      return `${c?.status}/${c?.reason}/${c?.message}`;
    };
    assert.equal(cond(), 'False/Uploading/1 of 2 files uploaded', 'the capture is not Uploaded while its sidecar waits');
    blocked.delete(sidecar);
    await until('the sidecar uploaded', () => upload(DIRECTORY_METADATA_FILE) === 'Uploaded');
    assert.equal(existsSync(sidecar), false, 'local copy removed after verification');
    assert.equal(cond(), 'True/AllUploaded/2 of 2 files uploaded');
  });

  it('a reused ring slot is a new file: uploaded again, and not reusable until that upload is verified', async () => {
    const { ctx, prep, targetDir, blocked, uploaded } = setup('reuse');
    const path = join(targetDir, 'web.pcap0');
    writeFileSync(path, 'first');
    ringFileClosed(ctx, prep, { name: 'web.pcap0', size: 5, closed: true });
    await until('first upload', () => ctx.uploads.isUploaded(path));
    assert.equal(ringMayReuse(ctx, prep, 'web.pcap0'), true);
    // the ring reuses the slot: a new file under the same name, closed later
    writeFileSync(path, 'second');
    blocked.add(path);
    ringFileClosed(ctx, prep, { name: 'web.pcap0', size: 6, closed: true });
    assert.equal(ringMayReuse(ctx, prep, 'web.pcap0'), false, 'the new file is not in the store yet');
    blocked.delete(path);
    await until('second upload', () => uploaded.length === 2);
    await until('second upload verified', () => ctx.uploads.isUploaded(path));
    assert.equal(existsSync(path), false);
  });
});
