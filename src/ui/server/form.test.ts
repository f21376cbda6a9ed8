import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { buildFromForm } from './form.js';

describe('create form -> PacketCapture (the CLI validation)', () => {
  it('a pod capture becomes the YAML init writes', () => {
    const r = buildFromForm({ namespace: 'shop', kind: 'pod', target: 'web-0', name: 'web-cap', duration: '30s', filter: 'tcp port 80', maxFileSize: '10M', fileCount: '3' });
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.match(r.yaml ?? '', /^# PacketCapture written by kubectl pcap init/);
    const o = parse(r.yaml ?? '') as { metadata: { name: string; namespace: string; labels?: unknown }; spec: Record<string, unknown> };
    assert.deepEqual(o.metadata, { name: 'web-cap', namespace: 'shop' });
    assert.deepEqual(o.spec, { targetPod: 'web-0', captureSeconds: '30s', captureFilter: 'tcp port 80', maxFileSize: '10M', fileCount: 3 });
  });
  it('a selector and the extra spec fields', () => {
    const r = buildFromForm({ namespace: 'default', kind: 'selector', target: 'app=demo', count: '100', jobId: 'run1', failIfNoTargets: true, immediate: true });
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.deepEqual(r.pc?.spec, { podSelector: { matchLabels: { app: 'demo' } }, packetCount: 100, jobId: 'run1', failIfNoTargets: true, immediate: true });
  });
  it('bad values are reported against their fields', () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ kind: 'pod', target: 'web', duration: 'soon' }, 'duration', /soon/],
      [{ kind: 'pod', target: 'web', maxFileSize: '10 parsecs' }, 'maxFileSize', /size/],
      [{ kind: 'pod', target: 'web', count: 'many' }, 'count', /whole number/],
      [{ kind: 'pod', target: '' }, 'target', /required/],
      [{ kind: 'pod', target: 'web', name: 'Bad_Name' }, 'name', /name/],
      [{ kind: 'pod', target: 'web', namespace: 'Not A Namespace' }, 'namespace', /namespace|-n/],
      [{ kind: 'pod', target: 'web', fileCount: '0' }, 'fileCount', /fileCount/],
      [{ kind: 'teapot', target: 'web' }, 'kind', /choose/],
    ];
    for (const [form, field, re] of cases) {
      const r = buildFromForm(form);
      assert.equal(r.ok, false, JSON.stringify(form));
      assert.equal(r.problems[0]?.field, field, `${JSON.stringify(form)}: ${JSON.stringify(r.problems)}`);
      assert.match(r.problems[0]?.message ?? '', re);
    }
  });
  it('not an object', () => {
    assert.equal(buildFromForm('x').ok, false);
  });
});
