/**
 * `kubectl pcap capture TARGET`: creates a PacketCapture from flags, follows it with a per-target
 * progress display, downloads every node's files, writes one merged pcapng with one named
 * interface per pod/node, prints the summary, and deletes the capture (unless --keep/--detach).
 * Ctrl-C stops following, saves what was captured so far and deletes the capture.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import type { PacketCapture } from '../../api/packetcapture.js';
import { bool, int, outputFlag, str, type FlagSpec, type ParsedArgs } from '../args.js';
import { defineCommand, kubeFrom } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import { downloadCapture, mergeTo, copyToStream, type LocalCaptureFile } from '../fetch.js';
import { followCapture, isDone } from '../follow.js';
import { EXIT, type CliIo } from '../io.js';
import { KubeError, type KubeContext } from '../kube.js';
import { checkOutputFile } from '../output-path.js';
import { ProgressWriter } from '../progress.js';
import { formatSelector } from '../selector.js';
import { buildPacketCapture, parseTarget, SYSTEM_NAMESPACE, TargetError, type Target } from '../target.js';
import { targetLabel } from '../printers.js';
import { runSummary } from './summary.js';
import { buildSchedule, SCHEDULE_FLAGS, ScheduleFlagError, schedulesPath, wantsSchedule, type ScheduleFlags } from '../schedule.js';
import type { PacketCaptureSchedule } from '../../api/packetcaptureschedule.js';

/** Flags that describe what to capture (shared by capture, live and init). */
export const CAPTURE_SPEC_FLAGS: readonly FlagSpec[] = [
  { name: 'selector', short: 'l', type: 'string', value: 'SELECTOR', help: 'Capture every pod matching this label selector (kubectl syntax: app=web,tier in (a,b),!canary)' },
  { name: 'interface', short: 'i', type: 'string', value: 'IFACE', help: 'Interface: on the node for node/NAME (required, e.g. eth0 or any); inside the pods otherwise (default any)' },
  { name: 'duration', short: 'd', type: 'string', value: 'DURATION', help: 'How long to capture: 30s, 5m, 1h30m or seconds (600)', defaultText: '60s unless --count' },
  { name: 'count', short: 'c', type: 'int', help: 'Stop each target after N packets' },
  { name: 'filter', short: 'f', type: 'string', value: 'EXPR', help: 'BPF capture filter (tcpdump syntax), e.g. "tcp port 80"' },
  { name: 'snaplen', short: 's', type: 'int', help: 'Bytes kept per packet (0 = whole packet)' },
  { name: 'max-file-size', type: 'string', value: 'SIZE', help: 'Size of one ring file: 100M, 1Gi, or megabytes', defaultText: '100M' },
  { name: 'file-count', type: 'int', help: 'Ring files kept per target', defaultText: '10' },
  { name: 'target-namespace', type: 'string', value: 'NAMESPACE', help: 'Namespace of the target pods when it differs from the capture\'s (system namespace only)' },
  { name: 'name', type: 'string', value: 'NAME', help: 'Name of the PacketCapture', defaultText: '<target>-<random>' },
  { name: 'ttl', type: 'string', value: 'DURATION', help: 'Delete the capture and its files this long after it finished' },
  { name: 'store', type: 'string', value: 'STORE', help: 'Upload the ring files, encrypted, to this PacketCaptureStore (kubectl get pcapstore)', defaultText: 'the default store, if any' },
];

/** `--dry-run` values, as kubectl's. */
export const DRY_RUN_MODES = ['client', 'server', 'none'] as const;
export type DryRunMode = (typeof DRY_RUN_MODES)[number];

/** `--dry-run` -> mode: absent or `none` = no dry run; bare `--dry-run` = client. */
export function dryRunMode(p: ParsedArgs): DryRunMode {
  const v = str(p, 'dry-run');
  if (v === undefined) return 'none';
  if (!(DRY_RUN_MODES as readonly string[]).includes(v)) throw new UsageError(`invalid value "${v}" for --dry-run: must be one of ${DRY_RUN_MODES.join(', ')}`, 'capture');
  return v as DryRunMode;
}

