/**
 * The server's mutual-TLS client to the agents: trusts only the pcapper CA, checks the agent's
 * certificate for the agents' DNS name (pcapper-agent.pcapper.svc), never the pod IP it dials,
 * and presents the server's own certificate (CN pcapper-server). One keep-alive pool; the TLS
 * material can be swapped (rotated certificates) for new connections.
 */
import https from 'node:https';
import type http from 'node:http';
import tls from 'node:tls';

export interface AgentTls {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}

export interface AgentAddress {
  ip: string;
  port: number;
}

/** The agent could not be reached or did not answer in time (the shell answers 503). */
export class AgentUnreachableError extends Error {
  override readonly name = 'AgentUnreachableError';
}

export interface AgentClientOptions {
  tls: AgentTls;
  /** The DNS name every agent certificate carries. */
  serverName: string;
  /** Time allowed for the connection and the response headers (default 10 s). */
  headersTimeoutMs?: number;
}

export class AgentClient {
  private agent: https.Agent;
  private tlsMaterial: AgentTls;

  constructor(private readonly o: AgentClientOptions) {
    this.tlsMaterial = o.tls;
    this.agent = this.makeAgent();
  }

  private makeAgent(): https.Agent {
    // Idle pooled sockets close after 60 s, so a replaced pool drains by itself.
    return new https.Agent({ keepAlive: true, maxSockets: 256, timeout: 60_000, ...this.tlsMaterial });
  }

  /** Uses new TLS material for new connections (a no-op when unchanged). */
  setTls(material: AgentTls): void {
    const same = (a: string | Buffer, b: string | Buffer): boolean => Buffer.from(a).equals(Buffer.from(b));
    if (same(material.ca, this.tlsMaterial.ca) && same(material.cert, this.tlsMaterial.cert) && same(material.key, this.tlsMaterial.key)) return;
    this.tlsMaterial = material;
    this.agent = this.makeAgent();
  }

  /**
   * Sends GET `path` to the agent at `addr`; resolves with the response once its headers arrived.
   * The caller owns the returned request: destroy it to abort (client went away).
   */
  get(addr: AgentAddress, path: string, headers: Record<string, string> = {}): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
    const serverName = this.o.serverName;
    const timeoutMs = this.o.headersTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: addr.ip,
        port: addr.port,
        path,
        method: 'GET',
        headers: { ...headers, 'User-Agent': 'pcapper-server' },
        agent: this.agent,
        ...this.tlsMaterial,
        servername: serverName,
        // Verify the agents' service name, not the pod IP we dial.
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
      });
      let answered = false;
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('socket', (s) => {
        // Live streams: every packet goes out at once.
        s.setNoDelay(true);
      });
      req.on('response', (res) => {
        answered = true;
        clearTimeout(timer);
        resolve({ req, res });
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        if (!answered) reject(new AgentUnreachableError(e.message, { cause: e }));
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Reads a whole (small) response body, at most `limit` bytes. */
export function readBody(res: http.IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        res.destroy(new Error(`response larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('response aborted')));
  });
}
