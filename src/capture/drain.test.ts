import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK_MARGIN_MS, BLOCK_TIMEOUT_MS, DRAIN_MAX_MS, drainVerdict } from './drain.js';

const after = BLOCK_TIMEOUT_MS + BLOCK_MARGIN_MS;

describe('drainVerdict: when a stopping tcpdump has every accepted packet', () => {
  it('stops at once when tcpdump wrote every packet the kernel accepted', () => {
    assert.equal(drainVerdict({ elapsedMs: 0, immediate: false, stats: { captured: 5, received: 7, droppedByKernel: 2 }, idle: false }), 'stop');
    assert.equal(drainVerdict({ elapsedMs: 0, immediate: false, stats: { captured: 0, received: 0, droppedByKernel: 0 }, idle: undefined }), 'stop');
  });
  it('waits for the kernel block while packets are pending, even when tcpdump is idle (the block is not retired yet)', () => {
    assert.equal(drainVerdict({ elapsedMs: 10, immediate: false, stats: { captured: 0, received: 3, droppedByKernel: 0 }, idle: true }), 'wait');
    assert.equal(drainVerdict({ elapsedMs: after - 1, immediate: false, stats: { captured: 0, received: 3, droppedByKernel: 0 }, idle: true }), 'wait');
  });
  it('after the block timeout, stops once tcpdump is idle (loopback counted twice: counters never agree)', () => {
    assert.equal(drainVerdict({ elapsedMs: after, immediate: false, stats: { captured: 20, received: 40, droppedByKernel: 0 }, idle: true }), 'stop');
    assert.equal(drainVerdict({ elapsedMs: after, immediate: false, stats: { captured: 20, received: 40, droppedByKernel: 0 }, idle: false }), 'wait');
    assert.equal(drainVerdict({ elapsedMs: after, immediate: false, stats: { captured: 20, received: 40, droppedByKernel: 0 }, idle: undefined }), 'stop');
  });
  it('immediate mode: no block to wait for, only for tcpdump to be idle', () => {
    assert.equal(drainVerdict({ elapsedMs: 5, immediate: true, stats: { captured: 20, received: 40, droppedByKernel: 8 }, idle: true }), 'stop');
    assert.equal(drainVerdict({ elapsedMs: 5, immediate: true, stats: { captured: 0, received: 40, droppedByKernel: 8 }, idle: false }), 'wait');
  });
  it('no counters (none printed) or a busy tcpdump: bounded', () => {
    assert.equal(drainVerdict({ elapsedMs: 100, immediate: false, stats: undefined, idle: false }), 'wait');
    assert.equal(drainVerdict({ elapsedMs: DRAIN_MAX_MS, immediate: false, stats: undefined, idle: false }), 'stop');
  });
});
