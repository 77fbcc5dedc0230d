// The extension's own logic that needs no VS Code: config discovery, panel
// message handling (webview/protocol.ts), settings, progress text, redaction,
// the panel's HTML/CSP, the lint bridge and the stand-in's argument parsing.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultScoresPath } from '../../src/core/score-store';
import { discoverConfig, isScoresFile, orderCandidates, rememberKey, reportInputsFor } from '../../src/extension/config-discovery';
import { lintConfigText, templateAt, templateCompletionItems, templateHoverMarkdown } from '../../src/extension/config-lint';
import { handleViewMessage, logOfReport } from '../../src/extension/panel-messages';
import { errorMessage, redact } from '../../src/extension/redact';
import { progressIncrement, progressMessage, summaryMessage } from '../../src/extension/run-text';
import { lineHoverMarkdown, mdText, statusBarText } from '../../src/extension/log-hover-text';
import { applySettings, DEFAULT_SETTINGS, readSettings } from '../../src/extension/settings';
import { panelCsp, panelHtml } from '../../src/extension/webview-html';
import { parseStandinArgs } from '../integration/standin';
import { configFor } from '../e2e/vscode-workspace';
import type { ReportData } from '../../src/core/report-types';
import type { ScoreRunSummary } from '../../src/core/score-run';

describe('extension: config discovery', () => {
  const files = (list: string[]) => (f: string) => list.includes(f);

  it('prefers cje.config.json beside the log', () => {
    const d = discoverConfig({ logFile: '/ws/logs/a.jsonl', workspaceFolder: '/ws', remembered: '/ws/other.json', exists: files(['/ws/logs/cje.config.json', '/ws/cje.config.json', '/ws/other.json']) });
    assert.deepEqual(d, { kind: 'found', file: '/ws/logs/cje.config.json', reason: 'beside-log' });
  });

  it('walks up to the workspace folder, never above it', () => {
    assert.deepEqual(discoverConfig({ logFile: '/ws/a/b/c.jsonl', workspaceFolder: '/ws', exists: files(['/ws/a/cje.config.json']) }), {
      kind: 'found',
      file: '/ws/a/cje.config.json',
      reason: 'folder-above-log',
    });
    assert.deepEqual(discoverConfig({ logFile: '/ws/a/b/c.jsonl', workspaceFolder: '/ws', exists: files(['/ws/cje.config.json']) }), {
      kind: 'found',
      file: '/ws/cje.config.json',
      reason: 'workspace-folder',
    });
    assert.deepEqual(discoverConfig({ logFile: '/ws/a/c.jsonl', workspaceFolder: '/ws', exists: files(['/cje.config.json']) }), { kind: 'ask' });
    assert.deepEqual(discoverConfig({ logFile: '/elsewhere/c.jsonl', workspaceFolder: '/ws', exists: files(['/ws/cje.config.json']) }), { kind: 'ask' });
  });

  it('uses the remembered choice when nothing is beside the log, and asks when it is gone', () => {
    assert.deepEqual(discoverConfig({ logFile: '/ws/a.jsonl', workspaceFolder: '/ws', remembered: '/ws/cfg/p.json', exists: files(['/ws/cfg/p.json']) }), {
      kind: 'found',
      file: '/ws/cfg/p.json',
      reason: 'remembered',
    });
    assert.deepEqual(discoverConfig({ logFile: '/ws/a.jsonl', workspaceFolder: '/ws', remembered: '/ws/cfg/p.json', exists: files([]) }), { kind: 'ask' });
  });

  it('orders quick-pick candidates: remembered, then nearest, without duplicates', () => {
    const got = orderCandidates(['/ws/z/cje.config.json', '/ws/logs/sub/cje.config.json', '/ws/logs/cje.config.json', '/ws/logs/cje.config.json', '/ws/r/cje.config.json'], '/ws/logs/a.jsonl', '/ws/r/cje.config.json');
    assert.deepEqual(got, ['/ws/r/cje.config.json', '/ws/logs/cje.config.json', '/ws/logs/sub/cje.config.json', '/ws/z/cje.config.json']);
  });

  it('remembers per log, relative to the workspace folder', () => {
    assert.equal(rememberKey('/ws/logs/a.jsonl', '/ws'), 'cje.config.for:logs/a.jsonl');
  });

  it('finds what the panel shows for a log or a scores file', () => {
    assert.ok(isScoresFile('/x/run.scores.jsonl'));
    assert.ok(!isScoresFile('/x/run.jsonl'));
    assert.deepEqual(reportInputsFor('/x/run.jsonl', files(['/x/run.scores.jsonl']), defaultScoresPath), { input: '/x/run.scores.jsonl', log: '/x/run.jsonl' });
    assert.deepEqual(reportInputsFor('/x/run.jsonl', files([]), defaultScoresPath), { input: '/x/run.jsonl' });
    assert.deepEqual(reportInputsFor('/x/run.scores.jsonl', files(['/x/run.jsonl']), defaultScoresPath), { input: '/x/run.scores.jsonl', log: '/x/run.jsonl' });
    assert.deepEqual(reportInputsFor('/x/run.scores.jsonl', files([]), defaultScoresPath), { input: '/x/run.scores.jsonl' });
  });
});

