/** `kubectl pcap list` / `get [NAME...]`: PacketCaptures as a table, wide table, json, yaml or names. */
import { ALL_NAMESPACES_FLAG, bool, outputFlag, str, type CommandSpec, type ParsedArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { defineCommand, kubeFrom } from '../command.js';
import { printCaptures, OUTPUT_FORMATS, type OutputFormat } from '../printers.js';
import type { PacketCapture } from '../../api/packetcapture.js';
import { KubeError } from '../kube.js';

const spec = (name: 'get' | 'list'): CommandSpec => ({
  name,
  summary: name === 'list' ? 'List packet captures' : 'Show packet captures (all, or the named ones)',
  usage: name === 'list' ? 'list [-A] [-o json|yaml|wide|name]' : 'get [NAME...] [-A] [-o json|yaml|wide|name]',
  flags: [ALL_NAMESPACES_FLAG, outputFlag(OUTPUT_FORMATS)],
  maxArgs: name === 'list' ? 0 : Infinity,
  argsName: 'NAME',
  examples: name === 'list' ? ['kubectl pcap list -A', 'kubectl pcap list -n shop -o wide'] : ['kubectl pcap get web-x7k2p -o yaml', 'kubectl pcap get -o name'],
});

const body =
  () =>
  async (p: ParsedArgs, io: CliIo): Promise<number> => {
    const kube = kubeFrom(p, io);
    const all = bool(p, 'all-namespaces');
    const output = (str(p, 'output') ?? 'table') as OutputFormat;
    const now = new Date();
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

export const getCommand = defineCommand(spec('get'), body());
export const listCommand = defineCommand(spec('list'), body());
