// The per-position reduction of a whole batch of logits run inside onnxruntime
// (src/worker/reduce.onnx, built by scripts/worker-reduce/build.py): max,
// Σ exp(x − m), Σ exp(x − m)(x − m), the target's logit and the top-k over the
// vocabulary, vectorised and on onnxruntime's threads instead of one
// Math.exp per vocabulary entry on the JS thread. The O(B·T) finishing
// (log, division, subtraction) is done here in float64 with the same formulas
// as reduceSequence (reduce.ts), which stays the reference and the fallback.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../core/package-root';
import { allocFlat, flatToStats, type FlatScores, type PositionStats } from './reduce';

type Ort = typeof import('onnxruntime-node');

/** Where the reduction graph is shipped (package.json "files" carries it). */
export function reduceGraphPath(): string {
  return path.join(packageRoot(), 'src', 'worker', 'reduce.onnx');
}

/** One sequence of a right-padded batch: its token ids and how many top entries it wants. */
export interface BatchRow {
  ids: ArrayLike<number>;
  k: number;
}

export interface BatchReducer {
  /**
   * Reduces the logits [B, T, V] of one padded batch (row b·T + t predicts
   * seqs[b].ids[t + 1]); the array is read where it lies, never copied.
   */
  reduce(logits: Float32Array, dims: readonly [number, number, number], seqs: BatchRow[]): Promise<PositionStats[][]>;
  /** The same, as flat typed arrays (what the model thread posts back). */
  reduceFlat(logits: Float32Array, dims: readonly [number, number, number], seqs: BatchRow[]): Promise<FlatScores>;
  dispose(): Promise<void>;
}

/**
 * Loads the reduction graph into its own onnxruntime session (CPU). Throws when it cannot.
 * threads: 1 by default: the graph is a few ms per 4,096 rows, and a second
 * thread pool beside the model's only contends with it for the cores
 * (onnxruntime-node runs both sessions on the thread that calls them, the model
 * thread, one after the other).
 */
export async function loadOnnxReducer(opts: { file?: string; threads?: number } = {}): Promise<BatchReducer> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort: Ort = require('onnxruntime-node');
  const bytes = fs.readFileSync(opts.file ?? reduceGraphPath());
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // Its threads sleep as soon as a batch is reduced instead of spinning: they would take the cores from the model's next forward pass.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const need = ['logits', 'targets', 'k'];
  const missing = need.filter((n) => !session.inputNames.includes(n));
  if (missing.length) throw new Error(`${opts.file ?? reduceGraphPath()} lacks the inputs ${missing.join(', ')}`);

  const reduceFlat = async (logits: Float32Array, dims: readonly [number, number, number], seqs: BatchRow[]): Promise<FlatScores> => {
    const [B, T, V] = dims;
    if (logits.length !== B * T * V) throw new Error(`logits hold ${logits.length} values, not ${B}×${T}×${V}`);
    const targets = new BigInt64Array(B * T);
    let K = 1;
    for (let b = 0; b < seqs.length; b++) {
      const ids = seqs[b].ids;
      if (ids.length > T + 1) throw new Error(`sequence ${b} has ${ids.length} tokens; the batch has ${T} rows`);
      for (let t = 0; t + 1 < ids.length; t++) targets[b * T + t] = BigInt(ids[t + 1]);
      K = Math.max(K, Math.min(seqs[b].k, V));
    }
    const feeds = {
      logits: new ort.Tensor('float32', logits, [B, T, V]),
      targets: new ort.Tensor('int64', targets, [B, T]),
      k: new ort.Tensor('int64', BigInt64Array.of(BigInt(K)), [1]),
    };
    const out = await session.run(feeds);
    try {
      const m = out.max.data as Float32Array;
      const s = out.sum_exp.data as Float32Array;
      const u = out.sum_exp_shift.data as Float32Array;
      const xt = out.target_logit.data as Float32Array;
      const topX = out.top_logits.data as Float32Array;
      const topI = out.top_ids.data as BigInt64Array;
      const flat = allocFlat(seqs, V);
      let p = 0;
      let q = 0;
      seqs.forEach(({ ids }, b) => {
        const kk = flat.topK[b];
        for (let t = 0; t + 1 < ids.length; t++, p++) {
          const r = b * T + t;
          const logS = Math.log(s[r]);
          const logZ = m[r] + logS;
          for (let j = 0; j < kk; j++, q++) {
            flat.topIds[q] = Number(topI[r * K + j]);
            flat.topLogprobs[q] = topX[r * K + j] - logZ;
          }
          flat.logprob[p] = xt[r] - logZ;
          flat.entropy[p] = logS - u[r] / s[r];
        }
      });
      return flat;
    } finally {
      for (const v of Object.values(out)) v.dispose?.();
    }
  };

  return {
    reduceFlat,
    async reduce(logits, dims, seqs) {
      return flatToStats(await reduceFlat(logits, dims, seqs));
    },
    dispose: () => session.release(),
  };
}
