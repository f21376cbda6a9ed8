// Message keys. Kafka's default partitioner hashes the key (murmur2), so every record of one pod of one
// capture lands on one partition, in order, and raw packets of one target likewise.

/** Records: `<namespace>/<capture>/<pod>`. */
export function recordKey(namespace: string, capture: string, pod: string): string {
  return `${namespace}/${capture}/${pod}`;
}

/** Raw pcapng messages: `<namespace>/<capture>/<target>` (a target is a pod's netns or a node). */
export function rawKey(namespace: string, capture: string, target: string): string {
  return `${namespace}/${capture}/${target}`;
}
