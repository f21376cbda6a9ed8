/**
 * `kubectl pcap import FILE... [--name NAME] [--store DIR]`: copies pcap/pcapng files and their
 * metadata sidecars into the local capture store (see src/cli/store.ts), splitting exported files
 * per interface with their metadata, so `kubectl pcap summary NAME` and `kubectl pcap merge NAME -w
 * OUT` work on them without a cluster. `--list` shows what is in the store.
 */
import { constants } from 'node:fs';
import { access, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { bool, str } from '../args.js';
import { defineCommand } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import { formatTable } from '../printers.js';
import { ensureStoreDir, importFile, storeDir, storedCaptureFiles, type ImportedFile } from '../store.js';

export const importCommand = defineCommand(
  {
    name: 'import',
    summary: 'Import pcap/pcapng files (and metadata sidecars) into the local store for summary and merge',
    usage: 'import FILE... [--name NAME] [--store DIR] | import --list',
    description: 'Sidecars (FILE.meta.json or capture-meta.json, format in docs/metadata.md) are imported with their files; files written by `kubectl pcap export` are split per pod with their metadata restored.',
    flags: [
      { name: 'name', type: 'string', value: 'NAME', help: 'Name of the imported capture', defaultText: 'the first file\'s base name' },
      { name: 'store', type: 'string', value: 'DIR', help: 'Capture store directory', defaultText: '$PCAPPER_STORE or ~/.local/share/pcapper/captures' },
      { name: 'list', type: 'boolean', help: 'List imported captures' },
    ],
    argsName: 'FILE',
    examples: ['kubectl pcap import web.pcapng', 'kubectl pcap import node-a/*.pcap0 --name incident-42', 'kubectl pcap summary incident-42'],
  },
  async (p, io) => {
    const store = storeDir(str(p, 'store'), io.env);
    if (bool(p, 'list')) {
      let names: string[] = [];
      try {
        names = (await readdir(store)).sort();
      } catch {
        // empty store
      }
      const rows: string[][] = [];
      for (const n of names) {
        const files = await storedCaptureFiles(store, n);
        if (!files) continue;
        let bytes = 0;
        for (const f of files) bytes += (await stat(f)).size;
        rows.push([n, String(files.length), String(bytes), join(store, n)]);
      }
      if (rows.length === 0) io.stderr.write(`No imported captures in ${store}.\n`);
      else io.stdout.write(formatTable(['NAME', 'FILES', 'BYTES', 'DIRECTORY'], rows));
      return 0;
    }
    if (p.args.length === 0) throw new UsageError('FILE is required (or --list)', 'import');
    const first = basename(p.args[0] as string).replace(/\.(pcap[0-9]*|pcapng|cap)$/, '');
    const name = str(p, 'name') ?? (first.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'imported');
    // every source is checked before the store entry exists (a failed import leaves nothing behind)
    const sources = p.args.map((f) => (isAbsolute(f) ? f : resolve(io.cwd, f)));
    for (const f of sources) {
      const st = await stat(f).catch(() => undefined);
      if (!st) throw new CliError(`cannot import ${f}: no such file`);
      if (!st.isFile()) throw new CliError(`cannot import ${f}: not a regular file`);
      try {
        await access(f, constants.R_OK);
      } catch {
        throw new CliError(`cannot import ${f}: permission denied`);
      }
    }
    const existed = await stat(join(store, name)).then(() => true, () => false);
    const dir = await ensureStoreDir(store, name);
    const done: ImportedFile[] = [];
    try {
      for (const f of sources) done.push(...(await importFile(f, dir)));
    } catch (e) {
      // e.g. not a capture file: remove the half-made entry (never an earlier import's)
      if (!existed) await rm(dir, { recursive: true, force: true });
      throw e;
    }
    await writeFile(join(dir, 'import.json'), `${JSON.stringify({ importedAt: new Date().toISOString(), files: done }, null, 2)}\n`, { mode: 0o600 });
    for (const d of done) io.stderr.write(`imported ${d.source} -> ${d.path}${d.metadata ? ' (with metadata)' : ' (no metadata)'}\n`);
    io.stdout.write(`${name}\n`);
    io.stderr.write(`now: kubectl pcap summary ${name}   or   kubectl pcap merge ${name} -w ${name}.pcapng\n`);
    return 0;
  },
);
