/** What one position of a teacher-forced sequence reduces to. */
export interface PositionStats {
  /** log p(target | context). */
  logprob: number;
  /** −Σ p log p over the vocabulary. */
  entropy: number;
  /** The k most likely token ids, best first, with their log-probs. */
  topIds: number[];
  topLogprobs: number[];
}

/**
 * Reduces the logits of every position of one sequence, in a single pass over
 * each row: an online log-sum-exp (the running maximum rescales the sums when
 * it moves), the entropy from the same sums, the target's logit and a top-k
 * kept on the fly. Row `t` of `logits` (starting at `rowOffset`) predicts
 * token `ids[t + 1]`; rows for padding are never read.
 *
 *   s = Σ exp(x − m), u = Σ exp(x − m)(x − m)
 *   log Z = m + log s,  log p(y) = x_y − log Z,  H = log s − u / s
 */
export function reduceSequence(
  logits: Float32Array,
  vocab: number,
  rowOffset: number,
  ids: ArrayLike<number>,
  k: number,
  out: PositionStats[] = [],
): PositionStats[] {
  const topV = new Float64Array(Math.max(k, 1));
  const topI = new Int32Array(Math.max(k, 1));
  for (let t = 0; t + 1 < ids.length; t++) {
    const base = (rowOffset + t) * vocab;
    let m = logits[base];
    let s = 1;
    let u = 0;
    let filled = 0;
    if (k > 0) {
      topV[0] = m;
      topI[0] = 0;
      filled = 1;
    }
    for (let v = 1; v < vocab; v++) {
      const x = logits[base + v];
      if (x > m) {
        const d = m - x; // < 0
        const e = Math.exp(d);
        u = e * (u + d * s);
        s = s * e + 1;
        m = x;
      } else {
        const d = x - m;
        const e = Math.exp(d);
        s += e;
        u += e * d;
      }
      if (k > 0 && (filled < k || x > topV[filled - 1])) {
        // Insertion into the short sorted list (k is small: ≤ 20).
        let j = filled < k ? filled++ : filled - 1;
        while (j > 0 && topV[j - 1] < x) {
          topV[j] = topV[j - 1];
          topI[j] = topI[j - 1];
          j--;
        }
        topV[j] = x;
        topI[j] = v;
      }
    }
    const logS = Math.log(s);
    const logZ = m + logS;
    const target = ids[t + 1];
    const stats: PositionStats = {
      logprob: logits[base + target] - logZ,
      entropy: logS - u / s,
      topIds: Array.from(topI.subarray(0, filled)),
      topLogprobs: Array.from(topV.subarray(0, filled), (x) => x - logZ),
    };
    out.push(stats);
  }
  return out;
}
