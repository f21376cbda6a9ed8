/**
 * Deep links: the location hash holds the page, the capture, the filter and the selected packet,
 * so a URL reopens exactly what was on screen. Pure: parse and format only.
 *
 *   #/                                  captures and local files
 *   #/create                            the create form
 *   #/capture/NS/NAME                   a capture's detail
 *   #/analyze/SOURCE?tab=packets&filter=EXPR&packet=N&follow=1&live=1
 */
export type Tab = 'packets' | 'dashboard';

export type Route =
  | { page: 'captures' }
  | { page: 'create' }
  | { page: 'capture'; namespace: string; name: string }
  | { page: 'analyze'; source: string; tab: Tab; filter: string; packet?: number; follow: boolean; live: boolean };

export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#/, '');
  const q = h.indexOf('?');
  const path = q < 0 ? h : h.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
  const parts = path.split('/').filter((p) => p !== '').map((p) => safeDecode(p));
  if (parts[0] === 'create') return { page: 'create' };
  if (parts[0] === 'capture' && parts[1] && parts[2]) return { page: 'capture', namespace: parts[1], name: parts[2] };
  if (parts[0] === 'analyze' && parts[1]) {
    const n = Number(params.get('packet'));
    return {
      page: 'analyze',
      source: parts[1],
      tab: params.get('tab') === 'dashboard' ? 'dashboard' : 'packets',
      filter: params.get('filter') ?? '',
      ...(Number.isSafeInteger(n) && n >= 1 ? { packet: n } : {}),
      follow: params.get('follow') === '1',
      live: params.get('live') === '1',
    };
  }
  return { page: 'captures' };
}

export function formatRoute(r: Route): string {
  switch (r.page) {
    case 'captures':
      return '#/';
    case 'create':
      return '#/create';
    case 'capture':
      return `#/capture/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`;
    case 'analyze': {
      const p = new URLSearchParams();
      p.set('tab', r.tab);
      if (r.filter !== '') p.set('filter', r.filter);
      if (r.packet !== undefined) p.set('packet', String(r.packet));
      if (r.follow) p.set('follow', '1');
      if (r.live) p.set('live', '1');
      return `#/analyze/${encodeURIComponent(r.source)}?${p.toString()}`;
    }
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
