// (b) End to end like a person, in a real VS Code: code-server with the
// packaged .vsix installed, driven by headless Chromium (playwright-core).
// Opens a workspace with a log and config; sets the API key through the
// command palette (SecretStorage); right-clicks the log in the Explorer
// ("Score with CJE" is offered for .jsonl, not for .txt/.json); scores
// against the loopback completions server, cancels from the progress
// notification, scores again (resumes); asserts on the diagnostics panel;
// clicks a record to open the log at its line; edits the config to a wrong
// template and reads the diagnostic from the hover and the Problems panel.
// PNG screenshots go to test-output/vscode/. Browser requests off 127.0.0.1
// are aborted and asserted absent; the API key is asserted absent from the
// page, the panel, the scores and every file VS Code wrote.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startCompletionsServer, type CompletionsServer } from '../support/completions-server';
import { installVsix, openWorkbench, requireVsCodeInstall, ROOT, startCodeServer, tempDir, vscodeTestPaths, workbench, writeUserSettings, type CodeServer } from './vscode-harness';
import { makeVsCodeWorkspace, TEST_API_KEY } from './vscode-workspace';

type Page = import('playwright-core').Page;
type Ctx = import('playwright-core').BrowserContext;
type FrameLocator = import('playwright-core').FrameLocator;

const OUT = path.join(ROOT, 'test-output', 'vscode');
const MOD = 'Control';

function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile() && fs.statSync(f).size < 50 * 1024 * 1024 && fs.readFileSync(f).includes(needle)) hits.push(f);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return hits;
}

