import type { EndpointProfile } from '../core/endpoint-profile';
import type { ProbeRequest } from '../core/score-run';
import { CompletionsScorer } from '../scorers/completions';
import { TgiScorer } from '../scorers/tgi';
import { probeEndpoint } from './probes';

/** runScoring's `probe`: the doctor's cheap probes on the endpoint a completions scorer talks to. */
export function cheapProbes(signal?: AbortSignal): (req: ProbeRequest) => Promise<EndpointProfile | undefined> {
  return async (req) => {
    const ep = req.scorer instanceof CompletionsScorer || req.scorer instanceof TgiScorer ? req.scorer.endpoint : undefined;
    if (!ep) return undefined;
    const profile = await probeEndpoint({ provider: req.provider, model: req.model, ...ep, policies: req.policies }, { full: false, signal });
    // Probes cut short by Ctrl-C found nothing ("cannot reach …: cancelled" is no verdict): keep no profile of them.
    if (signal?.aborted) throw signal.reason;
    return profile;
  };
}
