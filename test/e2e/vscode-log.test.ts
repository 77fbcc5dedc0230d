// The log itself in a real VS Code (code-server + headless Chromium, packaged
// .vsix): a log with bad lines is scored from the Explorer without being
// opened; while it runs, a status bar item shows records done and the rate,
// and a click on it shows the progress; the bad lines are Problems with the
// words and line numbers the CLI prints (`cje score --dry-run`, run here on
// the extension host's Node so that JSON.parse words the same); opened, the
// lines carry squiggles; hovering a scored line shows its log-prob under each
// policy and its log-weights, computed here again from the scores file, with
// its suspect and failed warnings; an edit that breaks a line is a Problem
// before it is saved; a large log gets its first problems and a count of the
// rest. PNG screenshots go to test-output/vscode/log-*.png.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startCompletionsServer, type CompletionsServer } from '../support/completions-server';
import { installVsix, openWorkbench, requireVsCodeInstall, ROOT, startCodeServer, tempDir, vscodeTestPaths, workbench, writeUserSettings, type CodeServer, type VsCodeTestPaths } from './vscode-harness';
import { configFor, TEST_API_KEY } from './vscode-workspace';

type Page = import('playwright-core').Page;
type Ctx = import('playwright-core').BrowserContext;

const OUT = path.join(ROOT, 'test-output', 'vscode');
const MOD = 'Control';
/** Responses with these markers make the test server misbehave for the policy "other" only (its system prompt says "unhelpful"). */
const FAIL_MARK = 'CJE-FAIL-ME';
const SUSPECT_MARK = 'CJE-SUSPECT-ME';

interface ScoreLineLite {
  line: number;
  record: string;
  policy: string;
  logprob: number | null;
  error: string | null;
  suspect?: string[];
}

