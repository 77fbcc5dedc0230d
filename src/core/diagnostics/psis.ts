/**
 * Pareto-smoothed importance sampling (PSIS) and its k̂ diagnostic, following
 * Vehtari, Simpson, Gelman, Yao & Gabry (2024), "Pareto smoothed importance
 * sampling", JMLR 25(72), as implemented in the R packages loo (psis(),
 * do_psis_i()) and posterior (gpdfit(), ps_tail(), qgeneralized_pareto()), and
 * in ArviZ (_gpdfit, _psislw), with relative efficiency r_eff = 1
 * (independent draws, which logged LLM responses are).
 *
 * Pure math: no 'vscode', no I/O.
 */
import { kishEss } from './weights';
import { selectInPlace } from './select';

/** Result of {@link gpdfit}: generalized Pareto shape k and scale σ (location 0). */
export interface GpdFit {
  /** Shape k (positive = heavy tail). +∞ when the fit is undefined (loo's convention). */
  k: number;
  /** Scale σ; NaN when the fit is undefined. */
  sigma: number;
}

export interface GpdFitOptions {
  /** Adjust k with the weakly informative prior centred on 0.5 (loo default: true). */
  wip?: boolean;
  /** Grid points are min_grid_pts + floor(sqrt(n)) (loo default: 30). */
  minGridPts?: number;
  /** Set when x is already sorted ascending, to skip the copy and sort. */
  sorted?: boolean;
}

/** Mean with base R's mean.default second refinement pass. */
function mean(x: ArrayLike<number>): number {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  s /= n;
  if (Number.isFinite(s)) {
    let t = 0;
    for (let i = 0; i < n; i++) t += x[i] - s;
    s += t / n;
  }
  return s;
}

/** mean(log1p(c · x)) with the same refinement as base R's mean(). */
function meanLog1p(c: number, x: ArrayLike<number>): number {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.log1p(c * x[i]);
  s /= n;
  if (Number.isFinite(s)) {
    let t = 0;
    for (let i = 0; i < n; i++) t += Math.log1p(c * x[i]) - s;
    s += t / n;
  }
  return s;
}

/**
 * Fits a generalized Pareto distribution (location 0) to the exceedances x by
 * the empirical-Bayes method of Zhang & Stephens (2009, Technometrics 51,
 * 316–325), section 4, with loo/posterior's grid (min_grid_pts + ⌊√n⌋ points,
 * prior 3, first-quartile anchor) and weakly informative prior on k:
 * k ← (n·k + 10·0.5)/(n + 10). σ is computed from the unadjusted k, as in loo.
 * Here k is the negative of Zhang & Stephens' k (k > 0 = heavy tail).
 * A NaN k (degenerate input, e.g. a zero first quartile) becomes +∞, σ NaN.
 */
export function gpdfit(x: ArrayLike<number>, options: GpdFitOptions = {}): GpdFit {
  const wip = options.wip ?? true;
  const minGridPts = options.minGridPts ?? 30;
  let xs: Float64Array;
  if (options.sorted) {
    xs = x instanceof Float64Array ? x : Float64Array.from(x);
  } else {
    xs = Float64Array.from(x);
    xs.sort();
  }
  const n = xs.length;
  if (n === 0) return { k: Infinity, sigma: NaN };
  const prior = 3;
  const m = minGridPts + Math.floor(Math.sqrt(n));
  const xstar = xs[Math.floor(n / 4 + 0.5) - 1]; // first quartile of the sample (R index floor(n/4 + 0.5))
  const xmax = xs[n - 1];
  const theta = new Float64Array(m);
  const lTheta = new Float64Array(m);
  let lMax = -Infinity;
  let anyNaN = false;
  for (let j = 1; j <= m; j++) {
    const th = 1 / xmax + (1 - Math.sqrt(m / (j - 0.5))) / prior / xstar;
    theta[j - 1] = th;
    // profile log-likelihood: n * (log(a / k) - k - 1), a = -theta, k = mean(log1p(a x))
    const a = -th;
    const kk = meanLog1p(a, xs);
    const l = n * (Math.log(a / kk) - kk - 1);
    lTheta[j - 1] = l;
    if (Number.isNaN(l)) anyNaN = true;
    else if (l > lMax) lMax = l;
  }
  let k: number;
  let sigma: number;
  if (anyNaN || !Number.isFinite(lMax)) {
    k = NaN;
    sigma = NaN;
  } else {
    let s = 0;
    for (let j = 0; j < m; j++) s += Math.exp(lTheta[j] - lMax);
    const logZ = lMax + Math.log(s);
    let thetaHat = 0;
    for (let j = 0; j < m; j++) thetaHat += theta[j] * Math.exp(lTheta[j] - logZ);
    k = meanLog1p(-thetaHat, xs);
    sigma = -k / thetaHat;
    if (wip) k = (k * n + 0.5 * 10) / (n + 10);
  }
  if (Number.isNaN(k)) return { k: Infinity, sigma: NaN };
  return { k, sigma };
}

