// Screenshot test of the standalone report: renders generated HTML in Debian's
// headless Chromium (driven by playwright-core), saves PNGs under
// test-output/report/, and asserts on the DOM. Every request that is not to
// file:// or 127.0.0.1 is aborted, and the test asserts there were none.
// Skipped (with a message) only when /usr/bin/chromium is absent.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildReport, buildReportData } from '../../src/core/report-data';
import type { ReportData } from '../../src/core/report-types';
import { reportHtml, writeReportHtml } from '../../src/core/report-html';
import { packageRoot } from '../../src/core/package-root';
import type { ScoreLine, SpanInfo } from '../../src/core/types';
import { writeSynthetic } from './synthetic';

const CHROMIUM = '/usr/bin/chromium';
const ARENA = path.resolve(packageRoot(), '../shared/data/cje-arena-sample/logged_data.jsonl');
const OUT = path.join(packageRoot(), 'test-output', 'report');

// No DOM lib in the root tsconfig: page callbacks cast to the few members they touch.
// playwright-core's types, loaded lazily so that a missing browser skips cleanly.
type PW = typeof import('playwright-core');
type Ctx = import('playwright-core').BrowserContext;
type Page = import('playwright-core').Page;

/**
 * The report page as the panel serves it: no inline data (the host posts it),
 * and `stub` (a script standing in for acquireVsCodeApi) ahead of the page's own.
 */
function writePanelPage(dir: string, data: ReportData, stub: string): string {
  const html = reportHtml(data, undefined, 'TESTNONCE')
    .replace(/<script type="application\/json" id="cje-data">[\s\S]*?<\/script>/, '')
    .replace('<script nonce="TESTNONCE">', stub + '\n<script nonce="TESTNONCE">');
  const file = path.join(dir, 'panel.html');
  fs.writeFileSync(file, html);
  return file;
}

