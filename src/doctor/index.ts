import { emptyVerdicts, endpointKey, type EndpointProfile } from '../core/endpoint-profile';
import { policyDefaults } from '../core/config';
import { policyTemplate } from '../core/policy-template';
import { primaryBaseURL, resolveEndpoint, envSecrets, type SecretLookup } from '../core/providers';
import type { CjeConfig, PolicyConfig } from '../core/types';
import { probeEndpoint, type ProbePolicy } from './probes';

export { endpointKey };
export { probeEndpoint, type ProbeTarget, type ProbePolicy } from './probes';

export interface DoctorOptions {
  /** Only these policies' endpoints. */
  policies?: string[];
  secrets?: SecretLookup;
  /** The base URL of a "local" policy that names a model folder (the CLI starts a worker for it). */
  localBaseURL?: (policy: PolicyConfig, name: string) => Promise<string>;
  full?: boolean;
  signal?: AbortSignal;
  onEndpoint?: (e: { baseURL: string; model: string; policies: string[] }) => void;
}

export interface DoctorReport {
  endpoints: EndpointProfile[];
}

/** Probes every distinct endpoint of the config's policies (in config order). */
export async function runDoctor(config: CjeConfig, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const wanted = opts.policies?.length ? new Set(opts.policies) : undefined;
  for (const n of opts.policies ?? []) if (!(n in config.policies)) throw new Error(`--policy ${n}: no such policy in the config (${Object.keys(config.policies).join(', ')})`);
  const groups = new Map<string, { policy: PolicyConfig; members: ProbePolicy[] }>();
  for (const [name, policy] of Object.entries(config.policies)) {
    if (wanted && !wanted.has(name)) continue;
    const spec = policyTemplate(policy, config);
    const k = endpointKey(policy);
    const g = groups.get(k);
    if (g) g.members.push({ name, policy, spec });
    else groups.set(k, { policy, members: [{ name, policy, spec }] });
  }
  const endpoints: EndpointProfile[] = [];
  for (const { policy, members } of groups.values()) {
    const names = members.map((m) => m.name);
    // cje doctor probes every replica of a baseURL list, each in its own profile: replicas started
    // with other flags (prefix caching, dtype) differ, and this is where to see it. (The probes before
    // a run ask the first only.)
    let baseURL = primaryBaseURL(policy) ?? '';
    let replicas: string[] = [];
    let apiKey: string | undefined;
    try {
      if (policy.provider === 'local' && !policy.baseURL) {
        if (!opts.localBaseURL) throw new Error('a local policy with a model folder needs the worker started (cje doctor does that)');
        baseURL = await opts.localBaseURL(policy, names[0]);
      } else {
        const ep = await resolveEndpoint(policy, opts.secrets ?? envSecrets);
        baseURL = ep.baseURL;
        replicas = ep.baseURLs.slice(1);
        apiKey = ep.apiKey;
      }
    } catch (e) {
      endpoints.push(unreachable(policy, baseURL, names, (e as Error).message));
      continue;
    }
    for (const url of [baseURL, ...replicas]) {
      opts.onEndpoint?.({ baseURL: url, model: policy.model, policies: names });
      endpoints.push(
        await probeEndpoint(
          { provider: policy.provider, baseURL: url, model: policy.model, apiKey, timeoutMs: Math.min(policyDefaults(policy).timeoutMs, 30000), policies: members },
          { full: opts.full ?? true, signal: opts.signal },
        ),
      );
    }
  }
  return { endpoints };
}

function unreachable(policy: PolicyConfig, baseURL: string, names: string[], why: string): EndpointProfile {
  return {
    kind: 'endpoint_profile',
    version: 1,
    provider: policy.provider,
    baseURL,
    model: policy.model,
    policies: names,
    measured_at: new Date().toISOString(),
    probes: emptyVerdicts(),
    reasons: {},
    blockers: [why],
    warnings: [],
  };
}
