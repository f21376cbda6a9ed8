/**
 * `kubectl pcap init`: interactive prompts (seed 001) that look at the live cluster — namespace,
 * target kind and target, duration, filter, limits — and write `<name>.yaml` (a PacketCapture)
 * into the current directory, ready for `kubectl apply -f`. Every prompt has a flag; with
 * --non-interactive (or without a terminal) the flags and defaults answer everything.
 */
import { writeFile, access } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline/promises';
import { stringify as yamlStringify } from 'yaml';
import { bool, int, str, type FlagSpec, type ParsedArgs } from '../args.js';
import { defineCommand, kubeFrom } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import type { KubeContext } from '../kube.js';
import { parseSelector, formatSelector } from '../selector.js';
import { buildPacketCapture, generateName, SYSTEM_NAMESPACE, TargetError, type CaptureOptions, type Target } from '../target.js';
import { parseDuration, parseSize } from '../../api/validate.js';
import type { PacketCapture } from '../../api/packetcapture.js';
import { CAPTURE_SPEC_FLAGS } from './capture.js';
import { isDns1123Subdomain } from '../../api/names.js';
import { buildSchedule, SCHEDULE_FLAGS, ScheduleFlagError, wantsSchedule, type ScheduleFlags } from '../schedule.js';
import { parseSchedule, parseStartAt, checkTimeZone } from '../../controller/schedule-cron.js';

export const TARGET_KINDS = ['pod', 'deploy', 'sts', 'ds', 'rs', 'selector', 'node'] as const;
type TargetKindChoice = (typeof TARGET_KINDS)[number];

const KIND_TEXT: Record<TargetKindChoice, string> = {
  pod: 'one pod',
  deploy: 'every pod of a Deployment',
  sts: 'every pod of a StatefulSet',
  ds: 'every pod of a DaemonSet',
  rs: 'every pod of a ReplicaSet',
  selector: 'every pod matching a label selector',
  node: 'an interface of a node (system namespace)',
};

const INIT_FLAGS: readonly FlagSpec[] = [
  { name: 'kind', type: 'string', value: 'KIND', choices: TARGET_KINDS, help: `Target kind: ${TARGET_KINDS.join('|')}` },
  { name: 'target', short: 't', type: 'string', value: 'NAME', help: 'Target name (pod, workload or node), or KIND/NAME' },
  ...CAPTURE_SPEC_FLAGS,
  ...SCHEDULE_FLAGS,
  { name: 'file', type: 'string', value: 'PATH', help: 'Where to write the YAML', defaultText: './<name>.yaml' },
  { name: 'force', type: 'boolean', help: 'Overwrite an existing file' },
  { name: 'non-interactive', type: 'boolean', help: 'Never prompt: use flags and defaults (implied without a terminal)' },
];

/** Answers that are not yet known are asked; this is the pure core that turns answers into options. */
export interface InitAnswers {
  namespace: string;
  kind: TargetKindChoice;
  target: string;
  interface?: string;
  duration?: string;
  filter?: string;
  count?: number;
  maxFileSize?: string;
  fileCount?: number;
  snaplen?: number;
  name?: string;
  /** A PacketCaptureStore (seed 001: "where to store them"); undefined = files stay on the nodes (or the default store). */
  store?: string;
}

export function targetOf(a: Pick<InitAnswers, 'kind' | 'target'>): Target {
  switch (a.kind) {
    case 'pod':
      return { kind: 'pod', name: a.target };
    case 'node':
      return { kind: 'node', name: a.target };
    case 'selector':
      return { kind: 'selector', selector: parseSelector(a.target), text: a.target };
    default: {
      const wk = { deploy: 'Deployment', sts: 'StatefulSet', ds: 'DaemonSet', rs: 'ReplicaSet' } as const;
      return { kind: 'workload', workloadKind: wk[a.kind], name: a.target };
    }
  }
}

export function optionsOf(a: InitAnswers): CaptureOptions {
  return {
    namespace: a.namespace,
    name: a.name,
    interface: a.interface,
    duration: a.duration,
    filter: a.filter,
    count: a.count,
    maxFileSize: a.maxFileSize,
    fileCount: a.fileCount,
    snaplen: a.snaplen,
    store: a.store,
  };
}

/** A store as `kubectl pcap init` offers it. */
export interface StoreChoice {
  name: string;
  default: boolean;
  endpoint: string;
  bucket: string;
  ready?: string;
}

