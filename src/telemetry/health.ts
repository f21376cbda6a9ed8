/**
 * A small plain-HTTP listener for a component's probes and metrics (no TLS: it carries no secrets
 * and no capture data; the chart's NetworkPolicy decides who reaches it):
 *   GET /metrics  the Prometheus text format;
 *   GET /healthz  200 while the process serves requests: answering at all proves the event loop
 *                 is not stuck (the probe's timeout is the threshold);
 *   GET /readyz   200 when ready() says so, else 503 with the reason.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ListenAddress {
  /** undefined: every address (Node listens on :: when IPv6 is available, else 0.0.0.0). */
  readonly host: string | undefined;
  readonly port: number;
}

/** Parses HOST:PORT, :PORT or [V6]:PORT; throws a one-line error saying what is wrong. */
export function parseListenAddress(flag: string, v: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`${flag}: ${JSON.stringify(v)} is not HOST:PORT, :PORT or [IPv6]:PORT (e.g. :8080 or 127.0.0.1:0)`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

export interface ProbeServerOptions {
  address: ListenAddress;
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** undefined when ready, else why not (the 503 body). */
  notReady: () => string | undefined;
}

export interface ProbeServer {
  /** The bound address, e.g. 127.0.0.1:41234 or [::]:8080. */
  readonly address: string;
  close(): Promise<void>;
}

export async function startProbeServer(o: ProbeServerOptions): Promise<ProbeServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    if (path === '/healthz') return send(200, 'ok\n');
    if (path === '/readyz') {
      const why = o.notReady();
      return why === undefined ? send(200, 'ok\n') : send(503, `not ready: ${why}\n`);
    }
    if (path === '/metrics') {
      o.metrics().then(
        (m) => send(200, m.body, m.contentType),
        (e: unknown) => send(500, `metrics: ${e instanceof Error ? e.message : String(e)}\n`),
      );
      return;
    }
    send(404, 'not found: GET /metrics, /healthz or /readyz\n');
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.address.port, o.address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
