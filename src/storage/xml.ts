// The few S3 XML shapes pcapper reads (errors, CreateMultipartUpload, ListParts, ListObjectsV2,
// DeleteObjects), read with a small tag extractor: S3's responses are flat, namespace-free
// documents of simple elements, so no general XML parser is needed. Pure.

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    switch (e) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** The inner texts of every <tag>…</tag> (not nested in itself). */
export function elements(xml: string, tag: string): string[] {
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>|<${tag}(?:\\s[^>]*)?/>`, 'g');
  const out: string[] = [];
  for (const m of xml.matchAll(re)) out.push(m[1] ?? '');
  return out;
}

/** The decoded text of the first <tag>, or undefined. */
export function text(xml: string, tag: string): string | undefined {
  const e = elements(xml, tag)[0];
  return e === undefined ? undefined : decodeEntities(e);
}
