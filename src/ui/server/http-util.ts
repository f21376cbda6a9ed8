/** Small helpers of the UI server's HTTP shell: JSON answers, bounded JSON bodies, server-sent events. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { securityHeaders } from './security.js';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...securityHeaders(), 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string, extra: Record<string, unknown> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: message, ...extra });
}

/** Reads a JSON request body of at most `limit` bytes. */
export async function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw Object.assign(new Error(`request body larger than ${limit} bytes`), { status: 413 });
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
  } catch (e) {
    throw Object.assign(new Error('the request body is not valid JSON'), { status: 400, cause: e });
  }
}

/** Starts a server-sent event stream; returns a sender. A comment every 15 s keeps proxies from closing it. */
export function startEvents(req: IncomingMessage, res: ServerResponse): { send: (event: string, data: unknown) => void; closed: AbortSignal } {
  res.writeHead(200, { ...securityHeaders(), 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
  res.write(': pcapper\n\n');
  const ac = new AbortController();
  const keep = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const stop = (): void => {
    clearInterval(keep);
    ac.abort(new Error('client went away'));
  };
  req.once('close', stop);
  res.once('close', stop);
  return {
    send: (event, data) => {
      if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    closed: ac.signal,
  };
}
