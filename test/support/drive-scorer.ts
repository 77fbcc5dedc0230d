// Drives a scorer the way the pipeline does, for tests and benchmarks that
// measure the scorer alone: one-prompt batches, as many in flight as the scorer allows.

import type { SpanResult } from '../../src/core/span';
import type { RenderedPrompt } from '../../src/core/types';
import type { CompletionsScorer } from '../../src/scorers/completions';

/** A flat prompt whose response starts at a word. */
export function rendered(i: number): RenderedPrompt {
  const prompt = `Question number ${i}: what is ${i} plus ${i}?`;
  const text = `${prompt} The answer is ${2 * i}.`;
  return { text, responseStart: prompt.length, responseEnd: text.length, scoredEnd: text.length, template: 'raw' };
}

/** Sends `n` one-prompt batches, keeping scorer.maxInFlight of them in flight (what the pipeline does). */
export async function drive(scorer: CompletionsScorer, n: number, signal?: AbortSignal, make: (i: number) => RenderedPrompt = rendered): Promise<SpanResult[]> {
  const out: SpanResult[] = new Array(n);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) [out[i]] = await scorer.scoreBatch([{ rendered: make(i) }], signal);
  };
  await Promise.all(Array.from({ length: scorer.maxInFlight ?? 4 }, worker));
  return out;
}

