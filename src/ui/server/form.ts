/**
 * The create form -> a PacketCapture, with the CLI's own code (pure): targetOf/optionsOf of `init`,
 * buildPacketCapture and resolveSpec, so the form accepts and refuses exactly what `kubectl pcap
 * capture`/`init` do, and the preview is the YAML `init` writes (initYaml). Every problem is
 * reported against the form field it concerns.
 */
import type { PacketCapture } from '../../api/packetcapture.js';
import { resolveSpec } from '../../api/validate.js';
import { initYaml, optionsOf, targetOf, type InitAnswers } from '../../cli/commands/init.js';
import { buildPacketCapture, SYSTEM_NAMESPACE } from '../../cli/target.js';
import { TARGET_KINDS, type CaptureForm, type FormProblem, type PreviewResult } from '../shared/api-types.js';

/** spec field -> form field */
const SPEC_FIELD: Record<string, keyof CaptureForm> = {
  'spec.captureSeconds': 'duration',
  'spec.duration': 'duration',
  'spec.packetCount': 'count',
  'spec.captureFilter': 'filter',
  'spec.snapLength': 'snaplen',
  'spec.maxFileSize': 'maxFileSize',
  'spec.fileCount': 'fileCount',
  'spec.ttlSecondsAfterFinished': 'ttl',
  'spec.interfaceName': 'interface',
  'spec.targetInterface': 'interface',
  'spec.targetNamespace': 'targetNamespace',
  'spec.targetPod': 'target',
  'spec.targetDeployment': 'target',
  'spec.workloadRef': 'target',
  'spec.targetNode': 'target',
  'spec.podSelector': 'target',
  'spec.jobId': 'jobId',
};

/** CLI flag named in a message -> form field */
const FLAG_FIELD: [RegExp, keyof CaptureForm][] = [
  [/--target-namespace\b/, 'targetNamespace'],
  [/--max-file-size\b/, 'maxFileSize'],
  [/--file-count\b/, 'fileCount'],
  [/--duration\b/, 'duration'],
  [/--count\b/, 'count'],
  [/--filter\b/, 'filter'],
  [/--snaplen\b/, 'snaplen'],
  [/--interface\b/, 'interface'],
  [/--ttl\b/, 'ttl'],
  [/--name\b/, 'name'],
  [/(^|\s)-n\b|namespace/, 'namespace'],
  [/selector|label/i, 'target'],
];

const WHAT: Partial<Record<keyof CaptureForm, string>> = { name: 'capture name', namespace: 'namespace', targetNamespace: 'target namespace', interface: 'interface', ttl: 'delete-after duration', target: 'target' };

const trimmed = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

function intField(form: CaptureForm, key: 'count' | 'snaplen' | 'fileCount', what: string, problems: FormProblem[]): number | undefined {
  const v = trimmed(form[key]);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) {
    problems.push({ field: key, message: `"${v}" is not ${what}: use a whole number` });
    return undefined;
  }
  return Number(v);
}

/** Turns the form into a PacketCapture, or says what is wrong with which field. */
export function buildFromForm(raw: unknown): PreviewResult & { pc?: PacketCapture } {
  const problems: FormProblem[] = [];
  const form = (raw ?? {}) as CaptureForm;
  if (typeof raw !== 'object' || raw === null) return { ok: false, problems: [{ field: '', message: 'the form must be a JSON object' }] };
  if (!TARGET_KINDS.includes(form.kind)) problems.push({ field: 'kind', message: `choose what to capture: ${TARGET_KINDS.join(', ')}` });
  const target = trimmed(form.target);
  if (target === undefined) problems.push({ field: 'target', message: form.kind === 'selector' ? 'a label selector is required, e.g. app=web' : `the ${form.kind ?? 'target'} name is required` });
  const count = intField(form, 'count', 'a packet count', problems);
  const snaplen = intField(form, 'snaplen', 'a snap length', problems);
  const fileCount = intField(form, 'fileCount', 'a file count', problems);
  if (problems.length > 0) return { ok: false, problems };
  const namespace = trimmed(form.namespace) ?? (form.kind === 'node' ? SYSTEM_NAMESPACE : 'default');
  const answers: InitAnswers = {
    namespace,
    kind: form.kind,
    target: target as string,
    interface: trimmed(form.interface) ?? (form.kind === 'node' ? 'any' : undefined),
    duration: trimmed(form.duration) ?? (count === undefined ? '60s' : undefined),
    filter: trimmed(form.filter),
    count,
    maxFileSize: trimmed(form.maxFileSize),
    fileCount,
    snaplen,
    name: trimmed(form.name),
  };
  let pc: PacketCapture;
  try {
    const opts = { ...optionsOf(answers), targetNamespace: trimmed(form.targetNamespace), ttl: trimmed(form.ttl), serverValidates: true };
    pc = buildPacketCapture(targetOf(answers), opts);
  } catch (e) {
    const message = (e as Error).message;
    const field = FLAG_FIELD.find(([re]) => re.test(message))?.[1] ?? 'target';
    // the CLI names its flag ("invalid --max-file-size "x": ..."); the form shows it at the field
    return { ok: false, problems: [{ field, message: message.replace(/^invalid --[a-z-]+ ("[^"]*"): \1 /, '$1 ').replace(/^invalid (--[a-z-]+|-n) /, `invalid ${WHAT[field] ?? 'value'} `) }] };
  }
  const jobId = trimmed(form.jobId);
  if (jobId !== undefined) pc.spec.jobId = jobId;
  if (form.failIfNoTargets === true) pc.spec.failIfNoTargets = true;
  if (form.immediate === true) pc.spec.immediate = true;
  // the same check as the CLI and the controller, with every problem rather than the first
  const r = resolveSpec(pc.spec, namespace);
  if (!r.ok) return { ok: false, problems: r.problems.map((p) => ({ field: SPEC_FIELD[p.field] ?? '', message: `${p.field}: ${p.message}` })) };
  delete pc.metadata.labels; // as init writes it
  const shown: PacketCapture = { ...pc, metadata: { ...pc.metadata } };
  return { ok: true, problems: [], yaml: initYaml(shown, `${pc.metadata.name ?? 'capture'}.yaml`), object: shown, pc };
}