describe('report in headless Chromium (e2e)', function () {
  this.timeout(180_000);
  let ctx: Ctx;
  let tmp: string;
  const external: string[] = [];

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      console.log(`    SKIPPED: ${CHROMIUM} is absent (apt-get install -y chromium); the report e2e test needs Debian's Chromium.`);
      this.skip();
    }
    fs.mkdirSync(OUT, { recursive: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-report-e2e-'));
    const pw: PW = require('playwright-core');
    ctx = await pw.chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
      colorScheme: 'light',
    });
    await ctx.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file://') || /^https?:\/\/127\.0\.0\.1[:/]/.test(url)) return route.continue();
      external.push(url);
      return route.abort();
    });
  });

  after(async () => {
    await ctx?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function open(file: string): Promise<{ page: Page; errors: string[] }> {
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith('file://') && !u.startsWith('data:') && !/^https?:\/\/127\.0\.0\.1[:/]/.test(u)) external.push(u);
    });
    await page.goto('file://' + file);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    return { page, errors };
  }

  it('draws cards, histograms, k̂ chart, identity table, record table and token heatmaps; log text stays text', async () => {
    const dir = path.join(tmp, 'small');
    const files = writeSynthetic(dir, { n: 400, withScores: true, seed: 3 });
    // Every record's tokens (the default 200 are the violations and the largest |log w|, which need not hold the hostile record).
    const data = await buildReportData({ input: files.scores!, log: files.log, behavior: 'base', tokenRecords: 400, now: new Date('2025-01-01T00:00:00Z') });
    const html = path.join(dir, 'report.html');
    writeReportHtml(html, data);
    const { page, errors } = await open(html);

    assert.equal(await page.locator('.card').count(), 2, 'one card per target (clone, premium)');
    assert.equal(await page.locator('#weights .chart canvas').count() >= 2, true, 'a histogram canvas per target');
    assert.equal(await page.locator('#khat canvas').count() >= 1, true, 'k̂ chart canvas');
    assert.match((await page.locator('.card[data-policy="clone"] vscode-badge.badge').first().textContent()) ?? '', /identity violations/);
    // The controls are @vscode-elements components, registered and styled through
    // Lit's adoptedStyleSheets (allowed by the nonce CSP), and in the standalone page
    // (no VS Code theme variables) they take the page's light palette, not their
    // built-in Dark Modern fallbacks.
    const components = await page.evaluate(() => {
      const g = globalThis as unknown as {
        customElements: { get(n: string): unknown };
        document: { querySelectorAll(s: string): ArrayLike<{ shadowRoot: { adoptedStyleSheets: unknown[] } | null }> };
      };
      return ['vscode-textfield', 'vscode-single-select', 'vscode-option', 'vscode-badge', 'vscode-collapsible', 'vscode-button'].map((tag) => {
        const els = Array.from(g.document.querySelectorAll(tag));
        return { tag, defined: !!g.customElements.get(tag), n: els.length, styled: els.every((e) => !!e.shadowRoot && e.shadowRoot.adoptedStyleSheets.length > 0) };
      });
    });
    for (const c of components) {
      assert.ok(c.defined, `${c.tag} is defined`);
      assert.ok(c.styled, `every ${c.tag} has its shadow styles`);
    }
    for (const tag of ['vscode-textfield', 'vscode-single-select', 'vscode-badge', 'vscode-collapsible']) {
      assert.ok(components.find((c) => c.tag === tag)!.n > 0, `a ${tag} on the page`);
    }
    const bg = (sel: string) => page.locator(sel).first().evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(e).backgroundColor);
    assert.equal(await bg('#records vscode-textfield.filter input'), 'rgb(255, 255, 255)', 'filter field on the light page background');
    assert.equal(await bg('#records vscode-single-select .select-face'), 'rgb(255, 255, 255)', 'select face on the light page background');

    // "Which records" select: identity violations only.
    const expectViolating = data.records.filter((r) =>
      data.policies.some((p, k) => (p.identical.expected || p.identical.probable) && !(Math.abs(r.lw[k] ?? NaN) <= p.identical.tolerance)),
    ).length;
    assert.ok(expectViolating >= files.cloneViolations.size && expectViolating > 0);
    await page.locator('#records vscode-single-select').click();
    await page.locator('#records vscode-single-select [role="option"]', { hasText: 'identity violations' }).click();
    assert.equal((await page.locator('#records .count').textContent())?.trim(), `${expectViolating} of 400 records`);
    await page.locator('#records vscode-single-select').click();
    await page.locator('#records vscode-single-select [role="option"]', { hasText: 'all records' }).click();
    assert.equal((await page.locator('#records .count').textContent())?.trim(), '400 of 400 records');
    const violationRows = await page.locator('table.violations[data-policy="clone"] tbody tr').count();
    assert.equal(violationRows, files.cloneViolations.size, 'every clone violation listed');
    const rows = await page.locator('#records .tr').evaluateAll((els) => els.filter((e) => (e as unknown as { style: { display: string } }).style.display !== 'none').length);
    assert.ok(rows > 5, `table rows rendered (${rows})`);
    await page.screenshot({ path: path.join(OUT, 'small-overview.png'), fullPage: true });

    // Select the hostile record (line 1) via the filter, then look at its tokens.
    await page.fill('#records vscode-textfield.filter input', 'syn_0');
    await page.locator('#records .tr', { hasText: 'syn_0' }).first().click();
    await page.waitForSelector('.tokens .tok');
    const cells = await page.locator('.tokens[data-side="behavior"] .tok').count();
    assert.ok(cells > 5, `heatmap cells present (${cells})`);
    const shown = (await page.locator('.tokens[data-side="behavior"]').textContent()) ?? '';
    assert.ok(shown.includes('<script>'), 'the <script> in the response is shown as text');
    assert.ok(shown.includes('onerror'), 'the <img onerror> is shown as text');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned), undefined, 'nothing from the log ran');
    assert.equal(await page.locator('#cje-root script, #cje-root img').count(), 0, 'no element made from log text');
    await page.locator('.tokens[data-side="target"] .tok').first().hover();
    assert.match((await page.locator('.tok-tip .tok-delta').textContent()) ?? '', /Δ \(clone − base\) = [+-]?\d+\.\d{4}/, 'exact Δ on hover');
    assert.match((await page.locator('.tok-tip .tok-noalts').textContent()) ?? '', /No top alternatives/);
    await page.locator('#detail-section').screenshot({ path: path.join(OUT, 'small-heatmap-hostile.png') });

    // A clone violation: its heatmap shows the Δ on the first token.
    const [vi] = [...files.cloneViolations.keys()];
    await page.fill('#records vscode-textfield.filter input', '');
    await page.locator(`table.violations[data-policy="clone"] tr.pick`, { hasText: `syn_${vi}` }).first().click();
    await page.waitForSelector('.tokens .tok');
    const delta = Number(await page.locator('.tokens[data-side="target"] .tok').first().getAttribute('data-delta'));
    assert.ok(Math.abs(delta - files.cloneViolations.get(vi)!) < 1e-9, `first-token Δ ${delta}`);
    await page.locator('#detail-section').screenshot({ path: path.join(OUT, 'small-heatmap-violation.png') });

    // "colour by" select: each side's own log-prob, then back to Δ.
    const colourBy = page.locator('.detail vscode-single-select.mode-select');
    await colourBy.click();
    await colourBy.locator('[role="option"]', { hasText: 'each side’s own log-prob' }).click();
    await page.locator('.detail .legend', { hasText: 'darker = lower log-prob' }).waitFor();
    assert.equal(await page.locator('.detail vscode-single-select.mode-select').evaluate((e) => (e as unknown as { value: string }).value), 'logprob');
    await page.locator('.detail vscode-single-select.mode-select').click();
    await page.locator('.detail vscode-single-select.mode-select [role="option"]', { hasText: 'Δ log-prob' }).click();
    await page.locator('.detail .legend', { hasText: 'clone less likely' }).waitFor();

    // A record without token data says so.
    assert.deepEqual(errors, [], 'no console errors');
    await page.close();
  });

  it('warns on cards about suspect scores, marks and filters suspect records, draws the seam effect', async () => {
    const dir = path.join(tmp, 'suspect');
    const files = writeSynthetic(dir, { n: 200, withScores: true, seed: 11 });
    // The synthetic scores as `cje score` now writes them: checks, a joined span with a seam group,
    // some suspect and approximate scores, and premium_sep scoring premium's text tokenized apart.
    const baseSus = (i: number) => i % 23 === 5;
    const premSus = (i: number) => i % 17 === 3;
    const premApx = (i: number) => i % 31 === 7;
    const sepShift = (i: number) => (i % 9 === 4 ? ((i % 5) - 2) * 0.15 + 0.05 : 0); // never 0 where set
    const span = (tokenization: 'joined' | 'separate', n: number, approximate = false): SpanInfo => ({
      method: approximate ? 'prefix_count' : tokenization === 'separate' ? 'token_ids' : 'text_offset',
      approximate,
      firstToken: 5,
      endToken: 5 + n,
      endOfTurnScored: true,
      tokenization,
    });
    const out: string[] = [];
    for (const text of fs.readFileSync(files.scores!, 'utf8').split('\n')) {
      if (!text.trim()) continue;
      const s = JSON.parse(text) as ScoreLine;
      const i = s.line - 1;
      s.checks = 1;
      s.span = span('joined', s.token_logprobs.length);
      if (s.policy === 'base' && baseSus(i)) s.suspect = [`prompt token 3 (${JSON.stringify('<|im_start|>')}) has log-prob 0.25: the server's numbers are doubtful`];
      if (s.policy === 'premium') {
        s.seam_group = 'sg-premium';
        if (premApx(i)) {
          s.span = span('joined', s.token_logprobs.length, true);
          s.suspect = ["approximate: the response was located by counting the prompt's tokens, not by the echoed text"];
        }
        if (premSus(i)) s.suspect = [...(s.suspect ?? []), "ambiguous span: the byte pieces at its edge fit 2 placements; the server's offsets chose one"];
      }
      out.push(JSON.stringify(s));
      if (s.policy === 'premium') {
        const lps = s.token_logprobs.slice();
        lps[0] = lps[0] - sepShift(i);
        const sep: ScoreLine = {
          ...s,
          key: `${s.key}-sep`,
          policy: 'premium_sep',
          fingerprint: 'fp-premium-sep',
          logprob: s.logprob! - sepShift(i),
          token_logprobs: lps,
          span: span('separate', lps.length),
        };
        delete sep.suspect;
        out.push(JSON.stringify(sep));
      }
    }
    const scores = path.join(dir, 'scores-checked.jsonl');
    fs.writeFileSync(scores, out.join('\n') + '\n');
    const data = await buildReportData({ input: scores, log: files.log, behavior: 'base', bootstrap: { b: 200 }, now: new Date('2025-01-01T00:00:00Z') });
    assert.deepEqual(data.meta.targets, ['clone', 'premium', 'premium_sep']);

    // Expected counts, from the rules above.
    const idx = Array.from({ length: 200 }, (_, i) => i);
    const premWeights = idx.filter((i) => baseSus(i) || premSus(i) || premApx(i)).length;
    const premApprox = idx.filter(premApx).length;
    const cloneWeights = idx.filter(baseSus).length;
    const suspectRecords = idx.filter((i) => baseSus(i) || premSus(i) || premApx(i)).length;
    const differ = idx.filter((i) => sepShift(i) !== 0).length;
    assert.equal(data.policies[1].suspect_weights.n, premWeights);
    assert.equal(data.seam.length, 1);
    assert.equal(data.seam[0].differ, differ);

    const html = path.join(dir, 'report.html');
    writeReportHtml(html, data);
    const { page, errors } = await open(html);

    // Cards: a visible warning in the warning colour, not muted small print.
    const warn = page.locator('.card[data-policy="premium"] .suspect-warn');
    await warn.waitFor({ state: 'visible' });
    const head = (await warn.locator('.suspect-head').textContent()) ?? '';
    assert.equal(head, `⚠ ${premWeights} of the 200 weights rest on suspect scores (${premApprox} approximate)`);
    const reasons = (await warn.locator('.suspect-reasons').textContent()) ?? '';
    assert.match(reasons, /ambiguous span/);
    assert.match(reasons, /approximate/);
    assert.match(reasons, /prompt token N \("…"\) has log-prob N/);
    assert.match((await page.locator('.card[data-policy="clone"] .suspect-head').textContent()) ?? '', new RegExp(`^⚠ ${cloneWeights} of the 200 weights rest on suspect scores \\(0 approximate\\)`));
    const style = await warn.locator('.suspect-head').evaluate((e) => {
      const cs = (globalThis as unknown as { getComputedStyle(e: unknown): { color: string; fontSize: string; fontWeight: string } }).getComputedStyle(e);
      return { color: cs.color, size: parseFloat(cs.fontSize), weight: cs.fontWeight };
    });
    assert.equal(style.color, 'rgb(154, 103, 0)', 'the warning colour (--cje-warning), not the muted grey');
    assert.ok(style.size >= 11.5 && Number(style.weight) >= 600, `readable: ${JSON.stringify(style)}`);
    // A card whose weights rest on suspect scores is never edged 'good' (here premium's ESS is critical anyway).
    assert.match((await page.locator('.card[data-policy="premium"]').getAttribute('class')) ?? '', /^card (warning|critical)$/);

    // Records: a ⚠/≈ marker column and a filter.
    assert.equal(await page.locator('#records .th[data-col="sus"]').count(), 1);
    await page.locator('#records vscode-single-select').click();
    await page.locator('#records vscode-single-select [role="option"]', { hasText: 'with a suspect score' }).click();
    assert.equal((await page.locator('#records .count').textContent())?.trim(), `${suspectRecords} of 200 records`);
    const marks = await page.locator('#records .tr .td.sus').evaluateAll((els) =>
      els.filter((e) => (e.parentElement as unknown as { style: { display: string } }).style.display !== 'none').map((e) => e.textContent),
    );
    assert.ok(marks.length > 0 && marks.every((t) => t === '⚠' || t === '≈'), `markers ${JSON.stringify(marks.slice(0, 5))}`);
    assert.ok(marks.includes('≈'), 'approximate records marked ≈');
    await page.locator('#records').screenshot({ path: path.join(OUT, 'suspect-records.png') });
    // The selected record says whose score is suspect.
    const firstSus = idx.find((i) => premApx(i))!;
    await page.fill('#records vscode-textfield.filter input', `syn_${firstSus}`);
    await page.locator('#records .tr', { hasText: `syn_${firstSus}` }).first().click();
    assert.match((await page.locator('.detail .chip.sus').textContent()) ?? '', /^≈ suspect score: premium · approximate: premium$/);
    await page.locator('.detail .detail-head').screenshot({ path: path.join(OUT, 'suspect-detail-head.png') });
    await page.fill('#records vscode-textfield.filter input', '');

    // Seam section: the pair's numbers, its histogram, its largest-|Δ| records.
    const seam = page.locator('#seam');
    await seam.waitFor({ state: 'visible' });
    assert.equal((await seam.locator('h2').textContent())?.trim(), 'Seam effect');
    const cells = await seam.locator('table.seam-summary tbody tr').first().locator('td').allTextContents();
    assert.deepEqual(cells.slice(0, 4), ['premium', 'premium_sep', '200', String(differ)]);
    assert.ok((await seam.locator('.seam-pair .chart canvas').count()) >= 1, 'a Δ histogram canvas');
    assert.equal(await seam.locator('table.seam-records tbody tr').count(), Math.min(10, differ));
    const topRec = data.seam[0].top[0];
    await seam.locator('table.seam-records tr.pick').first().click();
    await page.locator('.detail h3', { hasText: topRec.record }).waitFor();
    await seam.screenshot({ path: path.join(OUT, 'seam-section.png') });
    await page.locator('#policies').screenshot({ path: path.join(OUT, 'suspect-cards.png') });
    await page.screenshot({ path: path.join(OUT, 'suspect-seam-overview.png'), fullPage: true });
    // The same warning in the dark palette (as in a dark VS Code panel): still the warning colour.
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await warn.locator('.suspect-head').evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(e).color), 'rgb(210, 153, 34)');
    await page.locator('#policies').screenshot({ path: path.join(OUT, 'suspect-cards-dark.png') });
    assert.deepEqual(errors, [], 'no console errors');
    await page.close();
  });

  it('tells the CLI’s story: logged identity, logged ≠ rescored, the noise floor, endpoints, repeat spreads, token hover with ranks', async () => {
    const dir = path.join(tmp, 'story');
    const files = writeSynthetic(dir, { n: 200, withScores: true, seed: 21 });
    // clone's rescored violations (synthetic.ts): record 13 by 0.25 + 3·0.4 = 1.45, record 110 by 0.25.
    assert.deepEqual([...files.cloneViolations.keys()], [13, 110]);
    // The log as a chat API would have stored it: far from the rescored values (−2 nats per record), and
    // clone stored differently from base on records 5, 6 and 7 (by +0.5, +1, +1.5).
    const loggedOff = new Map([[5, 0.5], [6, 1], [7, 1.5]]);
    const rescored = new Map<string, number>();
    const scoreText = fs.readFileSync(files.scores!, 'utf8').trim().split('\n');
    for (const t of scoreText) {
      const sc = JSON.parse(t) as ScoreLine;
      if (sc.policy === 'base') rescored.set(sc.record, sc.logprob!);
    }
    const logLines = fs.readFileSync(files.log, 'utf8').trim().split('\n').map((t, i) => {
      const r = JSON.parse(t) as Record<string, unknown>;
      const b = rescored.get(`syn_${i}`)! - 2;
      r.base_policy_logprob = b;
      r.target_policy_logprobs = { clone: b + (loggedOff.get(i) ?? 0) };
      return JSON.stringify(r);
    });
    const log = path.join(dir, 'log-logged.jsonl');
    fs.writeFileSync(log, logLines.join('\n') + '\n');
    // Top alternatives on record 13's scores (base and clone): token 0 is ranked 2nd, token 1 is absent.
    const withTop = scoreText.map((t) => {
      const sc = JSON.parse(t) as ScoreLine & { top_logprobs?: (Record<string, number> | null)[] };
      if (sc.record === 'syn_13' && sc.policy !== 'premium') {
        sc.top_logprobs = sc.tokens.map((tok, k): Record<string, number> | null => (k === 0 ? { ' alt': sc.token_logprobs[0] + 0.5, [tok]: sc.token_logprobs[0], ' zzz': sc.token_logprobs[0] - 1 } : k === 1 ? { ' x': -0.1, ' y': -0.2 } : null));
      }
      return JSON.stringify(sc);
    });
    const profile = {
      kind: 'endpoint_profile', version: 1, provider: 'openai-compatible', baseURL: 'http://127.0.0.1:8000/v1', model: 'small-model', policies: ['base', 'clone'],
      measured_at: '2026-12-01T22:00:00.000Z',
      probes: { echo: true, maxTokens: 0, promptLogprobs: true, firstTokenNull: true, offsetUnit: 'codepoint', listPrompts: true, tokenIdPrompts: null, topLogprobsLimit: 5, clampSentinel: false, addsBos: true, doubleBos: false, deterministic: false, noiseFloor: 0.9, noiseFloorToken: 0.05, batchInvariant: true, prefixCacheConsistent: true, templateSanity: true },
      reasons: { tokenIdPrompts: 'HTTP 400: prompt must be a string' }, blockers: [], warnings: ['scores differ between repeats by up to 0.9 nats'],
    };
    // Repeats of base on ten records, spreads 0.05 · (1..10): the floor is 0.5, so record 110 (0.25) is within, 13 (1.45) beyond.
    const repeats = Array.from({ length: 10 }, (_, k) => JSON.stringify({ kind: 'repeat', policy: 'base', fingerprint: 'fp-base-000000000', record: `syn_${k + 20}`, line: k + 21, key: `k${k + 20}-base`, logprobs: [-40, -40 - 0.05 * (k + 1), -40 - 0.02] }));
    const scores = path.join(dir, 'story.scores.jsonl');
    fs.writeFileSync(scores, [JSON.stringify(profile), ...withTop, ...repeats, JSON.stringify({ kind: 'later_kind' })].join('\n') + '\n');
    const data = await buildReportData({ input: scores, log, behavior: 'base', bootstrap: { b: 200 }, now: new Date('2025-01-01T00:00:00Z') });
    const clone = data.policies[0].identical;
    assert.equal(clone.logged!.differ, 3);
    assert.deepEqual([clone.within_noise, clone.beyond_noise], [1, 1]);

    const html = path.join(dir, 'report.html');
    writeReportHtml(html, data);
    const { page, errors } = await open(html);
    const warnColor = 'rgb(154, 103, 0)';
    const color = (sel: string) => page.locator(sel).first().evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(e).color);

    // Logged vs rescored: a warning at the top of the page and on every card, in the warning colour.
    const lvr = page.locator('.lvr-page');
    await lvr.waitFor({ state: 'visible' });
    assert.match((await lvr.locator('.warn-head').textContent()) ?? '', /Log-probs stored in the log disagree with the rescored ones/);
    assert.equal(await lvr.locator('tbody tr').count(), 2, 'base (behavior) and clone: the log stores nothing for premium');
    assert.deepEqual(await lvr.locator('tbody tr').first().locator('td').allTextContents(), ['base (behavior)', '200 of 200', '2.000', '2.000']);
    assert.equal(await color('.lvr-page .warn-head'), warnColor);
    assert.match((await page.locator('.card[data-policy="clone"] .lvr-warn').textContent()) ?? '', /Logged ≠ rescored on 200 of 200 records \(median \|Δ\| 2\.000 nats\)/);
    // The clone card's identity badge says the logged check failed although the rescored one passed? No: both
    // broke here (rescored 2 violations), so it reads as violations; the logged row is in the identity table.
    assert.match((await page.locator('.card[data-policy="clone"] vscode-badge.badge').first().textContent()) ?? '', /2 identity violations/);
    await page.locator('#policies').screenshot({ path: path.join(OUT, 'story-cards.png') });

    // Identity table: rescored and logged rows, the floor, the verdict.
    const ident = page.locator('#identical');
    const rescRow = await ident.locator('tr[data-policy="clone"][data-check="rescored"] td').allTextContents();
    assert.deepEqual(rescRow.slice(2), ['rescored (cje score)', '99.0%', '2', '1.450', '0.500 (repeats, 10)']);
    const logRow = await ident.locator('tr[data-policy="clone"][data-check="logged"] td').allTextContents();
    assert.deepEqual(logRow.slice(2, 6), ['logged (in the log)', '98.5%', '3 of 200', '1.500']);
    assert.equal(await color('tr[data-policy="clone"][data-check="logged"] td.bad'), 'rgb(207, 34, 46)');
    const verdict = (await ident.locator('p.noise-verdict[data-policy="clone"]').textContent()) ?? '';
    assert.match(verdict, /1 within the endpoint's nondeterminism \(max \|Δ\| 0\.500 nats over 10 repeated record scorings\); 1 beyond the endpoint's measured nondeterminism .*: a scoring error/);
    assert.deepEqual(await ident.locator('table.violations:not(.logged)[data-policy="clone"] tbody tr td:last-child').allTextContents(), ['beyond', 'within']);
    assert.equal(await ident.locator('table.violations.logged[data-policy="clone"] tbody tr').count(), 3);
    assert.match((await ident.locator('.logged-ident').textContent()) ?? '', /the log stores a different log-prob for it than for base on 3 of 200 records/);
    assert.equal(await color('.logged-ident .warn-head'), warnColor);
    // Endpoints: the probes as a verdict table; repeat spreads with a histogram.
    assert.deepEqual(await ident.locator('table.endpoints tr[data-probe="noiseFloor"] td').allTextContents(), ['noiseFloor', '0.900 nats']);
    assert.match((await ident.locator('table.endpoints tr[data-probe="tokenIdPrompts"] td').nth(1).textContent()) ?? '', /HTTP 400: prompt must be a string/);
    // Spreads 0.05 · (1..10): median 0.275, p95 (R type 7) 0.45 + 0.55 · 0.05 = 0.4775 (a rounding tie on the page), max 0.5.
    assert.ok(Math.abs(data.repeats[0].p95 - 0.4775) < 1e-9);
    const rep = await ident.locator('table.repeat-summary tbody tr td').allTextContents();
    assert.deepEqual([...rep.slice(0, 4), rep[5]], ['base', '10', '3', '0.275', '0.500']);
    assert.match(rep[4], /^0\.47[78]$/);
    assert.ok((await ident.locator('.repeat-chart canvas').count()) >= 1, 'a repeat-spread histogram');
    await ident.screenshot({ path: path.join(OUT, 'story-identical.png') });

    // Histogram legends: the total off the chart, a bar's range and count over it.
    const legend = page.locator('#weights .chart').first().locator('.u-legend');
    assert.match((await legend.textContent()) ?? '', /200 in all \(hover a bar\)/);
    await page.locator('#weights').screenshot({ path: path.join(OUT, 'story-histograms.png') });

    // Token hover: record 13 (a violation), first token: base and clone (aligned) and premium, ranks and alternatives.
    await page.locator('table.violations:not(.logged)[data-policy="clone"] tr.pick', { hasText: 'syn_13' }).click();
    const tok0 = page.locator('.tokens[data-side="behavior"] .tok').first();
    await tok0.hover();
    const tip = page.locator('.tok-tip');
    await tip.waitFor({ state: 'visible' });
    const rows = await tip.locator('.tok-policies tbody tr').evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { policy: string } }).dataset.policy));
    assert.deepEqual(rows, ['base', 'clone', 'premium']);
    const rank = await tip.locator('.tok-policies td.rank').allTextContents();
    assert.deepEqual(rank, ['2', '2', '—'], 'rank 2 of 3 under base and clone; premium kept no alternatives');
    const rec13 = data.tokens.records.find((t) => t.row === 13)!;
    const b0 = rec13.behavior.logprobs[0];
    assert.equal(await tip.locator('.tok-policies tr[data-policy="base"] td.num').first().textContent(), b0.toFixed(4));
    assert.match((await tip.locator('.tok-delta').textContent()) ?? '', /^Δ \(clone − base\) = \+1\.4500$/);
    assert.deepEqual(await tip.locator('.alt-col[data-policy="base"] li code').allTextContents(), ['" alt"', JSON.stringify(rec13.behavior.tokens[0]), '" zzz"']);
    await page.locator('#detail-section').screenshot({ path: path.join(OUT, 'story-token-hover.png') });
    await page.locator('.tokens[data-side="behavior"] .tok').nth(1).hover();
    await page.locator('.tok-tip .tok-card-head', { hasText: '#1 ' }).waitFor();
    assert.deepEqual(await tip.locator('.tok-policies td.rank').allTextContents(), ['> 2', '> 2', '—']);
    await page.screenshot({ path: path.join(OUT, 'story-overview.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no console errors');
    await page.close();
  });

  it('three records: "too few records" instead of a k̂ and a grade; no k̂ label inside a band; IPS caution; Hill α’s reason', async () => {
    const dir = path.join(tmp, 'tiny');
    const files = writeSynthetic(dir, { n: 3, withScores: true, seed: 4 });
    const data = await buildReportData({ input: files.scores!, log: files.log, behavior: 'base', bootstrap: { b: 100 } });
    const html = path.join(dir, 'report.html');
    writeReportHtml(html, data);
    const { page, errors } = await open(html);
    const card = page.locator('.card[data-policy="premium"]');
    const metrics = await card.locator('.metric').allTextContents();
    assert.match(metrics[0], /too few records/);
    assert.doesNotMatch(metrics[0], /good|warning|critical/);
    assert.match(metrics[1], /^Pareto k̂too few recordsn = 3 < 21$/);
    assert.doesNotMatch(await card.textContent() ?? '', /threshold/);
    // CJE's overlap diagnostics (metrics 2 and 3) keep their values but no grade.
    for (const m of metrics.slice(2, 4)) assert.match(m, /^(Hellinger affinity|TTC)\d\.\d{3}too few records$/);
    assert.match(metrics[4], /not estimated: needs n ≥ 50 weights \(have 3\)/);
    assert.equal(await card.getAttribute('class'), 'card neutral too-few');
    // IPS against the judge scores' range: premium's IPS is outside it exactly when the data say so.
    const p = data.policies[1];
    const jr = data.meta.judge_range!;
    const outside = p.estimates!.ips! < jr.min || p.estimates!.ips! > jr.max;
    assert.equal(await card.locator('.ips-caution').count(), outside ? 1 : 0);
    // k̂ chart: no point labels at all (no target has a k̂); the axis says why.
    await page.locator('#khat').screenshot({ path: path.join(OUT, 'tiny-khat.png') });
    await page.locator('#policies').screenshot({ path: path.join(OUT, 'tiny-cards.png') });
    assert.deepEqual(errors, [], 'no console errors');
    await page.close();
  });

  it('keeps only a window of rows in the DOM at 100,000 records, and sorts', async () => {
    const dir = path.join(tmp, 'big');
    const files = writeSynthetic(dir, { n: 100_000, withScores: false, seed: 5, minTokens: 3, maxTokens: 8 });
    // A table of all 100,000 (the default lists 50,000 of them): the window of rows is what is tested.
    const data = await buildReportData({ input: files.log, bootstrap: { b: 200 }, recordTable: { total: 100_000 } });
    const html = path.join(dir, 'report.html');
    const { bytes } = writeReportHtml(html, data);
    const t0 = Date.now();
    const { page, errors } = await open(html);
    const loadMs = Date.now() - t0;
    const inDom = await page.locator('#records .tr').count();
    assert.ok(inDom > 5 && inDom < 200, `only a window of rows in the DOM (${inDom} of 100000)`);
    assert.match((await page.locator('#records .count').textContent()) ?? '', /100,000 of 100,000/);
    // Sort by premium's |log w| (descending) and scroll far down: still a window, rows refilled.
    await page.locator('#records .th[data-col="lw:premium"]').click();
    const firstId = await page.locator('#records .tr').first().locator('.td').nth(1).textContent();
    assert.ok(firstId, 'a first row after sorting');
    const t1 = Date.now();
    for (let k = 1; k <= 20; k++) await page.locator('#records .viewport').evaluate((v, y) => ((v as unknown as { scrollTop: number }).scrollTop = y), k * 120_000);
    await page.waitForTimeout(50);
    const scrollMs = Date.now() - t1;
    assert.ok((await page.locator('#records .tr').count()) < 200);
    await page.screenshot({ path: path.join(OUT, 'big-100k.png') });
    await page.locator('#records').screenshot({ path: path.join(OUT, 'big-100k-table.png') });
    console.log(`      100k records: HTML ${(bytes / 1048576).toFixed(1)} MiB, page ready in ${loadMs} ms, 20 scroll jumps in ${scrollMs} ms, ${inDom} row elements`);
    assert.deepEqual(errors, [], 'no console errors');
    await page.close();
  });

  it('renders the arena log report with clone violations listed', async function () {
    if (!fs.existsSync(ARENA)) this.skip();
    const data = await buildReportData({ input: ARENA });
    const html = path.join(tmp, 'arena.html');
    writeReportHtml(html, data);
    const { page, errors } = await open(html);
    assert.equal(await page.locator('.card').count(), 3);
    assert.equal(await page.locator('table.violations[data-policy="clone"] tbody tr').count(), data.policies[0].identical.violation_count);
    // CJE 0.3's overlap diagnostics beside ESS and k̂, CJE's reading in the tooltip.
    for (const p of data.policies) {
      const card = page.locator(`.card[data-policy="${p.name}"]`);
      const h = card.locator('.metric', { hasText: 'Hellinger affinity' });
      const t = card.locator('.metric', { hasText: 'TTC' });
      assert.match((await h.textContent()) ?? '', new RegExp(`${p.hellinger_affinity.value!.toFixed(3)}${p.hellinger_affinity.status}`));
      assert.ok(((await h.getAttribute('title')) ?? '').includes(p.hellinger_affinity.reading));
      assert.match((await t.textContent()) ?? '', new RegExp(`^TTC${p.ttc.value!.toFixed(3)}`));
      assert.match((await t.getAttribute('title')) ?? '', /good ≥ 0\.70, marginal ≥ 0\.30, poor below/);
    }
    await page.locator('#policies').screenshot({ path: path.join(OUT, 'arena-cards-overlap.png') });
    await page.screenshot({ path: path.join(OUT, 'arena-overview.png'), fullPage: true });
    await page.screenshot({ path: path.join(OUT, 'arena-top.png'), clip: { x: 0, y: 0, width: 1280, height: 1000 } });
    await page.locator('table.violations[data-policy="clone"] tr.pick').first().click();
    assert.match((await page.locator('.not-included').textContent()) ?? '', /not included/);
    await page.locator('#records .th[data-col="lw:clone"]').click();
    await page.locator('#records').screenshot({ path: path.join(OUT, 'arena-records-by-clone.png') });
    assert.deepEqual(errors, [], 'no console errors');
    await page.close();
  });

  it('as a VS Code webview (dark theme): says ready, draws the data it is posted, posts openRecord', async () => {
    const dir = path.join(tmp, 'webview');
    const files = writeSynthetic(dir, { n: 300, withScores: true, seed: 9 });
    const data = await buildReportData({ input: files.scores!, log: files.log, behavior: 'base', bootstrap: { b: 100 } });
    // The panel gets no inline data; a stub of acquireVsCodeApi records what the view posts.
    const stub = `<script nonce="TESTNONCE">window.__sent = []; window.acquireVsCodeApi = () => ({ postMessage: (m) => window.__sent.push(m) });</script>`;
    const file = writePanelPage(dir, data, stub);
    const page = await ctx.newPage();
    await page.emulateMedia({ colorScheme: 'dark' });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto('file://' + file);
    type Sent = { type: string; line?: number; record?: string }[];
    const sent = () => page.evaluate(() => (globalThis as unknown as { __sent: Sent }).__sent);
    assert.deepEqual(await sent(), [{ type: 'ready' }]);
    await page.evaluate((d) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage({ type: 'data', data: d }, '*'), data as unknown as Record<string, unknown>);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('.card').count(), 2);
    await page.locator('table.violations[data-policy="clone"] tr.pick').first().click();
    await page.locator('.detail vscode-button.btn', { hasText: 'Open in log' }).click();
    const last = (await sent()).at(-1)!;
    assert.equal(last.type, 'openRecord');
    assert.equal(typeof last.line, 'number');
    assert.equal(last.record, data.records.find((r) => r.line === last.line)!.id);
    await page.screenshot({ path: path.join(OUT, 'webview-dark.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no console errors');
    await page.close();
  });

  it('in the panel, pages through all records by asking the host (recordPage with inReplyTo); the page carries a selection', async () => {
    const dir = path.join(tmp, 'pager');
    const files = writeSynthetic(dir, { n: 260, withScores: true, seed: 12, minTokens: 3, maxTokens: 6 });
    const { data, columns } = await buildReport({ input: files.scores!, log: files.log, behavior: 'base', bootstrap: { b: 0 }, recordTable: { total: 60, topPerTarget: 10, violations: 10 } });
    assert.equal(data.records.length, 60);
    // The stub host answers page requests from pages the test computed with the host's own function.
    const pages = [0, 1, 2].map((p) => columns.page({ page: p, pageSize: 100, order: { by: 'line' }, filter: 'all' }));
    const stub =
      `<script nonce="TESTNONCE">window.__sent = []; window.__pages = ${JSON.stringify(pages).replace(/</g, '\\u003c')};` +
      `window.acquireVsCodeApi = () => ({ postMessage: (m) => { window.__sent.push(m); if (m.type === 'recordPage') setTimeout(() => window.postMessage({ type: 'recordPage', inReplyTo: m.messageId, page: window.__pages[m.request.page] }, '*'), 0); } });</script>`;
    const file = writePanelPage(dir, data, stub);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto('file://' + file);
    await page.evaluate((d) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage({ type: 'data', data: d }, '*'), data as unknown as Record<string, unknown>);
    await page.waitForSelector('body[data-ready="true"]');
    assert.match((await page.locator('#records .table-selection').textContent()) ?? '', /^60 of 260 records: /);
    await page.waitForSelector('#all-records .page-status:has-text("page 1 of 3")');
    assert.equal(await page.locator('#all-records .tr').count(), 100);
    assert.equal(await page.locator('#all-records .tr').first().locator('.td').nth(1).textContent(), 'syn_0');
    await page.locator('#all-records vscode-button.page-next').click();
    await page.waitForSelector('#all-records .page-status:has-text("page 2 of 3")');
    assert.equal(await page.locator('#all-records .tr').first().locator('.td').nth(1).textContent(), 'syn_100');
    type Sent = { type: string; messageId?: number; request?: { page: number }; line?: number }[];
    const sent = await page.evaluate(() => (globalThis as unknown as { __sent: Sent }).__sent);
    const asks = sent.filter((m) => m.type === 'recordPage');
    assert.deepEqual(asks.map((m) => m.request!.page), [0, 1]);
    assert.equal(new Set(asks.map((m) => m.messageId)).size, 2, 'each request its own messageId');
    // A record outside the table opens in the log; one inside is shown.
    const k = pages[1].tableRows.findIndex((t) => t < 0);
    await page.locator('#all-records .tr').nth(k).click();
    const last = (await page.evaluate(() => (globalThis as unknown as { __sent: Sent }).__sent)).at(-1)!;
    assert.deepEqual([last.type, last.line], ['openRecord', pages[1].rows[k].line]);
    await page.locator('#all-records').screenshot({ path: path.join(OUT, 'panel-pager.png') });
    assert.deepEqual(errors, [], 'no console errors');
    await page.close();
  });

  it('made no request outside file:// and 127.0.0.1', () => {
    assert.deepEqual(external, []);
  });
});
