/**
 * spec.sink: may this capture publish to the PacketCaptureSink it names? Pure decision, like
 * resolveStore (src/controller/stores.ts): the sink must exist and allow the capture's namespace
 * (`allowedNamespaces.names`; the system namespace always may). A refusal is terminal and says how
 * to fix it (docs/kafka.md).
 */
import type { PacketCapture } from '../api/packetcapture.js';
import type { PacketCaptureSink } from '../api/packetcapturesink.js';

export interface SinkWorld {
  sink(name: string): PacketCaptureSink | undefined;
  sinks(): readonly PacketCaptureSink[];
}

export type SinkResolution = { readonly kind: 'none' | 'sink' } | { readonly kind: 'refused'; readonly reason: 'SinkNotFound' | 'SinkNotAllowed'; readonly message: string };

export function sinkAllowed(sink: PacketCaptureSink, namespace: string, systemNamespace: string): boolean {
  return namespace === systemNamespace || (sink.spec.allowedNamespaces?.names ?? []).includes(namespace);
}

export function resolveSink(pc: PacketCapture, world: SinkWorld | undefined, systemNamespace: string): SinkResolution {
  const name = pc.spec.sink;
  if (name === undefined) return { kind: 'none' };
  const ns = pc.metadata.namespace ?? '';
  if (!world) {
    return {
      kind: 'refused',
      reason: 'SinkNotFound',
      message: `spec.sink "${name}": this controller runs without sink support (no PacketCaptureSink CRD); install the chart's CRDs, or remove spec.sink`,
    };
  }
  const sink = world.sink(name);
  if (!sink || sink.metadata.deletionTimestamp) {
    const usable = world.sinks().filter((s) => sinkAllowed(s, ns, systemNamespace)).map((s) => s.metadata.name ?? '');
    return {
      kind: 'refused',
      reason: 'SinkNotFound',
      message: `PacketCaptureSink "${name}" does not exist${usable.length ? `; sinks this namespace may use: ${usable.join(', ')}` : '; no sink allows this namespace (kubectl get pcapsink lists them)'}: fix spec.sink, or ask the cluster admin to create the sink`,
    };
  }
  if (!sinkAllowed(sink, ns, systemNamespace)) {
    return {
      kind: 'refused',
      reason: 'SinkNotAllowed',
      message: `PacketCaptureSink "${name}" does not allow namespace "${ns}": the cluster admin must add "${ns}" to its spec.allowedNamespaces.names, or name another sink`,
    };
  }
  return { kind: 'sink' };
}