const CAPTURE_FLAGS: readonly FlagSpec[] = [
  ...CAPTURE_SPEC_FLAGS,
  { name: 'write', short: 'w', type: 'string', value: 'FILE', help: 'Write the merged pcapng here; - for stdout', defaultText: '<name>.pcapng' },
  { name: 'detach', type: 'boolean', help: 'Create the capture and return; collect it later with download/export' },
  { name: 'keep', type: 'boolean', help: 'Keep the PacketCapture (and its files on the nodes) after downloading' },
  { name: 'no-summary', type: 'boolean', help: 'Do not print the summary' },
  {
    name: 'dry-run',
    type: 'string',
    optionalValue: 'client',
    choices: DRY_RUN_MODES,
    value: 'client|server|none',
    help: 'client: print the PacketCapture (-o yaml|json) instead of creating it; server: let the apiserver validate it (schema and CEL rules) without persisting, print what it returned; none: create it',
  },
  outputFlag(['yaml', 'json', 'name']),
  ...SCHEDULE_FLAGS,
];

// ---- schedules (--schedule / --start-at): a PacketCaptureSchedule instead of a capture ----

function scheduleFlags(p: ParsedArgs): ScheduleFlags {
  return { schedule: str(p, 'schedule'), timeZone: str(p, 'time-zone'), startAt: str(p, 'start-at'), concurrencyPolicy: str(p, 'concurrency-policy') };
}

/** `capture --schedule|--start-at`: creates (or prints, with --dry-run) the schedule; never follows. */
async function runScheduledCapture(p: ParsedArgs, io: CliIo, mode: DryRunMode): Promise<number> {
  for (const f of ['write', 'keep', 'no-summary']) {
    if (p.given.has(f)) throw new UsageError(`--${f} does not apply to --schedule/--start-at: the schedule's captures are collected later with download/export`, 'capture');
  }
  let ns = str(p, 'namespace');
  let explicit = ns !== undefined;
  let kube: KubeContext | undefined;
  if (mode !== 'client') {
    kube = kubeFrom(p, io);
    ns = kube.namespace;
    explicit = kube.namespaceExplicit;
  } else if (ns === undefined) {
    try {
      ns = kubeFrom(p, io).namespace;
    } catch {
      ns = 'default';
    }
  }
  const req = captureRequest(p, 'capture', ns ?? 'default', explicit);
  let sched: PacketCaptureSchedule;
  try {
    sched = buildSchedule(req.pc, scheduleFlags(p), str(p, 'name') !== undefined);
  } catch (e) {
    if (e instanceof ScheduleFlagError) throw new UsageError(e.message, 'capture');
    throw e;
  }
  const out = str(p, 'output');
  const print = (s: PacketCaptureSchedule): void => {
    if (out === 'json') io.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    else if (out === 'name') io.stdout.write(`packetcaptureschedule.pcapper.dev/${s.metadata.name ?? ''}\n`);
    else io.stdout.write(yamlStringify(s));
  };
  if (mode === 'client') {
    print(sched);
    return EXIT.ok;
  }
  const k = kube!;
  const sns = sched.metadata.namespace ?? 'default';
  let created: PacketCaptureSchedule;
  try {
    created = await k.client.json<PacketCaptureSchedule>('POST', `${schedulesPath(sns)}${mode === 'server' ? '?dryRun=All' : ''}`, { body: sched });
  } catch (e) {
    if (e instanceof KubeError && e.status === 409) throw new CliError(`packetcaptureschedule "${sched.metadata.name ?? ''}" already exists in namespace "${sns}" (choose another --name)`);
    if (e instanceof KubeError && e.status === 404) throw new CliError('the PacketCaptureSchedule kind is not installed in this cluster (upgrade the pcapper chart: it installs crd-packetcaptureschedules)');
    throw e;
  }
  if (mode === 'server' || out !== undefined) print(created);
  else io.stdout.write(`packetcaptureschedule.pcapper.dev/${created.metadata.name ?? ''} created\n`);
  if (mode === 'none') {
    const when = sched.spec.schedule !== undefined ? `on "${sched.spec.schedule}"${sched.spec.timeZone ? ` (${sched.spec.timeZone})` : ' (UTC)'}` : `once at ${sched.spec.startAt ?? ''}`;
    io.stderr.write(`captures are created ${when} as ${created.metadata.name ?? ''}-<unix minutes>; list them with: kubectl pcap get -n ${sns} -l pcapper.dev/schedule=${created.metadata.name ?? ''}\n`);
  }
  return EXIT.ok;
}

export interface CaptureRequest {
  pc: PacketCapture;
  target: Target;
}

