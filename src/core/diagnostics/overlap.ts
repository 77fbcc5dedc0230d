/**
 * CJE 0.3's two overlap diagnostics, with its thresholds (cje-eval 0.3.*, the last
 * line with importance weighting: cimo-labs/cje, cje/diagnostics/overlap.py and
 * gates.py as its 0.3.0 changelog describes them — TTC at mass 0.9 per token):
 *
 * - Hellinger affinity: the Bhattacharyya coefficient of the two policies,
 *   estimated from the mean-one weights as E[√w] (CJE's `hellinger_affinity`).
 * - Target-typicality coverage, TTC: the share of the logged records that fall
 *   in T, the region of lowest (per-token) surprisal under the target that holds
 *   90% of the target's mass (CJE's `compute_ttc`).
 *
 * Pure functions of arrays, in log space: log-weights of ±700 neither overflow
 * nor turn into NaN. O(n) each (TTC's quantile is a weighted selection, not a sort).
 */

/** CJE's overlap_quality from the affinity: ≥ 0.50 good, ≥ 0.35 marginal, ≥ 0.20 poor, below catastrophic. */
export type HellingerStatus = 'good' | 'marginal' | 'poor' | 'catastrophic';

/** Lower bounds of each grade (compute_overlap_metrics: `< 0.20` catastrophic, `< 0.35` poor, `< 0.50` marginal). */
export const HELLINGER_THRESHOLDS = { good: 0.5, marginal: 0.35, poor: 0.2 } as const;

/** CJE's reading of each grade (diagnose_overlap_problems, compute_overlap_metrics' recommendation). */
export const HELLINGER_READING: Record<HellingerStatus, string> = {
  good: 'Good overlap: the policies put their mass in much the same places.',
  marginal: 'Marginal overlap: some variance inflation expected.',
  poor: 'Poor overlap: only part of the data is effectively used and intervals widen; weight calibration can help somewhat.',
  catastrophic:
    'Catastrophic overlap (below 0.2): the policies are fundamentally incompatible and no statistical method can fix this; CJE recommends not to estimate by importance sampling.',
};

/** The floor CJE puts under each mean-one weight before the square root (epsilon = 1e-10). */
const SQRT_FLOOR_LOG = Math.log(1e-10);

/**
 * Hellinger affinity (Bhattacharyya coefficient) E[√w̃] of the mean-one weights
 * w̃ᵢ = wᵢ / mean(w), w = exp(logWeights), as CJE computes it: each w̃ floored at
 * 1e-10 before the square root, the mean capped at 1. In (0, 1]; 1 when the
 * policies coincide. Non-finite entries are ignored; NaN when none is finite.
 *
 * CJE normalises raw weights to mean one; here the normalisation is done in log
 * space (log w̃ᵢ = log wᵢ − max − log(Σ exp(log w − max) / n)), so weights that
 * would overflow or underflow as numbers give the same affinity.
 */
export function hellingerAffinity(logWeights: ArrayLike<number>): number {
  const len = logWeights.length;
  let max = -Infinity;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const v = logWeights[i];
    if (Number.isFinite(v)) {
      n++;
      if (v > max) max = v;
    }
  }
  if (n === 0) return NaN;
  let s = 0;
  for (let i = 0; i < len; i++) if (Number.isFinite(logWeights[i])) s += Math.exp(logWeights[i] - max);
  const logMean = max + Math.log(s / n);
  let a = 0;
  for (let i = 0; i < len; i++) {
    const v = logWeights[i];
    if (Number.isFinite(v)) a += Math.exp(0.5 * Math.max(v - logMean, SQRT_FLOOR_LOG));
  }
  return Math.min(a / n, 1);
}

export function gradeHellinger(affinity: number): HellingerStatus | null {
  if (Number.isNaN(affinity)) return null;
  if (affinity >= HELLINGER_THRESHOLDS.good) return 'good';
  if (affinity >= HELLINGER_THRESHOLDS.marginal) return 'marginal';
  if (affinity >= HELLINGER_THRESHOLDS.poor) return 'poor';
  return 'catastrophic';
}

