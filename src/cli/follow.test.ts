import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import type { PacketCapture } from '../api/packetcapture.js';
import { KubeApiError, KubeClient as SharedClient, type RequestOptions, type WatchEvent } from '../k8s/client.js';
import { followCapture, watchCaptures, type CaptureEventType } from './follow.js';
import { KubeClient } from './kube.js';

const pc = (name: string, rv: string, progress?: 'running' | 'finished'): PacketCapture => ({
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCapture',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  spec: {},
  ...(progress ? { status: { progress } } : {}),
});

/** The shared client with scripted GET/list and watch answers (no network); watches end on abort. */
class Scripted extends SharedClient {
  gets: (() => unknown)[] = [];
  watches: WatchEvent<PacketCapture>[][] = [];
  calls: string[] = [];
  constructor() {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    super(kc);
  }
  override request<T = unknown>(r: RequestOptions): Promise<T> {
    this.calls.push(`GET ${r.path}${r.query?.fieldSelector ? ` ${String(r.query.fieldSelector)}` : ''}`);
    const next = this.gets.shift();
    if (!next) return new Promise(() => undefined);
    try {
      return Promise.resolve(next() as T);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error('scripted'));
    }
  }
  override watch<T>(_path: string, q: RequestOptions['query'], onEvent: (ev: WatchEvent<T>) => void, signal?: AbortSignal): Promise<void> {
    this.calls.push(`WATCH rv=${String(q?.resourceVersion ?? '')}`);
    const evs = this.watches.shift();
    if (evs) {
      try {
        for (const ev of evs) onEvent(ev as unknown as WatchEvent<T>);
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error('scripted'));
      }
      return Promise.resolve();
    }
    // nothing more scripted: stay open until stopped
    return new Promise((resolve) => {
      if (signal?.aborted) resolve();
      else signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }
}

const list = (items: PacketCapture[], rv: string) => () => ({ metadata: { resourceVersion: rv }, items });
const cliClient = (s: Scripted): KubeClient => new KubeClient(s.kc, 'https://127.0.0.1:1', s);

describe('watchCaptures and followCapture on the shared informer', () => {
  it('lists, follows the watch, and after 410 Gone relists and reports the differences', async () => {
    const s = new Scripted();
    s.gets.push(list([pc('a', '1')], '10'), list([pc('c', '20'), pc('a', '13')], '21'));
    s.watches.push(
      [
        { type: 'MODIFIED', object: pc('a', '11') },
        { type: 'BOOKMARK', object: pc('', '11') },
        { type: 'ADDED', object: pc('b', '12') },
        { type: 'ERROR', object: { code: 410, message: 'too old' } as unknown as PacketCapture },
      ],
      [{ type: 'DELETED', object: pc('c', '22') }],
    );
    const ac = new AbortController();
    const seen: string[] = [];
    let listed = -1;
    await watchCaptures(
      cliClient(s),
      'ns',
      undefined,
      (t: CaptureEventType, p) => {
        seen.push(`${t} ${p.metadata.name ?? ''}@${p.metadata.resourceVersion ?? ''}`);
        if (t === 'DELETED' && p.metadata.name === 'c') ac.abort();
      },
      ac.signal,
      (n) => (listed = n),
    );
    assert.equal(listed, 1);
    assert.deepEqual(seen, ['ADDED a@1', 'MODIFIED a@11', 'ADDED b@12', 'ADDED c@20', 'MODIFIED a@13', 'DELETED b@12', 'DELETED c@22']);
    assert.deepEqual(s.calls.filter((c) => c.startsWith('WATCH')).slice(0, 2), ['WATCH rv=10', 'WATCH rv=21']);
  });

  it('an error that retrying cannot fix (403) ends the watch with one line; a missing name is "not found"', async () => {
    const s = new Scripted();
    s.gets.push(() => {
      throw new KubeApiError({ status: 403, reason: 'Forbidden', message: 'packetcaptures.pcapper.dev is forbidden: User "bob" cannot list', method: 'GET', path: '/x', body: { message: 'packetcaptures.pcapper.dev is forbidden: User "bob" cannot list', reason: 'Forbidden' } });
    });
    await assert.rejects(watchCaptures(cliClient(s), 'ns', undefined, () => undefined, new AbortController().signal), /^CliError: packetcaptures\.pcapper\.dev is forbidden: User "bob" cannot list$/);
    const t = new Scripted();
    t.gets.push(list([], '5'));
    await assert.rejects(watchCaptures(cliClient(t), 'ns', 'nope', () => undefined, new AbortController().signal), /packetcapture "nope" not found in namespace "ns"/);
    assert.equal(t.calls[0], 'GET /apis/pcapper.dev/v1alpha1/namespaces/ns/packetcaptures metadata.name=nope');
  });

  it('followCapture: GET, then the watch until finished; a deletion is reported', async () => {
    const s = new Scripted();
    s.gets.push(() => pc('x', '1', 'running'), list([pc('x', '1', 'running')], '1'));
    s.watches.push([{ type: 'MODIFIED', object: pc('x', '2', 'running') }, { type: 'MODIFIED', object: pc('x', '3', 'finished') }]);
    const seen: string[] = [];
    const last = await followCapture(cliClient(s), 'ns', 'x', (p) => seen.push(p.metadata.resourceVersion ?? ''), new AbortController().signal);
    assert.equal(last.status?.progress, 'finished');
    assert.deepEqual(seen, ['1', '2', '3'], 'the first list repeats rv 1 and is not reported twice');
    const d = new Scripted();
    d.gets.push(() => pc('x', '1', 'running'), list([pc('x', '1', 'running')], '1'));
    d.watches.push([{ type: 'DELETED', object: pc('x', '2', 'running') }]);
    await assert.rejects(followCapture(cliClient(d), 'ns', 'x', () => undefined, new AbortController().signal), /packetcapture "x" in namespace "ns" was deleted while it was being followed/);
  });
});