describe('extension: panel messages (webview/protocol.ts)', () => {
  const data = (meta: Partial<ReportData['meta']>) => ({ meta: { input: '/x/run.scores.jsonl', input_kind: 'scores', log: '/x/run.jsonl', ...meta }, policies: [] }) as unknown as ReportData;

  it('answers ready with the data once there is data', () => {
    const d = data({});
    assert.deepEqual(handleViewMessage({ type: 'ready' }, d), { kind: 'post', message: { type: 'data', data: d } });
    assert.equal(handleViewMessage({ type: 'ready' }, null).kind, 'ignore');
  });

  it('opens the log at the record line', () => {
    assert.deepEqual(handleViewMessage({ type: 'openRecord', line: 12, record: 'q1' }, data({})), { kind: 'openLog', file: '/x/run.jsonl', line: 12 });
    // A log with logged log-probs is its own log.
    assert.deepEqual(handleViewMessage({ type: 'openRecord', line: 3, record: 'q' }, data({ input: '/x/l.jsonl', input_kind: 'log', log: null })), { kind: 'openLog', file: '/x/l.jsonl', line: 3 });
    assert.deepEqual(handleViewMessage({ type: 'openRecord', line: 3, record: 'q' }, data({ log: 'rel/l.jsonl' }), '/base'), { kind: 'openLog', file: '/base/rel/l.jsonl', line: 3 });
  });

  it('warns when a scores file has no log, ignores bad lines and foreign messages', () => {
    const a = handleViewMessage({ type: 'openRecord', line: 3, record: 'q9' }, data({ log: null }));
    assert.equal(a.kind, 'notify');
    assert.match((a as { message: string }).message, /q9/);
    assert.equal(logOfReport(data({ log: null })), null);
    assert.equal(handleViewMessage({ type: 'openRecord', line: 0, record: 'q' }, data({})).kind, 'ignore');
    assert.equal(handleViewMessage({ type: 'openRecord', line: 2.5, record: 'q' }, data({})).kind, 'ignore');
    assert.equal(handleViewMessage({ type: 'openRecord', line: '3', record: 'q' }, data({})).kind, 'ignore');
    assert.equal(handleViewMessage({ type: 'runShell', cmd: 'rm -rf /' }, data({})).kind, 'ignore');
    assert.equal(handleViewMessage(null, data({})).kind, 'ignore');
    assert.equal(handleViewMessage({ type: 'openRecord', line: 1, record: 'q' }, null).kind, 'ignore');
  });

  it('reports a view that could not draw as an error', () => {
    const a = handleViewMessage({ type: 'error', message: 'boom' }, data({}));
    assert.deepEqual(a, { kind: 'notify', level: 'error', message: 'The diagnostics panel could not draw the report: boom' });
  });
});

describe('extension: settings', () => {
  it('reads values, falling back to defaults on missing or wrong types', () => {
    assert.deepEqual(readSettings(() => undefined), DEFAULT_SETTINGS);
    const s = readSettings((k) => ({ concurrency: 0, identicalTolerance: 'x', scoreEndOfTurn: false, configGlob: '**/*.cje.json', localWorkerModelPath: 'models' })[k]);
    assert.deepEqual(s, { ...DEFAULT_SETTINGS, scoreEndOfTurn: false, configGlob: '**/*.cje.json', localWorkerModelPath: 'models' });
    assert.equal(readSettings((k) => (k === 'concurrency' ? 7.9 : undefined)).concurrency, 7);
  });

  it('fills policies that leave concurrency / scoreEndOfTurn open; the config wins', () => {
    const config = { behavior: 'a', policies: { a: { provider: 'local', model: 'm', template: 'raw' }, b: { provider: 'local', model: 'm', template: 'raw', concurrency: 2, scoreEndOfTurn: true } } } as const;
    const out = applySettings(structuredClone(config) as never, { concurrency: 9, scoreEndOfTurn: false });
    assert.equal(out.policies.a.concurrency, 9);
    assert.equal(out.policies.a.scoreEndOfTurn, false);
    assert.equal(out.policies.b.concurrency, 2);
    assert.equal(out.policies.b.scoreEndOfTurn, true);
    assert.equal((config.policies.a as { concurrency?: number }).concurrency, undefined, 'the parsed config is not changed');
  });
});

