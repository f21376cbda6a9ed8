// The pcapper encrypted capture file format, version 1: pure layout, sealing and opening of the
// header and the chunks. No I/O here (see writer.ts and reader.ts); node:crypto only.
//
// Byte layout (all integers big-endian; full description in docs/storage.md):
//
//   fixed header (40 bytes, never changes after creation; its SHA-256 is bound into every chunk)
//     0  8  magic "PCAPENC\n"
//     8  1  version (1)
//     9  1  algorithm (1 = AES-256-GCM chunks, data key wrapped with AES-256-GCM)
//    10  2  reserved (0)
//    12  4  chunk size: plaintext bytes per chunk (1 KiB .. 16 MiB)
//    16  4  nonce prefix (random)
//    20 16  file id (random)
//    36  4  reserved (0); algorithm 2: length N of the age key area
//   algorithm 2 (end to end, docs/storage.md): instead of the two slots, N bytes at 40 hold an age
//   file (age-encryption.org/v1, X25519 recipients) whose plaintext is the 32-byte data key; chunks
//   start at 40 + N. Nothing in the cluster can open it: only the holder of an age identity.
//   key slot A (128 bytes) at 40, key slot B (128 bytes) at 168: the file's data key wrapped by a
//   key-encryption key (KEK). Two slots so rotation never leaves a file without a valid slot.
//     0  1  key id length (0 = empty slot)
//     1 63  key id (ASCII, zero padded)
//    64 12  wrap nonce (random)
//    76 32  wrapped data key
//   108 16  GCM tag; AAD = "pcapper-keyslot-v1" || fixed header || key id
//   124  4  reserved (0)
//   chunks from offset 296, chunk i at 296 + i * (chunkSize + 24):
//     0  4  plaintext length L (bit 31 = final chunk)
//     4  4  seal number g (0, 1, 2… each time the same chunk is sealed again after a flush)
//     8  L  ciphertext
//   8+L 16  GCM tag
//   nonce = nonce prefix || i || g (12 bytes); AAD = SHA-256(fixed header) || i || g || L|final.
//
// Every chunk but the last holds exactly chunkSize plaintext bytes, so the plaintext offset of a
// byte maps to one chunk without reading anything else (ranges, resumed downloads). A flush seals
// the pending bytes as a short chunk (seal number g); when that chunk grows it is sealed again in
// the same slot with g+1, so no nonce is ever used twice with one key.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export const MAGIC = Buffer.from('PCAPENC\n', 'latin1');
export const VERSION = 1;
export const ALG_AES256GCM = 1;
/** AES-256-GCM chunks, the data key wrapped to age X25519 recipients (end-to-end mode). */
export const ALG_AGE = 2;
/** Largest age key area (a few recipients fit in well under 1 KiB). */
export const MAX_AGE_AREA = 4096;
export const FIXED_HEADER_SIZE = 40;
export const SLOT_SIZE = 128;
export const SLOT_COUNT = 2;
export const HEADER_SIZE = FIXED_HEADER_SIZE + SLOT_SIZE * SLOT_COUNT; // 296
export const RECORD_HEADER_SIZE = 8;
export const TAG_SIZE = 16;
export const KEY_SIZE = 32;
export const MIN_CHUNK_SIZE = 1024;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
/**
 * 256 KiB: the writer's CPU per MB over plain writes is about a third of 64 KiB chunks' (a cipher and a
 * record per chunk: +0.3 against +1.0-1.3 ms per MB, bench/storage.ts ring_cpu_ms_per_mb), while a
 * range read still decrypts at most 256 KiB more than it asked for. Each file's header says its
 * chunk size, so files written with another size read as before.
 */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
export const MAX_KEY_ID_LENGTH = 63;
const FINAL_BIT = 0x80000000;
const SLOT_AAD_LABEL = Buffer.from('pcapper-keyslot-v1', 'latin1');
const KEY_ID_RE = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;

