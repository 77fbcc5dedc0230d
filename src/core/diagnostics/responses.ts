/** Mean of the finite values, with their count. */
function meanOf(xs: ArrayLike<number | null | undefined>): { n: number; mean: number | null } {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) continue;
    n++;
    sum += x;
  }
  return { n, mean: n ? sum / n : null };
}

export interface LengthSplit {
  n: number;
  mean_length: number | null;
}

export interface ResponseStats {
  /** Responses with a length. */
  n: number;
  mean_length: number | null;
  /**
   * Length split at the median judge score: a judge that prefers long answers
   * shows as a longer mean among the high-scored half. Null without judge scores.
   */
  by_judge: { median_judge: number; high: LengthSplit; low: LengthSplit } | null;
  /** Mean over responses of each response's mean per-token entropy (nats); null when no entropies. */
  mean_entropy: number | null;
  n_entropy: number;
}

/**
 * Response-length and entropy statistics of one policy's scored responses.
 * `lengths[i]`, `judges[i]` and `entropies[i]` (the mean per-token entropy of
 * response i) describe the same record.
 */
export function responseStats(
  lengths: ArrayLike<number | null | undefined>,
  judges: ArrayLike<number | null | undefined> = [],
  entropies: ArrayLike<number | null | undefined> = [],
): ResponseStats {
  const all = meanOf(lengths);
  // Typed arrays and a numeric sort, not an object per response: a million records take a moment, not seconds.
  const lens = new Float64Array(lengths.length);
  const js = new Float64Array(lengths.length);
  let m = 0;
  for (let i = 0; i < lengths.length; i++) {
    const len = lengths[i];
    const j = judges[i];
    if (typeof len === 'number' && Number.isFinite(len) && typeof j === 'number' && Number.isFinite(j)) {
      lens[m] = len;
      js[m++] = j;
    }
  }
  let by_judge: ResponseStats['by_judge'] = null;
  if (m >= 2) {
    const sorted = js.slice(0, m).sort();
    const h = m >> 1;
    const median = m % 2 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
    let hn = 0;
    let hs = 0;
    let ln = 0;
    let ls = 0;
    for (let k = 0; k < m; k++) {
      if (js[k] >= median) {
        hn++;
        hs += lens[k];
      } else {
        ln++;
        ls += lens[k];
      }
    }
    by_judge = { median_judge: median, high: { n: hn, mean_length: hn ? hs / hn : null }, low: { n: ln, mean_length: ln ? ls / ln : null } };
  }
  const ent = meanOf(entropies);
  return { n: all.n, mean_length: all.mean, by_judge, mean_entropy: ent.mean, n_entropy: ent.n };
}

/** Mean of a response's per-token entropies (null entries, e.g. the first token, skipped). */
export function meanTokenEntropy(entropy: readonly (number | null)[] | undefined): number | null {
  return entropy ? meanOf(entropy).mean : null;
}