/** Flags -> target + PacketCapture (pure apart from the kubeconfig's default namespace). */
export function captureRequest(p: ParsedArgs, command: string, defaultNamespace: string, namespaceExplicit: boolean, opts: { serverValidates?: boolean } = {}): CaptureRequest {
  try {
    const target = parseTarget(p.args[0], str(p, 'selector'));
    // node captures live in the system namespace unless -n says otherwise
    const namespace = target.kind === 'node' && !namespaceExplicit ? SYSTEM_NAMESPACE : defaultNamespace;
    const pc = buildPacketCapture(target, {
      namespace,
      targetNamespace: str(p, 'target-namespace'),
      name: str(p, 'name'),
      interface: str(p, 'interface'),
      duration: str(p, 'duration'),
      count: int(p, 'count'),
      filter: str(p, 'filter'),
      snaplen: int(p, 'snaplen'),
      maxFileSize: str(p, 'max-file-size'),
      fileCount: int(p, 'file-count'),
      ttl: str(p, 'ttl'),
      store: str(p, 'store'),
      ...(opts.serverValidates ? { serverValidates: true } : {}),
    });
    return { pc, target };
  } catch (e) {
    if (e instanceof TargetError) throw new UsageError(e.message, command);
    throw e;
  }
}

/**
 * `--store NAME`: the store must exist, and (when its allowedNamespaces names are all there is to
 * look at) allow the capture's namespace, before anything is created. A user who may not read
 * stores is not refused here: the controller tells (StoreNotFound/StoreNotAllowed).
 */
export async function checkStore(kube: KubeContext, pc: PacketCapture): Promise<void> {
  const name = pc.spec.store;
  if (name === undefined) return;
  const ns = pc.metadata.namespace ?? 'default';
  let st: { spec?: { allowedNamespaces?: { names?: string[]; selector?: unknown } } };
  try {
    st = await kube.client.json('GET', `/apis/pcapper.dev/v1alpha1/packetcapturestores/${encodeURIComponent(name)}`);
  } catch (e) {
    if (e instanceof KubeError && e.status === 404) {
      let names: string[] = [];
      try {
        const l = await kube.client.json<{ items: { metadata: { name: string } }[] }>('GET', '/apis/pcapper.dev/v1alpha1/packetcapturestores');
        names = l.items.map((i) => i.metadata.name);
      } catch {
        // listing stores may be forbidden or the CRD absent
      }
      throw new CliError(`PacketCaptureStore "${name}" not found${names.length ? ` (stores: ${names.join(', ')})` : ''}: fix --store, or ask the cluster admin to create it`);
    }
    if (e instanceof KubeError && (e.status === 0 || e.status === 401)) throw e;
    return;
  }
  const a = st.spec?.allowedNamespaces;
  if (ns !== SYSTEM_NAMESPACE && !a?.selector && !(a?.names ?? []).includes(ns)) {
    throw new CliError(`PacketCaptureStore "${name}" does not allow namespace "${ns}": the cluster admin must add "${ns}" to its spec.allowedNamespaces, or use another store`);
  }
}

/** Prints a PacketCapture for --dry-run. */
export function printDryRun(pc: PacketCapture, output: string | undefined, io: CliIo): void {
  if (output === 'json') io.stdout.write(`${JSON.stringify(pc, null, 2)}\n`);
  else if (output === 'name') io.stdout.write(`packetcapture.pcapper.dev/${pc.metadata.name ?? ''}\n`);
  else io.stdout.write(yamlStringify(pc));
}

/**
 * Checks that the target exists before creating anything, so a typo gives
 * `error: pod "x" not found in namespace "y"`. Skipped where the user may not read the object.
 */
