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