describe('VS Code end to end like a person (code-server + Chromium, packaged .vsix)', function () {
  this.timeout(600_000);
  let server: CompletionsServer;
  let cs: CodeServer | undefined;
  let ctx: Ctx | undefined;
  let external: string[] = [];
  let page: Page;
  const { explorerRow, notification, runCommand, openContextMenu } = workbench(() => page);
  let tmp: string;
  let ws: ReturnType<typeof makeVsCodeWorkspace>;

  const shot = async (name: string) => {
    await page.screenshot({ path: path.join(OUT, `${name}.png`) });
  };
  const contextMenuItems = async (name: string): Promise<string[]> => {
    const menu = await openContextMenu(name);
    return (await menu.locator('.action-item .action-label').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
  };
  const chooseMenuItem = async (label: string) => {
    const menu = page.locator('.context-view .monaco-menu');
    const item = menu.locator('.action-item').filter({ hasText: label });
    await item.click();
    // A click that lands while the menu is still settling is dropped: activate it from the keyboard then.
    if (!(await menu.waitFor({ state: 'hidden', timeout: 3000 }).then(() => true, () => false))) {
      await item.hover();
      await page.keyboard.press('Enter');
      await menu.waitFor({ state: 'hidden' });
    }
  };
  const panelFrame = (): FrameLocator => page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');

  before(async function () {
    requireVsCodeInstall(this);
    const { paths } = vscodeTestPaths();
    fs.mkdirSync(OUT, { recursive: true });
    tmp = tempDir('cje-vscode-ui-');
    // Slow enough that the progress notification can be seen and cancelled.
    server = await startCompletionsServer({ requireApiKey: TEST_API_KEY, latencyMs: 400 });
    ws = makeVsCodeWorkspace(path.join(tmp, 'ws'), server.baseURL);
    // A "local" policy for the universal .vsix, which carries no worker runtime.
    fs.mkdirSync(path.join(ws.dir, 'local'), { recursive: true });
    fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'tiny-llama'), path.join(ws.dir, 'local', 'tiny-llama'), { recursive: true });
    fs.writeFileSync(path.join(ws.dir, 'local', 'cje.config.json'), JSON.stringify({ behavior: 'base', policies: { base: { provider: 'local', model: './tiny-llama', template: 'llama3' } } }, null, 2));
    fs.writeFileSync(path.join(ws.dir, 'local', 'local.jsonl'), fs.readFileSync(path.join(ROOT, 'examples', 'arena-mini.jsonl'), 'utf8').split('\n').slice(0, 2).join('\n') + '\n');
    const vsix = path.join(tmp, 'cje-inspector.vsix');
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package-vsix.mjs'), '--out', vsix], { cwd: ROOT, stdio: 'ignore' });
    const userDataDir = path.join(tmp, 'user-data');
    const extensionsDir = path.join(tmp, 'extensions');
    const homeDir = path.join(tmp, 'home');
    writeUserSettings(userDataDir);
    await installVsix({ paths: paths!, userDataDir, extensionsDir, homeDir, vsix });
    // The key must come from SecretStorage (set through the UI below), not from the environment.
    delete process.env.FIREWORKS_API_KEY;
    cs = await startCodeServer({ paths: paths!, userDataDir, extensionsDir, homeDir, folder: ws.dir, disableWorkspaceTrust: true });
    ({ ctx, external, page } = await openWorkbench(paths!, path.join(tmp, 'chromium'), cs.origin, ws.dir));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) await shot(`failed-${this.currentTest.title.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
  });

  after(async () => {
    await ctx?.close().catch(() => undefined);
    await cs?.stop();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('sets the Fireworks API key through the command palette (password input)', async () => {
    await runCommand('CJE: Set Fireworks API Key');
    const input = page.locator('.quick-input-widget input[type="password"]');
    await input.waitFor();
    await input.fill(TEST_API_KEY);
    await page.keyboard.press('Enter');
    await notification(/Fireworks API key stored in SecretStorage/).waitFor();
  });

  it('offers "Score with CJE" on a .jsonl log in the Explorer, not on .txt or .json files', async () => {
    await explorerRow('logs').click();
    await explorerRow('arena.jsonl').waitFor();
    for (const other of ['notes.txt', 'settings-example.json', 'cje.config.json']) {
      const items = await contextMenuItems(other);
      assert.ok(items.length > 3, `a context menu for ${other}: ${items.join(', ')}`);
      assert.ok(!items.includes('Score with CJE'), `not offered for ${other}`);
      await page.keyboard.press('Escape');
    }
    const items = await contextMenuItems('arena.jsonl');
    assert.ok(items.includes('Score with CJE'), items.join(', '));
    assert.ok(items.includes('Open Diagnostics Panel'));
    await page.locator('.context-view .monaco-menu .action-item').filter({ hasText: 'Score with CJE' }).hover();
    await shot('context-menu');
  });

  it('scores with a progress notification that shows records and rate; cancelling keeps what was scored', async () => {
    await chooseMenuItem('Score with CJE');
    const progress = notification(/CJE: scoring arena\.jsonl/);
    await progress.filter({ hasText: /\d+ \/ \d+ records · [\d.]+ records\/s/ }).waitFor({ timeout: 60_000 });
    await shot('progress');
    const text = await progress.innerText();
    assert.match(text, /\d+ \/ 3\d records/);
    await progress.hover();
    await progress.locator('.monaco-button', { hasText: 'Cancel' }).click();
    await notification(/cancelled/).waitFor({ timeout: 60_000 });
    const scores = path.join(ws.dir, 'logs', 'arena.scores.jsonl');
    const kept = fs.existsSync(scores) ? fs.readFileSync(scores, 'utf8').trim().split('\n').filter(Boolean).length : 0;
    assert.ok(kept < 90, `a cancelled run stops early (${kept} lines)`);
  });

  it('scores again: resumes, and the diagnostics panel opens', async () => {
    await page.keyboard.press('Escape');
    await openContextMenu('arena.jsonl');
    await chooseMenuItem('Score with CJE');
    await notification(/CJE: scored arena\.jsonl/).waitFor({ timeout: 180_000 });
    const all = fs.readFileSync(path.join(ws.dir, 'logs', 'arena.scores.jsonl'), 'utf8').trim().split('\n');
    // One endpoint profile per run that reached the server (the cancelled first run and this one), then the scores.
    assert.equal(all.filter((l) => l.startsWith('{"kind":"endpoint_profile"')).length, 2);
    const scores = all.filter((l) => !l.startsWith('{"kind":'));
    assert.equal(scores.length, 90, 'every record under every policy, once');
    const keys = new Set(scores.map((l) => (JSON.parse(l) as { key: string; policy: string }).policy + (JSON.parse(l) as { key: string }).key));
    assert.equal(keys.size, 90, 'no line scored twice across the cancelled and the resumed run');

    const f = panelFrame();
    await f.locator('h1', { hasText: 'CJE report' }).waitFor({ timeout: 60_000 });
    await f.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
    const cards = await f.locator('#policies h3').allInnerTexts();
    assert.deepEqual(cards.map((c) => c.trim()).sort(), ['clone', 'other']);
    const head = await f.locator('header.page-head').innerText();
    assert.match(head, /arena\.scores\.jsonl/);
    assert.match(head, /behavior\s+base/);
    assert.match(await f.locator('#identical').innerText(), /clone/);
    await runCommand('Notifications: Clear All Notifications');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
    await page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'hidden' }).catch(() => undefined);
    await shot('panel');
  });

  it('opens the log at a record clicked in the panel', async () => {
    const f = panelFrame();
    const row = f.locator('.record-table .rows .tr').first();
    await row.click();
    const h = await f.locator('.detail-head h3').innerText();
    const line = Number(/line (\d+)/.exec(h)![1]);
    await f.locator('.detail-head vscode-button', { hasText: 'Open in log' }).click();
    await page.locator('.tabs-container .tab.active', { hasText: 'arena.jsonl' }).waitFor();
    await page.locator('.statusbar-item', { hasText: new RegExp(`Ln ${line}, Col 1`) }).waitFor({ timeout: 30_000 });
  });

  it('shows a lint diagnostic as soon as the config gets a wrong template (hover and Problems)', async () => {
    await page.keyboard.press('Escape');
    await explorerRow('cje.config.json').click();
    await page.locator('.tabs-container .tab.active', { hasText: 'cje.config.json' }).waitFor();
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.locator('.view-lines').click();
    await page.keyboard.press(`${MOD}+f`);
    await page.keyboard.type('llama3');
    await page.keyboard.press('Escape');
    // The find widget leaves the first match selected: typing replaces it (no quotes, so no auto-closing).
    await page.keyboard.type('llama5');
    const squiggle = editor.locator('.squiggly-error').first();
    await squiggle.waitFor({ timeout: 30_000 });
    await editor.locator('.view-line span span', { hasText: 'llama5' }).first().hover();
    const hover = page.locator('.monaco-hover').filter({ hasText: /unknown template "llama5"/ });
    await hover.first().waitFor({ timeout: 30_000 });
    await shot('lint-hover');
    await page.keyboard.press('Escape');
    await page.keyboard.press(`${MOD}+Shift+m`);
    const problems = page.locator('.markers-panel');
    await problems.filter({ hasText: /unknown template "llama5"/ }).waitFor({ timeout: 30_000 });
    await shot('lint-problems');
  });

  it('says in one message, without scoring, that a "local" policy needs the platform package (the universal .vsix has no worker runtime)', async () => {
    await page.keyboard.press('Escape');
    await runCommand('Notifications: Clear All Notifications');
    await explorerRow('local').click();
    await explorerRow('local.jsonl').waitFor();
    await openContextMenu('local.jsonl');
    await chooseMenuItem('Score with CJE');
    const target = `${process.platform}-${process.arch}`;
    const msg = notification(/local worker .* is not in this CJE Inspector package/);
    await msg.waitFor({ timeout: 60_000 });
    const text = await msg.innerText();
    assert.match(text, /cannot score local\.jsonl/);
    assert.ok(text.includes(`cje-inspector-${target}.vsix`), text);
    assert.match(text, /cje worker --model DIR/);
    assert.match(text, /baseURL/);
    assert.doesNotMatch(text, /run again to resume/);
    // The progress notification of the refused run goes away.
    await notification(/CJE: scoring local\.jsonl/).waitFor({ state: 'hidden', timeout: 30_000 });
    await shot('local-needs-platform-package');
    // One message, and no crash (an extension host that died would add its own notification).
    assert.equal(await page.locator('.notifications-toasts .notification-toast').count(), 1, 'one message');
    const localScores = path.join(ws.dir, 'local', 'local.scores.jsonl');
    assert.equal(fs.existsSync(localScores) ? fs.readFileSync(localScores, 'utf8').trim() : '', '', 'nothing scored');
    await runCommand('Notifications: Clear All Notifications');
  });

  it('sent nothing off 127.0.0.1 and showed or wrote the API key nowhere', async () => {
    assert.deepEqual(external, []);
    const posts = server.requests.filter((r) => r.method === 'POST');
    assert.ok(posts.length > 0 && posts.every((r) => r.headers.authorization === 'present'), 'the key from SecretStorage reached the server');
    assert.ok(!(await page.content()).includes(TEST_API_KEY), 'not in the workbench page');
    assert.ok(!(await panelFrame().locator('body').innerHTML()).includes(TEST_API_KEY), 'not in the panel');
    assert.deepEqual(filesContaining(ws.dir, TEST_API_KEY), [], 'not in the workspace (scores, settings)');
    assert.deepEqual(filesContaining(path.join(tmp, 'user-data'), TEST_API_KEY), [], 'not in VS Code settings or logs (output channel CJE)');
  });
});
