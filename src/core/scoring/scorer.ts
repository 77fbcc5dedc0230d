// What the scoring pipeline asks of a backend: core depends on this interface, src/scorers implements it.
import type { EndpointProfile } from '../endpoint-profile';
import type { SpanResult } from '../span';
import type { RenderedPrompt } from '../types';

export interface ScoreRequest {
  rendered: RenderedPrompt;
  /** The template's end-of-turn text, to check that it is one token. */
  endOfTurn?: string;
}

/** A backend that scores flat prompts by teacher forcing. One instance serves one policy fingerprint. */
export interface Scorer {
  /** How many prompts one call of scoreBatch should carry. */
  readonly batchSize: number;
  /**
   * How many batches the pipeline may keep in flight for this scorer
   * (concurrency × replicas); the scorer limits itself below that. Absent:
   * the policy's concurrency.
   */
  readonly maxInFlight?: number;
  /** Results in the order of `requests`; a failure of one prompt is a result, not a throw. */
  scoreBatch(requests: ScoreRequest[], signal?: AbortSignal): Promise<SpanResult[]>;
  close?(): Promise<void>;
  /** Takes what the endpoint's probes found (e.g. that it needs max_tokens 1). */
  adopt?(profile: EndpointProfile): void;
}
