/**
 * PacketCaptureSchedules against the real kube-apiserver: admission (schema + CEL) with clear
 * messages, and the schedule controller creating, skipping, replacing and pruning captures on a
 * FakeClock the test advances (no waiting for a minute to pass).
 *
 * What stands in for what: the capture controller and agents do not run in the controller tests
 * of this file (except the wiring test at the end); the test writes a capture's status.progress as
 * the capture controller would (server-side apply, its own field manager), so "running",
 * "finished" and "failure" are states the test sets. Cascading deletion is Kubernetes' own garbage
 * collector (kube-controller-manager's, run by the harness with its bootstrap role): deleting a
 * schedule deletes its captures through the ownerReference (controller: true, blockOwnerDeletion:
 * true, the schedule's uid), and never a capture it does not own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, type PacketCapture } from '../src/api/packetcapture.js';
import { ANNOTATION_SCHEDULED_AT, LABEL_SCHEDULE, packetCaptureScheduleCRD, SCHEDULE_CRD_NAME, SCHEDULE_KIND, type PacketCaptureSchedule, type PacketCaptureScheduleSpec } from '../src/api/packetcaptureschedule.js';
import { FakeClock } from '../src/k8s/clock.js';
import { clientFor, getPacketCapture, KubeApiError, listPacketCaptures, PACKETCAPTURE_BASE, type KubeClient } from '../src/k8s/client.js';
import { EventRecorder, listEvents } from '../src/k8s/events.js';
import { applyStatus } from '../src/k8s/status.js';
import { runController } from '../src/controller/controller.js';
import { schedulePath, startScheduleController, type ScheduleController } from '../src/controller/schedule-controller.js';
import { captureNameFor, isoSeconds } from '../src/controller/schedule-decide.js';
import { spawn } from 'node:child_process';
import { startCluster, type Cluster } from './harness/cluster.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CLI, underPty } from './cli-support.js';
import { ensureNamespace, installCRD, waitGone } from './controller-helpers.js';
import { eventually } from './harness/eventually.js';

const NS = 'sched';
const MIN = 60_000;
let cluster: Cluster;
let admin: KubeClient;
let clock: FakeClock;
let ctl: ScheduleController;
let recorder: EventRecorder;
const stopCtl = new AbortController();
let running: Promise<void>;

async function installScheduleCRD(c: KubeClient): Promise<void> {
  try {
    await c.request({ method: 'POST', path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body: packetCaptureScheduleCRD() });
  } catch (e) {
    if (!(e instanceof KubeApiError && e.status === 409)) throw e;
  }
  await eventually(async () => {
    const crd = await c.request<{ status?: { conditions?: { type: string; status: string }[] } }>({ path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${SCHEDULE_CRD_NAME}` });
    if (!crd.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) return undefined;
    await c.request({ path: schedulePath() });
    return true;
  }, { what: 'schedule CRD served', timeoutMs: 30_000 });
}

const template = { spec: { targetPod: 'web', captureSeconds: 30 } };
async function createSchedule(name: string, spec: Partial<PacketCaptureScheduleSpec> | Record<string, unknown>, c: KubeClient = admin): Promise<PacketCaptureSchedule> {
  return c.request<PacketCaptureSchedule>({
    method: 'POST',
    path: schedulePath(NS),
    body: { apiVersion: API_VERSION, kind: SCHEDULE_KIND, metadata: { name, namespace: NS }, spec: { captureTemplate: template, ...spec } },
  });
}
const getSchedule = (name: string): Promise<PacketCaptureSchedule> => admin.request<PacketCaptureSchedule>({ path: schedulePath(NS, name) });
async function patchSpec(name: string, spec: Record<string, unknown>): Promise<void> {
  await admin.request({ method: 'PATCH', path: schedulePath(NS, name), contentType: 'application/merge-patch+json', body: { spec } });
}
async function waitSchedule(name: string, what: string, pred: (s: PacketCaptureSchedule) => boolean): Promise<PacketCaptureSchedule> {
  let last: PacketCaptureSchedule | undefined;
  return eventually(async () => {
    last = await getSchedule(name);
    return pred(last) ? last : undefined;
  }, { what: `${name}: ${what}`, timeoutMs: 15_000, describe: () => Promise.resolve(JSON.stringify(last?.status)) });
}
const capturesOf = async (name: string): Promise<PacketCapture[]> => (await listPacketCaptures(admin, NS, { labelSelector: `${LABEL_SCHEDULE}=${name}` })).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
const waitCaptureExists = (name: string): Promise<PacketCapture> =>
  eventually(async () => {
    try {
      return await getPacketCapture(admin, NS, name);
    } catch {
      return undefined;
    }
  }, { what: `capture ${name}` });
/** Stands in for the capture controller: sets the capture's progress (see the file comment). */
async function setProgress(name: string, progress: 'running' | 'finished' | 'failure'): Promise<void> {
  const done = progress !== 'running';
  await applyStatus(admin, NS, name, { progress, ...(done ? { completionTime: isoSeconds(clock.now()) } : {}) }, 'test-stand-in-capture-controller', { force: true });
}
async function waitEvent(s: PacketCaptureSchedule, reason: string, count = 1): Promise<{ message: string; type: string }> {
  return eventually(async () => {
    const evs = (await listEvents(admin, NS, s.metadata.uid ?? '')).filter((e) => e.reason === reason);
    return evs.reduce((n, e) => n + e.count, 0) >= count ? evs[evs.length - 1] : undefined;
  }, { what: `event ${reason} on ${s.metadata.name}`, timeoutMs: 15_000, describe: async () => JSON.stringify(await listEvents(admin, NS, s.metadata.uid ?? '')) });
}
/** Advances the schedule clock to `iso` (the schedule's nextScheduleTime). */
const advanceTo = (iso: string): Promise<void> => clock.advance(Math.max(0, Date.parse(iso) - clock.now()));
/** Makes the controller look at `name` now and waits until it did (an honest "it reconciled" signal). */
async function reconciled(name: string): Promise<void> {
  const before = ctl.stats.reconciles;
  await admin.request({ method: 'PATCH', path: schedulePath(NS, name), contentType: 'application/merge-patch+json', body: { metadata: { annotations: { poke: String(Date.now()) } } } });
  await eventually(() => Promise.resolve(ctl.stats.reconciles > before ? true : undefined), { what: 'a reconcile' });
  await eventually(() => Promise.resolve(ctl.stats.reconciles > before ? true : undefined), { what: 'the reconcile to finish' });
  await recorder.flush();
}

