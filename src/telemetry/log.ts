/**
 * One structured logger for every component: JSON lines on stderr (or human lines when
 * PCAPPER_LOG_FORMAT=text), with child loggers bound to a capture, a node or a target.
 * Only the edges log; pure code returns values and errors.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: Level;
  format?: 'json' | 'text';
  write?: (line: string) => void;
  now?: () => Date;
}

function errorFields(v: unknown): unknown {
  if (v instanceof Error) {
    const out: Record<string, unknown> = { name: v.name, message: v.message };
    if (v.cause !== undefined) out.cause = errorFields(v.cause);
    return out;
  }
  return v;
}

export function createLogger(opts: LoggerOptions = {}, bindings: Record<string, unknown> = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = opts.now ?? (() => new Date());
  const format = opts.format ?? 'json';
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < min) return;
    const rec: Record<string, unknown> = { time: now().toISOString(), level, msg, ...bindings };
    for (const [k, v] of Object.entries(fields ?? {})) rec[k] = errorFields(v);
    if (format === 'json') {
      write(JSON.stringify(rec));
    } else {
      const extra = Object.entries(rec)
        .filter(([k]) => !['time', 'level', 'msg'].includes(k))
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      write(`${String(rec.time)} ${level.toUpperCase()} ${msg}${extra ? ' ' + extra : ''}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (b) => createLogger(opts, { ...bindings, ...b }),
  };
}

/** A logger that drops everything (for tests that do not look at logs). */
export const silentLogger: Logger = createLogger({ write: () => undefined });
