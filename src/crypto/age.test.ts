// End-to-end mode (format algorithm 2): files wrapped to age X25519 recipients, checked against
// the real `age` tool (Debian package age): its keys, its decryption of pcapper's key area, and
// pcapper's decryption of a key that `age` wrapped.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ageRecipientError } from '../api/age-recipient.js';
import { resolveSpec } from '../api/validate.js';
import { parseIdentityFile, recipientError, unwrapWithIdentities } from './age.js';
import { ALG_AGE, chunkOffset, EncryptedFileError, FIXED_HEADER_SIZE, MIN_CHUNK_SIZE, openChunk, parseFixedHeader, slotStride, type Keyring } from './format.js';
import { parseKeyring } from './keyring.js';
import { EncryptedFileReader } from './reader.js';
import { EncryptedFileWriter } from './writer.js';

const CS = MIN_CHUNK_SIZE;
const ring: Keyring = parseKeyring({ active: Buffer.from('k1'), 'k1.key': randomBytes(32) });
let dir = '';
let keyFile = '';
let otherKeyFile = '';
let recipient = '';
let identities: string[] = [];
let otherIdentities: string[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pcapper-age-'));
  keyFile = join(dir, 'key.txt');
  otherKeyFile = join(dir, 'other.txt');
  execFileSync('age-keygen', ['-o', keyFile], { stdio: 'pipe' });
  execFileSync('age-keygen', ['-o', otherKeyFile], { stdio: 'pipe' });
  recipient = execFileSync('age-keygen', ['-y', keyFile]).toString().trim();
  identities = parseIdentityFile(readFileSync(keyFile, 'utf8'), keyFile);
  otherIdentities = parseIdentityFile(readFileSync(otherKeyFile, 'utf8'), otherKeyFile);
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function writeE2e(name: string, data: Buffer, recipients: string[], flushOnly = false): Promise<string> {
  const p = join(dir, name);
  const w = await EncryptedFileWriter.createForRecipients(p, recipients, { chunkSize: CS });
  await w.write(data);
  if (flushOnly) {
    await w.flush();
    await w.abandon();
  } else await w.close();
  return p;
}

describe('age recipients', () => {
  it('accepts what age-keygen prints and refuses typos with a message saying how to fix them', () => {
    assert.equal(ageRecipientError(recipient), undefined);
    assert.equal(recipientError(recipient), undefined);
    const typo = recipient.slice(0, 10) + (recipient[10] === 'q' ? 'p' : 'q') + recipient.slice(11);
    assert.match(ageRecipientError(typo) ?? '', /wrong checksum.*age-keygen -y/);
    assert.match(ageRecipientError('age1abc') ?? '', /not an age X25519 recipient.*58 lower-case bech32/);
    assert.match(ageRecipientError(recipient.toUpperCase()) ?? '', /not an age X25519 recipient/);
    assert.match(ageRecipientError('ssh-ed25519 AAAA') ?? '', /not an age X25519 recipient/);
  });

  it('resolveSpec validates spec.encryption.recipients (count, syntax, checksum)', () => {
    const base = { targetPod: 'web-0' };
    const ok = resolveSpec({ ...base, encryption: { recipients: [recipient] } }, 'shop');
    assert.ok(ok.ok);
    assert.deepEqual(ok.ok ? ok.spec.recipients : undefined, [recipient]);
    const none = resolveSpec({ ...base, encryption: { recipients: [] } }, 'shop');
    assert.ok(!none.ok && none.problems.some((p) => p.field === 'spec.encryption.recipients' && /at least one/.test(p.message)));
    const many = resolveSpec({ ...base, encryption: { recipients: Array(9).fill(recipient) } }, 'shop');
    assert.ok(!many.ok && many.problems.some((p) => /at most 8/.test(p.message)));
    const bad = resolveSpec({ ...base, encryption: { recipients: [recipient, 'age1nope'] } }, 'shop');
    assert.ok(!bad.ok && bad.problems.some((p) => p.field === 'spec.encryption.recipients[1]' && p.reason === 'InvalidRecipient'));
  });

  it('identity files: age-keygen output parses; anything else is a clear error', () => {
    assert.equal(identities.length, 1);
    assert.match(identities[0] ?? '', /^AGE-SECRET-KEY-1/);
    assert.throws(() => parseIdentityFile('# nothing\n', 'f'), /holds no age identity.*age-keygen -o/);
    assert.throws(() => parseIdentityFile(`${recipient}\n`, 'f'), /line 1 is not an age X25519 identity/);
  });
});

describe('end-to-end files (algorithm 2)', () => {
  it('round-trips with the identity; the cluster keyring cannot open it; a wrong identity is named as such', async () => {
    const data = randomBytes(CS * 3 + 100);
    const p = await writeE2e('a.pcap', data, [recipient]);
    assert.equal(statSync(p).mode & 0o777, 0o600);
    const head = readFileSync(p).subarray(0, FIXED_HEADER_SIZE);
    const fixed = parseFixedHeader(head);
    assert.equal(fixed.alg, ALG_AGE);
    const r = await EncryptedFileReader.open(p, { ageIdentities: identities });
    try {
      const info = await r.info();
      assert.equal(info.size, data.length);
      assert.ok(info.complete);
      assert.ok((await r.read(0, data.length)).equals(data));
      assert.ok((await r.read(CS - 5, CS * 2 + 7)).equals(data.subarray(CS - 5, CS * 2 + 7)));
    } finally {
      await r.close();
    }
    await assert.rejects(EncryptedFileReader.open(p, ring), (e: unknown) => e instanceof EncryptedFileError && e.code === 'EndToEnd' && /--identity/.test(e.message));
    await assert.rejects(EncryptedFileReader.open(p, { ageIdentities: otherIdentities }), (e: unknown) => e instanceof EncryptedFileError && e.code === 'WrongKey' && /other recipients/.test(e.message));
    // and a keyring file read with identities says to download it without --identity
    const k = join(dir, 'k.pcap');
    const w = await EncryptedFileWriter.create(k, ring, { chunkSize: CS });
    await w.write(data);
    await w.close();
    await assert.rejects(EncryptedFileReader.open(k, { ageIdentities: identities }), /without --identity/);
  });

  it('several recipients: each identity opens the file', async () => {
    const other = execFileSync('age-keygen', ['-y', otherKeyFile]).toString().trim();
    const data = randomBytes(5000);
    const p = await writeE2e('two.pcap', data, [recipient, other]);
    for (const ids of [identities, otherIdentities]) {
      const r = await EncryptedFileReader.open(p, { ageIdentities: ids });
      assert.ok((await r.read(0, data.length)).equals(data));
      await r.close();
    }
  });

  it('a file whose writer stopped without its final chunk reads in the live view', async () => {
    const data = randomBytes(CS + 10);
    const p = await writeE2e('live.pcap', data, [recipient], true);
    const r = await EncryptedFileReader.open(p, { ageIdentities: identities });
    await assert.rejects(r.info(), /without its final chunk/);
    assert.ok((await r.read(0, data.length, { live: true })).equals(data));
    await r.close();
  });

  it('interop: `age -d -i KEY` opens the key area pcapper wrote, and that key opens the chunks', async () => {
    const data = randomBytes(CS + 33);
    const p = await writeE2e('interop.pcap', data, [recipient]);
    const file = readFileSync(p);
    const fixed = parseFixedHeader(file.subarray(0, FIXED_HEADER_SIZE));
    const area = file.subarray(FIXED_HEADER_SIZE, fixed.dataStart);
    assert.match(area.subarray(0, 40).toString('latin1'), /^age-encryption\.org\/v1\n-> X25519 /);
    const areaPath = join(dir, 'area.age');
    writeFileSync(areaPath, area);
    const dek = execFileSync('age', ['-d', '-i', keyFile, areaPath]);
    assert.equal(dek.length, 32);
    const at = chunkOffset(CS, 0, fixed.dataStart);
    const c0 = openChunk(fixed, dek, 0, file.subarray(at, at + slotStride(CS)));
    assert.ok(c0.plaintext.equals(data.subarray(0, CS)));
    // and the other way: a key wrapped by `age -r` opens with pcapper's unwrap
    const key = randomBytes(32);
    const keyPath = join(dir, 'dek.bin');
    writeFileSync(keyPath, key);
    const wrapped = execFileSync('age', ['-r', recipient, keyPath]);
    assert.ok((await unwrapWithIdentities(wrapped, identities)).equals(key));
    // the wrong identity: age refuses too
    assert.throws(() => execFileSync('age', ['-d', '-i', otherKeyFile, areaPath], { stdio: 'pipe' }));
  });
});
