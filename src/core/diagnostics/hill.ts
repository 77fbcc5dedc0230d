/**
 * Hill (1975) estimate of the tail index α of the importance weights' upper
 * tail, computed from log-weights (log w is all it needs, so ±700 is fine):
 *   γ̂ = (1/k) Σ_{i=1..k} log w₍ᵢ₎ − log w₍ₖ₊₁₎ (w₍₁₎ ≥ w₍₂₎ ≥ … descending),
 *   α̂ = 1/γ̂.
 * k = max(10, ⌊0.05·n⌋) capped at ⌊0.1·n⌋; only for n ≥ 50.
 * α̂ < 2 → the weights' variance is (estimated) infinite; α̂ < 1 → their mean.
 */
import { selectInPlace } from './select';

export const HILL_MIN_N = 50;

export interface HillResult {
  n: number;
  /** Number of upper order statistics used (k). */
  k: number | null;
  /** α̂; +∞ when the top k+1 log-weights are all equal (no tail); null when not computed. */
  alpha: number | null;
  /** γ̂ = 1/α̂ (comparable to Pareto k̂). */
  gamma: number | null;
  /** α̂ < 2. */
  infiniteVariance: boolean;
  /** α̂ < 1. */
  infiniteMean: boolean;
  reason: string | null;
}

/** k = max(10, ⌊0.05 n⌋) capped at ⌊0.1 n⌋. */
export function hillK(n: number): number {
  return Math.min(Math.max(10, Math.floor(0.05 * n)), Math.floor(0.1 * n));
}

/**
 * Hill estimate from the k+1 largest log-weights (`topAscending`, sorted
 * ascending; extra smaller entries at the front are allowed).
 */
export function hillFromTop(topAscending: ArrayLike<number>, k: number, n: number): HillResult {
  const len = topAscending.length;
  if (len < k + 1) throw new RangeError('hillFromTop: need k+1 values');
  const ref = topAscending[len - k - 1]; // log w₍ₖ₊₁₎
  let s = 0;
  for (let i = len - k; i < len; i++) s += topAscending[i] - ref;
  const gamma = s / k;
  const alpha = 1 / gamma; // gamma = 0 → +∞: the top is flat, no heavy tail
  return {
    n,
    k,
    alpha,
    gamma,
    infiniteVariance: alpha < 2,
    infiniteMean: alpha < 1,
    reason: null,
  };
}

/** Hill tail index of w = exp(logWeights); non-finite entries must have been removed. */
export function hillTailIndex(logWeights: ArrayLike<number>): HillResult {
  const n = logWeights.length;
  if (n < HILL_MIN_N) {
    return {
      n,
      k: null,
      alpha: null,
      gamma: null,
      infiniteVariance: false,
      infiniteMean: false,
      reason: `Hill estimate needs n ≥ ${HILL_MIN_N} weights (have ${n}).`,
    };
  }
  const k = hillK(n);
  const buf = logWeights instanceof Float64Array ? logWeights.slice() : Float64Array.from(logWeights);
  selectInPlace(buf, n - k - 1);
  return hillFromTop(buf.subarray(n - k - 1), k, n);
}
