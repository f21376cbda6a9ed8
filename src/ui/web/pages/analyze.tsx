/**
 * Analysis of one source (a cluster capture, an import or a file): the packet list with display
 * filters, packet detail (layer tree + hex), follow TCP stream with its HTTP messages, live tail of
 * a running capture, and the dashboard.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, getJson, sendJson, src } from '../api.js';
import type { Route } from '../../shared/route.js';
import { navigate } from '../nav.js';
import { PacketList } from '../packet-list.js';
import { Dashboard } from './dashboard.js';
import type { FieldNode, FollowedStream, PacketDetail } from '../../../pcap/view/types.js';

type AnalyzeRoute = Extract<Route, { page: 'analyze' }>;

interface SourceState {
  label: string;
  packetCount: number;
  files: number;
  live: boolean;
}
interface LiveProgress {
  packets: number;
  state: string;
  done: boolean;
}

export function AnalyzePage({ route }: { route: AnalyzeRoute }) {
  const [info, setInfo] = useState<SourceState | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [version, setVersion] = useState(0);
  const [live, setLive] = useState<LiveProgress | undefined>();
  const go = (patch: Partial<AnalyzeRoute>, replace = false): void => navigate({ ...route, ...patch }, replace);
  const isCluster = route.source.startsWith('cluster:');
  // live tail: the server appends the capture's live stream to a local file and says when it grew
  useEffect(() => {
    if (!route.live || !isCluster) return;
    const es = new EventSource(`${src(route.source)}/live`);
    es.addEventListener('progress', (ev) => {
      const p = JSON.parse((ev as MessageEvent<string>).data) as LiveProgress;
      setLive(p);
      setVersion((x) => x + 1);
      if (p.done) es.close();
    });
    return () => es.close();
  }, [route.source, route.live]);
  useEffect(() => {
    let stop = false;
    getJson<SourceState>(src(route.source)).then(
      (r) => {
        if (stop) return;
        setInfo(r);
        setError(undefined);
      },
      (e: Error) => !stop && setError(e.message),
    );
    return () => {
      stop = true;
    };
  }, [route.source, version]);
  return (
    <section class="analyze">
      <h1>
        {info?.label ?? label(route.source)}{' '}
        <small id="packet-count">{info ? `${info.packetCount} packets${info.files > 1 ? ` from ${info.files} files` : ''}` : 'opening…'}</small>
        {live ? (
          <span class={live.done ? 'state' : 'state s-running'} id="live-state" data-done={String(live.done)}>
            {live.done ? `live tail ended (${live.state})` : `live: ${live.packets} packets (${live.state})`}
          </span>
        ) : null}
      </h1>
      <div class="tabs">
        <button type="button" id="tab-packets" class={route.tab === 'packets' ? 'active' : ''} onClick={() => go({ tab: 'packets' })}>Packets</button>
        <button type="button" id="tab-dashboard" class={route.tab === 'dashboard' ? 'active' : ''} onClick={() => go({ tab: 'dashboard' })}>Dashboard</button>
        {isCluster && !route.live ? (
          <button type="button" id="reload" title="Fetch the capture's files again (a running capture has written more)" onClick={() => void sendJson('POST', `${src(route.source)}/reload`).then(() => setVersion((x) => x + 1), (e: Error) => setError(e.message))}>
            Reload files
          </button>
        ) : null}
        {isCluster ? (
          <label class="check">
            <input type="checkbox" id="live-toggle" checked={route.live} onChange={(e) => go({ live: (e.target as HTMLInputElement).checked })} /> Live tail
          </label>
        ) : null}
      </div>
      {error ? <p class="error" role="alert" id="source-error">{error}</p> : null}
      {info && route.tab === 'packets' ? <PacketsTab route={route} total={info.packetCount} version={version} go={go} live={route.live && live?.done !== true} /> : null}
      {info && route.tab === 'dashboard' ? <Dashboard source={route.source} version={version} /> : null}
    </section>
  );
}

function label(id: string): string {
  if (id.startsWith('cluster:')) return id.slice(8);
  if (id.startsWith('store:')) return `import ${id.slice(6)}`;
  return id;
}

function PacketsTab({ route, total, version, go, live }: { route: AnalyzeRoute; total: number; version: number; go: (p: Partial<AnalyzeRoute>, replace?: boolean) => void; live: boolean }) {
  const [text, setText] = useState(route.filter);
  const [problem, setProblem] = useState<{ message: string; position: number; length: number } | undefined>();
  const [matches, setMatches] = useState<number | undefined>(route.filter ? undefined : total);
  const [checking, setChecking] = useState(false);
  useEffect(() => setText(route.filter), [route.filter]);
  // the applied filter's match count (also for a deep link)
  useEffect(() => {
    if (!route.filter) {
      setMatches(total);
      setProblem(undefined);
      return;
    }
    setChecking(true);
    getJson<{ matches: number }>(`${src(route.source)}/filter?expr=${encodeURIComponent(route.filter)}`).then(
      (r) => {
        setMatches(r.matches);
        setProblem(undefined);
        setChecking(false);
      },
      (e: Error) => {
        setChecking(false);
        setMatches(0);
        const b = e instanceof ApiError ? e.body : {};
        setProblem({ message: e.message, position: typeof b.position === 'number' ? b.position : 0, length: typeof b.length === 'number' ? b.length : 0 });
      },
    );
  }, [route.source, route.filter, total, version]);
  // without a filter every packet is shown: the count follows the view at once (live tail)
  const shown = route.filter ? matches : total;
  const apply = (e: Event): void => {
    e.preventDefault();
    go({ filter: text.trim(), packet: undefined, follow: false });
  };
  return (
    <div class="packets">
      <form class="filterbar" onSubmit={apply}>
        <input id="filter" class={problem ? 'bad' : ''} value={text} placeholder='Display filter, e.g. http and pod == "web-0" and tcp.port == 8080' spellcheck={false} aria-invalid={problem ? 'true' : 'false'} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <button type="submit" id="filter-apply">Apply</button>
        {route.filter ? <button type="button" onClick={() => go({ filter: '', packet: undefined })}>Clear</button> : null}
        <span class="count" id="filter-count">{checking ? 'filtering…' : shown !== undefined ? `${shown} of ${total}` : ''}</span>
      </form>
      {problem ? (
        <div class="filter-error" role="alert" id="filter-error">
          <code>
            {route.filter.slice(0, problem.position)}
            <mark>{route.filter.slice(problem.position, problem.position + Math.max(1, problem.length)) || ' '}</mark>
            {route.filter.slice(problem.position + Math.max(1, problem.length))}
          </code>
          <span>{problem.message} (at character {problem.position + 1})</span>
        </div>
      ) : null}
      {!problem ? (
        <PacketList
          source={route.source}
          filter={route.filter}
          version={version}
          total={shown ?? 0}
          {...(route.packet !== undefined ? { selected: route.packet } : {})}
          onSelect={(frame) => frame !== route.packet && go({ packet: frame, follow: false }, true)}
          onOpen={(frame) => {
            go({ packet: frame }, true);
            document.getElementById('packet-detail')?.focus();
          }}
          stickToEnd={live}
        />
      ) : null}
      {route.packet !== undefined ? <PacketPane source={route.source} frame={route.packet} follow={route.follow} onFollow={(f) => go({ follow: f })} /> : null}
    </div>
  );
}

function PacketPane({ source, frame, follow, onFollow }: { source: string; frame: number; follow: boolean; onFollow: (f: boolean) => void }) {
  const [d, setD] = useState<PacketDetail | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [sel, setSel] = useState<FieldNode | undefined>();
  useEffect(() => {
    setSel(undefined);
    getJson<PacketDetail>(`${src(source)}/packets/${frame}`).then(
      (r) => {
        setD(r);
        setError(undefined);
      },
      (e: Error) => setError(e.message),
    );
  }, [source, frame]);
  const bytes = d ? base64Bytes(d.bytesBase64) : new Uint8Array();
  const isTcp = d?.layers.some((l) => l.field === 'tcp' || l.field.startsWith('tcp')) ?? false;
  return (
    <div class="pane" id="packet-detail" tabIndex={-1}>
      <div class="pane-head">
        <h2>Packet {frame}</h2>
        {isTcp ? (
          <button type="button" id="follow-stream" class={follow ? 'active' : ''} onClick={() => onFollow(!follow)}>
            {follow ? 'Hide stream' : 'Follow TCP stream'}
          </button>
        ) : null}
      </div>
      {error ? <p class="error" role="alert">{error}</p> : null}
      {d ? (
        <div class="split">
          <div class="tree" id="layer-tree">
            {d.layers.map((l, i) => (
              <Tree key={i} node={l} sel={sel} onSel={setSel} depth={0} />
            ))}
          </div>
          <Hex bytes={bytes} from={sel?.offset ?? -1} len={sel?.length ?? 0} />
        </div>
      ) : null}
      {follow ? <Follow source={source} frame={frame} /> : null}
    </div>
  );
}

function Tree({ node, sel, onSel, depth }: { node: FieldNode; sel: FieldNode | undefined; onSel: (n: FieldNode) => void; depth: number }) {
  const [open, setOpen] = useState(depth === 0);
  const kids = node.children ?? [];
  return (
    <div class="node">
      <div class={`label${sel === node ? ' sel' : ''}`} data-field={node.field} onClick={() => onSel(node)}>
        {kids.length > 0 ? (
          <button type="button" class="twist" aria-label={open ? 'collapse' : 'expand'} onClick={(e) => { e.stopPropagation(); setOpen(!open); }}>{open ? '▾' : '▸'}</button>
        ) : <span class="twist" />}
        {node.label}
      </div>
      {open && kids.length > 0 ? (
        <div class="kids">
          {kids.map((k, i) => (
            <Tree key={i} node={k} sel={sel} onSel={onSel} depth={depth + 1} />
          ))}
        </div>
      ) : null}
    </div>
  );
}

function Hex({ bytes, from, len }: { bytes: Uint8Array; from: number; len: number }) {
  const rows: number[] = [];
  for (let o = 0; o < bytes.length; o += 16) rows.push(o);
  const hl = (i: number): boolean => i >= from && i < from + len;
  const first = useRef<HTMLSpanElement>(null);
  useEffect(() => first.current?.scrollIntoView({ block: 'nearest' }), [from]);
  return (
    <div class="hex" id="hex">
      {rows.map((o) => (
        <div class="hexrow" key={o}>
          <span class="off">{o.toString(16).padStart(4, '0')}</span>
          <span class="bytes">
            {[...bytes.subarray(o, o + 16)].map((b, j) => (
              <span key={j} class={hl(o + j) ? 'hl' : ''} ref={o + j === from ? first : undefined}>{b.toString(16).padStart(2, '0')}</span>
            ))}
          </span>
          <span class="ascii">
            {[...bytes.subarray(o, o + 16)].map((b, j) => (
              <span key={j} class={hl(o + j) ? 'hl' : ''}>{b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'}</span>
            ))}
          </span>
        </div>
      ))}
    </div>
  );
}

function Follow({ source, frame }: { source: string; frame: number }) {
  const [s, setS] = useState<FollowedStream | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    getJson<FollowedStream>(`${src(source)}/packets/${frame}/follow`).then(setS, (e: Error) => setError(e.message));
  }, [source, frame]);
  return (
    <div class="follow" id="follow">
      {error ? <p class="error" role="alert">{error}</p> : null}
      {s ? (
        <>
          <h3>
            TCP stream {s.stream}: <span class="client">{s.client}</span> → <span class="server">{s.server}</span> ({s.packets.length} packets)
          </h3>
          {s.http.length > 0 ? (
            <table class="grid" id="http-messages">
              <thead><tr><th>Packet</th><th>Direction</th><th>Message</th><th class="num">Body bytes</th></tr></thead>
              <tbody>
                {s.http.map((m, i) => (
                  <tr key={i}><td>{m.packet}</td><td>{m.fromClient ? 'client → server' : 'server → client'}</td><td><code>{m.startLine}</code></td><td class="num">{m.bodyBytes}</td></tr>
                ))}
              </tbody>
            </table>
          ) : null}
          <pre class="stream" id="stream-text">
            {s.chunks.map((c, i) => (
              <span key={i} class={c.fromClient ? 'client' : 'server'} title={`packet ${c.packet}`}>{printable(base64Bytes(c.dataBase64))}</span>
            ))}
          </pre>
        </>
      ) : null}
    </div>
  );
}

function base64Bytes(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function printable(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x === 10 || x === 13 || x === 9 || (x >= 0x20 && x < 0x7f) ? String.fromCharCode(x) : '.';
  return s;
}
