/**
 * The packet list, virtualized with @tanstack/virtual-core: only the rows on screen exist in the
 * DOM and only their pages (200 rows) are fetched, so millions of packets scroll smoothly.
 * Keyboard: up/down, page up/down, home/end move the selection; enter opens the packet.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect, type VirtualizerOptions } from '@tanstack/virtual-core';
import { getJson, src } from './api.js';
import type { PacketRow } from '../../pcap/view/types.js';
import type { RowsResponse } from '../shared/api-types.js';

const ROW_H = 22;
const PAGE = 200;

export interface PacketListProps {
  source: string;
  filter: string;
  /** Bumped when the view grew (live tail) or was reopened. */
  version: number;
  total: number;
  selected?: number;
  onSelect: (frame: number, position: number) => void;
  onOpen: (frame: number) => void;
  /** Keep the last row in view as rows are appended (live tail). */
  stickToEnd: boolean;
}

export function PacketList(p: PacketListProps) {
  const el = useRef<HTMLDivElement>(null);
  const [, force] = useState(0);
  const cache = useRef(new Map<number, PacketRow>());
  const pending = useRef(new Set<number>());
  const [cursor, setCursor] = useState<number | undefined>();
  const [error, setError] = useState<string | undefined>();
  const opts = useMemo<VirtualizerOptions<HTMLDivElement, Element>>(
    () => ({
      count: p.total,
      getScrollElement: () => el.current,
      estimateSize: () => ROW_H,
      overscan: 30,
      observeElementRect,
      observeElementOffset,
      scrollToFn: elementScroll,
      onChange: () => force((x) => x + 1),
    }),
    [],
  );
  const v = useMemo(() => new Virtualizer(opts), []);
  v.setOptions({ ...opts, count: p.total });
  useLayoutEffect(() => v._didMount(), []);
  useLayoutEffect(() => v._willUpdate());
  // a new filter or source: forget the rows
  useEffect(() => {
    cache.current.clear();
    pending.current.clear();
    setCursor(undefined);
    v.scrollToOffset(0);
    force((x) => x + 1);
  }, [p.source, p.filter]);
  // the view grew: rows past the old end are new, the ones we have stay valid
  useEffect(() => {
    if (p.stickToEnd && p.total > 0) v.scrollToIndex(p.total - 1, { align: 'end' });
    force((x) => x + 1);
  }, [p.version, p.total]);
  const items = v.getVirtualItems();
  useEffect(() => {
    const pages = new Set<number>();
    for (const it of items) if (!cache.current.has(it.index)) pages.add(Math.floor(it.index / PAGE));
    for (const pg of pages) {
      if (pending.current.has(pg)) continue;
      pending.current.add(pg);
      const q = new URLSearchParams({ from: String(pg * PAGE), count: String(PAGE) });
      if (p.filter) q.set('filter', p.filter);
      getJson<RowsResponse>(`${src(p.source)}/rows?${q.toString()}`).then(
        (r) => {
          r.rows.forEach((row, i) => cache.current.set(pg * PAGE + i, row));
          pending.current.delete(pg);
          force((x) => x + 1);
        },
        (e: Error) => {
          pending.current.delete(pg);
          setError(e.message);
        },
      );
    }
  });
  const select = (pos: number): void => {
    const n = Math.max(0, Math.min(p.total - 1, pos));
    setCursor(n);
    v.scrollToIndex(n, { align: 'auto' });
    const row = cache.current.get(n);
    if (row) p.onSelect(row.number, n);
  };
  const onKey = (e: KeyboardEvent): void => {
    if (p.total === 0) return;
    const cur = cursor ?? -1;
    const visible = Math.max(1, Math.floor((el.current?.clientHeight ?? ROW_H * 10) / ROW_H) - 1);
    const moves: Record<string, number> = { ArrowDown: cur + 1, ArrowUp: cur - 1, PageDown: cur + visible, PageUp: cur - visible, Home: 0, End: p.total - 1 };
    const to = moves[e.key];
    if (to !== undefined) {
      e.preventDefault();
      select(to);
    } else if (e.key === 'Enter' && cursor !== undefined) {
      e.preventDefault();
      const row = cache.current.get(cursor);
      if (row) p.onOpen(row.number);
    }
  };
  // a row selected by arrow before its page arrived: report it once it is there
  useEffect(() => {
    if (cursor === undefined) return;
    const row = cache.current.get(cursor);
    if (row && row.number !== p.selected) p.onSelect(row.number, cursor);
  });
  return (
    <div class="plist">
      {error ? <p class="error" role="alert">{error}</p> : null}
      <div class="prow phead">
        <span>No.</span><span>Time</span><span>Capture point</span><span>Source</span><span>Destination</span><span>Protocol</span><span class="num">Length</span><span>Info</span>
      </div>
      <div class="pscroll" id="packet-list" ref={el} tabIndex={0} onKeyDown={onKey} role="grid" aria-rowcount={p.total}>
        <div style={{ height: `${v.getTotalSize()}px`, position: 'relative' }}>
          {items.map((it) => {
            const row = cache.current.get(it.index);
            const sel = row !== undefined && row.number === p.selected;
            return (
              <div
                key={it.index}
                class={`prow${sel ? ' sel' : ''}${it.index === cursor ? ' cursor' : ''} p-${(row?.protocol ?? '').toLowerCase()}`}
                style={{ top: `${it.start}px`, height: `${ROW_H}px` }}
                data-frame={row?.number}
                role="row"
                onClick={() => select(it.index)}
                onDblClick={() => row && p.onOpen(row.number)}
              >
                {row ? (
                  <>
                    <span>{row.number}</span>
                    <span>{row.relativeTime.toFixed(6)}</span>
                    <span title={row.capturePoint}>{row.capturePoint}</span>
                    <span title={row.source}>{row.source}{row.sourcePort !== undefined ? `:${row.sourcePort}` : ''}</span>
                    <span title={row.destination}>{row.destination}{row.destinationPort !== undefined ? `:${row.destinationPort}` : ''}</span>
                    <span>{row.protocol}</span>
                    <span class="num">{row.length}</span>
                    <span title={row.info}>{row.info}</span>
                  </>
                ) : (
                  <span class="loading">…</span>
                )}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
