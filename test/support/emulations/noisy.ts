// A nondeterministic server: vLLM's answers, except that every answer adds to
// each token log-prob an independent uniform shift in [-level/2, +level/2]
// from a seeded generator (capped at 0). Two answers for one token then differ
// by a triangular |Δ| on [0, level]: over a few hundred tokens the largest
// approaches `level`, the noise floor a doctor should measure.

import { EmulationServer } from './core';
import { startVllm, VllmOptions } from './vllm';

export interface NoisyOptions extends Omit<VllmOptions, 'noise'> {
  /** Width of the per-token perturbation, in nats. */
  level: number;
  /** Seed of the perturbations. Default 1. */
  seed?: number;
}

export function startNoisy(opts: NoisyOptions): Promise<EmulationServer> {
  if (!(opts.level >= 0)) throw new Error('startNoisy: level must be ≥ 0');
  const { level, ...rest } = opts;
  return startVllm({ ...rest, noise: level });
}
