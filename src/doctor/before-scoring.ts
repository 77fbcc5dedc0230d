import type { EndpointProfile } from '../core/endpoint-profile';
import type { ProbeRequest } from '../core/score-run';
import { CompletionsScorer } from '../scorers/completions';
import { probeEndpoint } from './probes';

/** runScoring's `probe`: the doctor's cheap probes on the endpoint a completions scorer talks to. */
export function cheapProbes(signal?: AbortSignal): (req: ProbeRequest) => Promise<EndpointProfile | undefined> {
  return async (req) => {
    if (!(req.scorer instanceof CompletionsScorer)) return undefined;
    return probeEndpoint({ provider: req.provider, ...req.scorer.endpoint, policies: req.policies }, { full: false, signal });
  };
}
