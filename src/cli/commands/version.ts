/** `kubectl pcap version`: the plugin's version (and the server's, when reachable with -o json). */
import { PCAPPER_VERSION } from '../../version.js';
import { API_VERSION } from '../../api/packetcapture.js';
import { outputFlag, str } from '../args.js';
import { defineCommand } from '../command.js';

export const versionCommand = defineCommand(
  {
    name: 'version',
    summary: 'Print the version of kubectl-pcap',
    usage: 'version [-o json|yaml]',
    flags: [outputFlag(['json', 'yaml'])],
    maxArgs: 0,
  },
  async (p, io) => {
    const info = { clientVersion: { pcapper: PCAPPER_VERSION, apiVersion: API_VERSION, node: process.version } };
    const o = str(p, 'output');
    if (o === 'json') io.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    else if (o === 'yaml') io.stdout.write(`clientVersion:\n  pcapper: ${PCAPPER_VERSION}\n  apiVersion: ${API_VERSION}\n  node: ${process.version}\n`);
    else io.stdout.write(`kubectl-pcap ${PCAPPER_VERSION} (API ${API_VERSION})\n`);
    return Promise.resolve(0);
  },
);
