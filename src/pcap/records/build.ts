/**
 * Pure builders of the records (./types.ts) from what the summary's trackers know: a reported
 * conversation with its TCP state, an HTTP/2 stream, an HTTP/1.x or DNS transaction. Endpoints are
 * named from capture metadata (the same map the summary uses).
 */
import type { EndpointInfo } from '../metadata.js';
import { grpcStatusName } from '../grpc/grpc.js';
import type { H2Transaction } from '../h2/connection.js';
import type { Flow } from '../summary/flow.js';
import type { TcpConnection } from '../summary/tcp.js';
import type { Conversation } from '../summary/types.js';
import type { ConnState, ConnectionRecord, DnsRecord, Http2Record, HttpRecord, RecordEndpoint } from './types.js';

export type EndpointMap = ReadonlyMap<string, EndpointInfo> | undefined;

export function recordEndpoint(ip: string, port: number, endpoints: EndpointMap): RecordEndpoint {
  const info = endpoints?.get(ip);
  return {
    ip,
    port: port >= 0 ? port : null,
    pod: info?.pod ?? null,
    namespace: info?.namespace ?? null,
    node: info?.node ?? null,
    workload: info?.workload ?? null,
    external: info === undefined,
  };
}

/** Zeek conn_state from the TCP state of the originator (`o`) and responder (`r`) sides. */
export function connState(c: TcpConnection): ConnState {
  const oA = c.clientIsA;
  const finO = oA ? c.finA : c.finB;
  const finR = oA ? c.finB : c.finA;
  const rstO = oA ? c.rstA : c.rstB;
  const rstR = oA ? c.rstB : c.rstA;
  if (c.synTime < 0) return 'OTH';
  if (c.refused) return 'REJ';
  if (c.synAckTime < 0) return finO ? 'SH' : 'S0';
  if (rstO) return 'RSTO';
  if (rstR) return 'RSTR';
  if (finO && finR) return 'SF';
  if (finO) return 'S2';
  if (finR) return 'S3';
  return 'S1';
}

function swapCase(s: string): string {
  let o = '';
  for (const ch of s) o += ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase();
  return o;
}

/** A reported conversation as a connection record; `tcp` is its TCP state (null for other protocols). */
export function connectionRecord(flow: Flow, conv: Conversation, tcp: TcpConnection | null, endpoints: EndpointMap): ConnectionRecord {
  // the originator: the SYN's sender, else A (the first packet's source)
  const origIsA = tcp === null || tcp.synTime < 0 || tcp.clientIsA;
  const a = recordEndpoint(flow.aAddr, flow.aPort, endpoints);
  const b = recordEndpoint(flow.bAddr, flow.bPort, endpoints);
  return {
    schemaVersion: 1,
    kind: 'connection',
    ts: conv.firstTime,
    durationSeconds: conv.durationSeconds,
    protocol: conv.protocol,
    orig: origIsA ? a : b,
    resp: origIsA ? b : a,
    origPackets: origIsA ? conv.packetsAtoB : conv.packetsBtoA,
    origBytes: origIsA ? conv.bytesAtoB : conv.bytesBtoA,
    respPackets: origIsA ? conv.packetsBtoA : conv.packetsAtoB,
    respBytes: origIsA ? conv.bytesBtoA : conv.bytesAtoB,
    state: tcp === null ? null : connState(tcp),
    history: tcp === null ? '' : origIsA ? tcp.history : swapCase(tcp.history),
    handshakeRttMs: tcp !== null && tcp.rttMs >= 0 ? Math.round(tcp.rttMs * 1000) / 1000 : null,
    retransmissions: tcp?.retrans ?? 0,
    resets: tcp?.resets ?? 0,
    capturePoints: conv.capturePoints,
  };
}

export function http2Record(tx: H2Transaction, flow: Flow, clientIsA: boolean, endpoints: EndpointMap): Http2Record {
  const a = recordEndpoint(flow.aAddr, flow.aPort, endpoints);
  const b = recordEndpoint(flow.bAddr, flow.bPort, endpoints);
  const g = tx.grpc;
  return {
    schemaVersion: 1,
    kind: 'http2',
    ts: tx.startTime,
    client: clientIsA ? a : b,
    server: clientIsA ? b : a,
    streamId: tx.streamId,
    upgraded: tx.upgraded,
    method: tx.method,
    path: tx.path,
    authority: tx.authority,
    scheme: tx.scheme,
    contentType: tx.contentType,
    status: tx.status,
    requestBytes: tx.requestBytes,
    responseBytes: tx.responseBytes,
    latencyMs: tx.latencyMs,
    end: tx.end,
    resetCode: tx.resetCode,
    resetBy: tx.resetBy,
    grpc:
      g === null
        ? null
        : {
            service: g.service,
            method: g.method,
            status: g.status,
            statusName: g.status === null ? null : grpcStatusName(g.status),
            message: g.message,
            requestMessages: g.requestMessages,
            responseMessages: g.responseMessages,
            compressedMessages: g.compressedMessages,
          },
  };
}

/** `clientIsA`: the request went from A to B. */
export function httpRecord(ts: number, flow: Flow, clientIsA: boolean, method: string, path: string, status: number | null, latencyMs: number | null, endpoints: EndpointMap): HttpRecord {
  const a = recordEndpoint(flow.aAddr, flow.aPort, endpoints);
  const b = recordEndpoint(flow.bAddr, flow.bPort, endpoints);
  return { schemaVersion: 1, kind: 'http', ts, client: clientIsA ? a : b, server: clientIsA ? b : a, method, path, status, latencyMs: latencyMs === null ? null : Math.round(latencyMs * 1000) / 1000 };
}

export function dnsRecord(
  ts: number,
  flow: Flow,
  clientIsA: boolean,
  q: { id: number; qname: string; qtype: string },
  rcode: string | null,
  answers: number | null,
  latencyMs: number | null,
  endpoints: EndpointMap,
): DnsRecord {
  const a = recordEndpoint(flow.aAddr, flow.aPort, endpoints);
  const b = recordEndpoint(flow.bAddr, flow.bPort, endpoints);
  return {
    schemaVersion: 1,
    kind: 'dns',
    ts,
    client: clientIsA ? a : b,
    server: clientIsA ? b : a,
    id: q.id,
    qname: q.qname,
    qtype: q.qtype,
    rcode,
    answers,
    latencyMs: latencyMs === null ? null : Math.round(latencyMs * 1000) / 1000,
  };
}
