import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BYTE_UNITS, formatBytes, parseEnvDuration, parseEnvSize } from './units.js';

describe('units', () => {
  it('formatBytes counts in powers of 1000, as tcpdump, capinfos and tshark do', () => {
    assert.equal(formatBytes(undefined), '0 B');
    assert.equal(formatBytes(7), '7 B');
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(1500), '1.5 kB');
    assert.equal(formatBytes(1_500_000), '1.5 MB');
    assert.equal(formatBytes(56_000_000), '56.0 MB');
    assert.equal(formatBytes(123_000_000_000), '123 GB');
    assert.equal(formatBytes(250e9), '250 GB');
    assert.equal(formatBytes(2e15), '2.0 PB');
  });

  it('size and duration suffixes', () => {
    assert.equal(BYTE_UNITS.G, 1e9);
    assert.equal(BYTE_UNITS.Gi, 1024 ** 3);
    assert.equal(parseEnvSize('10G'), 10e9);
    assert.equal(parseEnvSize('500Mi'), 500 * 1024 ** 2);
    assert.equal(parseEnvSize('1048576'), 1048576);
    assert.equal(parseEnvSize('10X'), undefined);
    assert.equal(parseEnvDuration('2d'), 2 * 86_400_000);
    assert.equal(parseEnvDuration('600'), 600_000);
    assert.equal(parseEnvDuration('1.5s'), 1500);
    assert.equal(parseEnvDuration('5w'), undefined);
  });
});
