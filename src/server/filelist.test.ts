import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PacketCapture } from '../api/packetcapture.js';
import { agentPaths, buildFileList, captureNodes, mapLimit, parseAgentList } from './filelist.js';

describe('captureNodes', () => {
  it('status.nodes and status.targets nodes, sorted and deduplicated', () => {
    const pc = { status: { nodes: [{ node: 'b' }, { node: 'a' }], targets: [{ node: 'c' }, { node: 'a' }, { node: 'Bad/Node' }] } } as unknown as PacketCapture;
    assert.deepEqual(captureNodes(pc), ['a', 'b', 'c']);
    assert.deepEqual(captureNodes({}), []);
  });
});

describe('agentPaths', () => {
  it('encodes each segment', () => {
    assert.equal(agentPaths.file('ns', 'c', 'node.n.eth0', 'a:b.pcap0'), '/v1/captures/ns/c/files/node.n.eth0/a%3Ab.pcap0');
    assert.equal(agentPaths.stream('ns', 'c', undefined), '/v1/captures/ns/c/stream');
    assert.equal(agentPaths.stream('ns', 'c', 'pod.ns.web-0'), '/v1/captures/ns/c/stream?target=pod.ns.web-0');
  });
});

describe('buildFileList', () => {
  it('merges nodes, keeps errors per node and drops entries that are not plain names', () => {
    const list = buildFileList('shop', 'web', [
      { node: 'node-b', error: 'the agent on node node-b is not ready' },
      {
        node: 'node-a',
        live: ['pod.shop.web-0'],
        files: [
          { target: 'pod.shop.web-0', name: 'web.pcap0', size: 10, modified: '2026-11-27T10:00:00.000Z', kind: 'pcap' },
          { target: '..', name: 'x', size: 1 },
          { target: 'pod.shop.web-0', name: 'a/b' },
        ],
      },
    ]);
    assert.deepEqual(list, {
      kind: 'PacketCaptureFileList',
      apiVersion: 'data.pcapper.dev/v1alpha1',
      metadata: { namespace: 'shop', name: 'web' },
      nodes: [{ node: 'node-a', live: ['pod.shop.web-0'] }, { node: 'node-b', error: 'the agent on node node-b is not ready' }],
      items: [{ node: 'node-a', target: 'pod.shop.web-0', name: 'web.pcap0', path: 'node-a/pod.shop.web-0/web.pcap0', size: 10, modified: '2026-11-27T10:00:00.000Z', kind: 'pcap' }],
    });
  });
  it('parseAgentList accepts the agent shape only', () => {
    assert.deepEqual(parseAgentList({ node: 'n', live: ['t', 3], files: [] }), { live: ['t'], files: [] });
    assert.equal(parseAgentList({ files: 'x' }), undefined);
    assert.equal(parseAgentList(null), undefined);
  });
});

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      for (let i = 0; i < n; i++) await Promise.resolve();
      running--;
      return n * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30, 0, 60]);
    assert.equal(peak, 3);
    assert.deepEqual(await mapLimit([], 3, () => Promise.resolve(1)), []);
  });
});
