/**
 * Off-policy value estimates from log-weights and judge scores y:
 *   IPS   = Σ wᵢ yᵢ / n
 *   SNIPS = Σ wᵢ yᵢ / Σ wᵢ   (self-normalised)
 * computed with weights shifted by the max log-weight (SNIPS is then exact
 * and finite for any log-weights; IPS is exp(max)·(shifted sum)/n, which is
 * ±∞ only if the true value overflows a double), with percentile bootstrap
 * intervals from a seeded, deterministic PRNG (mulberry32), B resamples of
 * the n records (cost O(B·n)).
 * Records where the log-weight or the score is not finite are left out.
 */
import { quantileSorted } from './logged-vs-rescored';

export interface Interval {
  lower: number;
  upper: number;
}

export interface Estimates {
  /** Records used (finite log-weight and finite score). */
  n: number;
  ips: number;
  snips: number;
  ips_ci: Interval | null;
  snips_ci: Interval | null;
  /** Confidence level of the intervals (e.g. 0.95). */
  level: number;
  bootstrap_b: number;
  seed: number;
}

export interface EstimateOptions {
  /** Bootstrap resamples (default 2000; 0 = no intervals). */
  b?: number;
  /** PRNG seed (default 12345). */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

/** mulberry32: a small, fast, seeded 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function offPolicyEstimates(
  logWeights: ArrayLike<number>,
  scores: ArrayLike<number | null | undefined>,
  options: EstimateOptions = {},
): Estimates {
  const B = options.b ?? 2000;
  const seed = options.seed ?? 12345;
  const level = options.level ?? 0.95;
  if (logWeights.length !== scores.length) throw new RangeError('offPolicyEstimates: arrays differ in length');
  const len = logWeights.length;
  const lw = new Float64Array(len);
  const y = new Float64Array(len);
  let n = 0;
  let max = -Infinity;
  for (let i = 0; i < len; i++) {
    const l = logWeights[i];
    const s = scores[i];
    if (typeof s !== 'number' || !Number.isFinite(s) || !Number.isFinite(l)) continue;
    lw[n] = l;
    y[n] = s;
    if (l > max) max = l;
    n++;
  }
  if (n === 0) {
    return { n, ips: NaN, snips: NaN, ips_ci: null, snips_ci: null, level, bootstrap_b: B, seed };
  }
  const w = new Float64Array(n);
  const wy = new Float64Array(n);
  let sw = 0;
  let swy = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(lw[i] - max);
    w[i] = e;
    wy[i] = e * y[i];
    sw += e;
    swy += wy[i];
  }
  const scale = Math.exp(max);
  const ipsOf = (swyShift: number, m: number) => (swyShift / m) * scale;
  const ips = ipsOf(swy, n);
  const snips = swy / sw;
  let ipsCi: Interval | null = null;
  let snipsCi: Interval | null = null;
  if (B > 0) {
    // mulberry32 inlined (same stream as mulberry32(seed)) for speed: cost is O(B·n).
    // Past what fits in cache, a draw at random into w and w·y waits on memory (40 ns a draw at a
    // million records): the draws are counted per record instead (the same indices from the same
    // stream, into a small Uint16Array that stays in cache), then summed in order.
    const counts = n > 1 << 16 ? new Uint16Array(n) : null;
    const ipsRep = new Float64Array(B);
    const snRep = new Float64Array(B);
    let st = seed >>> 0;
    for (let r = 0; r < B; r++) {
      let a = 0;
      let c = 0;
      if (counts) counts.fill(0);
      for (let j = 0; j < n; j++) {
        st = (st + 0x6d2b79f5) | 0;
        let t = st;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        const i = Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
        if (counts) counts[i]++;
        else {
          a += wy[i];
          c += w[i];
        }
      }
      if (counts) {
        for (let i = 0; i < n; i++) {
          const k = counts[i];
          if (k) {
            a += k * wy[i];
            c += k * w[i];
          }
        }
      }
      ipsRep[r] = ipsOf(a, n);
      snRep[r] = a / c;
    }
    ipsRep.sort();
    snRep.sort();
    const lo = (1 - level) / 2;
    const hi = 1 - lo;
    ipsCi = { lower: quantileSorted(ipsRep, lo), upper: quantileSorted(ipsRep, hi) };
    snipsCi = { lower: quantileSorted(snRep, lo), upper: quantileSorted(snRep, hi) };
  }
  return { n, ips, snips, ips_ci: ipsCi, snips_ci: snipsCi, level, bootstrap_b: B, seed };
}