/**
 * The stores a capture in `namespace` may use (pure): the system namespace may use every store;
 * others those naming it, or whose selector matches the namespace's labels (unknown labels: a
 * store with a selector is offered, the controller has the last word).
 */
export function storesFor(
  stores: readonly { metadata?: { name?: string }; spec?: { default?: boolean; s3?: { endpoint?: string; bucket?: string }; allowedNamespaces?: { names?: string[]; selector?: { matchLabels?: Record<string, string> } } }; status?: { conditions?: { type: string; status: string; reason?: string }[] } }[],
  namespace: string,
  labels: Record<string, string> | undefined,
): StoreChoice[] {
  return stores
    .filter((s) => {
      if (namespace === SYSTEM_NAMESPACE) return true;
      const a = s.spec?.allowedNamespaces;
      if (a?.names?.includes(namespace)) return true;
      const ml = a?.selector?.matchLabels;
      if (!ml || Object.keys(ml).length === 0) return !!a?.selector && labels === undefined;
      return labels === undefined || Object.entries(ml).every(([k, v]) => labels[k] === v);
    })
    .map((s) => {
      const r = s.status?.conditions?.find((c) => c.type === 'Ready');
      return {
        name: s.metadata?.name ?? '',
        default: s.spec?.default === true,
        endpoint: s.spec?.s3?.endpoint ?? '',
        bucket: s.spec?.s3?.bucket ?? '',
        ...(r ? { ready: r.status === 'True' ? 'ready' : `not ready: ${r.reason ?? ''}` } : {}),
      };
    })
    .filter((s) => s.name !== '')
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** What the cluster offers, for suggestions (each list may be empty when not readable). */
interface Suggestions {
  namespaces: () => Promise<string[]>;
  stores: (ns: string) => Promise<StoreChoice[]>;
  names: (kind: TargetKindChoice, ns: string) => Promise<string[]>;
}

function clusterSuggestions(kube: KubeContext | undefined): Suggestions {
  const list = async (path: string): Promise<{ metadata?: { name?: string; labels?: Record<string, string> } }[]> => {
    if (!kube) return [];
    try {
      return (await kube.client.json<{ items: { metadata?: { name?: string; labels?: Record<string, string> } }[] }>('GET', path, { timeoutMs: 5000 })).items;
    } catch {
      return [];
    }
  };
  const names = (items: { metadata?: { name?: string } }[]): string[] => items.map((i) => i.metadata?.name ?? '').filter((n) => n !== '').sort();
  return {
    namespaces: async () => names(await list('/api/v1/namespaces?limit=200')).filter((n) => !n.startsWith('kube-')),
    stores: async (ns) => {
      const stores = (await list('/apis/pcapper.dev/v1alpha1/packetcapturestores?limit=200')) as Parameters<typeof storesFor>[0];
      if (stores.length === 0) return [];
      let labels: Record<string, string> | undefined;
      try {
        labels = kube ? ((await kube.client.json<{ metadata?: { labels?: Record<string, string> } }>('GET', `/api/v1/namespaces/${ns}`, { timeoutMs: 5000 })).metadata?.labels ?? {}) : undefined;
      } catch {
        labels = undefined;
      }
      return storesFor(stores, ns, labels);
    },
    names: async (kind, ns) => {
      const apps: Record<string, string> = { deploy: 'deployments', sts: 'statefulsets', ds: 'daemonsets', rs: 'replicasets' };
      if (kind === 'pod') return names(await list(`/api/v1/namespaces/${ns}/pods?limit=200`));
      if (kind === 'node') return names(await list('/api/v1/nodes?limit=200'));
      if (kind === 'selector') {
        // label pairs of the namespace's pods, most common first
        const counts = new Map<string, number>();
        for (const p of await list(`/api/v1/namespaces/${ns}/pods?limit=500`)) {
          for (const [k, v] of Object.entries(p.metadata?.labels ?? {})) {
            if (k === 'pod-template-hash' || k.startsWith('controller-revision-hash')) continue;
            counts.set(`${k}=${v}`, (counts.get(`${k}=${v}`) ?? 0) + 1);
          }
        }
        return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 20).map(([k]) => k);
      }
      return names(await list(`/apis/apps/v1/namespaces/${ns}/${apps[kind] ?? ''}?limit=200`));
    },
  };
}

class Prompter {
  constructor(
    private readonly rl: Interface,
    private readonly io: CliIo,
  ) {}

