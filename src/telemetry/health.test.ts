import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListenAddress } from './health.js';

test('parseListenAddress: HOST:PORT, :PORT and [IPv6]:PORT; bad input gets a one-line error naming the flag', () => {
  assert.deepEqual(parseListenAddress('--metrics-addr', ':8080'), { host: undefined, port: 8080 });
  assert.deepEqual(parseListenAddress('--metrics-addr', '127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListenAddress('--metrics-addr', '[::1]:9090'), { host: '::1', port: 9090 });
  assert.deepEqual(parseListenAddress('--metrics-addr', 'localhost:80'), { host: 'localhost', port: 80 });
  for (const bad of ['8080', ':', ':70000', 'a:b', '::1:80', '[::1]', ' :80']) {
    assert.throws(() => parseListenAddress('--metrics-addr', bad), /^Error: --metrics-addr: .* is not HOST:PORT, :PORT or \[IPv6\]:PORT/, bad);
  }
});
