import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../k8s/clock.js';
import { silentLogger } from '../telemetry/log.js';
import { TrustState, type TrustSnapshot } from './trust.js';

const PEM = (n: string): string => `-----BEGIN CERTIFICATE-----\n${n}\n-----END CERTIFICATE-----\n`;
const CM = (ca: string): Record<string, string> => ({ 'requestheader-client-ca-file': PEM(ca), 'requestheader-username-headers': '["X-Remote-User"]' });

/** A clock whose timers run only when the test fires them. */
function manualClock(): Clock & { fire(): void; pending: number } {
  let timers: (() => void)[] = [];
  return {
    now: () => 0,
    setTimer(fn) {
      timers.push(fn);
      return { cancel: () => (timers = timers.filter((t) => t !== fn)) };
    },
    fire() {
      const t = timers;
      timers = [];
      for (const f of t) f();
    },
    get pending() {
      return timers.length;
    },
  };
}

describe('TrustState', () => {
  it('loads files and ConfigMap, reports changes only, keeps the last good state on errors', async () => {
    const files: Record<string, string> = { '/c': 'cert1', '/k': 'key1', '/ca': 'ca1' };
    let cm: Record<string, string> | Error = CM('fp1');
    const changes: TrustSnapshot[] = [];
    const clock = manualClock();
    const t = new TrustState(
      { certFile: '/c', keyFile: '/k', caFile: '/ca' },
      {
        readFile: (p) => (files[p] === undefined ? Promise.reject(new Error(`ENOENT ${p}`)) : Promise.resolve(Buffer.from(files[p]))),
        frontProxyConfigMap: () => (cm instanceof Error ? Promise.reject(cm) : Promise.resolve(cm)),
      },
      (s) => changes.push(s),
      silentLogger,
      clock,
      1000,
    );
    await t.refresh();
    assert.equal(changes.length, 1);
    assert.equal(t.current?.frontProxy?.caPem, PEM('fp1'));
    assert.equal(t.lastError, undefined);

    await t.refresh();
    assert.equal(changes.length, 1, 'nothing changed, no new context');

    cm = new Error('connection refused');
    files['/c'] = 'cert2';
    await t.refresh();
    assert.match(t.lastError ?? '', /front-proxy settings: connection refused/);
    assert.equal(changes.length, 2, 'the rotated certificate is installed even while the API is down');
    assert.equal(t.current?.cert.toString(), 'cert2');
    assert.equal(t.current?.frontProxy?.caPem, PEM('fp1'), 'the last good front-proxy CA stays');

    delete files['/k'];
    cm = CM('fp2');
    await t.refresh();
    assert.match(t.lastError ?? '', /cannot read the TLS files: ENOENT \/k/);
    assert.equal(t.current?.key.toString(), 'key1');
    assert.equal(t.current?.frontProxy?.caPem, PEM('fp2'));
    assert.equal(t.current?.generation, 3);
  });

  it('has no snapshot until the TLS files are readable; refreshes on its timer until stopped', async () => {
    const clock = manualClock();
    let reads = 0;
    const t = new TrustState(
      { certFile: '/c', keyFile: '/k', caFile: '/ca' },
      { readFile: () => (reads++, Promise.reject(new Error('ENOENT'))), frontProxyConfigMap: () => Promise.resolve(CM('x')) },
      () => undefined,
      silentLogger,
      clock,
      1000,
    );
    await t.refresh();
    assert.equal(t.current, undefined);
    t.start();
    assert.equal(clock.pending, 1);
    const before = reads;
    clock.fire();
    await new Promise((r) => setImmediate(r));
    assert.ok(reads > before);
    assert.equal(clock.pending, 1, 'the next refresh is scheduled');
    t.stop();
    assert.equal(clock.pending, 0);
  });
});