  /** Asks until `check` accepts the answer (empty = default). */
  async ask<T>(question: string, def: string | undefined, check: (v: string) => T): Promise<T> {
    for (;;) {
      const q = `${question}${def !== undefined && def !== '' ? ` [${def}]` : ''}: `;
      const raw = (await this.rl.question(q, { signal: this.io.signal })).trim();
      const v = raw === '' ? (def ?? '') : raw;
      try {
        return check(v);
      } catch (e) {
        this.io.stderr.write(`  ${(e as Error).message}\n`);
      }
    }
  }

  /** Numbered choice; accepts the number or the value itself. */
  async choose(question: string, options: readonly string[], labels: readonly string[], def: string): Promise<string> {
    this.io.stderr.write(`${question}\n`);
    options.forEach((o, i) => this.io.stderr.write(`  ${String(i + 1).padStart(2)}) ${labels[i] ?? o}\n`));
    return this.ask('Choose', def, (v) => {
      const n = Number(v);
      if (Number.isInteger(n) && n >= 1 && n <= options.length) return options[n - 1] as string;
      if (options.includes(v)) return v;
      throw new Error(`choose 1-${options.length} or one of: ${options.join(', ')}`);
    });
  }
}

const check = {
  name: (what: string) => (v: string): string => {
    if (!isDns1123Subdomain(v)) throw new Error(`"${v}" is not a valid ${what} name`);
    return v;
  },
  duration: (v: string): string | undefined => {
    if (v === '' || v === 'none') return undefined;
    const d = parseDuration(v);
    if (d instanceof Error) throw d;
    return v;
  },
  size: (v: string): string | undefined => {
    if (v === '') return undefined;
    const d = parseSize(v);
    if (d instanceof Error) throw d;
    return v;
  },
  count: (v: string): number | undefined => {
    if (v === '' || v === 'none' || v === '0') return undefined;
    if (!/^[0-9]+$/.test(v)) throw new Error(`"${v}" is not a whole number`);
    return Number(v);
  },
};

/** The YAML `init` writes for `pc` into `file` (also the UI's create-form preview). */
export function initYaml(pc: PacketCapture, file: string): string {
  const header = `# PacketCapture written by kubectl pcap init. Start it with:\n#   kubectl apply -f ${file}\n# or capture and download in one go with: kubectl pcap capture ...\n`;
  return header + yamlStringify(pc);
}

