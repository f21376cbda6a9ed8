import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDns1123Label, isDns1123Subdomain, isInterfaceName, isLabelName, isLabelValue, isPlainName } from './names.js';

describe('name formats', () => {
  it('DNS-1123 label: namespaces', () => {
    for (const ok of ['pcapper', 'a', 'team-a', '0a', 'a'.repeat(63)]) assert.ok(isDns1123Label(ok), ok);
    for (const bad of ['', 'A', 'a.b', '-a', 'a-', 'a_b', 'a'.repeat(64), '../x']) assert.ok(!isDns1123Label(bad), bad);
  });

  it('DNS-1123 subdomain: pod, node and workload names', () => {
    for (const ok of ['web-0', 'ip-10-0-0-1.ec2.internal', 'a'.repeat(253)]) assert.ok(isDns1123Subdomain(ok), ok);
    for (const bad of ['', 'a..b', '.a', 'a.', 'A', 'a/b', 'a'.repeat(254)]) assert.ok(!isDns1123Subdomain(bad), bad);
  });

  it('interface, plain file and label names', () => {
    for (const ok of ['eth0', 'any', 'veth1@if2', 'a'.repeat(15)]) assert.ok(isInterfaceName(ok), ok);
    for (const bad of ['-i', '.x', 'a/b', 'a b', 'a'.repeat(16)]) assert.ok(!isInterfaceName(bad), bad);
    assert.ok(isPlainName('node-a.cap.1.pcap'));
    assert.ok(!isPlainName('../x') && !isPlainName('-x') && !isPlainName('a/b') && !isPlainName('a'.repeat(256)));
    assert.ok(isLabelValue('') && isLabelValue('v1.2_x') && !isLabelValue('-x') && !isLabelValue('a'.repeat(64)));
    assert.ok(isLabelName('app') && !isLabelName(''));
  });
});
