/**
 * Exact timestamp arithmetic on 64-bit pcapng timestamps held as two uint32 halves, without BigInt in
 * the hot path. All values stay below 2^53 in every intermediate step.
 */

const TWO32 = 4294967296;

/**
 * Splits the 64-bit unsigned value `hi * 2^32 + lo` by `divisor` (1 < divisor <= 2^30).
 * Returns the quotient (exact while it is below 2^53) and writes the remainder to `out[0]`.
 */
export function divmod64(hi: number, lo: number, divisor: number, out: Float64Array): number {
  // Long division over four 16-bit limbs: each partial dividend is < 2^46.
  let r = 0;
  let t = r * 65536 + (hi >>> 16);
  const q3 = Math.floor(t / divisor);
  r = t - q3 * divisor;
  t = r * 65536 + (hi & 0xffff);
  const q2 = Math.floor(t / divisor);
  r = t - q2 * divisor;
  t = r * 65536 + (lo >>> 16);
  const q1 = Math.floor(t / divisor);
  r = t - q1 * divisor;
  t = r * 65536 + (lo & 0xffff);
  const q0 = Math.floor(t / divisor);
  r = t - q0 * divisor;
  out[0] = r;
  return ((q3 * 65536 + q2) * 65536 + q1) * 65536 + q0;
}

/**
 * Computes `sec * mult + frac` as a 64-bit value and writes its halves to `out[0]` (hi) and
 * `out[1]` (lo). Requires sec < 2^37, mult <= 2^30, frac < 2^32.
 */
export function mulAdd64(sec: number, mult: number, frac: number, out: Float64Array): void {
  const sHi = Math.floor(sec / 65536);
  const sLo = sec - sHi * 65536;
  const a = sHi * mult; // < 2^51
  const b = sLo * mult + frac; // < 2^47
  const aHi = Math.floor(a / 65536);
  const t = (a - aHi * 65536) * 65536 + b; // < 2^48
  const carry = Math.floor(t / TWO32);
  out[1] = t - carry * TWO32;
  out[0] = aHi + carry;
}

/** Formats seconds + nanoseconds as an ISO-8601 UTC string with microseconds. */
export function formatTimestamp(sec: number, nsec: number): string {
  const d = new Date(sec * 1000);
  if (Number.isNaN(d.getTime())) return `${sec}.${String(nsec).padStart(9, '0')}`;
  const iso = d.toISOString(); // ...:SS.mmmZ
  return `${iso.slice(0, 19)}.${String(Math.floor(nsec / 1000)).padStart(6, '0')}Z`;
}
