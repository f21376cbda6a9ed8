/**
 * `kubectl pcap download NAME [-w FILE] [--raw DIR]` and `kubectl pcap export NAME -w FILE`:
 * collect an existing capture's files from every node. download writes one merged pcapng
 * (default NAME.pcapng) and/or keeps the raw ring files with their metadata sidecars (--raw);
 * export writes one merged pcapng that also carries each target's full metadata as interface
 * comments (`pcapper.meta=`), so `kubectl pcap import` restores pod names and the IP -> pod map.
 */
import { mkdir } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { bool, str, type ParsedArgs } from '../args.js';
import { defineCommand, kubeFrom } from '../command.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { checkOutputFile } from '../output-path.js';
import type { PacketCapture } from '../../api/packetcapture.js';
import { loadIdentities } from '../e2e-files.js';
import { collect, outputPath, sectionCommentsFor } from './capture.js';

/** Section comments of an export: the capture, its spec and its final status (also the UI's export). */
export function exportSectionComments(pc: PacketCapture): string[] {
  const st = pc.status;
  return [...sectionCommentsFor(pc), `pcapper.status=${JSON.stringify({ progress: st?.progress, packets: st?.packets, bytes: st?.bytes, drops: st?.drops, startTime: st?.startTime, completionTime: st?.completionTime })}`];
}

async function fetchCommand(p: ParsedArgs, io: CliIo, mode: 'download' | 'export'): Promise<number> {
  const kube = kubeFrom(p, io);
  const name = p.args[0] as string;
  const w = str(p, 'write');
  const raw = str(p, 'raw');
  if (mode === 'export' && w === undefined) throw new UsageError('-w FILE is required (or -w - for stdout)', 'export');
  if (raw === undefined || w !== undefined) await checkOutputFile(outputPath(w, name, io.cwd), mode);
  const idFile = str(p, 'identity');
  const identities = idFile !== undefined ? await loadIdentities(isAbsolute(idFile) ? idFile : resolve(io.cwd, idFile)) : undefined;
  const pc = await kube.client.getCapture(kube.namespace, name);
  if (identities && !pc.spec.encryption) io.stderr.write(`note: capture ${kube.namespace}/${name} is not encrypted end to end; --identity is not needed (the API decrypts its files)\n`);
  const progress = pc.status?.progress;
  if (progress !== 'finished' && progress !== 'failure') io.stderr.write(`note: capture ${kube.namespace}/${name} is ${progress ?? 'pending'}; downloading what was written so far\n`);
  const ready = pc;
  let rawDir: string | undefined;
  if (raw !== undefined) {
    rawDir = isAbsolute(raw) ? raw : resolve(io.cwd, raw);
    await mkdir(rawDir, { recursive: true, mode: 0o700 });
  }
  const merge = raw === undefined || w !== undefined;
  const out = outputPath(w, name, io.cwd);
  const comments = mode === 'export' ? exportSectionComments(ready) : undefined;
  await collect(kube, ready, out, io, { summary: bool(p, 'summary'), rawDir, merge, embedMetadata: mode === 'export', sectionComments: comments, signal: io.signal, ...(identities ? { identities } : {}) });
  return 0;
}

export const downloadCommand = defineCommand(
  {
    name: 'download',
    summary: 'Download a capture\'s files from every node (merged pcapng and/or raw files)',
    usage: 'download NAME [-w FILE|-] [--raw DIR]',
    flags: [
      { name: 'write', short: 'w', type: 'string', value: 'FILE', help: 'Merged pcapng output; - for stdout', defaultText: 'NAME.pcapng unless --raw' },
      { name: 'raw', type: 'string', value: 'DIR', help: 'Keep the raw ring files and metadata sidecars in DIR/<node>/<target>/' },
      { name: 'summary', type: 'boolean', help: 'Print the summary after merging' },
      { name: 'identity', type: 'string', value: 'FILE', help: 'age identity file (AGE-SECRET-KEY-1...) that opens an end-to-end capture (spec.encryption.recipients) here' },
    ],
    minArgs: 1,
    maxArgs: 1,
    argsName: 'NAME',
    examples: ['kubectl pcap download web-x7k2p -n shop', 'kubectl pcap download secret-x7k2p --identity ~/.config/age/key.txt', 'kubectl pcap download web-x7k2p --raw ./web-files', 'kubectl pcap download web-x7k2p -w - | tshark -r -'],
  },
  (p, io) => fetchCommand(p, io, 'download'),
);

export const exportCommand = defineCommand(
  {
    name: 'export',
    summary: 'Export a capture as one self-describing pcapng (pod names and IP -> pod map inside)',
    usage: 'export NAME -w FILE|-',
    flags: [
      { name: 'write', short: 'w', type: 'string', value: 'FILE', help: 'Output pcapng; - for stdout' },
      { name: 'summary', type: 'boolean', help: 'Print the summary after exporting' },
      { name: 'identity', type: 'string', value: 'FILE', help: 'age identity file that opens an end-to-end capture here' },
    ],
    minArgs: 1,
    maxArgs: 1,
    argsName: 'NAME',
    examples: ['kubectl pcap export web-x7k2p -w web.pcapng', 'kubectl pcap import web.pcapng   # later, elsewhere'],
  },
  (p, io) => fetchCommand(p, io, 'export'),
);
