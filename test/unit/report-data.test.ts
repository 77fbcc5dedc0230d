import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { reportCommand } from '../../src/cli/report';
import { packageRoot } from '../../src/core/package-root';
import { APPROXIMATE_REASON, ReportInputError, buildReportData, histogram, parseIdenticalPairs, suspectKind, type ReportData } from '../../src/core/report-data';
import { jsonForScript, reportHtml } from '../../src/core/report-html';
import type { ScoreLine, SpanInfo } from '../../src/core/types';
import { Sink } from '../support/cli-run';

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
      // --json carries CJE 0.3's overlap diagnostics per policy under their names.
      for (const p of j.policies) for (const k of ['hellinger_affinity', 'ttc']) assert.deepEqual(Object.keys(p[k]).slice(0, 3), ['value', 'status', 'thresholds'], `${p.name}.${k}`);
      const code2 = await reportCommand([ARENA, '--identical', 'clone=base', '--out', html, '--bootstrap', '0', '-q'], { out: new Sink(), err });
      assert.equal(code2, 1);
    });
  });

  describe('suspect and approximate scores, and the seam effect', () => {
    // Five records; base is the behavior, tgt scores the joined text and tgtsep the same
    // text tokenized apart (seam group gT). Totals (one token per line, for brevity):
    //            r1     r2     r3            r4               r5
    //   base    −10    −5 S   −7.5          −3 A+S           −4
    //   tgt      −9 S  −6 S   −8 S, then −7.5 (latest wins)  −2.5   −4.25
    //   tgtsep   −9.5  −6     HTTP 500      −2.25 A (old)    −4
    // S: suspect, A: approximate (span.approximate). tgtsep's r4 is an older line: no
    // suspect, no checks, no seam_group; its approximate span still counts.
    let sdir: string;
    let sfile: string;
    const PROMPT_3 = 'prompt token 3 ("a:b") has log-prob 0.5: the server\'s numbers are doubtful';
    const PROMPT_7 = 'prompt token 7 ("x") has log-prob 0.2: the server\'s numbers are doubtful';
    const APPROX = "approximate: the response was located by counting the prompt's tokens, not by the echoed text";
    const ZERO = 'every log-prob of the 1-token span is 0 (|log p| ≤ 1e-6): a certain token, or a server that sends zeros';
    const AMBIG = "ambiguous span: the byte pieces at its edge fit 2 placements; the server's offsets chose one";
    const span = (tokenization: 'joined' | 'separate', approximate = false): SpanInfo => ({
      method: approximate ? 'prefix_count' : tokenization === 'separate' ? 'token_ids' : 'text_offset',
      approximate,
      firstToken: 2,
      endToken: 3,
      endOfTurnScored: true,
      tokenization,
    });
    const line = (policy: string, l: number, lp: number | null, extra: Partial<ScoreLine> = {}): string => {
      const s: ScoreLine = {
        key: `k${l}-${policy}`,
        record: `r${l}`,
        line: l,
        policy,
        fingerprint: `fp-${policy}`,
        logprob: lp,
        tokens: lp === null ? [] : ['x'],
        token_logprobs: lp === null ? [] : [lp],
        span: lp === null ? null : span(policy === 'tgtsep' ? 'separate' : 'joined'),
        error: lp === null ? 'HTTP 500' : null,
        checks: 1,
        ...(policy === 'base' ? {} : { seam_group: 'gT' }),
        model: 'm',
        template: 'chatml',
        provider: 'local',
        scored_at: '2025-01-01T00:00:00Z',
        ...extra,
      };
      return JSON.stringify(s);
    };
    const oldApprox = (): string => {
      const s = JSON.parse(line('tgtsep', 4, -2.25, { span: span('separate', true) }));
      delete s.checks;
      delete s.seam_group;
      return JSON.stringify(s);
    };

    before(() => {
      sdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-report-sus-'));
      sfile = path.join(sdir, 's.scores.jsonl');
      const L = [
        line('base', 1, -10),
        line('tgt', 1, -9, { suspect: [ZERO] }),
        line('tgtsep', 1, -9.5),
        line('base', 2, -5, { suspect: [PROMPT_3] }),
        line('tgt', 2, -6, { suspect: [AMBIG] }),
        line('tgtsep', 2, -6),
        line('base', 3, -7.5),
        line('tgt', 3, -8, { suspect: [AMBIG] }),
        line('tgtsep', 3, null),
        line('tgt', 3, -7.5),
        line('base', 4, -3, { span: span('joined', true), suspect: [APPROX, PROMPT_7] }),
        line('tgt', 4, -2.5),
        oldApprox(),
        line('base', 5, -4),
        line('tgt', 5, -4.25),
        line('tgtsep', 5, -4),
      ];
      fs.writeFileSync(sfile, L.join('\n') + '\n');
    });
    after(() => fs.rmSync(sdir, { recursive: true, force: true }));

    it('reason kinds: the text before the first colon outside a quoted token, tokens and numbers generalised', () => {
      assert.equal(suspectKind(PROMPT_3), 'prompt token N ("…") has log-prob N');
      assert.equal(suspectKind(PROMPT_7), 'prompt token N ("…") has log-prob N');
      assert.equal(suspectKind(APPROX), 'approximate');
      assert.equal(suspectKind(APPROXIMATE_REASON), 'approximate');
      assert.equal(suspectKind(AMBIG), 'ambiguous span');
      assert.equal(suspectKind(ZERO), 'every log-prob of the 1-token span is 0 (|log p| ≤ 1e-6)');
      assert.equal(suspectKind('prompt token 2 ("\\":") has log-prob -1e-7: x'), 'prompt token N ("…") has log-prob N');
      assert.equal(suspectKind('no colon at all'), 'no colon at all');
    });

    it('counts suspect and approximate scores per policy and per weight, flags the rows (hand count)', async () => {
      const d = await buildReportData({ input: sfile, behavior: 'base', bootstrap: { b: 0 } });
      assert.deepEqual(d.meta.targets, ['tgt', 'tgtsep']);
      const PK = 'prompt token N ("…") has log-prob N';
      const ZK = 'every log-prob of the 1-token span is 0 (|log p| ≤ 1e-6)';

      // base: r2 (prompt token), r4 (approximate + prompt token).
      const b = d.meta.behavior;
      assert.equal(b.suspect, 2);
      assert.equal(b.approximate, 1);
      assert.equal(b.unchecked, 0);
      assert.deepEqual(b.suspect_reasons, [
        { kind: PK, count: 2, example: PROMPT_3 },
        { kind: 'approximate', count: 1, example: APPROX },
      ]);

      const [tgt, sep] = d.policies;
      // tgt: r1 (zero span), r2 (ambiguous); r3's suspect line was replaced by a clean one.
      assert.equal(tgt.suspect, 2);
      assert.equal(tgt.approximate, 0);
      assert.equal(tgt.unchecked, 0);
      assert.deepEqual(tgt.suspect_reasons.map((r) => [r.kind, r.count]), [['ambiguous span', 1], [ZK, 1]]);
      // tgt's 5 weights: r1 (target), r2 (both), r4 (behavior, approximate) rest on suspect scores.
      assert.equal(tgt.n, 5);
      assert.deepEqual(tgt.suspect_weights, {
        n: 3,
        approximate: 1,
        behavior: 2,
        target: 2,
        reasons: [
          { kind: PK, count: 2, example: PROMPT_3 },
          { kind: 'ambiguous span', count: 1, example: AMBIG },
          { kind: 'approximate', count: 1, example: APPROX },
          { kind: ZK, count: 1, example: ZERO },
        ],
      });

      // tgtsep: r4 only, approximate (an older line: the reason is written for it, and it predates the checks).
      assert.equal(sep.suspect, 1);
      assert.equal(sep.approximate, 1);
      assert.equal(sep.unchecked, 1);
      assert.deepEqual(sep.suspect_reasons, [{ kind: 'approximate', count: 1, example: APPROXIMATE_REASON }]);
      // tgtsep's 4 weights (r3 failed): r2 (behavior) and r4 (both, both approximate).
      assert.equal(sep.n, 4);
      assert.equal(sep.score_errors, 1);
      assert.deepEqual(sep.suspect_weights, {
        n: 2,
        approximate: 1,
        behavior: 2,
        target: 1,
        reasons: [
          { kind: 'approximate', count: 2, example: APPROX },
          { kind: PK, count: 2, example: PROMPT_3 },
        ],
      });

      // Rows: 0 = behavior, 1 = tgt, 2 = tgtsep; absent where nothing is suspect.
      assert.deepEqual(d.records.map((r) => r.sus ?? null), [[1], [0, 1], null, [0, 2], null]);
      assert.deepEqual(d.records.map((r) => r.apx ?? null), [null, null, null, [0, 2], null]);
      assert.ok(!('sus' in d.records[2]) && !('apx' in d.records[2]));
      // The numbers themselves are the kept ones: r3's latest tgt line.
      assert.deepEqual(d.records.map((r) => r.lw), [[1, 0.5], [-1, -1], [0, null], [0.5, 0.75], [-0.25, 0]]);
    });

    it('seam effect of the joined/separate pair (hand calculation)', async () => {
      const d = await buildReportData({ input: sfile, behavior: 'base', bootstrap: { b: 0 }, bins: 3 });
      assert.equal(d.seam.length, 1);
      const q = d.seam[0];
      // In group gT both have r1, r2, r5; r3 (tgtsep failed) and r4 (tgtsep's old line has no group) are excluded.
      // Δ = joined − separate: r1 −9 − (−9.5) = 0.5, r2 −6 − (−6) = 0, r5 −4.25 − (−4) = −0.25.
      assert.equal(q.seam_group, 'gT');
      assert.equal(q.joined, 'tgt');
      assert.equal(q.separate, 'tgtsep');
      assert.equal(q.n, 3);
      assert.equal(q.excluded, 2);
      assert.ok(Math.abs(q.mean! - 0.25 / 3) < 1e-15); // (0.5 + 0 − 0.25) / 3
      assert.equal(q.mean_abs, 0.25); // (0.5 + 0 + 0.25) / 3
      assert.equal(q.median_abs, 0.25); // of 0, 0.25, 0.5
      assert.equal(q.max_abs, 0.5);
      assert.equal(q.differ, 2);
      assert.deepEqual(q.top, [
        { record: 'r1', line: 1, delta: 0.5 },
        { record: 'r5', line: 5, delta: -0.25 },
      ]);
      // Three bins over [−0.25, 0.5], width 0.25: −0.25 | 0 | 0.5 (the top edge goes in the last bin).
      assert.deepEqual(q.histogram, { lo: -0.25, width: 0.25, counts: [1, 1, 1] });
    });

    it('cje report --json carries suspect and approximate per policy; the summary warns', async () => {
      const out = new Sink();
      const err = new Sink();
      const json = path.join(sdir, 'r.json');
      const code = await reportCommand([sfile, '--behavior', 'base', '--out', path.join(sdir, 'r.html'), '--json', json, '--bootstrap', '0'], { out, err });
      assert.equal(code, 0, err.text);
      const j = JSON.parse(fs.readFileSync(json, 'utf8')) as ReportData;
      assert.deepEqual(j.policies.map((p) => [p.name, p.suspect, p.approximate]), [['tgt', 2, 0], ['tgtsep', 1, 1]]);
      assert.deepEqual([j.meta.behavior.suspect, j.meta.behavior.approximate], [2, 1]);
      assert.equal(j.seam[0].n, 3);
      assert.match(out.text, /WARNING tgt: 3 of the 5 weights rest on suspect scores \(1 approximate; behavior 2, target 2\)/);
      assert.match(out.text, /seam effect tgt \(joined\) − tgtsep \(separate\): 3 records, 2 differ/);
    });

    it('a log input has no suspect scores and no seam pairs', async () => {
      const lf = path.join(sdir, 'l.jsonl');
      fs.writeFileSync(lf, JSON.stringify({ prompt: 'q', response: 'a', base_policy_logprob: -1, target_policy_logprobs: { t: -2 } }) + '\n');
      const dl = await buildReportData({ input: lf, bootstrap: { b: 0 } });
      assert.deepEqual([dl.meta.behavior.suspect, dl.meta.behavior.approximate, dl.meta.behavior.unchecked], [0, 0, 0]);
      assert.deepEqual([dl.policies[0].suspect, dl.policies[0].unchecked, dl.policies[0].suspect_weights.n], [0, 0, 0]);
      assert.deepEqual(dl.seam, []);
      assert.ok(!('sus' in dl.records[0]));
    });
  });

  describe('noise floor, logged identity, too few records, IPS range, top alternatives (scores file written by hand)', () => {
    let ndir: string;
    // Six records. Behavior base; clone has base's fingerprint (identity expected) and differs on
    // r2 by −0.25, on r4 by +1 and on r5 by −0.05; other = base + 3 everywhere (w = e³ ≈ 20.09).
    const base = [-10, -5, -7.5, -3, -8, -6];
    const clone = [-10, -5.25, -7.5, -2, -8.05, -6];
    const other = base.map((b) => b + 3);
    const judges = [0.2, 0.4, 0.6, 0.8, 1.0, 0.0];
    const sl = (policy: string, fp: string, i: number, lp: number, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        key: `k${i}${policy}`, record: `r${i + 1}`, line: i + 1, policy, fingerprint: fp, logprob: lp,
        tokens: ['Hel', 'lo'], token_logprobs: [lp / 2, lp / 2], span: null, error: null,
        model: 'm', template: 'chatml', provider: 'local', scored_at: '2025-01-01T00:00:00Z', ...extra,
      });
    const profile = (extra: Record<string, unknown>) =>
      JSON.stringify({
        kind: 'endpoint_profile', version: 1, provider: 'openai-compatible', baseURL: 'http://127.0.0.1:8000/v1', model: 'm',
        policies: ['base', 'clone'], measured_at: '2026-12-01T22:00:00.000Z',
        probes: { echo: true, maxTokens: 0, promptLogprobs: true, offsetUnit: 'codepoint', tokenIdPrompts: null, addsBos: true, doubleBos: false, deterministic: false, noiseFloor: 0.5 },
        reasons: { tokenIdPrompts: 'HTTP 400: token ids not accepted' }, blockers: [], warnings: ['not deterministic'], ...extra,
      });
    const scoreLines = () => {
      const L: string[] = [];
      for (let i = 0; i < 6; i++) {
        // r4's behavior line keeps the server's top alternatives (a policy with topLogprobs > 1).
        L.push(sl('base', 'fpA', i, base[i], i === 3 ? { top_logprobs: [{ Hel: -1.5, Hi: -0.5, He: -2 }, null] } : {}));
        L.push(sl('clone', 'fpA', i, clone[i]));
        L.push(sl('other', 'fpB', i, other[i]));
      }
      return L;
    };
    const write = (name: string, lines: string[]) => {
      const f = path.join(ndir, name);
      fs.writeFileSync(f, lines.join('\n') + '\n');
      return f;
    };
    let nlog: string;

    before(() => {
      ndir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-report-noise-'));
      // The log's own log-probs: clone differs from base on r2 (−22.5 vs −21: Δ −1.5); r5 by 1e-7 (≤ 1e-6,
      // not a difference); r4 has no logged clone, r6 nothing logged. So n = 4 (r1 r2 r3 r5), 1 differs.
      const logged: [number | null, number | null][] = [[-20, -20], [-21, -22.5], [-1, -1], [-4, null], [-3, -3 + 1e-7], [null, null]];
      nlog = path.join(ndir, 'log.jsonl');
      fs.writeFileSync(
        nlog,
        judges
          .map((j, i) => {
            const r: Record<string, unknown> = { prompt_id: `r${i + 1}`, prompt: 'q', response: 'Hello', judge_score: j };
            if (logged[i][0] !== null) r.base_policy_logprob = logged[i][0];
            if (logged[i][1] !== null) r.target_policy_logprobs = { clone: logged[i][1] };
            return JSON.stringify(r);
          })
          .join('\n') + '\n',
      );
    });
    after(() => fs.rmSync(ndir, { recursive: true, force: true }));

    it('repeat lines give the floor: clone’s violations 0.25 and 0.05 are within 0.3 nats, 1.0 is beyond', async () => {
      const f = write('repeat.scores.jsonl', [
        profile({}), // first line: the file is still read as a scores file
        ...scoreLines(),
        // Repeats: base r1 spread −9.9 − (−10.2) = 0.3, base r3 0.1, clone r2 0.05.
        JSON.stringify({ kind: 'repeat', policy: 'base', fingerprint: 'fpA', record: 'r1', line: 1, key: 'k0base', logprobs: [-10, -10.2, -9.9] }),
        JSON.stringify({ kind: 'repeat', policy: 'base', fingerprint: 'fpA', record: 'r3', line: 3, key: 'k2base', logprobs: [-7.5, -7.5, -7.6] }),
        JSON.stringify({ kind: 'repeat', policy: 'clone', fingerprint: 'fpA', record: 'r2', line: 2, key: 'k1clone', logprobs: [-5.3, -5.25, -5.3] }),
        JSON.stringify({ kind: 'some_future_kind', x: 1 }),
        JSON.stringify({ kind: 'endpoint_profile', provider: 'p' }),
      ]);
      const d = await buildReportData({ input: f, log: nlog, behavior: 'base', bootstrap: { b: 0 } });
      assert.equal(d.meta.input_kind, 'scores');
      assert.deepEqual(d.meta.targets, ['clone', 'other']);
      assert.equal(d.meta.n_records, 6, 'kind lines are not records');
      // The unknown kind is skipped (a note, not a bad line); the malformed profile is a bad line naming its field.
      assert.equal(d.meta.issue_count, 1);
      assert.equal(d.meta.issues[0].line, 24);
      assert.match(d.meta.issues[0].reason, /endpoint_profile: field "baseURL"/);
      assert.ok(d.meta.notes.some((n) => /1 line\(s\) of kind "some_future_kind"/.test(n)));

      const id = d.policies[0].identical;
      assert.equal(id.violation_count, 3);
      assert.equal(id.noise_floor!.source, 'repeat');
      assert.ok(Math.abs(id.noise_floor!.value - 0.3) < 1e-12, `floor ${id.noise_floor!.value}`);
      assert.equal(id.noise_floor!.n, 3);
      assert.deepEqual(id.noise_floor!.policies, ['clone', 'base']);
      assert.equal(id.within_noise, 2);
      assert.equal(id.beyond_noise, 1);
      assert.deepEqual(id.violations.map((v) => [v.record, v.within_noise]), [['r2', true], ['r4', false], ['r5', true]]);
      assert.match(id.noise_verdict!, /^2 within the endpoint's nondeterminism \(max \|Δ\| 0\.300 nats over 3 repeated record scorings\); 1 beyond the endpoint's measured nondeterminism .*a scoring error \(template, BOS, seam\)$/);
      // other is not expected identical: no floor, no classification.
      assert.equal(d.policies[1].identical.noise_floor, null);

      // Repeat spreads per policy: base (0.3, 0.1) → median 0.2, max 0.3; clone (0.05).
      assert.deepEqual(d.repeats.map((r) => [r.policy, r.n, r.k]), [['base', 2, 3], ['clone', 1, 3]]);
      assert.ok(Math.abs(d.repeats[0].median - 0.2) < 1e-12);
      assert.ok(Math.abs(d.repeats[0].max - 0.3) < 1e-12);
      assert.equal(d.repeats[0].top[0].record, 'r1');
      assert.equal(d.repeats[0].histogram!.counts.reduce((a, b) => a + b, 0), 2);
      assert.equal(d.endpoints.length, 1);
      assert.equal(d.endpoints[0].line, 1);
      assert.equal(d.endpoints[0].probes.tokenIdPrompts, null);
      assert.equal(d.endpoints[0].reasons.tokenIdPrompts, 'HTTP 400: token ids not accepted');

      // The log's own identity check (cje score's warning): 1 of 4 differs, by −1.5.
      assert.deepEqual(id.logged && { n: id.logged.n, differ: id.logged.differ, max_abs: id.logged.max_abs }, { n: 4, differ: 1, max_abs: 1.5 });
      assert.deepEqual(id.logged!.violations, [{ record: 'r2', line: 2, logged: -22.5, logged_behavior: -21, log_weight: -1.5 }]);

      // Six records: below 21, no grade and no k̂ threshold.
      for (const p of d.policies) {
        assert.equal(p.too_few_records, true);
        assert.equal(p.min_records, 21);
        assert.equal(p.ess_grade, null);
        assert.equal(p.khat_threshold, null);
      }
      // Judge scores span [0, 1]. other: every w = e³, IPS = e³ · mean(y) = 20.0855 · 0.5 = 10.04 > 1.
      // clone: IPS = (0.2 + 0.4·e^−0.25 + 0.6 + 0.8·e + 1.0·e^−0.05 + 0)/6 = 0.7062, inside.
      assert.deepEqual(d.meta.judge_range, { min: 0, max: 1 });
      assert.ok(Math.abs(d.policies[1].estimates!.ips! - Math.exp(3) * 0.5) < 1e-9);
      assert.equal(d.policies[1].ips_outside_judge_range, true);
      assert.ok(Math.abs(d.policies[0].estimates!.ips! - (0.2 + 0.4 * Math.exp(-0.25) + 0.6 + 0.8 * Math.E + Math.exp(-0.05)) / 6) < 1e-9);
      assert.equal(d.policies[0].ips_outside_judge_range, false);

      // Top alternatives travel with r4's behavior tokens, aligned with them.
      const r4 = d.tokens.records.find((t) => t.row === 3)!;
      assert.deepEqual(r4.behavior.top_logprobs, [{ Hel: -1.5, Hi: -0.5, He: -2 }, null]);
      assert.equal(r4.targets.clone.top_logprobs, undefined);
      assert.equal(d.tokens.records.find((t) => t.row === 0)!.behavior.top_logprobs, undefined);

      // cje report's text tells the same story, and exits 1: the log's identical weights are not 1.
      const out = new Sink();
      const err = new Sink();
      const code = await reportCommand([f, '--log', nlog, '--behavior', 'base', '--out', path.join(ndir, 'r.html'), '--bootstrap', '0'], { out, err });
      assert.equal(code, 1);
      assert.match(out.text, /2 within the endpoint's nondeterminism/);
      assert.match(out.text, /WARNING clone: the log stores a different log-prob for it than for "base" on 1 of 4 records/);
      assert.match(out.text, /too few records/);
    });

    it('without repeats the latest profile of each endpoint gives the floor, for the policies it lists', async () => {
      const f = write('profile.scores.jsonl', [
        profile({}), // noiseFloor 0.5, replaced below by the same endpoint's later profile
        JSON.stringify({ ...JSON.parse(profile({})), baseURL: 'http://127.0.0.1:9000/v1', policies: ['other'], probes: { noiseFloor: 2 } }),
        ...scoreLines(),
        profile({ probes: { deterministic: false, noiseFloor: 0.08 }, measured_at: '2026-12-02T00:00:00.000Z' }),
      ]);
      const d = await buildReportData({ input: f, behavior: 'base', bootstrap: { b: 0 } });
      assert.equal(d.meta.issue_count, 0);
      assert.deepEqual(d.endpoints.map((e) => [e.baseURL, e.probes.noiseFloor]), [['http://127.0.0.1:9000/v1', 2], ['http://127.0.0.1:8000/v1', 0.08]]);
      const id = d.policies[0].identical;
      // Floor 0.08 (the 2-nat endpoint scores only "other"): 0.05 within; 0.25 and 1.0 beyond.
      assert.deepEqual(id.noise_floor, { value: 0.08, source: 'endpoint_profile', policies: ['clone', 'base'], n: 1 });
      assert.deepEqual([id.within_noise, id.beyond_noise], [1, 2]);
      assert.deepEqual(id.violations.map((v) => v.within_noise), [false, false, true]);
      assert.match(id.noise_verdict!, /measured by the endpoint probe/);
      assert.equal(id.logged, null, 'no log given');
      assert.deepEqual(d.repeats, []);
    });

    it('with no profile and no repeat lines the verdict says how to measure a floor', async () => {
      const d = await buildReportData({ input: write('plain.scores.jsonl', scoreLines()), behavior: 'base', bootstrap: { b: 0 } });
      const id = d.policies[0].identical;
      assert.equal(id.noise_floor, null);
      assert.deepEqual([id.within_noise, id.beyond_noise], [0, 0]);
      assert.deepEqual(id.violations.map((v) => v.within_noise), [null, null, null]);
      assert.match(id.noise_verdict!, /cje doctor.*cje score --repeat K/);
      assert.deepEqual([d.endpoints, d.repeats], [[], []]);
    });
  });

  it('older score lines (no suspect, checks, seam_group) give the same report as before', async () => {
    // The lines cje score wrote before the answer checks, and the report the code of that time
    // made of them (GOLDEN, written by it with the same options). Only the new keys may be added,
    // and they are all zero or empty here.
    const gdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-report-old-'));
    try {
      const old = (policy: string, fp: string, l: number, lps: number[] | null, extra: Record<string, unknown> = {}) =>
        JSON.stringify({
          key: `k${l}${policy}`, record: `r${l}`, line: l, policy, fingerprint: fp,
          logprob: lps ? lps.reduce((a, b) => a + b, 0) : null, tokens: lps ? lps.map((_, k) => `t${k}`) : [], token_logprobs: lps ?? [],
          span: lps ? { method: 'text_offset', offsetUnit: 'utf16', approximate: false, firstToken: 3, endToken: 3 + lps.length, endOfTurnScored: true, tokenization: 'joined' } : null,
          error: lps ? null : 'HTTP 500', model: 'm', template: 'chatml', provider: 'local', scored_at: '2025-01-01T00:00:00Z', ...extra,
        });
      const base = [[-1, -2], [-0.5, -0.25], [-3, -1], [-2, -2], [-0.1, -4]];
      const tgt = [[-1.5, -2], [-0.5, -0.75], [-2, -1], null, [-0.1, -3]];
      const L: string[] = [];
      for (let i = 0; i < 5; i++) {
        L.push(old('base', 'fpA', i + 1, base[i], { entropy: [0.5, 1.5] }));
        L.push(old('tgt', 'fpB', i + 1, tgt[i]));
      }
      fs.writeFileSync(path.join(gdir, 's.jsonl'), L.join('\n') + '\n');
      fs.writeFileSync(
        path.join(gdir, 'log.jsonl'),
        [0.1, 0.9, 0.5, 0.3, 0.7].map((j, i) => JSON.stringify({ prompt_id: `r${i + 1}`, prompt: 'q', response: 'x'.repeat(i + 1), judge_score: j })).join('\n') + '\n',
      );
      const d = await buildReportData({ input: path.join(gdir, 's.jsonl'), log: path.join(gdir, 'log.jsonl'), behavior: 'base', bootstrap: { b: 0 }, bins: 4, now: new Date('2025-01-01T00:00:00Z') });
      const got = JSON.parse(JSON.stringify(d));
      got.meta.input = 'S';
      got.meta.log = 'L';
      // The additions, all empty for these lines (unchecked counts the kept scores: they predate the checks).
      assert.deepEqual(got.seam, []);
      delete got.seam;
      assert.deepEqual(
        [got.meta.behavior.suspect, got.meta.behavior.approximate, got.meta.behavior.suspect_reasons, got.meta.behavior.unchecked],
        [0, 0, [], 5],
      );
      for (const k of ['suspect', 'approximate', 'suspect_reasons', 'unchecked']) delete got.meta.behavior[k];
      const p = got.policies[0];
      assert.deepEqual([p.suspect, p.approximate, p.suspect_reasons, p.unchecked], [0, 0, [], 4]);
      assert.deepEqual(p.suspect_weights, { n: 0, approximate: 0, behavior: 0, target: 0, reasons: [] });
      for (const k of ['suspect', 'approximate', 'suspect_reasons', 'unchecked', 'suspect_weights']) delete p[k];
      // Later additions: endpoint profiles, repeats, the judge range, IPS range, logged identity, noise floor.
      assert.deepEqual([got.endpoints, got.repeats], [[], []]);
      delete got.endpoints;
      delete got.repeats;
      // The record table's selection: 5 records are all of them.
      assert.deepEqual([got.record_table.all, got.record_table.included, got.record_table.total], [true, 5, 5]);
      delete got.record_table;
      assert.deepEqual(got.meta.judge_range, { min: 0.1, max: 0.9 });
      delete got.meta.judge_range;
      // IPS 0.967 (in GOLDEN) lies above the largest judge score 0.9.
      assert.equal(p.ips_outside_judge_range, true);
      delete p.ips_outside_judge_range;
      assert.deepEqual([p.identical.logged, p.identical.noise_floor, p.identical.within_noise, p.identical.beyond_noise, p.identical.noise_verdict], [null, null, 0, 0, null]);
      for (const k of ['logged', 'noise_floor', 'within_noise', 'beyond_noise', 'noise_verdict']) delete p.identical[k];
      // CJE 0.3's overlap diagnostics, by hand: log w = (−0.5, −0.5, 1, 1) on records 1, 2, 3, 5, so
      // E[√w]/√E[w] = ((e^−0.25 + e^0.5)/2) / √((e^−0.5 + e)/2) ≈ 0.9414. TTC per target token (2 each):
      // s = (1.75, 0.625, 1.5, 1.55), target mass (0.091, 0.091, 0.409, 0.409); in increasing s
      // 0.091, 0.5, 0.909 ≥ 0.9 at s = 1.55, so T = records 2, 3, 5: TTC 3/4. Too few records to grade.
      const e = Math.E;
      assert.ok(Math.abs(p.hellinger_affinity.value - (Math.exp(-0.25) + Math.exp(0.5)) / 2 / Math.sqrt((Math.exp(-0.5) + e) / 2)) < 1e-12);
      assert.deepEqual([p.hellinger_affinity.status, p.ttc.value, p.ttc.status, p.ttc.length_normalizer, p.ttc.n_in_region], [null, 0.75, null, 'tokens', 3]);
      delete p.hellinger_affinity;
      delete p.ttc;
      // Changed on purpose: 4 records are too few for a grade or a k̂ threshold (it was "good" and −0.66).
      assert.deepEqual([p.too_few_records, p.min_records, p.ess_grade, p.khat_threshold], [true, 21, null, null]);
      delete p.too_few_records;
      delete p.min_records;
      p.ess_grade = 'good';
      p.khat_threshold = -0.6609640474436811;
      assert.deepEqual(got, JSON.parse(GOLDEN));
    } finally {
      fs.rmSync(gdir, { recursive: true, force: true });
    }
  });
});