/**
 * Quantile function of the generalized Pareto distribution, as loo's qgpd /
 * posterior's qgeneralized_pareto: μ + σ·expm1(−k·log1p(−p))/k, or
 * μ − σ·log1p(−p) when |k| ≤ 1e-15. NaN when σ is NaN or ≤ 0.
 */
export function qgpd(p: number, k: number, sigma: number, mu = 0): number {
  if (Number.isNaN(sigma) || sigma <= 0) return NaN;
  if (Math.abs(k) > 1e-15) return mu + (sigma * Math.expm1(-k * Math.log1p(-p))) / k;
  return mu - sigma * Math.log1p(-p);
}

/** Tail length M = ceil(min(0.2·S, 3·√S)) (loo's n_pareto with r_eff = 1). */
export function psisTailLength(s: number): number {
  return Math.ceil(Math.min(0.2 * s, 3 * Math.sqrt(s)));
}

/** Sample-size-specific k̂ threshold min(1 − 1/log10(S), 0.7) (Vehtari et al. 2024, eq. 13). */
export function khatThreshold(s: number): number {
  return Math.min(1 - 1 / Math.log10(s), 0.7);
}

/** Minimum tail length for a GPD fit (loo's enough_tail_samples). */
export const MIN_TAIL_DRAWS = 5;

export type KhatBand =
  | 'reliable' // k̂ ≤ threshold
  | 'more_samples_may_help' // threshold < k̂ ≤ 0.7
  | 'unreliable' // 0.7 < k̂ ≤ 1
  | 'non_finite_mean' // k̂ > 1 (or the fit gave +∞)
  | 'constant_tail' // all tail weights equal: nothing to fit, not heavy-tailed
  | 'undefined'; // too few tail draws or no data

/** Band of a k̂ value with loo's wording (loo docs, "pareto-k-diagnostic"). */
export function khatBand(khat: number, s: number): { band: KhatBand; flagged: boolean; message: string } {
  const thr = khatThreshold(s);
  const t = thr.toFixed(2);
  if (Number.isNaN(khat)) {
    return { band: 'undefined', flagged: false, message: 'Pareto k̂ is undefined.' };
  }
  if (khat <= thr) {
    return {
      band: 'reliable',
      flagged: false,
      message:
        `k̂ ≤ ${t} = min(1 − 1/log10(S), 0.7): the PSIS estimate and the corresponding ` +
        'Monte Carlo standard error estimate are reliable.',
    };
  }
  if (khat <= 0.7) {
    return {
      band: 'more_samples_may_help',
      flagged: true,
      message:
        `${t} < k̂ ≤ 0.7: the PSIS estimate and the corresponding Monte Carlo standard error ` +
        'estimate are not reliable, but increasing the (effective) sample size S above 2200 may ' +
        'help (this will increase the sample size specific threshold (1 − 1/log10(2200) > 0.7) ' +
        'and then the bias specific threshold 0.7 dominates).',
    };
  }
  if (khat <= 1) {
    return {
      band: 'unreliable',
      flagged: true,
      message:
        '0.7 < k̂ ≤ 1: the PSIS estimate and the corresponding Monte Carlo standard error have ' +
        'large bias and are not reliable. Increasing the sample size may reduce the variability ' +
        'in the k̂ estimate, which may also result in a lower k̂ estimate.',
    };
  }
  return {
    band: 'non_finite_mean',
    flagged: true,
    message:
      (Number.isFinite(khat) ? '' : 'The generalized Pareto fit failed (k̂ = ∞, reported as loo does). ') +
      'k̂ > 1: the target distribution is estimated to have non-finite mean. The PSIS estimate ' +
      'and the corresponding Monte Carlo standard error are not well defined. Increasing the ' +
      'sample size may reduce the variability in the k̂ estimate, which may also result in a ' +
      'lower k̂ estimate.',
  };
}

