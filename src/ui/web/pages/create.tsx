/**
 * The create form: every spec field; the server checks it with the CLI's validation as it is typed
 * (preview: problems per field and the YAML `kubectl pcap init` writes), then creates it after a
 * server-side dry run.
 */
import { useEffect, useState } from 'preact/hooks';
import { sendJson, ApiError } from '../api.js';
import { TARGET_KINDS, type CaptureForm, type FormProblem, type InfoResponse, type PreviewResult } from '../../shared/api-types.js';
import { navigate } from '../nav.js';

const KIND_TEXT: Record<string, string> = {
  pod: 'one pod',
  deploy: 'a Deployment',
  sts: 'a StatefulSet',
  ds: 'a DaemonSet',
  rs: 'a ReplicaSet',
  selector: 'pods by label selector',
  node: 'a node interface',
};

type TextField = Exclude<keyof CaptureForm, 'kind' | 'failIfNoTargets' | 'immediate'>;

const FIELDS: { key: TextField; label: string; placeholder: string; help: string }[] = [
  { key: 'namespace', label: 'Namespace', placeholder: 'default', help: 'of the capture and its target pods (node captures: pcapper)' },
  { key: 'target', label: 'Target', placeholder: 'web-0, or app=web for a selector', help: 'pod, workload or node name; a label selector for "selector"' },
  { key: 'name', label: 'Capture name', placeholder: 'generated', help: 'lowercase letters, digits and -' },
  { key: 'targetNamespace', label: 'Target namespace', placeholder: 'same as the capture', help: 'pods of another namespace (system namespace only)' },
  { key: 'interface', label: 'Interface', placeholder: 'any', help: 'inside the pods, or on the node' },
  { key: 'duration', label: 'Duration', placeholder: '60s', help: '30s, 5m, 1h' },
  { key: 'count', label: 'Packet count', placeholder: 'no limit', help: 'stop each target after N packets' },
  { key: 'filter', label: 'BPF filter', placeholder: 'every packet', help: 'tcpdump syntax, e.g. tcp port 80' },
  { key: 'snaplen', label: 'Snap length', placeholder: 'whole packet', help: 'bytes kept per packet' },
  { key: 'maxFileSize', label: 'Ring file size', placeholder: '100M', help: '1M to 100G' },
  { key: 'fileCount', label: 'Ring files', placeholder: '10', help: 'files kept per target' },
  { key: 'ttl', label: 'Delete after', placeholder: 'keep', help: 'delete the capture this long after it ends (e.g. 1h)' },
  { key: 'jobId', label: 'Job id', placeholder: '', help: 'a run identifier, recorded (up to 8 lowercase letters/digits)' },
];

export function CreatePage({ info }: { info: InfoResponse }) {
  const [form, setForm] = useState<CaptureForm>({ namespace: info.cluster?.namespace ?? 'default', kind: 'pod', target: '', duration: '60s' });
  const [preview, setPreview] = useState<PreviewResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [serverProblems, setServerProblems] = useState<FormProblem[]>([]);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const t = setTimeout(() => {
      sendJson<PreviewResult>('POST', '/api/captures/preview', form).then(setPreview, (e: Error) => setError(e.message));
    }, 200);
    return () => clearTimeout(t);
  }, [form]);
  const set = (k: keyof CaptureForm, v: string | boolean): void => {
    setServerProblems([]);
    setError(undefined);
    setForm({ ...form, [k]: v });
  };
  const problems = serverProblems.length > 0 ? serverProblems : (preview?.problems ?? []);
  const problemOf = (k: string): string | undefined => problems.find((p) => p.field === k)?.message;
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!info.cluster) {
      setError(`no cluster: ${info.clusterError ?? 'no kubeconfig'}; the YAML on the right can be applied later with kubectl apply -f`);
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const r = await sendJson<{ row: { namespace: string; name: string } }>('POST', '/api/captures', form);
      navigate({ page: 'capture', namespace: r.row.namespace, name: r.row.name });
    } catch (err) {
      const body = err instanceof ApiError ? err.body : {};
      const ps = (body.problems as FormProblem[] | undefined) ?? [];
      setServerProblems(ps.filter((p) => p.field !== ''));
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="create">
      <h1>New capture</h1>
      <form id="create-form" onSubmit={(e) => void submit(e)} novalidate>
        <div class="fields">
          <label class="field">
            <span>What to capture</span>
            <select name="kind" value={form.kind} onChange={(e) => set('kind', (e.target as HTMLSelectElement).value)}>
              {TARGET_KINDS.map((k) => (
                <option value={k} key={k}>{`${k} — ${KIND_TEXT[k] ?? k}`}</option>
              ))}
            </select>
            {problemOf('kind') ? <em class="field-error" data-field-error="kind">{problemOf('kind')}</em> : null}
          </label>
          {FIELDS.map((f) => (
            <label class="field" key={f.key}>
              <span>{f.label}</span>
              <input name={f.key} value={form[f.key] ?? ''} placeholder={f.placeholder} aria-invalid={problemOf(f.key) ? 'true' : 'false'} onInput={(e) => set(f.key, (e.target as HTMLInputElement).value)} />
              <small>{f.help}</small>
              {problemOf(f.key) ? <em class="field-error" data-field-error={f.key}>{problemOf(f.key)}</em> : null}
            </label>
          ))}
          <label class="check">
            <input type="checkbox" name="failIfNoTargets" checked={form.failIfNoTargets === true} onChange={(e) => set('failIfNoTargets', (e.target as HTMLInputElement).checked)} /> Fail when no pod matches (selector and workload targets)
          </label>
          <label class="check">
            <input type="checkbox" name="immediate" checked={form.immediate === true} onChange={(e) => set('immediate', (e.target as HTMLInputElement).checked)} /> Immediate mode (lower latency for live tail)
          </label>
        </div>
        {problems.filter((p) => p.field === '').map((p) => (
          <p class="error" key={p.message}>{p.message}</p>
        ))}
        {error ? <p class="error" role="alert" id="create-error">{error}</p> : null}
        <button type="submit" id="create-submit" disabled={busy}>{busy ? 'Creating…' : 'Create capture'}</button>
      </form>
      <div class="preview">
        <h2>YAML (as <code>kubectl pcap init</code> writes it)</h2>
        <pre id="yaml-preview">{preview?.yaml ?? (preview ? '# fix the form to see the YAML' : '')}</pre>
      </div>
    </section>
  );
}
