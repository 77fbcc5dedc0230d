import { policyDefaults } from '../core/config';
import { envSecrets, resolveEndpoint, type Endpoint, type SecretLookup } from '../core/providers';
import type { PolicyConfig } from '../core/types';
import { CompletionsScorer } from './completions';
import { loadIdEncoder } from './separate-tokenization';
import { TgiScorer } from './tgi';

/**
 * The backend for one policy, as runScoring's makeScorer wants it: the policy's
 * endpoint (key looked up through `secrets`: the environment in the CLI,
 * SecretStorage then the environment in VS Code) and its batching/retry settings.
 * `onEndpoint` hears where the policy is scored (never the key) for logs.
 */
export function completionsScorerFactory(
  secrets: SecretLookup = envSecrets,
  onEndpoint?: (name: string, ep: Omit<Endpoint, 'apiKey'>) => void,
  opts: { baseDir?: string; onWait?: (name: string, message: string) => void } = {},
) {
  return async (policy: PolicyConfig, name: string): Promise<CompletionsScorer | TgiScorer> => {
    const ep = await resolveEndpoint(policy, secrets);
    onEndpoint?.(name, { baseURL: ep.baseURL, baseURLs: ep.baseURLs, keySource: ep.keySource });
    if (policy.provider === 'tgi') {
      const d = policyDefaults(policy);
      return new TgiScorer({ baseURL: ep.baseURLs.length > 1 ? ep.baseURLs : ep.baseURL, apiKey: ep.apiKey, maxRetries: d.maxRetries, timeoutMs: d.timeoutMs, concurrency: d.concurrency });
    }
    return new CompletionsScorer({
      ...(await scorerSettings(policy, opts.baseDir ?? process.cwd())),
      baseURL: ep.baseURLs.length > 1 ? ep.baseURLs : ep.baseURL,
      apiKey: ep.apiKey,
      onWait: opts.onWait && ((m) => opts.onWait!(name, m)),
    });
  };
}

/** What every completions backend of a policy shares: model, batching, retries, and its ids encoder for separate tokenization. */
export async function scorerSettings(policy: PolicyConfig, baseDir: string) {
  const d = policyDefaults(policy);
  return {
    model: policy.model,
    batchSize: d.batchSize,
    concurrency: d.concurrency,
    maxRetries: d.maxRetries,
    timeoutMs: d.timeoutMs,
    topLogprobs: policy.topLogprobs ?? 1,
    ...(policy.tokenization === 'separate' ? { separate: await loadIdEncoder(policy, baseDir) } : {}),
  };
}
