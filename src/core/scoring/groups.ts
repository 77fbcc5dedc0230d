import { policyDefaults } from '../config';
import { policyFingerprint, seamGroup } from '../fingerprint';
import { policyTemplate } from '../policy-template';
import type { CjeConfig, PolicyConfig, TemplateSpec } from '../types';
import type { Scorer } from './scorer';

/** Policies that score alike: one fingerprint, scored once, its result shared by every name. */
export interface PolicyGroup {
  fingerprint: string;
  seamGroup: string;
  names: string[];
  policy: PolicyConfig;
  spec: TemplateSpec & { variant?: string };
  scoreEndOfTurn: boolean;
}

/** The config's policies (those in `wanted`, when given) grouped by fingerprint, in config order. */
export function policyGroups(config: CjeConfig, wanted?: Set<string>): PolicyGroup[] {
  const groups = new Map<string, PolicyGroup>();
  for (const [name, policy] of Object.entries(config.policies)) {
    if (wanted && !wanted.has(name)) continue;
    let spec: TemplateSpec & { variant?: string };
    try {
      spec = policyTemplate(policy, config);
    } catch (e) {
      throw new Error(`policy ${name}: ${(e as Error).message}`);
    }
    const fp = policyFingerprint(policy, spec);
    const g = groups.get(fp);
    if (g) g.names.push(name);
    else groups.set(fp, { fingerprint: fp, seamGroup: seamGroup(policy, spec), names: [name], policy, spec, scoreEndOfTurn: policyDefaults(policy).scoreEndOfTurn });
  }
  return [...groups.values()];
}

/** A group while the run goes: its backend, made at the first send, and the queue of jobs waiting for it. */
export interface RunGroup extends PolicyGroup {
  scorer?: Scorer;
  /** Settles once the scorer exists and its endpoint has been probed. */
  ready?: Promise<void>;
}

/** How many prompts a group's next request carries: the scorer's (it may change, lists refused), else the policy's. */
export function batchSizeOf(g: RunGroup): number {
  return g.scorer?.batchSize ?? policyDefaults(g.policy).batchSize;
}

/** How many batches may be in flight for a group: the scorer's own ceiling (replicas × concurrency), else the policy's. */
export function inFlightOf(g: RunGroup): number {
  return Math.max(1, g.scorer?.maxInFlight ?? policyDefaults(g.policy).concurrency);
}
