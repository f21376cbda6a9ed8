/** `kubectl pcap list` / `get [NAME...]`: PacketCaptures as a table, wide table, json, yaml or names. */
import { stringify as yamlStringify } from 'yaml';
import { ALL_NAMESPACES_FLAG, bool, outputFlag, str, type CommandSpec, type ParsedArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { defineCommand, kubeFrom } from '../command.js';
import { captureHeader, captureRow, printCaptures, OUTPUT_FORMATS, type OutputFormat } from '../printers.js';
import type { PacketCapture } from '../../api/packetcapture.js';
import { KubeError } from '../kube.js';
import { UsageError } from '../errors.js';
import { watchCaptures, type CaptureEventType } from '../follow.js';

const spec = (name: 'get' | 'list'): CommandSpec => ({
  name,
  summary: name === 'list' ? 'List packet captures' : 'Show packet captures (all, or the named ones)',
  usage: name === 'list' ? 'list [-A] [-o json|yaml|wide|name] [-w]' : 'get [NAME...] [-A] [-o json|yaml|wide|name] [-w]',
  flags: [
    ALL_NAMESPACES_FLAG,
    outputFlag(OUTPUT_FORMATS),
    { name: 'watch', short: 'w', type: 'boolean', help: 'After listing, print one more row (or object with -o json|yaml) per change, until Ctrl-C' },
    { name: 'output-watch-events', type: 'boolean', help: 'With --watch, show the event type (ADDED, MODIFIED, DELETED)' },
  ],
  maxArgs: name === 'list' ? 0 : Infinity,
  argsName: 'NAME',
  examples: name === 'list' ? ['kubectl pcap list -A', 'kubectl pcap list -n shop -o wide'] : ['kubectl pcap get web-x7k2p -o yaml', 'kubectl pcap get -o name', 'kubectl pcap get -w --output-watch-events'],
});

const body =
  (command: 'get' | 'list') =>
  async (p: ParsedArgs, io: CliIo): Promise<number> => {
    const kube = kubeFrom(p, io);
    const all = bool(p, 'all-namespaces');
    const output = (str(p, 'output') ?? 'table') as OutputFormat;
    const now = new Date();
    if (bool(p, 'watch')) return watch(command, p, io, output, all);
    if (bool(p, 'output-watch-events')) throw new UsageError('--output-watch-events only applies with --watch', command);
    if (p.args.length > 0) {
      if (all) throw new KubeError('a resource cannot be retrieved by name across all namespaces', 0);
      const items: PacketCapture[] = [];
      let failed = false;
      for (const n of p.args) {
        try {
          items.push(await kube.client.getCapture(kube.namespace, n));
        } catch (e) {
          if (e instanceof KubeError && e.status === 404 && e.reason === 'NotFound') {
            io.stderr.write(`error: ${e.message}\n`);
            failed = true;
          } else throw e;
        }
      }
      if (items.length > 0) io.stdout.write(printCaptures(items, { output, now }, p.args.length === 1));
      return failed ? 1 : 0;
    }
    const { items } = await kube.client.listCaptures(all ? undefined : kube.namespace);
    items.sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`));
    if (items.length === 0 && (output === 'table' || output === 'wide')) {
      io.stderr.write(all ? 'No packet captures found.\n' : `No packet captures found in ${kube.namespace} namespace.\n`);
      return 0;
    }
    io.stdout.write(printCaptures(items, { output, now, withNamespace: all }));
    return 0;
  };

/**
 * kubectl's `get -w`: the table once (header + rows), then one row per change, with column widths
 * that only grow; json/yaml print each object (`{type, object}` with --output-watch-events).
 * Ends with exit 0 on Ctrl-C.
 */
async function watch(command: 'get' | 'list', p: ParsedArgs, io: CliIo, output: OutputFormat, all: boolean): Promise<number> {
  if (p.args.length > 1) throw new UsageError('watch is only supported on one resource or the whole collection, not on several names', command);
  if (p.args.length === 1 && all) throw new KubeError('a resource cannot be retrieved by name across all namespaces', 0);
  const kube = kubeFrom(p, io);
  const events = bool(p, 'output-watch-events');
  const name = p.args[0];
  const table = output === 'table' || output === 'wide';
  const widths: number[] = [];
  const header = events ? ['EVENT', ...captureHeader({ output, withNamespace: all })] : captureHeader({ output, withNamespace: all });
  let headerDone = false;
  /** Rows of the first list, printed together so the first table is aligned over all of them. */
  let pending: string[][] | undefined = [];
  let docs = 0;
  const writeRow = (cells: readonly string[]): void => {
    cells.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
    io.stdout.write(`${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd()}\n`);
  };
  const writeRows = (rows: readonly (readonly string[])[]): void => {
    if (rows.length === 0) return;
    for (const r of [header, ...rows]) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
    if (!headerDone) writeRow(header);
    headerDone = true;
    for (const r of rows) writeRow(r);
  };
  const flush = (): void => {
    const rows = pending ?? [];
    pending = undefined;
    writeRows(rows);
  };
  const onEvent = (type: CaptureEventType, pc: PacketCapture): void => {
    if (table) {
      const r = captureRow(pc, { output, now: new Date(), withNamespace: all });
      const row = events ? [type, ...r] : r;
      if (pending) pending.push(row); // the first table is aligned over all its rows
      else writeRows([row]);
      return;
    }
    if (output === 'name') {
      io.stdout.write(`${events ? `${type} ` : ''}packetcapture.pcapper.dev/${pc.metadata.name ?? ''}\n`);
      return;
    }
    const obj = events ? { type, object: pc } : pc;
    if (output === 'json') io.stdout.write(`${JSON.stringify(obj, null, 4)}\n`);
    else io.stdout.write(`${docs > 0 ? '---\n' : ''}${yamlStringify(obj)}`);
    docs++;
  };
  try {
    await watchCaptures(kube.client, all ? undefined : kube.namespace, name, onEvent, io.signal, (n) => {
      if (n === 0 && table) io.stderr.write(all ? 'No packet captures found.\n' : `No packet captures found in ${kube.namespace} namespace.\n`);
      flush();
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError' && io.signal.aborted) return 0;
    throw e;
  }
  return 0;
}

export const getCommand = defineCommand(spec('get'), body('get'));
export const listCommand = defineCommand(spec('list'), body('list'));
