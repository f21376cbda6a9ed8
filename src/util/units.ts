// The one definition of pcapper's units: byte-size suffixes, duration suffixes and the human
// rendering of a byte count. The environment (src/config), the CRD's size strings
// (src/api/validate.ts) and every printer use these.

/** Byte multipliers: k, M, G, T are powers of 1000 (as tcpdump -C counts), Ki … Ti powers of 1024. */
export const BYTE_UNITS: Readonly<Record<string, number>> = Object.freeze({
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
});

/** Duration suffixes in milliseconds. */
export const DURATION_UNITS_MS: Readonly<Record<string, number>> = Object.freeze({ s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 });

export const ENV_SIZE_FORMAT = 'a size in bytes with an optional unit k, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024), e.g. "10G" or "500Mi"';
export const ENV_DURATION_FORMAT = 'a duration: a number with unit s, m, h or d (e.g. "2d", "12h", "30m", "90s"); a bare number means seconds';

/** Parses a size as the environment gives it ("10G", "500Mi", "1048576" bytes) into bytes; undefined if malformed. */
export function parseEnvSize(v: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(|k|K|M|G|T|Ki|Mi|Gi|Ti)B?$/.exec(v.trim());
  if (!m) return undefined;
  const unit = m[2] ? BYTE_UNITS[m[2]] : 1;
  if (unit === undefined) return undefined;
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Parses "2d", "12h", "30m", "90s", "1.5s" or "600" (seconds) into milliseconds; undefined if malformed. */
export function parseEnvDuration(v: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(|s|m|h|d)$/.exec(v.trim());
  if (!m) return undefined;
  const unit = DURATION_UNITS_MS[m[2] || 's'];
  if (unit === undefined) return undefined;
  const ms = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * A byte count for people, in powers of 1000 as tcpdump, capinfos and tshark count:
 * 999 -> "999 B", 1500 -> "1.5 kB", 56e6 -> "56.0 MB", 123e9 -> "123 GB".
 */
export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '0 B';
  if (Math.abs(n) < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n / 1000;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}
