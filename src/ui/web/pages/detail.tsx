/** One capture: state, per-target progress, files per node, conditions, events; download/export/delete. */
import { useEffect, useState } from 'preact/hooks';
import { download, fmtAge, fmtBytes, getJson, sendJson } from '../api.js';
import type { CaptureDetailResponse } from '../../shared/api-types.js';
import { formatRoute } from '../../shared/route.js';
import { navigate } from '../nav.js';

interface TargetStatus { name: string; kind?: string; node?: string; pod?: string; namespace?: string; phase?: string; reason?: string; message?: string; packets?: number; bytes?: number; drops?: number }
interface Condition { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }

export function DetailPage({ namespace, name }: { namespace: string; name: string }) {
  const [d, setD] = useState<CaptureDetailResponse | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const path = `/api/captures/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
  useEffect(() => {
    let stop = false;
    const load = (): void => {
      getJson<CaptureDetailResponse>(path).then(
        (r) => {
          if (!stop) {
            setD(r);
            setError(undefined);
          }
        },
        (e: Error) => !stop && setError(e.message),
      );
    };
    load();
    // changes arrive by the watch; the detail (files, events) is read again on each
    const es = new EventSource('/api/captures/events');
    es.addEventListener('capture', (ev) => {
      const { row } = JSON.parse((ev as MessageEvent<string>).data) as { row: { namespace: string; name: string } };
      if (row.namespace === namespace && row.name === name) load();
    });
    return () => {
      stop = true;
      es.close();
    };
  }, [path]);
  const act = async (what: string, f: () => Promise<void>): Promise<void> => {
    setBusy(what);
    setError(undefined);
    try {
      await f();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(undefined);
    }
  };
  const obj = d?.object as { spec?: Record<string, unknown>; status?: { targets?: TargetStatus[]; conditions?: Condition[]; startTime?: string; completionTime?: string } } | undefined;
  const running = d?.row.state === 'running';
  const source = `cluster:${namespace}/${name}`;
  return (
    <section class="detail">
      <h1>
        {namespace}/{name} {d ? <span class="state" id="detail-state" data-state={d.row.state}>{d.row.state}</span> : null}
      </h1>
      {error ? <p class="error" role="alert" id="detail-error">{error}</p> : null}
      {note ? <p class="ok">{note}</p> : null}
      <div class="toolbar">
        <a class="button" id="open-packets" href={formatRoute({ page: 'analyze', source, tab: 'packets', filter: '', follow: false, live: running })}>{running ? 'Live packets' : 'Packets'}</a>
        <a class="button" href={formatRoute({ page: 'analyze', source, tab: 'dashboard', filter: '', follow: false, live: false })}>Dashboard</a>
        <button type="button" id="download" disabled={busy !== undefined} onClick={() => void act('download', async () => { const r = await download(`${path}/download`); setNote(`Downloading the merged pcapng: ${r.packets} packets.${r.warnings.length > 0 ? ` ${r.warnings.join(' ')}` : ''}`); })}>
          {busy === 'download' ? 'Downloading…' : 'Download pcapng'}
        </button>
        <button type="button" id="export" disabled={busy !== undefined} onClick={() => void act('export', async () => { const r = await download(`${path}/download?export=1`); setNote(`Exporting a self-describing pcapng (kubectl pcap import restores pod names): ${r.packets} packets.${r.warnings.length > 0 ? ` ${r.warnings.join(' ')}` : ''}`); })}>
          {busy === 'export' ? 'Exporting…' : 'Export'}
        </button>
        <button type="button" class="danger" id="delete" disabled={busy !== undefined} onClick={() => void act('delete', async () => {
          if (!confirm(`Delete capture ${namespace}/${name} and its files on the nodes?`)) return;
          await sendJson('DELETE', path);
          navigate({ page: 'captures' });
        })}>Delete</button>
      </div>
      {d ? (
        <>
          <dl class="facts">
            <dt>Target</dt><dd>{d.row.target}</dd>
            <dt>Targets</dt><dd>{d.row.targets}</dd>
            <dt>Packets</dt><dd id="detail-packets">{d.row.packets}</dd>
            <dt>Bytes</dt><dd>{fmtBytes(d.row.bytes)}</dd>
            <dt>Drops</dt><dd>{d.row.drops}</dd>
            <dt>Age</dt><dd>{fmtAge(d.row.created)}</dd>
            <dt>Filter</dt><dd>{typeof obj?.spec?.captureFilter === 'string' ? obj.spec.captureFilter : '(every packet)'}</dd>
          </dl>
          <h2>Targets</h2>
          <table class="grid" id="targets">
            <thead><tr><th>Target</th><th>Node</th><th>Phase</th><th class="num">Packets</th><th class="num">Bytes</th><th class="num">Drops</th><th>Reason</th></tr></thead>
            <tbody>
              {(obj?.status?.targets ?? []).map((t) => (
                <tr key={t.name}>
                  <td>{t.kind === 'node' ? `node/${t.node ?? ''}` : `${t.namespace ?? ''}/${t.pod ?? t.name}`}</td>
                  <td>{t.node ?? ''}</td>
                  <td>{t.phase ?? ''}</td>
                  <td class="num">{t.packets ?? 0}</td>
                  <td class="num">{fmtBytes(t.bytes ?? 0)}</td>
                  <td class="num">{t.drops ?? 0}</td>
                  <td>{t.reason ?? ''}{t.message ? `: ${t.message}` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Files per node</h2>
          {d.filesError ? <p class="error">{d.filesError}</p> : null}
          <table class="grid" id="files">
            <thead><tr><th>Node</th><th>Target</th><th>File</th><th class="num">Size</th></tr></thead>
            <tbody>
              {d.files.flatMap((n) =>
                n.error
                  ? [<tr key={n.node}><td>{n.node}</td><td colSpan={3} class="error">{n.error}</td></tr>]
                  : n.files.map((f) => (
                      <tr key={`${n.node}/${f.target}/${f.name}`}><td>{n.node}</td><td>{f.target}</td><td>{f.name}</td><td class="num">{fmtBytes(f.size)}</td></tr>
                    )),
              )}
            </tbody>
          </table>
          <h2>Conditions</h2>
          <table class="grid">
            <thead><tr><th>Type</th><th>Status</th><th>Reason</th><th>Message</th></tr></thead>
            <tbody>
              {(obj?.status?.conditions ?? []).map((c) => (
                <tr key={c.type}><td>{c.type}</td><td>{c.status}</td><td>{c.reason ?? ''}</td><td>{c.message ?? ''}</td></tr>
              ))}
            </tbody>
          </table>
          <h2>Events</h2>
          {d.eventsError ? <p class="notice">Events not shown: {d.eventsError}</p> : null}
          <table class="grid" id="events">
            <thead><tr><th>Type</th><th>Reason</th><th>Age</th><th>Message</th></tr></thead>
            <tbody>
              {d.events.map((e, i) => (
                <tr key={i}><td>{e.type}</td><td>{e.reason}</td><td>{fmtAge(e.lastTimestamp)}</td><td>{e.message}{e.count > 1 ? ` (×${e.count})` : ''}</td></tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </section>
  );
}
