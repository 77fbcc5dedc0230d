// Runs inside a real VS Code extension host (started by
// test/e2e/vscode-integration.test.ts through @vscode/test-electron's
// runTests and the code-server stand-in). Written against the public API
// only, so it runs unchanged in a desktop VS Code.
//
// Environment from the runner: CJE_IT_WORKSPACE (the opened folder, see
// makeIntegrationWorkspace), CJE_IT_BASEURL (a loopback completions server
// that requires FIREWORKS_API_KEY as its bearer token).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CjeApi } from '../../src/extension/extension';

const WS = process.env.CJE_IT_WORKSPACE!;
const EXT_ID = 'cje-inspector.cje-inspector';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, limitMs = 60_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function cjeDiagnostics(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'cje');
}

describe('CJE extension in a real VS Code', function () {
  let api: CjeApi;
  const log = vscode.Uri.file(path.join(WS, 'logs', 'arena.jsonl'));
  const scores = path.join(WS, 'logs', 'arena.scores.jsonl');
  const badConfig = vscode.Uri.file(path.join(WS, 'bad', 'cje.config.json'));

  before(async () => {
    assert.ok(WS && fs.existsSync(WS), 'CJE_IT_WORKSPACE names the test workspace');
    const ext = vscode.extensions.getExtension<CjeApi>(EXT_ID);
    assert.ok(ext, `${EXT_ID} is loaded`);
    api = await ext.activate();
    assert.ok(vscode.workspace.isTrusted, 'runTests opens the folder with --disable-workspace-trust');
  });

  it('registers its commands and contributes .jsonl-only menus', async () => {
    const cmds = await vscode.commands.getCommands(true);
    for (const c of ['cje.score', 'cje.openPanel', 'cje.setFireworksApiKey', 'cje.exportScores']) assert.ok(cmds.includes(c), c);
    const pkg = vscode.extensions.getExtension(EXT_ID)!.packageJSON as { contributes: { menus: Record<string, { command: string; when?: string }[]> } };
    const explorer = pkg.contributes.menus['explorer/context'].find((m) => m.command === 'cje.score');
    assert.match(explorer!.when!, /resourceExtname == \.jsonl/);
  });

  it('reads its settings with their defaults', () => {
    const s = api.settings();
    assert.equal(s.concurrency, 4);
    assert.equal(s.scoreEndOfTurn, true);
    assert.equal(s.configGlob, '**/cje.config.json');
  });

  it('lints a config as it is edited: unknown template diagnostic, quick fix, hover, completions', async () => {
    const doc = await vscode.workspace.openTextDocument(badConfig);
    await vscode.window.showTextDocument(doc);
    const diag = await until('the unknown-template diagnostic', () => cjeDiagnostics(badConfig).find((d) => d.code === 'CJE010'));
    assert.equal(diag.severity, vscode.DiagnosticSeverity.Error);
    assert.match(diag.message, /llama5/);
    assert.equal(doc.getText(diag.range), '"llama5"');

    const hover = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', badConfig, doc.positionAt(doc.getText().indexOf('"chatml"') + 2));
    const hoverText = hover.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(hoverText, /chatml/);
    assert.match(hoverText, /im_start/);

    const inValue = doc.positionAt(doc.getText().indexOf('"llama5"') + 1);
    const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', badConfig, inValue);
    const labels = list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    for (const t of ['llama3', 'chatml', 'mistral']) assert.ok(labels.includes(t), `completion ${t} in ${labels.join(',')}`);

    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', badConfig, diag.range);
    const fix = actions.find((a) => a.title === 'Change template to "llama3"');
    assert.ok(fix?.edit, `a quick fix among ${actions.map((a) => a.title).join(' | ')}`);

    // Typing a bad value live: a diagnostic appears without saving.
    const edit = new vscode.WorkspaceEdit();
    const behaviorAt = doc.getText().indexOf('"base"', doc.getText().indexOf('"behavior"'));
    edit.replace(badConfig, new vscode.Range(doc.positionAt(behaviorAt), doc.positionAt(behaviorAt + 6)), '"nobody"');
    assert.ok(await vscode.workspace.applyEdit(edit));
    await until('the behavior diagnostic while typing', () => cjeDiagnostics(badConfig).find((d) => /nobody/.test(d.message) && d.severity === vscode.DiagnosticSeverity.Error));
    await vscode.commands.executeCommand('undo');
    await until('the behavior diagnostic to go', () => !cjeDiagnostics(badConfig).some((d) => /nobody/.test(d.message)) || undefined);

    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    await until('the unknown-template diagnostic to go', () => (cjeDiagnostics(badConfig).some((d) => d.code === 'CJE010') ? undefined : true));
    assert.match(doc.getText(), /"template": "llama3"/);
    await vscode.commands.executeCommand('undo');
    await until('the diagnostic to return after undo', () => cjeDiagnostics(badConfig).find((d) => d.code === 'CJE010'));
    await doc.save();
  });

  it('refuses to score with a config that has lint errors, and sends nothing', async () => {
    const before = fs.readdirSync(path.join(WS, 'bad'));
    const r = await vscode.commands.executeCommand('cje.score', vscode.Uri.file(path.join(WS, 'bad', 'run.jsonl')));
    assert.equal(r, undefined);
    assert.deepEqual(fs.readdirSync(path.join(WS, 'bad')), before, 'no scores file was started');
    assert.ok(cjeDiagnostics(badConfig).length > 0);
  });

  it('finds the workspace config, scores the log against the loopback server, and opens the panel', async () => {
    assert.ok(!fs.existsSync(scores));
    const s = await vscode.commands.executeCommand<{ records: number; scored: number; reused: number; failed: number; badLines: number; outFile: string; cancelled: boolean }>('cje.score', log);
    assert.ok(s, 'a summary');
    assert.equal(s.outFile, scores);
    assert.equal(s.cancelled, false);
    assert.equal(s.failed, 0);
    assert.equal(s.records, 30);
    assert.equal(s.badLines, 2);
    assert.equal(s.scored + s.reused, 30 * 3);
    const all = fs.readFileSync(scores, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind?: string; policy: string; logprob: number | null; error: unknown });
    // The endpoint's profile (the probes before the first request) comes first, then one line per record and policy.
    assert.deepEqual(all.filter((l) => l.kind).map((l) => l.kind), ['endpoint_profile']);
    const lines = all.filter((l) => !l.kind);
    assert.equal(lines.length, 90);
    assert.ok(lines.every((l) => typeof l.logprob === 'number' && l.error === null));
    const key = process.env.FIREWORKS_API_KEY!;
    assert.ok(!fs.readFileSync(scores, 'utf8').includes(key), 'the API key is not in the scores file');

    const panel = await until('the diagnostics panel', () => api.panels().find((p) => p.inputs.input === scores));
    await panel.whenLoaded();
    assert.ok(panel.data, `report data (error: ${panel.error})`);
    assert.deepEqual(panel.data.meta.targets.sort(), ['clone', 'other']);
    assert.equal(panel.data.meta.log, log.fsPath);
    assert.ok(!JSON.stringify(panel.data).includes(key), 'the API key is not in the panel data');
    await until('the webview to say it is ready', () => panel.ready || undefined, 60_000);
    const tab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.label === 'CJE: arena.jsonl');
    assert.ok(tab, 'a webview tab titled "CJE: arena.jsonl"');
  });

  it('resumes: scoring again finds everything scored and sends nothing new', async () => {
    const before = fs.readFileSync(scores, 'utf8');
    const s = await vscode.commands.executeCommand<{ scored: number; skipped: number; failed: number }>('cje.score', log);
    assert.equal(s.scored, 0);
    assert.equal(s.failed, 0);
    assert.ok(s.skipped >= 60, `skipped ${s.skipped}`);
    assert.equal(fs.readFileSync(scores, 'utf8'), before);
  });

  it('"Export Scores" writes the weights table of the scored log beside it (one row per record)', async () => {
    const out = path.join(WS, 'logs', 'arena.weights.csv');
    fs.rmSync(out, { force: true });
    const s = await vscode.commands.executeCommand<{ items: number; out: string; nulls: { failed: number; suspect: number; missing: number }[] }>('cje.exportScores', log, 'weights-csv');
    assert.ok(s, 'a summary');
    assert.equal(s.out, out);
    assert.equal(s.items, 30);
    assert.ok(s.nulls.every((n) => n.failed + n.missing === 0), JSON.stringify(s.nulls));
    const rows = fs.readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(rows.length, 31);
    assert.match(rows[0], /^id,line,judge_score,log_weight\./);
    fs.rmSync(out, { force: true });
  });

  it("shows a scored log's bad lines as Problems with log-reader's words, and follows unsaved edits", async () => {
    // examples/arena-mini.jsonl: line 13 is cut short, line 21 has no response.
    const problems = () => cjeDiagnostics(log).map((d) => [d.range.start.line + 1, d.message] as const);
    const first = await until('the log problems', () => (problems().length === 2 ? problems() : undefined));
    assert.equal(first[0][0], 13);
    assert.ok(first[0][1].startsWith('invalid JSON: Unterminated string in JSON at position 70'), first[0][1]);
    assert.deepEqual(first[1], [21, 'response missing']);
    assert.ok(cjeDiagnostics(log).every((d) => d.severity === vscode.DiagnosticSeverity.Error));

    const doc = await vscode.workspace.openTextDocument(log);
    await vscode.window.showTextDocument(doc);
    const edit = new vscode.WorkspaceEdit();
    edit.delete(log, new vscode.Range(12, 0, 13, 0));
    assert.ok(await vscode.workspace.applyEdit(edit));
    await until('the problems of the edited text', () => (JSON.stringify(problems()) === JSON.stringify([[20, 'response missing']]) ? true : undefined));
    assert.equal(doc.lineAt(12).range.start.line, 12);
    const opened = doc.lineAt(12).text;
    const ed = vscode.window.activeTextEditor!;
    await ed.edit((b) => b.insert(new vscode.Position(12, opened.length), ' oops'));
    await until('a problem on the line just broken', () => problems().find(([l, m]) => l === 13 && m.startsWith('invalid JSON: ')));
    await vscode.commands.executeCommand('undo');
    await vscode.commands.executeCommand('undo');
    await until('the problems of the file again', () => (problems().length === 2 && problems()[0][0] === 13 ? true : undefined));
    assert.equal(doc.isDirty, false);
  });

  it("hovers a scored line of the log with its log-prob under each policy and its log-weights", async () => {
    const lines = fs.readFileSync(scores, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; policy: string; logprob: number });
    const lp = (policy: string) => lines.find((l) => l.line === 2 && l.policy === policy)!.logprob;
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', log, new vscode.Position(1, 5));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /\*\*CJE\*\* · line 2/);
    // log w = log π_other − log π_base, recomputed here from the scores file.
    assert.ok(text.includes(`| base (behavior) | ${lp('base').toFixed(4)} |  |`), text);
    assert.ok(text.includes(`| other | ${lp('other').toFixed(4)} | ${(lp('other') - lp('base')).toFixed(4)} |`), text);
    assert.ok(text.includes(`| clone | ${lp('clone').toFixed(4)} | 0.0000 |`), text);
    // A bad line has its Problem, not a scores hover.
    const onBad = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', log, new vscode.Position(12, 3));
    assert.ok(!onBad.some((h) => h.contents.some((c) => (typeof c === 'string' ? c : c.value).includes('**CJE**'))));
  });

  it('opens the log at a record when the panel asks (protocol message openRecord)', async () => {
    const panel = api.panels().find((p) => p.inputs.input === scores)!;
    const action = await panel.receive({ type: 'openRecord', line: 7, record: 'arena_714' });
    assert.deepEqual(action, { kind: 'openLog', file: log.fsPath, line: 7 });
    const ed = await until('the log in an editor', () => (vscode.window.activeTextEditor?.document.uri.fsPath === log.fsPath ? vscode.window.activeTextEditor : undefined));
    assert.equal(ed.selection.active.line, 6);
    const ignored = await panel.receive({ type: 'openRecord', line: 'x' });
    assert.equal(ignored.kind, 'ignore');
  });

  it('"Open Diagnostics Panel" on the log shows its scores file', async () => {
    const p = await vscode.commands.executeCommand<{ inputs: { input: string; log?: string; config?: string } }>('cje.openPanel', log);
    assert.equal(p.inputs.input, scores);
    assert.equal(p.inputs.log, log.fsPath);
    assert.equal(p.inputs.config, path.join(WS, 'cje.config.json'));
    assert.equal(api.panels().filter((x) => x.inputs.input === scores).length, 1, 'the same panel is reused');
  });

  it('opens the panel on a CJE-style log with logged log-probs', async () => {
    const p = await vscode.commands.executeCommand<{ inputs: { input: string }; whenLoaded(): Promise<void>; data: { meta: { input_kind: string } } | null }>(
      'cje.openPanel',
      vscode.Uri.file(path.join(WS, 'logged', 'with-logprobs.jsonl')),
    );
    await p.whenLoaded();
    assert.equal(p.data?.meta.input_kind, 'log');
  });

  it('"Check Scoring Endpoints" probes the endpoint of the config, whose quick fixes offer it', async () => {
    const config = vscode.Uri.file(path.join(WS, 'cje.config.json'));
    const report = await vscode.commands.executeCommand<{ endpoints: { baseURL: string; policies: string[]; probes: Record<string, unknown>; blockers: string[] }[] }>('cje.checkEndpoints', config);
    assert.equal(report.endpoints.length, 1);
    const e = report.endpoints[0];
    assert.equal(e.baseURL, process.env.CJE_IT_BASEURL);
    assert.deepEqual(e.policies, ['base', 'clone', 'other']);
    assert.deepEqual(e.blockers, []);
    assert.equal(e.probes.echo, true);
    assert.equal(e.probes.deterministic, true);
    assert.equal(e.probes.noiseFloor, 0);
    const doc = await vscode.workspace.openTextDocument(config);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, new vscode.Range(0, 0, 0, 1));
    const check = actions.find((a) => a.title === 'Check scoring endpoints (cje doctor)');
    assert.ok(check, actions.map((a) => a.title).join(', '));
    assert.equal(check.command?.command, 'cje.checkEndpoints');
  });
});
