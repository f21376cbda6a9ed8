// The record the sink publishes. A stand-in until the versioned record schema of src/pcap/records
// (branch h2grpc) is merged: any JSON object with a schemaVersion and a kind. The sink does not look
// inside beyond these; it serialises each record to one JSON message.
export interface SinkRecord {
  readonly schemaVersion: number;
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** Where a record came from: decides its key. */
export interface RecordOrigin {
  readonly namespace: string;
  readonly capture: string;
  readonly pod: string;
}

export function encodeRecord(r: SinkRecord): Buffer {
  return Buffer.from(JSON.stringify(r));
}
