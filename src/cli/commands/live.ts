/**
 * `kubectl pcap live TARGET -w -`: creates a capture and streams its packets while they are
 * captured, as one pcapng with one interface per pod/node (named `<node>/<namespace>/<pod>`), so
 * `kubectl pcap live pod/x -w - | tshark -r -` (or `| wireshark -k -i -`) shows packets as they
 * arrive. Every stream goes through the API server (`packetcaptures/log` of the data API). Targets that start while the capture runs (selectors, workloads) join the stream.
 * Ends when the capture finishes or on Ctrl-C; deletes the capture unless --keep.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PacketCapture, TargetStatus } from '../../api/packetcapture.js';
import { PcapngWriter } from '../../pcap/writer.js';
import { bool, str, type FlagSpec, type ParsedArgs } from '../args.js';
import { defineCommand, kubeFrom } from '../command.js';
import { filePath, openLog, targetDirName } from '../data-api.js';
import { DIRECTORY_METADATA_FILE, parseCaptureMetadata, type CaptureMetadata } from '../../pcap/metadata.js';
import { metadataComment } from '../store.js';
import { CliError, UsageError } from '../errors.js';
import { KubeError, type KubeClient } from '../kube.js';
import { followCapture, isDone } from '../follow.js';
import { EXIT, type CliIo } from '../io.js';
import { PcapStreamParser } from '../pcap-stream.js';
import { targetLabel } from '../printers.js';
import { progressChanges } from '../progress.js';
import { captureRequest, checkTarget, CAPTURE_SPEC_FLAGS, createCapture, deleteCreated, outputPath, sectionCommentsFor } from './capture.js';

/** Duration of a live capture without --duration or --count: it normally ends with Ctrl-C. */
export const LIVE_DEFAULT_DURATION = '1h';

const LIVE_FLAGS: readonly FlagSpec[] = [
  ...CAPTURE_SPEC_FLAGS,
  { name: 'write', short: 'w', type: 'string', value: 'FILE', help: 'Where to stream the pcapng: - for stdout (default when stdout is not a terminal), or a file' },
  { name: 'keep', type: 'boolean', help: 'Keep the PacketCapture (and its files on the nodes) afterwards' },
];

/** Interface name of a target in the live stream: `<node>/<namespace>/<pod>` or `<node>/<iface>`. */
export function liveInterfaceName(t: TargetStatus): string {
  if (t.kind === 'node') return `${t.node ?? '?'}/${t.interface ?? 'any'}`;
  return `${t.node ?? '?'}/${t.namespace ?? '?'}/${t.pod ?? t.name}`;
}

/** Reopens of one target's stream after interruptions, at most. */
const MAX_RECONNECTS = 5;

/** Longest wait for a target's metadata sidecar before its live stream opens without it. */
const SIDECAR_WAIT_MS = 3000;

export class LiveMux {
  private readonly w: PcapngWriter;
  private readonly open = new Map<string, Promise<void>>();
  private readonly failed = new Set<string>();
  /** Interface per target (and link type), kept across reconnects. */
  private readonly ifaces = new Map<string, { id: number; linkType: number }>();
  /** Reconnects per target after an interrupted stream (a server replica restarting). */
  private readonly reconnects = new Map<string, number>();
  packets = 0;
  private writeError: Error | undefined;

  constructor(
    private readonly out: Writable,
    private readonly pc: PacketCapture,
    private readonly client: KubeClient,
    private readonly io: CliIo,
    private readonly signal: AbortSignal,
  ) {
    this.w = new PcapngWriter(out);
    this.w.writeSection({ comments: sectionCommentsFor(pc) });
  }

  /** Starts streams for running targets (status.targets[] with a node) that have none yet. */
  update(pc: PacketCapture): void {
    for (const t of pc.status?.targets ?? []) {
      if (this.open.has(t.name) || t.phase !== 'Running' || !t.node) continue;
      this.open.set(t.name, this.follow(t, t.node));
    }
  }