describe('extension: run text and secrets', () => {
  it('shows records done / total and the rate', () => {
    assert.equal(progressMessage({ done: 12, total: 30, failed: 0, rate: 3.456, approxTokens: 0 }), '12 / 30 records · 3.5 records/s');
    assert.equal(progressMessage({ done: 12, total: 30, failed: 2, rate: 41.2, approxTokens: 0 }), '12 / 30 records · 41 records/s · 2 failed');
    assert.equal(progressMessage({ done: 12, total: 30, failed: 0, rate: 41.2, approxTokens: 12345 }), '12 / 30 records · 41 records/s · ≈12.3k tokens sent (estimate)');
    assert.equal(progressIncrement(0, { done: 3, total: 30, failed: 0, rate: 1, approxTokens: 0 }), 10);
    assert.equal(progressIncrement(30, { done: 31, total: 30, failed: 0, rate: 1, approxTokens: 0 }), 0);
    assert.equal(progressIncrement(0, { done: 0, total: 0, failed: 0, rate: 0, approxTokens: 0 }), 0);
  });

  it('says a cancelled run keeps its scores and resumes', () => {
    const s = { logFile: '/x/run.jsonl', outFile: '/x/run.scores.jsonl', records: 10, scored: 4, skipped: 0, failed: 0, badLines: 0, cancelled: true } as ScoreRunSummary;
    const m = summaryMessage(s);
    assert.equal(m.level, 'warning');
    assert.match(m.text, /cancelled.*kept in run\.scores\.jsonl.*again to resume/);
    assert.equal(summaryMessage({ ...s, cancelled: false }).level, 'info');
    assert.equal(summaryMessage({ ...s, cancelled: false, failed: 1 }).level, 'warning');
  });

  it('redacts every secret it was given', () => {
    const key = 'fw-abcdef123456';
    assert.equal(redact(`401 for key ${key}; again ${key}`, [key, undefined, 'ab']), '401 for key ***; again ***');
    assert.equal(errorMessage(new Error(`bad ${key}`), [key]), 'bad ***');
  });
});