/** The mixed log: good records from examples/arena-mini.jsonl with bad lines between them. */
function mixedLog(): { text: string; badLines: number[]; failLine: number; suspectLine: number; goodLine: number } {
  const good = fs.readFileSync(path.join(ROOT, 'examples', 'arena-mini.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, 10);
  const rec = (i: number, suffix = '') => {
    const o = JSON.parse(good[i]) as { response: string };
    o.response += suffix;
    return JSON.stringify(o);
  };
  const lines = [
    rec(0), // 1
    rec(1), // 2
    '{"prompt": "What is 2+2?", "response": ', // 3: invalid JSON
    rec(2, ` ${FAIL_MARK}`), // 4
    '{"prompt": 42, "response": "x"}', // 5: prompt not a string
    rec(3), // 6
    '{"messages": [], "response": "x"}', // 7: messages empty
    rec(4, ` ${SUSPECT_MARK}`), // 8
    '{"prompt": "only a prompt"}', // 9: response missing
    rec(5),
    rec(6),
    rec(7),
    rec(8),
    rec(9),
  ];
  return { text: lines.join('\n') + '\n', badLines: [3, 5, 7, 9], failLine: 4, suspectLine: 8, goodLine: 6 };
}

/** `file:line: reason` lines of the CLI's dry run (stderr), on the given node. */
function cliIssues(node: string, log: string): { line: number; reason: string }[] {
  const r = spawnSync(node, [path.join(ROOT, 'bin', 'cje.js'), 'score', '--dry-run', log], { encoding: 'utf8', env: { ...process.env, FIREWORKS_API_KEY: TEST_API_KEY } });
  assert.equal(r.status, 0, r.stderr);
  const prefix = `${log}:`;
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map((l) => {
      const m = /^(\d+): (.*)$/.exec(l.slice(prefix.length))!;
      return { line: Number(m[1]), reason: m[2] };
    });
}

function findFile(dir: string, re: RegExp): string | undefined {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const f = path.join(dir, e.name);
    if (e.isDirectory()) {
      const hit = findFile(f, re);
      if (hit) return hit;
    } else if (re.test(e.name)) return f;
  }
  return undefined;
}

describe('VS Code: the log in the editor: Problems, line hovers, run status bar (code-server + Chromium, packaged .vsix)', function () {
  this.timeout(600_000);
  let paths: VsCodeTestPaths;
  let server: CompletionsServer;
  let cs: CodeServer | undefined;
  let ctx: Ctx | undefined;
  let external: string[] = [];
  let page: Page;
  const { explorerRow, notification, runCommand, openContextMenu } = workbench(() => page);
  let tmp: string;
  let wsDir: string;
  let mixed: ReturnType<typeof mixedLog>;
  let mixedFile: string;
  let bigFile: string;
  let bigBad = 0;
  let userDataDir: string;

  const shot = async (name: string) => {
    await page.screenshot({ path: path.join(OUT, `log-${name}.png`) });
  };
  /** The Problems rows under a file's row, as shown ("message source [Ln N, Col M]"); the panel lists a file's row, then its markers. */
  const problemRows = async (file: string): Promise<string[]> => {
    const rows = (await page.locator('.markers-panel .monaco-list-row').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    const out: string[] = [];
    let current = '';
    for (const r of rows) {
      if (!/\[Ln \d+, Col \d+\]$/.test(r)) current = r;
      else if (current.startsWith(file)) out.push(r);
    }
    return out;
  };
  const goToLine = async (n: number) => {
    await page.keyboard.press(`${MOD}+g`);
    await page.keyboard.type(String(n));
    await page.keyboard.press('Enter');
    await page.locator('.statusbar-item', { hasText: new RegExp(`Ln ${n}, Col 1\\b`) }).waitFor({ timeout: 30_000 });
  };
  const hoverAtCursor = async (re: RegExp) => {
    const hover = page.locator('.monaco-hover:not(.hidden)').filter({ hasText: re });
    for (let attempt = 0; ; attempt++) {
      await page.keyboard.press(`${MOD}+k`);
      await page.keyboard.press(`${MOD}+i`);
      try {
        await hover.first().waitFor({ timeout: 10_000 });
        return hover.first();
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  };

  before(async function () {
    requireVsCodeInstall(this);
    paths = vscodeTestPaths().paths!;
    fs.mkdirSync(OUT, { recursive: true });
    tmp = tempDir('cje-vscode-log-');
    server = await startCompletionsServer({
      requireApiKey: TEST_API_KEY,
      // Slow enough that the run's status bar item can be seen and clicked.
      latencyMs: 1200,
      transform: (answer, prompts) => {
        answer.choices.forEach((c, i) => {
          const p = prompts[c.index ?? i] ?? '';
          if (!p.includes('unhelpful') || !c.logprobs) return;
          const lps = c.logprobs.token_logprobs;
          // A log-prob above 0 in the response fails the answer checks; one in the prompt makes the score suspect.
          if (p.includes(FAIL_MARK)) lps[lps.length - 2] = 0.5;
          if (p.includes(SUSPECT_MARK)) lps[1] = 0.5;
        });
        return answer;
      },
    });
    wsDir = path.join(tmp, 'ws');
    fs.mkdirSync(path.join(wsDir, 'mixed'), { recursive: true });
    fs.mkdirSync(path.join(wsDir, 'big'), { recursive: true });
    mixed = mixedLog();
    mixedFile = path.join(wsDir, 'mixed', 'mixed.jsonl');
    fs.writeFileSync(mixedFile, mixed.text);
    // One record per request, so the run lasts a few seconds.
    fs.writeFileSync(path.join(wsDir, 'mixed', 'cje.config.json'), configFor(server.baseURL).replace(/"batchSize": 4/g, '"batchSize": 1'));
    // The large log: every 10th line broken, far more problems than are shown.
    // The first 10 records of arena-mini are good (it has bad lines of its own further down).
    const good = fs.readFileSync(path.join(ROOT, 'examples', 'arena-mini.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, 10);
    bigFile = path.join(wsDir, 'big', 'big.jsonl');
    const fd = fs.openSync(bigFile, 'w');
    const chunk: string[] = [];
    for (let i = 1; i <= 40_000; i++) {
      if (i % 10 === 1) {
        chunk.push('{"prompt": "cut off", "respo');
        bigBad++;
      } else chunk.push(good[i % good.length]);
      if (chunk.length === 1000) {
        fs.writeSync(fd, chunk.join('\n') + '\n');
        chunk.length = 0;
      }
    }
    fs.closeSync(fd);

    const vsix = path.join(tmp, 'cje-inspector.vsix');
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package-vsix.mjs'), '--out', vsix], { cwd: ROOT, stdio: 'ignore' });
    userDataDir = path.join(tmp, 'user-data');
    const extensionsDir = path.join(tmp, 'extensions');
    const homeDir = path.join(tmp, 'home');
    writeUserSettings(userDataDir, { 'workbench.editorLargeFileConfirmation': 1024, 'editor.hover.delay': 100 });
    await installVsix({ paths, userDataDir, extensionsDir, homeDir, vsix });
    // The extension host inherits it: secrets fall back to the environment.
    process.env.FIREWORKS_API_KEY = TEST_API_KEY;
    cs = await startCodeServer({ paths, userDataDir, extensionsDir, homeDir, folder: wsDir, disableWorkspaceTrust: true });
    ({ ctx, external, page } = await openWorkbench(paths, path.join(tmp, 'chromium'), cs.origin, wsDir));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) await shot(`failed-${this.currentTest.title.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
  });

  after(async () => {
    await ctx?.close().catch(() => undefined);
    await cs?.stop();
    await server?.close();
    delete process.env.FIREWORKS_API_KEY;
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('shows the run in the status bar (records done, rate); a click shows the progress', async () => {
    await explorerRow('mixed').click();
    await explorerRow('mixed.jsonl').waitFor();
    const menu = await openContextMenu('mixed.jsonl');
    await menu.locator('.action-item').filter({ hasText: 'Score with CJE' }).click();
    const item = page.locator('.statusbar-item').filter({ hasText: /CJE \d+\/\d+ · [\d.]+\/s/ });
    await item.first().waitFor({ timeout: 60_000 });
    const text = (await item.first().innerText()).trim();
    const m = /CJE (\d+)\/(\d+) · ([\d.]+)\/s/.exec(text);
    assert.ok(m, text);
    assert.equal(Number(m[2]) >= 10, true, `total counts the records (${text})`);
    assert.ok(Number(m[1]) <= Number(m[2]));
    await shot('status-bar');
    // Hide the toast, as a user who wants the editor back would; the status bar item brings the progress back.
    await notification(/CJE: scoring mixed\.jsonl/).first().waitFor();
    await page.keyboard.press('Escape');
    await item.first().click();
    const center = page.locator('.notifications-center');
    await center.filter({ hasText: /CJE: scoring mixed\.jsonl/ }).waitFor({ timeout: 10_000 });
    assert.match(await center.innerText(), /\d+ \/ \d+ records · [\d.]+ records\/s/);
    await shot('status-bar-clicked');
    await page.keyboard.press('Escape');
    await page.locator('.notifications-toasts .notification-toast, .notifications-center .notification-list-item').filter({ hasText: /CJE: scored mixed\.jsonl/ }).first().waitFor({ timeout: 120_000 });
    await item.first().waitFor({ state: 'detached', timeout: 30_000 });
  });

  it('lists the bad lines of the scored (not opened) log as Problems, with the CLI’s line and words', async () => {
    const expected = cliIssues(paths.node24, mixedFile);
    assert.deepEqual(expected.map((e) => e.line), mixed.badLines, 'the CLI names the bad lines');
    await runCommand('Notifications: Clear All Notifications');
    await page.keyboard.press(`${MOD}+Shift+m`);
    const panel = page.locator('.markers-panel');
    await panel.filter({ hasText: expected[expected.length - 1].reason }).waitFor({ timeout: 30_000 });
    await shot('problems');
    const rows = await problemRows('mixed.jsonl');
    const found = rows.map((r) => {
      const ln = Number(/\[Ln (\d+), Col \d+\]/.exec(r)![1]);
      return { line: ln, row: r };
    });
    assert.deepEqual(found.map((f) => f.line), expected.map((e) => e.line), rows.join('\n'));
    for (const [i, e] of expected.entries()) {
      // The row is "<message> cje [Ln N, Col M]": the message is the CLI's reason, exactly.
      assert.equal(found[i].row, `${e.reason} cje [Ln ${e.line}, Col 1]`);
    }
  });

  it('shows squiggles on the bad lines when the log is opened', async () => {
    await page.keyboard.press(`${MOD}+Shift+m`);
    await explorerRow('mixed.jsonl').dblclick();
    await page.locator('.tabs-container .tab.active', { hasText: 'mixed.jsonl' }).waitFor();
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.locator('.squiggly-error').first().waitFor({ timeout: 30_000 });
    assert.equal(await editor.locator('.squiggly-error').count() >= mixed.badLines.length, true);
    await goToLine(5);
    const hover = await hoverAtCursor(/prompt must be a string, got number/);
    await shot('squiggle-hover');
    assert.match(await hover.innerText(), /prompt must be a string, got number/);
    await page.keyboard.press('Escape');
  });

  it('hovering a scored line shows log p under each policy and log w, with its warnings', async () => {
    const lines = fs
      .readFileSync(path.join(wsDir, 'mixed', 'mixed.scores.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ScoreLineLite);
    const at = (line: number, policy: string) => lines.filter((l) => l.line === line && l.policy === policy).pop()!;

    // A clean line: the numbers, recomputed here from the scores file.
    await goToLine(mixed.goodLine);
    let hover = await hoverAtCursor(/CJE/);
    let text = (await hover.innerText()).replace(/\s+/g, ' ');
    const b = at(mixed.goodLine, 'base').logprob!;
    const o = at(mixed.goodLine, 'other').logprob!;
    const c = at(mixed.goodLine, 'clone').logprob!;
    assert.ok(text.includes(`line ${mixed.goodLine}`), text);
    assert.ok(text.includes(`base (behavior) ${b.toFixed(4)}`), text);
    assert.ok(text.includes(`other ${o.toFixed(4)} ${(o - b).toFixed(4)}`), text);
    assert.ok(text.includes(`clone ${c.toFixed(4)} ${(c - b).toFixed(4)}`), text);
    assert.equal((c - b).toFixed(4), '0.0000', 'clone has the behavior fingerprint');
    await shot('hover-scores');
    await page.keyboard.press('Escape');

    // A suspect score keeps its number and says why.
    const sus = at(mixed.suspectLine, 'other');
    assert.ok(sus.suspect?.length, 'the server made it suspect');
    await goToLine(mixed.suspectLine);
    hover = await hoverAtCursor(/suspect/);
    text = (await hover.innerText()).replace(/\s+/g, ' ');
    const sb = at(mixed.suspectLine, 'base').logprob!;
    assert.ok(text.includes(`other ${sus.logprob!.toFixed(4)} ${(sus.logprob! - sb).toFixed(4)}`), text);
    assert.ok(text.includes(`other suspect: ${sus.suspect![0]}`), text);
    await shot('hover-suspect');
    await page.keyboard.press('Escape');

    // A failed score: no number, and the error.
    const failed = at(mixed.failLine, 'other');
    assert.ok(failed.error, 'the server made it fail');
    await goToLine(mixed.failLine);
    hover = await hoverAtCursor(/failed/);
    text = (await hover.innerText()).replace(/\s+/g, ' ');
    assert.ok(text.includes('other failed —'), text);
    assert.ok(text.includes(`other failed: ${failed.error.slice(0, 60)}`), text);
    await shot('hover-failed');
    await page.keyboard.press('Escape');
  });

  it('an edit that breaks a line is a Problem before it is saved, and goes away when undone', async () => {
    await goToLine(mixed.goodLine);
    await page.keyboard.press('End');
    await page.keyboard.type('x');
    const expected = (() => {
      try {
        JSON.parse(mixed.text.split('\n')[mixed.goodLine - 1] + 'x');
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('unreachable');
    })();
    const panel = page.locator('.markers-panel');
    await page.keyboard.press(`${MOD}+Shift+m`);
    const row = panel.locator('.monaco-list-row').filter({ hasText: new RegExp(`\\[Ln ${mixed.goodLine}, Col`) });
    await row.first().waitFor({ timeout: 30_000 });
    const text = (await row.first().innerText()).replace(/\s+/g, ' ');
    assert.ok(text.startsWith('invalid JSON: '), text);
    // The test's Node and the extension host's (24) may word JSON.parse errors apart: the start is the same.
    assert.ok(expected.startsWith(text.slice('invalid JSON: '.length, 'invalid JSON: '.length + 30)), `${text} vs ${expected}`);
    await shot('edit-problem');
    await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
    await goToLine(mixed.goodLine);
    await page.keyboard.press(`${MOD}+z`);
    await row.first().waitFor({ state: 'detached', timeout: 30_000 });
    assert.equal((await problemRows('mixed.jsonl')).length, mixed.badLines.length);
  });

  it(`a large log (40,000 lines, every 10th bad) gets its first problems and a count of the rest without holding up the editor`, async () => {
    const mb = fs.statSync(bigFile).size / 1048576;
    await page.keyboard.press('Escape');
    await explorerRow('big').click();
    await explorerRow('big.jsonl').dblclick();
    await page.locator('.tabs-container .tab.active', { hasText: 'big.jsonl' }).waitFor({ timeout: 60_000 });
    const editor = page.locator('.editor-instance .monaco-editor').first();
    await editor.locator('.squiggly-error').first().waitFor({ timeout: 120_000 });
    // The editor answers while (and after) the log is checked: the cursor moves.
    await goToLine(11);
    await page.keyboard.press(`${MOD}+Shift+m`);
    const first = await problemRows('big.jsonl');
    assert.match(first[0], /^invalid JSON: .* \[Ln 1, Col 1\]$/);
    assert.match(first[1], /^invalid JSON: .* \[Ln 11, Col 1\]$/);
    await shot('big-log');
    // The count of the rest is the last of the file's markers: filter the Problems to it.
    const filter = page.getByPlaceholder(/^Filter \(e\.g\. text/);
    await filter.fill('bad lines;');
    const note = page.locator('.markers-panel .monaco-list-row').filter({ hasText: `${bigBad} bad lines; the first 500 are shown here` });
    await note.first().waitFor({ timeout: 30_000 });
    await shot('big-log-count');
    await filter.fill('');
    // How long the check took, from the CJE output channel (reported, not asserted).
    const out = findFile(path.join(userDataDir, 'logs'), /CJE\.log$/);
    const line = out && fs.readFileSync(out, 'utf8').split('\n').find((l) => l.includes('big.jsonl: '));
    console.log(`      big.jsonl ${mb.toFixed(1)} MiB: ${line?.replace(/^.*big\.jsonl: /, '') ?? '(no timing line found)'}`);
    assert.ok(line, 'the check is logged');
    assert.match(line, new RegExp(`${bigBad} bad line\\(s\\) of 40000`));
  });

  it('sent nothing off 127.0.0.1', () => {
    assert.deepEqual(external, []);
  });
});
