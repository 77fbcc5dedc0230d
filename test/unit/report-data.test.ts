import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { reportCommand } from '../../src/cli/report';
import { packageRoot } from '../../src/core/package-root';
import { ReportInputError, buildReportData, histogram, parseIdenticalPairs } from '../../src/core/report-data';
import { jsonForScript, reportHtml } from '../../src/core/report-html';
import type { ScoreLine } from '../../src/core/types';

const ARENA = path.resolve(packageRoot(), '../shared/data/cje-arena-sample/logged_data.jsonl');

function scoreLine(policy: string, fingerprint: string, line: number, tokens: string[], lps: number[] | null, error: string | null = null): string {
  const s: ScoreLine = {
    key: `k-${line}-${fingerprint}`,
    record: `r${line}`,
    line,
    policy,
    fingerprint,
    logprob: lps ? lps.reduce((a, b) => a + b, 0) : null,
    tokens: lps ? tokens : [],
    token_logprobs: lps ?? [],
    span: null,
    error,
    model: 'm',
    template: 'chatml',
    provider: 'local',
    scored_at: '2025-01-01T00:00:00Z',
  };
  return JSON.stringify(s);
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

describe('report data', () => {
  let dir: string;
  let scores: string;
  let log: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-report-'));
    // Four records. Per-token log-probs (two tokens each); totals in the comments.
    const tok = ['Hel', 'lo'];
    const base = [[-6, -4], [-2, -3], [-7, -0.5], [-1, -2]]; // −10, −5, −7.5, −3
    const clone = [[-6, -4], [-2, -2.5], [-7, -0.5], [-1, -2.000002]]; // same fingerprint; r2 +0.5, r4 −2e-6
    const other = [[-5, -4], [-3, -3], [-7, -0.5], null]; // −9, −6, −7.5, error on r4
    const lines: string[] = [];
    for (let i = 0; i < 4; i++) {
      lines.push(scoreLine('base', 'fpA', i + 1, tok, base[i]));
      lines.push(scoreLine('clone', 'fpA', i + 1, tok, clone[i]));
      lines.push(scoreLine('other', 'fpB', i + 1, tok, other[i], other[i] ? null : 'HTTP 500'));
    }
    lines.splice(1, 0, '{not json');
    scores = path.join(dir, 'log.scores.jsonl');
    fs.writeFileSync(scores, lines.join('\n') + '\n');
    log = path.join(dir, 'log.jsonl');
    const recs = [0.2, 0.4, 0.6, 0.8].map((j, i) => ({
      prompt_id: `r${i + 1}`,
      prompt: `q${i}`,
      response: i === 1 ? '</script><script>alert(1)</script>' : 'Hello',
      judge_score: j,
      base_policy_logprob: [-10.25, -5, -7.5, -3][i], // logged: r1 off by −0.25 from the rescored −10
    }));
    fs.writeFileSync(log, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('assembles policies, records and tokens from a scores file and its log (hand calculation)', async () => {
    const d = await buildReportData({ input: scores, log, behavior: 'base', bootstrap: { b: 0 } });
    assert.equal(d.meta.input_kind, 'scores');
    assert.deepEqual(d.meta.targets, ['clone', 'other']);
    assert.equal(d.meta.n_records, 4);
    assert.equal(d.meta.issue_count, 1, 'the broken line is reported');
    assert.equal(d.meta.issues[0].line, 2);

    const [clone, other] = d.policies;
    // clone shares base's fingerprint: identity expected; r2 (+0.5) and r4 (−2e-6 > 1e-6) break it.
    assert.equal(clone.identical.expected, true);
    assert.equal(clone.identical.source, 'scores-fingerprint');
    assert.equal(clone.identical.violation_count, 2);
    assert.deepEqual(clone.identical.violations.map((v) => [v.record, v.line]), [['r2', 2], ['r4', 4]]);
    assert.ok(Math.abs(clone.identical.violations[0].log_weight! - 0.5) < 1e-12);
    assert.ok(Math.abs(clone.identical.violations[1].log_weight! - -2e-6) < 1e-12);
    assert.ok(clone.identical.causes.length > 0);

    // other: log w = (−9+10, −6+5, −7.5+7.5) = (1, −1, 0); r4 failed to score.
    assert.equal(other.identical.expected, false);
    assert.equal(other.n, 3);
    assert.equal(other.score_errors, 1);
    const s1 = Math.exp(1) + Math.exp(-1) + Math.exp(0); // 4.0861612696
    const s2 = Math.exp(2) + Math.exp(-2) + Math.exp(0); // 8.5243913822
    assert.ok(Math.abs(other.ess - (s1 * s1) / s2) < 1e-9, `ESS ${other.ess}`); // 1.95870…
    assert.ok(Math.abs(other.ess_fraction! - (s1 * s1) / s2 / 3) < 1e-9);
    assert.ok(Math.abs(other.max_weight_share! - Math.exp(1) / s1) < 1e-9); // 0.66524
    assert.deepEqual(other.histogram!.counts.reduce((a, b) => a + b, 0), 3);

    // Rows: judge and length from the log, log-weights in meta.targets order.
    assert.deepEqual(d.records.map((r) => r.id), ['r1', 'r2', 'r3', 'r4']);
    assert.deepEqual(d.records.map((r) => r.judge), [0.2, 0.4, 0.6, 0.8]);
    assert.deepEqual(d.records[0].lw, [0, 1]);
    assert.deepEqual(d.records[3].lw, [-2e-6, null]);
    assert.equal(d.records[1].chars, '</script><script>alert(1)</script>'.length);
    assert.equal(d.records[0].ntok, 2);

    // Logged vs rescored for the behavior: Δ = rescored − logged = (0.25, 0, 0, 0).
    const lvr = d.meta.behavior.logged_vs_rescored!;
    assert.equal(lvr.n, 4);
    assert.ok(Math.abs(lvr.max_abs - 0.25) < 1e-12);
    assert.equal(lvr.over_tolerance, 1);

    // Tokens: every record has them; r2's per-token Δ for clone is (0, +0.5).
    assert.equal(d.tokens.available, true);
    assert.equal(d.tokens.total, 4);
    const r2 = d.tokens.records.find((t) => t.row === 1)!;
    assert.deepEqual(r2.behavior.tokens, ['Hel', 'lo']);
    assert.equal(r2.targets.clone.tokens, null, 'same tokens as the behavior are not repeated');
    assert.equal(r2.targets.clone.aligned, true);
    assert.deepEqual(r2.targets.clone.top[0], { position: 1, token: 'lo', behavior_logprob: -3, target_logprob: -2.5, delta: 0.5 });

    // Responses: lengths 5, 34, 5, 5 characters; judges 0.2 0.4 0.6 0.8 → median 0.5,
    // high = r3, r4 (5, 5) → 5; low = r1, r2 (5, 34) → 19.5; overall 49 / 4 = 12.25.
    const chars = d.responses.chars;
    assert.equal(chars.mean_length, 12.25);
    assert.deepEqual(chars.by_judge, { median_judge: 0.5, high: { n: 2, mean_length: 5 }, low: { n: 2, mean_length: 19.5 } });
    // Scored tokens: every base response has 2; other has none for r4 (it failed).
    const byPolicy = Object.fromEntries(d.responses.tokens.map((t) => [t.policy, t]));
    assert.equal(byPolicy.base.n, 4);
    assert.equal(byPolicy.base.mean_length, 2);
    assert.equal(byPolicy.other.n, 3);
  });

  it('--identical marks a target as expected, and a token limit keeps violations first', async () => {
    const d = await buildReportData({ input: scores, log, identical: ['other=base'], tokenRecords: 1, bootstrap: { b: 0 } });
    assert.equal(d.meta.behavior.name, 'base', 'the behavior comes from the pair');
    const other = d.policies.find((p) => p.name === 'other')!;
    assert.equal(other.identical.source, 'flag');
    // r1 (+1), r2 (−1) and r4 (not scored: not finite) break it; r3 (0) holds.
    assert.deepEqual(other.identical.violations.map((v) => [v.record, v.log_weight]), [['r1', 1], ['r2', -1], ['r4', null]]);
    assert.equal(d.tokens.included, 1);
    assert.match(d.tokens.selection, /1 of 4 records/);
    const row = d.tokens.records[0].row;
    assert.ok([0, 1].includes(row), 'the largest |log w| among the identity violations');
  });

  it('says what is wrong with unusable inputs', async () => {
    await assert.rejects(buildReportData({ input: scores }), (e: Error) => e instanceof ReportInputError && /which policy is the behavior/.test(e.message));
    await assert.rejects(buildReportData({ input: scores, behavior: 'nope' }), /no scores/);
    await assert.rejects(buildReportData({ input: scores, behavior: 'base', identical: ['clone=other'] }), /must be the behavior/);
    await assert.rejects(buildReportData({ input: log }), /no target|carries no/i);
    assert.throws(() => parseIdenticalPairs(['clone']), /TARGET=BEHAVIOR/);
  });

  it('histogram: equal bins, all values counted; one bin when all equal', () => {
    const h = histogram([0, 1, 2, 3, null, 4], 4)!;
    assert.deepEqual(h.counts, [1, 1, 1, 2]);
    assert.equal(h.lo, 0);
    assert.equal(h.width, 1);
    assert.deepEqual(histogram([0, 0, 0])!.counts, [3]);
    assert.equal(histogram([null]), null);
  });

  it('HTML: data inlined with < escaped, strict CSP with a nonce, no network', async () => {
    const d = await buildReportData({ input: scores, log, behavior: 'base', bootstrap: { b: 0 } });
    d.records[1].id = '</script><script>alert(1)</script>';
    const html = reportHtml(d, { js: 'console.log(1)', css: 'body{}' }, 'NONCE123');
    assert.ok(!html.includes('<script>alert(1)'), 'a log string cannot close the data element');
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-NONCE123'; style-src 'nonce-NONCE123'/);
    assert.equal((html.match(/<script/g) ?? []).length, 2);
    assert.ok(!/\b(src|href)=/.test(html), 'nothing loaded from anywhere');
    const m = /<script type="application\/json" id="cje-data">([\s\S]*?)<\/script>/.exec(html)!;
    assert.equal(JSON.parse(m[1]).records[1].id, '</script><script>alert(1)</script>');
    assert.equal(jsonForScript('a\u2028<'), '"a\\u2028\\u003c"');
  });

  describe('the real arena log (cje-arena-sample)', () => {
    before(function () {
      if (!fs.existsSync(ARENA)) this.skip();
    });

    it('clone violations are exactly the records where clone’s logged log-prob differs from base_policy_logprob', async () => {
      // Independent reference: read the JSONL directly.
      const expected: { record: string; line: number; lw: number }[] = [];
      fs.readFileSync(ARENA, 'utf8')
        .split('\n')
        .forEach((text, i) => {
          if (!text.trim()) return;
          const r = JSON.parse(text);
          const d = r.target_policy_logprobs.clone - r.base_policy_logprob;
          if (!(Math.abs(d) <= 1e-6)) expected.push({ record: r.metadata.prompt_id, line: i + 1, lw: d });
        });
      assert.ok(expected.length > 0 && expected.length < 1000);

      const d = await buildReportData({ input: ARENA, bootstrap: { b: 0 } });
      assert.equal(d.meta.input_kind, 'log');
      assert.deepEqual(d.meta.targets, ['clone', 'parallel_universe_prompt', 'unhelpful']);
      const clone = d.policies[0];
      assert.equal(clone.identical.expected, false);
      assert.equal(clone.identical.probable, true, 'equal on most records: probably meant to be identical');
      assert.equal(clone.identical.violation_count, expected.length);
      assert.deepEqual(
        clone.identical.violations.map((v) => [v.record, v.line, v.log_weight]),
        expected.map((e) => [e.record, e.line, e.lw]),
      );
      assert.equal(d.policies[1].identical.probable, false);
      assert.equal(d.tokens.available, false);

      const flagged = await buildReportData({ input: ARENA, identical: ['clone=base'], bootstrap: { b: 0 } });
      assert.equal(flagged.policies[0].identical.expected, true);
      assert.equal(flagged.policies[0].identical.source, 'flag');
      assert.equal(flagged.policies[0].identical.violation_count, expected.length);
    });

    it('cje report writes the HTML and JSON, prints the summary, exits 1 when a required identity breaks', async () => {
      const out = new Sink();
      const err = new Sink();
      const html = path.join(dir, 'arena.html');
      const json = path.join(dir, 'arena.json');
      const code = await reportCommand([ARENA, '--out', html, '--json', json, '--bootstrap', '0'], { out, err });
      assert.equal(code, 0, err.text);
      assert.match(out.text, /clone .*probably meant/);
      assert.match(out.text, /wrote .*arena\.html/);
      assert.ok(fs.statSync(html).size > 10_000);
      const j = JSON.parse(fs.readFileSync(json, 'utf8'));
      for (const k of ['name', 'n', 'ess_fraction', 'khat', 'khat_threshold', 'hill_alpha', 'max_weight_share', 'identical']) assert.ok(k in j.policies[0], k);
      assert.ok('violations' in j.policies[0].identical && 'expected' in j.policies[0].identical);
      const code2 = await reportCommand([ARENA, '--identical', 'clone=base', '--out', html, '--bootstrap', '0', '-q'], { out: new Sink(), err });
      assert.equal(code2, 1);
    });
  });
});
