/** The captures list (live, by a watch), local files and imports, import by picker or drag and drop. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { fmtAge, fmtBytes, getJson, sendJson, upload } from '../api.js';
import type { CaptureRowInfo, ImportResponse, InfoResponse, ListResponse, SourceInfo } from '../../shared/api-types.js';
import { formatRoute } from '../../shared/route.js';

const key = (r: CaptureRowInfo): string => `${r.namespace}/${r.name}`;
const analyzeLink = (source: string, live = false): string => formatRoute({ page: 'analyze', source, tab: 'packets', filter: '', follow: false, live });

export function CapturesPage({ info }: { info: InfoResponse }) {
  return (
    <div>
      {info.cluster ? <ClusterCaptures /> : <p class="notice" id="no-cluster">No cluster: {info.clusterError ?? 'no kubeconfig'}. Local files and imports below still work.</p>}
      <LocalSources maxUpload={info.maxUpload} />
    </div>
  );
}

function ClusterCaptures() {
  const [rows, setRows] = useState<Map<string, CaptureRowInfo>>(new Map());
  const [scope, setScope] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [live, setLive] = useState(false);
  const [, setNow] = useState(0);
  useEffect(() => {
    getJson<ListResponse>('/api/captures').then(
      (l) => {
        setScope(l.scope);
        setRows(new Map(l.items.map((r) => [key(r), r])));
      },
      (e: Error) => setError(e.message),
    );
    const es = new EventSource('/api/captures/events');
    es.addEventListener('open', () => setLive(true));
    es.addEventListener('error', () => setLive(false));
    es.addEventListener('capture', (ev) => {
      const { type, row } = JSON.parse((ev as MessageEvent<string>).data) as { type: string; row: CaptureRowInfo };
      setRows((old) => {
        const m = new Map(old);
        if (type === 'DELETED') m.delete(key(row));
        else m.set(key(row), row);
        return m;
      });
    });
    es.addEventListener('problem', (ev) => setError((JSON.parse((ev as MessageEvent<string>).data) as { error: string }).error));
    const t = setInterval(() => setNow(Date.now()), 5000); // ages
    return () => {
      es.close();
      clearInterval(t);
    };
  }, []);
  const del = async (r: CaptureRowInfo): Promise<void> => {
    if (!confirm(`Delete capture ${r.namespace}/${r.name} and its files on the nodes?`)) return;
    try {
      await sendJson('DELETE', `/api/captures/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const list = [...rows.values()].sort((a, b) => key(a).localeCompare(key(b)));
  return (
    <section>
      <h1>
        Captures <small>{scope}</small> <span class={live ? 'dot live' : 'dot'} title={live ? 'updated live' : 'not connected'} />
      </h1>
      {error ? <p class="error" role="alert">{error}</p> : null}
      {list.length === 0 ? (
        <p class="empty">No packet captures. <a href="#/create">Create one</a>.</p>
      ) : (
        <table class="grid" id="captures">
          <thead>
            <tr>
              <th>Namespace</th><th>Name</th><th>State</th><th>Target</th><th>Targets</th><th class="num">Packets</th><th class="num">Bytes</th><th class="num">Drops</th><th>Age</th><th />
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={key(r)} data-capture={key(r)}>
                <td>{r.namespace}</td>
                <td><a href={formatRoute({ page: 'capture', namespace: r.namespace, name: r.name })}>{r.name}</a></td>
                <td><span class={`state s-${r.state.toLowerCase().replace(/[^a-z]+/g, '-')}`} data-state={r.state}>{r.state}</span></td>
                <td>{r.target}</td>
                <td>{r.targets}</td>
                <td class="num" data-packets={r.packets}>{r.packets}</td>
                <td class="num">{fmtBytes(r.bytes)}</td>
                <td class="num">{r.drops}</td>
                <td>{fmtAge(r.created)}</td>
                <td class="actions">
                  <a href={analyzeLink(`cluster:${key(r)}`, r.state === 'running')}>Packets</a>
                  <button type="button" class="link danger" onClick={() => void del(r)}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function LocalSources({ maxUpload }: { maxUpload: number }) {
  const [items, setItems] = useState<SourceInfo[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [message, setMessage] = useState<string | undefined>();
  const [over, setOver] = useState(false);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const load = (): void => {
    getJson<{ items: SourceInfo[] }>('/api/sources').then((l) => setItems(l.items), (e: Error) => setError(e.message));
  };
  useEffect(load, []);
  const send = async (files: FileList | null): Promise<void> => {
    const f = files?.[0];
    if (!f) return;
    setError(undefined);
    setMessage(undefined);
    if (f.size > maxUpload) {
      setError(`${f.name} is ${f.size} bytes, more than the upload limit of ${maxUpload} bytes (start kubectl pcap ui with --max-upload SIZE)`);
      return;
    }
    setBusy(true);
    try {
      const r = await upload<ImportResponse>('/api/import', f);
      setMessage(`Imported ${f.name} as "${r.name}" (${r.files.length} file${r.files.length === 1 ? '' : 's'}).`);
      load();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
      if (input.current) input.current.value = '';
    }
  };
  return (
    <section>
      <h1>Local files and imports</h1>
      <div
        id="dropzone"
        class={over ? 'drop over' : 'drop'}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          void send(e.dataTransfer?.files ?? null);
        }}
      >
        Drop a pcap or pcapng file here to import it into the local store, or{' '}
        <label class="button">
          choose a file
          <input id="import-file" ref={input} type="file" accept=".pcap,.pcapng,.cap,application/vnd.tcpdump.pcap" onChange={(e) => void send((e.target as HTMLInputElement).files)} hidden />
        </label>
        {busy ? <span class="busy"> importing…</span> : null}
      </div>
      {error ? <p class="error" role="alert" id="import-error">{error}</p> : null}
      {message ? <p class="ok" id="import-ok">{message}</p> : null}
      {items.length === 0 ? (
        <p class="empty">No local files or imports.</p>
      ) : (
        <table class="grid" id="sources">
          <thead>
            <tr><th>Source</th><th>Kind</th><th class="num">Files</th><th class="num">Bytes</th><th /></tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.id} data-source={s.id}>
                <td>{s.label}</td>
                <td>{s.kind === 'file' ? 'file' : 'import'}</td>
                <td class="num">{s.files}</td>
                <td class="num">{fmtBytes(s.bytes)}</td>
                <td class="actions"><a href={analyzeLink(s.id)}>Packets</a> <a href={formatRoute({ page: 'analyze', source: s.id, tab: 'dashboard', filter: '', follow: false, live: false })}>Dashboard</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
