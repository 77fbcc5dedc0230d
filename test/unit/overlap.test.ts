/**
 * Tests of src/core/diagnostics/overlap.ts: CJE 0.3's Hellinger affinity and
 * target-typicality coverage (TTC). References, none taken from the code under
 * test: hand calculations written out here; the closed form of the
 * Bhattacharyya coefficient of two Gaussians; a second, direct implementation
 * of CJE's formulas in this file (raw weights, a full sort and a cumulative sum,
 * as cje/diagnostics/overlap.py does with numpy); and the cases cje-eval 0.3's
 * own tests publish (cje/tests/test_cle_diagnostics.py, test_refusal_gates.py).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  HELLINGER_THRESHOLDS,
  TTC_THRESHOLDS,
  chooseLengths,
  computePolicyDiagnostics,
  gradeHellinger,
  gradeTtc,
  hellingerAffinity,
  mulberry32,
  targetTypicalityCoverage,
} from '../../src/core/diagnostics';
import { buildReportData } from '../../src/core/report-data';
import { packageRoot } from '../../src/core/package-root';

const ARENA = path.resolve(packageRoot(), '../shared/data/cje-arena-sample/logged_data.jsonl');

/** CJE's hellinger_affinity, line by line: raw weights, mean one, floor 1e-10, cap 1. */
function refHellinger(lw: number[]): number {
  const w = lw.map((v) => Math.exp(v));
  let mean = 0;
  for (const x of w) mean += x;
  mean /= w.length;
  let a = 0;
  for (const x of w) a += Math.sqrt(Math.max(x / mean, 1e-10));
  return Math.min(a / w.length, 1);
}

/** CJE's compute_ttc, line by line: softmax weights, argsort of the surprisal, cumsum, searchsorted. */
function refTtc(base: number[], target: number[], lengths?: number[], mass = 0.9): number {
  const n = base.length;
  const lw = target.map((t, i) => t - base[i]);
  const m = Math.max(...lw);
  let z = 0;
  for (const v of lw) z += Math.exp(v - m);
  const p = lw.map((v) => Math.exp(v - m) / z);
  const s = target.map((t, i) => (lengths ? -t / lengths[i] : -t));
  const order = s.map((_, i) => i).sort((a, b) => s[a] - s[b]);
  let cum = 0;
  let idx = n; // searchsorted(side='left'): first position with cumulative ≥ mass
  for (let k = 0; k < n; k++) {
    cum += p[order[k]];
    if (cum >= mass) {
      idx = k;
      break;
    }
  }
  const tau = s[order[Math.min(idx, n - 1)]];
  return s.filter((v) => v <= tau).length / n;
}

/** Standard normal draws (Box–Muller) from a seeded uniform generator. */
function normals(n: number, seed: number): number[] {
  const u = mulberry32(seed);
  const out: number[] = [];
  while (out.length < n) {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const t = 2 * Math.PI * u();
    out.push(r * Math.cos(t), r * Math.sin(t));
  }
  return out.slice(0, n);
}