const GOLDEN = String.raw`{"format":"cje-report","version":1,"meta":{"tool":"cje-inspector","generated_at":"2025-01-01T00:00:00.000Z","input":"S","input_kind":"scores","log":"L","config":null,"behavior":{"name":"base","fingerprint":"fpA","logged_vs_rescored":null,"score_errors":0},"targets":["tgt"],"n_records":5,"n_judged":5,"issues":[],"issue_count":0,"notes":[]},"policies":[{"name":"tgt","n":4,"n_records":5,"ess":2.85019206988456,"ess_fraction":0.71254801747114,"ess_grade":"good","khat":null,"khat_threshold":-0.6609640474436811,"khat_band":"undefined","khat_flagged":false,"khat_message":"Tail of 1 draw(s) (M = ceil(min(0.2·S, 3·√S)) with S = 4) is fewer than 5: not enough tail samples to fit the generalized Pareto distribution.","khat_reason":"Tail of 1 draw(s) (M = ceil(min(0.2·S, 3·√S)) with S = 4) is fewer than 5: not enough tail samples to fit the generalized Pareto distribution.","psis_tail_length":1,"sigma":null,"psis_ess":2.85019206988456,"psis_ess_fraction":0.71254801747114,"hill_alpha":null,"hill_k":null,"hill_flags":{"infinite_variance":false,"infinite_mean":false},"hill_reason":"Hill estimate needs n ≥ 50 weights (have 4).","max_weight_share":0.40878723809682194,"top1pct_share":0.40878723809682194,"top1pct_count":1,"max_log_weight":1,"identical":{"expected":false,"probable":false,"passed":null,"match_fraction":0,"tolerance":0.000001,"violation_count":0,"violations":[],"source":null,"causes":[]},"nonfinite":{"null":1,"nan":0,"pos_inf":0,"neg_inf":0,"total":1},"nonfinite_records":[{"record":"r4","kind":"null","source":"target"}],"estimates":{"n":4,"ips":0.9671172134658715,"snips":0.5817574476193643,"ips_ci":null,"snips_ci":null,"level":0.95,"bootstrap_b":0,"seed":12345},"fingerprint":"fpB","histogram":{"lo":-0.5,"width":0.375,"counts":[2,0,0,2]},"logged_vs_rescored":null,"score_errors":1}],"records":[{"id":"r1","line":1,"judge":0.1,"chars":1,"ntok":2,"blp":-3,"lw":[-0.5]},{"id":"r2","line":2,"judge":0.9,"chars":2,"ntok":2,"blp":-0.75,"lw":[-0.5]},{"id":"r3","line":3,"judge":0.5,"chars":3,"ntok":2,"blp":-4,"lw":[1]},{"id":"r4","line":4,"judge":0.3,"chars":4,"ntok":2,"blp":-4,"lw":[null]},{"id":"r5","line":5,"judge":0.7,"chars":5,"ntok":2,"blp":-4.1,"lw":[1]}],"tokens":{"available":true,"total":5,"included":5,"selection":"Per-token data is included for all 5 records that have it.","records":[{"row":0,"behavior":{"tokens":["t0","t1"],"logprobs":[-1,-2]},"targets":{"tgt":{"tokens":null,"logprobs":[-1.5,-2],"aligned":true,"reason":null,"top":[{"position":0,"token":"t0","behavior_logprob":-1,"target_logprob":-1.5,"delta":-0.5},{"position":1,"token":"t1","behavior_logprob":-2,"target_logprob":-2,"delta":0}]}}},{"row":1,"behavior":{"tokens":["t0","t1"],"logprobs":[-0.5,-0.25]},"targets":{"tgt":{"tokens":null,"logprobs":[-0.5,-0.75],"aligned":true,"reason":null,"top":[{"position":1,"token":"t1","behavior_logprob":-0.25,"target_logprob":-0.75,"delta":-0.5},{"position":0,"token":"t0","behavior_logprob":-0.5,"target_logprob":-0.5,"delta":0}]}}},{"row":2,"behavior":{"tokens":["t0","t1"],"logprobs":[-3,-1]},"targets":{"tgt":{"tokens":null,"logprobs":[-2,-1],"aligned":true,"reason":null,"top":[{"position":0,"token":"t0","behavior_logprob":-3,"target_logprob":-2,"delta":1},{"position":1,"token":"t1","behavior_logprob":-1,"target_logprob":-1,"delta":0}]}}},{"row":3,"behavior":{"tokens":["t0","t1"],"logprobs":[-2,-2]},"targets":{}},{"row":4,"behavior":{"tokens":["t0","t1"],"logprobs":[-0.1,-4]},"targets":{"tgt":{"tokens":null,"logprobs":[-0.1,-3],"aligned":true,"reason":null,"top":[{"position":1,"token":"t1","behavior_logprob":-4,"target_logprob":-3,"delta":1},{"position":0,"token":"t0","behavior_logprob":-0.1,"target_logprob":-0.1,"delta":0}]}}}]},"responses":{"chars":{"n":5,"mean_length":3,"by_judge":{"median_judge":0.5,"high":{"n":3,"mean_length":3.3333333333333335},"low":{"n":2,"mean_length":2.5}},"mean_entropy":null,"n_entropy":0},"tokens":[{"policy":"base","n":5,"mean_length":2,"by_judge":{"median_judge":0.5,"high":{"n":3,"mean_length":2},"low":{"n":2,"mean_length":2}},"mean_entropy":1,"n_entropy":5},{"policy":"tgt","n":4,"mean_length":2,"by_judge":{"median_judge":0.6,"high":{"n":2,"mean_length":2},"low":{"n":2,"mean_length":2}},"mean_entropy":null,"n_entropy":0}]}}`;
