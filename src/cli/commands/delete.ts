/** `kubectl pcap delete NAME... | --all`: deletes captures (the agents remove their files). */
import { setTimeout as sleep } from 'node:timers/promises';
import { bool } from '../args.js';
import { defineCommand, kubeFrom } from '../command.js';
import { KubeError } from '../kube.js';
import { UsageError } from '../errors.js';
import { schedulesPath } from '../schedule.js';

/** `pcapsched/NAME` (or packetcaptureschedule[s][.pcapper.dev]/NAME) names a schedule: its name, else undefined. */
export function scheduleArg(arg: string): string | undefined {
  const m = /^(pcapsched|packetcaptureschedules?)(\.pcapper\.dev)?\/(.+)$/.exec(arg);
  return m?.[3];
}

export const deleteCommand = defineCommand(
  {
    name: 'delete',
    summary: 'Delete packet captures (and their files on the nodes)',
    usage: 'delete NAME... | pcapsched/NAME... | --all [--wait]',
    flags: [
      { name: 'all', type: 'boolean', help: 'Delete every capture in the namespace' },
      { name: 'wait', type: 'boolean', help: 'Wait until the agents removed the files and the object is gone' },
    ],
    argsName: 'NAME',
    examples: ['kubectl pcap delete web-x7k2p', 'kubectl pcap delete --all -n shop', 'kubectl pcap delete pcapsched/nightly -n shop'],
  },
  async (p, io) => {
    const all = bool(p, 'all');
    if (!all && p.args.length === 0) throw new UsageError('NAME is required (or --all)', 'delete');
    if (all && p.args.length > 0) throw new UsageError('give NAMEs or --all, not both', 'delete');
    const kube = kubeFrom(p, io);
    const names = all ? (await kube.client.listCaptures(kube.namespace)).items.map((i) => i.metadata.name ?? '') : [...p.args];
    if (all && names.length === 0) {
      io.stderr.write(`No packet captures found in ${kube.namespace} namespace.\n`);
      return 0;
    }
    let failed = false;
    const deleted: string[] = [];
    for (const n of names) {
      const sched = scheduleArg(n);
      if (sched !== undefined) {
        // a schedule: the garbage collector deletes its captures (ownerReferences), their finalizer their files
        try {
          await kube.client.json('DELETE', schedulesPath(kube.namespace, sched), { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' } });
          io.stdout.write(`packetcaptureschedule.pcapper.dev "${sched}" deleted\n`);
        } catch (e) {
          if (e instanceof KubeError && e.status === 404) {
            io.stderr.write(`error: ${e.message}\n`);
            failed = true;
          } else throw e;
        }
        continue;
      }
      try {
        await kube.client.deleteCapture(kube.namespace, n);
        io.stdout.write(`packetcapture.pcapper.dev "${n}" deleted\n`);
        deleted.push(n);
      } catch (e) {
        if (e instanceof KubeError && e.status === 404 && e.reason === 'NotFound') {
          io.stderr.write(`error: ${e.message}\n`);
          failed = true;
        } else throw e;
      }
    }
    if (bool(p, 'wait')) {
      for (const n of deleted) {
        for (;;) {
          try {
            await kube.client.getCapture(kube.namespace, n);
          } catch (e) {
            if (e instanceof KubeError && e.status === 404) break;
            throw e;
          }
          if (io.signal.aborted) return 130;
          await sleep(250);
        }
      }
    }
    return failed ? 1 : 0;
  },
);
