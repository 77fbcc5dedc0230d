/**
 * Logged-vs-rescored check: the distribution of differences Δ = b − a between
 * two arrays (e.g. a log-prob stored in the log and the same policy scored
 * again). Pairs where either side is not finite are excluded and counted.
 */
import { nonFiniteKind } from './weights';

export interface DifferenceSummary {
  /** Pairs with both values finite. */
  n: number;
  /** Pairs excluded because a value was null/NaN/±∞. */
  excluded: number;
  /** Mean of Δ (signed). */
  mean: number;
  /** Median of Δ (signed). */
  median: number;
  /** Mean of |Δ|. */
  mean_abs: number;
  /** Median of |Δ| (what cje score prints). */
  median_abs: number;
  /** 95th percentile of |Δ| (linear interpolation, R type 7). */
  p95_abs: number;
  max_abs: number;
  tolerance: number;
  /** Pairs with |Δ| > tolerance. */
  over_tolerance: number;
}

/** Quantile of an ascending-sorted array, R type 7 (linear interpolation). NaN when empty. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export function differenceSummary(
  a: ArrayLike<number | null | undefined>,
  b: ArrayLike<number | null | undefined>,
  tolerance = 1e-6,
): DifferenceSummary {
  if (a.length !== b.length) throw new RangeError('differenceSummary: arrays differ in length');
  const len = a.length;
  const d = new Float64Array(len);
  let n = 0;
  for (let i = 0; i < len; i++) {
    const x = a[i];
    const y = b[i];
    if (nonFiniteKind(x) !== null || nonFiniteKind(y) !== null) continue;
    const v = (y as number) - (x as number);
    if (!Number.isFinite(v)) continue;
    d[n++] = v;
  }
  const diffs = d.slice(0, n);
  const abs = new Float64Array(n);
  let sum = 0;
  let sumAbs = 0;
  let maxAbs = n === 0 ? NaN : 0;
  let over = 0;
  for (let i = 0; i < n; i++) {
    const v = diffs[i];
    const av = Math.abs(v);
    abs[i] = av;
    sum += v;
    sumAbs += av;
    if (av > maxAbs) maxAbs = av;
    if (av > tolerance) over++;
  }
  diffs.sort();
  abs.sort();
  return {
    n,
    excluded: len - n,
    mean: n === 0 ? NaN : sum / n,
    median: quantileSorted(diffs, 0.5),
    mean_abs: n === 0 ? NaN : sumAbs / n,
    median_abs: quantileSorted(abs, 0.5),
    p95_abs: quantileSorted(abs, 0.95),
    max_abs: maxAbs,
    tolerance,
    over_tolerance: over,
  };
}