/** Result of {@link psis}. */
export interface PsisResult {
  /** Number of finite log-weights used (S). */
  s: number;
  /** Tail length M. */
  tailLength: number;
  /** Pareto k̂; null when undefined (see reason); +∞ when the fit failed as in loo. */
  khat: number | null;
  /** Fitted GPD scale σ̂ (of the exceedances exp(lw − max) − exp(cutoff − max)); null when not fitted. */
  sigma: number | null;
  /** Why k̂ is null (or not fitted), else null. */
  reason: string | null;
  /** min(1 − 1/log10(S), 0.7); null when S < 2. */
  threshold: number | null;
  band: KhatBand;
  /** Whether the band calls for attention (anything above the threshold). */
  flagged: boolean;
  message: string;
  /** Smoothed log-weights (same length and order as the input's finite entries, original scale: max kept). */
  smoothedLogWeights: Float64Array;
  /** Kish ESS of the smoothed weights. */
  ess: number;
  essFraction: number;
}

export interface PsisOptions {
  /**
   * At least the M+1 largest log-weights, sorted ascending (unshifted), when
   * the caller already selected them; saves a selection pass.
   */
  topAscending?: ArrayLike<number>;
  /** The max log-weight, when the caller already has it. */
  max?: number;
}

/**
 * PSIS on one vector of log-weights (non-finite entries must have been removed).
 * Steps as loo's do_psis_i with posterior's ps_tail:
 *  1. shift by the max log-weight;
 *  2. tail = the M largest values, cutoff = the (M+1)-th largest (found by
 *     selection, not a full sort);
 *  3. M < 5 → no fit (k̂ null, reason); all tail values equal (|max − min| <
 *     ε/100, loo's test) → no fit and no smoothing; k̂ null, band
 *     'constant_tail', not flagged — loo warns "Can't fit generalized Pareto
 *     distribution because all tail values are the same" and reports k̂ = ∞,
 *     which would be a false alarm for equal weights;
 *  4. fit gpdfit to exp(tail) − exp(cutoff); if k̂ is finite replace the tail
 *     by log(exp(cutoff) + qgpd((z − 0.5)/M)), z = 1..M, in the tail's
 *     ascending order (ties by input order, as R's stable order());
 *  5. truncate every log-weight at the max raw log-weight, shift back.
 */