  private async follow(t: TargetStatus, node: string): Promise<void> {
    const ns = this.pc.metadata.namespace ?? '';
    const name = this.pc.metadata.name ?? '';
    let iface: number | undefined;
    try {
      // through the API server: packetcaptures/log is long-running, so no request timeout cuts it
      // The target's metadata sidecar (pod IPs -> pod names) goes into the interface's comments, so
      // a live file is self-describing like an export (the UI's live tail names endpoints by pod).
      const meta = await this.sidecar(t, node);
      const res = await openLog(this.client, ns, name, node, targetDirName(t.name), this.signal);
      if (!this.reconnects.has(t.name)) this.io.stderr.write(`streaming ${targetLabel(t)} from node ${node}\n`);
      const parser = new PcapStreamParser();
      for await (const chunk of res) {
        const pkts = parser.push(chunk as Buffer);
        if (iface === undefined && parser.header) iface = this.interfaceFor(t, node, parser.header.linkType, parser.header.snapLength, meta);
        if (iface === undefined || pkts.length === 0) continue;
        for (const p of pkts) this.w.writePacket(iface, p.tsSec, p.tsNsec, p.data, p.origLen);
        this.packets += pkts.length;
        // low latency: hand this batch to stdout now (one write per parsed chunk), and wait only
        // when the pipe pushes back
        await this.w.flush();
      }
    } catch (e) {
      if ((e as Error).name === 'AbortError' || this.signal.aborted) return;
      if (e instanceof Error && /EPIPE|write after end|ERR_STREAM_DESTROYED/.test(`${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`)) {
        this.writeError = e;
        return;
      }
      // an interrupted stream (connection lost, 5xx while a server replica restarts) is opened
      // again at the next status update while the target runs; bounded
      const status = e instanceof KubeError ? e.status : 0;
      const n = this.reconnects.get(t.name) ?? 0;
      if ((status === 0 || status >= 500) && n < MAX_RECONNECTS) {
        this.reconnects.set(t.name, n + 1);
        this.io.stderr.write(`note: live stream of ${targetLabel(t)} interrupted (${(e as Error).message}); reopening\n`);
        this.open.delete(t.name);
        return;
      }
      if (!this.failed.has(t.name)) this.io.stderr.write(`warning: live stream of ${targetLabel(t)}: ${(e as Error).message}\n`);
      this.failed.add(t.name);
    }
  }

  /**
   * The target's capture-meta.json through the data API; undefined when it cannot be read within
   * SIDECAR_WAIT_MS (best effort: the stream then goes on without pod names, never waits longer).
   */
  private async sidecar(t: TargetStatus, node: string): Promise<CaptureMetadata | undefined> {
    try {
      const signal = AbortSignal.any([this.signal, AbortSignal.timeout(SIDECAR_WAIT_MS)]);
      const raw = await this.client.json<unknown>('GET', filePath(this.pc.metadata.namespace ?? '', this.pc.metadata.name ?? '', node, targetDirName(t.name), DIRECTORY_METADATA_FILE), { signal });
      return parseCaptureMetadata(typeof raw === 'string' ? JSON.parse(raw) : raw);
    } catch {
      return undefined;
    }
  }

  /** The target's interface: one per target, reused after a reconnect with the same link type. */
  private interfaceFor(t: TargetStatus, node: string, linkType: number, snapLength: number, meta?: CaptureMetadata): number {
    const have = this.ifaces.get(t.name);
    if (have && have.linkType === linkType) return have.id;
    const ns = this.pc.metadata.namespace ?? '';
    const name = this.pc.metadata.name ?? '';
    const id = this.w.addInterface({
      linkType,
      snapLength,
      name: liveInterfaceName(t),
      description: `pcapper live ${targetLabel(t)}`,
      comments: [`pcapper.capture=${ns}/${name}`, `pcapper.node=${node}`, `pcapper.target=${t.kind ?? 'pod'}`, ...(t.pod ? [`pcapper.pod=${t.namespace ?? ''}/${t.pod}`] : []), ...(meta ? [metadataComment(meta)] : [])],
      tsresol: 9,
    });
    this.ifaces.set(t.name, { id, linkType });
    return id;
  }

