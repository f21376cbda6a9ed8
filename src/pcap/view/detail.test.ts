/**
 * The detail tree's byte ranges against Wireshark: for the vendored captures, every field node we
 * emit under a name Wireshark also uses in that packet covers the bytes Wireshark's field covers
 * (`tshark -T pdml`: pos and size). Runs tshark (the "tools" test group).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { runTool, testdataFiles } from '../../../test/harness/pcap.js';
import { openCaptureView } from './view.js';
import type { FieldNode } from './types.js';

const FILES = ['zeek__http_get.pcap', 'zeek__web.pcap', 'zeek__icmp_dot1q.pcap', 'zeek__linux_dlt_sll2.pcap', 'zeek__communityid_icmp6.pcap', 'zeek__pcapng-multi-interface.pcapng', 'tcpdump__802.1ad_QinQ.pcap', 'tcpdump__tcp-handshake-nano.pcap', 'fpcap__fritzbox-ip.pcap'];

/** Per frame: field name -> the [pos, size] of each occurrence. */
function pdml(file: string): Map<string, string[]>[] {
  const r = runTool('tshark', ['-n', '-r', file, '-T', 'pdml']);
  assert.equal(r.status, 0, r.stderr);
  const frames: Map<string, string[]>[] = [];
  for (const pkt of r.stdout.split('<packet>').slice(1)) {
    const m = new Map<string, string[]>();
    for (const f of pkt.matchAll(/<field name="([^"]+)"[^>]*?size="(\d+)" pos="(\d+)"/g)) {
      const l = m.get(f[1]!) ?? [];
      l.push(`${f[3]}+${f[2]}`);
      m.set(f[1]!, l);
    }
    frames.push(m);
  }
  return frames;
}

function walk(nodes: FieldNode[] | undefined, out: FieldNode[]): FieldNode[] {
  for (const n of nodes ?? []) {
    out.push(n);
    walk(n.children, out);
  }
  return out;
}

describe('detail field ranges equal Wireshark\'s (tshark -T pdml)', () => {
  for (const name of FILES) {
    it(name, async () => {
      const file = testdataFiles().find((f) => basename(f) === name)!;
      const ws = pdml(file);
      const v = await openCaptureView([file], { noIndexFiles: true });
      try {
        assert.equal(v.packetCount, ws.length);
        const problems: string[] = [];
        let compared = 0;
        for (let frame = 1; frame <= v.packetCount; frame++) {
          const d = await v.detail(frame);
          const theirs = ws[frame - 1]!;
          for (const n of walk(d.layers, [])) {
            if (n.field === '' || n.field.startsWith('frame') || n.length === 0) continue;
            const occ = theirs.get(n.field);
            if (occ === undefined) continue;
            compared++;
            if (!occ.includes(`${n.offset}+${n.length}`)) problems.push(`frame ${frame} ${n.field}: ours ${n.offset}+${n.length}, wireshark ${occ.join(' ')}`);
          }
        }
        assert.deepEqual(problems, []);
        assert.ok(compared > v.packetCount, `only ${compared} fields compared`);
      } finally {
        await v.close();
      }
    });
  }
});
