import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CONTROLLER_OPTIONS, CONTROLLER_USAGE, loadControllerConfig } from './config.js';

describe('controller config', () => {
  it('defaults come from the options table', () => {
    const c = loadControllerConfig([], {});
    assert.equal(c.systemNamespace, 'pcapper');
    assert.equal(c.leaseNamespace, 'pcapper');
    assert.equal(c.leaseName, CONTROLLER_OPTIONS['lease-name'].shown);
    assert.equal(c.resolveGraceSeconds, 10);
    assert.equal(c.deadlineGraceSeconds, 30);
    assert.equal(c.cleanupTimeoutSeconds, 600);
    assert.equal(c.concurrency, 4);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.logFormat, 'json');
    assert.equal(c.metricsAddr, undefined);
    assert.equal(c.leaderElect, false);
    assert.ok(Object.isFrozen(c));
  });

  it('a flag wins over its variable; the variable over the default', () => {
    const env = { PCAPPER_SYSTEM_NAMESPACE: 'ops', PCAPPER_LOG_LEVEL: 'debug', POD_NAME: 'ctl-0', PCAPPER_METRICS_ADDR: ':8080', KUBECONFIG: '/k' };
    const c = loadControllerConfig(['--log-level=warn', '--leader-elect', '--concurrency', '2'], env);
    assert.equal(c.systemNamespace, 'ops');
    assert.equal(c.leaseNamespace, 'ops');
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.identity, 'ctl-0');
    assert.equal(c.metricsAddr?.port, 8080);
    assert.equal(c.kubeconfig, undefined, '--kubeconfig only; KUBECONFIG is handed on as kubeconfigEnv');
    assert.equal(c.kubeconfigEnv, '/k');
    assert.equal(c.leaderElect, true);
    assert.equal(c.concurrency, 2);
  });

  it('bad input names the flag', () => {
    assert.throws(() => loadControllerConfig(['--bogus'], {}), /unknown flag: --bogus/);
    assert.throws(() => loadControllerConfig(['extra'], {}), /unexpected argument "extra"/);
    assert.throws(() => loadControllerConfig(['--namespace', 'x'], {}), /unknown flag: --namespace/, 'no kubectl global flags');
    assert.throws(() => loadControllerConfig(['--resolve-grace', 'soon'], {}), /--resolve-grace: "soon" is not a non-negative number/);
    assert.throws(() => loadControllerConfig([], { PCAPPER_LOG_FORMAT: 'xml' }), /--log-format: xml is not json or text/);
    assert.throws(() => loadControllerConfig(['--system-namespace', 'Bad_NS'], {}), /--system-namespace: "Bad_NS" is not a DNS-1123 label/);
  });

  it('the usage lists every flag', () => {
    for (const flag of Object.keys(CONTROLLER_OPTIONS)) assert.match(CONTROLLER_USAGE, new RegExp(`--${flag}\\b`));
  });
});