  /** Waits for every open stream to end (bounded). */
  async settle(timeoutMs: number): Promise<void> {
    await Promise.race([Promise.all(this.open.values()), sleep(timeoutMs, undefined, { signal: this.signal }).catch(() => undefined)]);
  }

  async end(toStdout: boolean): Promise<void> {
    if (this.writeError) return;
    await this.w.end(!toStdout).catch(() => undefined);
  }
}

async function runLive(p: ParsedArgs, io: CliIo): Promise<number> {
  let w = str(p, 'write');
  if (w === undefined) {
    if (io.stdout.isTTY) throw new UsageError('refusing to write a binary capture to a terminal: pipe it (-w - | tshark -r -) or give -w FILE', 'live');
    w = '-';
  }
  const kube = kubeFrom(p, io);
  // live runs until Ctrl-C (or the reader quits): without --duration/--count, up to an hour
  const argsWithDefault: ParsedArgs =
    str(p, 'duration') === undefined && p.flags.count === undefined ? { ...p, flags: { ...p.flags, duration: LIVE_DEFAULT_DURATION } } : p;
  const req = captureRequest(argsWithDefault, 'live', kube.namespace, kube.namespaceExplicit);
  // packets reach the stream as they arrive, not in the kernel's blocks (bench/live-latency)
  req.pc.spec.immediate = true;
  await checkTarget(kube, req, io);
  const toStdout = w === '-';
  let out: Writable = io.stdout;
  if (!toStdout) {
    const path = outputPath(w, req.pc.metadata.name ?? 'live', io.cwd);
    const ws = createWriteStream(path, { mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (e) => reject(new CliError(`cannot write ${path}: ${e.message}`, { cause: e })));
    });
    out = ws;
  }
  const created = await createCapture(kube, req.pc);
  const ns = created.metadata.namespace ?? '';
  const name = created.metadata.name ?? '';
  io.stderr.write(`packetcapture ${ns}/${name} created; streaming live (Ctrl-C to stop)\n`);
  const mux = new LiveMux(out, created, kube.client, io, io.signal);
  let prev: PacketCapture | undefined;
  let last = created;
  let code: number = EXIT.ok;
  try {
    last = await followCapture(
      kube.client,
      ns,
      name,
      (pc) => {
        for (const l of progressChanges(prev, pc)) io.stderr.write(`${l}\n`);
        prev = pc;
        last = pc;
        mux.update(pc);
      },
      io.signal,
    );
    if (isDone(last)) await mux.settle(10_000);
    if (io.signal.aborted) code = EXIT.interrupted;
    else if (last.status?.progress === 'failure') {
      io.stderr.write(`error: capture ${ns}/${name} failed\n`);
      code = EXIT.error;
    }
  } finally {
    await mux.end(toStdout);
    io.stderr.write(`streamed ${mux.packets} packets\n`);
    if (!bool(p, 'keep')) await deleteCreated(kube, created, io);
  }
  return code;
}

export const liveCommand = defineCommand(
  {
    name: 'live',
    summary: 'Stream packets live while capturing (pcapng to stdout: | tshark -r - or | wireshark -k -i -)',
    usage: 'live TARGET | -l SELECTOR [-w -|FILE] [flags]',
    description: 'TARGET forms and capture flags are those of `kubectl pcap capture`. Without --duration or --count the capture runs until Ctrl-C or until the reader quits (at most 1h; pass --duration for longer). The capture is deleted at the end unless --keep.',
    flags: LIVE_FLAGS,
    maxArgs: 1,
    argsName: 'TARGET',
    examples: ['kubectl pcap live pod/web-7d9c -w - | tshark -r -', 'kubectl pcap live -l app=demo --duration 10m -w - | wireshark -k -i -'],
  },
  runLive,
);