/** Why an encrypted file could not be read or written; `code` is stable for callers and tests. */
export type CryptoErrorCode =
  | 'BadMagic'
  | 'UnsupportedVersion'
  | 'BadHeader'
  | 'UnknownKey'
  | 'WrongKey'
  | 'ChunkAuthFailed'
  | 'Truncated'
  | 'TrailingData'
  | 'BadKey'
  | 'BadRange'
  | 'EndToEnd';

export class EncryptedFileError extends Error {
  override readonly name = 'EncryptedFileError';
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A key-encryption key: 32 bytes and the id written into the files it wraps. */
export interface Kek {
  readonly id: string;
  readonly key: Buffer;
}

export interface FixedHeader {
  readonly chunkSize: number;
  readonly noncePrefix: Buffer; // 4 bytes
  readonly fileId: Buffer; // 16 bytes
  /** ALG_AES256GCM (data key in the two key slots) or ALG_AGE (data key wrapped to age recipients). */
  readonly alg: number;
  /** Offset of chunk 0: HEADER_SIZE, or 40 + the age key area's length. */
  readonly dataStart: number;
  /** The 40 bytes as written, and their SHA-256 (bound into every chunk's AAD). */
  readonly bytes: Buffer;
  readonly hash: Buffer;
}

export interface KeySlot {
  readonly keyId: string;
  readonly nonce: Buffer;
  readonly wrapped: Buffer;
  readonly tag: Buffer;
}

export function checkKeyId(id: string): void {
  if (!KEY_ID_RE.test(id)) {
    throw new EncryptedFileError(
      'BadKey',
      `key id ${JSON.stringify(id)} is not valid: use 1-${MAX_KEY_ID_LENGTH} lower-case letters, digits, '-' or '.', starting and ending with a letter or digit (e.g. "2026-11")`,
    );
  }
}

export function checkKek(kek: Kek): void {
  checkKeyId(kek.id);
  if (kek.key.length !== KEY_SIZE) {
    throw new EncryptedFileError('BadKey', `key ${kek.id} has ${kek.key.length} bytes; a key-encryption key must be exactly ${KEY_SIZE} random bytes (e.g. openssl rand 32)`);
  }
}

export function checkChunkSize(n: number): void {
  if (!Number.isInteger(n) || n < MIN_CHUNK_SIZE || n > MAX_CHUNK_SIZE) {
    throw new EncryptedFileError('BadHeader', `chunk size ${n} is out of range: use ${MIN_CHUNK_SIZE} .. ${MAX_CHUNK_SIZE} bytes`);
  }
}

/** A new fixed header with fresh random nonce prefix and file id. */
export function newFixedHeader(chunkSize: number, random: (n: number) => Buffer = randomBytes, ageAreaLength?: number): FixedHeader {
  checkChunkSize(chunkSize);
  const b = Buffer.alloc(FIXED_HEADER_SIZE);
  MAGIC.copy(b, 0);
  b[8] = VERSION;
  b[9] = ageAreaLength === undefined ? ALG_AES256GCM : ALG_AGE;
  if (ageAreaLength !== undefined) b.writeUInt32BE(ageAreaLength, 36);
  b.writeUInt32BE(chunkSize, 12);
  random(4).copy(b, 16);
  random(16).copy(b, 20);
  return parseFixedHeader(b);
}

export function parseFixedHeader(b: Buffer): FixedHeader {
  if (b.length < FIXED_HEADER_SIZE) {
    throw new EncryptedFileError('Truncated', `the file is ${b.length} bytes, shorter than the ${HEADER_SIZE}-byte header of an encrypted pcapper file`);
  }
  if (!b.subarray(0, 8).equals(MAGIC)) {
    throw new EncryptedFileError('BadMagic', 'not an encrypted pcapper file (the first 8 bytes are not "PCAPENC\\n"); a plain pcap file needs no key');
  }
  if (b[8] !== VERSION) {
    throw new EncryptedFileError('UnsupportedVersion', `encrypted file format version ${b[8]} is not supported by this pcapper (it reads version ${VERSION}); upgrade pcapper`);
  }
  const alg = b[9] ?? 0;
  if (alg !== ALG_AES256GCM && alg !== ALG_AGE) throw new EncryptedFileError('BadHeader', `unknown algorithm ${alg} in the encrypted file header`);
  const chunkSize = b.readUInt32BE(12);
  checkChunkSize(chunkSize);
  const area = b.readUInt32BE(36);
  if (alg === ALG_AGE && (area < 1 || area > MAX_AGE_AREA)) {
    throw new EncryptedFileError('BadHeader', `the age key area of ${area} bytes is out of range (1 .. ${MAX_AGE_AREA}): the header is damaged`);
  }
  const bytes = Buffer.from(b.subarray(0, FIXED_HEADER_SIZE));
  return {
    alg,
    dataStart: alg === ALG_AGE ? FIXED_HEADER_SIZE + area : HEADER_SIZE,
    chunkSize,
    noncePrefix: bytes.subarray(16, 20),
    fileId: bytes.subarray(20, 36),
    bytes,
    hash: createHash('sha256').update(bytes).digest(),
  };
}

function slotAad(fixed: FixedHeader, keyId: string): Buffer {
  return Buffer.concat([SLOT_AAD_LABEL, fixed.bytes, Buffer.from(keyId, 'latin1')]);
}

/** Wraps the data key with a KEK (AES-256-GCM, random nonce, AAD binds the fixed header and key id). */
export function wrapDataKey(fixed: FixedHeader, dek: Buffer, kek: Kek, random: (n: number) => Buffer = randomBytes): KeySlot {
  checkKek(kek);
  const nonce = random(12);
  const c = createCipheriv('aes-256-gcm', kek.key, nonce);
  c.setAAD(slotAad(fixed, kek.id));
  const wrapped = Buffer.concat([c.update(dek), c.final()]);
  return { keyId: kek.id, nonce, wrapped, tag: c.getAuthTag() };
}

export function unwrapDataKey(fixed: FixedHeader, slot: KeySlot, kek: Kek): Buffer {
  try {
    const d = createDecipheriv('aes-256-gcm', kek.key, slot.nonce);
    d.setAAD(slotAad(fixed, slot.keyId));
    d.setAuthTag(slot.tag);
    return Buffer.concat([d.update(slot.wrapped), d.final()]);
  } catch (e) {
    throw new EncryptedFileError(
      'WrongKey',
      `the data key of this file does not open with key ${JSON.stringify(slot.keyId)}: the key in the Secret differs from the one the file was written with, or the header was altered`,
      { cause: e },
    );
  }
}

export function encodeSlot(slot: KeySlot | undefined): Buffer {
  const b = Buffer.alloc(SLOT_SIZE);
  if (!slot) return b;
  checkKeyId(slot.keyId);
  b[0] = slot.keyId.length;
  b.write(slot.keyId, 1, 'latin1');
  slot.nonce.copy(b, 64);
  slot.wrapped.copy(b, 76);
  slot.tag.copy(b, 108);
  return b;
}

export function decodeSlot(b: Buffer): KeySlot | undefined {
  const n = b[0] ?? 0;
  if (n === 0) return undefined;
  if (n > MAX_KEY_ID_LENGTH) throw new EncryptedFileError('BadHeader', `a key slot names a key id of ${n} bytes (at most ${MAX_KEY_ID_LENGTH}): the header is damaged`);
  return {
    keyId: b.toString('latin1', 1, 1 + n),
    nonce: Buffer.from(b.subarray(64, 76)),
    wrapped: Buffer.from(b.subarray(76, 108)),
    tag: Buffer.from(b.subarray(108, 124)),
  };
}

export function encodeHeader(fixed: FixedHeader, slots: readonly (KeySlot | undefined)[]): Buffer {
  return Buffer.concat([fixed.bytes, encodeSlot(slots[0]), encodeSlot(slots[1])]);
}

export interface ParsedHeader {
  readonly fixed: FixedHeader;
  readonly slots: readonly (KeySlot | undefined)[];
}

export function parseHeader(b: Buffer): ParsedHeader {
  const fixed = parseFixedHeader(b);
  if (fixed.alg === ALG_AGE) throw endToEndError();
  if (b.length < HEADER_SIZE) {
    throw new EncryptedFileError('Truncated', `the file is ${b.length} bytes, shorter than the ${HEADER_SIZE}-byte header of an encrypted pcapper file`);
  }
  const slots = [0, 1].map((i) => decodeSlot(b.subarray(FIXED_HEADER_SIZE + i * SLOT_SIZE, FIXED_HEADER_SIZE + (i + 1) * SLOT_SIZE)));
  return { fixed, slots };
}

/** A keyring: KEKs by id and the active one that wraps new files. */
export interface Keyring {
  readonly active: Kek;
  readonly keys: ReadonlyMap<string, Kek>;
}

/** The data key of a file, from the first slot whose key the keyring holds. */
export function openDataKey(header: ParsedHeader, ring: Keyring): { dek: Buffer; slot: number; keyId: string } {
  const named: string[] = [];
  let lastError: EncryptedFileError | undefined;
  // The slot of the active key first: after an interrupted rotation both slots are valid.
  const order = [0, 1].sort((a, b) => Number(header.slots[b]?.keyId === ring.active.id) - Number(header.slots[a]?.keyId === ring.active.id));
  for (const i of order) {
    const s = header.slots[i];
    if (!s) continue;
    named.push(s.keyId);
    const kek = ring.keys.get(s.keyId);
    if (!kek) continue;
    try {
      return { dek: unwrapDataKey(header.fixed, s, kek), slot: i, keyId: s.keyId };
    } catch (e) {
      lastError = e as EncryptedFileError;
    }
  }
  if (lastError) throw lastError;
  if (named.length === 0) throw new EncryptedFileError('BadHeader', 'the encrypted file has no key slot: the header is damaged');
  throw new EncryptedFileError(
    'UnknownKey',
    `the file was encrypted with key ${named.map((n) => JSON.stringify(n)).join(' or ')}, which is not in the keyring (it has ${[...ring.keys.keys()].map((n) => JSON.stringify(n)).join(', ')}): keep retired keys in the Secret until every file is re-wrapped (docs/storage.md, key rotation)`,
  );
}

/** The error of a file encrypted end to end, read with the cluster's keyring. */
export function endToEndError(): EncryptedFileError {
  return new EncryptedFileError(
    'EndToEnd',
    'this file is encrypted end to end to age recipients (spec.encryption.recipients): the cluster keys cannot open it, only the holder of a matching age identity can (kubectl pcap download NAME --identity FILE)',
  );
}

// ---- chunks ----

export function slotStride(chunkSize: number): number {
  return RECORD_HEADER_SIZE + chunkSize + TAG_SIZE;
}

/** Offset of chunk `index`; `dataStart` is the fixed header's (HEADER_SIZE unless end to end). */
export function chunkOffset(chunkSize: number, index: number, dataStart = HEADER_SIZE): number {
  return dataStart + index * slotStride(chunkSize);
}

function nonceFor(fixed: FixedHeader, index: number, seal: number): Buffer {
  const n = Buffer.alloc(12);
  fixed.noncePrefix.copy(n, 0);
  n.writeUInt32BE(index, 4);
  n.writeUInt32BE(seal, 8);
  return n;
}

function chunkAad(fixed: FixedHeader, index: number, seal: number, lenWord: number): Buffer {
  const b = Buffer.alloc(32 + 12);
  fixed.hash.copy(b, 0);
  b.writeUInt32BE(index, 32);
  b.writeUInt32BE(seal, 36);
  b.writeUInt32BE(lenWord >>> 0, 40);
  return b;
}

/** Seals one chunk into its on-disk record (record header, ciphertext, tag). */
export function sealChunk(fixed: FixedHeader, dek: Buffer, index: number, seal: number, plaintext: Buffer, final: boolean): Buffer {
  return Buffer.concat(sealChunkParts(fixed, dek, index, seal, plaintext, final));
}

/**
 * The same record as sealChunk, as its three contiguous parts [record header, ciphertext, tag]
 * for a writev: the writer's hot path, without copying each chunk's ciphertext once more.
 */
export function sealChunkParts(fixed: FixedHeader, dek: Buffer, index: number, seal: number, plaintext: Buffer, final: boolean): [Buffer, Buffer, Buffer] {
  if (plaintext.length > fixed.chunkSize) throw new RangeError(`chunk of ${plaintext.length} bytes exceeds the chunk size ${fixed.chunkSize}`);
  if (!final && plaintext.length === 0) throw new RangeError('a non-final chunk cannot be empty');
  const lenWord = (plaintext.length | (final ? FINAL_BIT : 0)) >>> 0;
  const head = Buffer.allocUnsafe(RECORD_HEADER_SIZE);
  head.writeUInt32BE(lenWord, 0);
  head.writeUInt32BE(seal, 4);
  const c = createCipheriv('aes-256-gcm', dek, nonceFor(fixed, index, seal));
  c.setAAD(chunkAad(fixed, index, seal, lenWord));
  const ct = c.update(plaintext);
  c.final(); // GCM: no bytes held back
  return [head, ct, c.getAuthTag()];
}

export interface RecordHeader {
  readonly length: number;
  readonly final: boolean;
  readonly seal: number;
}

export function parseRecordHeader(fixed: FixedHeader, b: Buffer, index: number): RecordHeader {
  const word = b.readUInt32BE(0);
  const length = word & ~FINAL_BIT & 0x7fffffff;
  if (length > fixed.chunkSize) {
    throw new EncryptedFileError('ChunkAuthFailed', `chunk ${index} claims ${length} bytes, more than the chunk size ${fixed.chunkSize}: the file was altered or damaged`);
  }
  return { length, final: (word & FINAL_BIT) !== 0, seal: b.readUInt32BE(4) };
}

/** Opens one chunk record (as read from its slot, at least header + length + tag bytes). */
export function openChunk(fixed: FixedHeader, dek: Buffer, index: number, record: Buffer): { plaintext: Buffer; final: boolean; seal: number } {
  const h = parseRecordHeader(fixed, record, index);
  const end = RECORD_HEADER_SIZE + h.length;
  if (record.length < end + TAG_SIZE) {
    throw new EncryptedFileError('Truncated', `chunk ${index} is cut short (${record.length} of ${end + TAG_SIZE} bytes)`);
  }
  const lenWord = (h.length | (h.final ? FINAL_BIT : 0)) >>> 0;
  try {
    const d = createDecipheriv('aes-256-gcm', dek, nonceFor(fixed, index, h.seal));
    d.setAAD(chunkAad(fixed, index, h.seal, lenWord));
    d.setAuthTag(record.subarray(end, end + TAG_SIZE));
    const plaintext = Buffer.concat([d.update(record.subarray(RECORD_HEADER_SIZE, end)), d.final()]);
    return { plaintext, final: h.final, seal: h.seal };
  } catch (e) {
    throw new EncryptedFileError(
      'ChunkAuthFailed',
      `chunk ${index} failed authentication: the file was altered, chunks were reordered or spliced from another file, or it is damaged`,
      { cause: e },
    );
  }
}

/** The chunk index and offset inside it of a plaintext byte offset. */
export function locate(chunkSize: number, plainOffset: number): { index: number; within: number } {
  return { index: Math.floor(plainOffset / chunkSize), within: plainOffset % chunkSize };
}