describe('overlap diagnostics (CJE 0.3)', () => {
  describe('Hellinger affinity', () => {
    it('hand calculations on tiny arrays', () => {
      // w = (1, 4): mean 2.5, mean-one (0.4, 1.6), affinity (√0.4 + √1.6)/2 = 1.5·√0.4.
      assert.ok(Math.abs(hellingerAffinity([0, Math.log(4)]) - 1.5 * Math.sqrt(0.4)) < 1e-15);
      assert.ok(Math.abs(1.5 * Math.sqrt(0.4) - 0.9486832980505138) < 1e-15);
      // w = (1, e^-1000): mean-one (2, ~0); CJE floors the second at 1e-10 before √: (√2 + 1e-5)/2.
      assert.ok(Math.abs(hellingerAffinity([0, -1000]) - (Math.SQRT2 + 1e-5) / 2) < 1e-15);
      // Four records, one carrying all but e^-50 of the mass: (√4 + 3·1e-5)/4 = 0.5000075.
      assert.ok(Math.abs(hellingerAffinity([50, 0, 0, 0]) - (2 + 3e-5) / 4) < 1e-12);
    });

    it('identical policies: weights all 1 give exactly 1, at any common offset', () => {
      for (const c of [0, 700, -700]) assert.equal(hellingerAffinity(new Array(1000).fill(c)), 1);
    });

    it('depends on the weights only up to a factor: log-weights of ±700 give the plain-loop value', () => {
      const z = normals(500, 3).map((x) => 2 * x);
      const ref = refHellinger(z);
      for (const c of [700, -700, 650.5]) {
        const a = hellingerAffinity(z.map((v) => v + c));
        assert.ok(Number.isFinite(a) && Math.abs(a - ref) < 1e-12, `offset ${c}: ${a} vs ${ref}`);
      }
    });

    it('agrees with the direct implementation on random weights', () => {
      for (let seed = 1; seed <= 20; seed++) {
        const sd = 0.2 * seed;
        const z = normals(50 + 37 * seed, 100 + seed).map((x) => sd * x);
        const a = hellingerAffinity(z);
        const r = refHellinger(z);
        assert.ok(Math.abs(a - r) <= 1e-13 * r, `seed ${seed}: ${a} vs ${r}`);
      }
    });

    it('ignores non-finite entries and is NaN without any finite one', () => {
      assert.equal(hellingerAffinity([0, NaN, Infinity, 0]), 1);
      assert.ok(Number.isNaN(hellingerAffinity([])));
      assert.ok(Number.isNaN(hellingerAffinity([NaN, -Infinity])));
    });

    it('is the Bhattacharyya coefficient exp(−Δ²/8σ²) of two Gaussians a shift Δ apart', () => {
      // Behavior N(0, σ²), target N(Δ, σ²): for x drawn from the behavior
      // log w(x) = (Δx − Δ²/2)/σ², i.e. log w ~ N(−s²/2, s²) with s = Δ/σ, and
      // BC = ∫√(p q) = exp(−s²/8). The estimate mean(√w)/√mean(w) has, by the delta
      // method, n·Var ≈ Var√w + (A/2)²·Var w − A·Cov(√w, w) with the lognormal moments
      // E[w^k] = exp(k(k−1)s²/2): Var√w = 1 − e^{−s²/4}, Var w = e^{s²} − 1,
      // Cov(√w, w) = e^{3s²/8} − e^{−s²/8}. Tolerance: 5 standard errors.
      const n = 200_000;
      const x = normals(n, 2024);
      for (const [delta, sigma] of [
        [1, 1],
        [1, 2],
        [3, 2],
      ]) {
        const s2 = (delta / sigma) ** 2;
        const lw = x.map((xi) => (delta * sigma * xi - (delta * delta) / 2) / (sigma * sigma));
        const A = Math.exp(-s2 / 8);
        const nVar = 1 - Math.exp(-s2 / 4) + (A / 2) ** 2 * (Math.exp(s2) - 1) - A * (Math.exp((3 * s2) / 8) - Math.exp(-s2 / 8));
        const se = Math.sqrt(nVar / n);
        const got = hellingerAffinity(lw);
        assert.ok(Math.abs(got - A) < 5 * se, `Δ=${delta}, σ=${sigma}: ${got} vs ${A} (SE ${se.toExponential(2)})`);
        // The same draws shifted by 690 nats (weights e^690 overflow nothing here).
        assert.ok(Math.abs(hellingerAffinity(lw.map((v) => v + 690)) - got) < 1e-12);
      }
    });

    it("grades on CJE's ladder: good ≥ 0.5, marginal ≥ 0.35, poor ≥ 0.2, catastrophic below", () => {
      assert.deepEqual(HELLINGER_THRESHOLDS, { good: 0.5, marginal: 0.35, poor: 0.2 });
      const cases: [number, string][] = [
        [1, 'good'],
        [0.5, 'good'],
        [0.4999, 'marginal'],
        [0.35, 'marginal'],
        [0.3499, 'poor'],
        [0.2, 'poor'],
        [0.1999, 'catastrophic'],
        [0, 'catastrophic'],
      ];
      for (const [a, g] of cases) assert.equal(gradeHellinger(a), g, String(a));
      assert.equal(gradeHellinger(NaN), null);
    });

    it("cje-eval's published cases: uniform weights ≈ 1, lognormal(0, 0.3) > 0.9, lognormal(0, 3) < 0.5", () => {
      // test_cle_diagnostics.py, TestHellingerAffinity (its draws are numpy's; ours are our own, n = 1000 as there).
      assert.ok(Math.abs(hellingerAffinity(new Array(1000).fill(0)) - 1) <= 0.01);
      assert.ok(hellingerAffinity(normals(1000, 42).map((z) => 0.3 * z)) > 0.9);
      assert.ok(hellingerAffinity(normals(1000, 42).map((z) => 3 * z)) < 0.5);
    });
  });

  describe('target-typicality coverage', () => {
    it('hand calculation: 5 records, total surprisal', () => {
      // s = −log π′ = 1..5, w ∝ (5, 3, 1.5, 0.3, 0.2) of Σ 10: cumulative target mass in
      // increasing s 0.5, 0.8, 0.95 ≥ 0.9 at s = 3: T = {s ≤ 3}, TTC = 3/5, α = 0.95.
      const t = [-1, -2, -3, -4, -5];
      const lw = [5, 3, 1.5, 0.3, 0.2].map(Math.log);
      const r = targetTypicalityCoverage(lw, t);
      assert.equal(r.ttc, 0.6);
      assert.equal(r.inRegion, 3);
      assert.equal(r.threshold, 3);
      assert.ok(Math.abs(r.alpha - 0.95) < 1e-14);
      // Per unit of length: lengths (1, 1, 1, 4, 5) make s = (1, 2, 3, 1, 1): order 1,1,1,2,3 with
      // mass 0.5, 0.03, 0.02 | 0.3 | 0.15: cumulative 0.55, 0.85, 1.0 → τ = 3, every record in T.
      assert.equal(targetTypicalityCoverage(lw, t, [1, 1, 1, 4, 5]).ttc, 1);
      // With mass 0.5 the first record alone reaches it: τ = 1, T = {s ≤ 1} = the three of s = 1.
      assert.equal(targetTypicalityCoverage(lw, t, [1, 1, 1, 4, 5], 0.5).ttc, 0.6);
    });

    it('identical policies: TTC = ⌈0.9 n⌉ / n (T holds 90% of the mass, the logger puts 1/n on each)', () => {
      for (const n of [10, 20, 21, 100, 999, 2000]) {
        const t = normals(n, n).map((z) => -50 + 10 * z);
        const r = targetTypicalityCoverage(new Array(n).fill(0), t);
        assert.equal(r.inRegion, Math.ceil(0.9 * n - 1e-9), `n = ${n}`);
      }
    });

    it('agrees with the direct implementation (sort + cumulative sum) on random logs, with and without lengths', () => {
      for (let seed = 1; seed <= 30; seed++) {
        const n = 20 + 41 * seed;
        const z = normals(n, seed);
        const e = normals(n, 1000 + seed);
        const base = z.map((v) => -50 + 10 * v);
        const target = base.map((b, i) => b + 0.3 * (1 + (seed % 7)) * e[i] + (seed % 3)); // unequal weights (equal ones: see above)
        const len = z.map((_, i) => 1 + ((i * 7919 + seed) % 300));
        const lw = target.map((t, i) => t - base[i]);
        assert.equal(targetTypicalityCoverage(lw, target).ttc, refTtc(base, target), `seed ${seed} total`);
        assert.equal(targetTypicalityCoverage(lw, target, len).ttc, refTtc(base, target, len), `seed ${seed} per length`);
        for (const mass of [0.5, 0.8, 0.99]) assert.equal(targetTypicalityCoverage(lw, target, len, mass).ttc, refTtc(base, target, len, mass));
      }
    });

    it('ties in the surprisal: all records at the bound are in T, whatever their order', () => {
      // Surprisals with many repeats (lengths 1..4 of log-probs −1..−8).
      const u = mulberry32(7);
      const n = 400;
      const target = Array.from({ length: n }, () => -(1 + Math.floor(u() * 8)));
      const base = target.map(() => -(1 + Math.floor(u() * 8)));
      const len = target.map(() => 1 + Math.floor(u() * 4));
      const lw = target.map((t, i) => t - base[i]);
      assert.equal(targetTypicalityCoverage(lw, target, len).ttc, refTtc(base, target, len));
      assert.equal(targetTypicalityCoverage(lw, target).ttc, refTtc(base, target));
    });

    it('log-weights of ±700: the same coverage as the weights relative to their max', () => {
      const z = normals(300, 9);
      const target = z.map((v) => -40 + 8 * v);
      const lw = z.map((v) => 3 * v);
      const ref = targetTypicalityCoverage(lw, target).ttc;
      for (const c of [700, -700]) {
        const r = targetTypicalityCoverage(
          lw.map((v) => v + c),
          target,
        );
        assert.equal(r.ttc, ref);
        assert.ok(Number.isFinite(r.alpha) && r.alpha >= 0.9 - 1e-9);
      }
    });

    it("cje-eval's published case: per-token surprisal removes the length confound (TTC 1 vs 0.1)", () => {
      // test_refusal_gates.py, test_per_token_normalization_removes_length_confound: 900 long
      // responses (total surprisal 100 over 1000 tokens, w = 0.1) and 100 short ones (20 over
      // 10 tokens, w = 9.1). CJE asserts TTC ≥ 0.99 per token and ≤ 0.15 total. By hand: the
      // target's mass is 0.09 on the long, 0.91 on the short. Per token (0.1 vs 2.0) the long
      // come first and 0.9 is reached inside the short: τ = 2.0, TTC = 1. In total surprisal
      // (100 vs 20) the short come first with 0.91 ≥ 0.9: τ = 20, T = the 100 short, TTC = 0.1.
      const target = [...new Array(900).fill(-100), ...new Array(100).fill(-20)];
      const lw = [...new Array(900).fill(Math.log(0.1)), ...new Array(100).fill(Math.log(9.1))];
      const tokens = [...new Array(900).fill(1000), ...new Array(100).fill(10)];
      assert.equal(targetTypicalityCoverage(lw, target, tokens).ttc, 1);
      assert.equal(targetTypicalityCoverage(lw, target).ttc, 0.1);
    });

    it("cje-eval's published cases: identical ≈ 0.90, target = −base < 0.5, small perturbation > 0.6", () => {
      // test_refusal_gates.py test_default_mass_is_090 (normal(−50, 10), n = 2000, ±0.02) and
      // test_cle_diagnostics.py (n = 1000); our draws, their claims.
      const b2000 = normals(2000, 7).map((z) => -50 + 10 * z);
      assert.ok(Math.abs(targetTypicalityCoverage(new Array(2000).fill(0), b2000).ttc - 0.9) <= 0.02);
      const base = normals(1000, 42).map((z) => -50 + 10 * z);
      const inverse = base.map((b) => -b);
      assert.ok(targetTypicalityCoverage(inverse.map((t, i) => t - base[i]), inverse).ttc < 0.5);
      const e = normals(1000, 43);
      const near = base.map((b, i) => b + 0.5 * e[i]);
      assert.ok(targetTypicalityCoverage(near.map((t, i) => t - base[i]), near).ttc > 0.6);
      // Larger T (mass 0.9 vs 0.5) covers at least as many records.
      const shifted = base.map((b, i) => b + 1 + 2 * e[i]);
      const lw = shifted.map((t, i) => t - base[i]);
      assert.ok(targetTypicalityCoverage(lw, shifted, null, 0.9).ttc >= targetTypicalityCoverage(lw, shifted, null, 0.5).ttc);
    });

    it("grades on CJE's gates: good ≥ 0.7, warning ≥ 0.3, critical below", () => {
      assert.deepEqual(TTC_THRESHOLDS, { good: 0.7, warning: 0.3 });
      const cases: [number, string][] = [
        [1, 'good'],
        [0.7, 'good'],
        [0.6999, 'warning'],
        [0.3, 'warning'],
        [0.2999, 'critical'],
        [0, 'critical'],
      ];
      for (const [t, g] of cases) assert.equal(gradeTtc(t), g, String(t));
    });

    it('refuses what CJE refuses: lengths that are not finite and > 0, arrays that differ in length', () => {
      assert.throws(() => targetTypicalityCoverage([0, 0], [-1, -2], [1, 0]), /length 1 must be finite and > 0/);
      assert.throws(() => targetTypicalityCoverage([0, 0], [-1]), RangeError);
      assert.ok(Number.isNaN(targetTypicalityCoverage([], []).ttc));
    });

    it('length normaliser: the first candidate complete on the weighed records', () => {
      const index = [0, 2];
      assert.equal(chooseLengths(index, [{ unit: 'tokens', values: [5, undefined, 7] }, { unit: 'chars', values: [20, 1, 30] }]).unit, 'tokens');
      const c = chooseLengths(index, [{ unit: 'tokens', values: [5, 6, undefined] }, { unit: 'chars', values: [20, null, 30] }]);
      assert.equal(c.unit, 'chars');
      assert.deepEqual([...c.lengths!], [20, 30]);
      assert.equal(chooseLengths(index, [{ unit: 'chars', values: [0, 1, 2] }]).unit, 'none');
      assert.equal(chooseLengths(index, []).lengths, null);
    });
  });

  describe('per target policy (computePolicyDiagnostics)', () => {
    const n = 50;
    const records = Array.from({ length: n }, (_, i) => `r${i}`);
    const behavior = Array.from({ length: n }, (_, i) => -10 - i);

    it('identical policies: affinity 1 (good), TTC ⌈0.9 n⌉/n = 0.9 (good), with thresholds and readings', () => {
      const d = computePolicyDiagnostics({ name: 't', records, behaviorLogprobs: behavior, targetLogprobs: behavior.slice(), expectedIdentical: true });
      assert.equal(d.hellinger_affinity.value, 1);
      assert.equal(d.hellinger_affinity.status, 'good');
      assert.deepEqual(d.hellinger_affinity.thresholds, { good: 0.5, marginal: 0.35, poor: 0.2 });
      assert.match(d.hellinger_affinity.reading, /Good overlap/);
      assert.equal(d.ttc.value, 45 / 50);
      assert.equal(d.ttc.status, 'good');
      assert.deepEqual(d.ttc.thresholds, { good: 0.7, warning: 0.3 });
      assert.equal(d.ttc.target_typical_mass, 0.9);
      assert.equal(d.ttc.length_normalizer, 'none');
      assert.match(d.ttc.reading, /total, not per token/);
    });

    it('skips non-finite records and divides by the target tokens, else the characters', () => {
      const target = behavior.map((b, i) => (i === 3 ? null : b + (i % 5) - 2));
      const tokens = behavior.map((_, i) => (i === 7 ? undefined : 10 + i));
      const chars = behavior.map((_, i) => 40 + i);
      const d = computePolicyDiagnostics({ name: 't', records, behaviorLogprobs: behavior, targetLogprobs: target, expectedIdentical: false, responseLengths: { tokens, chars } });
      const keep = records.map((_, i) => i).filter((i) => i !== 3);
      assert.equal(d.n, 49);
      assert.equal(d.ttc.length_normalizer, 'chars', 'record 7 has no token count');
      const b = keep.map((i) => behavior[i]);
      const t = keep.map((i) => target[i] as number);
      assert.equal(d.ttc.value, refTtc(b, t, keep.map((i) => chars[i])));
      assert.ok(Math.abs((d.hellinger_affinity.value as number) - refHellinger(t.map((x, j) => x - b[j]))) < 1e-13);
      const withTokens = computePolicyDiagnostics({ name: 't', records, behaviorLogprobs: behavior, targetLogprobs: target, expectedIdentical: false, responseLengths: { tokens: tokens.map((x, i) => x ?? 10 + i), chars } });
      assert.equal(withTokens.ttc.length_normalizer, 'tokens');
    });

    it('too few records: values, but no grade', () => {
      const d = computePolicyDiagnostics({ name: 't', records: records.slice(0, 10), behaviorLogprobs: behavior.slice(0, 10), targetLogprobs: behavior.slice(0, 10), expectedIdentical: false });
      assert.equal(d.hellinger_affinity.value, 1);
      assert.equal(d.hellinger_affinity.status, null);
      assert.equal(d.ttc.value, 0.9);
      assert.equal(d.ttc.status, null);
      assert.match(d.ttc.reading, /Too few records/);
    });
  });

  describe('the real arena log (cje-arena-sample)', () => {
    before(function () {
      if (!fs.existsSync(ARENA)) {
        const why = `${ARENA} is absent: the arena sample lives in ../shared/data and is never copied into the project`;
        if (process.env.CI === 'true') assert.fail(why);
        console.warn(`  skip: ${why}`);
        this.skip();
      }
    });

    it('both diagnostics per target policy from its logged log-probs, as the direct implementation gives them', async () => {
      const rows = fs
        .readFileSync(ARENA, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { response: string; base_policy_logprob: number; target_policy_logprobs: Record<string, number> });
      const base = rows.map((r) => r.base_policy_logprob);
      // Python's len(response), which CJE 0.3 divides by when records carry no token count.
      const chars = rows.map((r) => [...r.response].length);
      const d = await buildReportData({ input: ARENA, bootstrap: { b: 0 } });
      // Cross-reference: CJE 0.3's hellinger_affinity and compute_ttc (token_counts = len(response))
      // as read in cimo-labs/cje cje/diagnostics/overlap.py, run with numpy 2.4.6 / scipy 1.17.1.
      const numpy: Record<string, { a: number; ttc: number }> = {
        clone: { a: 0.92766475732703935, ttc: 0.879 },
        parallel_universe_prompt: { a: 0.19871210926827049, ttc: 0.424 },
        unhelpful: { a: 0.11617279343544246, ttc: 0.717 },
      };
      const lines: string[] = [];
      for (const p of d.policies) {
        const target = rows.map((r) => r.target_policy_logprobs[p.name]);
        const a = refHellinger(target.map((t, i) => t - base[i]));
        const ttc = refTtc(base, target, chars);
        assert.equal(p.n, 1000);
        assert.equal(p.ttc.length_normalizer, 'chars');
        assert.ok(Math.abs((p.hellinger_affinity.value as number) - a) < 1e-12, `${p.name} affinity ${p.hellinger_affinity.value} vs ${a}`);
        assert.equal(p.ttc.value, ttc, `${p.name} TTC`);
        assert.ok(Math.abs(a - numpy[p.name].a) < 1e-12 && ttc === numpy[p.name].ttc, `${p.name} vs numpy`);
        assert.equal(p.hellinger_affinity.status, gradeHellinger(a));
        assert.equal(p.ttc.status, gradeTtc(ttc));
        lines.push(`${p.name}: Hellinger affinity ${a.toFixed(4)} (${p.hellinger_affinity.status}), TTC ${ttc.toFixed(3)} (${p.ttc.status}; total surprisal ${refTtc(base, target).toFixed(3)}), ESS/n ${p.ess_fraction?.toFixed(4)}`);
      }
      console.log(`      arena sample, n = 1000:\n${lines.map((l) => `        ${l}`).join('\n')}`);
      assert.deepEqual(
        d.policies.map((p) => [p.name, p.hellinger_affinity.status, p.ttc.status]),
        [
          ['clone', 'good', 'good'],
          ['parallel_universe_prompt', 'catastrophic', 'warning'],
          ['unhelpful', 'catastrophic', 'good'],
        ],
      );
    });
  });
});

