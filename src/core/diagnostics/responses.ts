/** Mean of the finite values, with their count. */
function meanOf(xs: Iterable<number | null | undefined>): { n: number; mean: number | null } {
  let n = 0;
  let sum = 0;
  for (const x of xs) {
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
  lengths: readonly (number | null | undefined)[],
  judges: readonly (number | null | undefined)[] = [],
  entropies: readonly (number | null | undefined)[] = [],
): ResponseStats {
  const all = meanOf(lengths);
  const judged: { len: number; judge: number }[] = [];
  lengths.forEach((len, i) => {
    const j = judges[i];
    if (typeof len === 'number' && Number.isFinite(len) && typeof j === 'number' && Number.isFinite(j)) judged.push({ len, judge: j });
  });
  let by_judge: ResponseStats['by_judge'] = null;
  if (judged.length >= 2) {
    const sorted = judged.map((x) => x.judge).sort((a, b) => a - b);
    const m = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    const high = meanOf(judged.filter((x) => x.judge >= median).map((x) => x.len));
    const low = meanOf(judged.filter((x) => x.judge < median).map((x) => x.len));
    by_judge = { median_judge: median, high: { n: high.n, mean_length: high.mean }, low: { n: low.n, mean_length: low.mean } };
  }
  const ent = meanOf(entropies);
  return { n: all.n, mean_length: all.mean, by_judge, mean_entropy: ent.mean, n_entropy: ent.n };
}

/** Mean of a response's per-token entropies (null entries, e.g. the first token, skipped). */
export function meanTokenEntropy(entropy: readonly (number | null)[] | undefined): number | null {
  return entropy ? meanOf(entropy).mean : null;
}
