// kubectl-pcap's kubectl conventions `get --watch` and `capture --dry-run=server`, against a real
// control plane with the real controller and agents (test/harness/demo.ts startStack()), the CLI
// run as a separate process. Needs root (network namespaces, tcpdump).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import type { PacketCapture } from '../src/api/packetcapture.js';
import { startStack, type Stack } from './harness/demo.js';
import { assertRoot } from './harness/netns.js';
import { kp, spawnCli, type CliResult } from './cli-support.js';
import { eventually, GiveUp } from './harness/eventually.js';

const NS = 'watch';

function assertOneLineError(r: CliResult, code: number, re: RegExp): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^error: /);
  assert.match(lines[0] ?? '', re);
  assert.equal(lines.length, code === 2 ? 2 : 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stdout.length, 0, 'no data on stdout');
}

/** A running `kubectl pcap ...` whose output is collected; `until` waits for a condition on it. */
function background(args: string[], kubeconfig: string): {
  out: () => string;
  err: () => string;
  until: (what: string, ok: (out: string) => boolean, timeoutMs?: number) => Promise<void>;
  interrupt: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
} {
  const child = spawnCli(args, { kubeconfig });
  child.stdin?.end();
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (c: string) => (out += c));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => (err += c));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return {
    out: () => out,
    err: () => err,
    until: async (what, ok, timeoutMs = 60_000) => {
      await eventually(
        () => {
          if (ok(out)) return true;
          if (child.exitCode !== null) throw new GiveUp(`kubectl pcap ${args.join(' ')} exited ${child.exitCode}`);
          return false;
        },
        { what: `${what} from kubectl pcap ${args.join(' ')}`, timeoutMs, describe: () => `stdout:\n${out}\nstderr:\n${err}` },
      );
    },
    interrupt: async () => {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const r = await closed;
      clearTimeout(timer);
      return r;
    },
  };
}

