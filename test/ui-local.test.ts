// The UI in a real browser (Debian's Chromium via playwright-core) without any cluster, as a user
// with only files runs it: `kubectl pcap ui FILE` (its own process, no kubeconfig), the packet
// list checked against tshark, display filters (bad and good), packet detail with the hex
// highlight, follow TCP stream with its HTTP messages, keyboard navigation, deep links, the
// dashboard, the dark theme, import by upload (a good file and a corrupt one), and the token.
// Needs no root and no cluster; needs chromium, tshark.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { CLI, kp, tool } from './cli-support.js';
import { launchBrowser, screenshotDir, startUiProcess, until, type TestBrowser, type UiProcess } from './harness/browser.js';
import { repoRoot, testdataDir } from './harness/paths.js';

const HTTP_FILE = 'zeek__http_get.pcap';

describe('kubectl pcap ui without a cluster (real browser)', () => {
  let dir: string;
  let file: string;
  let ui: UiProcess;
  let browser: TestBrowser;
  let ctx: BrowserContext;
  let page: Page;
  const shots = screenshotDir(repoRoot());
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ui-local-'));
    file = join(dir, 'web.pcap');
    copyFileSync(join(testdataDir(), HTTP_FILE), file);
    ui = await startUiProcess(CLI, [file], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: join(dir, 'no-kubeconfig'), PCAPPER_STORE: join(dir, 'store') } });
    browser = await launchBrowser({ dir: join(dir, 'browser') });
    ctx = await browser.context();
    page = await ctx.newPage();
  });
  after(async () => {
    await browser?.close();
    const code = await ui?.stop();
    assert.equal(code, 0, `kubectl pcap ui exit code; stderr: ${ui?.stderr()}`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('says there is no cluster on the terminal, serves the URL on loopback', () => {
    assert.match(ui.stderr(), /note: no cluster \(.*\); the local store and files still work/);
    assert.match(ui.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
  });

  it('a file that is not a capture, or a port in use, is one clear line and exit 1', async () => {
    const bad = join(dir, 'notes.txt');
    writeFileSync(bad, 'not a capture\n');
    const env = { KUBECONFIG: join(dir, 'no-kubeconfig'), PCAPPER_STORE: join(dir, 'store'), HOME: dir };
    const r1 = await kp(['ui', '--no-open', bad], { env, cwd: dir });
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, new RegExp(`^error: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*pcap`));
    assert.equal(r1.stderr.trim().split('\n').length, 1, r1.stderr);
    const r2 = await kp(['ui', '--no-open', '--port', String(ui.port)], { env, cwd: dir });
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, new RegExp(`error: port ${ui.port} on 127\\.0\\.0\\.1 is in use: choose another --port`));
    assert.equal(r2.stdout.length, 0, 'no URL printed');
  });

  it('with an unreachable cluster, the page says so and the local parts still work', async () => {
    const kc = join(dir, 'unreachable.kubeconfig');
    writeFileSync(kc, ['apiVersion: v1', 'kind: Config', 'current-context: gone', 'clusters:', '- name: gone', '  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}', 'users:', '- name: u', '  user: {token: "t"}', 'contexts:', '- name: gone', '  context: {cluster: gone, user: u}', ''].join('\n'), { mode: 0o600 });
    const gone = await startUiProcess(CLI, [file], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: kc, PCAPPER_STORE: join(dir, 'store') } });
    try {
      const c = await browser.context();
      const p = await c.newPage();
      await p.goto(gone.url);
      const err = p.locator('p.error[role=alert]').first();
      await err.waitFor();
      assert.match(await err.innerText(), /cannot reach the cluster at https:\/\/127\.0\.0\.1:1/);
      await p.locator('#sources tr[data-source="file:0"]').waitFor();
      await c.close();
    } finally {
      assert.equal(await gone.stop(), 0);
    }
  });

  it('refuses the page and the API without the token', async () => {
    const other = await browser.context();
    const p = await other.newPage();
    const r1 = await p.goto(`http://127.0.0.1:${ui.port}/`);
    assert.equal(r1?.status(), 401);
    const r2 = await p.goto(`http://127.0.0.1:${ui.port}/api/sources`);
    assert.equal(r2?.status(), 401);
    assert.match(await p.content(), /no valid session/);
    await other.close();
  });

  it('opens with the token: the file is listed, the cluster part says why it is absent', async () => {
    await page.goto(ui.url);
    assert.equal(new URL(page.url()).search, '', 'the token is gone from the address bar');
    await page.locator('#no-cluster').waitFor();
    assert.match(await page.locator('#no-cluster').innerText(), /No cluster: .*no-kubeconfig/);
    await page.locator('#sources tr[data-source="file:0"]').waitFor();
    await page.screenshot({ path: join(shots, 'ui-local.png') });
  });

  it('lists the packets as tshark does', async () => {
    await page.locator('#sources tr[data-source="file:0"] a', { hasText: 'Packets' }).click();
    await page.locator('#packet-list .prow[data-frame]').first().waitFor();
    const frames = tool('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number', '-e', 'frame.len']).trim().split('\n');
    assert.equal(await page.locator('#filter-count').innerText(), `${frames.length} of ${frames.length}`);
    const rows = await page.locator('#packet-list .prow[data-frame]').count();
    assert.equal(rows, frames.length);
    const lens = await page.locator('#packet-list .prow[data-frame] span.num').allInnerTexts();
    assert.deepEqual(lens, frames.map((l) => l.split('\t')[1]));
    await page.screenshot({ path: join(shots, 'ui-packets-local.png') });
  });

  it('shows a bad display filter inline, at its position; the list comes back after fixing it', async () => {
    await page.fill('#filter', 'tcp.port == ');
    await page.click('#filter-apply');
    const err = page.locator('#filter-error');
    await err.waitFor();
    const text = await err.innerText();
    assert.match(text, /at character \d+/);
    assert.equal(await page.locator('#filter').getAttribute('aria-invalid'), 'true');
    await page.screenshot({ path: join(shots, 'ui-filter-error.png') });
    await page.fill('#filter', 'ip.src == 192.150.187.43 and tcp.port == 80');
    await page.click('#filter-apply');
    const expected = tool('tshark', ['-r', file, '-Y', 'ip.src == 192.150.187.43 and tcp.port == 80', '-T', 'fields', '-e', 'frame.number']).trim().split('\n');
    await page.locator('#filter-count', { hasText: ` of ` }).waitFor();
    await until('the filtered rows', async () => ((await page.locator('#packet-list .prow[data-frame]').count()) === expected.length ? true : undefined), 30_000);
    const shown: string[] = [];
    for (const row of await page.locator('#packet-list .prow[data-frame]').all()) shown.push((await row.getAttribute('data-frame')) ?? '');
    assert.deepEqual(shown, expected);
    assert.equal(new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('filter'), 'ip.src == 192.150.187.43 and tcp.port == 80');
  });

  it('opens a packet: layer tree, hex, a field highlighted; follows its TCP stream with the HTTP messages', async () => {
    await page.locator('#packet-list .prow[data-frame]').first().click();
    await page.locator('#layer-tree .label').first().waitFor();
    const field = page.locator('#layer-tree .label[data-field="ip.src"]');
    if ((await field.count()) === 0) {
      // expand the network layer if it starts closed
      await page.locator('#layer-tree > .node .twist').nth(2).click().catch(() => undefined);
    }
    await page.locator('#layer-tree .label[data-field^="ip"]').first().click();
    const hl = await page.locator('#hex .bytes span.hl').count();
    assert.ok(hl > 0, 'the selected field is highlighted in the hex view');
    await page.click('#follow-stream');
    await page.locator('#http-messages').waitFor();
    const msgs = await page.locator('#http-messages code').allInnerTexts();
    assert.ok(msgs.some((m) => /^GET \/download\/CHANGES\.bro-aux\.txt HTTP\/1\.1$/.test(m)), msgs.join(' | '));
    assert.ok(msgs.some((m) => /^HTTP\/1\.1 200 OK$/.test(m)), msgs.join(' | '));
    assert.match(await page.locator('#stream-text').innerText(), /GET \/download\/CHANGES\.bro-aux\.txt/);
    assert.match(page.url(), /packet=\d+/);
    assert.match(page.url(), /follow=1/);
    await page.screenshot({ path: join(shots, 'ui-packet-detail.png'), fullPage: true });
  });

  it('a deep link reopens the same filter, packet and stream', async () => {
    const url = page.url();
    const p2 = await ctx.newPage();
    await p2.goto(url);
    await p2.locator('#http-messages').waitFor();
    assert.equal(await p2.inputValue('#filter'), 'ip.src == 192.150.187.43 and tcp.port == 80');
    await p2.locator('#packet-list .prow.sel').waitFor();
    assert.equal(await p2.locator('#packet-list .prow.sel').count(), 1);
    assert.equal(await p2.locator('#packet-list .prow.sel').getAttribute('data-frame'), new URLSearchParams(new URL(url).hash.split('?')[1]).get('packet'));
    await p2.close();
  });

  it('keyboard: home/down/end/up move the selection and the URL follows', async () => {
    await page.fill('#filter', '');
    await page.click('#filter-apply');
    await until('all rows', async () => ((await page.locator('#packet-list .prow[data-frame]').count()) > 10 ? true : undefined), 30_000);
    await page.focus('#packet-list');
    await page.keyboard.press('Home');
    await page.waitForURL(/packet=1(&|$)/);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.waitForURL(/packet=3(&|$)/);
    await page.keyboard.press('End');
    const n = tool('capinfos', ['-M', '-c', '-T', '-r', file]).trim().split('\t')[1];
    await page.waitForURL(new RegExp(`packet=${n}(&|$)`));
    await page.keyboard.press('ArrowUp');
    await page.waitForURL(new RegExp(`packet=${Number(n) - 1}(&|$)`));
    await page.keyboard.press('Enter');
    await page.locator('#layer-tree').waitFor();
  });

  it('dashboard: summary engine figures and the timeline chart; dark theme', async () => {
    await page.click('#tab-dashboard');
    await page.locator('#dashboard').waitFor();
    await page.locator('#timeline canvas').waitFor();
    const http = await page.locator('#http').innerText();
    assert.match(http, /Requests \/ responses\s+1 \/ 1/);
    assert.match(http, /2xx: 1/);
    // the request by path (zeek__http_get.pcap: one GET answered 200), as the HTTP/2 and gRPC tables list theirs (test/grpc.test.ts)
    const paths = await page.locator('#http-paths tbody tr').allInnerTexts();
    assert.equal(paths.length, 1);
    assert.match(paths[0]!.replace(/\s+/g, ' '), /^GET \/\S+ 1 200: 1 \d+\.\d\d \d+\.\d\d$/);
    assert.equal(await page.locator('#grpc-calls').count(), 0, 'no gRPC table without gRPC calls');
    assert.match(await page.locator('#connections').innerText(), /141\.142\.228\.5\s+192\.150\.187\.43:80\s+1\s+100%/);
    await page.screenshot({ path: join(shots, 'ui-dashboard.png'), fullPage: true });
    await page.click('#theme-toggle');
    await page.locator('html[data-theme="dark"]').waitFor({ state: 'attached' });
    await page.click('#tab-packets');
    await page.locator('#packet-list .prow[data-frame]').first().waitFor();
    await page.screenshot({ path: join(shots, 'ui-dark.png') });
    await page.click('#theme-toggle');
  });

  it('imports by upload: a corrupt file gets the reader\'s error, a good one is stored and opens', async () => {
    await page.goto(`http://127.0.0.1:${ui.port}/#/`);
    await page.locator('#dropzone').waitFor();
    await page.setInputFiles('#import-file', { name: 'corrupt.pcap', mimeType: 'application/octet-stream', buffer: Buffer.from('GET / HTTP/1.1\r\nHost: not-a-capture\r\n\r\n') });
    const err = page.locator('#import-error');
    await err.waitFor();
    assert.match(await err.innerText(), /^corrupt\.pcap: not a pcap or pcapng file: .+/);
    await page.screenshot({ path: join(shots, 'ui-import-error.png') });
    await page.setInputFiles('#import-file', join(testdataDir(), 'fpcap__pcapng-example.pcapng'));
    await page.locator('#import-ok').waitFor();
    assert.match(await page.locator('#import-ok').innerText(), /Imported fpcap__pcapng-example\.pcapng as "fpcap-pcapng-example"/);
    await page.locator('#sources tr[data-source="store:fpcap-pcapng-example"] a', { hasText: 'Packets' }).click();
    const n = tool('capinfos', ['-M', '-c', '-T', '-r', join(testdataDir(), 'fpcap__pcapng-example.pcapng')]).trim().split('\t')[1];
    await page.locator('#filter-count', { hasText: `${n} of ${n}` }).waitFor();
  });

  it('imports by drag and drop', async () => {
    await page.goto(`http://127.0.0.1:${ui.port}/#/`);
    await page.locator('#dropzone').waitFor();
    const b64 = readFileSync(file).toString('base64');
    // a DataTransfer carrying a File, as the browser builds it for a file dropped from the desktop
    const dt = await page.evaluateHandle(`(() => { const b = Uint8Array.from(atob('${b64}'), (c) => c.charCodeAt(0)); const d = new DataTransfer(); d.items.add(new File([b], 'dropped.pcap')); return d; })()`);
    await page.dispatchEvent('#dropzone', 'dragover', { dataTransfer: dt });
    await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
    await page.locator('#import-ok', { hasText: 'Imported dropped.pcap as "dropped"' }).waitFor();
    await page.locator('#sources tr[data-source="store:dropped"]').waitFor();
  });

  it('no console errors, no script errors and no CSP violations on any page', () => {
    // the refused requests above (401 without the token, 400 for the bad filter and the corrupt
    // upload, 502 from the unreachable cluster) are logged by Chromium as failed loads; anything
    // else is a problem
    assert.deepEqual(browser.problems.filter((p) => !/status of (400 \(Bad Request\)|401 \(Unauthorized\)|502 \(Bad Gateway\))/.test(p)), []);
  });
});
