import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkName, safeLocalPath, unsafeReason } from './safe-names.js';
import { checkFileList } from './data-api.js';

describe('names from the server or status become paths only when they are plain names', () => {
  it('accepts what pcapper writes: node names, pod.<ns>.<pod> / node.<iface> targets, ring and sidecar files', () => {
    for (const n of ['node-a', 'ip-10-0-1-2.ec2.internal', 'a'.repeat(63)]) assert.equal(unsafeReason('node', n), undefined, n);
    for (const t of ['pod.shop.web-0', 'node.eth0', 'node.eth0.100', 'node.veth1@if3']) assert.equal(unsafeReason('target', t), undefined, t);
    for (const f of ['web-x7k2p.pcap0', 'web-x7k2p.pcap12', 'capture-meta.json', 'x.pcapng']) assert.equal(unsafeReason('file', f), undefined, f);
  });

  it('refuses traversal, separators, control characters, empty, over-long and non-strings with a reason', () => {
    const bad: [Parameters<typeof unsafeReason>[0], unknown, RegExp][] = [
      ['node', '..', /'\.\.'/],
      ['node', '../etc', /path separator/],
      ['node', 'Node_A', /DNS-1123/],
      ['target', 'pod/shop/web', /path separator/],
      ['target', '..', /'\.\.'/],
      ['target', 'a..b', /'\.\.'/],
      ['target', '.hidden', /plain name/],
      ['file', 'x\\y', /path separator/],
      ['file', 'a\nb', /control/],
      ['file', '', /empty/],
      ['file', 'x'.repeat(254), /longer than 253/],
      ['file', 42, /not a string/],
      ['file', '-rf', /plain name/],
    ];
    for (const [k, v, re] of bad) assert.match(unsafeReason(k, v) ?? 'accepted', re, `${k} ${JSON.stringify(v)}`);
    assert.throws(() => checkName('file', '../../.bashrc', 'the file list'), /^CliError: refusing file name "\.\.\/\.\.\/\.bashrc" from the file list: it contains a path separator$/);
  });

  it('safeLocalPath joins checked parts under the directory', () => {
    assert.equal(safeLocalPath('/tmp/d', 'node-a', 'pod.shop.web-0', 'w.pcap0', 'x'), '/tmp/d/node-a/pod.shop.web-0/w.pcap0');
    assert.throws(() => safeLocalPath('/tmp/d', 'node-a', '..', 'w', 'x'), /refusing target name/);
  });

  it('a file list: error nodes and nodes with unsafe entries are problems (none of their files used); an unsafe node name refuses the list', () => {
    const l = checkFileList(
      {
        nodes: [{ node: 'node-a', live: [] }, { node: 'node-b', error: 'the agent on node node-b is not ready' }, { node: 'node-c' }],
        items: [
          { node: 'node-a', target: 'pod.shop.web-0', name: 'w.pcap0', size: 10, kind: 'pcap' },
          { node: 'node-b', target: 'pod.shop.web-1', name: 'w.pcap0', size: 10, kind: 'pcap' },
          { node: 'node-c', target: 'pod.shop.web-2', name: 'w.pcap0', size: 10, kind: 'pcap' },
          { node: 'node-c', target: 'pod.shop.web-2', name: '../../x', size: 10, kind: 'pcap' },
        ],
      },
      'test',
    );
    assert.deepEqual([...l.byNode.keys()], ['node-a']);
    assert.equal(l.problems.get('node-b'), 'the agent on node node-b is not ready');
    assert.match(l.problems.get('node-c') ?? '', /unsafe target or file name "pod\.shop\.web-2\/\.\.\/\.\.\/x".*none of this node's files were downloaded/);
    assert.throws(() => checkFileList({ nodes: [{ node: '../root' }], items: [] }, 'the data API'), /refusing the file list from the data API: unsafe node name "\.\.\/root"/);
    assert.throws(() => checkFileList({ items: [{ node: '/etc', target: 't', name: 'f', size: 1 }] }, 'x'), /unsafe node name "\/etc"/);
    assert.throws(() => checkFileList({ nodes: [] }, 'x'), /without "items"/);
  });
});