describe('extension: panel HTML', () => {
  it('loads only the bundle, under a nonce CSP with default-src none', () => {
    const html = panelHtml({ scriptUri: 'https://file+.vscode-resource.x/out/webview/report.js', styleUri: 'https://file+.vscode-resource.x/out/webview/report.css', cspSource: 'https://file+.vscode-resource.x', nonce: 'N0nce', title: 'CJE: <a>' });
    assert.match(html, /default-src &#39;none&#39;/);
    assert.match(html, /script-src &#39;nonce-N0nce&#39;;/);
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    assert.match(html, /<script nonce="N0nce" src="https:\/\/file\+\.vscode-resource\.x\/out\/webview\/report\.js"><\/script>/);
    assert.ok(!html.includes('<a>'), 'the title is escaped');
    assert.ok(!/unsafe-inline|unsafe-eval/.test(panelCsp('x', 'n')));
  });
});

describe('extension: config lint bridge (src/core/lint)', function () {
  this.timeout(60_000);
  const text = configFor('http://127.0.0.1:9/v1');

  it('maps an unknown template to an error with preferred quick fixes', () => {
    const bad = configFor('http://127.0.0.1:9/v1', { other: 'llama5' });
    assert.notEqual(bad, text);
    const f = lintConfigText(bad, '/x/cje.config.json').find((d) => d.code === 'CJE010');
    assert.ok(f, 'CJE010');
    assert.equal(f.severity, 'error');
    assert.equal(bad.slice(f.offset, f.offset + f.length), '"llama5"');
    assert.ok(f.fixes.length >= 1);
    assert.equal(f.fixes[0].preferred, true);
    assert.ok(f.fixes.slice(1).every((x) => !x.preferred));
    assert.ok(!lintConfigText(text, '/x/cje.config.json').some((d) => d.severity === 'error'), 'the example lints without errors');
  });

  it('looks for a local model folder where the run looks (the model-folder setting), not only beside the config', () => {
    const tiny = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'tiny-llama');
    const cfg = JSON.stringify({ behavior: 'base', policies: { base: { provider: 'local', model: path.basename(tiny), template: 'llama3' } } });
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-lint-base-'));
    try {
      const file = path.join(elsewhere, 'cje.config.json');
      assert.ok(lintConfigText(cfg, file).some((d) => d.code === 'CJE080'), 'beside the config there is no such folder');
      assert.ok(!lintConfigText(cfg, file, path.dirname(tiny)).some((d) => d.code === 'CJE080'), 'under the setting\'s folder it exists');
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('finds the template value under the cursor, with the policy and model', () => {
    const at = templateAt(text, text.indexOf('"llama3"') + 3);
    assert.deepEqual(at, { value: 'llama3', policy: 'base', model: 'toy-llama-3-8b-instruct', offset: text.indexOf('"llama3"'), length: 8 });
    assert.equal(templateAt(text, text.indexOf('"model"') + 2), undefined);
    assert.match(templateHoverMarkdown(at!, text)!, /llama3/);
    assert.ok(templateCompletionItems(text).some((c) => c.name === 'chatml'));
  });
});

describe('extension: the VS Code stand-in takes VS Code test arguments', () => {
  it('parses what runTests passes', () => {
    const a = parseStandinArgs(['/ws', '--no-sandbox', '--disable-workspace-trust', '--extensionTestsPath=/e/t.js', '--extensionDevelopmentPath=/e', '--user-data-dir=/u', '--extensions-dir', '/x']);
    assert.deepEqual(a, { folder: '/ws', disableWorkspaceTrust: true, extensionTestsPath: '/e/t.js', extensionDevelopmentPath: '/e', userDataDir: '/u', extensionsDir: '/x' });
  });
});

describe("extension: a log line's hover and a run's status bar text", () => {
  it('lists log p and log w per policy, behavior first, with the warnings of the line', () => {
    const md = lineHoverMarkdown({
      line: 7,
      recordId: 'arena-7',
      scoresFile: '/ws/logs/arena.scores.jsonl',
      behavior: 'base',
      rows: [
        { policy: 'base', record: 'arena-7', logprob: -10.5, isBehavior: true },
        { policy: 'other', record: 'arena-7', logprob: -12.25, isBehavior: false, logWeight: -1.75, suspect: ['approximate: counted'] },
        { policy: 'x|y', record: 'arena-7', logprob: null, isBehavior: false, error: 'HTTP 500 | boom' },
      ],
      stale: [],
    });
    assert.equal(
      md,
      [
        '**CJE** · line 7 · record `arena-7` · arena\\.scores\\.jsonl',
        '',
        '| policy | log p | log w |',
        '|:--|--:|--:|',
        '| base (behavior) | -10.5000 |  |',
        '| other | -12.2500 | -1.7500 |',
        '| x\\|y | failed | — |',
        '',
        '- $(warning) **other suspect:** approximate: counted',
        '- $(error) **x\\|y failed:** HTTP 500 \\| boom',
      ].join('\n'),
    );
  });

  it('says why there is no log w, and names scores left over from another record', () => {
    const md = lineHoverMarkdown({
      line: 2,
      recordId: 'b',
      scoresFile: 'a.scores.jsonl',
      behaviorMissing: 'no cje.config.json found for this log',
      rows: [{ policy: 'p', record: 'b', logprob: -1, isBehavior: false }],
      stale: [{ policy: 'q', record: 'a', logprob: -2 }],
    });
    assert.match(md, /\| p \| -1\.0000 \| — \|/);
    assert.match(md, /log w needs the behavior policy: no cje\\\.config\\\.json found for this log\./);
    assert.match(md, /q: scored for record `a` at this line; the log changed since/);
  });

  it('escapes Markdown in names and texts from files', () => {
    assert.equal(mdText('a*b_[c](d)|e\nf'), 'a\\*b\\_\\[c\\]\\(d\\)\\|e f');
  });

  it('the status bar shows records done / total and the rate', () => {
    assert.equal(statusBarText(undefined), '$(sync~spin) CJE: counting records…');
    assert.equal(statusBarText({ done: 12, total: 30, failed: 0, rate: 3.14, approxTokens: 0 }), '$(sync~spin) CJE 12/30 · 3.1/s');
    assert.equal(statusBarText({ done: 300, total: 300, failed: 2, rate: 41.6, approxTokens: 5 }), '$(sync~spin) CJE 300/300 · 42/s · 2 failed');
  });
});
