import type { SinkWorld } from './sinks.js';
import type { StoreWorld } from './stores.js';

/** The few fields of core and apps objects the controller reads (informer caches hold full objects). */
export interface OwnerReference {
  apiVersion?: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: Meta;
  spec?: { nodeName?: string; hostNetwork?: boolean };
  status?: { phase?: string; podIP?: string };
}

export interface NodeObj {
  apiVersion?: string;
  kind?: string;
  metadata?: Meta;
}

export interface Workload {
  apiVersion?: string;
  kind?: string;
  metadata?: Meta;
  spec?: { selector?: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } };
}

/** What the planner may look up; the shell backs it with informer caches, tests with arrays. */
export interface World {
  /** Pods of a namespace. */
  podsIn(namespace: string): readonly Pod[];
  pod(namespace: string, name: string): Pod | undefined;
  workload(kind: string, namespace: string, name: string): Workload | undefined;
  /** A ReplicaSet by namespace/name (for Deployment -> ReplicaSet -> Pod ownership). */
  replicaSet(namespace: string, name: string): Workload | undefined;
  nodeExists(name: string): boolean;
  /** Stores and namespace labels (src/controller/stores.ts); absent when the controller runs without store support. */
  storeWorld?: StoreWorld;
  /** PacketCaptureSinks (src/controller/sinks.ts); absent when the controller runs without sink support. */
  sinkWorld?: SinkWorld;
}

/** A World over plain arrays (tests, benchmarks). */
export function arrayWorld(o: { pods?: Pod[]; workloads?: (Workload & { kind: string })[]; nodes?: string[] }): World {
  const pods = o.pods ?? [];
  const wl = o.workloads ?? [];
  const nodes = new Set(o.nodes ?? []);
  return {
    podsIn: (ns) => pods.filter((p) => p.metadata?.namespace === ns),
    pod: (ns, name) => pods.find((p) => p.metadata?.namespace === ns && p.metadata.name === name),
    workload: (kind, ns, name) => wl.find((w) => w.kind === kind && w.metadata?.namespace === ns && w.metadata.name === name),
    replicaSet: (ns, name) => wl.find((w) => w.kind === 'ReplicaSet' && w.metadata?.namespace === ns && w.metadata.name === name),
    nodeExists: (n) => nodes.has(n),
  };
}
