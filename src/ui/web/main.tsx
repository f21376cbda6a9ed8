/** The pcapper UI page: a hash router over the pages, the theme, the server's info. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { getJson } from './api.js';
import { parseRoute, type Route } from '../shared/route.js';
import type { InfoResponse } from '../shared/api-types.js';
import { CapturesPage } from './pages/captures.js';
import { CreatePage } from './pages/create.js';
import { DetailPage } from './pages/detail.js';
import { AnalyzePage } from './pages/analyze.js';

type Theme = 'light' | 'dark';

function initialTheme(): Theme {
  const saved = localStorage.getItem('pcapper-theme');
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function App() {
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  const [info, setInfo] = useState<InfoResponse | undefined>();
  const [infoError, setInfoError] = useState<string | undefined>();
  const [theme, setTheme] = useState<Theme>(initialTheme());
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    getJson<InfoResponse>('/api/info').then(setInfo, (e: Error) => setInfoError(e.message));
  }, []);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('pcapper-theme', theme);
  }, [theme]);
  return (
    <div class="app">
      <header class="top">
        <a class="brand" href="#/">pcapper</a>
        <nav>
          <a href="#/" class={route.page === 'captures' ? 'active' : ''}>Captures</a>
          <a href="#/create" class={route.page === 'create' ? 'active' : ''}>New capture</a>
        </nav>
        <span class="cluster">{info?.cluster ? `${info.cluster.server} · ${info.cluster.namespace}` : info ? 'no cluster' : ''}</span>
        <button type="button" class="theme" id="theme-toggle" title="Switch light/dark theme" onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')}>
          {theme === 'dark' ? '☀ Light' : '☾ Dark'}
        </button>
      </header>
      <main>
        {infoError ? <p class="error" role="alert">{infoError}</p> : null}
        {!info ? null : route.page === 'captures' ? (
          <CapturesPage info={info} />
        ) : route.page === 'create' ? (
          <CreatePage info={info} />
        ) : route.page === 'capture' ? (
          <DetailPage namespace={route.namespace} name={route.name} />
        ) : (
          <AnalyzePage route={route} />
        )}
      </main>
    </div>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
