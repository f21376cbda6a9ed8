// The store parts of the CLI, pure: which stores `init` offers, `--store` in the spec, `describe`'s upload view.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PacketCapture } from '../../api/packetcapture.js';
import { describeCapture } from '../printers.js';
import { buildPacketCapture, TargetError } from '../target.js';
import { storesFor } from './init.js';

const store = (name: string, allowed: { names?: string[]; selector?: { matchLabels?: Record<string, string> } } | undefined, extra: { default?: boolean; ready?: [string, string] } = {}) => ({
  metadata: { name },
  spec: { default: extra.default, s3: { endpoint: `https://${name}.example`, bucket: 'b' }, ...(allowed ? { allowedNamespaces: allowed } : {}) },
  ...(extra.ready ? { status: { conditions: [{ type: 'Ready', status: extra.ready[0], reason: extra.ready[1] }] } } : {}),
});

describe('kubectl pcap init: stores offered for a namespace', () => {
  const all = [store('by-name', { names: ['shop'] }), store('by-label', { selector: { matchLabels: { team: 'a' } } }), store('other', { names: ['x'] }), store('admin-only', undefined, { default: true, ready: ['False', 'NoSuchBucket'] })];
  it('offers stores naming the namespace or matching its labels', () => {
    assert.deepEqual(storesFor(all, 'shop', { team: 'a' }).map((s) => s.name), ['by-label', 'by-name']);
    assert.deepEqual(storesFor(all, 'shop', { team: 'b' }).map((s) => s.name), ['by-name']);
  });
  it('labels unreadable: stores with a selector are offered (the controller decides)', () => {
    assert.deepEqual(storesFor(all, 'shop', undefined).map((s) => s.name), ['by-label', 'by-name']);
  });
  it('the system namespace may use every store; readiness is shown', () => {
    const s = storesFor(all, 'pcapper', {});
    assert.equal(s.length, 4);
    assert.deepEqual(s.find((x) => x.name === 'admin-only'), { name: 'admin-only', default: true, endpoint: 'https://admin-only.example', bucket: 'b', ready: 'not ready: NoSuchBucket' });
  });
});

describe('--store', () => {
  it('goes into spec.store', () => {
    const pc = buildPacketCapture({ kind: 'pod', name: 'web' }, { namespace: 'shop', store: 'team-s3', name: 'c1' });
    assert.equal(pc.spec.store, 'team-s3');
  });
  it('a bad store name is refused with the fix', () => {
    assert.throws(() => buildPacketCapture({ kind: 'pod', name: 'web' }, { namespace: 'shop', store: 'Team_S3', name: 'c1' }), (e: unknown) => e instanceof TargetError && /invalid --store "Team_S3".*kubectl get pcapstore/.test(e.message));
  });
});

describe('kubectl pcap describe: store and uploads', () => {
  it('shows the store, the Uploaded condition and each file\'s upload state', () => {
    const pc: PacketCapture = {
      apiVersion: 'pcapper.dev/v1alpha1',
      kind: 'PacketCapture',
      metadata: { name: 'c1', namespace: 'shop', creationTimestamp: '2026-11-27T10:00:00Z' },
      spec: { targetPod: 'web', store: 'team-s3' },
      status: {
        progress: 'finished',
        targets: [
          {
            name: 'pod/shop/web',
            kind: 'pod',
            namespace: 'shop',
            pod: 'web',
            node: 'n1',
            phase: 'Finished',
            files: [
              { name: 'web.pcap0', size: 10, upload: { state: 'Uploaded', parts: 1, partsDone: 1 } },
              { name: 'web.pcap1', size: 10, upload: { state: 'Failed', reason: 'UploadFailed', message: 'bucket "b" does not exist' } },
            ],
          },
        ],
        conditions: [{ type: 'Uploaded', status: 'False', reason: 'UploadFailed', message: '1 of 2 files uploaded; 1 failed' }],
      },
    };
    const text = describeCapture(pc, [], new Date('2026-11-27T10:05:00Z'));
    assert.match(text, /Store:\s+team-s3/);
    assert.match(text, /Uploads \(UploadFailed: 1 of 2 files uploaded; 1 failed\):/);
    assert.match(text, /web\.pcap0\s+Uploaded\s+1\/1/);
    assert.match(text, /web\.pcap1\s+Failed\s+UploadFailed\s+bucket "b" does not exist/);
  });
});
