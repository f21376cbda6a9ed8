/** The page's calls to its local server (same origin; the HttpOnly session cookie goes along). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

async function answer<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = { error: text.slice(0, 200) };
  }
  if (!res.ok) throw new ApiError(typeof body.error === 'string' ? body.error : `HTTP ${res.status}`, res.status, body);
  return body as T;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return answer<T>(await fetch(path, { credentials: 'same-origin', ...(signal ? { signal } : {}) }));
}

export async function sendJson<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  return answer<T>(
    await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
}

export async function upload<T>(path: string, file: File): Promise<T> {
  return answer<T>(await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/octet-stream', 'X-Filename': encodeURIComponent(file.name) }, body: file }));
}

/**
 * Downloads a capture: the server prepares the file first (an error comes back as JSON and is
 * shown), then the browser fetches it once as a real download, streamed to disk.
 */
export async function download(prepare: string): Promise<{ packets: number; bytes: number; warnings: string[] }> {
  const r = await sendJson<{ id: string; packets: number; bytes: number; warnings: string[] }>('POST', prepare);
  const a = document.createElement('a');
  a.href = `/api/downloads/${encodeURIComponent(r.id)}`;
  a.download = '';
  document.body.appendChild(a);
  a.click();
  a.remove();
  return r;
}

export const src = (id: string): string => `/api/sources/${encodeURIComponent(id)}`;

export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const u = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < u.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${u[i] ?? ''}`;
}

export function fmtAge(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
