import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PacketCapture } from '../api/packetcapture.js';
import { watchCaptures, type CaptureEventType } from './follow.js';
import type { KubeClient, WatchEvent } from './kube.js';

const pc = (name: string, rv: string): PacketCapture => ({ apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { name, namespace: 'ns', resourceVersion: rv }, spec: {} });

describe('watchCaptures', () => {
  it('lists, follows the watch, and after 410 Gone relists and reports the differences', async () => {
    const lists = [
      { items: [pc('a', '1')], resourceVersion: '10' },
      { items: [pc('c', '20'), pc('a', '13')], resourceVersion: '21' },
    ];
    const watches: string[] = [];
    const ac = new AbortController();
    const script: WatchEvent<PacketCapture>[][] = [
      [
        { type: 'MODIFIED', object: pc('a', '11') },
        { type: 'BOOKMARK', object: pc('', '11') },
        { type: 'ADDED', object: pc('b', '12') },
        { type: 'ERROR', object: { code: 410, message: 'too old' } as unknown as PacketCapture },
      ],
      [{ type: 'DELETED', object: pc('c', '22') }],
    ];
    const client = {
      listCaptures: () => Promise.resolve(lists.shift() ?? assert.fail('listed too often')),
      watch: (path: string, onEvent: (ev: WatchEvent<PacketCapture>) => boolean | void): Promise<void> => {
        watches.push(path);
        const evs = script.shift();
        if (!evs) {
          ac.abort();
          return Promise.reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        }
        for (const ev of evs) if (onEvent(ev) === true) break;
        return Promise.resolve();
      },
    } as unknown as KubeClient;
    const seen: string[] = [];
    let listed = -1;
    await watchCaptures(client, 'ns', undefined, (t: CaptureEventType, p) => seen.push(`${t} ${p.metadata.name ?? ''}@${p.metadata.resourceVersion ?? ''}`), ac.signal, (n) => (listed = n));
    assert.equal(listed, 1);
    assert.deepEqual(seen, ['ADDED a@1', 'MODIFIED a@11', 'ADDED b@12', 'MODIFIED a@13', 'ADDED c@20', 'DELETED b@12', 'DELETED c@22']);
    assert.match(watches[0] ?? '', /[?&]watch=1&resourceVersion=10&/);
    assert.match(watches[1] ?? '', /resourceVersion=21&/);
    assert.match(watches[2] ?? '', /resourceVersion=22&/);
  });
});
