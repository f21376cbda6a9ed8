/** `kubectl pcap describe NAME`: spec, per-target and per-node status, conditions and events. */
import { defineCommand, kubeFrom } from '../command.js';
import { describeCapture } from '../printers.js';
import { KIND } from '../../api/packetcapture.js';

interface EventList {
  items: { type?: string; reason?: string; message?: string; lastTimestamp?: string; eventTime?: string; firstTimestamp?: string; count?: number; metadata?: { creationTimestamp?: string } }[];
}

export const describeCommand = defineCommand(
  {
    name: 'describe',
    summary: 'Show a packet capture in detail: targets, nodes, files, conditions and events',
    usage: 'describe NAME',
    flags: [],
    minArgs: 1,
    maxArgs: 1,
    argsName: 'NAME',
    examples: ['kubectl pcap describe web-x7k2p -n shop'],
  },
  async (p, io) => {
    const kube = kubeFrom(p, io);
    const name = p.args[0] as string;
    const pc = await kube.client.getCapture(kube.namespace, name);
    let events: EventList['items'] = [];
    try {
      const sel = encodeURIComponent(`involvedObject.name=${name},involvedObject.kind=${KIND}`);
      const l = await kube.client.json<EventList>('GET', `/api/v1/namespaces/${encodeURIComponent(kube.namespace)}/events?fieldSelector=${sel}`);
      events = l.items;
    } catch {
      // events are best effort (a user may not be allowed to list them)
    }
    const evs = events
      .map((e) => ({ ...e, lastTimestamp: e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp }))
      .sort((a, b) => Date.parse(a.lastTimestamp ?? '') - Date.parse(b.lastTimestamp ?? ''));
    io.stdout.write(describeCapture(pc, evs, new Date()));
    return 0;
  },
);