async function runInit(p: ParsedArgs, io: CliIo): Promise<number> {
  const interactive = !bool(p, 'non-interactive') && io.stdin.isTTY === true;
  let kube: KubeContext | undefined;
  try {
    kube = kubeFrom(p, io);
  } catch (e) {
    if (!interactive && str(p, 'namespace') === undefined) throw e;
    io.stderr.write(`warning: ${(e as Error).message}; continuing without suggestions from the cluster\n`);
  }
  const sugg = clusterSuggestions(kube);
  const flagKind = str(p, 'kind') as TargetKindChoice | undefined;
  let flagTarget = str(p, 'target');
  let kindFromTarget: TargetKindChoice | undefined;
  if (flagTarget?.includes('/')) {
    const [k, n] = [flagTarget.slice(0, flagTarget.indexOf('/')), flagTarget.slice(flagTarget.indexOf('/') + 1)];
    const map: Record<string, TargetKindChoice> = { pod: 'pod', po: 'pod', deploy: 'deploy', deployment: 'deploy', sts: 'sts', statefulset: 'sts', ds: 'ds', daemonset: 'ds', rs: 'rs', replicaset: 'rs', node: 'node', no: 'node' };
    kindFromTarget = map[k.toLowerCase()];
    if (!kindFromTarget) throw new UsageError(`unknown target kind "${k}" in --target ${flagTarget}`, 'init');
    flagTarget = n;
  }
  const selector = str(p, 'selector');
  const answers: Partial<InitAnswers> = {
    namespace: str(p, 'namespace'),
    kind: flagKind ?? kindFromTarget ?? (selector !== undefined ? 'selector' : undefined),
    target: selector ?? flagTarget,
    interface: str(p, 'interface'),
    duration: str(p, 'duration'),
    filter: str(p, 'filter'),
    count: int(p, 'count'),
    maxFileSize: str(p, 'max-file-size'),
    fileCount: int(p, 'file-count'),
    snaplen: int(p, 'snaplen'),
    name: str(p, 'name'),
    store: str(p, 'store'),
  };
  // seed 001's "Schedule a deployment": a cron schedule or a start time makes it a PacketCaptureSchedule
  const sched: ScheduleFlags = { schedule: str(p, 'schedule'), timeZone: str(p, 'time-zone'), startAt: str(p, 'start-at'), concurrencyPolicy: str(p, 'concurrency-policy') };
  const scheduleAsked = wantsSchedule(sched) || sched.timeZone !== undefined;

  if (interactive) {
    const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
    try {
      const pr = new Prompter(rl, io);
      io.stderr.write(`Create a PacketCapture${kube ? ` (cluster ${kube.server})` : ''}. Press Enter to take the [default].\n`);
      if (answers.kind === undefined) answers.kind = (await pr.choose('What do you want to capture?', TARGET_KINDS, TARGET_KINDS.map((k) => `${k.padEnd(8)} ${KIND_TEXT[k]}`), 'pod')) as TargetKindChoice;
      if (answers.namespace === undefined) {
        const def = answers.kind === 'node' ? SYSTEM_NAMESPACE : (kube?.namespace ?? 'default');
        const known = answers.kind === 'node' ? [] : await sugg.namespaces();
        if (known.length > 0) {
          io.stderr.write('Namespaces in the cluster:\n');
          known.slice(0, 30).forEach((n, i) => io.stderr.write(`  ${String(i + 1).padStart(2)}) ${n}\n`));
        }
        answers.namespace = await pr.ask(answers.kind === 'node' ? 'Namespace of the capture (node captures need the system namespace)' : 'Namespace', def, (v) => {
          const n = Number(v);
          return check.name('namespace')(Number.isInteger(n) && n >= 1 && n <= known.length ? (known[n - 1] as string) : v);
        });
      }
      if (answers.target === undefined) {
        const found = await sugg.names(answers.kind, answers.namespace);
        const what = answers.kind === 'selector' ? 'label selector' : `${answers.kind} name`;
        if (found.length > 0) {
          io.stderr.write(`${answers.kind === 'selector' ? 'Labels' : 'Found'} in ${answers.kind === 'node' ? 'the cluster' : `namespace ${answers.namespace}`}:\n`);
          found.slice(0, 20).forEach((n, i) => io.stderr.write(`  ${String(i + 1).padStart(2)}) ${n}\n`));
        } else if (kube) io.stderr.write(`(no ${answers.kind === 'selector' ? 'pods' : `${answers.kind}s`} found${answers.kind === 'node' ? '' : ` in namespace ${answers.namespace}`})\n`);
        answers.target = await pr.ask(`${what[0]?.toUpperCase() ?? ''}${what.slice(1)}${found.length > 0 ? ' (number or name)' : ''}`, found[0], (v) => {
          const n = Number(v);
          const val = Number.isInteger(n) && n >= 1 && n <= found.length ? (found[n - 1] as string) : v;
          if (answers.kind === 'selector') return formatSelector(parseSelector(val));
          return check.name(answers.kind ?? 'target')(val);
        });
      }
      if (answers.kind === 'node' && answers.interface === undefined) {
        answers.interface = await pr.ask('Interface on the node', 'any', (v) => v);
      }
      if (answers.duration === undefined) answers.duration = await pr.ask('Duration (30s, 5m, 1h; "none" with a packet count)', '60s', check.duration);
      if (answers.filter === undefined) answers.filter = await pr.ask('BPF filter (empty = every packet)', '', (v) => v);
      if (answers.count === undefined) answers.count = await pr.ask('Stop after N packets per target (empty = no limit)', '', check.count);
      if (answers.maxFileSize === undefined) answers.maxFileSize = await pr.ask('Size of one ring file', '100M', check.size);
      if (answers.fileCount === undefined) answers.fileCount = await pr.ask('Ring files kept per target', '10', (v) => check.count(v) ?? 10);
      if (answers.store === undefined) {
        // seed 001: where to keep the (encrypted) files
        const stores = await sugg.stores(answers.namespace);
        if (stores.length > 0) {
          const dflt = stores.find((s) => s.default);
          const noneLabel = dflt ? `the default store (${dflt.name})` : 'none: files stay on the nodes (lost with a node)';
          const label = (s: StoreChoice): string => `${s.name.padEnd(16)} ${s.endpoint} bucket ${s.bucket}${s.default ? ' (default)' : ''}${s.ready ? `, ${s.ready}` : ''}`;
          const chosen = await pr.choose('Where to keep the capture files (uploaded, encrypted)?', ['default', ...stores.map((s) => s.name)], [noneLabel, ...stores.map(label)], 'default');
          if (chosen !== 'default') answers.store = chosen;
        }
      }
      if (!scheduleAsked) {
        const when = await pr.ask('Schedule (cron "0 9 * * 1-5", @daily, or a time to start once, 2026-12-01T09:00:00Z; empty = now)', '', (v) => {
          if (v.trim() === '') return '';
          if (/^\d{4}-\d{2}-\d{2}T/.test(v.trim())) parseStartAt(v.trim());
          else parseSchedule(v);
          return v.trim();
        });
        if (/^\d{4}-\d{2}-\d{2}T/.test(when)) sched.startAt = when;
        else if (when !== '') {
          sched.schedule = when;
          const tz = await pr.ask('Time zone of the schedule (IANA, e.g. Europe/Paris)', 'UTC', (v) => {
            checkTimeZone(v);
            return v;
          });
          if (tz !== 'UTC') sched.timeZone = tz;
        }
      }
      if (answers.name === undefined) {
        const def = generateName(targetOf(answers as InitAnswers));
        answers.name = await pr.ask('Name of the capture', def, check.name('capture'));
      }
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw new CliError('interrupted; nothing written', undefined, 130);
      throw e;
    } finally {
      rl.close();
    }
  }

  if (answers.kind === undefined || answers.target === undefined) {
    throw new UsageError('without a terminal, give the target: --target KIND/NAME (e.g. pod/web), --kind KIND --target NAME, or -l SELECTOR', 'init');
  }
  answers.namespace ??= answers.kind === 'node' ? SYSTEM_NAMESPACE : (kube?.namespace ?? 'default');
  if (answers.kind === 'node') answers.interface ??= 'any';
  if (answers.duration === undefined && answers.count === undefined) answers.duration = '60s';
  let pc;
  try {
    pc = buildPacketCapture(targetOf(answers as InitAnswers), optionsOf(answers as InitAnswers));
  } catch (e) {
    if (e instanceof TargetError || (e as Error).name === 'SelectorError') throw new UsageError((e as Error).message, 'init');
    throw e;
  }
  const name = pc.metadata.name ?? 'capture';
  delete pc.metadata.labels;
  let doc: object = pc;
  let kindText = 'PacketCapture';
  if (wantsSchedule(sched) || sched.timeZone !== undefined) {
    try {
      doc = buildSchedule(pc, sched, answers.name !== undefined);
    } catch (e) {
      if (e instanceof ScheduleFlagError) throw new UsageError(e.message, 'init');
      throw e;
    }
    kindText = 'PacketCaptureSchedule';
  }
  const file = str(p, 'file') ?? `${name}.yaml`;
  const path = isAbsolute(file) ? file : resolve(io.cwd, file);
  if (!bool(p, 'force')) {
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) throw new CliError(`${path} already exists (use --force to overwrite, or --file)`);
  }
  if (kindText === 'PacketCapture') await writeFile(path, initYaml(pc, file), { mode: 0o644 });
  else {
    const header = `# PacketCaptureSchedule written by kubectl pcap init: it creates PacketCaptures on its schedule. Start it with:\n#   kubectl apply -f ${file}\n`;
    await writeFile(path, header + yamlStringify(doc), { mode: 0o644 });
  }
  io.stderr.write(`wrote ${path}\n`);
  io.stdout.write(`${path}\n`);
  return 0;
}

export const initCommand = defineCommand(
  {
    name: 'init',
    summary: 'Answer a few questions about the cluster and write a PacketCapture YAML here',
    usage: 'init [flags]',
    description: 'Prompts for namespace, target kind and target (listing what the cluster has), duration, filter and limits, then writes <name>.yaml into the current directory. Every prompt has a flag; --non-interactive (or no terminal) never prompts.',
    flags: INIT_FLAGS,
    maxArgs: 0,
    examples: [
      'kubectl pcap init',
      'kubectl pcap init --non-interactive -n shop --target deploy/web --duration 5m --filter "tcp port 80"',
      'kubectl pcap init --non-interactive -n shop --target deploy/web --duration 1m --schedule "0 9 * * 1-5" --time-zone Europe/Paris',
    ],
  },
  runInit,
);