before(async () => {
  cluster = await startCluster({ garbageCollector: true });
  admin = clientFor(cluster.kubeConfig);
  await installCRD(admin);
  await installScheduleCRD(admin);
  await ensureNamespace(admin, NS);
  clock = new FakeClock(Date.now());
  recorder = new EventRecorder({ kc: admin, component: 'pcapper-controller' });
  ctl = startScheduleController({ client: admin, clock, recorder });
  running = ctl.run(stopCtl.signal);
  await ctl.ready;
});
after(async () => {
  stopCtl.abort();
  await ctl?.stop();
  await running;
  await recorder?.flush();
  await cluster?.stop();
});

describe('admission (schema + CEL)', () => {
  const refused = async (name: string, spec: Record<string, unknown>, text: RegExp): Promise<void> => {
    await assert.rejects(createSchedule(name, spec), (e: unknown) => {
      assert.ok(e instanceof KubeApiError, String(e));
      assert.equal(e.status, 422);
      assert.match(e.message, text);
      return true;
    });
  };
  it('refuses schedule and startAt together, and neither', async () => {
    await refused('both', { schedule: '* * * * *', startAt: '2030-01-01T00:00:00Z' }, /set exactly one of schedule .* or startAt/);
    await refused('neither', {}, /set exactly one of schedule/);
  });
  it('refuses a cron string of the wrong shape, TZ= in it, timeZone with startAt, a bad zone name', async () => {
    await refused('shape', { schedule: '* * *' }, /spec\.schedule/);
    await refused('crontz', { schedule: 'CRON_TZ=UTC 0 * * * *' }, /use the timeZone field|spec\.schedule/);
    await refused('tzstart', { startAt: '2030-01-01T00:00:00Z', timeZone: 'Europe/Paris' }, /timeZone applies to schedule only/);
    await refused('tzshape', { schedule: '0 * * * *', timeZone: '../etc/passwd' }, /spec\.timeZone/);
    await refused('startat', { startAt: 'tomorrow' }, /spec\.startAt/);
  });
  it('refuses history limits out of range and a name too long for its captures', async () => {
    await refused('hist', { schedule: '0 * * * *', successfulHistoryLimit: 101 }, /successfulHistoryLimit/);
    await refused('hist2', { schedule: '0 * * * *', failedHistoryLimit: -1 }, /failedHistoryLimit/);
    await refused('x'.repeat(53), { schedule: '0 * * * *' }, /at most 52 characters/);
  });
  it('applies the PacketCapture rules to the template (one schema), but the template stays editable', async () => {
    await refused('tpl', { schedule: '0 * * * *', captureTemplate: { spec: { targetPod: 'a', targetDeployment: 'b' } } }, /exactly one kind of target/);
    await createSchedule('editable', { schedule: '0 * * * *', suspend: true });
    await patchSpec('editable', { captureTemplate: { spec: { targetPod: 'other' } } });
    assert.equal((await getSchedule('editable')).spec.captureTemplate.spec.targetPod, 'other');
  });
});

