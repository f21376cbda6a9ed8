/**
 * The UI server's security decisions, pure: the one-time URL token and the session cookie it is
 * exchanged for, the Host check against DNS rebinding, the Origin check on changing requests, and
 * the headers every answer carries (a strict Content-Security-Policy, no CORS headers at all).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE_NAME = 'pcapper_ui';

/** A fresh random token (256 bits, URL-safe). */
export function newToken(random: (n: number) => Buffer = randomBytes): string {
  return random(32).toString('base64url');
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined || presented === '') return false;
  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie in a Cookie header (first occurrence), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for the session: HttpOnly (no script reads it), SameSite=Strict (no other site sends it), path /. */
export function sessionCookie(value: string): string {
  return `${COOKIE_NAME}=${value}; HttpOnly; SameSite=Strict; Path=/`;
}

/**
 * Whether a Host header names this server: 127.0.0.1:PORT or localhost:PORT only. Anything else
 * (an attacker's domain rebound to 127.0.0.1) is refused, so a page of another site can never
 * talk to the UI even if it guessed the port.
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
}

/**
 * Whether a state-changing request (POST, DELETE) comes from our own page: browsers send Origin on
 * such requests; it must be our origin. A missing Origin (curl with the cookie) is accepted: the
 * cookie already proves the token.
 */
export function originAllowed(origin: string | undefined, port: number): boolean {
  if (origin === undefined) return true;
  return origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}` || origin === `http://[::1]:${port}`;
}

/** No inline script, no eval, nothing from elsewhere; images only from here or data: (none are used). */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers on every answer (pages, assets, API, errors). No Access-Control-* header is ever sent. */
export function securityHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}

export type AuthDecision =
  | { kind: 'ok' }
  /** The URL token is right: set the cookie and redirect to the same path without the token. */
  | { kind: 'exchange'; location: string }
  | { kind: 'refuse'; status: 401 | 403 | 421; message: string };

/** The secrets of one server: the URL token (undefined once it was exchanged) and the session cookie's value. */
export interface Secrets {
  urlToken: string | undefined;
  session: string;
}

/**
 * Decides one request: Host first (421 when wrong), Origin on changing requests, then the session
 * cookie, else the one-time URL token (only on a page load: GET of a path outside /api/), else 401.
 */
export function authorize(req: { method: string; url: string; host: string | undefined; cookie: string | undefined; origin: string | undefined }, secrets: Secrets, port: number): AuthDecision {
  if (!hostAllowed(req.host, port)) return { kind: 'refuse', status: 421, message: `this server answers only to 127.0.0.1:${port} (Host header was ${JSON.stringify(req.host ?? '')})` };
  if (req.method !== 'GET' && req.method !== 'HEAD' && !originAllowed(req.origin, port)) return { kind: 'refuse', status: 403, message: `cross-origin request from ${req.origin ?? ''} refused` };
  if (tokenMatches(cookieValue(req.cookie, COOKIE_NAME), secrets.session)) return { kind: 'ok' };
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  const presented = url.searchParams.get('token') ?? undefined;
  if (req.method === 'GET' && !url.pathname.startsWith('/api/') && secrets.urlToken !== undefined && tokenMatches(presented, secrets.urlToken)) {
    url.searchParams.delete('token');
    return { kind: 'exchange', location: `${url.pathname}${url.search}` };
  }
  if (presented !== undefined && secrets.urlToken === undefined) {
    return { kind: 'refuse', status: 401, message: 'this one-time URL was already used: restart `kubectl pcap ui` for a new one, or use the browser window it opened' };
  }
  return { kind: 'refuse', status: 401, message: 'no valid session: open the URL that `kubectl pcap ui` printed (it carries a one-time token)' };
}
