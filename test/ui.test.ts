// The UI against the real local cluster (test/harness/demo.ts startStack(): kube-apiserver, the
// controller, agents on two simulated nodes, the pcapper server behind the aggregated API), in a
// real browser (Debian's Chromium via playwright-core). Both `kubectl pcap ui` and the browser run
// in the cluster's client netns (the "laptop"), which reaches nothing but the API server: every
// cluster action of the UI goes through the Kubernetes API with the user's kubeconfig.
// Create a capture from the form (bad values and an apiserver refusal first), watch it run and
// finish in the list, open its packets, filter, open a packet, follow a stream, the dashboard;
// download and export it and check the files with capinfos/tshark against `kubectl pcap
// download`; import the export by upload; live tail of a running capture; delete.
// Needs root (network namespaces, tcpdump), chromium, tshark.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { CLI, idbComments, kp, tool } from './cli-support.js';
import { demoTraffic, startDemoPods, startStack, type DemoPods, type Stack } from './harness/demo.js';
import { assertRoot } from './harness/netns.js';
import { launchBrowser, screenshotDir, startUiProcess, until, type TestBrowser, type UiProcess } from './harness/browser.js';
import { repoRoot } from './harness/paths.js';

const CAP = 'ui-cap';
const LIVE = 'ui-live';

