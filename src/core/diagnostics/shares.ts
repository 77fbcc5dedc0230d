/**
 * Concentration of the importance weights: the share of Σw held by the
 * largest weight and by the top 1% of records (at least one record).
 * Computed from log-weights relative to the max, so ±700 is fine.
 */
import { largestSorted } from './select';

export interface WeightShares {
  n: number;
  /** w_max / Σw (NaN when n = 0). */
  maxShare: number;
  /** Number of records in the top 1%: max(1, ceil(0.01 n)). */
  top1pctCount: number;
  /** Σ of the top1pctCount largest weights / Σw (NaN when n = 0). */
  top1pctShare: number;
}

/** max(1, ceil(0.01 n)) */
export function top1pctCount(n: number): number {
  return Math.max(1, Math.ceil(0.01 * n));
}

/**
 * Shares from the `count` largest log-weights sorted ascending (`topAscending`),
 * the max log-weight and the sum Σ exp(lw − max) over all n.
 */
export function sharesFromTop(topAscending: ArrayLike<number>, sumShifted: number, max: number, n: number): WeightShares {
  if (n === 0) return { n, maxShare: NaN, top1pctCount: 0, top1pctShare: NaN };
  const c = top1pctCount(n);
  const len = topAscending.length;
  let top = 0;
  for (let i = len - c; i < len; i++) top += Math.exp(topAscending[i] - max);
  return { n, maxShare: 1 / sumShifted, top1pctCount: c, top1pctShare: top / sumShifted };
}

/** Weight shares of w = exp(logWeights); non-finite entries must have been removed. */
export function weightShares(logWeights: ArrayLike<number>): WeightShares {
  const n = logWeights.length;
  if (n === 0) return sharesFromTop([], 0, 0, 0);
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logWeights[i] > max) max = logWeights[i];
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(logWeights[i] - max);
  return sharesFromTop(largestSorted(logWeights, top1pctCount(n)), s, max, n);
}
