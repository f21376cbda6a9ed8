/**
 * `kubectl pcap keys list|rotate|retire` (cluster admins): the key-encryption keys in the Secret
 * pcapper/pcapper-encryption-keys, through the API server only (docs/storage.md, key rotation).
 * rotate adds a fresh random key and makes it active (new files use it; every agent then re-wraps
 * its node's files); retire removes an old key once nothing needs it any more: it refuses while
 * an object in a store still needs the key (objects in a store are not re-wrapped; the pcapper
 * server reports each object's key ids in the data API's file list). The decisions are
 * pure (src/crypto/rotation.ts); this reads and writes the Secret with a resourceVersion, so two
 * admins rotating at once cannot lose a key.
 */
import { randomBytes } from 'node:crypto';
import { bool, str, type ParsedArgs } from '../args.js';
import { defineCommand, kubeFrom } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { filesPath } from '../data-api.js';
import { KubeError, type KubeClient } from '../kube.js';
import { SYSTEM_NAMESPACE } from '../target.js';
import { addActiveKey, describeKeys, keyIdFor, objectsNeedingKey, removeKey, retireRefusal, type SecretData, type StoredFiles } from '../../crypto/rotation.js';

export const KEYS_SECRET = 'pcapper-encryption-keys';

interface Secret {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  data?: Record<string, string>;
  [k: string]: unknown;
}

/**
 * The file lists of every capture that has (or had) a store, through the data API (the pcapper
 * server reads each object's header in the store; the CLI reaches only the API server).
 */
async function storedFiles(kube: KubeClient): Promise<StoredFiles[]> {
  const { items } = await kube.listCaptures(undefined);
  // a store by name, or files with an upload state (a default store): the captures that can have objects
  const withStore = items.filter((pc) => pc.spec.store !== undefined || (pc.status?.targets ?? []).some((t) => (t.files ?? []).some((f) => f.upload !== undefined)));
  const out: StoredFiles[] = [];
  for (const pc of withStore) {
    const ns = pc.metadata.namespace ?? '';
    const name = pc.metadata.name ?? '';
    const capture = `${ns}/${name}`;
    try {
      const l = await kube.json<{ items?: StoredFiles['items']; store?: { name?: string; error?: string } }>('GET', filesPath(ns, name));
      if (l.store?.error) out.push({ capture, error: l.store.error, items: [] });
      else if (!l.store) out.push({ capture, error: 'the pcapper server did not read a store for it (does the server mount the store credentials?)', items: [] });
      else out.push({ capture, items: Array.isArray(l.items) ? l.items : [] });
    } catch (e) {
      out.push({ capture, error: (e as Error).message, items: [] });
    }
  }
  return out;
}

async function run(p: ParsedArgs, io: CliIo): Promise<number> {
  const action = p.args[0] as string;
  if (!['list', 'rotate', 'retire'].includes(action)) throw new UsageError(`unknown action "${action}": use list, rotate or retire`, 'keys');
  if (action === 'retire' && p.args.length !== 2) throw new UsageError('retire needs the key id to remove: kubectl pcap keys retire ID', 'keys');
  if (action !== 'retire' && p.args.length !== 1) throw new UsageError(`${action} takes no argument`, 'keys');
  const kube = kubeFrom(p, io);
  const path = `/api/v1/namespaces/${SYSTEM_NAMESPACE}/secrets/${KEYS_SECRET}`;
  let secret: Secret;
  try {
    secret = await kube.client.json<Secret>('GET', path);
  } catch (e) {
    if (e instanceof KubeError && e.status === 404) throw new CliError(`Secret ${SYSTEM_NAMESPACE}/${KEYS_SECRET} not found: install pcapper with its chart (it creates the Secret) first`, { cause: e });
    if (e instanceof KubeError && e.status === 403) throw new CliError(`not allowed to read Secret ${SYSTEM_NAMESPACE}/${KEYS_SECRET}: key rotation is for cluster admins (${e.message})`, { cause: e });
    throw e;
  }
  const data: SecretData = secret.data ?? {};
  const fail = (e: unknown): never => {
    throw new CliError(`Secret ${SYSTEM_NAMESPACE}/${KEYS_SECRET}: ${(e as Error).message}`, { cause: e });
  };
  if (action === 'list') {
    let d: { active: string; ids: string[] } = { active: '', ids: [] };
    try {
      d = describeKeys(data);
    } catch (e) {
      fail(e);
    }
    for (const id of d.ids) io.stdout.write(`${id}${id === d.active ? '\tactive' : ''}\n`);
    return 0;
  }
  let next: Record<string, string> = {};
  let said = '';
  try {
    if (action === 'rotate') {
      const id = str(p, 'id') ?? keyIdFor(new Date());
      next = addActiveKey(data, id, randomBytes(32));
      said = `key ${id} added and active: new files are wrapped by it; each agent re-wraps its node's files (docs/storage.md, key rotation); retire the old key when they are done`;
    } else {
      const id = p.args[1] as string;
      next = removeKey(data, id);
      said = `key ${id} removed from the Secret`;
    }
  } catch (e) {
    fail(e);
  }
  if (action === 'retire') {
    const id = p.args[1] as string;
    const refusal = retireRefusal(id, objectsNeedingKey(id, await storedFiles(kube.client)));
    if (refusal && !bool(p, 'force')) throw new CliError(refusal);
    if (refusal) io.stderr.write(`warning: --force: ${refusal.split('\n')[0]}; those objects can no longer be read\n`);
  }
  try {
    await kube.client.json('PUT', path, { body: { ...secret, data: next } });
  } catch (e) {
    if (e instanceof KubeError && e.status === 409) throw new CliError(`Secret ${SYSTEM_NAMESPACE}/${KEYS_SECRET} changed while this ran (someone else rotated?): run the command again`, { cause: e });
    throw e;
  }
  io.stderr.write(`${said}\n`);
  return 0;
}

export const keysCommand = defineCommand(
  {
    name: 'keys',
    summary: 'Cluster admins: list, rotate or retire the encryption keys (Secret pcapper/pcapper-encryption-keys)',
    usage: 'keys list | keys rotate [--id ID] | keys retire ID [--force]',
    flags: [
      { name: 'id', type: 'string', value: 'ID', help: 'rotate: id of the new key (default k<UTC date>-<time>)' },
      { name: 'force', type: 'boolean', help: 'retire: even while objects in a store still need the key (they become unreadable)' },
    ],
    minArgs: 1,
    maxArgs: 2,
    argsName: 'ACTION',
    examples: ['kubectl pcap keys list', 'kubectl pcap keys rotate', 'kubectl pcap keys retire 2026-05'],
  },
  run,
);