const frames = (file: string): string => tool('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'ip.src', '-e', 'ip.dst']);
const capinfosCount = (file: string): number => Number(tool('capinfos', ['-M', '-c', '-T', '-r', file]).trim().split('\n').pop()?.split('\t')[1]);

describe('kubectl pcap ui against a real cluster, in a real browser (needs root)', () => {
  let stack: Stack;
  let pods: DemoPods;
  const traffic = new AbortController();
  let trafficDone: Promise<unknown> = Promise.resolve();
  let dir: string;
  let ui: UiProcess;
  let browser: TestBrowser;
  let ctx: BrowserContext;
  let page: Page;
  let listPage: Page;
  const shots = screenshotDir(repoRoot());
  const seenStates = new Set<string>();
  let downloaded = '';
  let exported = '';

  before(async () => {
    assertRoot();
    dir = mkdtempSync(join(tmpdir(), 'ui-cluster-'));
    stack = await startStack({ log: () => undefined });
    pods = await startDemoPods(stack);
    trafficDone = demoTraffic(pods, traffic.signal, 150);
    ui = await startUiProcess(CLI, [], {
      cwd: dir,
      command: (argv) => stack.cluster.clientCommand(argv),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: stack.cluster.kubeconfigPath, PCAPPER_STORE: join(dir, 'store') },
    });
    browser = await launchBrowser({ dir: join(dir, 'browser'), netns: stack.cluster.clientNetns });
    ctx = await browser.context();
    page = await ctx.newPage();
    page.on('dialog', (d) => void d.accept());
  });
  after(async () => {
    await browser?.close();
    const code = await ui?.stop();
    traffic.abort();
    await trafficDone;
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, `kubectl pcap ui exit code; stderr: ${ui?.stderr() ?? ''}`);
  });

  it('the UI runs on the laptop and reaches the cluster only through the API server', () => {
    assert.match(ui.stderr(), /pcapper UI on 127\.0\.0\.1:\d+ \(cluster https:\/\/127\.0\.0\.1:\d+, namespace default\)/);
  });

  it('refuses a browser without the token', async () => {
    const other = await browser.context();
    const p = await other.newPage();
    assert.equal((await p.goto(`http://127.0.0.1:${ui.port}/`))?.status(), 401);
    assert.equal((await p.goto(`http://127.0.0.1:${ui.port}/api/captures`))?.status(), 401);
    await other.close();
  });

  it('opens the captures list, live', async () => {
    await page.goto(ui.url);
    await page.locator('h1 .dot.live').waitFor();
    listPage = await ctx.newPage();
    listPage.on('dialog', (d) => void d.accept());
    await listPage.goto(`http://127.0.0.1:${ui.port}/#/`);
    await listPage.locator('h1 .dot.live').waitFor();
    // every state the list shows for the capture, as the watch delivers it (no reload)
    await listPage.exposeFunction('pcapperSawState', (s: string) => seenStates.add(s));
    await listPage.evaluate(`new MutationObserver(() => { const e = document.querySelector('tr[data-capture="default/${CAP}"] [data-state]'); if (e) window.pcapperSawState(e.getAttribute('data-state')); }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true })`).catch(() => undefined);
  });

  it('the create form shows bad values at their fields and an apiserver refusal, and creates nothing', async () => {
    await page.goto(`http://127.0.0.1:${ui.port}/#/create`);
    await page.selectOption('select[name=kind]', 'selector');
    await page.fill('input[name=target]', 'app=demo');
    await page.fill('input[name=duration]', 'soon');
    await page.locator('[data-field-error="duration"]').waitFor();
    assert.match(await page.locator('[data-field-error="duration"]').innerText(), /soon/);
    await page.fill('input[name=duration]', '6s');
    await page.fill('input[name=name]', 'Bad_Name');
    await page.locator('[data-field-error="name"]').waitFor();
    await page.fill('input[name=maxFileSize]', '10 parsecs');
    await page.fill('input[name=name]', CAP);
    await page.locator('[data-field-error="maxFileSize"]').waitFor();
    await page.screenshot({ path: join(shots, 'ui-create-errors.png'), fullPage: true });
    await page.click('#create-submit');
    await page.locator('#create-error').waitFor();
    await page.fill('input[name=maxFileSize]', '');
    // valid for the CLI, refused by the apiserver's dry run: the namespace does not exist
    await page.fill('input[name=namespace]', 'no-such-namespace');
    await page.locator('#yaml-preview', { hasText: 'namespace: no-such-namespace' }).waitFor();
    await page.click('#create-submit');
    await page.locator('#create-error', { hasText: 'dry run' }).waitFor();
    assert.match(await page.locator('#create-error').innerText(), /the API server refused it \(dry run\): .*no-such-namespace.*not found/);
    const r = await stack.cluster.kubectl(['get', 'packetcaptures', '-A', '-o', 'name']);
    assert.equal(r.stdout.trim(), '', 'nothing was created');
  });

  it('creates a capture from the form (YAML as init writes it) and watches it run and finish', async () => {
    await page.fill('input[name=namespace]', 'default');
    await page.locator('#yaml-preview', { hasText: 'namespace: default' }).waitFor();
    const yaml = await page.locator('#yaml-preview').innerText();
    assert.match(yaml, /^# PacketCapture written by kubectl pcap init/);
    assert.match(yaml, /podSelector:\n\s+matchLabels:\n\s+app: demo/);
    assert.match(yaml, /captureSeconds: 6s/);
    await page.screenshot({ path: join(shots, 'ui-create.png'), fullPage: true });
    await page.click('#create-submit');
    await page.waitForURL(new RegExp(`#/capture/default/${CAP}$`));
    await page.locator('#detail-state[data-state="running"]').waitFor({ timeout: 60_000 });
    await page.locator('#detail-state[data-state="finished"]').waitFor({ timeout: 90_000 });
    await page.locator('#files td', { hasText: '.pcap' }).first().waitFor();
    const targets = await page.locator('#targets tbody tr').count();
    assert.equal(targets, 3, 'demo-web, demo-api, demo-dns');
    await page.screenshot({ path: join(shots, 'ui-detail.png'), fullPage: true });
    await listPage.locator(`tr[data-capture="default/${CAP}"] [data-state="finished"]`).waitFor();
    assert.ok(seenStates.has('running'), `the list showed it running: ${[...seenStates].join(',')}`);
    assert.ok(seenStates.has('finished'));
    const pk = Number(await listPage.locator(`tr[data-capture="default/${CAP}"] td[data-packets]`).getAttribute('data-packets'));
    assert.ok(pk > 0, 'packets counted');
    await listPage.screenshot({ path: join(shots, 'ui-captures.png') });
  });

  it('downloads and exports it: the files are what `kubectl pcap download` writes', async () => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    assert.equal(dl.suggestedFilename(), `${CAP}.pcapng`);
    downloaded = join(dir, 'ui.pcapng');
    await dl.saveAs(downloaded);
    const cli = join(dir, 'cli.pcapng');
    const r = await kp(['download', CAP, '-w', cli], { kubeconfig: stack.cluster.kubeconfigPath });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(capinfosCount(downloaded) > 0);
    assert.equal(capinfosCount(downloaded), capinfosCount(cli));
    assert.equal(frames(downloaded), frames(cli));
    const [ex] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    exported = join(dir, `${CAP}.export.pcapng`);
    await ex.saveAs(exported);
    assert.equal(frames(exported), frames(cli));
    const comments = await idbComments(exported);
    assert.ok(comments.some((c) => c.startsWith('pcapper.meta=')), 'self-describing: the metadata rides in the file');
  });

  it('opens its packets, filters by pod and protocol, opens a packet and follows its HTTP stream', async () => {
    await page.click('#open-packets');
    const total = capinfosCount(downloaded);
    await page.locator('#filter-count', { hasText: `${total} of ${total}` }).waitFor({ timeout: 60_000 });
    await page.locator('#packet-list .prow[data-frame]').first().waitFor();
    await page.screenshot({ path: join(shots, 'ui-packets.png') });
    await page.fill('#filter', 'http and pod ==');
    await page.click('#filter-apply');
    await page.locator('#filter-error').waitFor();
    await page.fill('#filter', 'http and pod == "demo-web"');
    await page.click('#filter-apply');
    await page.locator('#packet-list .prow[data-frame]').first().waitFor();
    const texts = await page.locator('#packet-list .prow[data-frame]').allInnerTexts();
    assert.ok(texts.length > 0);
    for (const t of texts) assert.match(t, /default\/demo-web/, 'named by pod');
    await page.locator('#packet-list .prow[data-frame]', { hasText: 'GET /demo/' }).first().click();
    await page.locator('#layer-tree .label').first().waitFor();
    await page.click('#follow-stream');
    await page.locator('#http-messages').waitFor();
    const msgs = await page.locator('#http-messages code').allInnerTexts();
    assert.ok(msgs.some((m) => /^GET \/demo\/\d+ HTTP\/1\.1$/.test(m)), msgs.join(' | '));
    assert.ok(msgs.some((m) => /^HTTP\/1\.[01] 200/.test(m)), msgs.join(' | '));
    await page.screenshot({ path: join(shots, 'ui-follow.png'), fullPage: true });
    await page.click('#tab-dashboard');
    await page.locator('#connections tbody tr').first().waitFor();
    assert.match(await page.locator('#connections').innerText(), /default\/demo-(web|api)\s+default\/demo-(web|api):8080\s+\d+\s+100%/);
    assert.match(await page.locator('#dns').innerText(), /NOERROR: \d+/);
    await page.locator('#timeline canvas').waitFor();
    await page.screenshot({ path: join(shots, 'ui-dashboard-cluster.png'), fullPage: true });
  });

  it('imports the export by upload; it opens with its pod names, no cluster needed', async () => {
    await page.goto(`http://127.0.0.1:${ui.port}/#/`);
    await page.setInputFiles('#import-file', exported);
    await page.locator('#import-ok').waitFor();
    assert.match(await page.locator('#import-ok').innerText(), new RegExp(`as "${CAP}\\.export" \\(3 files\\)`));
    await page.locator(`#sources tr[data-source="store:${CAP}.export"] a`, { hasText: 'Packets' }).click();
    const total = capinfosCount(exported);
    await page.locator('#filter-count', { hasText: `${total} of ${total}` }).waitFor();
    const cps = await page.locator('#packet-list .prow[data-frame] span:nth-child(3)').allInnerTexts();
    assert.ok(cps.every((c) => /^default\/demo-(web|api|dns)$/.test(c)), cps.slice(0, 5).join(','));
  });

  it('live tail: packets of a running capture appear while it runs', async () => {
    await page.goto(`http://127.0.0.1:${ui.port}/#/create`);
    await page.selectOption('select[name=kind]', 'pod');
    await page.fill('input[name=target]', 'demo-web');
    await page.fill('input[name=name]', LIVE);
    await page.fill('input[name=duration]', '30s');
    await page.check('input[name=immediate]');
    await page.locator('#yaml-preview', { hasText: `name: ${LIVE}` }).waitFor();
    await page.click('#create-submit');
    await page.locator('#detail-state[data-state="running"]').waitFor({ timeout: 60_000 });
    await page.locator('#open-packets', { hasText: 'Live packets' }).click();
    await until('live packets', async () => {
      const t = await page.locator('#live-state').innerText().catch(() => '');
      const m = /live: (\d+) packets/.exec(t);
      return m && Number(m[1]) >= 10 ? true : undefined;
    }, 60_000);
    await until('rows of the live tail', async () => ((await page.locator('#packet-list .prow[data-frame]').count()) >= 10 ? true : undefined), 30_000);
    // while it runs, endpoints are named by pod: the live file carries each target's metadata
    // sidecar (read through the data API) in its interface comments
    const ends = [
      ...(await page.locator('#packet-list .prow[data-frame] span:nth-child(4)').allInnerTexts()),
      ...(await page.locator('#packet-list .prow[data-frame] span:nth-child(5)').allInnerTexts()),
    ];
    assert.ok(ends.some((e) => e.startsWith('default/demo-web')), `no endpoint named default/demo-web during the live tail: ${ends.slice(0, 6).join(', ')}`);
    await page.screenshot({ path: join(shots, 'ui-live.png') });
  });

  it('deletes captures from the list (the watch removes the rows)', async () => {
    await listPage.bringToFront();
    for (const name of [LIVE, CAP]) {
      await listPage.locator(`tr[data-capture="default/${name}"] button`, { hasText: 'Delete' }).click();
      await listPage.locator(`tr[data-capture="default/${name}"]`).waitFor({ state: 'detached', timeout: 60_000 });
    }
    await until('both captures gone', async () => ((await stack.cluster.kubectl(['get', 'packetcaptures', '-n', 'default', '-o', 'name'])).stdout.trim() === '' ? true : undefined), 60_000);
  });

  it('RBAC decides what a user sees: alice, allowed only in team-a, gets only team-a', async () => {
    await stack.cluster.kubectl(['create', 'namespace', 'team-a']);
    await stack.cluster.kubectl(['create', 'rolebinding', 'alice-pcap', '-n', 'team-a', '--clusterrole=pcapper-capture-user', '--user=alice']);
    const obj = (ns: string, name: string): string => JSON.stringify({ apiVersion: 'pcapper.dev/v1alpha1', kind: 'PacketCapture', metadata: { namespace: ns, name }, spec: { targetPod: 'nobody', captureSeconds: '60s' } });
    for (const [ns, name] of [['default', 'admin-only'], ['team-a', 'team-cap']] as const) {
      const r = await stack.cluster.kubectl(['create', '-f', '-'], { input: obj(ns, name) });
      assert.equal(r.code, 0, r.stderr);
    }
    const alice = await startUiProcess(CLI, ['-n', 'team-a'], {
      cwd: dir,
      command: (argv) => stack.cluster.clientCommand(argv),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: stack.cluster.userKubeconfigPath('alice'), PCAPPER_STORE: join(dir, 'alice-store') },
    });
    try {
      const c = await browser.context();
      const p = await c.newPage();
      await p.goto(alice.url);
      await p.locator('tr[data-capture="team-a/team-cap"]').waitFor();
      assert.equal(await p.locator('tr[data-capture="default/admin-only"]').count(), 0);
      assert.match(await p.locator('h1 small').first().innerText(), /namespace team-a/);
      // the admin's UI, which may list everywhere, sees both
      await listPage.locator('tr[data-capture="team-a/team-cap"]').waitFor();
      await listPage.locator('tr[data-capture="default/admin-only"]').waitFor();
      await c.close();
    } finally {
      assert.equal(await alice.stop(), 0);
      await stack.cluster.kubectl(['delete', 'packetcapture', '-n', 'team-a', 'team-cap', '--wait=false']);
      await stack.cluster.kubectl(['delete', 'packetcapture', '-n', 'default', 'admin-only', '--wait=false']);
    }
  });

  it('no script errors and no CSP violations on any page', () => {
    // refused requests (401 without the token, 400 bad filter, 422 bad form, 404 a deleted capture's
    // detail) are logged by Chromium as failed loads; anything else is a problem
    assert.deepEqual(browser.problems.filter((p) => !/status of (400 \(Bad Request\)|401 \(Unauthorized\)|404 \(Not Found\)|422 \(Unprocessable Entity\))/.test(p)), []);
  });
});