/** CJE's ttc_status: ≥ 0.70 good, ≥ 0.30 warning (marginal), below critical (poor). */
export type TtcStatus = 'good' | 'warning' | 'critical';

/** gates.py: TTC_GOOD_THRESHOLD = 0.70, TTC_CRITICAL_THRESHOLD = 0.30 (critical below it). */
export const TTC_THRESHOLDS = { good: 0.7, warning: 0.3 } as const;

/** The target mass T holds: CJE's target_typical_mass, default 0.9 (the paper's q₀.₉). */
export const TTC_TARGET_TYPICAL_MASS = 0.9;

/** CJE's reading of each grade (CLEDiagnostics.summary and compute_ttc's docstring). */
export const TTC_READING: Record<TtcStatus, string> = {
  good: 'Good coverage: the logs cover where the target concentrates; IPS may work.',
  warning: 'Marginal coverage (below 0.7): logs-only IPS will struggle; consider DR or Direct.',
  critical: 'Poor coverage (below 0.3): the logger rarely produces what the target wants; IPS will fail regardless of ESS.',
};

export function gradeTtc(ttc: number): TtcStatus | null {
  if (Number.isNaN(ttc)) return null;
  if (ttc >= TTC_THRESHOLDS.good) return 'good';
  if (ttc >= TTC_THRESHOLDS.warning) return 'warning';
  return 'critical';
}

export interface TtcResult {
  /** Share of the records in T (NaN when n = 0). */
  ttc: number;
  n: number;
  /** Records in T. */
  inRegion: number;
  /** The surprisal bound of T: the target-weighted quantile at `mass` (NaN when n = 0). */
  threshold: number;
  /** Target (self-normalised) mass on T, CJE's α: ≥ mass up to rounding. */
  alpha: number;
}

/**
 * Target-typicality coverage as CJE 0.3's compute_ttc defines it:
 *
 *   surprisal sᵢ = −log π′(aᵢ|xᵢ) / |aᵢ|   (per unit of length; total when `lengths` is absent)
 *   pᵢ = wᵢ / Σw                            (the target distribution over the logged records)
 *   τ = the smallest sᵢ whose cumulative p, summed in increasing s, reaches `mass`
 *       (the largest s when it never does)
 *   T = { i : sᵢ ≤ τ },  TTC = |T| / n
 *
 * `logWeights[i]` = log π′ − log π₀ and `targetLogprobs[i]` = log π′ of the same record;
 * every entry must be finite, and every length finite and > 0 (CJE raises otherwise).
 *
 * CJE sorts and takes numpy's cumsum; τ is found here by a weighted selection in
 * O(n), which sums in another order. Both agree except where the cumulative mass
 * lands within rounding of `mass` exactly at a record boundary (equal weights,
 * e.g. identical policies): numpy then falls either side by chance (10 equal
 * weights give TTC 1.0, 2000 give 0.9005), while here a cumulative mass within
 * 4·n·ε of `mass` counts as reaching it, so equal weights give ⌈0.9n⌉/n as the
 * definition says.
 */
export function targetTypicalityCoverage(
  logWeights: ArrayLike<number>,
  targetLogprobs: ArrayLike<number>,
  lengths?: ArrayLike<number> | null,
  mass = TTC_TARGET_TYPICAL_MASS,
): TtcResult {
  const n = logWeights.length;
  if (targetLogprobs.length !== n || (lengths && lengths.length !== n)) {
    throw new RangeError(`targetTypicalityCoverage: lengths differ (log-weights ${n}, target log-probs ${targetLogprobs.length}${lengths ? `, lengths ${lengths.length}` : ''})`);
  }
  if (n === 0) return { ttc: NaN, n: 0, inRegion: 0, threshold: NaN, alpha: NaN };
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logWeights[i];
    if (!Number.isFinite(v) || !Number.isFinite(targetLogprobs[i])) throw new RangeError(`targetTypicalityCoverage: entry ${i} is not finite`);
    if (lengths && !(Number.isFinite(lengths[i]) && lengths[i] > 0)) throw new RangeError(`targetTypicalityCoverage: length ${i} must be finite and > 0 (got ${lengths[i]})`);
    if (v > max) max = v;
  }
  const s = new Float64Array(n);
  const p = new Float64Array(n);
  let z = 0;
  for (let i = 0; i < n; i++) {
    s[i] = lengths ? -targetLogprobs[i] / lengths[i] : -targetLogprobs[i];
    p[i] = Math.exp(logWeights[i] - max);
    z += p[i];
  }
  for (let i = 0; i < n; i++) p[i] /= z;
  // The cumulative mass has rounding of order n·ε; a boundary this close to `mass` reaches it.
  const target = mass - 4 * n * Number.EPSILON;
  // The selection reorders s and p together; the count and α below do not depend on the order.
  const tau = weightedLowerQuantile(s, p, target);
  let inRegion = 0;
  let alpha = 0;
  for (let i = 0; i < n; i++) {
    if (s[i] <= tau) {
      inRegion++;
      alpha += p[i];
    }
  }
  return { ttc: inRegion / n, n, inRegion, threshold: tau, alpha };
}

