import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { FakeClock } from './clock.js';
import { KubeApiError, KubeClient, type RequestOptions, type WatchEvent } from './client.js';
import { Informer } from './informer.js';

type Obj = { metadata: { name: string; resourceVersion: string } };
const o = (name: string, rv: string): Obj => ({ metadata: { name, resourceVersion: rv } });

/** A KubeClient whose list and watch answers are scripted by the test (no network). */
class ScriptedClient extends KubeClient {
  lists: (() => { items: Obj[]; rv: string } | Error)[] = [];
  watches: ((emit: (ev: WatchEvent<Obj>) => void) => Promise<void>)[] = [];
  calls: string[] = [];
  constructor() {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    super(kc);
  }
  override request<T = unknown>(r: RequestOptions): Promise<T> {
    this.calls.push(`LIST ${String(r.query?.resourceVersion ?? '')}`);
    const next = this.lists.shift();
    if (!next) return new Promise(() => undefined); // hang: nothing scripted
    const v = next();
    if (v instanceof Error) return Promise.reject(v);
    return Promise.resolve({ metadata: { resourceVersion: v.rv }, items: v.items } as T);
  }
  override watch<T>(_path: string, q: RequestOptions['query'], onEvent: (ev: WatchEvent<T>) => void): Promise<void> {
    this.calls.push(`WATCH ${String(q?.resourceVersion ?? '')}`);
    const next = this.watches.shift();
    if (!next) return new Promise(() => undefined);
    return next(onEvent as unknown as (ev: WatchEvent<Obj>) => void);
  }
}

const tick = async (clock: FakeClock, ms = 0): Promise<void> => {
  for (let i = 0; i < 5; i++) await clock.advance(ms / 5);
};

test('informer: list then watch from its resourceVersion; normal end re-watches without re-listing', async () => {
  const c = new ScriptedClient();
  const clock = new FakeClock();
  c.lists.push(() => ({ items: [o('a', '1')], rv: '10' }));
  c.watches.push((emit) => {
    emit({ type: 'ADDED', object: o('b', '11') });
    emit({ type: 'BOOKMARK', object: o('', '15') });
    return Promise.resolve();
  });
  const inf = new Informer<Obj>({ kc: c, path: '/x', clock });
  const seen: string[] = [];
  inf.onChange((ch) => seen.push(`${ch.type} ${ch.key}`));
  inf.start();
  await tick(clock);
  assert.deepEqual(seen, ['ADDED a', 'ADDED b']);
  assert.deepEqual(c.calls, ['LIST ', 'WATCH 10', 'WATCH 15'], 'bookmark advances the resourceVersion; no re-list');
  void inf.stop();
});

test('informer: 410 Gone re-lists at once; other errors back off (capped) and re-list, never give up', async () => {
  const c = new ScriptedClient();
  const clock = new FakeClock();
  c.lists.push(() => ({ items: [o('a', '1'), o('b', '1')], rv: '10' }));
  c.watches.push(() => Promise.reject(new KubeApiError({ status: 410, message: 'too old', method: 'WATCH', path: '/x' })));
  c.lists.push(() => ({ items: [o('a', '2')], rv: '20' })); // b was deleted meanwhile
  c.watches.push(() => Promise.reject(new KubeApiError({ status: 500, message: 'boom', method: 'WATCH', path: '/x' })));
  c.lists.push(() => new KubeApiError({ status: 403, message: 'forbidden', method: 'GET', path: '/x' }));
  c.lists.push(() => new KubeApiError({ status: 0, message: 'ECONNREFUSED', method: 'GET', path: '/x' }));
  c.lists.push(() => ({ items: [o('a', '3'), o('c', '1')], rv: '30' }));
  const inf = new Informer<Obj>({ kc: c, path: '/x', clock, backoff: { initialMs: 100, maxMs: 150 } });
  const seen: string[] = [];
  const errors: number[] = [];
  inf.onChange((ch) => seen.push(`${ch.type} ${ch.key}`));
  inf.onError((e) => errors.push(e instanceof KubeApiError ? e.status : -1));
  inf.start();
  await tick(clock);
  assert.deepEqual(c.calls.slice(0, 3), ['LIST ', 'WATCH 10', 'LIST '], '410: immediate re-list');
  assert.ok(seen.includes('DELETED b'), 're-list diff reports deletions');
  assert.equal(c.calls.length, 4, 'after the 500 it waits (backoff)');
  await tick(clock, 200);
  await tick(clock, 200);
  await tick(clock, 200);
  assert.deepEqual(errors, [410, 500, 403, 0]);
  assert.deepEqual(c.calls, ['LIST ', 'WATCH 10', 'LIST ', 'WATCH 20', 'LIST ', 'LIST ', 'LIST ', 'WATCH 30']);
  assert.ok(inf.get('c'));
  assert.equal(inf.get('a')?.metadata.resourceVersion, '3');
  assert.equal(inf.stats.errors, 4);
  void inf.stop();
});