describe('controller verdicts on what CEL cannot check', () => {
  it('bad cron values: Invalid/InvalidSchedule with the reason, a Warning Event, no capture', async () => {
    const s = await createSchedule('badcron', { schedule: '61 * * * *' });
    const got = await waitSchedule('badcron', 'Invalid', (x) => x.status?.conditions?.some((c) => c.type === 'Invalid' && c.status === 'True') === true);
    const c = got.status?.conditions?.find((x) => x.type === 'Invalid');
    assert.equal(c?.reason, 'InvalidSchedule');
    assert.match(c?.message ?? '', /not a valid cron expression.*minute/);
    const ev = await waitEvent(s, 'InvalidSchedule');
    assert.equal(ev.type, 'Warning');
    assert.equal(got.status?.nextScheduleTime, undefined);
    assert.deepEqual(await capturesOf('badcron'), []);
  });
  it('unknown time zone: Invalid/InvalidTimeZone', async () => {
    const s = await createSchedule('badzone', { schedule: '0 9 * * *', timeZone: 'Mars/Olympus' });
    const got = await waitSchedule('badzone', 'Invalid', (x) => x.status?.conditions?.some((c) => c.type === 'Invalid' && c.status === 'True') === true);
    assert.match(got.status?.conditions?.find((x) => x.type === 'Invalid')?.message ?? '', /"Mars\/Olympus" is not a known IANA time zone/);
    await waitEvent(s, 'InvalidTimeZone');
    // fixing it clears the verdict and schedules the next run
    await patchSpec('badzone', { timeZone: 'Europe/Paris' });
    const fixed = await waitSchedule('badzone', 'valid', (x) => x.status?.conditions?.some((c) => c.type === 'Invalid' && c.status === 'False') === true && !!x.status?.nextScheduleTime);
    const next = new Date(fixed.status!.nextScheduleTime!);
    assert.equal(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit', minute: '2-digit' }).format(next), '09:00');
  });
});

/** Runs kubectl-pcap in the client netns (it reaches only the API server, as a laptop does). */
function kpClient(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [file, argv] = cluster.clientCommand([process.execPath, CLI, ...args]);
  const child = spawn(file, argv, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent-home', KUBECONFIG: cluster.kubeconfigPath }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}
const listSchedules = async (): Promise<string[]> =>
  (await admin.request<{ items: PacketCaptureSchedule[] }>({ path: schedulePath(NS) })).items.map((s) => s.metadata.name ?? '').sort();

describe('CLI (from the client netns: only the API server is reachable)', () => {
  it('capture --schedule --time-zone creates a PacketCaptureSchedule; kubectl get pcapsched shows it; delete pcapsched/NAME deletes it', async () => {
    const r = await kpClient(['capture', 'deploy/web', '-n', NS, '--duration', '1m', '--filter', 'tcp port 443', '--schedule', '*/15 * * * *', '--time-zone', 'Europe/Paris', '--name', 'cli-sched']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'packetcaptureschedule.pcapper.dev/cli-sched created\n');
    const s = await getSchedule('cli-sched');
    assert.equal(s.spec.schedule, '*/15 * * * *');
    assert.equal(s.spec.timeZone, 'Europe/Paris');
    assert.deepEqual(s.spec.captureTemplate.spec, { targetDeployment: 'web', captureSeconds: '1m', captureFilter: 'tcp port 443' });
    await waitSchedule('cli-sched', 'reconciled', (x) => !!x.status?.nextScheduleTime);
    const g = await cluster.kubectl(['get', 'pcapsched', '-n', NS, 'cli-sched']);
    assert.equal(g.code, 0, g.stderr);
    const [header, row] = g.stdout.trim().split('\n');
    assert.match(header ?? '', /^NAME\s+SCHEDULE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE$/);
    assert.match(row ?? '', /^cli-sched\s+\*\/15 \* \* \* \*\s+false\s+0\s+\S+$/, 'no run yet: Active 0, Last Schedule empty');
    const d = await kpClient(['delete', '-n', NS, 'pcapsched/cli-sched']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, 'packetcaptureschedule.pcapper.dev "cli-sched" deleted\n');
    assert.ok(!(await listSchedules()).includes('cli-sched'));
  });
  it('init asks for a schedule (seed 001), re-asks on a bad cron or zone, and writes a PacketCaptureSchedule the apiserver accepts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcapper-init-sched-'));
    try {
      // underPty blocks this process while the CLI runs: the CLI needs only the apiserver
      const { code, transcript } = underPty(
        [process.execPath, CLI, 'init', '-n', NS, '--target', 'deploy/web', '--duration', '1m'],
        [
          { expect: 'BPF filter .*: ', send: '' },
          { expect: 'Stop after N packets .*: ', send: '' },
          { expect: 'Size of one ring file \\[100M\\]: ', send: '' },
          { expect: 'Ring files kept per target \\[10\\]: ', send: '' },
          { expect: 'Schedule \\(cron[^\\n]*empty = now\\): ', send: 'every day' },
          { expect: 'has 2 field\\(s\\); expected five[\\s\\S]*Schedule \\(cron[^\\n]*: ', send: '0 9 * * 1-5' },
          { expect: 'Time zone of the schedule[^\\n]*\\[UTC\\]: ', send: 'Mars/Olympus' },
          { expect: 'not a known IANA time zone[\\s\\S]*Time zone of the schedule[^\\n]*: ', send: 'Europe/Paris' },
          { expect: 'Name of the capture \\[web-\\S+\\]: ', send: 'web-mornings' },
        ],
        { cwd: dir, env: { PATH: process.env.PATH ?? '', KUBECONFIG: cluster.kubeconfigPath, HOME: '/nonexistent', TERM: 'dumb' } },
      );
      assert.equal(code, 0, transcript);
      const text = readFileSync(join(dir, 'web-mornings.yaml'), 'utf8');
      assert.match(text, /^# PacketCaptureSchedule written by kubectl pcap init/);
      const doc = parseYaml(text) as PacketCaptureSchedule;
      assert.equal(doc.kind, SCHEDULE_KIND);
      assert.deepEqual(doc.metadata, { name: 'web-mornings', namespace: NS });
      assert.deepEqual(doc.spec, { schedule: '0 9 * * 1-5', timeZone: 'Europe/Paris', captureTemplate: { spec: { targetDeployment: 'web', captureSeconds: '1m', maxFileSize: '100M', fileCount: 10 } } });
      const created = await cluster.kubectl(['create', '-f', join(dir, 'web-mornings.yaml')]);
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /packetcaptureschedule\.pcapper\.dev\/web-mornings created/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--start-at creates a one-shot schedule', async () => {
    const r = await kpClient(['capture', 'pod/db-0', '-n', NS, '--duration', '10m', '--start-at', '2030-12-01T10:00:00+01:00', '--name', 'cli-once']);
    assert.equal(r.code, 0, r.stderr);
    const s = await getSchedule('cli-once');
    assert.equal(s.spec.startAt, '2030-12-01T10:00:00+01:00');
    assert.equal(s.spec.schedule, undefined);
    await waitSchedule('cli-once', 'next = startAt', (x) => x.status?.nextScheduleTime === '2030-12-01T09:00:00Z');
  });
  it('bad cron, bad zone, bad start time: exit 2 with the reason, nothing created', async () => {
    const before = await listSchedules();
    for (const [args, text] of [
      [['--schedule', '*/15 * * *'], /--schedule "\*\/15 \* \* \*" has 4 field\(s\); expected five/],
      [['--schedule', '99 * * * *'], /--schedule "99 \* \* \* \*" is not a valid cron expression.*minute/],
      [['--schedule', '0 9 * * *', '--time-zone', 'Europe/Pariss'], /--time-zone "Europe\/Pariss" is not a known IANA time zone/],
      [['--start-at', 'tomorrow'], /--start-at "tomorrow" is not an RFC 3339 time/],
      [['--start-at', '2030-01-01T00:00:00Z', '--time-zone', 'UTC'], /--time-zone applies to --schedule/],
      [['--schedule', '@hourly', '-w', 'x.pcapng'], /--write does not apply/],
    ] as const) {
      const r = await kpClient(['capture', 'deploy/web', '-n', NS, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, text);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(await listSchedules(), before);
  });
  it('--dry-run=server: the apiserver admits the schedule (schema, CEL) and persists nothing', async () => {
    const r = await kpClient(['capture', 'deploy/web', '-n', NS, '--schedule', '@daily', '--name', 'cli-dry', '--dry-run=server', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const obj = JSON.parse(r.stdout) as PacketCaptureSchedule;
    assert.equal(obj.kind, SCHEDULE_KIND);
    assert.equal(obj.spec.schedule, '@daily');
    assert.ok(obj.metadata.uid, 'answered by the apiserver');
    assert.ok(!(await listSchedules()).includes('cli-dry'));
  });
});

describe('runs on the fake clock', () => {
  it('creates captures at their times with owner refs; Forbid waits; history prunes; Replace replaces; suspend stops', async () => {
    const s = await createSchedule('every5', { schedule: '*/5 * * * *', successfulHistoryLimit: 1, captureTemplate: { metadata: { labels: { team: 'net' } }, spec: template.spec } });
    let st = await waitSchedule('every5', 'nextScheduleTime', (x) => !!x.status?.nextScheduleTime);
    const t1 = Date.parse(st.status!.nextScheduleTime!);
    assert.equal(t1 % (5 * MIN), 0);
    assert.deepEqual(await capturesOf('every5'), [], 'nothing before the first run');

    // run 1
    await advanceTo(st.status!.nextScheduleTime!);
    const c1 = await waitCaptureExists(captureNameFor('every5', t1));
    assert.deepEqual(c1.spec, template.spec);
    assert.equal(c1.metadata.labels?.[LABEL_SCHEDULE], 'every5');
    assert.equal(c1.metadata.labels?.team, 'net');
    assert.equal(c1.metadata.annotations?.[ANNOTATION_SCHEDULED_AT], isoSeconds(t1));
    const refs = (c1.metadata as { ownerReferences?: unknown[] }).ownerReferences;
    assert.deepEqual(refs, [{ apiVersion: API_VERSION, kind: SCHEDULE_KIND, name: 'every5', uid: s.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    st = await waitSchedule('every5', 'active and lastScheduleTime', (x) => x.status?.lastScheduleTime === isoSeconds(t1) && x.status?.activeCount === 1 && x.status?.nextScheduleTime === isoSeconds(t1 + 5 * MIN));
    assert.equal(st.status?.active?.[0]?.uid, c1.metadata.uid);

    // run 2 while run 1 still runs: Forbid (default) waits
    await setProgress(c1.metadata.name!, 'running');
    await advanceTo(st.status!.nextScheduleTime!);
    await waitEvent(s, 'AlreadyActive');
    assert.deepEqual((await capturesOf('every5')).map((c) => c.metadata.name), [c1.metadata.name]);
    // run 1 ends: the waiting run 2 starts (late, as a CronJob's would)
    await setProgress(c1.metadata.name!, 'finished');
    const c2 = await waitCaptureExists(captureNameFor('every5', t1 + 5 * MIN));
    st = await waitSchedule('every5', 'lastSuccessfulTime', (x) => !!x.status?.lastSuccessfulTime && x.status?.lastScheduleTime === isoSeconds(t1 + 5 * MIN));

    // run 2 finishes: successfulHistoryLimit 1 deletes run 1
    await setProgress(c2.metadata.name!, 'finished');
    await waitGone(admin, NS, c1.metadata.name!);
    assert.deepEqual((await capturesOf('every5')).map((c) => c.metadata.name), [c2.metadata.name]);

    // run 3 (no conflict) then Replace at run 4 while run 3 runs
    await advanceTo(isoSeconds(t1 + 10 * MIN));
    const c3 = await waitCaptureExists(captureNameFor('every5', t1 + 10 * MIN));
    await setProgress(c3.metadata.name!, 'running');
    await patchSpec('every5', { concurrencyPolicy: 'Replace' });
    await waitSchedule('every5', 'sees Replace', (x) => x.status?.observedGeneration === x.metadata.generation);
    await advanceTo(isoSeconds(t1 + 15 * MIN));
    const c4 = await waitCaptureExists(captureNameFor('every5', t1 + 15 * MIN));
    await waitGone(admin, NS, c3.metadata.name!);
    await waitEvent(s, 'Replaced');
    assert.equal(c4.metadata.labels?.[LABEL_SCHEDULE], 'every5');

    // suspend: no nextScheduleTime, and no capture however far the clock goes
    await patchSpec('every5', { suspend: true });
    await waitSchedule('every5', 'suspended', (x) => x.status?.observedGeneration === x.metadata.generation && x.status?.nextScheduleTime === undefined);
    const before = (await capturesOf('every5')).map((c) => c.metadata.name);
    await clock.advance(30 * MIN);
    await reconciled('every5');
    assert.deepEqual((await capturesOf('every5')).map((c) => c.metadata.name), before);
    // resuming starts one catch-up run (the most recent time), not six
    await setProgress(c4.metadata.name!, 'finished');
    await patchSpec('every5', { suspend: false });
    const last = Math.floor(clock.now() / (5 * MIN)) * 5 * MIN;
    await waitCaptureExists(captureNameFor('every5', last));
    await reconciled('every5');
    const after = (await capturesOf('every5')).map((c) => c.metadata.name);
    assert.deepEqual(after.filter((n) => !before.includes(n)), [captureNameFor('every5', last)], 'exactly one new capture');
    // run 4 finished too: history limit 1 keeps only it of the finished ones
    assert.deepEqual(after, [c4.metadata.name, captureNameFor('every5', last)]);
  });

  it('startAt: one capture at its time, then none', async () => {
    const at = Math.ceil((clock.now() + 90_000) / 1000) * 1000;
    await createSchedule('once', { startAt: isoSeconds(at) });
    await waitSchedule('once', 'nextScheduleTime = startAt', (x) => x.status?.nextScheduleTime === isoSeconds(at));
    assert.deepEqual(await capturesOf('once'), []);
    await clock.advance(at - clock.now());
    const c = await waitCaptureExists(captureNameFor('once', at));
    await setProgress(c.metadata.name!, 'finished');
    await waitSchedule('once', 'done', (x) => x.status?.nextScheduleTime === undefined && !!x.status?.lastSuccessfulTime);
    await clock.advance(60 * MIN);
    await reconciled('once');
    assert.deepEqual((await capturesOf('once')).map((x) => x.metadata.name), [c.metadata.name]);
  });
});

describe('deleting a schedule (the real garbage collector)', () => {
  it('deletes the captures it owns, with the schedule, and leaves a capture it does not own', async () => {
    const at = Math.ceil((clock.now() + 60_000) / 1000) * 1000;
    await createSchedule('doomed', { startAt: isoSeconds(at) });
    await waitSchedule('doomed', 'nextScheduleTime = startAt', (x) => x.status?.nextScheduleTime === isoSeconds(at));
    await clock.advance(at - clock.now());
    const owned = await waitCaptureExists(captureNameFor('doomed', at));
    // a capture with the schedule's label but no ownerReference: not the schedule's to delete
    const stray = `doomed-stray`;
    await admin.request({ method: 'POST', path: `${PACKETCAPTURE_BASE}/namespaces/${NS}/packetcaptures`, body: { apiVersion: API_VERSION, kind: 'PacketCapture', metadata: { name: stray, labels: { [LABEL_SCHEDULE]: 'doomed' } }, spec: template.spec } });
    await admin.request({ method: 'DELETE', path: schedulePath(NS, 'doomed') });
    await waitGone(admin, NS, owned.metadata.name!, 60_000);
    assert.equal((await getPacketCapture(admin, NS, stray)).metadata.name, stray, 'a capture the schedule does not own stays');
    await admin.request({ method: 'DELETE', path: `${PACKETCAPTURE_BASE}/namespaces/${NS}/packetcaptures/${stray}` });
  });
});

describe('name collisions', () => {
  it('a capture of the run\'s name that the schedule does not own: FailedCreate Warning, not a silent success', async () => {
    const at = Math.floor(clock.now() / MIN) * MIN - MIN;
    await admin.request({ method: 'POST', path: `${PACKETCAPTURE_BASE}/namespaces/${NS}/packetcaptures`, body: { apiVersion: API_VERSION, kind: 'PacketCapture', metadata: { name: captureNameFor('taken', at) }, spec: template.spec } });
    const s = await createSchedule('taken', { startAt: isoSeconds(at) });
    const ev = await waitEvent(s, 'FailedCreate');
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /not captured: capture taken-\d+ already exists and is not owned by this schedule/);
  });
});

describe('wiring', () => {
  it('runController runs the schedule loop (startAt in the past starts right away)', async () => {
    const fake = new FakeClock(Date.now());
    const full = runController({ kc: cluster.kubeConfig, scheduleClock: fake, identity: 'wiring' });
    try {
      await full.ready;
      assert.ok(full.schedules);
      const at = Math.floor(Date.now() / 1000) * 1000 - 5000;
      await createSchedule('wired', { startAt: isoSeconds(at) });
      await waitCaptureExists(captureNameFor('wired', at));
    } finally {
      await full.stop();
    }
  });
});
