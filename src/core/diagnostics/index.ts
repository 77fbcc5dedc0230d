/**
 * Per-target-policy importance-weight diagnostics against the behavior policy
 * (DESIGN.md, "Diagnostics"): one plain, JSON-able object per target.
 *
 * Pure math: no 'vscode', no I/O. Cost for n weights: a few linear passes,
 * one O(n) selection of the largest ~5–10% and a sort of that block only.
 */
import {
  EssGrade,
  NonFiniteCounts,
  NonFiniteRecord,
  gradeEss,
  logWeightsFromLogprobs,
} from './weights';
import { selectInPlace } from './select';
import { KhatBand, psis, psisTailLength } from './psis';
import { HILL_MIN_N, HillResult, hillFromTop, hillK, hillTailIndex } from './hill';
import { WeightShares, sharesFromTop, top1pctCount } from './shares';
import { IdenticalViolation, identicalPolicyCheck } from './identical';
import { EstimateOptions, Estimates, offPolicyEstimates } from './estimates';
import { type OverlapReport, overlapDiagnostics } from './overlap-report';

export * from './weights';
export * from './select';
export * from './psis';
export * from './hill';
export * from './shares';
export * from './identical';
export * from './logged-vs-rescored';
export * from './token-delta';
export * from './estimates';
export * from './responses';
export * from './seam';
export * from './noise-floor';
export * from './token-rank';
export * from './overlap';
export * from './overlap-report';

/** Diagnostics of one vector of finite log-weights. */
export interface WeightDiagnostics {
  n: number;
  /** Largest log-weight (−∞ when n = 0). */
  maxLogWeight: number;
  ess: number;
  essFraction: number;
  essGrade: EssGrade | null;
  khat: number | null;
  sigma: number | null;
  khatThreshold: number | null;
  khatBand: KhatBand;
  khatFlagged: boolean;
  khatMessage: string;
  khatReason: string | null;
  tailLength: number;
  psisEss: number;
  psisEssFraction: number;
  smoothedLogWeights: Float64Array;
  hill: HillResult;
  shares: WeightShares;
}

/**
 * All weight diagnostics of finite log-weights `lw` with one selection of the
 * largest K = max(M+1, k_Hill+1, top-1% count) values and a sort of those K only.
 */
export function weightDiagnostics(lw: Float64Array): WeightDiagnostics {
  const n = lw.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (lw[i] > max) max = lw[i];
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(lw[i] - max);
    s1 += e;
    s2 += e * e;
  }
  const ess = n === 0 ? 0 : (s1 * s1) / s2;
  const essFraction = n === 0 ? NaN : ess / n;

  const m = n > 0 ? psisTailLength(n) : 0;
  const hk = n >= HILL_MIN_N ? hillK(n) : 0;
  const c1 = n > 0 ? top1pctCount(n) : 0;
  const K = Math.min(n, Math.max(m + 1, hk + 1, c1));
  let top = new Float64Array(0);
  if (K > 0) {
    const buf = lw.slice();
    if (K < n) selectInPlace(buf, n - K);
    top = buf.subarray(n - K);
    top.sort();
  }
  const p = psis(lw, { topAscending: top, max: n > 0 ? max : undefined });
  const hill = n >= HILL_MIN_N ? hillFromTop(top, hk, n) : hillTailIndex(lw);
  const shares = sharesFromTop(top, s1, max, n);
  return {
    n,
    maxLogWeight: max,
    ess,
    essFraction,
    essGrade: gradeEss(essFraction),
    khat: p.khat,
    sigma: p.sigma,
    khatThreshold: p.threshold,
    khatBand: p.band,
    khatFlagged: p.flagged,
    khatMessage: p.message,
    khatReason: p.reason,
    tailLength: p.tailLength,
    psisEss: p.ess,
    psisEssFraction: p.essFraction,
    smoothedLogWeights: p.smoothedLogWeights,
    hill,
    shares,
  };
}

