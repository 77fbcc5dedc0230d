/**
 * The seam effect: how much a response's log-prob changes when the prompt and
 * the response are tokenized apart (ids concatenated, as SFT code does) rather
 * than as one joined text (what a completions echo does). Per record
 * Δ = logprob(joined) − logprob(separate); a pair where either side is not
 * finite is excluded and counted.
 */
import { quantileSorted } from './logged-vs-rescored';
import { nonFiniteKind } from './weights';

export interface SeamEffectOptions {
  /** |Δ| above this counts as a difference (default 1e-6, the identity tolerance). */
  tolerance?: number;
  /** How many records with the largest |Δ| to list (default 10). */
  topN?: number;
}

export interface SeamEffect {
  /** Records with both log-probs finite. */
  n: number;
  /** Records where either log-prob is null/NaN/±∞. */
  excluded: number;
  /** Mean of Δ (signed); NaN when n = 0. */
  mean: number;
  /** Mean, median (R type 7, the middle pair's mean for even n) and largest |Δ|; NaN when n = 0. */
  mean_abs: number;
  median_abs: number;
  max_abs: number;
  tolerance: number;
  /** Records with |Δ| > tolerance. */
  differ: number;
  /** Δ per input position (NaN where excluded), for a histogram. */
  deltas: Float64Array;
  /** The records with the largest |Δ| (> 0 only), largest first, ties by position. */
  top: { index: number; delta: number }[];
}

export function seamEffect(
  joined: ArrayLike<number | null | undefined>,
  separate: ArrayLike<number | null | undefined>,
  opts: SeamEffectOptions = {},
): SeamEffect {
  if (joined.length !== separate.length) throw new RangeError('seamEffect: arrays differ in length');
  const tolerance = opts.tolerance ?? 1e-6;
  const topN = opts.topN ?? 10;
  const len = joined.length;
  const deltas = new Float64Array(len).fill(NaN);
  const abs: number[] = [];
  const order: number[] = [];
  let sum = 0;
  let sumAbs = 0;
  let maxAbs = 0;
  let differ = 0;
  for (let i = 0; i < len; i++) {
    const a = joined[i];
    const b = separate[i];
    if (nonFiniteKind(a) !== null || nonFiniteKind(b) !== null) continue;
    const d = (a as number) - (b as number);
    if (!Number.isFinite(d)) continue;
    deltas[i] = d;
    const ad = Math.abs(d);
    abs.push(ad);
    sum += d;
    sumAbs += ad;
    if (ad > maxAbs) maxAbs = ad;
    if (ad > tolerance) differ++;
    if (ad > 0) order.push(i);
  }
  const n = abs.length;
  abs.sort((x, y) => x - y);
  order.sort((x, y) => Math.abs(deltas[y]) - Math.abs(deltas[x]) || x - y);
  return {
    n,
    excluded: len - n,
    mean: n === 0 ? NaN : sum / n,
    mean_abs: n === 0 ? NaN : sumAbs / n,
    median_abs: quantileSorted(abs, 0.5),
    max_abs: n === 0 ? NaN : maxAbs,
    tolerance,
    differ,
    deltas,
    top: order.slice(0, Math.max(0, topN)).map((index) => ({ index, delta: deltas[index] })),
  };
}
