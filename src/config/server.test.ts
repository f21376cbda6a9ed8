import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadServerConfig, ServerConfigError } from './server.js';

const base = { PCAPPER_TLS_CERT: '/t/tls.crt', PCAPPER_TLS_KEY: '/t/tls.key', PCAPPER_CA: '/t/ca.crt' };

function errorOf(env: Record<string, string>): ServerConfigError {
  try {
    loadServerConfig(env);
  } catch (e) {
    assert.ok(e instanceof ServerConfigError, String(e));
    return e;
  }
  assert.fail('expected a ServerConfigError');
}

describe('loadServerConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadServerConfig(base);
    assert.equal(c.listenHost, '0.0.0.0');
    assert.equal(c.listenPort, 8443);
    assert.equal(c.systemNamespace, 'pcapper');
    assert.equal(c.agentDaemonSet, 'pcapper-agent');
    assert.equal(c.agentServerName, 'pcapper-agent.pcapper.svc');
    assert.equal(c.authRefreshMs, 60_000);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.logFormat, 'json');
    assert.equal(c.certFile, '/t/tls.crt');
    assert.equal(c.caFile, '/t/ca.crt');
  });

  it('names each missing required variable', () => {
    for (const v of ['PCAPPER_TLS_CERT', 'PCAPPER_TLS_KEY', 'PCAPPER_CA'] as const) {
      const env: Record<string, string> = { ...base };
      delete env[v];
      const e = errorOf(env);
      assert.equal(e.variable, v);
      assert.match(e.message, new RegExp(`^${v}: is required`));
    }
  });

  it('reads the overrides', () => {
    const c = loadServerConfig({ ...base, PCAPPER_LISTEN: '[::1]:0', PCAPPER_SYSTEM_NAMESPACE: 'pc-sys', PCAPPER_AGENT_DAEMONSET: 'agent-x', PCAPPER_AUTH_REFRESH: '5s', PCAPPER_LOG_LEVEL: 'debug', PCAPPER_LOG_FORMAT: 'text' });
    assert.equal(c.listenHost, '::1');
    assert.equal(c.listenPort, 0);
    assert.equal(c.systemNamespace, 'pc-sys');
    assert.equal(c.agentServerName, 'pcapper-agent.pc-sys.svc');
    assert.equal(c.agentDaemonSet, 'agent-x');
    assert.equal(c.authRefreshMs, 5000);
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.logFormat, 'text');
  });

  it('rejects malformed values with the variable named', () => {
    assert.equal(errorOf({ ...base, PCAPPER_LISTEN: '8443' }).variable, 'PCAPPER_LISTEN');
    assert.equal(errorOf({ ...base, PCAPPER_LISTEN: 'h:99999' }).variable, 'PCAPPER_LISTEN');
    assert.equal(errorOf({ ...base, PCAPPER_SYSTEM_NAMESPACE: 'Bad_NS' }).variable, 'PCAPPER_SYSTEM_NAMESPACE');
    assert.equal(errorOf({ ...base, PCAPPER_AGENT_DAEMONSET: '../x' }).variable, 'PCAPPER_AGENT_DAEMONSET');
    assert.equal(errorOf({ ...base, PCAPPER_AUTH_REFRESH: '10ms' }).variable, 'PCAPPER_AUTH_REFRESH');
    assert.equal(errorOf({ ...base, PCAPPER_LOG_LEVEL: 'loud' }).variable, 'PCAPPER_LOG_LEVEL');
    assert.equal(errorOf({ ...base, PCAPPER_LOG_FORMAT: 'xml' }).variable, 'PCAPPER_LOG_FORMAT');
  });
});