describe('cje report text summary: the overlap columns', () => {
  it('prints each target\'s Hellinger affinity (computed here from the weights) and TTC grade', async () => {
    const os = await import('node:os');
    const { reportSummary } = await import('../../src/cli/report');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-overlap-summary-'));
    try {
      // 30 records, log w_i = (i mod 5) − 2 under target t.
      const lws = Array.from({ length: 30 }, (_, i) => (i % 5) - 2);
      const log = path.join(dir, 'log.jsonl');
      fs.writeFileSync(log, lws.map((lw, i) => JSON.stringify({ prompt_id: `p${i}`, prompt: 'q', response: 'a', base_policy_logprob: -10, target_policy_logprobs: { t: -10 + lw } })).join('\n') + '\n');
      const data = await buildReportData({ input: log });
      const w = lws.map(Math.exp);
      const mean = w.reduce((a, b) => a + b, 0) / w.length;
      const affinity = w.reduce((a, x) => a + Math.sqrt(x / mean), 0) / w.length;
      const row = reportSummary(data).split('\n').find((l) => l.startsWith('t '));
      assert.ok(row, 'a row for t');
      assert.ok(row.includes(affinity.toFixed(3)), `${row} has ${affinity.toFixed(3)}`);
      assert.match(row, / (good|marginal|poor|catastrophic) /);
      assert.match(row, / (good|warning|critical) /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
