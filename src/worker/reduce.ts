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

/**
 * The per-position results of a batch as flat typed arrays, sequence after
 * sequence (sequence b has ids.length − 1 positions, each with topK[b]
 * entries): what the model thread posts back, transferable and small.
 */
export interface FlatScores {
  /** Per sequence: its first position (B + 1 entries, the last is the total). */
  start: Int32Array;
  /** Per sequence: top entries per position (min(k, vocabulary)). */
  topK: Int32Array;
  /** Per sequence: its first top entry (B + 1 entries). */
  topStart: Int32Array;
  logprob: Float64Array;
  entropy: Float64Array;
  topIds: Int32Array;
  topLogprobs: Float64Array;
}

/** One sequence's slice of a FlatScores (views, no copies). */
export interface SeqScores {
  /** Positions: ids.length − 1. */
  length: number;
  /** Top entries per position. */
  k: number;
  logprob: Float64Array;
  entropy: Float64Array;
  /** length × k, position-major. */
  topIds: Int32Array;
  topLogprobs: Float64Array;
}

/** Zeroed FlatScores sized for these sequences. */
export function allocFlat(seqs: { ids: ArrayLike<number>; k: number }[], vocab: number): FlatScores {
  const B = seqs.length;
  const start = new Int32Array(B + 1);
  const topK = new Int32Array(B);
  const topStart = new Int32Array(B + 1);
  seqs.forEach(({ ids, k }, b) => {
    const n = Math.max(0, ids.length - 1);
    topK[b] = Math.max(0, Math.min(k, vocab));
    start[b + 1] = start[b] + n;
    topStart[b + 1] = topStart[b] + n * topK[b];
  });
  return {
    start,
    topK,
    topStart,
    logprob: new Float64Array(start[B]),
    entropy: new Float64Array(start[B]),
    topIds: new Int32Array(topStart[B]),
    topLogprobs: new Float64Array(topStart[B]),
  };
}

/** reduceSequence over every sequence of a right-padded batch [B, maxLen, vocab], as FlatScores. */
export function reduceBatchFlat(logits: Float32Array, vocab: number, maxLen: number, seqs: { ids: ArrayLike<number>; k: number }[]): FlatScores {
  const flat = allocFlat(seqs, vocab);
  seqs.forEach(({ ids, k }, b) => {
    const stats = reduceSequence(logits, vocab, b * maxLen, ids, k);
    const kk = flat.topK[b];
    stats.forEach((st, t) => {
      const p = flat.start[b] + t;
      flat.logprob[p] = st.logprob;
      flat.entropy[p] = st.entropy;
      const q = flat.topStart[b] + t * kk;
      for (let j = 0; j < kk; j++) {
        flat.topIds[q + j] = st.topIds[j];
        flat.topLogprobs[q + j] = st.topLogprobs[j];
      }
    });
  });
  return flat;
}

/** Sequence b of a FlatScores. */
export function seqScores(flat: FlatScores, b: number): SeqScores {
  const p0 = flat.start[b];
  const p1 = flat.start[b + 1];
  const q0 = flat.topStart[b];
  const q1 = flat.topStart[b + 1];
  return {
    length: p1 - p0,
    k: flat.topK[b],
    logprob: flat.logprob.subarray(p0, p1),
    entropy: flat.entropy.subarray(p0, p1),
    topIds: flat.topIds.subarray(q0, q1),
    topLogprobs: flat.topLogprobs.subarray(q0, q1),
  };
}

/** FlatScores as PositionStats per sequence. */
export function flatToStats(flat: FlatScores): PositionStats[][] {
  return Array.from(flat.topK, (_, b) => {
    const s = seqScores(flat, b);
    return Array.from({ length: s.length }, (_, t) => ({
      logprob: s.logprob[t],
      entropy: s.entropy[t],
      topIds: Array.from(s.topIds.subarray(t * s.k, (t + 1) * s.k)),
      topLogprobs: Array.from(s.topLogprobs.subarray(t * s.k, (t + 1) * s.k)),
    }));
  });
}
