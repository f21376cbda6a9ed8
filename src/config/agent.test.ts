import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS } from '../api/validate.js';
import { admit } from '../capture/disk.js';
import { promisedBytes } from '../capture/tcpdump.js';
import { AgentConfigError, loadAgentConfig as load, parseEnvDuration, parseEnvSize } from './agent.js';

const TLS = { PCAPPER_TLS_CERT: '/tls/tls.crt', PCAPPER_TLS_KEY: '/tls/tls.key', PCAPPER_CA: '/tls/ca.crt' };
/** Every test environment carries the (required) TLS files unless it says otherwise. */
const loadAgentConfig = (env: Record<string, string | undefined>) => load({ ...TLS, ...env });

describe('agent config', () => {
  it('applies the seed 002 defaults', () => {
    const c = loadAgentConfig({ NODE_NAME: 'worker-01' });
    assert.equal(c.nodeName, 'worker-01');
    assert.equal(c.maxTotalFileSize, 10e9);
    assert.equal(c.minFreeDisk, 20e9);
    assert.equal(c.deleteOlderThanMs, 2 * 86_400_000);
    assert.equal(c.dataDir, '/hostmount');
    assert.equal(c.hostDataDir, '/var/pcapper');
    assert.equal(c.listenHost, '0.0.0.0');
    assert.equal(c.listenPort, 9443);
    assert.equal(c.procRoot, '/proc');
    assert.deepEqual(c.tls, { certFile: '/tls/tls.crt', keyFile: '/tls/tls.key', caFile: '/tls/ca.crt' });
    assert.deepEqual(c.clientNames, ['pcapper-server']);
    assert.equal(c.systemNamespace, 'pcapper');
    assert.ok(Object.isFrozen(c));
  });

  it('reads every variable', () => {
    const c = loadAgentConfig({
      NODE_NAME: 'n1',
      MAX_TOTAL_FILESIZE: '500Mi',
      MIN_FREE_DISK: '1048576',
      DELETE_OLDER_THAN: '90m',
      PCAPPER_DATA_DIR: '/tmp/x/',
      PCAPPER_LISTEN: '127.0.0.1:0',
      PCAPPER_PROC_ROOT: '/tmp/proc',
      PCAPPER_MAX_CAPTURES: '3',
      PCAPPER_STATUS_INTERVAL: '1.5s',
      PCAPPER_CLIENT_NAMES: 'pcapper-server, backup-reader',
      PCAPPER_SYSTEM_NAMESPACE: 'ops',
    });
    assert.equal(c.maxTotalFileSize, 500 * 1024 * 1024);
    assert.equal(c.minFreeDisk, 1048576);
    assert.equal(c.deleteOlderThanMs, 90 * 60_000);
    assert.equal(c.dataDir, '/tmp/x');
    assert.equal(c.listenHost, '127.0.0.1');
    assert.equal(c.listenPort, 0);
    assert.deepEqual(c.clientNames, ['pcapper-server', 'backup-reader']);
    assert.equal(c.systemNamespace, 'ops');
    assert.equal(c.maxConcurrentCaptures, 3);
    assert.equal(c.statusIntervalMs, 1500);
  });

  it('encryption at rest is on unless the admin turns it off; upload settings', () => {
    const d = loadAgentConfig({ NODE_NAME: 'n' });
    assert.equal(d.encryption, true);
    assert.equal(d.encryptionKeysDir, '/etc/pcapper/keys');
    assert.equal(d.storeCredentialsDir, '/etc/pcapper/store-credentials');
    assert.equal(d.uploadConcurrency, 2);
    assert.equal(d.uploadRetryMaxMs, 60_000);
    assert.equal(loadAgentConfig({ NODE_NAME: 'n', PCAPPER_ENCRYPTION: 'off' }).encryption, false);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_ENCRYPTION: 'maybe' }), /PCAPPER_ENCRYPTION: "maybe" is not on or off/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_KEYRING_DIR: 'keys' }), /PCAPPER_KEYRING_DIR: "keys" is not an absolute path/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_UPLOAD_CONCURRENCY: '0' }), /PCAPPER_UPLOAD_CONCURRENCY/);
  });

  it('pair metrics top-N: default 100, an integer from 1', () => {
    assert.equal(loadAgentConfig({ NODE_NAME: 'n' }).pairMetricsTopN, 100);
    assert.equal(loadAgentConfig({ NODE_NAME: 'n', PCAPPER_PAIR_METRICS_TOP_N: '7' }).pairMetricsTopN, 7);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_PAIR_METRICS_TOP_N: '0' }), /PCAPPER_PAIR_METRICS_TOP_N/);
  });

  it('parses sizes and durations', () => {
    assert.equal(parseEnvSize('10G'), 10e9);
    assert.equal(parseEnvSize('1Gi'), 1024 ** 3);
    assert.equal(parseEnvSize('2k'), 2000);
    assert.equal(parseEnvSize('1.5M'), 1_500_000);
    assert.equal(parseEnvSize('10X'), undefined);
    assert.equal(parseEnvSize('-1G'), undefined);
    assert.equal(parseEnvDuration('2d'), 172_800_000);
    assert.equal(parseEnvDuration('12h'), 43_200_000);
    assert.equal(parseEnvDuration('30s'), 30_000);
    assert.equal(parseEnvDuration('0.5s'), 500);
    assert.equal(parseEnvDuration('600'), 600_000);
    assert.equal(parseEnvDuration('2w'), undefined);
  });

  it('names the variable and the accepted format on bad values', () => {
    assert.throws(() => loadAgentConfig({}), (e: unknown) => e instanceof AgentConfigError && e.variable === 'NODE_NAME' && /required/.test(e.message));
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'Bad_Node' }), /NODE_NAME: "Bad_Node" is not a Kubernetes node name/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', MAX_TOTAL_FILESIZE: '10 gigs' }), /^AgentConfigError: MAX_TOTAL_FILESIZE: "10 gigs" is not a size/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', MIN_FREE_DISK: 'lots' }), /MIN_FREE_DISK: "lots" is not a size in bytes with an optional unit k, M, G/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', DELETE_OLDER_THAN: '2 weeks' }), /DELETE_OLDER_THAN: "2 weeks" is not a duration: .*s, m, h or d/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_DATA_DIR: 'relative' }), /PCAPPER_DATA_DIR: "relative" is not an absolute path/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_LISTEN: 'nope' }), /PCAPPER_LISTEN: "nope" is not host:port/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_MAX_CAPTURES: '0' }), /PCAPPER_MAX_CAPTURES: "0" is not a whole number between 1 and 10000/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_PACKET_BUFFERED: 'maybe' }), /PCAPPER_PACKET_BUFFERED: "maybe" is not a boolean/);
    assert.equal(loadAgentConfig({ NODE_NAME: 'n', PCAPPER_PACKET_BUFFERED: 'true' }).packetBuffered, true);
    for (const v of ['PCAPPER_TLS_CERT', 'PCAPPER_TLS_KEY', 'PCAPPER_CA']) {
      assert.throws(
        () => loadAgentConfig({ NODE_NAME: 'n', [v]: undefined }),
        (e: unknown) => e instanceof AgentConfigError && e.variable === v && /is required: the agent serves capture data only over mutual TLS/.test(e.message),
      );
    }
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_CA: 'ca.crt' }), /PCAPPER_CA: "ca.crt" is not an absolute path/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_CLIENT_NAMES: ' , ' }), /PCAPPER_CLIENT_NAMES: .* is not a comma-separated list/);
    assert.throws(() => loadAgentConfig({ NODE_NAME: 'n', PCAPPER_SYSTEM_NAMESPACE: 'Sys' }), /PCAPPER_SYSTEM_NAMESPACE: "Sys" is not a namespace name/);
  });

  it('defaults fit together: PCAPPER_MAX_CAPTURES default captures start under the default MAX_TOTAL_FILESIZE', () => {
    const c = loadAgentConfig({ NODE_NAME: 'n' });
    const request = promisedBytes({ maxFileSizeBytes: DEFAULTS.maxFileSizeBytes, fileCount: DEFAULTS.fileCount });
    const running: { promisedBytes: number; writtenBytes: number }[] = [];
    const disk = { usedBytes: 50_000_000, freeBytes: 100e9 }; // some finished files, a roomy disk
    for (let i = 0; i < c.maxConcurrentCaptures; i++) {
      const d = admit(c, disk, running, request);
      assert.ok(d.ok, `default capture ${i + 1} of ${c.maxConcurrentCaptures}: ${d.ok ? '' : d.message}`);
      running.push({ promisedBytes: request, writtenBytes: 0 });
    }
  });
});