describe('kubectl-pcap get --watch and capture --dry-run=server against a real cluster (needs root)', () => {
  let stack: Stack;
  let admin: string;
  let tmp: string;

  const getPc = async (name: string): Promise<{ code: number; stderr: string }> => {
    const r = await stack.cluster.kubectl(['get', 'packetcaptures.pcapper.dev', name, '-n', NS, '-o', 'json']);
    return { code: r.code ?? -1, stderr: r.stderr };
  };

  before(async () => {
    assertRoot();
    tmp = mkdtempSync('/tmp/pcapper-cli-watch-');
    stack = await startStack({ log: () => undefined });
    admin = stack.cluster.kubeconfigPath;
    await stack.kubelet.ensureNamespace(NS);
    await stack.kubelet.createPod({ namespace: NS, name: 'solo', node: 'node-a', labels: { app: 'solo' } });
  });

  after(async () => {
    await stack?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('get --watch prints the table, then a row per change of a capture created later; exits 0 on Ctrl-C', async () => {
    const table = background(['get', '-n', NS, '--watch'], admin);
    const events = background(['list', '-n', NS, '-w', '-o', 'yaml', '--output-watch-events'], admin);
    // nothing yet: kubectl's message on stderr, then it keeps watching
    // The message is printed after the first list; the watch resumes from that list's
    // resourceVersion, so a capture created from here on is seen however slow the watch opens.
    await table.until('start', () => /No packet captures found in watch namespace/.test(table.err()));
    const created = await kp(['capture', 'pod/solo', '-n', NS, '--name', 'watched', '--duration', '2s', '--detach'], { kubeconfig: admin });
    assert.equal(created.code, 0, created.stderr);
    const finished = (o: string): boolean => /^watched\s+finished\s/m.test(o);
    await table.until('finished row', finished, 90_000);
    const lines = table.out().trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^NAME\s+STATE\s+TARGET\s+TARGETS\s+PACKETS\s+BYTES\s+DROPS\s+AGE$/);
    assert.equal(lines.filter((l) => l.startsWith('NAME ')).length, 1, 'the header is printed once');
    const states = lines.slice(1).map((l) => l.split(/\s+/)[1]);
    assert.ok(states.length >= 2, `a row per change:\n${table.out()}`);
    assert.ok(new Set(states).size >= 2, `the progress changes (${states.join(', ')})`);
    assert.equal(states.at(-1), 'finished');
    const t = await table.interrupt();
    assert.equal(t.code, 0, `exit on SIGINT: ${JSON.stringify(t)}; stderr: ${table.err()}`);
    assert.doesNotMatch(table.err(), /error/);

    await events.until('finished object', (o) => /progress: finished/.test(o), 30_000);
    const docs = parseAllDocuments(events.out()).map((d) => d.toJS() as { type: string; object: PacketCapture });
    assert.equal(docs[0]?.type, 'ADDED');
    assert.equal(docs[0]?.object.metadata.name, 'watched');
    assert.equal(docs[0]?.object.kind, 'PacketCapture');
    assert.ok(docs.slice(1).every((d) => d.type === 'MODIFIED'), docs.map((d) => d.type).join(','));
    assert.equal(docs.at(-1)?.object.status?.progress, 'finished');

    // a watch on one name sees it deleted
    const one = background(['get', 'watched', '-n', NS, '-w', '--output-watch-events'], admin);
    await one.until('the current row', (o) => /^ADDED\s+watched\s+finished\s/m.test(o));
    const del = await kp(['delete', 'watched', '-n', NS, '--wait'], { kubeconfig: admin, timeoutMs: 60_000 });
    assert.equal(del.code, 0, del.stderr);
    await one.until('DELETED row', (o) => /^DELETED\s+watched\s/m.test(o));
    assert.match(one.out(), /^EVENT\s+NAME\s+STATE\s/);
    assert.equal((await one.interrupt()).code, 0);
    assert.equal((await events.interrupt()).code, 0);
  });

  it('get --watch: a missing name and several names fail at once', async () => {
    assertOneLineError(await kp(['get', 'nope', '-n', NS, '-w'], { kubeconfig: admin }), 1, /^error: packetcapture "nope" not found in namespace "watch"$/);
    assertOneLineError(await kp(['get', 'a', 'b', '-n', NS, '-w'], { kubeconfig: admin }), 2, /watch is only supported/);
    assertOneLineError(await kp(['get', '-n', NS, '--output-watch-events'], { kubeconfig: admin }), 2, /only applies with --watch/);
  });

  it('--dry-run=server: the apiserver validates and persists nothing; its refusals are one line, exit 1', async () => {
    const r = await kp(['capture', 'pod/solo', '-n', NS, '--name', 'srv-dry', '--duration', '30s', '--file-count', '3', '--dry-run=server'], { kubeconfig: admin });
    assert.equal(r.code, 0, r.stderr);
    const pc = parseYaml(r.stdout.toString()) as PacketCapture;
    assert.equal(pc.kind, 'PacketCapture');
    assert.equal(pc.apiVersion, 'pcapper.dev/v1alpha1');
    assert.equal(pc.metadata.name, 'srv-dry');
    assert.equal(pc.metadata.namespace, NS);
    assert.ok(pc.metadata.uid && pc.metadata.creationTimestamp, 'the object as the apiserver returned it');
    assert.deepEqual(pc.spec, { targetPod: 'solo', captureSeconds: '30s', fileCount: 3 });
    const got = await getPc('srv-dry');
    assert.notEqual(got.code, 0);
    assert.match(got.stderr, /NotFound|not found/);
    const asJson = await kp(['capture', 'pod/solo', '-n', NS, '--name', 'srv-dry', '--dry-run=server', '-o', 'json'], { kubeconfig: admin });
    assert.equal(asJson.code, 0, asJson.stderr);
    assert.equal((JSON.parse(asJson.stdout.toString()) as PacketCapture).metadata.name, 'srv-dry');

    // values the schema / CEL rules refuse: the apiserver's message, one line, exit 1
    assertOneLineError(
      await kp(['capture', 'pod/solo', '-n', NS, '--name', 'bad-count', '--file-count', '0', '--dry-run=server'], { kubeconfig: admin }),
      1,
      /^error: .*bad-count.*fileCount must be a whole number between 1 and 1000/,
    );
    assertOneLineError(
      await kp(['capture', 'pod/solo', '-n', NS, '--name', 'bad-size', '--max-file-size', '9999999G', '--dry-run=server'], { kubeconfig: admin }),
      1,
      /^error: .*maxFileSize must be between 1M and 100G/,
    );
    assert.notEqual((await getPc('bad-count')).code, 0);
    // the client-side dry run refuses the same value itself, as a usage error
    assertOneLineError(await kp(['capture', 'pod/solo', '-n', NS, '--file-count', '0', '--dry-run=client'], { kubeconfig: admin }), 2, /invalid --file-count/);
    assertOneLineError(await kp(['capture', 'pod/solo', '-n', NS, '--dry-run=maybe'], { kubeconfig: admin }), 2, /invalid value "maybe" for --dry-run: must be one of client, server, none/);
  });
});