export interface PolicyDiagnosticsInput {
  name: string;
  /** Record ids, one per log-prob. */
  records: string[];
  behaviorLogprobs: (number | null)[];
  targetLogprobs: (number | null)[];
  judgeScores?: (number | null)[];
  /** The target has the behavior's scoring fingerprint: every |log w| must be ≤ tolerance. */
  expectedIdentical: boolean;
  /** Identity tolerance on |log w| (default 1e-6). */
  tolerance?: number;
  /** Share of records that must match for "probably meant to be identical" (default 0.5). */
  probableIdenticalFraction?: number;
  /** Bootstrap options for the estimates. */
  bootstrap?: EstimateOptions;
  /**
   * Response lengths per record for TTC's per-token surprisal, in order of
   * preference (the first with a length for every weighed record is used).
   */
  responseLengths?: { tokens?: ArrayLike<number | null | undefined>; chars?: ArrayLike<number | null | undefined> };
}

/**
 * Below this many finite log-weights the ESS grade and the k̂ threshold and band
 * are withheld ("too few records"). PSIS fits k̂ to the M = ceil(min(0.2·S, 3·√S))
 * largest weights and needs M ≥ 5 (loo's enough_tail_samples), which first holds at
 * S = 21; below that k̂ cannot be estimated at all. Vehtari, Simpson, Gelman, Yao &
 * Gabry (2024, JMLR 25(72)) make the sample size the condition for trusting any of
 * these numbers: the smallest S for a reliable estimate is 10^(1/(1−k)) (§3.2.3),
 * 10 even in the best case k ≤ 0, and their sample-size threshold 1 − 1/log10(S)
 * (eq. 13) is ≤ 0 below S = 10 (−1.10 at S = 3). Without a k̂ nothing says that S
 * is large enough, so an ESS/n of 3 records graded "good" would be a guess.
 */
export const MIN_DIAGNOSTIC_RECORDS = 21;

/** JSON-able result of {@link computePolicyDiagnostics}; non-finite numbers are null. */
export interface PolicyDiagnostics {
  name: string;
  /** Records with a finite log-weight (used by every weight diagnostic). */
  n: number;
  n_records: number;
  ess: number;
  ess_fraction: number | null;
  /** null when n = 0 or too_few_records. */
  ess_grade: EssGrade | null;
  /** n < min_records: the grade, the k̂ threshold and band mean nothing yet (see MIN_DIAGNOSTIC_RECORDS). */
  too_few_records: boolean;
  min_records: number;
  khat: number | null;
  /** null when too_few_records (the formula is ≤ 0 below S = 10). */
  khat_threshold: number | null;
  khat_band: KhatBand;
  khat_flagged: boolean;
  khat_message: string;
  /** Why k̂ is null, if it is. */
  khat_reason: string | null;
  psis_tail_length: number;
  sigma: number | null;
  psis_ess: number;
  psis_ess_fraction: number | null;
  hill_alpha: number | null;
  hill_k: number | null;
  hill_flags: { infinite_variance: boolean; infinite_mean: boolean };
  hill_reason: string | null;
  max_weight_share: number | null;
  top1pct_share: number | null;
  top1pct_count: number;
  max_log_weight: number | null;
  identical: {
    expected: boolean;
    probable: boolean;
    passed: boolean | null;
    match_fraction: number | null;
    tolerance: number;
    violation_count: number;
    violations: IdenticalViolation[];
  };
  nonfinite: NonFiniteCounts;
  /** Excluded records (first 100), with the record id. */
  nonfinite_records: (Omit<NonFiniteRecord, 'index'> & { record: string })[];
  estimates: (Omit<Estimates, 'ips' | 'snips'> & { ips: number | null; snips: number | null }) | null;
  /** CJE 0.3's Hellinger affinity E[√w] of the mean-one weights, graded on its ladder. */
  hellinger_affinity: OverlapReport['hellinger_affinity'];
  /** CJE 0.3's target-typicality coverage, graded on its ladder. */
  ttc: OverlapReport['ttc'];
}

