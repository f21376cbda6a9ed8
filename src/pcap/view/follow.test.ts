/**
 * Follow TCP stream against Wireshark: for every TCP stream of the vendored captures (up to 12 a
 * file), the bytes each side sent, chunk by chunk, equal `tshark -q -z follow,tcp,raw,N`.
 * Runs tshark (the "tools" test group).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { runTool, testdataFiles } from '../../../test/harness/pcap.js';
import { openCaptureView } from './view.js';

/** tshark's raw follow output as [fromNode0, hex] runs, consecutive lines of one side joined. */
function tsharkFollow(file: string, stream: number): { node0: string; chunks: [boolean, string][] } {
  const r = runTool('tshark', ['-n', '-r', file, '-q', '-z', `follow,tcp,raw,${stream}`]);
  const lines = r.stdout.split('\n');
  const node0 = lines.find((l) => l.startsWith('Node 0: '))?.slice(8) ?? '';
  const start = lines.findIndex((l) => l.startsWith('Node 1: '));
  const chunks: [boolean, string][] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('====')) break;
    if (l.trim() === '') continue;
    const fromClient = !l.startsWith('\t');
    const hex = l.trim();
    const last = chunks[chunks.length - 1];
    if (last && last[0] === fromClient) last[1] += hex;
    else chunks.push([fromClient, hex]);
  }
  return { node0, chunks };
}

/**
 * Streams where the capture missed a segment (tshark: tcp.analysis.lost_segment or
 * ack_lost_segment). There Wireshark 4.0's follow keeps what came after the gap waiting for it and
 * never shows it; we show it after the gap (nothing captured is hidden). So for those streams
 * tshark's bytes of each side must be a prefix of ours, and ours may have more.
 */
function streamsWithGaps(file: string): Set<number> {
  const r = runTool('tshark', ['-n', '-r', file, '-Y', 'tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment', '-T', 'fields', '-e', 'tcp.stream']);
  return new Set(r.stdout.split('\n').filter((l) => l.trim() !== '').map(Number));
}

const side = (chunks: [boolean, string][], fromClient: boolean): string =>
  chunks
    .filter((c) => c[0] === fromClient)
    .map((c) => c[1])
    .join('');

const FILES = ['zeek__http_get.pcap', 'zeek__web.pcap', 'zeek__tls_tls1.2.pcap', 'zeek__tls_openjdk-25.0.2-zeek.org.pcap', 'fpcap__pcapng-example.pcapng', 'tcpdump__pptp.pcap', 'zeek__vlan-pcp-dei.pcapng', 'fpcap__RICS2021_787__fwscada_20200625_160926.pcap'];

describe('follow TCP stream equals tshark -z follow,tcp,raw', () => {
  for (const name of FILES) {
    it(name, async () => {
      const file = testdataFiles().find((f) => basename(f) === name);
      assert.ok(file, name);
      const v = await openCaptureView([file], { noIndexFiles: true });
      try {
        let compared = 0;
        const gaps = streamsWithGaps(file);
        for (let stream = 0; stream < 12; stream++) {
          const m = await v.filter(`tcp.stream == ${stream}`);
          if (m.matches.length === 0) break;
          const ours = await v.follow(m.matches[0]!);
          assert.equal(ours.stream, stream);
          assert.deepEqual(ours.packets, [...m.matches]);
          const theirs = tsharkFollow(file, stream);
          // Node 0 is the side that sent the stream's first packet; ours is the SYN sender (the same unless the SYN was not captured)
          const flip = theirs.node0 !== '' && !ours.client.endsWith(`:${theirs.node0.split(':').pop()}`) ? true : false;
          const got = ours.chunks.map((c): [boolean, string] => [flip ? !c.fromClient : c.fromClient, Buffer.from(c.dataBase64, 'base64').toString('hex')]);
          if (gaps.has(stream)) {
            for (const dir of [true, false]) assert.ok(side(got, dir).startsWith(side(theirs.chunks, dir)), `${name} stream ${stream} (with a gap): tshark's bytes are a prefix of ours`);
          } else assert.deepEqual(got, theirs.chunks, `${name} stream ${stream}`);
          compared++;
        }
        assert.ok(compared > 0, 'no stream compared');
      } finally {
        await v.close();
      }
    });
  }
});
