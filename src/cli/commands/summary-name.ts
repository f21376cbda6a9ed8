/**
 * `summary FILE|NAME` and `merge FILE|NAME... -w OUT`: wrap the pcap library's file commands so a
 * NAME also works — an imported capture in the local store (import), else (summary only) a
 * PacketCapture in the cluster, whose files are downloaded to a temporary directory first.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs, str, type CommandSpec } from '../args.js';
import { reportError } from '../errors.js';
import type { CliIo, CommandRun } from '../io.js';
import { storeDir, storedCaptureFiles } from '../store.js';
import { isDns1123Subdomain } from '../../api/names.js';

type FileCommand = (argv: readonly string[], io: { stdout: NodeJS.WritableStream & { columns?: number; isTTY?: boolean }; stderr: NodeJS.WritableStream }) => Promise<number>;

/** Flags of the wrapped commands that take a value (so their values are not taken for names). */
const VALUE_FLAGS = new Set(['-o', '--output', '--meta', '--width', '--top', '-w', '--write', '-Y', '--filter', '--store', '-n', '--namespace', '--kubeconfig', '--context', '--cluster', '--user']);

function positionals(argv: readonly string[]): number[] {
  const idx: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') break;
    if (VALUE_FLAGS.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-') || a === '-') idx.push(i);
  }
  return idx;
}

/** Removes our own flags (--store, cluster flags) from argv, returning them separately. */
function splitOwnFlags(argv: readonly string[]): { rest: string[]; own: string[] } {
  const own = ['--store', '-n', '--namespace', '--kubeconfig', '--context', '--cluster', '--user'];
  const rest: string[] = [];
  const mine: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (own.includes(name)) {
      mine.push(a);
      if (eq < 0 && i + 1 < argv.length) mine.push(argv[++i] as string);
    } else rest.push(a);
  }
  return { rest, own: mine };
}

const OWN_SPEC: CommandSpec = {
  name: 'summary',
  summary: '',
  usage: '',
  flags: [{ name: 'store', type: 'string', help: '' }],
};

/** Expands NAMEs (not existing files) to the files of an imported capture; undefined entries stay. */
async function expand(argv: string[], io: CliIo, store: string, allowCluster: boolean, ownArgs: string[]): Promise<{ argv: string[]; cleanup: () => Promise<void> }> {
  const cleanups: string[] = [];
  const out = [...argv];
  const pos = positionals(argv).reverse();
  for (const i of pos) {
    const a = argv[i] as string;
    const path = isAbsolute(a) ? a : resolve(io.cwd, a);
    if (a === '-' || existsSync(path)) {
      out[i] = path;
      continue;
    }
    const stored = await storedCaptureFiles(store, a);
    if (stored && stored.length > 0) {
      out.splice(i, 1, ...stored);
      continue;
    }
    if (!allowCluster || !isDns1123Subdomain(a)) continue; // let the command report "no such file"
    // a capture in the cluster
    const p = parseArgs({ ...OWN_SPEC, flags: [...OWN_SPEC.flags] }, ownArgs);
    // the cluster client is loaded only here: local summaries and merges start without it (~0.5 s)
    const [{ kubeFrom }, { downloadCapture }] = await Promise.all([import('../command.js'), import('../fetch.js')]);
    const kube = kubeFrom(p, io);
    const pc = await kube.client.getCapture(kube.namespace, a);
    const dir = await mkdtemp(join(tmpdir(), 'kubectl-pcap-'));
    cleanups.push(dir);
    const dl = await downloadCapture(kube.client, pc, dir, io, io.signal);
    for (const pr of dl.problems) io.stderr.write(`warning: ${pr}\n`);
    out.splice(i, 1, ...dl.files.map((f) => f.path));
  }
  return {
    argv: out,
    cleanup: async () => {
      for (const d of cleanups) await rm(d, { recursive: true, force: true });
    },
  };
}

/** Wraps a file command so that NAME arguments work (see above). */
function withNames(cmd: FileCommand, allowCluster: boolean, extraHelp: string): CommandRun {
  return async (argv, io) => {
    if (argv.includes('-h') || argv.includes('--help')) {
      const code = await cmd(['--help'], io);
      io.stdout.write(extraHelp);
      return code;
    }
    try {
      const { rest, own } = splitOwnFlags(argv);
      const p = parseArgs({ ...OWN_SPEC }, own);
      const store = storeDir(str(p, 'store'), io.env);
      const { argv: expanded, cleanup } = await expand(rest, io, store, allowCluster, own);
      try {
        return await cmd(expanded, io);
      } finally {
        await cleanup();
      }
    } catch (e) {
      return reportError(io, e);
    }
  };
}

export function summaryCommand(run: FileCommand): CommandRun {
  return withNames(
    run,
    true,
    '\nA NAME instead of a FILE summarises an imported capture (kubectl pcap import) or, failing that,\nthe PacketCapture NAME in the cluster (-n NAMESPACE, --kubeconfig, --context), downloaded first.\n  --store DIR   capture store of imported captures\n',
  );
}

export function mergeCommand(run: FileCommand): CommandRun {
  return withNames(run, false, '\nA NAME instead of a FILE merges every file of an imported capture (kubectl pcap import).\n  --store DIR   capture store of imported captures\n');
}