function fin(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

export function computePolicyDiagnostics(input: PolicyDiagnosticsInput): PolicyDiagnostics {
  const nRec = input.records.length;
  if (input.behaviorLogprobs.length !== nRec || input.targetLogprobs.length !== nRec) {
    throw new RangeError(
      `computePolicyDiagnostics(${input.name}): records (${nRec}), behavior (${input.behaviorLogprobs.length}) and target (${input.targetLogprobs.length}) lengths differ`,
    );
  }
  if (input.judgeScores && input.judgeScores.length !== nRec) {
    throw new RangeError(`computePolicyDiagnostics(${input.name}): judgeScores length ${input.judgeScores.length} ≠ ${nRec}`);
  }
  const tol = input.tolerance ?? 1e-6;
  const lwr = logWeightsFromLogprobs(input.behaviorLogprobs, input.targetLogprobs);
  const d = weightDiagnostics(lwr.logWeights);
  const ident = identicalPolicyCheck(input.behaviorLogprobs, input.targetLogprobs, {
    expected: input.expectedIdentical,
    tolerance: tol,
    minMatchFraction: input.probableIdenticalFraction,
    records: input.records,
  });
  let estimates: PolicyDiagnostics['estimates'] = null;
  if (input.judgeScores) {
    const y = new Float64Array(lwr.logWeights.length);
    for (let j = 0; j < y.length; j++) {
      const v = input.judgeScores[lwr.index[j]];
      y[j] = typeof v === 'number' ? v : NaN;
    }
    const e = offPolicyEstimates(lwr.logWeights, y, input.bootstrap);
    estimates = { ...e, ips: fin(e.ips), snips: fin(e.snips) };
  }
  const tooFew = d.n < MIN_DIAGNOSTIC_RECORDS;
  const overlap = overlapDiagnostics(lwr.logWeights, lwr.index, input.targetLogprobs, input.responseLengths, tooFew);
  return {
    name: input.name,
    n: d.n,
    n_records: nRec,
    ess: d.ess,
    ess_fraction: fin(d.essFraction),
    ess_grade: tooFew ? null : d.essGrade,
    too_few_records: tooFew,
    min_records: MIN_DIAGNOSTIC_RECORDS,
    khat: fin(d.khat),
    khat_threshold: tooFew ? null : fin(d.khatThreshold),
    khat_band: d.khatBand,
    khat_flagged: d.khatFlagged,
    khat_message: d.khatMessage,
    khat_reason: d.khatReason,
    psis_tail_length: d.tailLength,
    sigma: fin(d.sigma),
    psis_ess: d.psisEss,
    psis_ess_fraction: fin(d.psisEssFraction),
    hill_alpha: fin(d.hill.alpha),
    hill_k: d.hill.k,
    hill_flags: { infinite_variance: d.hill.infiniteVariance, infinite_mean: d.hill.infiniteMean },
    hill_reason:
      d.hill.reason ??
      (d.hill.alpha === Infinity ? 'The largest weights are all equal: no upper tail (α̂ = ∞).' : null),
    max_weight_share: fin(d.shares.maxShare),
    top1pct_share: fin(d.shares.top1pctShare),
    top1pct_count: d.shares.top1pctCount,
    max_log_weight: fin(d.maxLogWeight),
    identical: {
      expected: ident.expected,
      probable: ident.probable,
      passed: ident.passed,
      match_fraction: fin(ident.match_fraction),
      tolerance: ident.tolerance,
      violation_count: ident.violation_count,
      violations: ident.violations,
    },
    nonfinite: lwr.nonfinite,
    nonfinite_records: lwr.excluded.map((r) => ({ record: input.records[r.index], kind: r.kind, source: r.source })),
    estimates,
    ...overlap,
  };
}
