import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentMetrics, type MetricsSnapshot } from './metrics.js';

describe('agent metrics (prom-client)', () => {
  it('renders the gauges from the snapshot at scrape time, node label first, label values escaped; vanished targets vanish', async () => {
    const m = new AgentMetrics('n1', { defaultMetrics: false });
    let snap: MetricsSnapshot = {
      capturesRunning: 1,
      diskUsedBytes: 10,
      diskFreeBytes: 20,
      targets: [{ namespace: 'ns', capture: 'c', target: 'pod/ns/"a"', bytes: 5, packets: 6, drops: 7, running: true }],
    };
    m.bindSnapshot(() => snap);
    m.started();
    m.started();
    m.targetFailed();
    m.deniedRequest();
    const { contentType, body } = await m.render();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    assert.match(body, /^# HELP pcapper_agent_captures_running /m);
    assert.match(body, /^# TYPE pcapper_agent_capture_starts_total counter$/m);
    assert.match(body, /^pcapper_agent_captures_running\{node="n1"\} 1$/m);
    assert.match(body, /^pcapper_agent_target_packets\{node="n1",namespace="ns",capture="c",target="pod\/ns\/\\"a\\""\} 6$/m);
    assert.match(body, /^pcapper_agent_target_drops\{.*\} 7$/m);
    assert.match(body, /^pcapper_agent_target_running\{.*\} 1$/m);
    assert.match(body, /^pcapper_agent_disk_used_bytes\{node="n1"\} 10$/m);
    assert.match(body, /^pcapper_agent_disk_free_bytes\{node="n1"\} 20$/m);
    assert.match(body, /^pcapper_agent_capture_starts_total\{node="n1"\} 2$/m);
    assert.match(body, /^pcapper_agent_capture_failures_total\{node="n1"\} 1$/m);
    assert.match(body, /^pcapper_agent_auth_denied_total\{node="n1"\} 1$/m);
    assert.match(body, /^pcapper_agent_reconcile_total\{node="n1",result="error"\} 0$/m);
    assert.match(body, /^pcapper_agent_workqueue_depth\{node="n1"\} 0$/m);
    snap = { ...snap, capturesRunning: 0, targets: [] };
    const again = (await m.render()).body;
    assert.doesNotMatch(again, /^pcapper_agent_target_packets\{/m, 'a target the agent forgot is no longer exported');
    assert.match(again, /^pcapper_agent_captures_running\{node="n1"\} 0$/m);
  });

  it('reports the work queue: reconciles by result with their duration, errors by type and reason, retries, depth', async () => {
    const m = new AgentMetrics('n1', { defaultMetrics: false });
    m.bindDepth(() => 3);
    m.ran(20, 'success');
    m.ran(40, 'error');
    m.failed('transient', 'ServerError');
    m.retried();
    const body = (await m.render()).body;
    assert.match(body, /^pcapper_agent_reconcile_total\{node="n1",result="success"\} 1$/m);
    assert.match(body, /^pcapper_agent_reconcile_total\{node="n1",result="error"\} 1$/m);
    assert.match(body, /^pcapper_agent_reconcile_duration_seconds_count\{node="n1"\} 2$/m);
    assert.match(body, /^pcapper_agent_reconcile_errors_total\{node="n1",type="transient",reason="ServerError"\} 1$/m);
    assert.match(body, /^pcapper_agent_workqueue_retries_total\{node="n1"\} 1$/m);
    assert.match(body, /^pcapper_agent_workqueue_depth\{node="n1"\} 3$/m);
  });

  it('process metrics are on by default', async () => {
    const body = (await new AgentMetrics('n1').render()).body;
    assert.match(body, /^process_cpu_user_seconds_total /m);
  });
});
