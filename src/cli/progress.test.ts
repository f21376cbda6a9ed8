import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PacketCapture, TargetStatus } from '../api/packetcapture.js';
import { progressChanges, renderFrame, secondsLeft, ProgressWriter } from './progress.js';

const ESC = String.fromCharCode(27);
const base = (targets: TargetStatus[], progress?: 'scheduled' | 'running' | 'finished' | 'failure'): PacketCapture => ({
  apiVersion: 'pcapper.dev/v1alpha1',
  kind: 'PacketCapture',
  metadata: { name: 'c', namespace: 'ns' },
  spec: { targetPod: 'p', captureSeconds: '10s' },
  status: { progress, startTime: '2026-11-22T02:00:00Z', targets, targetsTotal: targets.length, packets: 7, bytes: 2000 },
});
const t = (phase: TargetStatus['phase'], extra: Partial<TargetStatus> = {}): TargetStatus => ({ name: 'pod/ns/p', kind: 'pod', namespace: 'ns', pod: 'p', node: 'n1', phase, ...extra });

describe('progress', () => {
  it('seconds left from startTime and duration', () => {
    assert.equal(secondsLeft(base([]), new Date('2026-11-22T02:00:04Z')), 6);
    assert.equal(secondsLeft(base([]), new Date('2026-11-22T02:01:00Z')), 0);
  });
  it('frame: header and per-target table, cut to the terminal width', () => {
    const f = renderFrame(base([t('Running', { packets: 7, bytes: 2000, drops: 1 })], 'running'), new Date('2026-11-22T02:00:04Z'));
    assert.equal(f[0], 'capture ns/c: running  1 target(s)  7 packets  2.0 kB  0 drops  6s left');
    assert.match(f[1] ?? '', /TARGET\s+NODE\s+STATE\s+PACKETS\s+BYTES\s+DROPS/);
    assert.match(f[2] ?? '', /ns\/p\s+n1\s+Running\s+7\s+2\.0 kB\s+1/);
    assert.ok(renderFrame(base([t('Running')]), new Date(), 20).every((l) => l.length < 20));
    assert.match(renderFrame(base([]), new Date()).join('\n'), /waiting for the controller/);
  });
  it('plain lines only on phase changes', () => {
    const a = base([t('Scheduled')], 'scheduled');
    const b = base([t('Running', { packets: 3 })], 'running');
    const b2 = base([t('Running', { packets: 9 })], 'running');
    const c = base([t('Finished', { packets: 9, bytes: 900, reason: 'DurationReached' })], 'finished');
    assert.deepEqual(progressChanges(undefined, a), ['ns/p on n1: Scheduled', 'capture ns/c: scheduled']);
    assert.deepEqual(progressChanges(a, b), ['ns/p on n1: Running 3 packets, 0 B, 0 drops', 'capture ns/c: running']);
    assert.deepEqual(progressChanges(b, b2), []);
    assert.deepEqual(progressChanges(b2, c), ['ns/p on n1: Finished 9 packets, 900 B, 0 drops (DurationReached)', 'capture ns/c: finished (7 packets, 2.0 kB, 0 drops)']);
  });
  it('writer redraws in place on a TTY', () => {
    let out = '';
    const w = new ProgressWriter({ write: (s: string) => (out += s), isTTY: true, columns: 100 });
    w.update(base([t('Running')], 'running'));
    w.update(base([t('Finished')], 'finished'));
    assert.ok(out.includes(`${ESC}[3A\r${ESC}[J`)); // moved up over the 3 lines of the first frame
    let zero = '';
    new ProgressWriter({ write: (s: string) => (zero += s), isTTY: true, columns: 0 }).update(base([t('Running')], 'running'));
    assert.match(zero, /capture ns\/c: running/, 'a pty without a window size (0 columns) still shows whole lines');
    let plain = '';
    const p = new ProgressWriter({ write: (s: string) => (plain += s) });
    p.update(base([t('Running')], 'running'));
    assert.ok(!plain.includes(ESC));
  });
});
