/**
 * Importance-weight primitives, all computed in log space.
 *
 * Pure math: no 'vscode', no I/O.
 */

/** Result of {@link kishEss}. */
export interface KishEss {
  /** Kish effective sample size (Σw)² / Σw². */
  ess: number;
  /** ess / n (NaN when n = 0). */
  fraction: number;
  /** Number of finite log-weights used. */
  n: number;
}

/**
 * Kish effective sample size (Σw)² / Σw² of weights w = exp(logWeights),
 * computed in log space: weights are shifted by the largest finite
 * log-weight so that exp() never overflows. Non-finite entries (NaN, ±∞,
 * null coerced by the caller) are ignored; `n` counts the finite ones.
 * n = 0 → ess 0, fraction NaN.
 */
export function kishEss(logWeights: ArrayLike<number>): KishEss {
  const len = logWeights.length;
  let max = -Infinity;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const v = logWeights[i];
    if (typeof v === 'number' && Number.isFinite(v)) {
      n++;
      if (v > max) max = v;
    }
  }
  if (n === 0) return { ess: 0, fraction: NaN, n: 0 };
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < len; i++) {
    const v = logWeights[i];
    if (typeof v === 'number' && Number.isFinite(v)) {
      const e = Math.exp(v - max);
      s1 += e;
      s2 += e * e;
    }
  }
  // s2 >= 1 because the max entry contributes exp(0) = 1.
  const ess = (s1 * s1) / s2;
  return { ess, fraction: ess / n, n };
}

/**
 * log Σ exp(values), stable: shifts by the maximum. Empty input → -∞.
 * Any NaN → NaN; a +∞ entry → +∞; all -∞ → -∞.
 */
export function logSumExp(values: ArrayLike<number>): number {
  const len = values.length;
  let max = -Infinity;
  for (let i = 0; i < len; i++) {
    const v = values[i];
    if (Number.isNaN(v)) return NaN;
    if (v > max) max = v;
  }
  if (max === Infinity || max === -Infinity) return max;
  let s = 0;
  for (let i = 0; i < len; i++) s += Math.exp(values[i] - max);
  return max + Math.log(s);
}

/** Kinds of unusable (non-finite) values. */
export type NonFiniteKind = 'null' | 'nan' | 'pos_inf' | 'neg_inf';

/** Counts of unusable values by kind. */
export interface NonFiniteCounts {
  null: number;
  nan: number;
  pos_inf: number;
  neg_inf: number;
  /** Sum of the four counts: the number of records excluded. */
  total: number;
}

/** One excluded record, with where the bad value came from. */
export interface NonFiniteRecord {
  /** Position of the record in the input arrays. */
  index: number;
  kind: NonFiniteKind;
  /** Which input held the bad value ('log_weight' when both inputs were finite-looking but their difference is not). */
  source: 'behavior' | 'target' | 'log_weight';
}

/** Classifies a value: null for a finite number, otherwise its non-finite kind. */
export function nonFiniteKind(v: unknown): NonFiniteKind | null {
  if (v === null || v === undefined || typeof v !== 'number') return 'null';
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'pos_inf';
  if (v === -Infinity) return 'neg_inf';
  return null;
}

export function emptyNonFiniteCounts(): NonFiniteCounts {
  return { null: 0, nan: 0, pos_inf: 0, neg_inf: 0, total: 0 };
}

/** Result of {@link logWeightsFromLogprobs}. */
export interface LogWeights {
  /** Finite log-weights logp′ − logp₀, in input order, excluded records removed. */
  logWeights: Float64Array;
  /** For each entry of logWeights, its index in the input arrays. */
  index: Int32Array;
  /** Number of input records (finite or not). */
  nInput: number;
  /** Counts of excluded records by kind (one kind per record: behavior's first, then target's, then the difference's). */
  nonfinite: NonFiniteCounts;
  /** The excluded records, at most `maxListed` of them (all are counted). */
  excluded: NonFiniteRecord[];
}

/**
 * Log importance weights log w = logp′ − logp₀ from two log-prob arrays of
 * equal length. Records where either log-prob is null/undefined, NaN or ±∞
 * (or where the difference is not finite) are excluded and counted by kind.
 */
export function logWeightsFromLogprobs(
  behaviorLogprobs: ArrayLike<number | null | undefined>,
  targetLogprobs: ArrayLike<number | null | undefined>,
  maxListed = 100,
): LogWeights {
  if (behaviorLogprobs.length !== targetLogprobs.length) {
    throw new RangeError(
      `behavior and target log-prob arrays differ in length (${behaviorLogprobs.length} vs ${targetLogprobs.length})`,
    );
  }
  const len = behaviorLogprobs.length;
  const lw = new Float64Array(len);
  const idx = new Int32Array(len);
  const counts = emptyNonFiniteCounts();
  const excluded: NonFiniteRecord[] = [];
  let n = 0;
  for (let i = 0; i < len; i++) {
    const b = behaviorLogprobs[i];
    const t = targetLogprobs[i];
    let kind = nonFiniteKind(b);
    let source: NonFiniteRecord['source'] = 'behavior';
    if (kind === null) {
      kind = nonFiniteKind(t);
      source = 'target';
    }
    let d = NaN;
    if (kind === null) {
      d = (t as number) - (b as number);
      kind = nonFiniteKind(d); // finite − finite can overflow to ±∞
      source = 'log_weight';
    }
    if (kind !== null) {
      counts[kind]++;
      counts.total++;
      if (excluded.length < maxListed) excluded.push({ index: i, kind, source });
      continue;
    }
    lw[n] = d;
    idx[n] = i;
    n++;
  }
  return {
    logWeights: lw.slice(0, n),
    index: idx.slice(0, n),
    nInput: len,
    nonfinite: counts,
    excluded,
  };
}

/**
 * Self-normalised weights w̃ᵢ = wᵢ / Σw computed in log space
 * (exp(log wᵢ − logSumExp(log w))), so log-weights of ±700 neither overflow
 * nor give NaN. Non-finite entries get weight 0 and are left out of the sum.
 */
export function selfNormalizedWeights(logWeights: ArrayLike<number>): Float64Array {
  const len = logWeights.length;
  let max = -Infinity;
  for (let i = 0; i < len; i++) {
    const v = logWeights[i];
    if (Number.isFinite(v) && v > max) max = v;
  }
  const out = new Float64Array(len);
  if (max === -Infinity) return out;
  let s = 0;
  for (let i = 0; i < len; i++) {
    const v = logWeights[i];
    if (Number.isFinite(v)) s += Math.exp(v - max);
  }
  // w̃ᵢ = exp(log wᵢ − max) / Σ exp(log wⱼ − max) = exp(log wᵢ − logSumExp); dividing by the
  // shifted sum (≥ 1) avoids the rounding of max + log(s) at |max| ≈ 700.
  for (let i = 0; i < len; i++) {
    const v = logWeights[i];
    out[i] = Number.isFinite(v) ? Math.exp(v - max) / s : 0;
  }
  return out;
}

/** ESS grade from the ESS fraction: good ≥ 0.30, warning ≥ 0.10, critical below; null when undefined (n = 0). */
export type EssGrade = 'good' | 'warning' | 'critical';

export const ESS_GOOD_FRACTION = 0.3;
export const ESS_WARNING_FRACTION = 0.1;

export function gradeEss(fraction: number): EssGrade | null {
  if (Number.isNaN(fraction)) return null;
  if (fraction >= ESS_GOOD_FRACTION) return 'good';
  if (fraction >= ESS_WARNING_FRACTION) return 'warning';
  return 'critical';
}
