/**
 * Where each interface of a capture file was captured (pure once the metadata is read): from the
 * metadata `kubectl pcap export` puts in the interface's comments (`pcapper.meta=<JSON>`), else
 * the `pcapper.pod=` / `pcapper.node=` comments `kubectl pcap merge` writes, else the file's
 * sidecar (`<file>.meta.json` / `capture-meta.json`), else the interface name (or the file name).
 */
import { basename } from 'node:path';
import { metadataFromComments, type CaptureMetadata } from '../metadata.js';
import type { CaptureInterface } from '../reader.js';
import type { CapturePointInfo } from '../filter/packet.js';

export function capturePointOf(iface: CaptureInterface, sidecar: CaptureMetadata | undefined, file: string): { point: CapturePointInfo; metadata: CaptureMetadata | undefined } {
  const meta = metadataFromComments(iface.comments) ?? sidecar;
  if (meta !== undefined) {
    if (meta.targetKind === 'pod' && meta.pod) return { point: { label: `${meta.pod.namespace}/${meta.pod.name}`, pod: meta.pod.name, namespace: meta.pod.namespace, node: meta.nodeName }, metadata: meta };
    const ifname = meta.interfaces.length === 1 ? meta.interfaces[0]! : (iface.name?.split('/').pop() ?? meta.interfaces[0] ?? 'any');
    return { point: { label: `node:${meta.nodeName}/${ifname}`, node: meta.nodeName }, metadata: meta };
  }
  const c = (k: string): string | undefined => iface.comments.find((x) => x.startsWith(`pcapper.${k}=`))?.slice(k.length + 9);
  const pod = c('pod');
  const node = c('node');
  if (pod !== undefined && pod.includes('/')) {
    const [ns, name] = pod.split('/', 2) as [string, string];
    return { point: { label: pod, pod: name, namespace: ns, node }, metadata: undefined };
  }
  if (node !== undefined) return { point: { label: `node:${node}/${(c('interfaces') ?? 'any').split(',')[0]}`, node }, metadata: undefined };
  return { point: { label: iface.name ?? basename(file) }, metadata: undefined };
}