/**
 * The smallest value v of `vals` with Σ_{vals[j] ≤ v} wts[j] ≥ target, or the
 * largest value when the total stays below it. Reorders both arrays in place
 * (three-way partitions around a pivot, as in quickselect: O(n) expected).
 */
function weightedLowerQuantile(vals: Float64Array, wts: Float64Array, target: number): number {
  let lo = 0;
  let hi = vals.length; // the answer is in [lo, hi) unless the mass never reaches target
  let below = 0; // weight of the values already known to lie below [lo, hi)
  let smallest = Infinity;
  let largest = -Infinity;
  for (let i = 0; i < vals.length; i++) {
    if (vals[i] < smallest) smallest = vals[i];
    if (vals[i] > largest) largest = vals[i];
  }
  if (target <= 0) return smallest;
  while (hi > lo) {
    const a = vals[lo];
    const b = vals[(lo + hi) >>> 1];
    const c = vals[hi - 1];
    const x = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b; // median of three
    // Dutch-flag partition of [lo, hi): < x | == x | > x.
    let lt = lo;
    let i = lo;
    let gt = hi;
    let sumLt = 0;
    let sumEq = 0;
    while (i < gt) {
      const v = vals[i];
      if (v < x) {
        sumLt += wts[i];
        swap(vals, wts, lt++, i++);
      } else if (v > x) {
        swap(vals, wts, i, --gt);
      } else {
        sumEq += wts[i];
        i++;
      }
    }
    if (below + sumLt >= target) {
      hi = lt;
    } else if (below + sumLt + sumEq >= target) {
      return x;
    } else {
      below += sumLt + sumEq;
      lo = gt;
    }
  }
  return largest;
}

function swap(v: Float64Array, w: Float64Array, i: number, j: number): void {
  const t = v[i];
  v[i] = v[j];
  v[j] = t;
  const u = w[i];
  w[i] = w[j];
  w[j] = u;
}

/** How TTC's surprisal was put per unit of length. */
export type LengthNormalizer = 'tokens' | 'chars' | 'none';

/**
 * The first of `candidates` (in order of preference) with a finite length > 0 at
 * every used record `index[j]`, else none: CJE takes response_token_count when
 * the records have it, else the response length in characters, and without
 * either the total surprisal (which, its docs warn, confounds typicality with
 * length; the 0.7 gate was set for the per-token form).
 */
export function chooseLengths(
  index: ArrayLike<number>,
  candidates: { unit: Exclude<LengthNormalizer, 'none'>; values: ArrayLike<number | null | undefined> | null | undefined }[],
): { unit: LengthNormalizer; lengths: Float64Array | null } {
  const m = index.length;
  for (const c of candidates) {
    if (!c.values) continue;
    const out = new Float64Array(m);
    let ok = m > 0;
    for (let j = 0; j < m && ok; j++) {
      const v = c.values[index[j]];
      if (typeof v === 'number' && Number.isFinite(v) && v > 0) out[j] = v;
      else ok = false;
    }
    if (ok) return { unit: c.unit, lengths: out };
  }
  return { unit: 'none', lengths: null };
}