export async function checkTarget(kube: KubeContext, req: CaptureRequest, io: CliIo): Promise<void> {
  await checkStore(kube, req.pc);
  const t = req.target;
  const ns = req.pc.spec.targetNamespace ?? req.pc.metadata.namespace ?? 'default';
  const paths: Record<string, string> = { Deployment: 'deployments', StatefulSet: 'statefulsets', DaemonSet: 'daemonsets', ReplicaSet: 'replicasets' };
  let path: string;
  let what: string;
  if (t.kind === 'pod') [path, what] = [`/api/v1/namespaces/${ns}/pods/${t.name}`, `pod "${t.name}" not found in namespace "${ns}"`];
  else if (t.kind === 'node') [path, what] = [`/api/v1/nodes/${t.name}`, `node "${t.name}" not found`];
  else if (t.kind === 'workload') {
    const kind = t.workloadKind.toLowerCase();
    [path, what] = [`/apis/apps/v1/namespaces/${ns}/${paths[t.workloadKind] ?? ''}/${t.name}`, `${kind} "${t.name}" not found in namespace "${ns}"`];
  } else {
    try {
      const sel = formatSelector(t.selector);
      const l = await kube.client.json<{ items: unknown[] }>('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(sel)}&limit=1`);
      if (l.items.length === 0) io.stderr.write(`warning: no pods match "${sel}" in namespace "${ns}" yet; the capture waits for them: pods that start matching before it ends are captured\n`);
    } catch (e) {
      if (e instanceof KubeError && (e.status === 0 || e.status === 401)) throw e;
    }
    return;
  }
  try {
    await kube.client.json('GET', path);
  } catch (e) {
    if (e instanceof KubeError && e.status === 404) throw new CliError(what);
    if (e instanceof KubeError && (e.status === 0 || e.status === 401)) throw e;
    // 403: the user may create captures without reading pods; the controller will tell
  }
}

/** Creates the capture; turns admission errors into one line. */
export async function createCapture(kube: KubeContext, pc: PacketCapture, opts: { dryRun?: boolean } = {}): Promise<PacketCapture> {
  try {
    return await kube.client.createCapture(pc, opts);
  } catch (e) {
    if (e instanceof KubeError && e.status === 409) {
      throw new CliError(`packetcapture "${pc.metadata.name ?? ''}" already exists in namespace "${pc.metadata.namespace ?? ''}" (choose another --name)`);
    }
    throw e;
  }
}

/** Resolves -w: undefined -> `<name>.pcapng` in the working directory; `-` stays `-`. */
export function outputPath(w: string | undefined, name: string, cwd: string): string {
  if (w === '-') return '-';
  const p = w ?? `${name}.pcapng`;
  return isAbsolute(p) ? p : resolve(cwd, p);
}

/**
 * Downloads and merges `pc`'s files into `out`; prints the summary (to stderr when writing to
 * stdout). Returns the number of packets written, or throws.
 */
export async function collect(kube: KubeContext, pc: PacketCapture, out: string, io: CliIo, opts: { summary: boolean; signal?: AbortSignal; sectionComments?: readonly string[]; rawDir?: string; embedMetadata?: boolean; merge?: boolean; identities?: readonly string[] }): Promise<number> {
  const dir = opts.rawDir ?? (await mkdtemp(join(tmpdir(), 'kubectl-pcap-')));
  try {
    const dl = await downloadCapture(kube.client, pc, dir, io, opts.signal, opts.identities);
    for (const p of dl.problems) io.stderr.write(`warning: ${p}\n`);
    const files = dl.files;
    if (files.length === 0) {
      const why = dl.problems[0] ?? (dl.nodes === 0 ? 'no node reported files for it' : 'the nodes have no files for it');
      throw new CliError(`capture ${pc.metadata.namespace ?? ''}/${pc.metadata.name ?? ''} has nothing to download: ${why}`);
    }
    if (opts.merge === false) {
      io.stderr.write(`downloaded ${files.length} capture file(s) (${dl.bytes} bytes with metadata) to ${dir}\n`);
      return 0;
    }
    const merged = out === '-' ? join(dir, 'merged.pcapng') : out;
    const r = await mergeTo(files, merged, io, opts.sectionComments ?? sectionCommentsFor(pc), opts.embedMetadata);
    if (out === '-') await copyToStream(merged, io.stdout);
    io.stderr.write(`wrote ${r.packets} packets from ${r.interfaces.length} interface(s) to ${out === '-' ? 'stdout' : out}\n`);
    if (opts.summary) await printSummary(merged, files, io, out === '-');
    return r.packets;
  } finally {
    if (!opts.rawDir) await rm(dir, { recursive: true, force: true });
  }
}

export function sectionCommentsFor(pc: PacketCapture): string[] {
  return [`pcapper capture ${pc.metadata.namespace ?? ''}/${pc.metadata.name ?? ''}`, `pcapper.spec=${JSON.stringify(pc.spec)}`];
}

/** Runs the pcap library's summary on the merged file, naming endpoints from the sidecars. */
export async function printSummary(merged: string, files: readonly LocalCaptureFile[], io: CliIo, toStderr: boolean): Promise<void> {
  const metas = [...new Set(files.map((f) => f.metadataPath).filter((p): p is string => p !== undefined))];
  const argv = [merged, ...metas.flatMap((m) => ['--meta', m])];
  const code = await runSummary(argv, { stdout: toStderr ? io.stderr : io.stdout, stderr: io.stderr });
  if (code !== 0) io.stderr.write('warning: the summary reported problems (see above)\n');
}

/** Every target failed (or the capture failed) and nothing was captured. */
export function refusedOutright(pc: PacketCapture): boolean {
  if ((pc.status?.packets ?? 0) > 0) return false;
  if (pc.status?.progress === 'failure') return true;
  const ts = pc.status?.targets ?? [];
  return ts.length > 0 && ts.every((t) => t.phase === 'Failed');
}

function failureLine(pc: PacketCapture): string {
  const failed = (pc.status?.targets ?? []).filter((t) => t.phase === 'Failed');
  if (failed.length > 0) return failed.map((t) => `${targetLabel(t)}: ${t.reason ?? 'Failed'}${t.message ? ` (${t.message})` : ''}`).join('; ');
  const conds = pc.status?.conditions ?? [];
  const c = conds.find((x) => x.type === 'Invalid' && x.status === 'True') ?? conds.find((x) => x.type === 'TargetsResolved' && x.status === 'False') ?? conds.find((x) => x.message);
  return c?.message ?? c?.reason ?? 'no target could be captured';
}

/** Deletes a capture this command created (best effort, one line on failure). */
export async function deleteCreated(kube: KubeContext, pc: PacketCapture, io: CliIo): Promise<void> {
  try {
    await kube.client.deleteCapture(pc.metadata.namespace ?? '', pc.metadata.name ?? '');
    io.stderr.write(`deleted packetcapture ${pc.metadata.namespace ?? ''}/${pc.metadata.name ?? ''}\n`);
  } catch (e) {
    io.stderr.write(`warning: could not delete packetcapture ${pc.metadata.namespace ?? ''}/${pc.metadata.name ?? ''}: ${(e as Error).message}\n`);
  }
}

async function runCapture(p: ParsedArgs, io: CliIo): Promise<number> {
  const mode = dryRunMode(p);
  if (wantsSchedule(scheduleFlags(p)) || str(p, 'time-zone') !== undefined) return runScheduledCapture(p, io, mode);
  const dry = mode !== 'none';
  const w = str(p, 'write');
  if (w !== undefined && w !== '-' && w.trim() === '') throw new UsageError('-w needs a file name (or - for stdout)', 'capture');
  if (str(p, 'output') !== undefined && !dry && !bool(p, 'detach')) throw new UsageError('-o only applies with --dry-run or --detach', 'capture');
  if (mode === 'server') {
    // kubectl's --dry-run=server: the apiserver runs admission (schema, CEL rules) and persists nothing
    const kube = kubeFrom(p, io);
    const req = captureRequest(p, 'capture', kube.namespace, kube.namespaceExplicit, { serverValidates: true });
    const answered = await createCapture(kube, req.pc, { dryRun: true });
    printDryRun(answered, str(p, 'output'), io);
    return EXIT.ok;
  }
  if (dry) {
    // no cluster needed unless the namespace comes from the kubeconfig
    let ns = str(p, 'namespace');
    let explicit = ns !== undefined;
    if (ns === undefined) {
      try {
        ns = kubeFrom(p, io).namespace;
      } catch {
        ns = 'default';
      }
      explicit = false;
    }
    const req = captureRequest(p, 'capture', ns, explicit);
    printDryRun(req.pc, str(p, 'output'), io);
    return EXIT.ok;
  }
  const kube = kubeFrom(p, io);
  const req = captureRequest(p, 'capture', kube.namespace, kube.namespaceExplicit);
  // the output is checked before anything is created (not after the whole capture ran)
  if (!bool(p, 'detach')) await checkOutputFile(outputPath(w, req.pc.metadata.name ?? 'capture', io.cwd), 'capture');
  await checkTarget(kube, req, io);
  const created = await createCapture(kube, req.pc);
  const ns = created.metadata.namespace ?? '';
  const name = created.metadata.name ?? '';
  if (bool(p, 'detach')) {
    const o = str(p, 'output');
    if (o !== undefined) printDryRun(created, o, io); // the object as the server stored it
    else io.stdout.write(`packetcapture.pcapper.dev/${name} created\n`);
    io.stderr.write(`follow it with: kubectl pcap describe ${name} -n ${ns}; collect it with: kubectl pcap download ${name} -n ${ns}\n`);
    return EXIT.ok;
  }
  const out = outputPath(w, name, io.cwd);
  io.stderr.write(`packetcapture ${ns}/${name} created; capturing (Ctrl-C to stop early)\n`);
  const progress = new ProgressWriter(io.stderr);
  const tick = io.stderr.isTTY ? setInterval(() => progress.tick(), 1000) : undefined;
  const started = Date.now();
  let hinted = false;
  let last = created;
  let interrupted = false;
  try {
    last = await followCapture(
      kube.client,
      ns,
      name,
      (pc) => {
        last = pc;
        // a capture refused outright (every target failed, nothing captured) ends in one error
        // line below; its failure progress would only repeat it first
        if (!refusedOutright(pc)) progress.update(pc);
        if (!hinted && !pc.status?.progress && Date.now() - started > 10_000) {
          hinted = true;
          io.stderr.write('still waiting for the pcapper controller to pick the capture up (is it running? kubectl get pods -n pcapper)\n');
        }
      },
      io.signal,
    );
    interrupted = io.signal.aborted && !isDone(last);
  } catch (e) {
    if (tick) clearInterval(tick);
    // following failed (cluster gone?): do not leave the capture running
    if (!(e instanceof CliError && /was deleted/.test(e.message))) await deleteCreated(kube, created, io);
    throw e;
  } finally {
    if (tick) clearInterval(tick);
  }
  const force = io.forceSignal ?? new AbortController().signal;
  if (interrupted) io.stderr.write('interrupted: saving what was captured so far, then deleting the capture (Ctrl-C again to skip saving)\n');
  let code: number = interrupted ? EXIT.interrupted : EXIT.ok;
  let keep = bool(p, 'keep');
  try {
    if (last.status?.progress === 'failure' && !(last.status.packets ?? 0)) {
      throw new CliError(`capture ${ns}/${name} failed: ${failureLine(last)}`);
    }
    if (last.status?.progress === 'failure') io.stderr.write(`warning: capture ${ns}/${name} failed: ${failureLine(last)}\n`);
    else for (const t of last.status?.targets ?? []) if (t.phase === 'Failed') io.stderr.write(`warning: ${targetLabel(t)} failed: ${t.reason ?? ''}${t.message ? ` (${t.message})` : ''}\n`);
    if (interrupted && (last.status?.nodes ?? []).length === 0 && !(last.status?.packets ?? 0)) {
      io.stderr.write('nothing was captured yet\n');
      return EXIT.interrupted;
    }
    try {
      await collect(kube, last, out, io, { summary: !bool(p, 'no-summary'), signal: force });
    } catch (e) {
      if ((e as Error).name === 'AbortError') {
        io.stderr.write('skipped saving\n');
      } else {
        keep = keep || !interrupted; // leave the files on the nodes so `download` can try again
        if (keep && !bool(p, 'keep')) io.stderr.write(`the capture is kept so you can retry: kubectl pcap download ${name} -n ${ns}\n`);
        throw e;
      }
    }
    if (last.status?.progress === 'failure') code = EXIT.error;
  } finally {
    if (!keep) await deleteCreated(kube, created, io);
  }
  return code;
}

export const captureCommand = defineCommand(
  {
    name: 'capture',
    summary: 'Capture packets of pods or a node interface into one merged pcapng',
    usage: 'capture TARGET | -l SELECTOR [flags]',
    description: [
      'TARGET is pod/NAME (or NAME), deploy/NAME, sts/NAME, ds/NAME, rs/NAME, or node/NAME --interface IFACE.',
      'Creates a PacketCapture, shows per-target progress (state, packets, bytes, drops), downloads',
      'every node\'s files, writes one time-ordered pcapng with one interface per pod/node (named',
      '<node>/<namespace>/<pod>), prints a summary, and deletes the capture (--keep keeps it).',
      'Ctrl-C stops early: what was captured so far is saved, then the capture is deleted.',
    ].join('\n'),
    flags: CAPTURE_FLAGS,
    maxArgs: 1,
    argsName: 'TARGET',
    examples: [
      'kubectl pcap capture pod/web-7d9c -n shop --duration 30s -w web.pcapng',
      'kubectl pcap capture -l app=demo --duration 5s -w demo.pcapng',
      'kubectl pcap capture deploy/web --filter "tcp port 80" --count 1000 -w - | tshark -r -',
      'kubectl pcap capture node/node-a --interface eth0 -n pcapper --duration 1m',
      'kubectl pcap capture sts/db --dry-run -o yaml > capture.yaml',
      'kubectl pcap capture deploy/web --file-count 50 --dry-run=server',
      'kubectl pcap capture deploy/web --duration 1m --schedule "*/15 * * * *" --time-zone Europe/Paris',
      'kubectl pcap capture pod/db-0 --duration 10m --start-at 2026-12-01T02:00:00Z',
    ],
  },
  runCapture,
);
