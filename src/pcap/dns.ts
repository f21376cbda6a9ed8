/**
 * Minimal DNS message header + first-question decoder (RFC 1035), pure and bounded: name
 * compression pointers are followed at most 32 times and names are capped at 255 bytes.
 */

export interface DnsHeader {
  id: number;
  /** true for responses */
  qr: boolean;
  opcode: number;
  rcode: number;
  qdcount: number;
  ancount: number;
  /** First question name ("" for the root, undefined if missing or malformed). */
  qname: string | undefined;
  qtype: number;
}

/** Names of the common response codes. */
export const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
};

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

const QTYPES: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 65: 'HTTPS', 255: 'ANY' };
export function qtypeName(t: number): string {
  return QTYPES[t] ?? `TYPE${t}`;
}

/** Decodes the DNS message at `b[o .. o+len)`; undefined if it is not plausibly DNS. */
export function decodeDns(b: Uint8Array, o: number, len: number): DnsHeader | undefined {
  if (len < 12) return undefined;
  const end = o + len;
  const flags = (b[o + 2]! << 8) | b[o + 3]!;
  const h: DnsHeader = {
    id: (b[o]! << 8) | b[o + 1]!,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0x0f,
    rcode: flags & 0x0f,
    qdcount: (b[o + 4]! << 8) | b[o + 5]!,
    ancount: (b[o + 6]! << 8) | b[o + 7]!,
    qname: undefined,
    qtype: 0,
  };
  if (h.qdcount === 0) return h;
  const labels: string[] = [];
  let p = o + 12;
  let after = -1;
  let jumps = 0;
  let total = 0;
  for (;;) {
    if (p >= end) return h;
    const l = b[p]!;
    if (l === 0) {
      p++;
      break;
    }
    if ((l & 0xc0) === 0xc0) {
      if (p + 1 >= end || ++jumps > 32) return h;
      const target = o + (((l & 0x3f) << 8) | b[p + 1]!);
      if (after < 0) after = p + 2;
      p = target;
      continue;
    }
    if ((l & 0xc0) !== 0) return h;
    if (p + 1 + l > end) return h;
    total += l + 1;
    if (total > 255) return h;
    let s = '';
    for (let i = 0; i < l; i++) s += String.fromCharCode(b[p + 1 + i]!);
    labels.push(s);
    p += 1 + l;
  }
  const q = after >= 0 ? after : p;
  if (q + 2 <= end) h.qtype = (b[q]! << 8) | b[q + 1]!;
  h.qname = labels.join('.');
  return h;
}
