// The platform-specific .vsix in a real VS Code: packs cje-inspector-<this
// platform>.vsix (scripts/package-vsix.mjs --target; on these machines
// linux-x64), installs it into code-server, opens a workspace with a small log
// and a config whose policies are "local" on a copy of test/fixtures/tiny-llama,
// runs "Score with CJE" from the Explorer like a person and reads the
// diagnostics panel. The extension starts the local worker from the .vsix
// itself (out/dist/cje.js with the extension host's own node and only this
// platform's onnxruntime in out/dist/node_modules): nothing from the checkout's
// node_modules or out/src. Browser requests off 127.0.0.1 are aborted and
// asserted absent; the worker listens on 127.0.0.1 only.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installVsix, openWorkbench, requireVsCodeInstall, ROOT, startCodeServer, tempDir, vscodeTestPaths, workbench, writeUserSettings, type CodeServer } from './vscode-harness';

type Page = import('playwright-core').Page;
type Ctx = import('playwright-core').BrowserContext;

const OUT = path.join(ROOT, 'test-output', 'vscode');
const TARGETS = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];
const TARGET = `${process.platform}-${process.arch}`;

interface Line {
  record: string;
  policy: string;
  logprob: number | null;
  error: string | null;
  provider: string;
  reused_from?: string;
}

