// `npm run demo` from the repository, as a user runs it on a fresh machine: it must succeed, print
// the summary, leave demo.pcapng (one interface per demo pod, named after it, DNS and HTTP inside)
// in the current directory, and clean up everything else. Needs root.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './harness/paths.js';
import { listNetns, assertRoot } from './harness/netns.js';
import { interfaceNames, packetsPerInterface, tool } from './cli-support.js';

/** Processes whose command line or environment mentions `text`. */
function processesMentioning(text: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(n) || Number(n) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${n}/cmdline`, 'utf8');
      const env = readFileSync(`/proc/${n}/environ`, 'utf8');
      if (cmd.includes(text) || env.includes(text)) out.push(`${n}: ${cmd.split('\0').join(' ').slice(0, 200)}`);
    } catch {
      // gone
    }
  }
  return out;
}

describe('npm run demo (needs root)', () => {
  it('captures the demo pods into ./demo.pcapng, prints the summary and cleans up', async () => {
    assertRoot();
    const cwd = mkdtempSync('/tmp/pcapper-demo-test-');
    try {
      const child = spawn('npm', ['run', '--silent', '--prefix', repoRoot(), 'demo'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', (c: string) => (out += c));
      child.stderr.on('data', (c: string) => (out += c));
      const timer = setTimeout(() => child.kill('SIGINT'), 240_000);
      const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
      clearTimeout(timer);
      assert.equal(code, 0, out);
      assert.match(out, /\$ kubectl pcap capture -l app=demo --duration 5s -w demo\.pcapng/);
      assert.match(out, /capture default\/demo-\S+: finished/);
      assert.match(out, /Conversations/, 'summary printed');
      assert.match(out, /DNS\s+\d+ queries/);
      assert.match(out, /HTTP\s+\d+ requests/);

      // npm run --prefix runs in the repo: the demo writes into the directory it was started from
      const file = join(cwd, 'demo.pcapng');
      const names = interfaceNames(file).sort();
      assert.deepEqual(names, ['node-a/default/demo-web', 'node-b/default/demo-api', 'node-b/default/demo-dns']);
      const per = packetsPerInterface(file);
      for (const n of names) assert.ok((per.get(n) ?? 0) > 0, `packets on ${n}`);
      const info = tool('capinfos', ['-c', '-M', file]);
      assert.match(info, /Number of packets:\s+[1-9]/);
      const protos = tool('tshark', ['-r', file, '-T', 'fields', '-e', '_ws.col.Protocol']);
      assert.match(protos, /^DNS$/m);
      assert.match(protos, /^HTTP$/m);
      assert.deepEqual(readdirSync(cwd), ['demo.pcapng'], 'nothing else left in the directory');

      // nothing left running or on disk: control plane, controller, agents, tcpdump
      const m = /state in (\/\S+); logs in (\/\S+)\)/.exec(out);
      assert.ok(m?.[1] && m[2], 'the demo names its state directories');
      for (const dir of [m[1], m[2]]) {
        assert.equal(existsSync(dir), false, `${dir} removed`);
        assert.deepEqual(processesMentioning(dir), [], `no process left that uses ${dir}`);
      }
      const run = /harness run ([a-z0-9]+)/.exec(out)?.[1];
      assert.ok(run, 'the demo names its harness run');
      const leftNetns = listNetns().filter((n) => n.startsWith(`pcp-${run}-`));
      assert.deepEqual(leftNetns, [], 'no network namespace of the demo left');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
