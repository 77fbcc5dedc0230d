import { EndpointBlockedError, endpointKey, type EndpointProfile } from '../endpoint-profile';
import type { ScoreStore } from '../score-store';
import type { CjeConfig, PolicyConfig } from '../types';
import type { RunGroup } from './groups';
import type { Scorer } from './scorer';
import type { ProbeRequest } from './types';

/**
 * Makes each group's backend at its first send and asks its endpoint what it
 * does first (once per endpoint, shared by the groups there). A profile is
 * written into the scores file; one with blockers stops the run.
 */
export class Endpoints {
  private readonly probes = new Map<string, Promise<EndpointProfile | undefined>>();
  /** What the probes found, in the order they answered. */
  readonly profiles: EndpointProfile[] = [];

  constructor(
    private readonly groups: RunGroup[],
    private readonly config: CjeConfig,
    private readonly store: ScoreStore,
    private readonly makeScorer: (policy: PolicyConfig, name: string) => Promise<Scorer>,
    private readonly probe?: (target: ProbeRequest) => Promise<EndpointProfile | undefined>,
    private readonly signal?: AbortSignal,
  ) {}

  ready(g: RunGroup): Promise<void> {
    return (g.ready ??= (async () => {
      g.scorer = await this.makeScorer(g.policy, g.names[0]);
      if (!this.probe) return;
      const ek = endpointKey(g.policy);
      let pr = this.probes.get(ek);
      if (!pr) {
        const on = this.groups.filter((o) => endpointKey(o.policy) === ek);
        pr = this.probe({
          scorer: g.scorer,
          provider: g.policy.provider,
          model: g.policy.model,
          policies: on.flatMap((o) => o.names.map((name) => ({ name, policy: this.config.policies[name], spec: o.spec }))),
        }).then((profile) => {
          if (profile) {
            this.store.appendExtra([profile]);
            this.profiles.push(profile);
          }
          return profile;
        });
        this.probes.set(ek, pr);
      }
      let profile: EndpointProfile | undefined;
      try {
        profile = await pr;
      } catch (e) {
        // Ctrl-C during the probes is a cancel, not a failure of the run (nor a verdict on the endpoint).
        if (this.signal?.aborted) return;
        throw e;
      }
      if (this.signal?.aborted) return;
      if (profile?.blockers.length) throw new EndpointBlockedError(profile);
      if (profile) g.scorer.adopt?.(profile);
    })());
  }
}
