/**
 * The JSON shapes exchanged between the UI server (src/ui/server) and the page (src/ui/web). Types
 * only: imported by both sides, so nothing here may touch Node or the DOM.
 */
export const TARGET_KINDS = ['pod', 'deploy', 'sts', 'ds', 'rs', 'selector', 'node'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** The create form, as the page sends it: strings as typed, empty = not set. */
export interface CaptureForm {
  namespace: string;
  kind: TargetKind;
  target: string;
  name?: string;
  targetNamespace?: string;
  interface?: string;
  duration?: string;
  count?: string;
  filter?: string;
  snaplen?: string;
  maxFileSize?: string;
  fileCount?: string;
  ttl?: string;
  jobId?: string;
  failIfNoTargets?: boolean;
  immediate?: boolean;
}

export interface FormProblem {
  /** A CaptureForm key, or '' when it concerns the whole form. */
  field: keyof CaptureForm | '';
  message: string;
}

export interface PreviewResult {
  ok: boolean;
  problems: FormProblem[];
  /** The YAML `kubectl pcap init` would write (when ok). */
  yaml?: string;
  /** The PacketCapture object (when ok). */
  object?: unknown;
}

export interface ApiErrorBody {
  error: string;
  /** For display filter errors: where in the expression. */
  position?: number;
  length?: number;
  field?: string;
}

export interface InfoResponse {
  version: string;
  cluster: { server: string; namespace: string } | null;
  /** Why there is no cluster (no kubeconfig, ...): the local parts still work. */
  clusterError?: string;
  store: string;
  maxUpload: number;
}

export interface SourceInfo {
  /** `file:N`, `store:NAME` or `cluster:NS/NAME`. */
  id: string;
  kind: 'file' | 'store' | 'cluster';
  label: string;
  files: number;
  bytes: number;
}

export interface CaptureRowInfo {
  namespace: string;
  name: string;
  state: string;
  target: string;
  targets: string;
  packets: number;
  bytes: number;
  drops: number;
  created: string;
}

export interface ListResponse {
  /** Where the list comes from: all namespaces or just one (when RBAC allows only that). */
  scope: string;
  items: CaptureRowInfo[];
}

export interface NodeFiles {
  node: string;
  error?: string;
  live?: string[];
  files: { target: string; name: string; size: number; kind: string; modified?: string }[];
}

export interface CaptureDetailResponse {
  object: unknown;
  row: CaptureRowInfo;
  files: NodeFiles[];
  filesError?: string;
  events: { type: string; reason: string; message: string; count: number; lastTimestamp: string }[];
  eventsError?: string;
}

export interface ImportResponse {
  name: string;
  files: { path: string; metadata: boolean; packets?: number }[];
}

export interface RowsResponse {
  total: number;
  /** Packets in the whole view (with a filter: all packets, not just the matches). */
  packetCount: number;
  rows: import('../../pcap/view/types.js').PacketRow[];
}
