// End-to-end mode (docs/storage.md, "End-to-end encryption"): a file's data key is wrapped to the
// capture's age X25519 recipients instead of the cluster keyring, as a small age file
// (age-encryption.org/v1) whose plaintext is the 32-byte data key. Only a holder of a matching
// identity (AGE-SECRET-KEY-1...) can open it; `age -d -i KEY` opens it too.
//
// The age format comes from typage (npm age-encryption, by age's author; its crypto is the audited
// @noble libraries), pinned: no hand-written X25519/HKDF/ChaCha20-Poly1305 stanza code to get wrong.
import { Decrypter, Encrypter } from 'age-encryption';
import { ageRecipientError } from '../api/age-recipient.js';
import { EncryptedFileError, KEY_SIZE, MAX_AGE_AREA } from './format.js';
const IDENTITY_RE = /^AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}$/;

/** Why a recipient is not usable (syntax and bech32 checksum), or undefined. Pure. */
export function recipientError(r: string): string | undefined {
  const why = ageRecipientError(r);
  if (why) return why;
  try {
    new Encrypter().addRecipient(r);
  } catch (e) {
    return `${r} is not a valid age recipient (${(e as Error).message}): copy it again from age-keygen -y`;
  }
  return undefined;
}

/** The data key wrapped to the recipients: an age file of the 32 bytes. */
export async function wrapToRecipients(dek: Buffer, recipients: readonly string[]): Promise<Buffer> {
  if (recipients.length === 0) throw new EncryptedFileError('BadKey', 'end-to-end encryption needs at least one age recipient');
  const e = new Encrypter();
  for (const r of recipients) {
    const why = recipientError(r);
    if (why) throw new EncryptedFileError('BadKey', why);
    e.addRecipient(r);
  }
  const blob = Buffer.from(await e.encrypt(new Uint8Array(dek)));
  if (blob.length > MAX_AGE_AREA) throw new EncryptedFileError('BadKey', `${recipients.length} recipients need ${blob.length} bytes of header, more than ${MAX_AGE_AREA}: name fewer recipients`);
  return blob;
}

/** The data key from the age key area, with the first identity that matches. */
export async function unwrapWithIdentities(blob: Buffer, identities: readonly string[]): Promise<Buffer> {
  const d = new Decrypter();
  for (const i of identities) d.addIdentity(i);
  let dek: Uint8Array;
  try {
    dek = await d.decrypt(new Uint8Array(blob));
  } catch (e) {
    throw new EncryptedFileError(
      'WrongKey',
      `none of the ${identities.length} age identit${identities.length === 1 ? 'y' : 'ies'} given opens this file: it was encrypted to other recipients (see spec.encryption.recipients of the capture; age-keygen -y IDENTITY_FILE prints an identity's recipient)`,
      { cause: e },
    );
  }
  if (dek.length !== KEY_SIZE) throw new EncryptedFileError('BadHeader', `the age key area holds ${dek.length} bytes, not a ${KEY_SIZE}-byte data key: the header is damaged`);
  return Buffer.from(dek);
}

/** Identities from an age identity file (age-keygen's output: comments, blank lines, AGE-SECRET-KEY-1...). Pure. */
export function parseIdentityFile(text: string, source: string): string[] {
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const l = (lines[i] ?? '').trim();
    if (l === '' || l.startsWith('#')) continue;
    if (!IDENTITY_RE.test(l)) {
      throw new EncryptedFileError('BadKey', `${source} line ${i + 1} is not an age X25519 identity: an identity file holds lines "AGE-SECRET-KEY-1..." (from age-keygen -o FILE) and # comments`);
    }
    out.push(l);
  }
  if (out.length === 0) throw new EncryptedFileError('BadKey', `${source} holds no age identity (AGE-SECRET-KEY-1...): make one with age-keygen -o FILE`);
  return out;
}

/** Identities that open end-to-end files (in place of a keyring). */
export interface AgeIdentities {
  readonly ageIdentities: readonly string[];
}
