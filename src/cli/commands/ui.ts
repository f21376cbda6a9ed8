/**
 * `kubectl pcap ui [FILE...]`: the pcapper UI, served on 127.0.0.1 by a local server (src/ui/server)
 * that acts with the user's kubeconfig, so the UI shows exactly what RBAC lets this user see. Works
 * without a cluster too, on the local capture store and on the files given as arguments. Prints
 * its URL (with a one-time token) as the last line on stdout and opens a browser unless --no-open.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bool, int, str } from '../args.js';
import { defineCommand, kubeFrom } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import type { KubeContext } from '../kube.js';
import { storeDir } from '../store.js';
import { CaptureReader } from '../../pcap/reader.js';
import { PCAPPER_VERSION } from '../../version.js';
import { openCaptureView } from '../../pcap/view/index.js';
import { ClusterActions } from '../../ui/server/cluster.js';
import { openBrowser } from '../../ui/server/open-browser.js';
import { startUiServer } from '../../ui/server/server.js';
import { Sources } from '../../ui/server/sources.js';
import { parseMaxUpload } from '../../ui/server/upload.js';

export const uiCommand = defineCommand(
  {
    name: 'ui',
    summary: 'Open the pcapper UI in the browser: captures, packets, filters, streams and dashboards',
    usage: 'ui [FILE...] [--port N] [--no-open] [--max-upload SIZE] [--store DIR]',
    description:
      'Serves the UI on 127.0.0.1 only, with a one-time token in the URL (printed as the last line on stdout). Cluster actions use your kubeconfig; without a cluster the local store and the FILEs still work.',
    flags: [
      { name: 'port', type: 'int', value: 'N', help: 'Port on 127.0.0.1', defaultText: 'a free port' },
      { name: 'no-open', type: 'boolean', help: 'Do not open a browser (just print the URL)' },
      { name: 'max-upload', type: 'string', value: 'SIZE', help: 'Largest file the UI accepts for import (512M, 2G)', defaultText: '512M' },
      { name: 'store', type: 'string', value: 'DIR', help: 'Capture store directory', defaultText: '$PCAPPER_STORE or ~/.local/share/pcapper/captures' },
    ],
    argsName: 'FILE',
    examples: ['kubectl pcap ui', 'kubectl pcap ui web.pcapng --no-open', 'kubectl pcap ui --port 8085 -n shop'],
  },
  async (p, io) => {
    const port = int(p, 'port') ?? 0;
    if (port < 0 || port > 65535) throw new UsageError(`--port ${port}: use 1-65535, or leave it out for a free port`, 'ui');
    let maxUpload: number;
    try {
      maxUpload = parseMaxUpload(str(p, 'max-upload'));
    } catch (e) {
      throw new UsageError((e as Error).message, 'ui');
    }
    const store = storeDir(str(p, 'store'), io.env);
    const files = p.args.map((f) => (isAbsolute(f) ? f : resolve(io.cwd, f)));
    for (const f of files) {
      // the same reader as import: a bad file is one clear line before anything starts
      const r = await CaptureReader.open(f).catch((e: unknown) => {
        const msg = (e as Error).message;
        throw new CliError(msg.startsWith(f) ? msg : `${f}: ${msg}`, { cause: e });
      });
      await r.close();
    }
    let kube: KubeContext | undefined;
    let clusterError: string | undefined;
    try {
      kube = kubeFrom(p, io);
    } catch (e) {
      clusterError = (e as Error).message;
      io.stderr.write(`note: no cluster (${clusterError}); the local store and files still work\n`);
    }
    const cacheDir = await mkdtemp(join(tmpdir(), 'pcapper-ui-')); // 0700
    const cluster = kube ? new ClusterActions(kube) : undefined;
    const sources = new Sources({
      files,
      store,
      cacheDir,
      openView: openCaptureView,
      ...(cluster ? { fetchCluster: (ns: string, name: string, dir: string) => cluster.fetchFiles(ns, name, dir, io.signal) } : {}),
    });
    let server;
    try {
      server = await startUiServer({
        port,
        assetsDir: fileURLToPath(new URL('../../ui/web/', import.meta.url)),
        sources,
        ...(kube ? { kube } : {}),
        ...(clusterError ? { clusterError } : {}),
        store,
        cacheDir,
        maxUpload,
        version: PCAPPER_VERSION,
        log: (l) => io.stderr.write(`ui: ${l}\n`),
      });
    } catch (e) {
      await rm(cacheDir, { recursive: true, force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new CliError(`port ${port} on 127.0.0.1 is in use: choose another --port, or leave it out for a free one`, { cause: e });
      throw e;
    }
    io.stderr.write(`pcapper UI on 127.0.0.1:${server.port}${kube ? ` (cluster ${kube.server}, namespace ${kube.namespace})` : ' (no cluster)'}; Ctrl-C to stop\n`);
    if (!bool(p, 'no-open') && !openBrowser(server.url, io.env)) io.stderr.write('note: no xdg-open on PATH: open the URL below in your browser\n');
    io.stdout.write(`${server.url}\n`);
    await new Promise<void>((r) => {
      if (io.signal.aborted) r();
      else io.signal.addEventListener('abort', () => r(), { once: true });
    });
    await server.close();
    cluster?.close();
    await rm(cacheDir, { recursive: true, force: true });
    io.stderr.write('pcapper UI stopped\n');
    return 0;
  },
);