export function psis(logWeights: ArrayLike<number>, options: PsisOptions = {}): PsisResult {
  const s = logWeights.length;
  const lw = logWeights instanceof Float64Array ? logWeights.slice() : Float64Array.from(logWeights);
  const tailLength = s > 0 ? psisTailLength(s) : 0;
  const threshold = s >= 2 ? khatThreshold(s) : null;
  const base = (khat: number | null, sigma: number | null, reason: string | null, band?: KhatBand) => {
    const ke = kishEss(lw);
    let b: { band: KhatBand; flagged: boolean; message: string };
    if (band === 'constant_tail') {
      b = {
        band,
        flagged: false,
        message:
          'All weights in the tail are equal, so there is no tail to fit: the weights are not ' +
          'heavy-tailed and PSIS leaves them unchanged (loo warns that it cannot fit the ' +
          'generalized Pareto distribution here).',
      };
    } else if (khat === null) {
      b = { band: 'undefined', flagged: false, message: reason ?? 'Pareto k̂ is undefined.' };
    } else {
      b = khatBand(khat, s);
    }
    return {
      s,
      tailLength,
      khat,
      sigma,
      reason,
      threshold,
      band: b.band,
      flagged: b.flagged,
      message: b.message,
      smoothedLogWeights: lw,
      ess: ke.ess,
      essFraction: ke.fraction,
    };
  };
  if (s === 0) return base(null, null, 'No finite log-weights.');
  if (tailLength < MIN_TAIL_DRAWS) {
    return base(
      null,
      null,
      `Tail of ${tailLength} draw(s) (M = ceil(min(0.2·S, 3·√S)) with S = ${s}) is fewer than ` +
        `${MIN_TAIL_DRAWS}: not enough tail samples to fit the generalized Pareto distribution.`,
    );
  }
  // Work relative to the max log-weight (loo: lw_i <- log_ratios_i - max(log_ratios_i)), but
  // only the tail is ever rewritten, so the body keeps its exact input values.
  let max = options.max ?? -Infinity;
  if (options.max === undefined) for (let i = 0; i < s; i++) if (lw[i] > max) max = lw[i];

  // Order statistics by selection: the top M+1 raw values, sorted ascending.
  let rawTop: Float64Array;
  if (options.topAscending && options.topAscending.length >= tailLength + 1) {
    const t = options.topAscending;
    const off = t.length - tailLength - 1;
    rawTop = new Float64Array(tailLength + 1);
    for (let i = 0; i <= tailLength; i++) rawTop[i] = t[off + i];
  } else {
    const buf = lw.slice();
    selectInPlace(buf, s - tailLength - 1);
    rawTop = buf.slice(s - tailLength - 1);
    rawTop.sort();
  }
  const top = new Float64Array(tailLength + 1);
  for (let i = 0; i <= tailLength; i++) top[i] = rawTop[i] - max;
  const cutoff = top[0];
  const tail = top.subarray(1);
  const maxTail = tail[tailLength - 1];
  const minTail = tail[0];
  if (Math.abs(maxTail - minTail) < Number.EPSILON / 100) {
    return base(null, null, 'All tail values are the same: no generalized Pareto fit.', 'constant_tail');
  }
  const expCutoff = Math.exp(cutoff);
  const exceed = new Float64Array(tailLength);
  for (let i = 0; i < tailLength; i++) exceed[i] = Math.exp(tail[i]) - expCutoff;
  const fit = gpdfit(exceed, { sorted: true });
  if (Number.isFinite(fit.k)) {
    // Indices of the tail entries, in ascending (value, index) order.
    const tailIdx: number[] = [];
    const eqIdx: number[] = [];
    const rawCutoff = rawTop[0]; // the (M+1)-th largest raw log-weight
    for (let i = 0; i < s; i++) {
      if (lw[i] > rawCutoff) tailIdx.push(i);
      else if (lw[i] === rawCutoff) eqIdx.push(i);
    }
    // Ties at the cutoff: a stable ascending sort puts the highest indices last.
    const need = tailLength - tailIdx.length;
    for (let j = eqIdx.length - need; j < eqIdx.length; j++) tailIdx.push(eqIdx[j]);
    tailIdx.sort((a, b) => lw[a] - lw[b] || a - b);
    for (let z = 1; z <= tailLength; z++) {
      const q = qgpd((z - 0.5) / tailLength, fit.k, fit.sigma, expCutoff);
      let v = Math.log(q);
      if (v > maxTail) v = maxTail; // truncate at the max raw weight (0 after the shift)
      lw[tailIdx[z - 1]] = v + max;
    }
  }
  return base(fit.k, Number.isNaN(fit.sigma) ? null : fit.sigma, Number.isFinite(fit.k) ? null : 'The generalized Pareto fit failed (k̂ not finite).');
}
