import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, CONTENT_SECURITY_POLICY, cookieValue, hostAllowed, newToken, originAllowed, securityHeaders, sessionCookie, tokenMatches, type Secrets } from './security.js';

const PORT = 41234;
const secrets = (): Secrets => ({ urlToken: 'url-token-abc', session: 'session-xyz' });
const req = (o: Partial<{ method: string; url: string; host: string | undefined; cookie: string | undefined; origin: string | undefined }>) => ({
  method: 'GET',
  url: '/',
  host: `127.0.0.1:${PORT}`,
  cookie: undefined,
  origin: undefined,
  ...o,
});

describe('UI server security decisions', () => {
  it('tokens are random, URL-safe and compared exactly', () => {
    const a = newToken();
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, newToken());
    assert.equal(tokenMatches(a, a), true);
    assert.equal(tokenMatches(`${a}x`, a), false);
    assert.equal(tokenMatches('', a), false);
    assert.equal(tokenMatches(undefined, a), false);
  });
  it('cookies: parse and set HttpOnly SameSite=Strict', () => {
    assert.equal(cookieValue('a=1; pcapper_ui=xyz; b=2', 'pcapper_ui'), 'xyz');
    assert.equal(cookieValue('pcapper_uix=1', 'pcapper_ui'), undefined);
    assert.equal(cookieValue(undefined, 'pcapper_ui'), undefined);
    assert.match(sessionCookie('v'), /^pcapper_ui=v; HttpOnly; SameSite=Strict; Path=\/$/);
  });
  it('Host: only loopback names with our port (DNS rebinding)', () => {
    assert.equal(hostAllowed(`127.0.0.1:${PORT}`, PORT), true);
    assert.equal(hostAllowed(`localhost:${PORT}`, PORT), true);
    assert.equal(hostAllowed(`evil.example:${PORT}`, PORT), false);
    assert.equal(hostAllowed('127.0.0.1:1', PORT), false);
    assert.equal(hostAllowed('127.0.0.1', PORT), false);
    assert.equal(hostAllowed(undefined, PORT), false);
  });
  it('Origin: only our own on changing requests', () => {
    assert.equal(originAllowed(undefined, PORT), true);
    assert.equal(originAllowed(`http://127.0.0.1:${PORT}`, PORT), true);
    assert.equal(originAllowed('http://evil.example', PORT), false);
    assert.equal(originAllowed('null', PORT), false);
  });
  it('CSP: no inline script, no eval, self only; no CORS header ever', () => {
    assert.match(CONTENT_SECURITY_POLICY, /default-src 'self'/);
    assert.match(CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/);
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval|\*/);
    const h = securityHeaders();
    assert.equal(h['Content-Security-Policy'], CONTENT_SECURITY_POLICY);
    assert.equal(Object.keys(h).some((k) => k.toLowerCase().startsWith('access-control')), false);
  });
  it('a request without the token or cookie is refused, API included', () => {
    const s = secrets();
    assert.deepEqual(authorize(req({ url: '/' }), s, PORT).kind, 'refuse');
    const api = authorize(req({ url: '/api/captures' }), s, PORT);
    assert.equal(api.kind === 'refuse' && api.status, 401);
    // the URL token is not accepted on the API (only the cookie it was exchanged for)
    assert.equal(authorize(req({ url: '/api/captures?token=url-token-abc' }), s, PORT).kind, 'refuse');
    assert.equal(authorize(req({ url: '/?token=wrong' }), s, PORT).kind, 'refuse');
  });
  it('the URL token is exchanged once for the cookie; the cookie then works everywhere', () => {
    const s = secrets();
    const d = authorize(req({ url: '/?token=url-token-abc&x=1' }), s, PORT);
    assert.deepEqual(d, { kind: 'exchange', location: '/?x=1' });
    assert.equal(authorize(req({ url: '/api/captures', cookie: 'pcapper_ui=session-xyz' }), s, PORT).kind, 'ok');
    assert.equal(authorize(req({ url: '/api/captures', cookie: 'pcapper_ui=url-token-abc' }), s, PORT).kind, 'refuse');
    s.urlToken = undefined; // spent
    const again = authorize(req({ url: '/?token=url-token-abc' }), s, PORT);
    assert.equal(again.kind, 'refuse');
    assert.match(again.kind === 'refuse' ? again.message : '', /already used/);
  });
  it('wrong Host is refused even with a valid cookie; cross-origin POST too', () => {
    const s = secrets();
    const h = authorize(req({ host: `rebind.example:${PORT}`, cookie: 'pcapper_ui=session-xyz' }), s, PORT);
    assert.equal(h.kind === 'refuse' && h.status, 421);
    const o = authorize(req({ method: 'POST', url: '/api/captures', cookie: 'pcapper_ui=session-xyz', origin: 'http://evil.example' }), s, PORT);
    assert.equal(o.kind === 'refuse' && o.status, 403);
    assert.equal(authorize(req({ method: 'POST', url: '/api/captures', cookie: 'pcapper_ui=session-xyz', origin: `http://127.0.0.1:${PORT}` }), s, PORT).kind, 'ok');
  });
});
