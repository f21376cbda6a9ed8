/**
 * age X25519 recipients (spec.encryption.recipients): syntax and bech32 checksum, pure and
 * dependency-free so the schema, the controller and the UI share it (BIP-173 bech32, hrp "age").
 */
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
/** "age1" + 58 bech32 characters: a 32-byte X25519 public key and its 6-character checksum. */
export const AGE_RECIPIENT_PATTERN = `^age1[${CHARSET}]{58}$`;
/** At most this many recipients per capture (each adds ~100 bytes to every file's header). */
export const MAX_RECIPIENTS = 8;
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ (GEN[i] as number)) >>> 0;
  }
  return chk;
}

/** Why `r` is not an age X25519 recipient, or undefined when it is one. */
export function ageRecipientError(r: unknown): string | undefined {
  const shown = typeof r === 'string' ? JSON.stringify(r.length > 80 ? `${r.slice(0, 80)}…` : r) : String(r);
  if (typeof r !== 'string' || !new RegExp(AGE_RECIPIENT_PATTERN).test(r)) {
    return `${shown} is not an age X25519 recipient: it must be "age1" followed by 58 lower-case bech32 characters (the public key age-keygen prints; age-keygen -y KEYFILE prints it again)`;
  }
  const data = [...r.slice(4)].map((c) => CHARSET.indexOf(c));
  const hrp = 'age';
  const expanded = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];
  if (polymod([...expanded, ...data]) !== 1) return `${shown} has a wrong checksum (a character was mistyped or lost): copy the recipient again from age-keygen -y KEYFILE`;
  return undefined;
}