function localConfig(model: string): string {
  const policy = (systemPrompt: string) => JSON.stringify({ provider: 'local', model, template: 'llama3', systemPrompt });
  return [
    '// "local" policies: the extension starts a worker on the model folder (relative to this file).',
    '{',
    '  "behavior": "base",',
    '  "policies": {',
    `    "base": ${policy('You are a helpful assistant.')},`,
    '    // same fingerprint as base: weight exactly 1',
    `    "clone": ${policy('You are a helpful assistant.')},`,
    `    "other": ${policy('You are an unhelpful assistant who gives vague, evasive answers.')}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

describe(`VS Code with the platform .vsix (${TARGET}): "local" policies scored by its own worker (code-server + Chromium)`, function () {
  this.timeout(300_000);
  let cs: CodeServer | undefined;
  let ctx: Ctx | undefined;
  let external: string[] = [];
  let page: Page;
  const { explorerRow, notification } = workbench(() => page);
  let tmp: string;
  let wsDir: string;
  let vsix: string;
  let packSeconds = 0;
  let extensionsDir: string;
  let userDataDir: string;

  const panelFrame = () => page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');

  before(async function () {
    requireVsCodeInstall(this);
    if (!TARGETS.includes(TARGET)) {
      console.log(`    SKIPPED: onnxruntime-node ships no binary for ${TARGET}, so there is no platform .vsix for it`);
      this.skip();
    }
    const { paths } = vscodeTestPaths();
    fs.mkdirSync(OUT, { recursive: true });
    tmp = tempDir('cje-vscode-local-');
    vsix = path.join(tmp, `cje-inspector-${TARGET}.vsix`);
    const t0 = performance.now();
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package-vsix.mjs'), '--target', TARGET, '--out', vsix], { cwd: ROOT, stdio: 'ignore' });
    packSeconds = (performance.now() - t0) / 1000;
    console.log(`    packed ${path.basename(vsix)}: ${(fs.statSync(vsix).size / 1024 / 1024).toFixed(1)} MiB in ${packSeconds.toFixed(1)} s`);

    wsDir = path.join(tmp, 'ws');
    fs.mkdirSync(path.join(wsDir, 'logs'), { recursive: true });
    fs.cpSync(path.join(ROOT, 'test', 'fixtures', 'tiny-llama'), path.join(wsDir, 'models', 'tiny-llama'), { recursive: true });
    const lines = fs.readFileSync(path.join(ROOT, 'examples', 'arena-mini.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, 8);
    fs.writeFileSync(path.join(wsDir, 'logs', 'chat.jsonl'), lines.join('\n') + '\n');
    fs.writeFileSync(path.join(wsDir, 'logs', 'cje.config.json'), localConfig('../models/tiny-llama'));

    userDataDir = path.join(tmp, 'user-data');
    extensionsDir = path.join(tmp, 'extensions');
    const homeDir = path.join(tmp, 'home');
    writeUserSettings(userDataDir);
    await installVsix({ paths: paths!, userDataDir, extensionsDir, homeDir, vsix });
    cs = await startCodeServer({ paths: paths!, userDataDir, extensionsDir, homeDir, folder: wsDir, disableWorkspaceTrust: true });
    ({ ctx, external, page } = await openWorkbench(paths!, path.join(tmp, 'chromium'), cs.origin, wsDir));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) await page.screenshot({ path: path.join(OUT, `local-failed-${this.currentTest.title.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}.png`) }).catch(() => undefined);
  });

  after(async () => {
    await ctx?.close().catch(() => undefined);
    await cs?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(`packs in seconds and installs the worker with only ${TARGET}'s onnxruntime`, () => {
    assert.ok(packSeconds < 60, `packing took ${packSeconds.toFixed(1)} s`);
    const size = fs.statSync(vsix).size;
    assert.ok(size < 40 * 1024 * 1024, `${(size / 1024 / 1024).toFixed(1)} MiB`);
    const ext = fs.readdirSync(extensionsDir).find((d) => d.startsWith('cje-inspector.cje-inspector-'));
    assert.ok(ext, `installed: ${fs.readdirSync(extensionsDir).join(', ')}`);
    const dir = path.join(extensionsDir, ext!);
    for (const f of ['out/dist/extension.js', 'out/dist/cje.js', 'src/worker/reduce.onnx', 'out/dist/node_modules/@huggingface/transformers/dist/transformers.node.cjs']) {
      assert.ok(fs.existsSync(path.join(dir, f)), `${f} in the installed extension`);
    }
    const nm = path.join(dir, 'out', 'dist', 'node_modules');
    assert.deepEqual(fs.readdirSync(nm).sort(), ['@huggingface', 'onnxruntime-common', 'onnxruntime-node', 'sharp']);
    assert.deepEqual(fs.readdirSync(path.join(nm, '@huggingface')), ['transformers']);
    const [os, arch] = TARGET.split('-');
    for (const napi of fs.readdirSync(path.join(nm, 'onnxruntime-node', 'bin'))) {
      assert.deepEqual(fs.readdirSync(path.join(nm, 'onnxruntime-node', 'bin', napi)), [os], `${napi}: one OS`);
      assert.deepEqual(fs.readdirSync(path.join(nm, 'onnxruntime-node', 'bin', napi, os)), [arch], `${napi}/${os}: one arch`);
    }
    assert.ok(!fs.existsSync(path.join(dir, 'node_modules')), 'no top-level node_modules');
    assert.ok(!fs.existsSync(path.join(dir, 'out', 'src')) && !fs.existsSync(path.join(dir, 'bin')), 'no compiled sources, no bin/');
  });

  it('scores the log with "local" policies from the Explorer; the panel shows them, the identical one at weight exactly 1', async () => {
    await explorerRow('logs').click();
    await explorerRow('chat.jsonl').waitFor();
    const menu = page.locator('.context-view .monaco-menu');
    for (let attempt = 0; ; attempt++) {
      await explorerRow('chat.jsonl').click({ button: 'right' });
      if (await menu.waitFor({ timeout: 5000 }).then(() => true, () => false)) break;
      if (attempt >= 5) throw new Error('no context menu on chat.jsonl');
      await page.keyboard.press('Escape');
    }
    const item = menu.locator('.action-item').filter({ hasText: 'Score with CJE' });
    await item.click();
    if (!(await menu.waitFor({ state: 'hidden', timeout: 3000 }).then(() => true, () => false))) {
      await item.hover();
      await page.keyboard.press('Enter');
    }
    await notification(/CJE: scored chat\.jsonl/).waitFor({ timeout: 180_000 });

    const all = fs.readFileSync(path.join(wsDir, 'logs', 'chat.scores.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line & { kind?: string });
    // The local worker's profile (the probes before its first request) comes first.
    assert.deepEqual(all.filter((l) => l.kind).map((l) => l.kind), ['endpoint_profile']);
    const lines = all.filter((l) => !l.kind);
    assert.equal(lines.length, 8 * 3, 'every record under every policy');
    assert.deepEqual(lines.filter((l) => l.error !== null || l.logprob === null || !Number.isFinite(l.logprob)), [], 'no errors');
    assert.ok(lines.every((l) => l.provider === 'local'));
    const by = (p: string) => new Map(lines.filter((l) => l.policy === p).map((l) => [l.record, l.logprob!]));
    const base = by('base');
    const clone = by('clone');
    const other = by('other');
    assert.equal(base.size, 8);
    for (const [rec, lp] of base) {
      assert.ok(lp < 0, `${rec}: a real log-prob (${lp})`);
      assert.equal(Math.exp(clone.get(rec)! - lp), 1, `${rec}: clone's weight is exactly 1`);
    }
    assert.ok([...base].some(([rec, lp]) => other.get(rec) !== lp), 'another system prompt gives other log-probs');

    const f = panelFrame();
    await f.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
    const cards = (await f.locator('#policies h3').allInnerTexts()).map((c) => c.trim()).sort();
    assert.deepEqual(cards, ['clone', 'other']);
    assert.match(await f.locator('header.page-head').innerText(), /behavior\s+base/);
    const cloneCard = await f.locator('article.card[data-policy="clone"]').innerText();
    assert.match(cloneCard, /identical ✓/);
    assert.match(cloneCard, /max log w\s+0\s/);
    const row = await f.locator('table.ident-summary tr[data-policy="clone"][data-check="rescored"]').innerText();
    assert.match(row, /same fingerprint/);
    assert.match(row, /100(\.0)?%/);
    assert.match(row, /0 ✓/);
    await page.screenshot({ path: path.join(OUT, 'local-panel.png') });

    // The extension logged where its worker came from (output channel CJE, written under the user-data folder).
    const logs: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && e.name.endsWith('.log') && fs.readFileSync(p, 'utf8').includes('local worker for')) logs.push(fs.readFileSync(p, 'utf8'));
      }
    };
    walk(userDataDir);
    assert.ok(logs.some((l) => /base: local worker for .*tiny-llama at http:\/\/127\.0\.0\.1:\d+\/v1/.test(l)), 'the output channel names the worker');
  });

  it('sent nothing off 127.0.0.1', () => {
    assert.deepEqual(external, []);
  });
});
